// A merge names its tensors by their bindings; a layer that is not a merge cannot start
// a chain with arguments; Concatenate never joins the batch axis; a merge inside a chain
// has only one tensor to merge.
use kiln::prelude::*;

model! {
    pub struct Arguments {
        input x: [16],
        let a = x -> Dense(16);
        let s = Add(a, 3);
        let d = Dense(a);
        let c = Concatenate(a, x, axis = 0);
        output s,
        output d,
        output c,
    }
}

model! {
    pub struct InChain {
        input x: [16],
        let y = x -> Add -> Dense(1);
        output y,
    }
}

fn main() {}
