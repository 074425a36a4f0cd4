//! ResNet-14, declared once for the `resnet_cifar` example and the training benchmark
//! (benches/common/models.rs includes this file).

use kiln::prelude::*;

model! {
    /// ResNet-14 (v1) for 32×32 images: a 16-channel stem, then three stages of two
    /// residual blocks at 16, 32 and 64 channels; the first block of stages 2 and 3 halves
    /// the resolution, its shortcut projected by a strided 1×1 convolution. Batch
    /// normalization keeps its moving statistics with momentum 0.9 rather than Keras's
    /// 0.99, which needs thousands of steps before evaluation sees the trained network.
    pub struct ResNet14 {
        input x: [3, 32, 32],
        let stem = x -> Conv2D(16, 3, padding = same)
            -> BatchNormalization(momentum = 0.9) -> Activation(relu);

        let r1 = stem -> Conv2D(16, 3, padding = same)
            -> BatchNormalization(momentum = 0.9) -> Activation(relu)
            -> Conv2D(16, 3, padding = same) -> BatchNormalization(momentum = 0.9);
        let b1 = Add(stem, r1) -> Activation(relu);
        let r2 = b1 -> Conv2D(16, 3, padding = same)
            -> BatchNormalization(momentum = 0.9) -> Activation(relu)
            -> Conv2D(16, 3, padding = same) -> BatchNormalization(momentum = 0.9);
        let b2 = Add(b1, r2) -> Activation(relu);

        let r3 = b2 -> Conv2D(32, 3, strides = 2, padding = same)
            -> BatchNormalization(momentum = 0.9) -> Activation(relu)
            -> Conv2D(32, 3, padding = same) -> BatchNormalization(momentum = 0.9);
        let p3 = b2 -> Conv2D(32, 1, strides = 2);
        let b3 = Add(p3, r3) -> Activation(relu);
        let r4 = b3 -> Conv2D(32, 3, padding = same)
            -> BatchNormalization(momentum = 0.9) -> Activation(relu)
            -> Conv2D(32, 3, padding = same) -> BatchNormalization(momentum = 0.9);
        let b4 = Add(b3, r4) -> Activation(relu);

        let r5 = b4 -> Conv2D(64, 3, strides = 2, padding = same)
            -> BatchNormalization(momentum = 0.9) -> Activation(relu)
            -> Conv2D(64, 3, padding = same) -> BatchNormalization(momentum = 0.9);
        let p5 = b4 -> Conv2D(64, 1, strides = 2);
        let b5 = Add(p5, r5) -> Activation(relu);
        let r6 = b5 -> Conv2D(64, 3, padding = same)
            -> BatchNormalization(momentum = 0.9) -> Activation(relu)
            -> Conv2D(64, 3, padding = same) -> BatchNormalization(momentum = 0.9);
        let b6 = Add(b5, r6) -> Activation(relu);

        let y = b6 -> GlobalAveragePooling2D -> Dense(10, activation = softmax);
        output y,
    }
}
