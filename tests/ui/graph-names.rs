// The functional form's names, each fault on the name at fault: a binding defined twice
// and an undefined one (with the nearest name) in one build; an input and a binding
// never used; an output that is not bound; a model without outputs.
use kiln::prelude::*;

model! {
    pub struct Names {
        input x: [16],
        let hidden = x -> Dense(8);
        let hidden = x -> Dense(8);
        let y = hiden -> Dense(1);
        output y,
    }
}

model! {
    pub struct Unused {
        input x: [16],
        input extra: [4],
        let hidden = x -> Dense(8);
        let unused = hidden -> Dense(2);
        let y = hidden -> Dense(1);
        output y,
    }
}

model! {
    pub struct Unbound {
        input x: [16],
        let y = x -> Dense(1);
        output y,
        output z,
    }
}

model! {
    pub struct NoOutput {
        input x: [16],
        let y = x -> Dense(1);
    }
}

fn main() {}
