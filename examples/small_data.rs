//! The seed's small-data study (13): its simple net (the MLP) against a deep CNN (Keras's
//! mnist_cnn) trained on 5,900, 3,000, 1,800, 600 and 300 MNIST images for four epochs
//! each, both tested on all 10,000 test images; prints and writes the table
//! (`small_data/summary.md`) and the chart of test accuracy against training images
//! (`small_data/accuracy.png`).
//!
//! `cargo run --release --example small_data -- [--epochs 4] [--batch-size 32] [--device cpu]`

#[path = "common/cnns.rs"]
mod cnns;
mod common;

use std::fmt::Write as _;
use std::path::Path;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use cnns::MnistCnn;
use common::{Device, mlp};
use kiln::datasets::ImageDataset;
use kiln::prelude::*;
use kiln::{Chart, Series};

/// The seed's simple net against a deep CNN on less and less data.
#[derive(Parser)]
struct Flags {
    /// Epochs of each run.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

/// The training set sizes, as the seed's.
const SIZES: [usize; 5] = [5_900, 3_000, 1_800, 600, 300];

/// Trains `model` on `train` and returns its test accuracy and the seconds it took.
fn accuracy<B, M>(
    model: M,
    train: &ImageDataset,
    test: &ImageDataset,
    flags: &Flags,
) -> Result<(f64, f64), kiln::TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let start = std::time::Instant::now();
    trainer.fit(
        train,
        Fit::epochs(flags.epochs)
            .batch_size(flags.batch_size)
            .seed(1)
            .verbose(Verbosity::Silent),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    Ok((
        trainer.evaluate(test)?.get("accuracy").unwrap_or(f64::NAN),
        seconds,
    ))
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = kiln::datasets::mnist_or_synthetic(&DataDir::default())?;
    let folder = common::output(&train, "small_data");
    let out = Path::new(&folder);
    std::fs::create_dir_all(out)?;
    let mut table = format!(
        "Data: the first N of {}'s training images, {} epochs, batch {}; tested on {} images\n\n\
         | training images | simple net accuracy | deep CNN accuracy | simple net seconds | deep CNN seconds |\n|---:|---:|---:|---:|---:|\n",
        train.name(),
        flags.epochs,
        flags.batch_size,
        test.len()
    );
    let (mut simple, mut deep) = (Vec::new(), Vec::new());
    for size in SIZES {
        let subset = train.take(size.min(train.len()));
        <B as Backend>::seed(&device, 1);
        let mlp = kiln::JsonModel::<B, 2, 2>::new(mlp(2, 128, 0.2)?, &device)?;
        let (s, s_seconds) = accuracy(mlp, &subset, &test, flags)?;
        <B as Backend>::seed(&device, 1);
        let (d, d_seconds) = accuracy(MnistCnn::<B>::new(&device), &subset, &test, flags)?;
        let line = format!("| {size} | {s:.4} | {d:.4} | {s_seconds:.2} | {d_seconds:.2} |");
        println!("{line}");
        writeln!(table, "{line}")?;
        #[allow(clippy::cast_precision_loss)] // a few thousand images
        let x = size as f64;
        simple.push((x, s));
        deep.push((x, d));
    }
    std::fs::write(out.join("summary.md"), &table)?;
    println!("\n{table}\nwritten to {folder}/summary.md");
    let chart = Chart::new(
        &format!("test accuracy against training images ({})", train.name()),
        "training images",
        "test accuracy",
    );
    let file = out.join("accuracy.png");
    match kiln::plot_lines(
        &file,
        &chart,
        &[
            Series::new("simple net", simple),
            Series::new("deep CNN", deep),
        ],
    ) {
        Ok(()) => println!("chart: {}", file.display()),
        Err(e) => println!("no chart: {e}"),
    }
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
