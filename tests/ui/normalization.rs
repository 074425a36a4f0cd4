// Normalization's mean and variance come together, as many as each other, one or one per
// feature; its axis is per feature (-1) or None. GroupNormalization's groups divide the
// features; UnitNormalization normalizes the features only.
use kiln::prelude::*;

model! {
    pub struct MeanAlone {
        input: [3],
        Normalization(mean = 0.5),
    }
}

model! {
    pub struct Unequal {
        input: [3],
        Normalization(mean = (1, 2, 3), variance = (1, 1)),
    }
}

model! {
    pub struct OtherCount {
        input: [3],
        Dense(4),
        Normalization(mean = (1, 2, 3), variance = (1, 1, 1)),
    }
}

model! {
    pub struct OtherAxis {
        input: [2, 8, 8],
        Normalization(axis = (1, 2)),
    }
}

model! {
    pub struct Ungrouped {
        input: [8, 4, 4],
        GroupNormalization(3),
        UnitNormalization(axis = 1),
    }
}

fn main() {}
