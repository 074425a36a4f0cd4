// A convolution needs [channels, height, width]: after a 784-vector the error suggests
// the Reshape that would mend it.
use kiln::prelude::*;

model! {
    struct Net {
        input: [784],
        Conv2D(8, 3),
    }
}

model! {
    struct Net1D {
        input: [100],
        Conv1D(8, 3),
    }
}

fn main() {}
