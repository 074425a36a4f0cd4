// A model starts with the shape of one input example.
use kiln::prelude::*;

model! {
    struct Net {
        Dense(10),
    }
}

fn main() {}
