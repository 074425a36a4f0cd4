//! The seed's study of the MLP (11.5–11.7): one factor varied at a time around a
//! baseline — hidden layers, units, dropout, optimizer, SGD's learning rate, batch size,
//! epochs, and L1, L2 and elastic-net regularization — each variant trained on MNIST;
//! writes the summary table (`experiments/summary.md`), one chart of validation accuracy
//! per experiment and the over-fitting chart (training and validation curves of the
//! unregularized run) into `experiments/`.
//!
//! `cargo run --release --example experiments -- [--epochs 10] [--device cpu]`

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use common::{Device, OptimizerName, optimizer};
use kiln::datasets::ImageDataset;
use kiln::prelude::*;
use kiln::spec::{Call, ModelSpec};

/// The seed's one-factor-at-a-time study of the MNIST MLP.
#[derive(Parser)]
struct Flags {
    /// Epochs of each run (the baseline's; the epochs experiment halves and doubles it).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

/// A weight penalty on every Dense kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Penalty {
    None,
    L1(f64),
    L2(f64),
    ElasticNet(f64, f64),
}

impl Penalty {
    /// The `kernel_regularizer` argument, when there is one.
    fn call(self) -> Option<Call> {
        match self {
            Penalty::None => None,
            Penalty::L1(x) => Some(Call::bare("l1").arg(x)),
            Penalty::L2(x) => Some(Call::bare("l2").arg(x)),
            Penalty::ElasticNet(a, b) => Some(Call::bare("l1_l2").kw("l1", a).kw("l2", b)),
        }
    }
}

/// One configuration of the MLP and its training.
#[derive(Clone, Debug)]
struct Setup {
    hidden_layers: usize,
    units: usize,
    dropout: f64,
    penalty: Penalty,
    optimizer: OptimizerName,
    /// The optimizer's Keras default when none.
    learning_rate: Option<f64>,
    batch_size: usize,
    epochs: usize,
}

impl Setup {
    /// The seed's MLP: `hidden_layers` Dense(units, relu) with the penalty, each followed
    /// by Dropout when positive, then Dense(10, softmax).
    fn spec(&self) -> Result<ModelSpec, kiln::TrainError> {
        let mut layers = Vec::new();
        for _ in 0..self.hidden_layers {
            let mut dense = Call::bare("Dense").arg(self.units).kw("activation", "relu");
            if let Some(penalty) = self.penalty.call() {
                dense = dense.kw("kernel_regularizer", penalty);
            }
            layers.push(dense);
            if self.dropout > 0.0 {
                layers.push(Call::bare("Dropout").arg(self.dropout));
            }
        }
        layers.push(Call::bare("Dense").arg(10).kw("activation", "softmax"));
        ModelSpec::from_calls("Mlp", Shape::known([784]), &layers)
            .map_err(|e| kiln::TrainError::Setting(e.to_string()))
    }

    /// The learning rate it trains at: its own, or its optimizer's Keras default.
    fn rate(&self) -> f64 {
        self.learning_rate.unwrap_or(match self.optimizer {
            OptimizerName::Sgd => 0.01,
            _ => 0.001,
        })
    }
}

/// The baseline every experiment varies one factor of (`epochs` from the flags).
fn baseline(epochs: usize) -> Setup {
    Setup {
        hidden_layers: 2,
        units: 128,
        dropout: 0.2,
        penalty: Penalty::None,
        optimizer: OptimizerName::Adam,
        learning_rate: None,
        batch_size: 128,
        epochs,
    }
}

/// One experiment: its name and its variants, each a label and a setup.
type Experiment = (&'static str, Vec<(String, Setup)>);

/// The experiments of 11.5–11.6, in the seed's order.
fn experiments(epochs: usize) -> Vec<Experiment> {
    let base = baseline(epochs);
    let vary = |name, labels: Vec<String>, change: &dyn Fn(&mut Setup, usize)| -> Experiment {
        let setups = labels.into_iter().enumerate().map(|(i, label)| {
            let mut setup = base.clone();
            change(&mut setup, i);
            (label, setup)
        });
        (name, setups.collect())
    };
    let labels = |values: &[&str]| values.iter().map(ToString::to_string).collect::<Vec<_>>();
    let optimizers = [
        OptimizerName::Sgd,
        OptimizerName::Rmsprop,
        OptimizerName::Adam,
    ];
    let penalties = [
        Penalty::None,
        Penalty::L1(1e-4),
        Penalty::L2(1e-4),
        Penalty::ElasticNet(1e-4, 1e-4),
    ];
    vec![
        vary("hidden_layers", labels(&["1", "2", "3"]), &|s, i| {
            s.hidden_layers = i + 1
        }),
        vary("units", labels(&["64", "128", "256"]), &|s, i| {
            s.units = 64 << i
        }),
        vary("dropout", labels(&["0", "0.2", "0.5"]), &|s, i| {
            s.dropout = [0.0, 0.2, 0.5][i]
        }),
        vary(
            "optimizer",
            labels(&["sgd (0.01)", "rmsprop (0.001)", "adam (0.001)"]),
            &|s, i| {
                s.optimizer = optimizers[i];
            },
        ),
        vary(
            "sgd_learning_rate",
            labels(&["0.001", "0.01", "0.1"]),
            &|s, i| {
                s.optimizer = OptimizerName::Sgd;
                s.learning_rate = Some([0.001, 0.01, 0.1][i]);
            },
        ),
        vary("batch_size", labels(&["32", "128", "512"]), &|s, i| {
            s.batch_size = 32 << (2 * i)
        }),
        vary(
            "epochs",
            [epochs.div_ceil(2), epochs, 2 * epochs]
                .iter()
                .map(ToString::to_string)
                .collect(),
            &|s, i| s.epochs = [epochs.div_ceil(2), epochs, 2 * epochs][i],
        ),
        // Without dropout, so the penalty alone fights over-fitting.
        vary(
            "regularization",
            labels(&["none", "l1(1e-4)", "l2(1e-4)", "l1_l2(1e-4, 1e-4)"]),
            &|s, i| {
                s.dropout = 0.0;
                s.penalty = penalties[i];
            },
        ),
    ]
}

/// What one run gave.
#[derive(Clone)]
struct Outcome {
    history: History,
    params: usize,
    nonzero: usize,
    test_accuracy: f64,
    seconds: f64,
}

/// How far from zero a weight must be to count as non-zero: the seed's measure of a
/// model's complexity, which L1 lowers.
const NONZERO: f64 = 1e-3;

/// Counts the parameters at least [`NONZERO`] from zero.
struct Nonzero(usize);

impl<B: Backend> ModuleVisitor<B> for Nonzero {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let count = param
            .val()
            .abs()
            .greater_equal_elem(NONZERO)
            .int()
            .sum()
            .into_scalar();
        self.0 += usize::try_from(count.elem::<i64>()).unwrap_or(0);
    }
}

