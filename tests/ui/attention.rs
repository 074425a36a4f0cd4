// MultiHeadAttention takes a query and a value (and a key) in the functional form, named
// as a merge's tensors are: a Sequential model cannot give it two, a chain gives it one;
// the value must be a sequence, and the key pairs with it step by step; its own arguments
// come by keyword.
use kiln::prelude::*;

model! {
    pub struct InSequence {
        input: [10, 8],
        MultiHeadAttention(num_heads = 2, key_dim = 4),
        Dense(1),
    }
}

model! {
    pub struct Chained {
        input x: [10, 8],
        let y = x -> MultiHeadAttention(num_heads = 2, key_dim = 4);
        output y,
    }
}

model! {
    pub struct NotASequence {
        input x: [10, 8],
        input v: [8],
        let y = MultiHeadAttention(x, v, num_heads = 2, key_dim = 4);
        output y,
    }
}

model! {
    pub struct Positional {
        input x: [10, 8],
        let y = MultiHeadAttention(x, x, 2, 4);
        output y,
    }
}

model! {
    pub struct Unpaired {
        input x: [10, 8],
        input v: [6, 8],
        input k: [5, 8],
        let y = MultiHeadAttention(x, v, k, num_heads = 2, key_dim = 4);
        output y,
    }
}

fn main() {}
