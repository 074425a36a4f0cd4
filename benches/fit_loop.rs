//! The cost of `Trainer::fit`'s loop (data, metrics, progress, history) over the bare
//! training step of the same model on batches already on the device, in the same run;
//! the loop's overhead must stay within 5%.
//!
//! Run: `KILN_DATA=../shared/data cargo bench --bench fit_loop`.

mod common;

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use common::models::{MnistCnn, MnistMlp};
use common::{BATCH, Step};
use kiln::datasets::{DataDir, ImageDataset, mnist, synthetic_digits};
use kiln::prelude::*;

type B = kiln::backend::Cpu;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

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

fn main() {
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
}
