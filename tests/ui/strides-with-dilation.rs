// As in Keras, strides > 1 and dilation_rate > 1 cannot be combined.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 28],
        Conv2D(8, 3, strides = 2, dilation_rate = 2),
    }
}

fn main() {}
