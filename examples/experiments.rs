//! The seed's study of the MLP (11.5–11.7): one parameter varied at a time around a
//! baseline — hidden layers, units, dropout, optimizer, learning rate, batch size — each
//! variant trained on MNIST; writes one chart of validation accuracy per varied parameter
//! and the summary table (markdown) into `experiments/`.
//!
//! `cargo run --release --example experiments -- [--epochs 10] [--device cpu]`

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use common::{Device, OptimizerName, mlp, optimizer};
use kiln::datasets::ImageDataset;
use kiln::prelude::*;

/// The seed's one-factor-at-a-time study of the MNIST MLP.
#[derive(Parser)]
struct Flags {
    /// Epochs of each run.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

/// One configuration of the MLP and its training.
#[derive(Clone, Debug)]
struct Setup {
    hidden_layers: usize,
    units: usize,
    dropout: f64,
    optimizer: OptimizerName,
    learning_rate: f64,
    batch_size: usize,
}

const BASELINE: Setup = Setup {
    hidden_layers: 2,
    units: 128,
    dropout: 0.2,
    optimizer: OptimizerName::Adam,
    learning_rate: 1e-3,
    batch_size: 128,
};

/// The parameters varied, each with its values (the baseline's among them).
fn variants() -> Vec<(&'static str, Vec<(String, Setup)>)> {
    let vary = |name: &'static str, values: Vec<(String, Setup)>| (name, values);
    vec![
        vary(
            "hidden_layers",
            [1, 2, 3]
                .map(|v| {
                    (
                        v.to_string(),
                        Setup {
                            hidden_layers: v,
                            ..BASELINE
                        },
                    )
                })
                .to_vec(),
        ),
        vary(
            "units",
            [64, 128, 256]
                .map(|v| {
                    (
                        v.to_string(),
                        Setup {
                            units: v,
                            ..BASELINE
                        },
                    )
                })
                .to_vec(),
        ),
        vary(
            "dropout",
            [0.0, 0.2, 0.5]
                .map(|v| {
                    (
                        v.to_string(),
                        Setup {
                            dropout: v,
                            ..BASELINE
                        },
                    )
                })
                .to_vec(),
        ),
        vary(
            "optimizer",
            [
                (OptimizerName::Sgd, "sgd"),
                (OptimizerName::Rmsprop, "rmsprop"),
                (OptimizerName::Adam, "adam"),
            ]
            .map(|(v, name)| {
                (
                    name.to_string(),
                    Setup {
                        optimizer: v,
                        ..BASELINE
                    },
                )
            })
            .to_vec(),
        ),
        vary(
            "learning_rate",
            [1e-4, 1e-3, 1e-2]
                .map(|v| {
                    (
                        v.to_string(),
                        Setup {
                            learning_rate: v,
                            ..BASELINE
                        },
                    )
                })
                .to_vec(),
        ),
        vary(
            "batch_size",
            [32, 128, 512]
                .map(|v| {
                    (
                        v.to_string(),
                        Setup {
                            batch_size: v,
                            ..BASELINE
                        },
                    )
                })
                .to_vec(),
        ),
    ]
}

/// What one run gave.
#[derive(Clone)]
struct Outcome {
    history: History,
    params: usize,
    test_accuracy: f64,
    seconds: f64,
}

fn train<B: AutodiffBackend>(
    device: &B::Device,
    setup: &Setup,
    epochs: usize,
    train: &ImageDataset,
    test: &ImageDataset,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let spec = mlp(setup.hidden_layers, setup.units, setup.dropout)?;
    let params = spec.check()?.params().total();
    <B as Backend>::seed(device, 1);
    let model = kiln::JsonModel::<B, 2, 2>::new(spec, device)?;
    let mut trainer = Trainer::new(model)
        .optimizer(optimizer(setup.optimizer, setup.learning_rate))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let start = std::time::Instant::now();
    let history = trainer.fit(
        train,
        Fit::epochs(epochs)
            .batch_size(setup.batch_size)
            .validation_split(0.1)
            .verbose(Verbosity::Silent),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let test_accuracy = trainer.evaluate(test)?.get("accuracy").unwrap_or(f64::NAN);
    Ok(Outcome {
        history,
        params,
        test_accuracy,
        seconds,
    })
}

fn last(history: &History, name: &str) -> f64 {
    history
        .get(name)
        .and_then(|v| v.last().copied())
        .unwrap_or(f64::NAN)
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let epochs = flags.epochs;
    let (train_data, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let folder = common::output(&train_data, "experiments");
    let out = Path::new(&folder);
    std::fs::create_dir_all(out)?;
    let mut table = format!("Data: {}\n\n", train_data.name());
    table.push_str(
        "| parameter | value | params | train accuracy | val accuracy | test accuracy | seconds |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    // The baseline appears under every parameter; it is trained once.
    let mut done: HashMap<String, Outcome> = HashMap::new();
    for (parameter, values) in variants() {
        let mut runs = Vec::new();
        for (value, setup) in values {
            let key = format!("{setup:?}");
            if !done.contains_key(&key) {
                let outcome = train::<B>(&device, &setup, epochs, &train_data, &test)?;
                done.insert(key.clone(), outcome);
            }
            let outcome = &done[&key];
            let h = &outcome.history;
            let row = format!(
                "| {parameter} | {value}{} | {} | {:.4} | {:.4} | {:.4} | {:.0} |",
                if key == format!("{BASELINE:?}") {
                    " (baseline)"
                } else {
                    ""
                },
                outcome.params,
                last(h, "accuracy"),
                last(h, "val_accuracy"),
                outcome.test_accuracy,
                outcome.seconds
            );
            println!("{row}");
            writeln!(table, "{row}")?;
            runs.push((format!("{parameter} = {value}"), outcome.history.clone()));
        }
        let refs: Vec<(String, &History)> = runs.iter().map(|(l, h)| (l.clone(), h)).collect();
        let chart = out.join(format!("{parameter}.png"));
        match kiln::plot_runs(
            &chart,
            &format!("validation accuracy by {parameter} ({})", train_data.name()),
            "val_accuracy",
            &refs,
        ) {
            Ok(()) => println!("chart: {}", chart.display()),
            Err(e) => println!("no chart for {parameter}: {e}"),
        }
    }
    std::fs::write(out.join("summary.md"), &table)?;
    println!("\n{table}\nwritten to {folder}/summary.md");
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
