//! See inside a ConvNet, as Quiver showed Keras users: the MNIST CNN (or the CIFAR-10
//! CNN) as a graph, every layer's activation maps for a few test images, the filters,
//! Grad-CAM heat maps and the top-5 predictions, written as a report folder to open from
//! disk, or served live on 127.0.0.1 where an image dropped on the page joins the report.
//!
//! `cargo run --release --example visualize -- [--model mnist|cifar] [--images 8] [--class 3]
//!  [--out viz] [--weights mnist_cnn.safetensors] [--serve] [--port 5000]`
//!
//! The weights come from `mnist_cnn.safetensors` (written by the `mnist_cnn` example) or
//! `cifar10_best.safetensors` (`cifar10`) when present, else from one short epoch of
//! training here. Data as the other examples: `KILN_DATA`, else the user's cache.

#[path = "common/cifar.rs"]
mod cifar;
#[path = "common/cnns.rs"]
mod cnns;
mod common;

use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, ValueEnum};
use cnns::{CifarCnn, MnistCnn};
use common::Device;
use kiln::prelude::*;
use kiln::visualize::{Server, Visualize, pictures};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Net {
    /// Keras's mnist_cnn on MNIST.
    Mnist,
    /// Keras's cifar10_cnn on CIFAR-10.
    Cifar,
}

/// Look inside a CNN.
#[derive(Parser)]
struct Flags {
    #[arg(long, value_enum, default_value_t = Net::Mnist)]
    model: Net,
    /// How many test images the report shows.
    #[arg(long, default_value_t = 8)]
    images: usize,
    /// A class whose Grad-CAM each image shows beside its prediction's.
    #[arg(long)]
    class: Option<usize>,
    /// The report's folder.
    #[arg(long, default_value = "viz")]
    out: PathBuf,
    /// Saved weights (default: the model's example's file, when present).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Serve the report live on 127.0.0.1 instead of writing it.
    #[arg(long)]
    serve: bool,
    /// The live server's port.
    #[arg(long, default_value_t = 5000)]
    port: u16,
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

/// The model's weights from `file` when it exists, else from one short epoch on the first
/// 6,000 images of `train`.
fn ready<B: AutodiffBackend, M>(
    mut model: M,
    file: PathBuf,
    train: impl FnOnce() -> Result<ImageDataset, kiln::datasets::DataError>,
) -> Result<M, Box<dyn std::error::Error>>
where
    M: burn::module::AutodiffModule<B> + Model<B, Input = burn::tensor::Tensor<B, 4>>,
    M::InnerModule: Model<B::InnerBackend>,
{
    if file.exists() {
        kiln::load_weights(&mut model, &file)?;
        println!("Weights loaded from {}", file.display());
        return Ok(model);
    }
    println!("No {}: one short epoch of training first", file.display());
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    trainer.fit(&train()?.take(6000), Fit::epochs(1).batch_size(64))?;
    Ok(trainer.into_model())
}

/// Writes or serves the report of `model` on the first test images.
fn show<B: AutodiffBackend, M>(
    model: &M,
    test: &ImageDataset,
    classes: Vec<String>,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>>
where
    M: Model<B, Output = burn::tensor::Tensor<B, 2>>,
{
    let indices: Vec<usize> = (0..flags.images.min(test.len())).collect();
    let chosen = pictures(test, &indices)?;
    let mut settings = Visualize::new().classes(classes);
    if let Some(class) = flags.class {
        settings = settings.class(class);
    }
    if flags.serve {
        let server = Server::bind(flags.port)?;
        println!(
            "Serving the report on http://{}/ (Ctrl-C stops)",
            server.addr()?
        );
        server.run(&settings, model, chosen)?;
        return Ok(());
    }
    let start = std::time::Instant::now();
    // A report on the synthetic digits goes to synthetic_digits_<out>.
    let out = common::output(test, &flags.out.to_string_lossy());
    let index = settings.render(model, &chosen)?.write(&out)?;
    println!(
        "Report of {} images written in {:.1} s: open {}",
        chosen.len(),
        start.elapsed().as_secs_f64(),
        index.display()
    );
    Ok(())
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    flags: &Flags,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = DataDir::default();
    match flags.model {
        Net::Mnist => {
            let (train, test) = kiln::datasets::mnist_or_synthetic(&dir)?;
            let file = flags
                .weights
                .clone()
                .unwrap_or("mnist_cnn.safetensors".into());
            let model = ready(MnistCnn::<B>::new(&device), file, || Ok(train))?;
            let digits = (0..10).map(|d| d.to_string()).collect();
            show(&model, &test, digits, flags)
        }
        Net::Cifar => {
            let test = cifar::test_set(&dir)?;
            let file = flags
                .weights
                .clone()
                .unwrap_or("cifar10_best.safetensors".into());
            let train = || kiln::datasets::cifar10_train(&dir);
            let model = ready(CifarCnn::<B>::new(&device), file, train)?;
            let names = kiln::datasets::CIFAR10_CLASSES.map(String::from).to_vec();
            show(&model, &test, names, flags)
        }
    }
}

fn main() -> Result<(), common::Failure> {
    let flags = Flags::parse();
    on_device!(flags.device, run(&flags))
}
