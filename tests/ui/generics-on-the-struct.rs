// model! adds the backend parameter itself; the user writes none.
use kiln::prelude::*;

model! {
    struct Net<B> {
        input: [784],
        Dense(10),
    }
}

fn main() {}
