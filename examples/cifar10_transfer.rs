//! Transfer learning with little data (the seed's 13.4 and 13.5) on CIFAR-10: a base
//! trained on the classes 0 to 4 (airplane ... deer) is reused for the classes 5 to 9 (dog
//! ... truck) given only 100 labelled images per class, three ways:
//! - feature extraction: the base's features of the 500 images, computed once, train a
//!   small head;
//! - fine-tuning: the base frozen under a new head, then its top convolutional block
//!   unfrozen and trained with the head at a low learning rate;
//! - from scratch: the same network, fresh, trained on the 500 images alone.
//!
//! `cargo run --release --example cifar10_transfer -- [--base-epochs 8] [--epochs 30]
//!  [--per-class 100] [--batch-size 32] [--device cpu]`
//!
//! Each is measured on the other training images of the classes 5 to 9 (24,500) and on
//! the test records of those classes (CIFAR-10's test batch, else the 1,000 records of
//! `test_batch_first1000.bin`). Prints a table of the three.

#[path = "common/cifar.rs"]
mod cifar;
mod common;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use common::Device;
use kiln::datasets::{Augment, FillMode};
use kiln::prelude::*;
use kiln::{Optimizer, TrainError};

/// Transfer learning on CIFAR-10 with 100 images per class.
#[derive(Parser)]
struct Flags {
    /// Epochs of the base on the classes 0 to 4.
    #[arg(long, default_value_t = 8)]
    base_epochs: usize,
    /// Epochs of each small-data training.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Labelled images per class of the new task.
    #[arg(long, default_value_t = 100)]
    per_class: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

model! {
    /// Keras's cifar10_cnn without its head: the part that transfers.
    pub struct CifarBase {
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
    }
}

model! {
    /// The base and a head for five classes: cifar10_cnn with five outputs.
    pub struct FiveClasses {
        input: [3, 32, 32],
        Model(CifarBase),
        Dense(512, activation = relu),
        Dropout(0.5),
        Dense(5, activation = softmax),
    }
}

model! {
    /// A small head on the base's 2,304 features.
    pub struct Head {
        input: [2304],
        Dense(256, activation = relu),
        Dropout(0.5),
        Dense(5, activation = softmax),
    }
}

/// The images a model is measured on.
struct Measure {
    rest: ImageDataset,
    test: ImageDataset,
}

/// One row of the table.
struct Row {
    what: &'static str,
    rest: f64,
    test: f64,
    seconds: f64,
}

fn shifts_and_flips() -> Augment {
    Augment::new()
        .width_shift_range(0.1)
        .height_shift_range(0.1)
        .horizontal_flip(true)
        .fill_mode(FillMode::Nearest)
}

fn accuracy<B: AutodiffBackend, M>(
    trainer: &Trainer<B, M>,
    data: &impl Dataset,
) -> Result<f64, TrainError>
where
    M: burn::module::AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    Ok(trainer.evaluate(data)?.get("accuracy").unwrap_or(f64::NAN))
}

fn compiled<B: AutodiffBackend, M>(model: M, optimizer: impl Into<Optimizer>) -> Trainer<B, M>
where
    M: burn::module::AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    Trainer::new(model)
        .optimizer(optimizer)
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy])
}

/// The small-data training of `trainer` on `small`, with shifts and flips.
fn fit_small<B: AutodiffBackend>(
    trainer: &mut Trainer<B, FiveClasses<B>>,
    small: &ImageDataset,
    flags: &Flags,
    epochs: usize,
) -> Result<(), TrainError> {
    let fit = Fit::epochs(epochs)
        .batch_size(flags.batch_size)
        .augment(shifts_and_flips())
        .verbose(Verbosity::Silent);
    trainer.fit(small, fit).map(drop)
}

fn feature_extraction<B: AutodiffBackend>(
    base: &Trainer<B, FiveClasses<B>>,
    small: &ImageDataset,
    measure: &Measure,
    flags: &Flags,
    device: &B::Device,
) -> Result<Row, Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let features = base.extract_features(small, "cifar_base")?;
    let mut head = compiled(Head::<B>::new(device), Adam::new());
    let fit = Fit::epochs(flags.epochs)
        .batch_size(flags.batch_size)
        .verbose(Verbosity::Silent);
    head.fit(&features, fit)?;
    let seconds = start.elapsed().as_secs_f64();
    let on = |data: &ImageDataset| accuracy(&head, &base.extract_features(data, "cifar_base")?);
    Ok(Row {
        what: "feature extraction: the base's features, computed once, train a small head",
        rest: on(&measure.rest)?,
        test: on(&measure.test)?,
        seconds,
    })
}

