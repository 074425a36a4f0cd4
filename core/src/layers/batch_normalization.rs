//! BatchNormalization: burn-nn's `BatchNorm` with Keras's momentum convention.

use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::backend::Backend;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestAutodiff, floats};
    use burn::tensor::Tensor;

    #[test]
    fn moving_averages_follow_keras_momentum() {
        // Keras: moving_mean = 0.9 · 0 + 0.1 · batch_mean after one training step.
        let device = Default::default();
        let bn = batch_normalization::<TestAutodiff>(1, 0.9, 1e-3, &device);
        let x = Tensor::<TestAutodiff, 2>::from_floats([[1.0], [3.0]], &device);
        let y = bn.forward(x);
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
}
