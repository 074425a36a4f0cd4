// An argument given twice (by position and by keyword, or twice by keyword) is refused
// on the second one.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Dense(128, units = 64),
        Dense(10, activation = relu, activation = softmax),
    }
}

fn main() {}
