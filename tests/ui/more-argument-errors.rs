// The remaining argument errors, each on its argument: arguments to a layer that takes
// none, surplus positionals, malformed regularizers and Reshape targets, a non-positive
// epsilon.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 28],
        Flatten(1),
        Flatten(start_dim = 1),
        Conv2D(32, 3, 1),
        Dense(8, kernel_regularizer = l2(small), bias_regularizer = l2(0.1, 0.2)),
        Dense(8, kernel_regularizer = l1_l2(l1 = 0.1, l1 = 0.2), activity_regularizer = 0.1),
        Reshape((-1, -1)),
        Reshape((0, 4)),
        Reshape(flat),
        BatchNormalization(epsilon = 0),
    }
}

fn main() {}
