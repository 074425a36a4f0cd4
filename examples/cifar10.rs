//! CIFAR-10 with a deep network and more data through augmentation (the seed's chapter
//! 13): Keras's cifar10_cnn net or a deeper one, with shifts and flips, on CPU or CUDA.
//!
//! `cargo run --release --example cifar10 -- [--model cnn|deep] [--epochs 50]
//!  [--batch-size 32] [--optimizer rmsprop|adam|sgd] [--learning-rate 0.0001]
//!  [--lr-drop-epoch E] [--augment on|off] [--augment-on device|workers]
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

mod common;

use burn::tensor::backend::AutodiffBackend;
use common::{Flags, optimizer};
use kiln::callbacks::{LearningRateScheduler, ModelCheckpoint};
use kiln::datasets::{
    Augment, DataDir, FillMode, ImageDataset, cifar10_batch, cifar10_train, gather, save_image_grid,
};
use kiln::prelude::*;

model! {
    /// Keras's cifar10_cnn example.
    pub struct CifarCnn {
        input: [3, 32, 32],
        Conv2D(32, 3, padding = same, activation = relu),
        Conv2D(32, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.25),
        Conv2D(64, 3, padding = same, activation = relu),
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.25),
        Flatten,
        Dense(512, activation = relu),
        Dropout(0.5),
        Dense(10, activation = softmax),
    }
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

/// The test records available: the full test batch, else the partial one.
fn test_set(dir: &DataDir) -> Result<ImageDataset, Box<dyn std::error::Error>> {
    let folder = dir.dataset("cifar10");
    for name in [
        "test_batch.bin",
        "cifar-10-batches-bin/test_batch.bin",
        "test_batch_first1000.bin",
    ] {
        if folder.join(name).exists() {
            let test = cifar10_batch(folder.join(name))?;
            println!("Testing on {} records of {name}", test.len());
            return Ok(test);
        }
    }
    let (_, test) = kiln::datasets::cifar10(dir)?;
    Ok(test)
}

fn train<B: AutodiffBackend, M>(
    mut model: M,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>>
where
    M: burn::module::AutodiffModule<B> + Model<B, Input = Tensor<B, 4>, Output = Tensor<B, 2>>,
    M::InnerModule: Model<B::InnerBackend>,
{
    let load = flags.get("load", String::new())?;
    if !load.is_empty() {
        kiln::load_weights(&mut model, &load)?;
        println!("Weights loaded from {load}");
    }
    let dir = DataDir::default();
    let files = flags.get("train-batches", 5)?;
    let all = if files >= 5 {
        cifar10_train(&dir)?
    } else {
        let parts = (1..=files.max(1))
            .map(|i| cifar10_batch(dir.dataset("cifar10").join(format!("data_batch_{i}.bin"))))
            .collect::<Result<Vec<_>, _>>()?;
        let images: Vec<u8> = parts
            .iter()
            .flat_map(|p| p.images().iter().copied())
            .collect();
        let labels: Vec<u16> = parts
            .iter()
            .flat_map(|p| p.labels().iter().copied())
            .collect();
        ImageDataset::new(
            "CIFAR-10 train",
            [3, 32, 32],
            images,
            labels,
            parts[0].classes().to_vec(),
        )?
    };
    let holdout_start = if files >= 5 {
        40_000
    } else {
        all.len() * 9 / 10
    };
    let limit = flags.get("train-limit", holdout_start)?.min(holdout_start);
    let train = all.take(limit);
    let holdout = all.select(&(holdout_start..all.len()).collect::<Vec<_>>());
    let test = test_set(&dir)?;
    let default_place = match flags.get("device", String::from("cpu"))?.as_str() {
        "cpu" => "workers",
        _ => "device",
    };
    let on_device = match flags
        .get("augment-on", String::from(default_place))?
        .as_str()
    {
        "device" => true,
        "workers" => false,
        other => {
            return Err(format!("unknown --augment-on `{other}`: use device or workers").into());
        }
    };
    let augment = Augment::new()
        .width_shift_range(0.1)
        .height_shift_range(0.1)
        .horizontal_flip(true)
        .fill_mode(FillMode::Nearest)
        .on_device(on_device);

    // What the model sees: one batch before and after augmentation.
    let mut batch = gather(&train, &(0..32).collect::<Vec<_>>());
    let before = batch.x.clone();
    augment.apply_batch(&mut batch.x, [3, 32, 32], 0, 0, 0);
    save_image_grid(
        "cifar10_samples.png",
        &[before, batch.x].concat(),
        [3, 32, 32],
        16,
    )?;
    println!("Samples before (top) and after (bottom) augmentation: cifar10_samples.png");

    let (epochs, batch_size) = (flags.get("epochs", 50)?, flags.get("batch-size", 32)?);
    let name = flags.get("optimizer", String::from("rmsprop"))?;
    let mut trainer = Trainer::new(model)
        .optimizer(optimizer(
            &name,
            flags.get("learning-rate", if name == "rmsprop" { 1e-4 } else { 1e-3 })?,
        )?)
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let mut fit = Fit::epochs(epochs)
        .batch_size(batch_size)
        .validation_data(&holdout)
        .callback(
            ModelCheckpoint::new("cifar10_best.safetensors")
                .monitor("val_accuracy")
                .save_best_only(true),
        );
    if flags.get("augment", String::from("on"))? == "on" {
        println!(
            "Augmenting on the {}",
            if on_device { "device" } else { "CPU workers" }
        );
        fit = fit.augment(augment);
    }
    let drop_at = flags.get("lr-drop-epoch", 0usize)?;
    if drop_at > 0 {
        fit = fit.callback(LearningRateScheduler::new(move |epoch, lr| {
            if epoch == drop_at { lr / 10.0 } else { lr }
        }));
    }
    let start = std::time::Instant::now();
    let history = trainer.fit(&train, fit)?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(first) = trainer.first_step_time() {
        println!(
            "First training step (kernel warm-up): {:.1} s",
            first.as_secs_f64()
        );
    }
    let scores = trainer.evaluate(&test)?;
    println!(
        "Hold-out accuracy ({} training images): {:.4}",
        holdout.len(),
        trainer
            .evaluate(&holdout)?
            .get("accuracy")
            .unwrap_or(f64::NAN)
    );
    println!(
        "Test accuracy ({} records): {:.4}",
        test.len(),
        scores.get("accuracy").unwrap_or(f64::NAN)
    );
    if epochs > 0 {
        println!(
            "Trained {epochs} epochs on {limit} images in {seconds:.0} s ({:.0} images/s)",
            (epochs * limit) as f64 / seconds
        );
    }
    match history.plot("cifar10_history.png") {
        Ok(files) => println!(
            "History charts: {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => println!("No history charts: {e}"),
    }
    Ok(())
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    match flags.get("model", String::from("cnn"))?.as_str() {
        "cnn" => {
            let model = CifarCnn::<B>::new(&device);
            println!("{}", model.summary());
            train::<B, _>(model, flags)
        }
        "deep" => {
            let model = DeepCnn::<B>::new(&device);
            println!("{}", model.summary());
            train::<B, _>(model, flags)
        }
        other => Err(format!("unknown model `{other}`: use cnn or deep").into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::parse();
    on_device!(flags, run(&flags))
}
