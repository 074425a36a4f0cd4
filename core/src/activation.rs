//! Activation functions by their Keras names, on tensors of any rank.

use burn::tensor::activation as act;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::Activation;

/// Keras's SELU constants (Klambauer et al. 2017), as `keras.activations.selu` uses.
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
/// Keras 3's default negative slope of `leaky_relu`.
const LEAKY_RELU_SLOPE: f64 = 0.2;

/// Applies `activation` to `x`; softmax runs along the last axis, as in Keras.
///
/// ```
/// use burn::backend::Flex;
/// use burn::tensor::Tensor;
/// use kiln_core::activation::apply;
/// use kiln_spec::Activation;
/// let x = Tensor::<Flex, 1>::from_floats([-1.0, 0.0, 2.0], &Default::default());
/// let y = apply(Activation::Relu, x).into_data().to_vec::<f32>().unwrap();
/// assert_eq!(y, [0.0, 0.0, 2.0]);
/// ```
#[inline]
pub fn apply<B: Backend, const D: usize>(activation: Activation, x: Tensor<B, D>) -> Tensor<B, D> {
    match activation {
        Activation::Relu => act::relu(x),
        Activation::Sigmoid => act::sigmoid(x),
        Activation::Tanh => act::tanh(x),
        Activation::Softmax => act::softmax(x, D - 1),
        Activation::Elu => act::elu(x, 1.0),
        Activation::Selu => {
            // selu = scale · elu(x, alpha), the exact Keras definition.
            act::elu(x, SELU_ALPHA).mul_scalar(SELU_SCALE)
        }
        Activation::Gelu => act::gelu(x),
        Activation::LeakyRelu => act::leaky_relu(x, LEAKY_RELU_SLOPE),
        Activation::Softplus => act::softplus(x, 1.0),
        Activation::Swish => act::silu(x),
        Activation::Relu6 => x.clamp(0.0, 6.0),
        // relu6(x + 3) / 6 = max(0, min(1, x/6 + 1/2)).
        Activation::HardSigmoid => act::hard_sigmoid(x, 1.0 / 6.0, 0.5),
        Activation::HardSilu => act::hard_swish(x),
        Activation::Softsign => act::softsign(x),
        Activation::Exponential => x.exp(),
        Activation::Mish => act::mish(x),
        Activation::Linear => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, assert_close, floats};

    #[test]
    fn values_match_keras() {
        // Expected values: Keras's definitions (keras.activations, Keras 3) evaluated in
        // Python's `math` at x = [-2, -0.5, 0, 1.5].
        let x = [-2.0, -0.5, 0.0, 1.5];
        let cases: [(Activation, [f32; 4]); 16] = [
            (Activation::Relu, [0.0, 0.0, 0.0, 1.5]),
            (
                Activation::Sigmoid,
                [0.119_202_92, 0.377_540_67, 0.5, 0.817_574_5],
            ),
            (
                Activation::Tanh,
                [-0.964_027_6, -0.462_117_16, 0.0, 0.905_148_25],
            ),
            (Activation::Elu, [-0.864_664_72, -0.393_469_34, 0.0, 1.5]),
            (
                Activation::Selu,
                [-1.520_166_5, -0.691_758_2, 0.0, 1.576_051_5],
            ),
            (
                Activation::Gelu,
                [-0.045_500_26, -0.154_268_77, 0.0, 1.399_789_2],
            ),
            (Activation::LeakyRelu, [-0.4, -0.1, 0.0, 1.5]),
            (
                Activation::Softplus,
                [0.126_928_01, 0.474_077, std::f32::consts::LN_2, 1.701_413_3],
            ),
            (
                Activation::Swish,
                [-0.238_405_84, -0.188_770_33, 0.0, 1.226_361_8],
            ),
            (Activation::Linear, [-2.0, -0.5, 0.0, 1.5]),
            // Keras 3.15's keras.activations on the same values.
            (Activation::Relu6, [0.0, 0.0, 0.0, 1.5]),
            (Activation::HardSigmoid, [1.0 / 6.0, 5.0 / 12.0, 0.5, 0.75]),
            (Activation::HardSilu, [-1.0 / 3.0, -5.0 / 24.0, 0.0, 1.125]),
            (Activation::Softsign, [-2.0 / 3.0, -1.0 / 3.0, 0.0, 0.6]),
            (
                Activation::Exponential,
                [0.135_335_28, 0.606_530_66, 1.0, 4.481_689],
            ),
            (
                Activation::Mish,
                [-0.252_501_46, -0.220_743_78, 0.0, 1.403_378_1],
            ),
        ];
        for (a, want) in cases {
            let got = floats(apply(
                a,
                Tensor::<TestBackend, 1>::from_floats(x, &Default::default()),
            ));
            assert_close(&got, &want, 1e-5, a.name());
        }
    }

    #[test]
    fn the_piecewise_activations_saturate_as_keras_s() {
        // Keras 3.15 at x = [-4, 4, 7].
        let x = [-4.0, 4.0, 7.0];
        let cases = [
            (Activation::Relu6, [0.0, 4.0, 6.0]),
            (Activation::HardSigmoid, [0.0, 1.0, 1.0]),
            (Activation::HardSilu, [0.0, 4.0, 7.0]),
        ];
        for (a, want) in cases {
            let got = floats(apply(
                a,
                Tensor::<TestBackend, 1>::from_floats(x, &Default::default()),
            ));
            assert_close(&got, &want, 1e-6, a.name());
        }
    }

    #[test]
    fn softmax_runs_along_the_last_axis() {
        let x = Tensor::<TestBackend, 2>::from_floats(
            [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]],
            &Default::default(),
        );
        let got = floats(apply(Activation::Softmax, x));
        let want = [
            0.090_030_57,
            0.244_728_48,
            0.665_240_94,
            1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
        ];
        assert_close(&got, &want, 1e-6, "softmax");
    }
}
