//! Training-step throughput of `model!`'s generated modules.
//!
//! 1. A generated model against the same architecture written by hand with burn-nn, in
//!    interleaved blocks on the same backend: the ratio of step times (target ≤ 1.02).
//! 2. Images/s of the three reference models (batch 128, Adam, f32) on each CPU backend
//!    compiled in (Flex always; NdArray with `--features ndarray`), and of the same models
//!    in PyTorch on this machine in the same run (`benches/pytorch_reference.py`), when
//!    `python3 -c "import torch"` works.
//!
//! Run: `cargo bench --bench training_step` (add `--features ndarray` for NdArray; on a
//! GPU, `KILN_BENCH_DEVICE=cuda cargo bench --features cuda --bench training_step`).
//! `KILN_BENCH_SECONDS` sets the seconds measured per model (default 6);
//! `KILN_BENCH_PYTORCH` the path of `pytorch_reference.py` (default: where it was built).

mod common;

use std::process::Command;

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::AutodiffBackend;
use common::models::{CifarCnn, MnistCnn, MnistMlp};
use common::{BATCH, Step, budget};
#[cfg(feature = "cuda")]
use common::{device_augment_rate, shifts_and_flips, warps};
use kiln::prelude::*;

/// MnistCnn written by hand with burn-nn, as a burn user would.
#[derive(Module, Debug)]
struct HandCnn<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    dropout1: Dropout,
    fc1: Linear<B>,
    dropout2: Dropout,
    fc2: Linear<B>,
}

impl<B: Backend> HandCnn<B> {
    fn new(device: &B::Device) -> Self {
        use burn::nn::conv::Conv2dConfig;
        use burn::nn::{DropoutConfig, LinearConfig};
        HandCnn {
            conv1: Conv2dConfig::new([1, 32], [3, 3]).init(device),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            dropout1: DropoutConfig::new(0.25).init(),
            fc1: LinearConfig::new(9216, 128).init(device),
            dropout2: DropoutConfig::new(0.5).init(),
            fc2: LinearConfig::new(128, 10).init(device),
        }
    }
}

impl<B: Backend> kiln::Model<B> for HandCnn<B> {
    type Input = Tensor<B, 4>;
    type Output = Tensor<B, 2>;

    fn input_shape(&self) -> Shape {
        Shape::known([1, 28, 28])
    }

    fn output_shape(&self) -> Shape {
        Shape::known([10])
    }

    /// Logits; the loss takes the log-softmax.
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        let x = burn::tensor::module::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
        let x = self.dropout1.forward(x);
        let x = x.flatten(1, 3);
        let x = relu(self.fc1.forward(x));
        let x = self.dropout2.forward(x);
        self.fc2.forward(x)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Generated vs hand-written MnistCnn: blocks in A-B-B-A order (so neither always runs
/// first), the median step time of each.
fn generated_vs_hand_written<B: AutodiffBackend>(backend: &str) {
    let device = B::Device::default();
    let mut generated = Step::new(MnistCnn::<B>::new(&device), &device);
    let mut hand = Step::new(HandCnn::<B>::new(&device), &device);
    generated.time(2);
    hand.time(2);
    let per_block = ((budget().as_secs_f64() / 8.0 / generated.time(1)) as usize).max(3);
    let (mut g, mut h) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        g.push(generated.time(per_block));
        h.push(hand.time(per_block));
        h.push(hand.time(per_block));
        g.push(generated.time(per_block));
    }
    let (g, h) = (median(g), median(h));
    println!(
        "{backend:<8} MnistCnn training step: generated {:.2} ms, hand-written burn {:.2} ms, ratio {:.3} (median of 8 blocks of {per_block} steps each)",
        g * 1e3,
        h * 1e3,
        g / h
    );
}

/// Images/s of the three reference models.
fn reference_models<B: AutodiffBackend>(backend: &str) -> Vec<(String, f64)> {
    let device = B::Device::default();
    let rates = vec![
        (
            "mlp".to_string(),
            BATCH as f64 / Step::new(MnistMlp::<B>::new(&device), &device).measure(budget()),
        ),
        (
            "mnist_cnn".to_string(),
            BATCH as f64 / Step::new(MnistCnn::<B>::new(&device), &device).measure(budget()),
        ),
        (
            "cifar_cnn".to_string(),
            BATCH as f64 / Step::new(CifarCnn::<B>::new(&device), &device).measure(budget()),
        ),
    ];
    for (model, rate) in &rates {
        println!("{backend:<8} {model:<10} {rate:>9.1} images/s");
    }
    rates
}

/// The same models in PyTorch on `device` (`cpu` or `cuda`), when it is installed:
/// `(model, images/s)`.
fn pytorch(device: &str) -> Option<Vec<(String, f64)>> {
    // A binary carried to another machine is told where the script is.
    let script = std::env::var("KILN_BENCH_PYTORCH").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch_reference.py").to_string()
    });
    let models =
        std::env::var("KILN_BENCH_MODELS").unwrap_or_else(|_| "mlp,mnist_cnn,cifar_cnn".into());
    let out = Command::new("python3")
        .arg(script)
        .arg(budget().as_secs_f64().to_string())
        .arg(device)
        .arg(models)
        .output()
        .ok()?;
    if !out.status.success() {
        println!(
            "pytorch  not measured: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let rates: Vec<(String, f64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (model, rate) = l.split_once(' ')?;
            Some((model.to_string(), rate.trim().parse().ok()?))
        })
        .collect();
    for (model, rate) in &rates {
        println!("pytorch-{device:<4} {model:<10} {rate:>9.1} images/s");
    }
    Some(rates)
}

