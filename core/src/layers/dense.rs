//! Dense: burn-nn's `Linear` with Keras's initializers.

use burn::module::Initializer;
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Shape, kinds, layers};

use super::{Stateful, size};
use crate::dyn_tensor::{DynTensor, each_rank};

/// A Dense layer of `units` outputs on `features` inputs: a Glorot-uniform kernel and a
/// zero bias, as `keras.layers.Dense` starts.
///
/// # Shapes
/// - input: `[batch, ..., features]`
/// - output: `[batch, ..., units]`
pub fn dense<B: Backend>(
    features: usize,
    units: usize,
    use_bias: bool,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: Initializer::XavierUniform { gain: 1.0 }.init_with(
            [features, units],
            Some(features),
            Some(units),
            device,
        ),
        bias: use_bias.then(|| Initializer::Zeros.init([units], device)),
    }
}

impl<B: Backend> Stateful<B> for kinds::Dense {
    type Module = Linear<B>;

    fn init(l: &layers::Dense, input: &Shape, device: &B::Device) -> Linear<B> {
        let features = size(input, input.rank().saturating_sub(1));
        dense(features, l.units, l.weights.use_bias, device)
    }

    fn forward(_: &layers::Dense, l: &Linear<B>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        each_rank!(t, |x| l.forward(x))
    }

    fn kernel_and_bias(m: &Linear<B>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        Some((
            m.weight.val().reshape([-1]),
            m.bias.as_ref().map(|b| b.val()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, floats};
    use burn::tensor::Tensor;

    #[test]
    fn starts_like_keras() {
        let layer = dense::<TestBackend>(784, 128, true, &Default::default());
        let w = floats(layer.weight.val());
        // Glorot uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).
        let limit = (6.0f32 / (784.0 + 128.0)).sqrt();
        assert!(w.iter().all(|v| v.abs() <= limit));
        assert!(w.iter().any(|v| v.abs() > limit / 2.0));
        assert!(floats(layer.bias.unwrap().val()).iter().all(|&b| b == 0.0));
        assert!(
            dense::<TestBackend>(3, 2, false, &Default::default())
                .bias
                .is_none()
        );
    }

    #[test]
    fn computes_x_w_plus_b() {
        let mut layer = dense::<TestBackend>(2, 1, true, &Default::default());
        let device = Default::default();
        layer.weight =
            burn::module::Param::from_tensor(Tensor::from_floats([[2.0], [3.0]], &device));
        layer.bias = Some(burn::module::Param::from_tensor(Tensor::from_floats(
            [0.5],
            &device,
        )));
        let y = layer.forward(Tensor::<TestBackend, 2>::from_floats(
            [[1.0, 1.0], [0.0, -1.0]],
            &device,
        ));
        assert_eq!(floats(y), [5.5, -2.5]);
    }
}
