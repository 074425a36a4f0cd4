//! Callbacks on MNIST: EarlyStopping, ModelCheckpoint, TensorBoard, CSVLogger and a custom
//! callback (the seed's LossHistory) around one `fit`.
//!
//! `cargo run --release --example callbacks -- [--epochs 10] [--device cpu]`, then
//! `tensorboard --logdir logs` to see the curves, histograms and the model summary.

mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use common::{Device, output};
use kiln::callbacks::{CsvLogger, EarlyStopping, ModelCheckpoint, TensorBoard};
use kiln::prelude::*;
use kiln::{BatchLogs, CallbackResult, Control};

/// Callbacks around one fit on MNIST.
#[derive(Parser)]
struct Flags {
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

model! {
    /// A small MNIST CNN.
    pub struct Net {
        input: [1, 28, 28],
        Conv2D(16, 3, activation = relu),
        MaxPooling2D(2),
        Conv2D(32, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
        Dropout(0.3),
        Dense(10, activation = softmax),
    }
}

/// The seed's LossHistory: the running loss after every batch.
#[derive(Default)]
struct LossHistory {
    losses: Vec<f64>,
}

impl<B: AutodiffBackend, M> Callback<B, M> for LossHistory {
    fn on_train_batch_end(
        &mut self,
        _batch: usize,
        logs: &BatchLogs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        self.losses.extend(logs.get().get("loss"));
        Ok(())
    }
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let mut trainer = Trainer::new(Net::<B>::new(&device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let mut losses = LossHistory::default();
    let mut stop = EarlyStopping::monitor("val_loss")
        .patience(2)
        .restore_best_weights(true);
    // A run on the synthetic digits writes synthetic_digits_checkpoints/ and the like.
    let [checkpoints, logs, csv] =
        ["checkpoints", "logs", "training.csv"].map(|p| output(&train, p));
    let mut checkpoint = ModelCheckpoint::new(format!(
        "{checkpoints}/net-{{epoch:02}}-{{val_accuracy:.4}}.safetensors"
    ))
    .monitor("val_accuracy")
    .save_best_only(true);
    std::fs::create_dir_all(&checkpoints)?;
    let history = trainer.fit(
        &train,
        Fit::epochs(flags.epochs)
            .batch_size(128)
            .validation_split(0.1)
            .callback(&mut stop)
            .callback(&mut checkpoint)
            .callback(TensorBoard::new(&logs).histogram_freq(1))
            .callback(CsvLogger::new(&csv))
            .callback(&mut losses),
    )?;
    match stop.stopped_epoch() {
        Some(epoch) => println!(
            "EarlyStopping stopped after epoch {} and restored epoch {}",
            epoch + 1,
            stop.best_epoch().map_or(0, |e| e + 1)
        ),
        None => println!(
            "EarlyStopping did not stop: {} epochs",
            history.epochs().len()
        ),
    }
    for path in checkpoint.saved() {
        println!("checkpoint: {}", path.display());
    }
    println!(
        "LossHistory recorded {} batch losses, the last {:.4}",
        losses.losses.len(),
        losses.losses.last().unwrap_or(&f64::NAN)
    );
    println!("per-epoch log: {csv}; TensorBoard logs: {logs}/ (tensorboard --logdir {logs})");
    let scores = trainer.evaluate(&test)?;
    println!(
        "Test accuracy on {}: {:.4}",
        test.name(),
        scores.get("accuracy").unwrap_or(f64::NAN)
    );
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
