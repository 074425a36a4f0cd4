// One model per invocation: anything after its closing brace is refused.
use kiln::prelude::*;

model! {
    struct Net {
        input: [4],
        Dense(2),
    }
    struct Other {}
}

fn main() {}
