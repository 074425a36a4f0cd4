// An unknown activation is refused on the value, with the nearest name suggested.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Dense(128, activation = rellu),
        Activation("sofmax"),
    }
}

fn main() {}
