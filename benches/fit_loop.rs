//! The cost of `Trainer::fit`'s loop (data, metrics, progress, history) over the bare
//! training step of the same model on batches already on the device, in the same run;
//! the loop's overhead must stay within 5%. Then the first epoch of a fresh CIFAR CNN's
//! `fit` (validation and augmentation included) against the later ones: on a GPU, where
//! the first compiles the kernels, it should take at most twice a later one.
//!
//! Run: `KILN_DATA=../shared/data cargo bench --bench fit_loop`; on a GPU,
//! `KILN_BENCH_DEVICE=cuda cargo bench --features cuda --bench fit_loop` (the epochs
//! only).

mod common;

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use common::models::{CifarCnn, MnistCnn, MnistMlp};
use common::{BATCH, Step, median, shifts_and_flips};
use kiln::datasets::{DataDir, ImageDataset, mnist, synthetic_digits};
use kiln::prelude::*;

type B = kiln::backend::Cpu;

/// Images/s of `fit` over one epoch of `data` and of the bare step on the same model and
/// as many batches, alternated three times; the medians are compared.
fn compare<M, const D: usize>(name: &str, new: impl Fn() -> M, data: &ImageDataset)
where
    M: AutodiffModule<B> + Model<B, Input = Tensor<B, D>, Output = Tensor<B, 2>>,
    M::InnerModule: Model<<B as AutodiffBackend>::InnerBackend>,
{
    let device = Default::default();
    let steps = data.len().div_ceil(BATCH);
    let mut bare = Step::new(new(), &device);
    bare.time(2);
    let mut trainer = Trainer::new(new())
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let _ = trainer.fit(
        &data.take(2 * BATCH),
        Fit::epochs(1).batch_size(BATCH).verbose(Verbosity::Silent),
    );
    let (mut bare_rates, mut fit_rates) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        bare_rates.push(BATCH as f64 / bare.time(steps));
        let start = Instant::now();
        trainer
            .fit(
                data,
                Fit::epochs(1).batch_size(BATCH).verbose(Verbosity::Silent),
            )
            .expect("the data fits the model");
        fit_rates.push(data.len() as f64 / start.elapsed().as_secs_f64());
    }
    let (bare_rate, fit_rate) = (median(bare_rates), median(fit_rates));
    println!(
        "{name:<9} bare step {bare_rate:>8.1} images/s, fit {fit_rate:>8.1} images/s: loop overhead {:+.1}% (median of 3 alternated runs of {} images)",
        (bare_rate / fit_rate - 1.0) * 100.0,
        data.len()
    );
}

/// The seconds of each epoch, validation included.
#[derive(Default)]
struct EpochTimes {
    started: Option<Instant>,
    seconds: Vec<f64>,
}

impl<T: AutodiffBackend, M> Callback<T, M> for EpochTimes {
    fn on_epoch_begin(
        &mut self,
        _epoch: usize,
        _control: &mut kiln::Control<M>,
    ) -> kiln::CallbackResult {
        self.started = Some(Instant::now());
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &Logs,
        _control: &mut kiln::Control<M>,
    ) -> kiln::CallbackResult {
        self.seconds
            .extend(self.started.map(|s| s.elapsed().as_secs_f64()));
        Ok(())
    }
}

/// Three epochs of a fresh CIFAR CNN's `fit` on `device` (10,240 CIFAR-shaped images,
/// a fifth held out, shifts and flips on the device): the first against the later ones.
fn first_epoch<T: AutodiffBackend>(backend: &str, device: &T::Device)
where
    <CifarCnn<T> as AutodiffModule<T>>::InnerModule: Model<T::InnerBackend>,
{
    let n = 10_240;
    let images = (0..n * 3072).map(|i| (i * 7919 % 251) as u8).collect();
    let labels = (0..n).map(|i| (i % 10) as u16).collect();
    let classes = (0..10).map(|c| c.to_string()).collect();
    let data = ImageDataset::new("random", [3, 32, 32], images, labels, classes)
        .expect("consistent sizes");
    let mut times = EpochTimes::default();
    let mut trainer = Trainer::new(CifarCnn::<T>::new(device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let fit = Fit::epochs(3)
        .batch_size(BATCH)
        .validation_split(0.2)
        .augment(shifts_and_flips().on_device(true))
        .verbose(Verbosity::Silent)
        .callback(&mut times);
    trainer.fit(&data, fit).expect("the data fits the model");
    let first_step = trainer.first_step_time().map_or(0.0, |t| t.as_secs_f64());
    let [first, later @ ..] = times.seconds.as_slice() else {
        return println!("{backend} cifar_cnn fit: no epoch ran");
    };
    let later = later.iter().sum::<f64>() / later.len().max(1) as f64;
    println!(
        "{backend:<4} cifar_cnn fit: epoch 1 {first:.2} s (its first step {first_step:.2} s), later epochs {later:.2} s: the first takes {:.2}× a later one",
        first / later
    );
}

fn main() {
    if common::on_cuda() {
        #[cfg(feature = "cuda")]
        first_epoch::<kiln::backend::Cuda>("cuda", &common::gpu());
        return;
    }
    let train = match mnist(&DataDir::default().offline(true)) {
        Ok((train, _)) => train,
        Err(e) => {
            println!("MNIST not found ({e}); synthetic digits stand in");
            synthetic_digits(60_000, 1)
        }
    };
    let device = Default::default();
    compare("mlp", || MnistMlp::<B>::new(&device), &train);
    compare(
        "mnist_cnn",
        || MnistCnn::<B>::new(&device),
        &train.take(12_800),
    );
    first_epoch::<B>("cpu", &device);
}
