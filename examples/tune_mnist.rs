//! The seed's hyperparameter tuning (11.8): its MLP on MNIST searched by grid search,
//! random search, Bayesian optimisation or Hyperband, KerasTuner's way; prints the
//! search space, every trial, the best trials and the best model's test accuracy, and
//! writes `results.md`, `results.csv` and the charts under `tuning/mnist_mlp_<tuner>/`.
//!
//! `cargo run --release --example tune_mnist -- --tuner random [--max-trials 10]
//!  [--epochs 4] [--train-size 60000] [--directory tuning] [--overwrite] [--seed 0]
//!  [--device cpu]` (`--help` lists them). A search stopped midway (Ctrl-C, a crash)
//! goes on where it stopped when run again with the same flags.

mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, ValueEnum};
use common::{Device, OptimizerName, mlp, optimizer, output};
use kiln::prelude::*;
use kiln::tuner::{
    BayesianOptimization, GridSearch, HyperParameters, Hyperband, Oracle, RandomSearch, Trial,
    Tuner,
};
use kiln::{JsonModel, TrainError};

/// The oracle (`--tuner`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TunerName {
    Grid,
    Random,
    Bayesian,
    Hyperband,
}

/// The seed's MLP, tuned on MNIST.
#[derive(Parser)]
struct Flags {
    /// The search.
    #[arg(long, value_enum, default_value_t = TunerName::Random)]
    tuner: TunerName,
    /// Trials at most (Hyperband sets its own count from --epochs).
    #[arg(long, default_value_t = 10)]
    max_trials: usize,
    /// Epochs per trial (Hyperband's most).
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Training images used (the first ones; 10% of them validate).
    #[arg(long, default_value_t = 60_000)]
    train_size: usize,
    /// Where the searches are kept.
    #[arg(long, default_value = "tuning")]
    directory: String,
    /// Start afresh instead of resuming the search in the directory.
    #[arg(long)]
    overwrite: bool,
    /// The seed of the search and of its trainings.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

/// One trial: the seed's MLP with the hyperparameters `hp` chooses.
fn trial<'a, B: AutodiffBackend>(
    hp: &mut HyperParameters,
    device: &B::Device,
    flags: &Flags,
) -> Result<Trial<'a, B, JsonModel<B, 2, 2>>, TrainError> {
    let layers = hp.int("hidden_layers", 1, 3).value();
    let units = hp.int("units", 64, 512).step(64).value();
    let dropout = hp.float("dropout", 0.0, 0.4).step(0.2).value();
    let name = hp.choice("optimizer", ["adam", "rmsprop"]).value();
    let rate = hp.float("learning_rate", 1e-4, 1e-2).log();
    // A grid needs steps: 1e-4, 1e-3 and 1e-2.
    let rate = if flags.tuner == TunerName::Grid {
        rate.step(10.0)
    } else {
        rate
    }
    .value();
    let size = |n: i64| usize::try_from(n).map_err(|e| TrainError::Setting(e.to_string()));
    let model = JsonModel::new(mlp(size(layers)?, size(units)?, dropout)?, device)?;
    let optimizer_name = if name == "adam" {
        OptimizerName::Adam
    } else {
        OptimizerName::Rmsprop
    };
    let trainer = Trainer::new(model)
        .optimizer(optimizer(optimizer_name, rate))
        .loss(kiln::Loss::CategoricalCrossentropy)
        .metrics([kiln::Metric::Accuracy]);
    let fit = Fit::epochs(flags.epochs)
        .batch_size(128)
        .validation_split(0.1)
        .verbose(Verbosity::OneLinePerEpoch);
    Ok(Trial::new(trainer, fit))
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let train = train.take(flags.train_size.min(train.len()));
    let oracle: Box<dyn Oracle> = match flags.tuner {
        TunerName::Grid => Box::new(GridSearch::new().max_trials(flags.max_trials)),
        TunerName::Random => Box::new(RandomSearch::new().max_trials(flags.max_trials)),
        TunerName::Bayesian => Box::new(BayesianOptimization::new().max_trials(flags.max_trials)),
        TunerName::Hyperband => Box::new(Hyperband::new().max_epochs(flags.epochs)),
    };
    let name = format!("{:?}", flags.tuner).to_lowercase();
    let mut tuner = Tuner::new(oracle, |hp| trial::<B>(hp, &device, flags))
        .objective("val_accuracy")
        .directory(output(&train, &flags.directory))
        .project_name(&format!("mnist_mlp_{name}"))
        .overwrite(flags.overwrite)
        .seed(flags.seed);
    println!("{}", tuner.search_space_summary()?);
    let start = std::time::Instant::now();
    let trials = tuner.search(&train)?;
    let seconds = start.elapsed().as_secs_f64();
    println!("{}", tuner.results_summary(3)?);
    let best = tuner.get_best_models(1)?.remove(0);
    let scores = Trainer::new(best)
        .loss(kiln::Loss::CategoricalCrossentropy)
        .metrics([kiln::Metric::Accuracy])
        .evaluate(&test)?;
    let accuracy = scores.get("accuracy").unwrap_or(f64::NAN);
    println!(
        "The best model's test accuracy on {}: {accuracy:.4}",
        test.name()
    );
    println!(
        "{} trials on {} images; this run took {seconds:.0} s",
        trials.len(),
        train.len()
    );
    println!(
        "Results: {}",
        tuner.project_dir().join("results.md").display()
    );
    match tuner.plot() {
        Ok(files) => println!(
            "Charts: {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => println!("No charts: {e}"),
    }
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
