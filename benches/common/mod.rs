//! What the benchmarks share: the three reference models (batch 128, Adam, f32) and a
//! bare training step to measure them with.
#![allow(dead_code)] // each benchmark uses its own part

use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Int, Tensor};
use kiln::datasets::{Augment, FillMode, ImageDataset, Loader};

/// The batch size of every benchmark.
pub const BATCH: usize = 128;

pub mod models;

/// One training step: forward, cross-entropy on the logits, backward, Adam (kiln's, as
/// `fit` runs it).
pub struct Step<B: AutodiffBackend, M: AutodiffModule<B>, const D: usize> {
    model: Option<M>,
    optim: burn::optim::adaptor::OptimizerAdaptor<kiln::FusedAdam, M, B>,
    x: Tensor<B, D>,
    targets: Tensor<B, 2>,
}

impl<B, M, const D: usize> Step<B, M, D>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + kiln::Model<B, Input = Tensor<B, D>, Output = Tensor<B, 2>>,
{
    pub fn new(model: M, device: &B::Device) -> Self {
        Self::with_batch(model, device, BATCH)
    }

    /// A step on batches of `batch` random examples with random labels.
    pub fn with_batch(model: M, device: &B::Device, batch: usize) -> Self {
        let example: Vec<usize> = model
            .input_shape()
            .dims()
            .iter()
            .map(|d| d.known().unwrap_or(1))
            .collect();
        let mut shape = vec![batch];
        shape.extend(example);
        let x = Tensor::<B, 1>::random(
            [shape.iter().product::<usize>()],
            Distribution::Default,
            device,
        );
        let labels = Tensor::<B, 1, Int>::random([batch], Distribution::Uniform(0.0, 10.0), device);
        Step {
            model: Some(model),
            optim: kiln::Adam::new().init(),
            x: x.reshape::<D, _>(burn::tensor::Shape::from(shape)),
            targets: labels.one_hot(10).float(),
        }
    }

    /// One step, on the CPU backend's threads as `fit` runs it
    /// (`kiln::backend::on_kernel_threads`).
    pub fn step(&mut self) {
        let Some(model) = self.model.take() else {
            return;
        };
        let (x, targets, optim) = (&self.x, &self.targets, &mut self.optim);
        let model = kiln::backend::on_kernel_threads::<B, _>(move || {
            let logits = model.forward_train(x.clone()).logits;
            let loss = (log_softmax(logits, 1) * targets.clone())
                .sum_dim(1)
                .mean()
                .neg();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            optim.step(1e-3, model, grads)
        });
        // Wait for the device so each step's time is its own.
        let _ = B::sync(&self.x.device());
        self.model = Some(model);
    }

    /// Seconds per step over `steps` steps.
    pub fn time(&mut self, steps: usize) -> f64 {
        let start = Instant::now();
        for _ in 0..steps {
            self.step();
        }
        start.elapsed().as_secs_f64() / steps as f64
    }

    /// Seconds per step over about `budget`: after a warm-up of a fifth of it (at least
    /// two steps; the allocator and caches settle), the median of five blocks of steps,
    /// so that a block slowed by the rest of the machine does not count.
    pub fn measure(&mut self, budget: Duration) -> f64 {
        measure(budget, |steps| self.time(steps))
    }
}

/// Seconds per call over about `budget`, where `time(n)` makes `n` calls and returns the
/// seconds per call: after two probe calls and a warm-up of a fifth of the budget (at
/// least one call; the allocator and caches settle), the median of five blocks of calls,
/// so that a block slowed by the rest of the machine does not count. `benches/measure.py`
/// times the peers' steps the same way.
pub fn measure(budget: Duration, mut time: impl FnMut(usize) -> f64) -> f64 {
    let probe = time(2).max(1e-4);
    let calls = |share: f64| ((budget.as_secs_f64() * share / probe) as usize).clamp(1, 1000);
    time(calls(0.2));
    median((0..5).map(|_| time(calls(0.16))).collect())
}

