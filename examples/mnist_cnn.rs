//! Keras's classic `mnist_cnn.py` example in kiln (99.25% test accuracy after 12 epochs in
//! Keras): two convolutions, max pooling, dropout and a dense layer on MNIST.
//!
//! `cargo run --release --example mnist_cnn -- [--epochs 12] [--batch-size 128] [--device cpu]`
//!
//! Uses MNIST from the data directory (`KILN_DATA`, else the user's cache), downloading
//! it when missing; with neither, kiln's synthetic digits, and says so.

#[path = "common/cnns.rs"]
mod cnns;
mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use cnns::MnistCnn;
use common::{Device, plot_history};
use kiln::prelude::*;

/// Keras's mnist_cnn on MNIST.
#[derive(Parser)]
struct Flags {
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let (epochs, batch_size) = (flags.epochs, flags.batch_size);
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let model = MnistCnn::<B>::new(&device);
    println!("{}", model.summary());
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let start = std::time::Instant::now();
    let history = trainer.fit(
        &train,
        Fit::epochs(epochs)
            .batch_size(batch_size)
            .validation_split(0.1),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let scores = trainer.evaluate(&test)?;
    println!("Test loss: {:.4}", scores.get("loss").unwrap_or(f64::NAN));
    println!(
        "Test accuracy on {}: {:.4}",
        test.name(),
        scores.get("accuracy").unwrap_or(f64::NAN)
    );
    println!("Trained {epochs} epochs in {seconds:.0} s");
    let saved = common::output(&train, "mnist_cnn.safetensors");
    kiln::save_model(trainer.model(), &saved)?;
    println!("Model saved to {saved}");
    plot_history(&history, "mnist_cnn_history.png", &train);
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
