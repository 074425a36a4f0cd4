// A layer without a required argument is refused on the layer, saying what it needs.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 28],
        Conv2D(32),
        Flatten,
        Dense,
        Dropout,
    }
}

fn main() {}
