//! The reference models of Keras's examples, declared with `model!`: they build, run
//! forward with the declared shapes, count Keras's parameters and learn.

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, Tensor};
use kiln::prelude::*;

// The reference models, shared with the benchmarks and the real-data tests.
#[path = "../benches/common/models.rs"]
mod models;
use models::resnet14::ResNet14;
use models::{CifarCnn, MnistCnn, MnistConvnet, MnistMlp};

type B = kiln::backend::Cpu;

/// Cross-entropy of softmax(logits) against integer labels, written with burn ops.
fn cross_entropy(logits: Tensor<B, 2>, labels: &[usize]) -> Tensor<B, 1> {
    let device = logits.device();
    let classes = logits.dims()[1];
    let targets: Vec<f32> = labels
        .iter()
        .flat_map(|&l| (0..classes).map(move |c| f32::from(u8::from(c == l))))
        .collect();
    let targets =
        Tensor::<B, 1>::from_floats(targets.as_slice(), &device).reshape([labels.len(), classes]);
    let log_p = burn::tensor::activation::log_softmax(logits, 1);
    (log_p * targets).sum_dim(1).mean().neg()
}

/// Trains `model` a few Adam steps on one fixed batch; returns the loss before and after.
fn losses_over_steps<M, const D: usize>(
    mut model: M,
    x: Tensor<B, D>,
    labels: &[usize],
    steps: usize,
) -> (f32, f32)
where
    M: AutodiffModule<B> + kiln::Model<B, Input = Tensor<B, D>, Output = Tensor<B, 2>>,
{
    let mut optim = AdamConfig::new().init::<B, M>();
    let mut losses = Vec::new();
    for _ in 0..=steps {
        let loss = cross_entropy(model.forward_train(x.clone()).logits, labels);
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    (losses[0], losses[steps])
}

fn labels(n: usize) -> Vec<usize> {
    (0..n).map(|i| i % 10).collect()
}

#[test]
fn the_mlp_has_keras_parameter_count_and_learns() {
    let device = Default::default();
    <B as Backend>::seed(&device, 1);
    let model = MnistMlp::<B>::new(&device);
    let summary = model.summary();
    assert_eq!(summary.0.params().trainable, 118_282);
    assert_eq!(summary.0.params().non_trainable, 0);
    assert_eq!(model.num_params(), 118_282);
    assert!(
        summary.to_string().contains("Total params: 118,282"),
        "{summary}"
    );
    assert_eq!(MnistMlp::<B>::INPUT_SHAPE, [Dim::Known(784)]);
    assert_eq!(MnistMlp::<B>::OUTPUT_SHAPE, [Dim::Known(10)]);

    let x = Tensor::<B, 2>::random([16, 784], Distribution::Uniform(0.0, 1.0), &device);
    let y = model.valid().forward(x.clone().inner());
    assert_eq!(y.dims(), [16, 10]);
    // softmax rows sum to one
    let sums = y.sum_dim(1).into_data().to_vec::<f32>().unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");

    let (before, after) = losses_over_steps(model, x, &labels(16), 25);
    assert!(after < before * 0.5, "loss {before} -> {after}");
}

#[test]
fn the_convnet_has_keras_parameter_count_and_learns() {
    let device = Default::default();
    <B as Backend>::seed(&device, 2);
    let model = MnistConvnet::<B>::new(&device);
    assert_eq!(model.summary().0.params().total(), 34_826);
    assert_eq!(model.num_params(), 34_826);
    assert!(model.summary().to_string().contains("(None, 64, 5, 5)"));

    let x = Tensor::<B, 4>::random([8, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    assert_eq!(model.forward(x.clone()).dims(), [8, 10]);
    let (before, after) = losses_over_steps(model, x, &labels(8), 40);
    assert!(after < before * 0.85, "loss {before} -> {after}");
}

#[test]
fn the_cifar_cnn_builds_with_same_padding() {
    let device = Default::default();
    let model = CifarCnn::<B>::new(&device);
    // keras: 896 + 9,248 + 18,496 + 36,928 + 1,180,160 + 5,130
    assert_eq!(model.summary().0.params().total(), 1_250_858);
    assert_eq!(model.num_params(), 1_250_858);
    let x = Tensor::<B, 4>::zeros([2, 3, 32, 32], &device);
    assert_eq!(model.forward(x).dims(), [2, 10]);
}

#[test]
fn resnet14_counts_keras_s_parameters() {
    let device = Default::default();
    let model = ResNet14::<B>::new(&device);
    // Each 3×3 convolution k·k·c_in·c_out + c_out, each 1×1 projection c_in·c_out + c_out,
    // each BatchNormalization 2·c trainable (γ, β) and 2·c not (moving mean, variance):
    // stem 448 + 32; stage 1, four 16→16 convolutions 4 × 2,320 + 4 × 32; stage 2,
    // 16→32 4,640, three 32→32 3 × 9,248, projection 544, 4 × 64; stage 3, 32→64 18,496,
    // three 64→64 3 × 36,928, projection 2,112, 4 × 128; Dense(10) 650.
    let params = model.summary().0.params();
    assert_eq!(params.total(), 176_554);
    assert_eq!((params.trainable, params.non_trainable), (175_626, 928));
    assert_eq!(model.num_params(), 176_554);
    let x = Tensor::<B, 4>::zeros([2, 3, 32, 32], &device);
    assert_eq!(model.forward(x).dims(), [2, 10]);
}

/// The README shows this architecture's summary (its declaration there adds an `l2`
/// regularizer, which adds no parameters) as the user sees it; the two must not drift.
#[test]
fn the_readme_shows_the_real_summary() {
    let readme = include_str!("../README.md");
    let shown = readme
        .split("```text\n")
        .find(|block| block.starts_with("Model: \"MnistCnn\""))
        .and_then(|block| block.split("```").next())
        .expect("the README shows MnistCnn's summary");
    let summary = MnistCnn::<B>::new(&Default::default())
        .summary()
        .to_string();
    assert_eq!(shown.trim_end(), summary.trim_end());
}
