// `trainable` and `training` take true or false (`training` only false), once; a model used as a
// layer takes nothing else.
use kiln::prelude::*;

model! {
    struct Frozen {
        input: [4],
        Dense(8, trainable = 0),
        Dense(2, trainable = false, trainable = true),
        Dropout(0.5, training = true),
        BatchNormalization(training = 0),
    }
}

model! {
    pub struct Inner {
        input: [4],
        Dense(8),
    }
}

model! {
    struct Outer {
        input: [4],
        Model(Inner, units = 3),
        Dense(2),
    }
}

fn main() {}
