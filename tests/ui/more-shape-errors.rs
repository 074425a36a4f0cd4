// The remaining shape errors: pooling and global pooling after a flat layer, batch
// normalization over an unknown number of features.
use kiln::prelude::*;

model! {
    struct Pool {
        input: [64],
        MaxPooling2D(2),
    }
}

model! {
    struct Global {
        input: [64],
        GlobalAveragePooling2D,
    }
}

model! {
    struct Pool1D {
        input: [64],
        MaxPooling1D(2),
    }
}

model! {
    struct Norm {
        input: [8, _],
        BatchNormalization,
    }
}

fn main() {}
