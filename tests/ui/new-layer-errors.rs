// The layers added through the registry refuse what does not fit, at the layer at fault:
// a crop that leaves nothing, a permutation of the wrong rank, a bad interpolation name,
// RepeatVector on an image, LayerNormalization without its scale, Conv2DTranspose on a
// vector, and TimeDistributed around a layer it cannot wrap.
use kiln::prelude::*;

model! {
    struct Crops {
        input: [3, 8, 8],
        ZeroPadding2D(1),
        Cropping2D(((0, 0), (5, 5))),
        Flatten,
    }
}

model! {
    struct Permutes {
        input: [3, 8, 8],
        Permute((2, 1)),
        Flatten,
    }
}

model! {
    struct Upsamples {
        input: [3, 8, 8],
        UpSampling2D(2, interpolation = bicubic),
        Flatten,
    }
}

model! {
    struct Repeats {
        input: [3, 8, 8],
        RepeatVector(4),
    }
}

model! {
    struct Normalizes {
        input: [_, 8],
        LayerNormalization(scale = false),
    }
}

model! {
    struct Grows {
        input: [16],
        Conv2DTranspose(4, 3, strides = 2),
    }
}

model! {
    struct Wraps {
        input: [5, 8],
        TimeDistributed(Conv1D(4, 3)),
    }
}

fn main() {}
