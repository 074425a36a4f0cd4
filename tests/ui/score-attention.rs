// Attention and AdditiveAttention take a query and a value (and a key) in the functional
// form: the key has the query's features and the value's steps; a chain gives one tensor.
use kiln::prelude::*;

model! {
    pub struct Chained {
        input x: [10, 8],
        let y = x -> Attention(use_scale = true);
        output y,
    }
}

model! {
    pub struct OtherFeatures {
        input q: [10, 8],
        input v: [6, 4];
        let y = AdditiveAttention(q, v);
        output y;
    }
}

model! {
    pub struct OtherSteps {
        input q: [10, 8],
        input v: [6, 4],
        input k: [5, 8];
        let y = Attention(q, v, k, score_mode = concat);
        output y;
    }
}

model! {
    pub struct Positional {
        input q: [10, 8];
        let y = Attention(q, q, true);
        output y;
    }
}

fn main() {}
