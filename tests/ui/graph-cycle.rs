// Bindings that take each other form a cycle, refused where the cycle closes; a binding
// used before its definition is told to move up.
use kiln::prelude::*;

model! {
    pub struct Cycle {
        input x: [16],
        let a = Add(x, b) -> Dense(16);
        let b = a -> Dense(16);
        output b,
    }
}

model! {
    pub struct Order {
        input x: [16],
        let a = b -> Dense(4);
        let b = x -> Dense(16);
        output a,
    }
}

fn main() {}
