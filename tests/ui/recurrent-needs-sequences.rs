// A recurrent layer takes [timesteps, features]: after a convolution the error sits on
// the LSTM, names the shape and says what to add; after an LSTM without
// return_sequences, the next one is told how to get a sequence.
use kiln::prelude::*;

model! {
    pub struct Images {
        input: [1, 28, 28],
        Conv2D(8, 3),
        LSTM(16),
        Dense(10),
    }
}

model! {
    pub struct Stacked {
        input: [_, 8],
        LSTM(16),
        GRU(16),
    }
}

fn main() {}
