//! Training-step throughput: kiln against the frameworks a user would pick instead, on
//! the same machine in the same run.
//!
//! 1. A generated model against the same architecture written by hand with burn-nn, in
//!    interleaved blocks on kiln's CPU backend: the ratio of step times (target ≤ 1.02).
//! 2. The machine's f32 matrix-product rate: one 2048² product with the `gemm` crate on
//!    every thread (and PyTorch's, reported by its script).
//! 3. Images/s of the reference models (MLP, MNIST CNN, CIFAR CNN, ResNet-14; Adam, f32)
//!    at batch 128 and 32 on kiln's CPU backend, on burn-flex's own (batch 128; NdArray
//!    too with `--features ndarray`), in PyTorch eager (`benches/pytorch_reference.py`)
//!    and in Keras 3 on TensorFlow (`benches/keras_reference.py`, `model.fit`), each
//!    with its ratio to the faster peer and the GFLOP/s its step reaches. Kiln and the
//!    peers take turns over rounds, and every step is timed the same way (the median of
//!    five blocks after a warm-up: `Step::measure`, `benches/measure.py`); a rate is the
//!    median of its rounds.
//!
//! Run: `cargo bench --bench training_step` with `python3` finding `torch`, `keras` and
//! `tensorflow` (a virtualenv: `pip install torch tensorflow-cpu keras`); on a GPU,
//! `KILN_BENCH_DEVICE=cuda cargo bench --features cuda --bench training_step`.
//! `KILN_BENCH_SECONDS` sets the seconds measured per model, batch and round (default
//! 6), `KILN_BENCH_ROUNDS` the rounds (3), `KILN_BENCH_MODELS` the models
//! (`mlp,mnist_cnn,cifar_cnn,resnet14`), `KILN_BENCH_BATCHES` the batch sizes
//! (`128,32`), `KILN_BENCH_PYTHON` the Python (`python3`), `KILN_BENCH_SCRIPTS` the
//! folder of the peers' scripts (default: where they were built, for a binary carried to
//! another machine). On a GPU, `KILN_BENCH_TORCH` names PyTorch's modes (`eager,compile`)
//! and `KILN_BENCH_AUGMENT=0` leaves the augmentation rates out.

mod common;

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::AutodiffBackend;
use common::models::resnet14::ResNet14;
use common::models::{CifarCnn, MnistCnn, MnistMlp};
use common::{BATCH, Step, batches, budget, median, peer, script, selected};
#[cfg(feature = "cuda")]
use common::{device_augment_rate, shifts_and_flips, warps};
use kiln::prelude::*;

/// The models measured unless `KILN_BENCH_MODELS` names others.
const MODELS: &str = "mlp,mnist_cnn,cifar_cnn,resnet14";

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

/// Generated vs hand-written MnistCnn: blocks in A-B-B-A order (so neither always runs
/// first), the median step time of each, over a model's budget for every round.
fn generated_vs_hand_written<B: AutodiffBackend>(backend: &str) {
    let device = B::Device::default();
    let mut generated = Step::new(MnistCnn::<B>::new(&device), &device);
    let mut hand = Step::new(HandCnn::<B>::new(&device), &device);
    generated.time(2);
    hand.time(2);
    let per_block = ((budget().as_secs_f64() / 8.0 / generated.time(1)) as usize).max(3);
    let (mut g, mut h) = (Vec::new(), Vec::new());
    for _ in 0..2 * rounds() {
        g.push(generated.time(per_block));
        h.push(hand.time(per_block));
        h.push(hand.time(per_block));
        g.push(generated.time(per_block));
    }
    let blocks = g.len();
    let (g, h) = (median(g), median(h));
    println!(
        "{backend:<8} MnistCnn training step: generated {:.2} ms, hand-written burn {:.2} ms, ratio {:.3} (median of {blocks} blocks of {per_block} steps each)",
        g * 1e3,
        h * 1e3,
        g / h
    );
}

