// Every input dimension must be positive: the error sits on the zero.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 0, 28],
        Flatten,
    }
}

fn main() {}
