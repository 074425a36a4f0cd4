// return_state gives an LSTM's output, h and c (a GRU's or SimpleRNN's output and state):
// a Sequential model cannot pass them on; a binding takes one name per tensor; a chain
// ends at the layer that gives them.
use kiln::prelude::*;

model! {
    pub struct InSequence {
        input: [_, 8],
        LSTM(16, return_state = true),
        Dense(1),
    }
}

model! {
    pub struct OneName {
        input x: [_, 8],
        let y = x -> LSTM(16, return_state = true);
        output y,
    }
}

model! {
    pub struct TooFew {
        input x: [_, 8],
        let (y, h) = x -> LSTM(16, return_state = true);
        let z = Concatenate(y, h) -> Dense(1);
        output z,
    }
}

model! {
    pub struct Continued {
        input x: [_, 8],
        let (y, h) = x -> GRU(16, return_state = true) -> Dense(4);
        let z = Concatenate(y, h) -> Dense(1);
        output z,
    }
}

fn main() {}
