//! Keras's `mnist_transfer_cnn.py` in kiln: train a small convnet on the digits 0 to 4,
//! freeze its convolutional layers, then train its dense layers alone on the digits 5 to 9
//! (Keras reports 99.8% and 99.2% test accuracy). Keras trains with Adadelta; kiln with
//! Adam.
//!
//! `cargo run --release --example mnist_transfer_cnn -- [--epochs 5] [--batch-size 128] [--device cpu]`
//!
//! Uses MNIST from the data directory (`KILN_DATA`, else the user's cache), downloading it
//! when missing; with neither, kiln's synthetic digits, and says so.

mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use common::Device;
use kiln::prelude::*;

/// Keras's mnist_transfer_cnn on MNIST.
#[derive(Parser)]
struct Flags {
    /// Epochs of each phase.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

model! {
    /// Keras's feature layers (two convolutions, pooling, dropout, flatten) and
    /// classification layers (two dense layers, five classes).
    pub struct TransferCnn {
        input: [1, 28, 28],
        Conv2D(32, 3, activation = relu),
        Conv2D(32, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.25),
        Flatten,
        Dense(128, activation = relu),
        Dropout(0.5),
        Dense(5, activation = softmax),
    }
}

/// One phase: train on `classes` of `train`, test on the same classes of `test`.
struct Phase {
    accuracy: f64,
    seconds: f64,
    images: usize,
}

fn phase<B: AutodiffBackend>(
    trainer: &mut Trainer<B, TransferCnn<B>>,
    (train, test): (&ImageDataset, &ImageDataset),
    classes: &[usize],
    flags: &Flags,
) -> Result<Phase, Box<dyn std::error::Error>> {
    let (train, test) = (train.only_classes(classes)?, test.only_classes(classes)?);
    let start = std::time::Instant::now();
    trainer.fit(
        &train,
        Fit::epochs(flags.epochs).batch_size(flags.batch_size),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let accuracy = trainer.evaluate(&test)?.get("accuracy").unwrap_or(f64::NAN);
    println!(
        "Test accuracy on the {} of {}: {accuracy:.4} ({seconds:.0} s)",
        digits(classes),
        test.name()
    );
    Ok(Phase {
        accuracy,
        seconds,
        images: train.len() * flags.epochs,
    })
}

/// `digits 0-4`.
fn digits(classes: &[usize]) -> String {
    match (classes.first(), classes.last()) {
        (Some(first), Some(last)) => format!("digits {first}-{last}"),
        _ => "no digits".into(),
    }
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let (low, high) = ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9]);
    let mut trainer = Trainer::new(TransferCnn::<B>::new(&device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    println!("{}", trainer.model().summary());
    let first = phase(&mut trainer, (&train, &test), &low, flags)?;

    // Keras: `for l in feature_layers: l.trainable = False`.
    trainer.freeze(&["conv2d", "conv2d_1"])?;
    println!("{}", trainer.model().summary());
    let second = phase(&mut trainer, (&train, &test), &high, flags)?;

    let rate = |p: &Phase| p.images as f64 / p.seconds;
    println!(
        "\n| phase ({}) | trains | test accuracy | images/s |",
        train.name()
    );
    println!("|---|---|---:|---:|");
    println!(
        "| {} | every layer | {:.2}% | {:.0} |",
        digits(&low),
        first.accuracy * 100.0,
        rate(&first)
    );
    println!(
        "| {} | dense layers (convolutions frozen) | {:.2}% | {:.0} |",
        digits(&high),
        second.accuracy * 100.0,
        rate(&second)
    );
    println!(
        "A frozen-base step takes {:.2}x the time of a full step.",
        rate(&first) / rate(&second)
    );
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
