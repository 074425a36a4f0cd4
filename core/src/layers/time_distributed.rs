//! TimeDistributed: its layer's step on the steps folded into the batch; its module is
//! the wrapped Dense's, the only kind with weights kiln-spec lets it wrap.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::TimeDistributed;
use kiln_spec::{Layer, Shape, kinds};

use super::{Stateful, dropout, step};
use crate::dyn_tensor::DynTensor;

/// `t` with the dimensions `dims` (the same number of elements), of their rank.
fn shaped<B: Backend>(t: DynTensor<B>, dims: &[usize]) -> DynTensor<B> {
    fn to<B: Backend, const D: usize>(t: DynTensor<B>, dims: &[usize]) -> Tensor<B, D> {
        let mut shape = [0; D];
        shape.copy_from_slice(dims);
        match t {
            DynTensor::R2(x) => x.reshape(shape),
            DynTensor::R3(x) => x.reshape(shape),
            DynTensor::R4(x) => x.reshape(shape),
        }
    }
    match dims.len() {
        2 => DynTensor::R2(to(t, dims)),
        3 => DynTensor::R3(to(t, dims)),
        _ => DynTensor::R4(to(t, dims)),
    }
}

impl<B: Backend> Stateful<B> for kinds::TimeDistributed {
    type Module = Option<Linear<B>>;

    fn init(l: &TimeDistributed, input: &Shape, device: &B::Device) -> Option<Linear<B>> {
        let Layer::Dense(dense) = &*l.layer else {
            return None;
        };
        let step = Shape::new(input.dims().iter().skip(1).copied());
        Some(<kinds::Dense as Stateful<B>>::init(dense, &step, device))
    }

    fn forward(
        l: &TimeDistributed,
        module: &Option<Linear<B>>,
        t: DynTensor<B>,
        training: bool,
    ) -> DynTensor<B> {
        // [batch, steps, ...] → [batch · steps, ...] → the layer → [batch, steps, ...].
        let dims = t.dims();
        let (batch, steps) = (dims[0], dims[1]);
        let folded: Vec<usize> = [batch * steps]
            .into_iter()
            .chain(dims[2..].iter().copied())
            .collect();
        let folded = shaped(t, &folded);
        let y = match (&*l.layer, module) {
            (Layer::Dense(dense), Some(linear)) => {
                <kinds::Dense as Stateful<B>>::forward(dense, linear, folded, training)
            }
            // Dropout's module is its rate alone.
            (Layer::Dropout(d), _) => {
                <kinds::Dropout as Stateful<B>>::forward(d, &dropout(d.rate), folded, training)
            }
            (layer, _) => step(layer, None, folded, training),
        };
        let out: Vec<usize> = [batch, steps]
            .into_iter()
            .chain(y.dims()[1..].iter().copied())
            .collect();
        shaped(y, &out)
    }

    fn kernel_and_bias(module: &Option<Linear<B>>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        module
            .as_ref()
            .and_then(<kinds::Dense as Stateful<B>>::kernel_and_bias)
    }
}
