// Reshape must keep the number of elements.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Reshape((4, 7, 7)),
    }
}

fn main() {}
