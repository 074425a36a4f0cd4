// Rules that need a known dimension refuse an unknown one: Dense's input features,
// Conv2D's input channels, same padding with dilation.
use kiln::prelude::*;

model! {
    struct Features {
        input: [_, 28, 28],
        Conv2D(8, 3),
    }
}

model! {
    struct Sequence {
        input: [8, _],
        Flatten,
        Dense(10),
    }
}

model! {
    struct Dilated {
        input: [1, _, _],
        Conv2D(8, 3, padding = same, dilation_rate = 2),
    }
}

fn main() {}
