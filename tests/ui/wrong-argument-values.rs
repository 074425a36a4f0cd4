// Values of the wrong kind or range are refused on the value: padding names, kernel
// tuples of the wrong length, zero filters, booleans, regularizers.
use kiln::prelude::*;

model! {
    struct Net {
        input: [1, 28, 28],
        Conv2D(0, (3, 3, 3), padding = full, use_bias = 1),
        Dense(10, kernel_regularizer = l3(0.1), bias_regularizer = l2(-1.0)),
        BatchNormalization(momentum = 1.5),
    }
}

fn main() {}
