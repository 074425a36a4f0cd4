//! TimeDistributed: its layer's step on the steps folded into the batch; its module is
//! the wrapped Dense's, the only kind with weights kiln-spec lets it wrap.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::TimeDistributed;
use kiln_spec::{Layer, Shape, kinds};

use super::{Stateful, dropout, step};
use crate::dyn_tensor::DynTensor;

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
        let sizes = |lead: &[usize], rest: &[usize]| -> Vec<i32> {
            lead.iter().chain(rest).map(|&n| n as i32).collect()
        };
        let folded = t.reshape(&sizes(&[batch * steps], &dims[2..]));
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
        let out = sizes(&[batch, steps], &y.dims()[1..]);
        y.reshape(&out)
    }

    fn kernel_and_bias(module: &Option<Linear<B>>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        module
            .as_ref()
            .and_then(<kinds::Dense as Stateful<B>>::kernel_and_bias)
    }
}
