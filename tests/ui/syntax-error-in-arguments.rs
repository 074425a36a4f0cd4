// Syntax errors sit on the token at fault: a missing comma between arguments, a minus
// sign before a name.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Dense(128 activation = relu),
    }
}

model! {
    struct Signed {
        input: [784],
        Dense(8, activation = -relu),
    }
}

fn main() {}
