// An Embedding looks up the model's token ids, so it must be the first layer: after any
// other layer the error sits on the Embedding and names the layer before it.
use kiln::prelude::*;

model! {
    pub struct Net {
        input: [20],
        Reshape((20, 1)),
        Flatten,
        Embedding(100, 8),
    }
}

fn main() {}
