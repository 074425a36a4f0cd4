// An input needs at least one dimension.
use kiln::prelude::*;

model! {
    struct Net {
        input: [],
        Dense(10),
    }
}

fn main() {}
