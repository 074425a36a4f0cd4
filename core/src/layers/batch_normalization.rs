//! BatchNormalization: burn-nn's `BatchNorm` with Keras's momentum convention; in
//! training on kiln's CPU backend, kiln-cpu's one-op batch normalization.

use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use kiln_spec::{Shape, feature_axis, kinds, layers};

use super::{Stateful, size};
use crate::dyn_tensor::{DynTensor, each_rank};

/// A BatchNormalization layer over `channels` (the first dimension of an example).
/// `momentum` is Keras's (the weight of the old moving average, 0.99 by default); burn's is
/// the weight of the new batch, so it gets `1 - momentum`.
///
/// # Shapes
/// - input: `[batch, channels, ...]`
/// - output: the same
pub fn batch_normalization<B: Backend>(
    channels: usize,
    momentum: f64,
    epsilon: f64,
    device: &B::Device,
) -> BatchNorm<B> {
    BatchNormConfig::new(channels)
        .with_momentum(1.0 - momentum)
        .with_epsilon(epsilon)
        .init(device)
}

/// BatchNormalization's forward step: burn-nn's `BatchNorm::forward` while `training` (the
/// training forward pass), and the moving statistics otherwise, as Keras's `model(x)`; except
/// - for a frozen layer (its scale takes no gradient) in training, which normalizes with
///   its moving statistics and keeps them, as Keras's frozen BatchNormalization does;
/// - in training on [`Cpu`](crate::backend::Cpu), where kiln-cpu's `batch_norm_training`
///   gives the same output, gradients and moving averages in two passes over the
///   activations each way (burn-nn's takes about ten).
///
/// Sequences `[batch, steps, features]` are normalized per feature, as Keras's
/// `axis = -1`; burn-nn normalizes the second dimension, so they are swapped around it.
pub fn batch_norm<B: Backend, const D: usize>(
    bn: &BatchNorm<B>,
    x: Tensor<B, D>,
    training: bool,
) -> Tensor<B, D> {
    if D == 3 {
        return per_channel(bn, x.swap_dims(1, 2), training).swap_dims(1, 2);
    }
    per_channel(bn, x, training)
}

/// [`batch_norm`] on `[batch, channels, ...]`.
fn per_channel<B: Backend, const D: usize>(
    bn: &BatchNorm<B>,
    x: Tensor<B, D>,
    training: bool,
) -> Tensor<B, D> {
    if !training || (B::ad_enabled(&x.device()) && !bn.gamma.val().is_require_grad()) {
        return inference(bn, x);
    }
    #[cfg(feature = "flex")]
    if let Some(y) = on_kiln_cpu::training(bn, x.clone()) {
        return y;
    }
    bn.forward(x)
}

/// `(x - moving mean) / sqrt(moving variance + epsilon) * gamma + beta`, per channel. The
/// moving statistics are taken to `x`'s device first, as burn-nn's layer does: replicas
/// of a model on several devices share them.
fn inference<B: Backend, const D: usize>(bn: &BatchNorm<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let mut shape = [1; D];
    shape[1] = x.dims()[1];
    let device = x.device();
    let per_channel = |t: Tensor<B, 1>| t.to_device(&device).reshape(shape);
    let scale = per_channel(bn.gamma.val())
        / per_channel(bn.running_var.value().add_scalar(bn.epsilon).sqrt());
    (x - per_channel(bn.running_mean.value())) * scale + per_channel(bn.beta.val())
}

/// The training step on `Autodiff<KilnCpu>`, reached from code generic over `B` by
/// comparing types: `None` on any other backend (or for what the fused op does not
/// take), and burn-nn's layer runs.
#[cfg(feature = "flex")]
mod on_kiln_cpu {
    use std::any::{Any, TypeId};

    use burn::module::RunningState;
    use burn::nn::BatchNorm;
    use burn::tensor::backend::{AutodiffBackend, Backend};
    use burn::tensor::{Tensor, TensorPrimitive};
    use kiln_cpu::{BatchNormOutput, TrainingTensor, batch_norm_training};

    use crate::backend::Cpu;

    /// `value` as a `U`, when `T` is `U`.
    fn same<T: 'static, U: 'static>(value: T) -> Option<U> {
        (Box::new(value) as Box<dyn Any>)
            .downcast::<U>()
            .ok()
            .map(|value| *value)
    }

    fn primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Option<TrainingTensor> {
        same(tensor.into_primitive().tensor())
    }

    fn tensor<B: Backend, const D: usize>(primitive: TrainingTensor) -> Option<Tensor<B, D>> {
        same::<_, B::FloatTensorPrimitive>(primitive)
            .map(|p| Tensor::from_primitive(TensorPrimitive::Float(p)))
    }

    pub(super) fn training<B: Backend, const D: usize>(
        bn: &BatchNorm<B>,
        x: Tensor<B, D>,
    ) -> Option<Tensor<B, D>> {
        let on_cpu = TypeId::of::<B::FloatTensorPrimitive>() == TypeId::of::<TrainingTensor>();
        if !on_cpu || !B::ad_enabled(&x.device()) {
            return None;
        }
        let BatchNormOutput {
            output,
            mean,
            variance,
        } = batch_norm_training(
            primitive(x)?,
            primitive(bn.gamma.val())?,
            primitive(bn.beta.val())?,
            bn.epsilon,
        )?;
        // burn-nn's moving averages: its momentum weighs the batch.
        let update = |state: &RunningState<Tensor<B, 1>>, batch| {
            let batch = tensor::<B, 1>(<Cpu as AutodiffBackend>::from_inner(batch))?;
            let old = state.value_sync();
            state.update(
                old.mul_scalar(1.0 - bn.momentum)
                    .add(batch.mul_scalar(bn.momentum))
                    .detach(),
            );
            Some(())
        };
        update(&bn.running_mean, mean)?;
        update(&bn.running_var, variance)?;
        tensor(output)
    }
}

