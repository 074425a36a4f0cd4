//! LayerNormalization: burn-nn's `LayerNorm` (one backend op), over the features Keras's
//! `axis = -1` names: an image's channels, a sequence's or a vector's features.

use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Shape, feature_axis, kinds, layers};

use super::{Stateful, size};
use crate::dyn_tensor::{DynTensor, each_rank};

/// A LayerNormalization over `features`: `gamma` at one, `beta` (when `center`) at zero,
/// as `keras.layers.LayerNormalization` starts.
pub fn layer_normalization<B: Backend>(
    features: usize,
    epsilon: f64,
    center: bool,
    device: &B::Device,
) -> LayerNorm<B> {
    LayerNormConfig::new(features)
        .with_epsilon(epsilon)
        .with_bias(center)
        .init(device)
}

/// Each position's features normalized. burn-nn normalizes the last dimension, so an
/// image's channels (`[batch, channels, height, width]`) are moved there and back.
pub fn layer_norm<B: Backend, const D: usize>(ln: &LayerNorm<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    if D == 4 {
        return ln.forward(x.swap_dims(1, 3)).swap_dims(1, 3);
    }
    ln.forward(x)
}

impl<B: Backend> Stateful<B> for kinds::LayerNormalization {
    type Module = LayerNorm<B>;

    fn init(l: &layers::LayerNormalization, input: &Shape, device: &B::Device) -> LayerNorm<B> {
        let features = size(input, feature_axis(input.rank()));
        layer_normalization(features, l.epsilon, l.center, device)
    }

    fn forward(
        _: &layers::LayerNormalization,
        ln: &LayerNorm<B>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        each_rank!(t, |x| layer_norm(ln, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, assert_close, floats};

    #[test]
    fn normalizes_each_position_s_features_as_keras() {
        let device = Default::default();
        // keras.layers.LayerNormalization() on the features [1, 2, 3]: mean 2, variance
        // 2/3, so ±1 / sqrt(2/3 + 0.001).
        let ln = layer_normalization::<TestBackend>(3, 1e-3, true, &device);
        let v = Tensor::<TestBackend, 2>::from_floats([[1., 2., 3.]], &device);
        let d = 1.0 / (2.0f32 / 3.0 + 1e-3).sqrt();
        assert_close(&floats(layer_norm(&ln, v)), &[-d, 0.0, d], 1e-5, "vector");
        // An image of 2 channels and 1x2 pixels, channels first: the pixels' channel pairs
        // (1, 3) and (4, 2) each normalize to ±1 / sqrt(1 + 0.001).
        let ln = layer_normalization::<TestBackend>(2, 1e-3, false, &device);
        assert!(ln.beta.is_none());
        let image =
            Tensor::<TestBackend, 1>::from_floats([1., 4., 3., 2.], &device).reshape([1, 2, 1, 2]);
        let e = 1.0 / (1.0f32 + 1e-3).sqrt();
        assert_close(
            &floats(layer_norm(&ln, image)),
            &[-e, e, e, -e],
            1e-5,
            "image",
        );
    }
}
