//! The data pipeline against training: batches/s of the loader (shuffled, gathered in
//! its worker, converted to `f32` and put on the CPU device), with and without CIFAR
//! augmentation (shifts, flips, rotation, zoom in the CPU workers; the CIFAR example's
//! shifts and flips also as tensor ops on the training device), versus the training
//! throughput of the MNIST CNN and the CIFAR CNN, in the same run. Loading and augmenting
//! must be at least 10× faster than training, so the model never waits for data.
//!
//! Run: `KILN_DATA=../shared/data cargo bench --bench data_pipeline` (without the data,
//! synthetic images of the same shapes stand in, and the output says so; on a GPU,
//! `KILN_BENCH_DEVICE=cuda cargo bench --features cuda --bench data_pipeline`).

mod common;

use std::ops::ControlFlow;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use common::models::{CifarCnn, MnistCnn};
use common::{BATCH, Step, budget, device_augment_rate, shifts_and_flips, warps};
use kiln::datasets::{DataDir, ImageDataset, Loader, cifar10_train, mnist, synthetic_digits};

type B = kiln::backend::Cpu;

/// Images/s of `loader` over one epoch of `data`, batches put on the device.
fn loader_rate(loader: &Loader, data: &ImageDataset) -> f64 {
    let device = Default::default();
    let start = Instant::now();
    let mut images = 0;
    loader.for_each(data, 0, |batch| {
        let rows = batch.rows::<kiln::backend::CpuBackend>(&device);
        images += rows.dims()[0];
        ControlFlow::Continue(())
    });
    images as f64 / start.elapsed().as_secs_f64()
}

fn report(name: &str, loader: &Loader, data: &ImageDataset, train_rate: f64) {
    let load_rate = loader_rate(loader, data);
    println!(
        "{name:<10} loader {:>9.0} images/s ({:>6.0} batches/s), training {train_rate:>7.1} images/s: loader {:.0}× faster",
        load_rate,
        load_rate / BATCH as f64,
        load_rate / train_rate
    );
}

/// Training images/s of the MNIST and CIFAR CNNs on the bench's device, and images/s of
/// the CIFAR augmentation run there: CUDA with `KILN_BENCH_DEVICE=cuda` (built with
/// `--features cuda`), else the CPU.
fn device_rates(cifar: &ImageDataset) -> (f64, f64, [f64; 2]) {
    if common::on_cuda() {
        #[cfg(feature = "cuda")]
        {
            println!(
                "training on cuda; loading on {} CPU threads",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
            return rates::<kiln::backend::Cuda>(cifar, &common::gpu());
        }
    }
    rates::<B>(cifar, &Default::default())
}

fn rates<T: AutodiffBackend>(cifar: &ImageDataset, device: &T::Device) -> (f64, f64, [f64; 2]) {
    let device = device.clone();
    let mut mnist = Step::new(MnistCnn::<T>::new(&device), &device);
    let mut cifar_step = Step::new(CifarCnn::<T>::new(&device), &device);
    (
        BATCH as f64 / mnist.measure(budget()),
        BATCH as f64 / cifar_step.measure(budget()),
        [shifts_and_flips(), warps()]
            .map(|a| device_augment_rate::<T::InnerBackend>(cifar, a, &device)),
    )
}

fn main() {
    let dir = DataDir::default().offline(true);
    let mnist_train = match mnist(&dir) {
        Ok((train, _)) => train,
        Err(e) => {
            println!("MNIST not found ({e}); synthetic digits stand in");
            synthetic_digits(60_000, 1)
        }
    };
    let cifar_train = match cifar10_train(&dir) {
        Ok(train) => train,
        Err(e) => {
            println!("CIFAR-10 not found ({e}); random images stand in");
            let images = (0..50_000 * 3072).map(|i| (i * 7919 % 251) as u8).collect();
            ImageDataset::new(
                "random",
                [3, 32, 32],
                images,
                vec![0; 50_000],
                vec!["x".into()],
            )
            .expect("consistent sizes")
        }
    };
    let (mnist_rate, cifar_rate, device_augment) = device_rates(&cifar_train);
    let plain = Loader::new(BATCH).shuffle(1);
    report("MNIST", &plain, &mnist_train, mnist_rate);
    report("CIFAR-10", &plain, &cifar_train, cifar_rate);
    report(
        "CIFAR aug",
        &plain.clone().augment(warps(), 1),
        &cifar_train,
        cifar_rate,
    );
    report(
        "CIFAR s+f",
        &plain.clone().augment(shifts_and_flips(), 1),
        &cifar_train,
        cifar_rate,
    );
    for (name, rate) in ["CIFAR s+f", "CIFAR aug"].iter().zip(device_augment) {
        println!(
            "{name:<10} on the training device {rate:>9.0} images/s, training {cifar_rate:>7.1} images/s: {:.0}× faster",
            rate / cifar_rate
        );
    }
}
