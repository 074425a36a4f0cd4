// The augmentation layers take images (RandomGrayscale RGB or grey ones), factors within
// Keras's bounds, Keras's fill modes, and no seed of their own (kiln's draws come from the
// trainer's seed).
use kiln::prelude::*;

model! {
    pub struct OutOfRange {
        input: [3, 8, 8],
        RandomRotation(1.5),
        RandomZoom((-1, 0.2)),
        RandomContrast((-0.2, 0.2)),
        RandomGrayscale(1.5),
    }
}

model! {
    pub struct Seeded {
        input: [3, 8, 8],
        RandomFlip(horizontal, seed = 42),
        RandomTranslation(0.1, 0.1, fill_mode = mirror),
    }
}

model! {
    pub struct NotImages {
        input: [64],
        RandomFlip,
    }
}

model! {
    pub struct NotRgb {
        input: [4, 8, 8],
        RandomGrayscale,
    }
}

fn main() {}
