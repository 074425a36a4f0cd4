// Dot takes two tensors named by their bindings and its axes by keyword: two vectors or two
// sequences whose summed axes have one size.
use kiln::prelude::*;

model! {
    pub struct Positional {
        input a: [4],
        input b: [4];
        let d = Dot(a, b, 1);
        output d;
    }
}

model! {
    pub struct Mixed {
        input a: [4],
        input s: [3, 4];
        let d = Dot(a, s, axes = -1);
        output d;
    }
}

model! {
    pub struct Unequal {
        input s: [3, 4],
        input t: [5, 6];
        let d = Dot(s, t, axes = 2);
        output d;
    }
}

fn main() {}
