// An unknown layer name is refused on the name, with the nearest valid one suggested.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 28],
        Conv2d(32, 3),
        MaxPool2D(2),
        Flatten,
        Dense(10),
    }
}

fn main() {}
