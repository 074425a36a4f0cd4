//! What the CIFAR-10 examples share: the data (40,000 training images, a 10,000-image
//! hold-out, the test records there are), augmentation with shifts and flips, and the
//! Keras training loop with its checkpoint, plots and accuracies.
#![allow(dead_code)] // each example uses its own part

use burn::tensor::backend::AutodiffBackend;
use kiln::LearningRate;
use kiln::callbacks::{LearningRateScheduler, ModelCheckpoint};
use kiln::datasets::{
    Augment, DataDir, FillMode, ImageDataset, cifar10_batch, cifar10_train, gather, save_image_grid,
};
use kiln::prelude::*;
use kiln::schedules::CosineDecay;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::common::{Device, OptimizerName, optimizer, plot_history};

/// Whether to augment (`--augment`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Where augmentation runs (`--augment-on`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Place {
    /// As batched tensor ops on the model's device.
    Device,
    /// In the loader's CPU worker threads.
    Workers,
}

/// The learning rate over the updates (`--schedule`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Schedule {
    /// The same rate throughout (divided by 10 at --lr-drop-epoch).
    Constant,
    /// Keras's CosineDecay: down to 0 over the training, after --warmup-epochs of a
    /// straight line up from 0.
    Cosine,
}

/// The flags of the CIFAR-10 examples.
#[derive(Args)]
pub struct CifarFlags {
    #[arg(long, default_value_t = 50)]
    pub epochs: usize,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, value_enum, default_value_t = OptimizerName::Rmsprop)]
    pub optimizer: OptimizerName,
    /// The learning rate [default: 0.0001 for rmsprop, else 0.001].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Divide the learning rate by 10 from this epoch on (0: never).
    #[arg(long, default_value_t = 0)]
    pub lr_drop_epoch: usize,
    /// The learning rate over the updates.
    #[arg(long, value_enum, default_value_t = Schedule::Constant)]
    pub schedule: Schedule,
    /// The cosine schedule's warm-up, in epochs.
    #[arg(long, default_value_t = 0)]
    pub warmup_epochs: usize,
    /// Keras's label smoothing of the targets (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f32,
    /// Shifts and flips.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub augment: Switch,
    /// Where augmentation runs [default: device with --device cuda, else workers].
    #[arg(long, value_enum)]
    pub augment_on: Option<Place>,
    /// Train on the first N images only (at most the 40,000 before the hold-out).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// How many of the five training batch files to read.
    #[arg(long, default_value_t = 5)]
    pub train_batches: usize,
    /// Start from these saved weights (with --epochs 0: only evaluate them).
    #[arg(long)]
    pub load: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub device: Device,
}

/// The learning rate of each update as `--schedule` says, at its top `rate`, over the
/// epochs of `steps` updates each.
pub fn schedule(
    flags: &CifarFlags,
    rate: f64,
    steps: usize,
) -> Result<LearningRate, Box<dyn std::error::Error>> {
    let steps = steps.max(1) as u64;
    let (epochs, warmup) = (flags.epochs as u64, flags.warmup_epochs as u64);
    Ok(match flags.schedule {
        Schedule::Constant if warmup > 0 => {
            return Err("--warmup-epochs is the cosine schedule's: add --schedule cosine".into());
        }
        Schedule::Constant => rate.into(),
        Schedule::Cosine if warmup >= epochs.max(1) => {
            return Err(format!(
                "--warmup-epochs {warmup} leaves no epoch of the {epochs} to decay in"
            )
            .into());
        }
        Schedule::Cosine if warmup == 0 => CosineDecay::new(rate, epochs.max(1) * steps).into(),
        Schedule::Cosine => CosineDecay::new(0.0, (epochs - warmup) * steps)
            .warmup(warmup * steps, rate)
            .into(),
    })
}

/// The test records available: the full test batch, else the partial one.
pub fn test_set(dir: &DataDir) -> Result<ImageDataset, Box<dyn std::error::Error>> {
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

/// Trains `model` as the flags say, writing `{name}_samples.png`, `{name}_best.safetensors`
/// and `{name}_history*.png`.
pub fn train<B: AutodiffBackend, M>(
    mut model: M,
    flags: &CifarFlags,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>>
where
    M: burn::module::AutodiffModule<B> + Model<B, Input = Tensor<B, 4>, Output = Tensor<B, 2>>,
    M::InnerModule: Model<B::InnerBackend>,
{
    if let Some(load) = &flags.load {
        kiln::load_weights(&mut model, load)?;
        println!("Weights loaded from {}", load.display());
    }
    let dir = DataDir::default();
    let files = flags.train_batches;
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
    let limit = flags
        .train_limit
        .unwrap_or(holdout_start)
        .min(holdout_start);
    let train = all.take(limit);
    let holdout = all.select(&(holdout_start..all.len()).collect::<Vec<_>>());
    let test = test_set(&dir)?;
    let default_place = match flags.device {
        Device::Cpu => Place::Workers,
        #[cfg(feature = "cuda")]
        Device::Cuda => Place::Device,
    };
    let on_device = flags.augment_on.unwrap_or(default_place) == Place::Device;
    let augment = Augment::new()
        .width_shift_range(0.1)
        .height_shift_range(0.1)
        .horizontal_flip(true)
        .fill_mode(FillMode::Nearest)
        .on_device(on_device);

    // What the model sees: one batch before and after augmentation, when it is on.
    if flags.augment == Switch::On {
        let mut batch = gather(&train, &(0..32).collect::<Vec<_>>());
        let before = batch.x.clone();
        augment.apply_batch(&mut batch.x, [3, 32, 32], 0, 0, 0);
        let samples = format!("{name}_samples.png");
        save_image_grid(&samples, &[before, batch.x].concat(), [3, 32, 32], 16)?;
        println!("Samples before (top) and after (bottom) augmentation: {samples}");
    }

    let (epochs, batch_size) = (flags.epochs, flags.batch_size);
    // Updates per epoch: a last partial batch too, but where batches keep one shape (CUDA).
    let steps = match kiln::backend::compiles_kernels::<B>() {
        true => limit / batch_size.max(1),
        false => limit.div_ceil(batch_size.max(1)),
    };
    let learning_rate = flags.learning_rate.unwrap_or(match flags.optimizer {
        OptimizerName::Rmsprop => 1e-4,
        _ => 1e-3,
    });
    let mut trainer = Trainer::new(model)
        .optimizer(optimizer(
            flags.optimizer,
            schedule(flags, learning_rate, steps)?,
        ))
        .loss(Loss::CategoricalCrossentropy)
        .label_smoothing(flags.label_smoothing)
        .metrics([Metric::Accuracy]);
    let mut fit = Fit::epochs(epochs)
        .batch_size(batch_size)
        .validation_data(&holdout)
        .callback(
            ModelCheckpoint::new(format!("{name}_best.safetensors"))
                .monitor("val_accuracy")
                .save_best_only(true),
        );
    if flags.augment == Switch::On {
        println!(
            "Augmenting on the {}",
            if on_device { "device" } else { "CPU workers" }
        );
        fit = fit.augment(augment);
    }
    let drop_at = flags.lr_drop_epoch;
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
    plot_history(&history, &format!("{name}_history.png"), &all);
    Ok(())
}
