// What a sequential model or burn's cells cannot do is refused on the argument at fault:
// return_state (more outputs), dropout (burn's cells have none), an activation burn's
// cells lack, an argument SimpleRNN does not take, and unknown features per step.
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