/// The median of `v` (its upper one, for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Whether `KILN_BENCH_DEVICE=cuda` asks for the GPU. A benchmark built without
/// `--features cuda` then exits with the reason, rather than measure the CPU in its place.
pub fn on_cuda() -> bool {
    let asked = std::env::var("KILN_BENCH_DEVICE").as_deref() == Ok("cuda");
    if asked && !cfg!(feature = "cuda") {
        eprintln!("KILN_BENCH_DEVICE=cuda needs a benchmark built with --features cuda");
        std::process::exit(2);
    }
    asked
}

/// The first NVIDIA GPU, its kernels cached (`kiln::backend::cuda_device`); the
/// benchmark exits with the reason when it cannot be opened.
#[cfg(feature = "cuda")]
pub fn gpu() -> burn::backend::cuda::CudaDevice {
    kiln::backend::cuda_device(0).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    })
}

/// The seconds each measurement may take: `KILN_BENCH_SECONDS`, 6 by default.
pub fn budget() -> Duration {
    seconds(6.0)
}

/// The batch sizes `KILN_BENCH_BATCHES` names (comma-separated), else `default`'s.
pub fn batches(default: &str) -> Vec<usize> {
    std::env::var("KILN_BENCH_BATCHES")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|b| b.trim().parse().ok())
        .collect()
}

/// The models `KILN_BENCH_MODELS` names (comma-separated), else `default`'s.
pub fn selected(default: &str) -> Vec<String> {
    std::env::var("KILN_BENCH_MODELS")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|m| m.trim().to_string())
        .collect()
}

/// `KILN_BENCH_SECONDS`, else `default` seconds.
pub fn seconds(default: f64) -> Duration {
    let seconds = std::env::var("KILN_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Duration::from_secs_f64(seconds)
}

/// The CIFAR example's augmentation: shifts and flips.
pub fn shifts_and_flips() -> Augment {
    Augment::new()
        .width_shift_range(0.1)
        .height_shift_range(0.1)
        .horizontal_flip(true)
        .fill_mode(FillMode::Nearest)
}

/// Images/s of one epoch of `data` augmented by `augment` on `T`'s device: planned in the
/// loader's worker, run by tensor ops on the device as a training loop would run them
/// (waited for once, at the end).
pub fn device_augment_rate<T: Backend>(
    data: &ImageDataset,
    augment: Augment,
    device: &T::Device,
) -> f64 {
    let loader = Loader::new(BATCH)
        .shuffle(1)
        .augment(augment.on_device(true), 1);
    let pass = |epoch: u64, batches: usize| {
        let start = Instant::now();
        let mut images = 0;
        // Every batch's sum joins one total, read at the end: no augmentation is skipped
        // for its output going unused, and the device is waited for once.
        let mut total = Tensor::<T, 1>::zeros([1], device);
        loader.for_each(data, epoch, |batch| {
            let rows = batch.rows::<T>(device);
            images += rows.dims()[0];
            total = total.clone() + rows.sum();
            if images >= batches * BATCH {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        });
        let _ = total.into_data();
        images as f64 / start.elapsed().as_secs_f64()
    };
    pass(0, 4); // compiles the device's kernels
    pass(1, usize::MAX)
}

/// The shifts and flips with 15° rotations and zoom: the heavier pipeline.
pub fn warps() -> Augment {
    shifts_and_flips().rotation_range(15.0).zoom_range(0.1)
}

/// A peer's script in `benches/` (or `KILN_BENCH_SCRIPTS`).
pub fn script(name: &str) -> String {
    let folder = std::env::var("KILN_BENCH_SCRIPTS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/benches").to_string());
    format!("{folder}/{name}")
}

/// The peers whose version has been printed (once a run, not once a round).
static VERSIONS_SHOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The `name value` lines a peer's script prints, or why it could not run.
pub fn peer(label: &str, args: &[String]) -> Result<Vec<(String, f64)>, String> {
    let python = std::env::var("KILN_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(args)
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(stderr.lines().last().unwrap_or("failed").to_string());
    }
    let lines: Vec<(String, f64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect();
    if let Some(version) = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("version "))
    {
        let mut shown = VERSIONS_SHOWN
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !shown.iter().any(|l| l == label) {
            shown.push(label.to_string());
            println!("{label} {version}");
        }
    }
    Ok(lines)
}
