//! The seed's simple net on MNIST, and its improvements as flags: a multi-layer
//! perceptron on the flattened 28×28 images, trained Keras-style; writes history charts.
//!
//! `cargo run --release --example mnist_mlp -- [--hidden-layers 2] [--units 128]
//!  [--dropout 0.2] [--optimizer adam] [--learning-rate 0.001] [--batch-size 128]
//!  [--epochs 20] [--device cpu]` (`--help` lists them).

mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use common::{Device, OptimizerName, mlp, optimizer, plot_history};
use kiln::prelude::*;

/// The seed's MLP on MNIST.
#[derive(Parser)]
struct Flags {
    /// Hidden Dense layers.
    #[arg(long, default_value_t = 2)]
    hidden_layers: usize,
    /// Units in each hidden layer.
    #[arg(long, default_value_t = 128)]
    units: usize,
    /// Dropout after each hidden layer (0 for none).
    #[arg(long, default_value_t = 0.2)]
    dropout: f64,
    #[arg(long, value_enum, default_value_t = OptimizerName::Adam)]
    optimizer: OptimizerName,
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let spec = mlp(flags.hidden_layers, flags.units, flags.dropout)?;
    let model = kiln::JsonModel::<B, 2, 2>::new(spec, &device)?;
    println!("{}", model.summary());
    let optimizer = optimizer(flags.optimizer, flags.learning_rate);
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let mut trainer = Trainer::new(model)
        .optimizer(optimizer)
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let epochs = flags.epochs;
    let start = std::time::Instant::now();
    let history = trainer.fit(
        &train,
        Fit::epochs(epochs)
            .batch_size(flags.batch_size)
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
    plot_history(&history, "mnist_mlp_history.png", &train);
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
