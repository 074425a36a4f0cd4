// A bias regularizer on a layer without a bias has nothing to act on.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Dense(10, use_bias = false, bias_regularizer = l2(0.01)),
    }
}

fn main() {}
