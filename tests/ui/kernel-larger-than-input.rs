// A kernel wider than the feature map it slides over would give an empty output.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 28],
        Conv2D(8, 3),
        MaxPooling2D(4),
        MaxPooling2D(4),
        Conv2D(16, 3),
    }
}

fn main() {}