/// Training GFLOP per image of a model: twice the multiply-adds of its convolutions and
/// dense layers (weights, less one bias per output channel, times output positions), for
/// the forward pass and the two gradients (3×). Batch normalization, pooling and
/// activations are not counted.
fn train_gflop(spec: &kiln::ModelSpec) -> f64 {
    let checked = spec
        .check()
        .expect("the reference models are checked at compile time");
    let macs: usize = checked
        .layers
        .iter()
        .map(|layer| {
            let dims = layer.output.dims();
            let known = |i: usize| dims.get(i).and_then(|d| d.known()).unwrap_or(1);
            match layer.class_name {
                "Dense" => layer.params.trainable - known(dims.len() - 1),
                "Conv2D" | "Conv1D" => {
                    let spatial = dims.len() - 1;
                    let channels = known(kiln::spec::channels_axis(spatial));
                    let positions: usize = kiln::spec::spatial_dims(&layer.output, spatial)
                        .iter()
                        .map(|d| d.known().unwrap_or(1))
                        .product();
                    (layer.params.trainable - channels) * positions
                }
                _ => 0,
            }
        })
        .sum();
    3.0 * 2.0 * macs as f64 / 1e9
}

/// Images/s of each selected model at `batch` on backend `B`.
fn kiln_rates<B: AutodiffBackend>(batch: usize) -> Vec<(String, f64)> {
    let device = B::Device::default();
    let mut rates = Vec::new();
    for model in selected(MODELS) {
        let per_step = match model.as_str() {
            "mlp" => {
                Step::with_batch(MnistMlp::<B>::new(&device), &device, batch).measure(budget())
            }
            "mnist_cnn" => {
                Step::with_batch(MnistCnn::<B>::new(&device), &device, batch).measure(budget())
            }
            "cifar_cnn" => {
                Step::with_batch(CifarCnn::<B>::new(&device), &device, batch).measure(budget())
            }
            "resnet14" => {
                Step::with_batch(ResNet14::<B>::new(&device), &device, batch).measure(budget())
            }
            _ => continue,
        };
        rates.push((model, batch as f64 / per_step));
    }
    rates
}

/// The GFLOP per image of each reference model, by name.
fn gflop_per_image(model: &str) -> f64 {
    train_gflop(&match model {
        "mlp" => MnistMlp::<kiln::backend::CpuBackend>::spec(),
        "mnist_cnn" => MnistCnn::<kiln::backend::CpuBackend>::spec(),
        "cifar_cnn" => CifarCnn::<kiln::backend::CpuBackend>::spec(),
        _ => ResNet14::<kiln::backend::CpuBackend>::spec(),
    })
}

