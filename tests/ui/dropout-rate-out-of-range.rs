// Dropout's rate must lie in [0, 1): the error sits on the rate.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Dropout(1.0),
        Dropout(-0.5),
        Dropout(rate = 2),
    }
}

fn main() {}
