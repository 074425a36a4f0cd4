// Numbers may be written as quotients, `Rescaling(1./255)` as Keras writes it; a division
// by zero, a quotient of a name, and a scale that is not finite are refused where written.
use kiln::prelude::*;

model! {
    struct ByZero {
        input: [3, 8, 8],
        Rescaling(1. / 0),
        Flatten,
    }
}

model! {
    struct OfAName {
        input: [3, 8, 8],
        Rescaling(relu / 2),
        Flatten,
    }
}

model! {
    struct Infinite {
        input: [3, 8, 8],
        Rescaling(1e309),
        Flatten,
    }
}

fn main() {}
