// A model used as a layer is checked like any layer: given the wrong shape, the error sits
// on `Model(...)` and names both shapes; the layers after it see its output shape. A name
// that is not a model! model has no companion macro, and rustc says so.
use kiln::prelude::*;

model! {
    pub struct FeatureExtractor {
        input: [1, 28, 28],
        Conv2D(8, 3),
        GlobalAveragePooling2D,
    }
}

model! {
    pub struct WrongInput {
        input: [3, 32, 32],
        Model(FeatureExtractor),
        Dense(10),
    }
}

model! {
    pub struct AfterIt {
        input: [1, 28, 28],
        Model(FeatureExtractor),
        Conv2D(4, 3),
    }
}

model! {
    pub struct NotAModel {
        input: [1, 28, 28],
        Model(Tensor),
        Dense(10),
    }
}

fn main() {}
