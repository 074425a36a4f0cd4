// Bidirectional reads a SimpleRNN, GRU or LSTM both ways itself: another layer, a layer
// that already reads backwards and merge_mode = None (two outputs) are refused on the
// argument; with return_state it gives the output, then the forward and the backward
// layer's states, which a Sequential model cannot pass on and a binding names one by one.
use kiln::prelude::*;

model! {
    pub struct Arguments {
        input: [10, 8],
        Bidirectional(Dense(4)),
        Bidirectional(LSTM(4, go_backwards = true)),
        Bidirectional(GRU(4), merge_mode = None),
    }
}

model! {
    pub struct InSequence {
        input: [10, 8],
        Bidirectional(LSTM(4, return_state = true)),
        Dense(1),
    }
}

model! {
    pub struct TooFew {
        input x: [_, 8],
        let (y, h, c) = x -> Bidirectional(LSTM(16, return_state = true));
        let z = Concatenate(y, h, c) -> Dense(1);
        output z,
    }
}

model! {
    pub struct Continued {
        input x: [_, 8],
        let (y, h, h_back) = x -> Bidirectional(GRU(16, return_state = true)) -> Dense(4);
        let z = Concatenate(y, h, h_back) -> Dense(1);
        output z,
    }
}

fn main() {}
