// An unknown keyword is refused on the argument, with the nearest valid name suggested.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Dense(128, activaton = relu),
        Dense(10, kernel_regulariser = l2(0.01)),
    }
}

fn main() {}
