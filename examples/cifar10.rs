//! CIFAR-10 with a deep network and more data through augmentation (the seed's chapter
//! 13): Keras's cifar10_cnn net or a deeper one, with shifts and flips, on CPU or CUDA.
//!
//! `cargo run --release --example cifar10 -- [--model cnn|deep] [--epochs 50]
//!  [--batch-size 32] [--optimizer rmsprop|adam|sgd] [--learning-rate 0.0001]
//!  [--lr-drop-epoch E] [--schedule constant|cosine] [--warmup-epochs W]
//!  [--label-smoothing E] [--augment on|off] [--augment-on device|workers]
//!  [--train-limit N] [--train-batches 5] [--load weights.safetensors] [--device cpu|cuda]`
//!
//! Augmentation runs on the model's device with `--augment-on device` (the default with
//! `--device cuda`: flips and shifts as batched tensor ops), else in CPU worker threads.
//! `--lr-drop-epoch E` divides the learning rate by 10 from epoch E on. `--load` starts
//! from saved weights (`cifar10_best.safetensors`, say); with `--epochs 0` it only
//! evaluates them.
//!
//! Trains on the first 40,000 training images, validates on the last 10,000 (a hold-out
//! of the training set), and tests on the CIFAR-10 test records there are (the full
//! `test_batch.bin`, else `test_batch_first1000.bin`). With `--train-batches N` below 5,
//! only the first N batch files are read and their last tenth is the hold-out. Prints the summary, a progress bar
//! and each epoch's metrics; writes `cifar10_history*.png`, `cifar10_samples.png` (a batch
//! before and after augmentation) and the best checkpoint `cifar10_best.safetensors`.

#[path = "common/cifar.rs"]
mod cifar;
#[path = "common/cnns.rs"]
mod cnns;
mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, ValueEnum};
use cnns::CifarCnn;
use kiln::prelude::*;

/// Which network (`--model`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Net {
    /// Keras's cifar10_cnn.
    Cnn,
    /// A deeper network.
    Deep,
}

/// CIFAR-10 with augmentation.
#[derive(Parser)]
struct Flags {
    #[arg(long, value_enum, default_value_t = Net::Cnn)]
    model: Net,
    #[command(flatten)]
    cifar: cifar::CifarFlags,
}

model! {
    /// A deeper net: three VGG-style blocks with batch normalization.
    pub struct DeepCnn {
        input: [3, 32, 32],
        Conv2D(32, 3, padding = same, activation = relu),
        BatchNormalization,
        Conv2D(32, 3, padding = same, activation = relu),
        BatchNormalization,
        MaxPooling2D(2),
        Dropout(0.2),
        Conv2D(64, 3, padding = same, activation = relu),
        BatchNormalization,
        Conv2D(64, 3, padding = same, activation = relu),
        BatchNormalization,
        MaxPooling2D(2),
        Dropout(0.3),
        Conv2D(128, 3, padding = same, activation = relu),
        BatchNormalization,
        Conv2D(128, 3, padding = same, activation = relu),
        BatchNormalization,
        MaxPooling2D(2),
        Dropout(0.4),
        Flatten,
        Dense(10, activation = softmax),
    }
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    match flags.model {
        Net::Cnn => {
            let model = CifarCnn::<B>::new(&device);
            println!("{}", model.summary());
            cifar::train::<B, _>(model, &flags.cifar, "cifar10")
        }
        Net::Deep => {
            let model = DeepCnn::<B>::new(&device);
            println!("{}", model.summary());
            cifar::train::<B, _>(model, &flags.cifar, "cifar10")
        }
    }
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.cifar.device, run(&flags))
}
