//! PReLU: Keras's rectifier with a learned slope below 0, one per value of an example or
//! shared along some of its axes.

use burn::module::{Initializer, Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Shape, kinds, layers};

use super::Stateful;
use crate::dyn_tensor::{DynTensor, each_rank};

/// A PReLU's slopes, flattened: the example's shape with 1 along the shared axes.
#[derive(Module, Debug)]
pub struct PRelu<B: Backend> {
    /// The slope of each value below 0 (Keras's `alpha`), starting at 0 as Keras's.
    pub alpha: Param<Tensor<B, 1>>,
}

/// `relu(x) - alpha · relu(-x)`, `alpha` broadcast along the shared axes of `l`.
pub fn prelu<B: Backend, const D: usize>(
    l: &layers::PRelu,
    m: &PRelu<B>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let mut shape = [1; D];
    for (axis, size) in shape.iter_mut().enumerate().skip(1) {
        if !l.shared_axes.contains(&axis) {
            *size = dims[axis];
        }
    }
    let alpha = m.alpha.val().reshape(shape);
    relu(x.clone()) - relu(x.neg()) * alpha
}

impl<B: Backend> Stateful<B> for kinds::PReLU {
    type Module = PRelu<B>;

    fn init(l: &layers::PRelu, input: &Shape, device: &B::Device) -> PRelu<B> {
        let count: usize = l
            .alpha_shape(input)
            .iter()
            .map(|d| d.known().unwrap_or(0))
            .product();
        PRelu {
            alpha: Initializer::Zeros.init([count], device),
        }
    }

    fn forward(l: &layers::PRelu, m: &PRelu<B>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        each_rank!(t, |x| prelu(l, m, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend as T, floats};

    #[test]
    fn each_value_or_channel_has_its_slope() {
        let device = Default::default();
        // Keras 3.15: PReLU on (5,) with alpha [0, 0.5, -1, 2, 0.25] at [-2, -2, -2, 3, -4].
        let every = layers::PRelu {
            shared_axes: vec![],
        };
        let m = PRelu::<T> {
            alpha: Param::from_tensor(Tensor::from_floats([0.0, 0.5, -1.0, 2.0, 0.25], &device)),
        };
        let x = Tensor::<T, 2>::from_floats([[-2.0, -2.0, -2.0, 3.0, -4.0]], &device);
        assert_eq!(floats(prelu(&every, &m, x)), [0.0, -1.0, 2.0, 3.0, -1.0]);
        // One slope per channel of [2, 1, 2] images: shared along axes 2 and 3.
        let per_channel = layers::PRelu {
            shared_axes: vec![2, 3],
        };
        let m = PRelu::<T> {
            alpha: Param::from_tensor(Tensor::from_floats([0.5, 0.1], &device)),
        };
        let x = Tensor::<T, 4>::from_floats([[[[-2.0, 4.0]], [[-10.0, -1.0]]]], &device);
        assert_eq!(floats(prelu(&per_channel, &m, x)), [-1.0, 4.0, -1.0, -0.1]);
        let init =
            <kinds::PReLU as Stateful<T>>::init(&per_channel, &Shape::known([2, 1, 2]), &device);
        assert_eq!(floats(init.alpha.val()), [0.0, 0.0]);
    }
}