fn train<B: AutodiffBackend>(
    device: &B::Device,
    setup: &Setup,
    train: &ImageDataset,
    test: &ImageDataset,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let spec = setup.spec()?;
    let params = spec.check()?.params().total();
    <B as Backend>::seed(device, 1);
    let model = kiln::JsonModel::<B, 2, 2>::new(spec, device)?;
    let mut trainer = Trainer::new(model)
        .optimizer(optimizer(setup.optimizer, setup.rate()))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let start = std::time::Instant::now();
    let history = trainer.fit(
        train,
        Fit::epochs(setup.epochs)
            .batch_size(setup.batch_size)
            .validation_split(0.1)
            .verbose(Verbosity::Silent),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let test_accuracy = trainer.evaluate(test)?.get("accuracy").unwrap_or(f64::NAN);
    let mut nonzero = Nonzero(0);
    trainer.model().visit(&mut nonzero);
    Ok(Outcome {
        history,
        params,
        nonzero: nonzero.0,
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

/// The summary table's row of one run.
fn row(experiment: &str, label: &str, baseline: bool, setup: &Setup, outcome: &Outcome) -> String {
    let h = &outcome.history;
    format!(
        "| {experiment} | {label}{} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.0} |",
        if baseline { " (baseline)" } else { "" },
        outcome.params,
        outcome.nonzero,
        setup.epochs,
        last(h, "accuracy"),
        last(h, "val_accuracy"),
        outcome.test_accuracy,
        outcome.seconds
    )
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let (train_data, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let folder = common::output(&train_data, "experiments");
    let out = Path::new(&folder);
    std::fs::create_dir_all(out)?;
    let mut table = format!(
        "Data: {} ({} training images, the last 10% validating; tested on {} images). Baseline: {:?}\n\n",
        train_data.name(),
        train_data.len(),
        test.len(),
        baseline(flags.epochs)
    );
    table.push_str(
        "| experiment | value | params | non-zero weights | epochs | train accuracy | val accuracy | test accuracy | seconds |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let start = std::time::Instant::now();
    // The baseline appears in several experiments; it is trained once.
    let mut done: HashMap<String, Outcome> = HashMap::new();
    let base = format!("{:?}", baseline(flags.epochs));
    for (experiment, variants) in experiments(flags.epochs) {
        let mut runs = Vec::new();
        for (label, setup) in variants {
            let key = format!("{setup:?}");
            if !done.contains_key(&key) {
                done.insert(
                    key.clone(),
                    train::<B>(&device, &setup, &train_data, &test)?,
                );
            }
            let outcome = &done[&key];
            let line = row(experiment, &label, key == base, &setup, outcome);
            println!("{line}");
            writeln!(table, "{line}")?;
            runs.push((format!("{experiment} = {label}"), outcome.history.clone()));
        }
        chart(out, experiment, &train_data, &runs);
    }
    overfitting(out, &train_data, &done, flags.epochs);
    writeln!(
        table,
        "\nAll {} runs took {:.0} s.",
        done.len(),
        start.elapsed().as_secs_f64()
    )?;
    std::fs::write(out.join("summary.md"), &table)?;
    println!("\n{table}\nwritten to {folder}/summary.md");
    Ok(())
}

/// Writes the chart of one experiment: every variant's validation accuracy.
fn chart(out: &Path, experiment: &str, data: &ImageDataset, runs: &[(String, History)]) {
    let refs: Vec<(String, &History)> = runs.iter().map(|(l, h)| (l.clone(), h)).collect();
    let file = out.join(format!("{experiment}.png"));
    let title = format!("validation accuracy by {experiment} ({})", data.name());
    match kiln::plot_runs(&file, &title, "val_accuracy", &refs) {
        Ok(()) => println!("chart: {}", file.display()),
        Err(e) => println!("no chart for {experiment}: {e}"),
    }
}

/// Writes the over-fitting charts: training and validation loss and accuracy of the run
/// with neither dropout nor penalty.
fn overfitting(out: &Path, data: &ImageDataset, done: &HashMap<String, Outcome>, epochs: usize) {
    let bare = Setup {
        dropout: 0.0,
        ..baseline(epochs)
    };
    let Some(outcome) = done.get(&format!("{bare:?}")) else {
        return;
    };
    let title = format!("{}, no dropout or penalty", data.name());
    match outcome
        .history
        .plot_titled(out.join("overfitting.png"), &title)
    {
        Ok(files) => println!("over-fitting charts: {files:?}"),
        Err(e) => println!("no over-fitting chart: {e}"),
    }
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
