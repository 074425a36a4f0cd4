// Independent errors are all reported in one build: two bad arguments in different
// layers and a bad input dimension; the shape check runs on the layers before the
// first one that could not be read.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 0],
        Conv2D(32, 3, activaton = relu),
        Dense(10, activation = sofmax),
    }
}

model! {
    struct Shapes {
        input: [1, 28, 28],
        Conv2D(32, 3),
        Dense(10),
        Dropout(3.0),
    }
}

fn main() {}
