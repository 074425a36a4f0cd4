// Sizes past kiln's limits are refused where they are declared, before anything is
// allocated: an argument above kiln::spec::MAX_SIZE, an input dimension above it, a layer
// past kiln::spec::MAX_PARAMS parameters, and a Flatten whose size overflows the limit.
use kiln::model;

model! {
    struct HugeArgument {
        input: [784],
        Dense(4294967296),
    }
}

model! {
    struct HugeInput {
        input: [3, 4294967296],
        Flatten,
    }
}

model! {
    struct HugeLayer {
        input: [3, 32, 32],
        Conv2D(2147483647, 3),
    }
}

model! {
    struct HugeFlatten {
        input: [2000000, 2000000],
        Flatten,
    }
}

fn main() {}
