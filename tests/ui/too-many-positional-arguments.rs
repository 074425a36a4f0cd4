// Keyword arguments must be named: a surplus positional one is refused.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Dense(128, relu),
    }
}

fn main() {}
