// Keras takes a softmax of images over each pixel's channels, which kiln holds first: a
// softmax of images is refused on the layer, whatever gives it.
use kiln::prelude::*;

model! {
    pub struct Segmenter {
        input: [3, 8, 8],
        Conv2D(4, 1, activation = softmax),
    }
}

model! {
    pub struct Layered {
        input: [3, 8, 8],
        Conv2D(4, 1),
        Softmax,
    }
}

fn main() {}