/// The f32 matrix-product rate of this machine with the `gemm` crate (kiln's and
/// burn-flex's engine) on every thread: GFLOP/s of one 2048² product, best of five.
fn gemm_gflops() -> f64 {
    let n = 2048;
    let (a, b, mut c) = (
        vec![1.0f32; n * n],
        vec![1.0f32; n * n],
        vec![0.0f32; n * n],
    );
    let mut best = f64::MAX;
    for _ in 0..6 {
        let start = std::time::Instant::now();
        // SAFETY: three distinct n×n row-major buffers of n² floats each.
        unsafe {
            gemm::gemm(
                n,
                n,
                n,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                n as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n * n * n) as f64 / best / 1e9
}

/// PyTorch eager (or, with `mode` "compile", through `torch.compile`) on `device` at
/// `batch`: images/s by model, and its matmul GFLOP/s.
fn pytorch(device: &str, batch: usize, mode: &str) -> Result<Vec<(String, f64)>, String> {
    let args = [
        script("pytorch_reference.py"),
        budget().as_secs_f64().to_string(),
        device.to_string(),
        selected(MODELS).join(","),
        batch.to_string(),
        mode.to_string(),
    ];
    peer("pytorch", &args)
}

/// Keras 3 on TensorFlow (CPU) at `batch`: images/s by model.
fn keras(batch: usize) -> Result<Vec<(String, f64)>, String> {
    let args = [
        script("keras_reference.py"),
        budget().as_secs_f64().to_string(),
        selected(MODELS).join(","),
        batch.to_string(),
    ];
    peer("keras", &args)
}

fn find(rates: &[(String, f64)], model: &str) -> Option<f64> {
    rates.iter().find(|(m, _)| m == model).map(|(_, r)| *r)
}

/// The rounds `KILN_BENCH_ROUNDS` asks for (3 by default).
fn rounds() -> usize {
    std::env::var("KILN_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(3)
}

/// The median of a model's rates over the rounds that measured it.
fn median_rate(rounds: &[Vec<(String, f64)>], model: &str) -> Option<f64> {
    let rates: Vec<f64> = rounds.iter().filter_map(|r| find(r, model)).collect();
    (!rates.is_empty()).then(|| median(rates))
}

/// Kiln's rate ÷ the faster peer's, where a peer measured the model.
fn ratio(ours: f64, torch: Option<f64>, keras: Option<f64>) -> Option<f64> {
    let best = torch.into_iter().chain(keras).reduce(f64::max)?;
    Some(ours / best)
}

/// One table per batch size: kiln's CPU backend, burn-flex's own (and NdArray), PyTorch
/// and Keras, the ratio to the faster peer and the rate of arithmetic against `peak`.
/// Kiln and the two peers are measured in rounds, in an order that turns from round to
/// round, so that a slow spell of the machine does not fall on one of them only; each
/// rate is the median of its rounds, and each round's ratio is shown beside it.
fn cpu(peak: f64) {
    let names = ["kiln-cpu", "pytorch", "keras"];
    // A peer that failed (not installed, say) is not asked again.
    let mut failed = [false; 3];
    for batch in batches("128,32") {
        let mut measured: [Vec<Vec<(String, f64)>>; 3] = Default::default();
        for round in 0..rounds() {
            for turn in 0..3 {
                let who = (round + turn) % 3;
                let rates = match who {
                    _ if failed[who] => Ok(Vec::new()),
                    0 => Ok(kiln_rates::<kiln::backend::Cpu>(batch)),
                    1 => pytorch("cpu", batch, "eager"),
                    _ => keras(batch),
                };
                measured[who].push(rates.unwrap_or_else(|e| {
                    println!("{:<8} not measured: {e}", names[who]);
                    failed[who] = true;
                    Vec::new()
                }));
            }
        }
        let [ours, torch, keras] = &measured;
        let matmul: Vec<String> = torch
            .iter()
            .filter_map(|r| find(r, "matmul"))
            .map(|m| format!("{m:.1}"))
            .collect();
        if !matmul.is_empty() {
            println!("pytorch  matmul {} GFLOP/s", matmul.join(" · "));
        }
        let mut others = Vec::new();
        if batch == BATCH {
            others.push(("flex", kiln_rates::<kiln::backend::Flex>(batch)));
            #[cfg(feature = "ndarray")]
            others.push(("ndarray", kiln_rates::<kiln::backend::NdArray>(batch)));
        }
        println!(
            "\nbatch {batch}: training images/s, the median of {} rounds",
            ours.len()
        );
        let header: Vec<String> = others.iter().map(|(n, _)| format!("{n:>9}")).collect();
        println!(
            "{:<10} {:>9} {}{:>9} {:>9} {:>10} {:>16}  kiln/best by round",
            "model",
            names[0],
            header.iter().map(|h| format!("{h} ")).collect::<String>(),
            "pytorch",
            "keras",
            "kiln/best",
            "kiln GFLOP/s"
        );
        for model in selected(MODELS) {
            let Some(rate) = median_rate(ours, &model) else {
                continue;
            };
            let (t, k) = (median_rate(torch, &model), median_rate(keras, &model));
            let show = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.1}"));
            let cells: String = others
                .iter()
                .map(|(_, rates)| format!("{:>9} ", show(find(rates, &model))))
                .collect();
            let by_round: Vec<String> = (0..ours.len())
                .map(|r| {
                    let at = |rounds: &[Vec<(String, f64)>]| {
                        rounds.get(r).and_then(|rates| find(rates, &model))
                    };
                    at(ours)
                        .and_then(|o| ratio(o, at(torch), at(keras)))
                        .map_or("-".into(), |x| format!("{x:.2}"))
                })
                .collect();
            let gflops = rate * gflop_per_image(&model);
            println!(
                "{model:<10} {:>9} {cells}{:>9} {:>9} {:>10} {:>16}  {}",
                show(Some(rate)),
                show(t),
                show(k),
                ratio(rate, t, k).map_or("-".into(), |x| format!("{x:.2}×")),
                format!("{gflops:.1} ({:.0}%)", 100.0 * gflops / peak),
                by_round.join(" · ")
            );
        }
        println!();
    }
}

/// `model`'s seconds per step at `batch`, after its first step (its kernels compiled and
/// tuned, or loaded from the cache), whose time is printed as soon as it is known: a run
/// cut short while the rate is measured still tells it.
#[cfg(feature = "cuda")]
fn timed<B, M, const D: usize>(name: &str, model: M, device: &B::Device, batch: usize) -> f64
where
    B: AutodiffBackend,
    M: burn::module::AutodiffModule<B>
        + kiln::Model<B, Input = Tensor<B, D>, Output = Tensor<B, 2>>,
{
    let mut step = Step::with_batch(model, device, batch);
    let first = step.time(1);
    println!(
        "cuda b{batch:<4} {name:<10} first step {first:.1} s (kernel compilation and tuning included)"
    );
    step.measure(budget())
}

/// On an NVIDIA GPU (`KILN_BENCH_DEVICE=cuda`, built with `--features cuda`), at batch
/// 128 and 512 (`KILN_BENCH_BATCHES`): the first step of each model (cold or warm kernel
/// cache, [`kiln::backend::kernel_cache`]), images/s, PyTorch eager and `torch.compile`
/// on the same GPU with the ratios, and augmentation (in the machine's CPU threads, and
/// as tensor ops on the GPU) against the CIFAR CNN's training.
#[cfg(feature = "cuda")]
fn cuda() {
    type C = kiln::backend::Cuda;
    let device = common::gpu();
    match kiln::backend::kernel_cache() {
        Some(dir) => println!("kernel cache {}", dir.display()),
        None => println!("kernel cache as cubecl.toml says"),
    }
    let mut cifar_rate = None;
    for batch in batches("128,512") {
        let mut rates = Vec::new();
        for model in selected(MODELS) {
            let per_step = match model.as_str() {
                "mlp" => timed(&model, MnistMlp::<C>::new(&device), &device, batch),
                "mnist_cnn" => timed(&model, MnistCnn::<C>::new(&device), &device, batch),
                "cifar_cnn" => timed(&model, CifarCnn::<C>::new(&device), &device, batch),
                "resnet14" => timed(&model, ResNet14::<C>::new(&device), &device, batch),
                other => {
                    println!("unknown model {other}");
                    continue;
                }
            };
            let rate = batch as f64 / per_step;
            println!("cuda b{batch:<4} {model:<10} {rate:>9.1} images/s");
            if model == "cifar_cnn" && batch == BATCH {
                cifar_rate = Some(rate);
            }
            rates.push((model, rate));
        }
        let modes = std::env::var("KILN_BENCH_TORCH").unwrap_or_else(|_| "eager,compile".into());
        for mode in modes.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            match pytorch("cuda", batch, mode) {
                Ok(torch) => {
                    for (model, ours) in &rates {
                        if let Some(theirs) = find(&torch, model) {
                            println!(
                                "cuda b{batch:<4} {model:<10} {:.2}× PyTorch {mode} ({theirs:.1} images/s)",
                                ours / theirs
                            );
                        }
                    }
                }
                Err(e) => println!("pytorch {mode} not measured: {e}"),
            }
        }
    }
    if std::env::var("KILN_BENCH_AUGMENT").as_deref() != Ok("0") {
        augmentation_rates(&device, cifar_rate);
    }
}

/// Augmentation in the machine's CPU threads and as tensor ops on the GPU, against the
/// CIFAR CNN's training rate there (`cifar_rate`, where it was measured).
#[cfg(feature = "cuda")]
fn augmentation_rates(device: &burn::backend::cuda::CudaDevice, cifar_rate: Option<f64>) {
    use std::ops::ControlFlow;
    type C = kiln::backend::Cuda;
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
        seen += batch.rows::<C>(device).dims()[0];
        ControlFlow::Continue(())
    });
    let workers = seen as f64 / start.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "augmenting loader {workers:>9.0} images/s on {threads} CPU threads (shifts, flips, rotation, zoom)"
    );
    let on_gpu = device_augment_rate::<C>(&data, shifts_and_flips(), device);
    let warps_on_gpu = device_augment_rate::<C>(&data, warps(), device);
    println!("augmenting on the GPU {on_gpu:>9.0} images/s (shifts and flips as tensor ops)");
    println!("augmenting on the GPU {warps_on_gpu:>9.0} images/s (with rotation and zoom)");
    if let Some(train) = cifar_rate {
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
        "Adam, f32, {} s per model, batch size and round",
        budget().as_secs_f64()
    );
    if common::on_cuda() {
        #[cfg(feature = "cuda")]
        cuda();
        return;
    }
    generated_vs_hand_written::<kiln::backend::Cpu>("kiln-cpu");
    let peak = gemm_gflops();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("gemm     matmul {peak:.1} GFLOP/s (2048², f32, {threads} threads): the peak below");
    cpu(peak);
}
