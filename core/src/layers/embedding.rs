//! Embedding: burn-nn's `Embedding` with Keras's initializer, fed the model's float input
//! as token ids (the trainer checks they are whole numbers below `input_dim`).

use burn::module::Initializer;
use burn::nn::Embedding;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Shape, kinds, layers};

use super::Stateful;
use crate::dyn_tensor::DynTensor;

/// An Embedding of `input_dim` vectors of `output_dim`, drawn from U(-0.05, 0.05) as
/// `keras.layers.Embedding` starts.
pub fn embedding<B: Backend>(
    input_dim: usize,
    output_dim: usize,
    device: &B::Device,
) -> Embedding<B> {
    Embedding {
        weight: Initializer::Uniform {
            min: -0.05,
            max: 0.05,
        }
        .init([input_dim, output_dim], device),
    }
}

/// The vectors of the ids in `x` (`[batch, timesteps]` whole numbers):
/// `[batch, timesteps, output_dim]`.
pub fn embed<B: Backend>(layer: &Embedding<B>, x: Tensor<B, 2>) -> Tensor<B, 3> {
    layer.forward(x.int())
}

impl<B: Backend> Stateful<B> for kinds::Embedding {
    type Module = Embedding<B>;

    fn init(l: &layers::Embedding, _: &Shape, device: &B::Device) -> Embedding<B> {
        embedding(l.input_dim, l.output_dim, device)
    }

    fn forward(_: &layers::Embedding, e: &Embedding<B>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R3(embed(e, t.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend as T, floats};
    use burn::module::Param;

    #[test]
    fn looks_up_each_id_s_row() {
        let device = Default::default();
        let mut layer = embedding::<T>(3, 2, &device);
        assert!(floats(layer.weight.val()).iter().all(|v| v.abs() <= 0.05));
        layer.weight = Param::from_tensor(Tensor::from_floats(
            [[0.0, 1.0], [10.0, 11.0], [20.0, 21.0]],
            &device,
        ));
        let ids = Tensor::<T, 2>::from_floats([[2.0, 0.0, 1.0]], &device);
        assert_eq!(
            floats(embed(&layer, ids)),
            [20.0, 21.0, 0.0, 1.0, 10.0, 11.0]
        );
    }
}
