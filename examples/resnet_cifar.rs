//! A residual network for CIFAR-10 in `model!`'s functional form: ResNet-14 (He et al.,
//! "Deep Residual Learning", the CIFAR variant with n = 2: 6n + 2 weighted layers), whose
//! skip connections are `Add` merges the macro shape-checks at compile time.
//!
//! `cargo run --release --example resnet_cifar -- [--epochs 30] [--batch-size 128]
//!  [--optimizer adam] [--learning-rate 0.001] [--lr-drop-epoch E] [--augment on|off]
//!  [--augment-on device|workers] [--train-limit N] [--train-batches 5] [--load w.safetensors]
//!  [--device cpu|cuda]`
//!
//! The data, augmentation (shifts and flips) and outputs are those of the `cifar10`
//! example, written as `resnet_cifar_*`.

#[path = "common/cifar.rs"]
mod cifar;
mod common;

use burn::tensor::backend::AutodiffBackend;
use common::Flags;
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

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let model = ResNet14::<B>::new(&device);
    println!("{}", model.summary());
    cifar::train::<B, _>(model, flags, "resnet_cifar")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::parse();
    on_device!(flags, run(&flags))
}
