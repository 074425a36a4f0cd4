//! What the CIFAR-10 examples share: the data (40,000 training images, a 10,000-image
//! hold-out, the test records there are), augmentation with shifts and flips, and the
//! Keras training loop with its checkpoint, plots and accuracies.

use burn::tensor::backend::AutodiffBackend;
use kiln::callbacks::{LearningRateScheduler, ModelCheckpoint};
use kiln::datasets::{
    Augment, DataDir, FillMode, ImageDataset, cifar10_batch, cifar10_train, gather, save_image_grid,
};
use kiln::prelude::*;

use crate::common::{Flags, optimizer, plot_history};

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

/// Trains `model` as the flags say, writing `{name}_samples.png`, `{name}_best.safetensors`
/// and `{name}_history*.png`.
pub fn train<B: AutodiffBackend, M>(
    mut model: M,
    flags: &Flags,
    name: &str,
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
    let samples = format!("{name}_samples.png");
    save_image_grid(&samples, &[before, batch.x].concat(), [3, 32, 32], 16)?;
    println!("Samples before (top) and after (bottom) augmentation: {samples}");

    let (epochs, batch_size) = (flags.get("epochs", 50)?, flags.get("batch-size", 32)?);
    let chosen = flags.get("optimizer", String::from("rmsprop"))?;
    let mut trainer = Trainer::new(model)
        .optimizer(optimizer(
            &chosen,
            flags.get(
                "learning-rate",
                if chosen == "rmsprop" { 1e-4 } else { 1e-3 },
            )?,
        )?)
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let mut fit = Fit::epochs(epochs)
        .batch_size(batch_size)
        .validation_data(&holdout)
        .callback(
            ModelCheckpoint::new(format!("{name}_best.safetensors"))
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
    plot_history(&history, format!("{name}_history.png"));
    Ok(())
}