impl<B: Backend> Stateful<B> for kinds::BatchNormalization {
    type Module = BatchNorm<B>;

    fn init(l: &layers::BatchNormalization, input: &Shape, device: &B::Device) -> BatchNorm<B> {
        let features = size(input, feature_axis(input.rank()));
        batch_normalization(features, l.momentum, l.epsilon, device)
    }

    fn forward(
        _: &layers::BatchNormalization,
        bn: &BatchNorm<B>,
        t: DynTensor<B>,
        training: bool,
    ) -> DynTensor<B> {
        each_rank!(t, |x| batch_norm(bn, x, training))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestAutodiff, assert_close, floats};
    use burn::tensor::Distribution;

    #[test]
    fn moving_averages_follow_keras_momentum() {
        // Keras: moving_mean = 0.9 · 0 + 0.1 · batch_mean after one training step.
        let device = Default::default();
        let bn = batch_normalization::<TestAutodiff>(1, 0.9, 1e-3, &device);
        let x = Tensor::<TestAutodiff, 2>::from_floats([[1.0], [3.0]], &device);
        let y = batch_norm(&bn, x, true);
        let mean = floats(bn.running_mean.value_sync());
        assert!((mean[0] - 0.2).abs() < 1e-6, "{mean:?}");
        // Normalised with the batch's mean 2 and variance 1: ±1 / sqrt(1 + 1e-3).
        let expected = 1.0 / (1.0f32 + 1e-3).sqrt();
        let got = floats(y);
        assert!(
            (got[0] + expected).abs() < 1e-5 && (got[1] - expected).abs() < 1e-5,
            "{got:?}"
        );
    }

    type Forward<const D: usize> =
        dyn Fn(&BatchNorm<TestAutodiff>, Tensor<TestAutodiff, D>) -> Tensor<TestAutodiff, D>;

    /// `batch_norm` against burn-nn's `BatchNorm::forward` on the same backend and
    /// layer: output, the gradients of the input, γ and β for a loss weighting each
    /// output differently, and both moving averages, all within 2e-5 relative.
    fn agrees_with_burn_nn<const D: usize>(shape: [usize; D]) {
        let device = Default::default();
        let gamma = Tensor::random([shape[1]], Distribution::Uniform(0.5, 2.0), &device);
        let beta = Tensor::random([shape[1]], Distribution::Normal(0.0, 1.0), &device);
        // Values far from zero mean, as activations are.
        let x = Tensor::<TestAutodiff, D>::random(shape, Distribution::Normal(3.0, 2.0), &device);
        let weights = x.random_like(Distribution::Normal(0.0, 1.0));
        // A fresh layer each time: clones share their moving averages.
        let run = |forward: &Forward<D>| {
            let mut layer = batch_normalization::<TestAutodiff>(shape[1], 0.9, 1e-3, &device);
            layer.gamma = layer.gamma.map(|_| gamma.clone().require_grad());
            layer.beta = layer.beta.map(|_| beta.clone().require_grad());
            let x = x.clone().require_grad();
            let y = forward(&layer, x.clone());
            let grads = (y.clone() * weights.clone()).sum().backward();
            let grad = |t: Tensor<TestAutodiff, 1>| floats(t.grad(&grads).expect("a gradient"));
            [
                floats(y),
                floats(x.grad(&grads).expect("the input's gradient")),
                grad(layer.gamma.val()),
                grad(layer.beta.val()),
                floats(layer.running_mean.value_sync()),
                floats(layer.running_var.value_sync()),
            ]
        };
        let ours = run(&|layer, x| per_channel(layer, x, true));
        let theirs = run(&|layer, x| layer.forward(x));
        let what = ["output", "dx", "dγ", "dβ", "moving mean", "moving variance"];
        for ((ours, theirs), what) in ours.iter().zip(&theirs).zip(what) {
            let scale = theirs.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            assert_close(ours, theirs, 2e-5 * scale, &format!("{what} of {shape:?}"));
        }
    }

    #[test]
    fn the_training_step_agrees_with_burn_nn_at_every_rank() {
        agrees_with_burn_nn([32, 5]);
        agrees_with_burn_nn([6, 4, 9]);
        agrees_with_burn_nn([7, 3, 5, 6]);
        agrees_with_burn_nn([4, 16, 32, 32]);
    }

    #[cfg(feature = "flex")]
    #[test]
    fn kiln_cpu_takes_the_one_op_path_in_training_only() {
        let device = Default::default();
        let x = Tensor::<crate::backend::Cpu, 4>::ones([2, 3, 4, 4], &device);
        let bn = batch_normalization(3, 0.99, 1e-3, &device);
        assert!(on_kiln_cpu::training(&bn, x.clone()).is_some());
        let inner = batch_normalization::<crate::backend::CpuBackend>(3, 0.99, 1e-3, &device);
        assert!(on_kiln_cpu::training(&inner, x.inner()).is_none());
        let flex = batch_normalization::<crate::backend::Flex>(3, 0.99, 1e-3, &device);
        let x = Tensor::<crate::backend::Flex, 4>::ones([2, 3, 4, 4], &device);
        assert!(on_kiln_cpu::training(&flex, x).is_none());
    }
}
