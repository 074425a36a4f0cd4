// As in Python, positional arguments come before keyword arguments.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 28],
        Conv2D(filters = 32, 3),
    }
}

fn main() {}
