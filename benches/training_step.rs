//! Training-step throughput of `model!`'s generated modules.
//!
//! 1. A generated model against the same architecture written by hand with burn-nn, in
//!    interleaved blocks on the same backend: the ratio of step times (target ≤ 1.02).
//! 2. Images/s of the three reference models (batch 128, Adam, f32) on each CPU backend
//!    compiled in (Flex always; NdArray with `--features ndarray`), and of the same models
//!    in PyTorch on this machine in the same run (`benches/pytorch_reference.py`), when
//!    `python3 -c "import torch"` works.
//!
//! Run: `cargo bench --bench training_step` (add `--features ndarray` for NdArray).
//! `KILN_BENCH_SECONDS` sets the seconds measured per model (default 6).

use std::process::Command;
use std::time::{Duration, Instant};

use burn::module::{AutodiffModule, Module};
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, Linear};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use kiln::prelude::*;

const BATCH: usize = 128;

model! {
    struct MnistMlp {
        input: [784],
        Dense(128, activation = relu),
        Dropout(0.2),
        Dense(128, activation = relu),
        Dropout(0.2),
        Dense(10, activation = softmax),
    }
}

model! {
    struct MnistCnn {
        input: [1, 28, 28],
        Conv2D(32, 3, activation = relu),
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Dropout(0.25),
        Flatten,
        Dense(128, activation = relu),
        Dropout(0.5),
        Dense(10, activation = softmax),
    }
}

model! {
    struct CifarCnn {
        input: [3, 32, 32],
        Conv2D(32, 3, padding = same, activation = relu),
        Conv2D(32, 3, activation = relu),
        MaxPooling2D(2),
        Conv2D(64, 3, padding = same, activation = relu),
        Conv2D(64, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
        Dense(512, activation = relu),
        Dense(10, activation = softmax),
    }
}

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
    const INPUT_SHAPE: &'static [Dim] = &[Dim::Known(1), Dim::Known(28), Dim::Known(28)];
    const OUTPUT_SHAPE: &'static [Dim] = &[Dim::Known(10)];

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

/// One training step: forward, cross-entropy on the logits, backward, Adam.
struct Trainer<B: AutodiffBackend, M: AutodiffModule<B>, const D: usize> {
    model: Option<M>,
    optim: burn::optim::adaptor::OptimizerAdaptor<burn::optim::Adam, M, B>,
    x: Tensor<B, D>,
    targets: Tensor<B, 2>,
}

impl<B, M, const D: usize> Trainer<B, M, D>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + kiln::Model<B, Input = Tensor<B, D>, Output = Tensor<B, 2>>,
{
    fn new(model: M, device: &B::Device) -> Self {
        let example: Vec<usize> = M::INPUT_SHAPE.iter().map(|d| d.known().unwrap_or(1)).collect();
        let mut shape = vec![BATCH];
        shape.extend(example);
        let x = Tensor::<B, 1>::random([shape.iter().product::<usize>()], Distribution::Default, device);
        let labels = Tensor::<B, 1, Int>::random([BATCH], Distribution::Uniform(0.0, 10.0), device);
        Trainer {
            model: Some(model),
            optim: AdamConfig::new().init(),
            x: x.reshape::<D, _>(burn::tensor::Shape::from(shape)),
            targets: labels.one_hot(10).float(),
        }
    }

    fn step(&mut self) {
        let Some(model) = self.model.take() else { return };
        let logits = model.forward_train(self.x.clone()).logits;
        let loss = (log_softmax(logits, 1) * self.targets.clone()).sum_dim(1).mean().neg();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = self.optim.step(1e-3, model, grads);
        // Wait for the device so each step's time is its own.
        let _ = B::sync(&self.x.device());
        self.model = Some(model);
    }

    /// Seconds per step over `steps` steps.
    fn time(&mut self, steps: usize) -> f64 {
        let start = Instant::now();
        for _ in 0..steps {
            self.step();
        }
        start.elapsed().as_secs_f64() / steps as f64
    }

    /// Seconds per step, measured for about `budget` after two warm-up steps.
    fn measure(&mut self, budget: Duration) -> f64 {
        self.time(2);
        let probe = self.time(1).max(1e-4);
        let steps = ((budget.as_secs_f64() / probe) as usize).clamp(2, 1000);
        self.time(steps)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn budget() -> Duration {
    let seconds = std::env::var("KILN_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6.0);
    Duration::from_secs_f64(seconds)
}

/// Generated vs hand-written MnistCnn: interleaved blocks, median step time of each.
fn generated_vs_hand_written<B: AutodiffBackend>(backend: &str) {
    let device = B::Device::default();
    let mut generated = Trainer::new(MnistCnn::<B>::new(&device), &device);
    let mut hand = Trainer::new(HandCnn::<B>::new(&device), &device);
    generated.time(2);
    hand.time(2);
    let per_block = ((budget().as_secs_f64() / 10.0 / generated.time(1)) as usize).max(2);
    let (mut g, mut h) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        g.push(generated.time(per_block));
        h.push(hand.time(per_block));
    }
    let (g, h) = (median(g), median(h));
    println!(
        "{backend:<8} MnistCnn training step: generated {:.2} ms, hand-written burn {:.2} ms, ratio {:.3} (7 interleaved blocks of {per_block} steps)",
        g * 1e3,
        h * 1e3,
        g / h
    );
}

/// Images/s of the three reference models.
fn reference_models<B: AutodiffBackend>(backend: &str) -> Vec<(String, f64)> {
    let device = B::Device::default();
    let rates = vec![
        ("mlp".to_string(), BATCH as f64 / Trainer::new(MnistMlp::<B>::new(&device), &device).measure(budget())),
        ("mnist_cnn".to_string(), BATCH as f64 / Trainer::new(MnistCnn::<B>::new(&device), &device).measure(budget())),
        ("cifar_cnn".to_string(), BATCH as f64 / Trainer::new(CifarCnn::<B>::new(&device), &device).measure(budget())),
    ];
    for (model, rate) in &rates {
        println!("{backend:<8} {model:<10} {rate:>9.1} images/s");
    }
    rates
}

/// The same models in PyTorch, when it is installed: `(model, images/s)`.
fn pytorch() -> Option<Vec<(String, f64)>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch_reference.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(budget().as_secs_f64().to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        println!("pytorch  not measured: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
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
        println!("pytorch  {model:<10} {rate:>9.1} images/s");
    }
    Some(rates)
}

fn main() {
    println!("batch {BATCH}, Adam, f32, {} s per model", budget().as_secs_f64());
    generated_vs_hand_written::<kiln::backend::Flex>("flex");
    #[allow(unused_mut)] // NdArray joins the results when its feature is on.
    let mut results = vec![("flex", reference_models::<kiln::backend::Flex>("flex"))];
    #[cfg(feature = "ndarray")]
    {
        generated_vs_hand_written::<kiln::backend::NdArray>("ndarray");
        results.push(("ndarray", reference_models::<kiln::backend::NdArray>("ndarray")));
    }
    if let Some(torch) = pytorch() {
        for (backend, rates) in &results {
            for ((model, ours), (_, theirs)) in rates.iter().zip(&torch) {
                println!("{backend:<8} {model:<10} {:.2}× PyTorch", ours / theirs);
            }
        }
    }
}
