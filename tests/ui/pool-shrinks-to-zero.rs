// A pooling window larger than its input shrinks the shape to zero.
use kiln::prelude::*;

model! {
    struct Net {
        input: [3, 8, 8],
        MaxPooling2D(2),
        MaxPooling2D(2),
        MaxPooling2D(2),
        AveragePooling2D(2),
        Flatten,
    }
}

fn main() {}
