//! The penalties declared with `kernel_regularizer`, `bias_regularizer` and
//! `activity_regularizer`.

use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::Regularizer;

/// `l1 · sum(|w|) + l2 · sum(w²)`, as a one-element tensor.
///
/// ```
/// use burn::backend::Flex;
/// use burn::tensor::Tensor;
/// use kiln_core::regularizer::penalty;
/// use kiln_spec::Regularizer;
/// let w = Tensor::<Flex, 1>::from_floats([1.0, -2.0], &Default::default());
/// let p = penalty(Regularizer { l1: 0.5, l2: 0.1 }, w).into_scalar();
/// assert!((p - (0.5 * 3.0 + 0.1 * 5.0)).abs() < 1e-6);
/// ```
pub fn penalty<B: Backend, const D: usize>(
    regularizer: Regularizer,
    w: Tensor<B, D>,
) -> Tensor<B, 1> {
    let Regularizer { l1, l2 } = regularizer;
    match (l1 != 0.0, l2 != 0.0) {
        (true, true) => w.clone().abs().sum().mul_scalar(l1) + w.square().sum().mul_scalar(l2),
        (true, false) => w.abs().sum().mul_scalar(l1),
        (false, _) => w.square().sum().mul_scalar(l2),
    }
}

/// The activity penalty of a batch of outputs: the penalty divided by the batch size,
/// as Keras does.
pub fn activity_penalty<B: Backend, const D: usize>(
    regularizer: Regularizer,
    output: Tensor<B, D>,
) -> Tensor<B, 1> {
    let batch = output.dims()[0].max(1);
    penalty(regularizer, output).div_scalar(batch as f64)
}

/// Adds a penalty to a running total.
pub fn add<B: Backend>(total: Option<Tensor<B, 1>>, penalty: Tensor<B, 1>) -> Option<Tensor<B, 1>> {
    Some(match total {
        Some(t) => t + penalty,
        None => penalty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestBackend;

    #[test]
    fn penalties_match_their_definition() {
        let w = || {
            Tensor::<TestBackend, 2>::from_floats([[1.0, -2.0], [0.5, 0.0]], &Default::default())
        };
        // sum(|w|) = 3.5, sum(w²) = 5.25
        let cases = [
            (Regularizer::l1(0.1), 0.35),
            (Regularizer::l2(0.01), 0.0525),
            (Regularizer { l1: 0.1, l2: 0.01 }, 0.4025),
            (Regularizer { l1: 0.0, l2: 0.0 }, 0.0),
        ];
        for (r, want) in cases {
            let got = penalty(r, w()).into_scalar();
            assert!((got - want).abs() < 1e-6, "{r:?}: {got} != {want}");
        }
        let activity = activity_penalty(Regularizer::l1(0.1), w()).into_scalar();
        assert!((activity - 0.175).abs() < 1e-6, "{activity}");
    }
}
