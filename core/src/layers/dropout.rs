//! Dropout: burn-nn's `Dropout`.

use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use kiln_spec::{Shape, kinds, layers};

use super::Stateful;
use crate::dyn_tensor::{DynTensor, each_rank};

/// A Dropout layer dropping `rate` of its inputs while training (on an autodiff backend)
/// and passing them through unchanged at inference.
///
/// # Panics
/// When `rate` is outside `[0, 1]`; kiln-spec refuses such a rate first.
pub fn dropout(rate: f64) -> Dropout {
    DropoutConfig::new(rate).init()
}

/// Dropout's step: drops while `training` (the training forward pass, on an autodiff
/// backend) and passes `x` through otherwise, as Keras's `model(x)` does.
pub fn dropout_step<B: Backend, const D: usize>(
    dropout: &Dropout,
    x: Tensor<B, D>,
    training: bool,
) -> Tensor<B, D> {
    if training { dropout.forward(x) } else { x }
}

impl<B: Backend> Stateful<B> for kinds::Dropout {
    type Module = Dropout;

    fn init(l: &layers::Dropout, _: &Shape, _: &B::Device) -> Dropout {
        dropout(l.rate)
    }

    fn forward(_: &layers::Dropout, d: &Dropout, t: DynTensor<B>, training: bool) -> DynTensor<B> {
        each_rank!(t, |x| dropout_step(d, x, training))
    }
}
