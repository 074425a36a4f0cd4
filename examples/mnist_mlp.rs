//! The seed's simple net on MNIST, and its improvements as flags: a multi-layer
//! perceptron on the flattened 28×28 images, trained Keras-style; writes history charts.
//!
//! `cargo run --release --example mnist_mlp -- [--hidden-layers 2] [--units 128]
//!  [--dropout 0.2] [--optimizer adam] [--learning-rate 0.001] [--batch-size 128]
//!  [--epochs 20] [--device cpu]`

mod common;

use burn::tensor::backend::AutodiffBackend;
use common::{Flags, mlp, optimizer, plot_history};
use kiln::prelude::*;

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let spec = mlp(
        flags.get("hidden-layers", 2)?,
        flags.get("units", 128)?,
        flags.get("dropout", 0.2)?,
    )?;
    let model = kiln::JsonModel::<B, 2, 2>::new(spec, &device)?;
    println!("{}", model.summary());
    let optimizer = optimizer(
        &flags.get("optimizer", String::from("adam"))?,
        flags.get("learning-rate", 1e-3)?,
    )?;
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let mut trainer = Trainer::new(model)
        .optimizer(optimizer)
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let epochs = flags.get("epochs", 20)?;
    let start = std::time::Instant::now();
    let history = trainer.fit(
        &train,
        Fit::epochs(epochs)
            .batch_size(flags.get("batch-size", 128)?)
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
    plot_history(&history, "mnist_mlp_history.png");
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags, run(&flags))
}
