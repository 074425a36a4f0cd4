//! A residual network for CIFAR-10 in `model!`'s functional form: ResNet-14 (He et al.,
//! "Deep Residual Learning", the CIFAR variant with n = 2: 6n + 2 weighted layers), whose
//! skip connections are `Add` merges the macro shape-checks at compile time.
//!
//! `cargo run --release --example resnet_cifar -- [--epochs 50] [--batch-size 32]
//!  [--optimizer rmsprop|adam|sgd|adamw] [--learning-rate R] [--lr-drop-epoch E]
//!  [--schedule constant|cosine] [--warmup-epochs W] [--label-smoothing E]
//!  [--augment on|off] [--augment-on device|workers] [--train-limit N] [--train-batches 5]
//!  [--load w.safetensors] [--device cpu|cuda]` (`--help` lists them with their defaults;
//!  the README's run used `--optimizer adam --batch-size 128`).
//!
//! The data, augmentation (shifts and flips) and outputs are those of the `cifar10`
//! example, written as `resnet_cifar_*`.

#[path = "common/cifar.rs"]
mod cifar;
mod common;
#[path = "common/resnet14.rs"]
mod resnet14;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use resnet14::ResNet14;

/// ResNet-14 on CIFAR-10 with augmentation.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    cifar: cifar::CifarFlags,
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let model = ResNet14::<B>::new(&device);
    println!("{}", model.summary());
    cifar::train::<B, _>(model, &flags.cifar, "resnet_cifar")
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.cifar.device, run(&flags))
}
