// What burn's cells cannot do is refused on the argument at fault: dropout (they have
// none), an activation they lack, an argument SimpleRNN does not take; a Sequential model
// refuses return_state (more outputs) on the layer; unknown features per step too.
use kiln::prelude::*;

model! {
    pub struct Net {
        input: [20, 4],
        LSTM(8, return_state = true, return_sequences = true),
        GRU(8, dropout = 0.2, return_sequences = true),
        SimpleRNN(8, activation = softmax, recurrent_activation = sigmoid),
    }
}

model! {
    pub struct Unknown {
        input: [20, _],
        LSTM(8),
    }
}

fn main() {}