fn ratios(results: &[(&str, Vec<(String, f64)>)], torch: &[(String, f64)]) {
    for (backend, rates) in results {
        for ((model, ours), (_, theirs)) in rates.iter().zip(torch) {
            println!("{backend:<8} {model:<10} {:.2}× PyTorch", ours / theirs);
        }
    }
}

/// The models `KILN_BENCH_MODELS` names (comma-separated; all three by default).
#[cfg(feature = "cuda")]
fn selected() -> Vec<String> {
    std::env::var("KILN_BENCH_MODELS")
        .unwrap_or_else(|_| "mlp,mnist_cnn,cifar_cnn".into())
        .split(',')
        .map(str::to_string)
        .collect()
}

/// On an NVIDIA GPU (`KILN_BENCH_DEVICE=cuda`, built with `--features cuda`): the first
/// step of each model (cold or warm kernel cache), images/s, PyTorch on the same GPU, and
/// augmentation (in the machine's CPU threads, and as tensor ops on the GPU) against the
/// CIFAR CNN's training.
#[cfg(feature = "cuda")]
fn cuda() {
    use std::ops::ControlFlow;
    type C = kiln::backend::Cuda;
    let device = Default::default();
    let mut rates = Vec::new();
    for model in selected() {
        let (first, per_step) = match model.as_str() {
            "mlp" => {
                let mut s = Step::new(MnistMlp::<C>::new(&device), &device);
                (s.time(1), s.measure(budget()))
            }
            "mnist_cnn" => {
                let mut s = Step::new(MnistCnn::<C>::new(&device), &device);
                (s.time(1), s.measure(budget()))
            }
            "cifar_cnn" => {
                let mut s = Step::new(CifarCnn::<C>::new(&device), &device);
                (s.time(1), s.measure(budget()))
            }
            other => {
                println!("unknown model {other}");
                continue;
            }
        };
        println!(
            "cuda     {model:<10} first step {first:.1} s (kernel compilation and tuning included)"
        );
        println!(
            "cuda     {model:<10} {:>9.1} images/s",
            BATCH as f64 / per_step
        );
        rates.push((model, BATCH as f64 / per_step));
    }
    if let Some(torch) = pytorch("cuda") {
        let torch: Vec<(String, f64)> = torch
            .into_iter()
            .filter(|(m, _)| rates.iter().any(|(r, _)| r == m))
            .collect();
        ratios(&[("cuda", rates.clone())], &torch);
    }
    // CIFAR-shaped images through the augmenting loader, each batch put on the GPU.
    let images = (0..20_000 * 3072).map(|i| (i * 7919 % 251) as u8).collect();
    let data = kiln::datasets::ImageDataset::new(
        "random",
        [3, 32, 32],
        images,
        vec![0; 20_000],
        vec!["x".into()],
    )
    .expect("consistent sizes");
    let loader = kiln::datasets::Loader::new(BATCH)
        .shuffle(1)
        .augment(warps(), 1);
    let start = std::time::Instant::now();
    let mut seen = 0;
    loader.for_each(&data, 0, |batch| {
        seen += batch.rows::<C>(&device).dims()[0];
        ControlFlow::Continue(())
    });
    let workers = seen as f64 / start.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "augmenting loader {workers:>9.0} images/s on {threads} CPU threads (shifts, flips, rotation, zoom)"
    );
    let on_gpu = device_augment_rate::<C>(&data, shifts_and_flips());
    let warps_on_gpu = device_augment_rate::<C>(&data, warps());
    println!("augmenting on the GPU {on_gpu:>9.0} images/s (shifts and flips as tensor ops)");
    println!("augmenting on the GPU {warps_on_gpu:>9.0} images/s (with rotation and zoom)");
    if let Some((_, train)) = rates.iter().find(|(m, _)| m == "cifar_cnn") {
        println!(
            "augmentation is {:.1}× (CPU workers), {:.1}× and {:.1}× (GPU) the CIFAR CNN's training on cuda",
            workers / train,
            on_gpu / train,
            warps_on_gpu / train
        );
    }
}

fn main() {
    println!(
        "batch {BATCH}, Adam, f32, {} s per model",
        budget().as_secs_f64()
    );
    #[cfg(feature = "cuda")]
    if std::env::var("KILN_BENCH_DEVICE").as_deref() == Ok("cuda") {
        cuda();
        return;
    }
    generated_vs_hand_written::<kiln::backend::Flex>("flex");
    #[allow(unused_mut)] // NdArray joins the results when its feature is on.
    let mut results = vec![("flex", reference_models::<kiln::backend::Flex>("flex"))];
    // NdArray is measured for the choice of the default CPU backend only (its CNN steps
    // take seconds each, so the long interleaved comparison runs on Flex alone).
    #[cfg(feature = "ndarray")]
    results.push((
        "ndarray",
        reference_models::<kiln::backend::NdArray>("ndarray"),
    ));
    if let Some(torch) = pytorch("cpu") {
        ratios(&results, &torch);
    }
}