fn fine_tuning<B: AutodiffBackend>(
    weights: &std::path::Path,
    small: &ImageDataset,
    measure: &Measure,
    flags: &Flags,
    device: &B::Device,
) -> Result<Row, Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let mut model = FiveClasses::<B>::new(device);
    let base = kiln::Load::new().only("cifar_base");
    kiln::load_weights_with(&mut model, weights, &base)?;
    // The head first, on a frozen base...
    let mut trainer = compiled(model, Adam::new());
    trainer.freeze(&["cifar_base"])?;
    fit_small(&mut trainer, small, flags, flags.epochs / 2)?;
    // ...then the top convolutional block with it, slowly (the seed's InceptionV3 recipe).
    trainer.unfreeze(&["cifar_base.conv2d_2", "cifar_base.conv2d_3"])?;
    let mut trainer = compiled(
        trainer.into_model(),
        Sgd::new().learning_rate(1e-3).momentum(0.9),
    );
    fit_small(&mut trainer, small, flags, flags.epochs - flags.epochs / 2)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Row {
        what: "fine-tuning: a new head on the frozen base, then the top block unfrozen",
        rest: accuracy(&trainer, &measure.rest)?,
        test: accuracy(&trainer, &measure.test)?,
        seconds,
    })
}

fn from_scratch<B: AutodiffBackend>(
    small: &ImageDataset,
    measure: &Measure,
    flags: &Flags,
    device: &B::Device,
) -> Result<Row, Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let mut trainer = compiled(FiveClasses::<B>::new(device), Adam::new());
    fit_small(&mut trainer, small, flags, flags.epochs)?;
    Ok(Row {
        what: "from scratch: the same network, fresh",
        rest: accuracy(&trainer, &measure.rest)?,
        test: accuracy(&trainer, &measure.test)?,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = DataDir::default();
    let train = kiln::datasets::cifar10_train(&dir)?;
    let test = cifar::test_set(&dir)?;
    let (old, new) = ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9]);

    // The base: cifar10_cnn trained on the first five classes.
    let mut base = compiled(FiveClasses::<B>::new(&device), Adam::new());
    println!("{}", base.model().summary());
    let start = std::time::Instant::now();
    base.fit(
        &train.only_classes(&old)?,
        Fit::epochs(flags.base_epochs)
            .batch_size(flags.batch_size)
            .augment(shifts_and_flips()),
    )?;
    println!(
        "Base trained on {} in {:.0} s: {:.2}% on their test records",
        train.only_classes(&old)?.classes().join(", "),
        start.elapsed().as_secs_f64(),
        accuracy(&base, &test.only_classes(&old)?)? * 100.0
    );
    let weights = std::env::temp_dir().join(format!(
        "cifar10_transfer_base_{}.safetensors",
        std::process::id()
    ));
    kiln::save_weights(base.model(), &weights)?;

    // The new task: the other five classes, `per_class` labelled images each.
    let new_train = train.only_classes(&new)?;
    let mut chosen = Vec::new();
    let mut rest = Vec::new();
    let mut taken = [0; 5];
    for (i, &label) in new_train.labels().iter().enumerate() {
        let count = &mut taken[usize::from(label)];
        if *count < flags.per_class {
            *count += 1;
            chosen.push(i);
        } else {
            rest.push(i);
        }
    }
    let small = new_train.select(&chosen);
    let measure = Measure {
        rest: new_train.select(&rest),
        test: test.only_classes(&new)?,
    };
    println!(
        "New task: {} from {} labelled images; measured on {} other training images and {} test records",
        small.classes().join(", "),
        small.len(),
        measure.rest.len(),
        measure.test.len()
    );
    let rows = [
        feature_extraction(&base, &small, &measure, flags, &device)?,
        fine_tuning::<B>(&weights, &small, &measure, flags, &device)?,
        from_scratch::<B>(&small, &measure, flags, &device)?,
    ];
    let _ = std::fs::remove_file(&weights);
    println!("\n| approach | other training images | test records | seconds |");
    println!("|---|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.2}% | {:.2}% | {:.0} |",
            row.what,
            row.rest * 100.0,
            row.test * 100.0,
            row.seconds
        );
    }
    Ok(())
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
