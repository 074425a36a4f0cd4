//! Flatten, Reshape, Permute and RepeatVector: the batch dimension kept, the rest given a
//! new shape or layout.

use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::{Flatten, Permute, RepeatVector, Reshape};
use kiln_spec::{kinds, layers};

use super::{Run, RuntimeLayer};
use crate::dyn_tensor::{DynTensor, each_rank};

/// Flattens each example.
///
/// # Shapes
/// - input: `[batch, ...]`
/// - output: `[batch, elements]`
pub fn flatten<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, 2> {
    x.reshape([0, -1])
}

/// Each example's dimensions in the order `dims` gives, counted from 1 as Keras does (the
/// batch stays first).
///
/// # Shapes
/// - input: `[batch, d1, ..., dn]`
/// - output: `[batch, d(dims[0]), ..., d(dims[n-1])]`
pub fn permute<B: Backend, const D: usize>(x: Tensor<B, D>, dims: &[usize]) -> Tensor<B, D> {
    let mut axes = [0; D];
    for (axis, &d) in axes[1..].iter_mut().zip(dims) {
        *axis = d;
    }
    x.permute(axes)
}

/// Each vector repeated `n` times.
///
/// # Shapes
/// - input: `[batch, features]`
/// - output: `[batch, n, features]`
pub fn repeat_vector<B: Backend>(x: Tensor<B, 2>, n: usize) -> Tensor<B, 3> {
    x.unsqueeze_dim::<3>(1).repeat_dim(1, n)
}

impl<B: Backend> Run<B> for kinds::Flatten {
    fn step(_: &Flatten, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R2(match t {
            DynTensor::R2(x) => x,
            DynTensor::R3(x) => flatten(x),
            DynTensor::R4(x) => flatten(x),
        })
    }
}

/// Identity and ActivityRegularization give their input on unchanged (the second's
/// penalty is its epilogue's, as an activity regularizer's).
macro_rules! unchanged {
    ($($kind:ident($config:ident)),*) => {$(
        impl<B: Backend> Run<B> for kinds::$kind {
            fn step(
                _: &layers::$config,
                _: Option<&RuntimeLayer<B>>,
                t: DynTensor<B>,
                _: bool,
            ) -> DynTensor<B> {
                t
            }
        }
    )*};
}

unchanged!(
    Identity(Identity),
    ActivityRegularization(ActivityRegularization)
);

impl<B: Backend> Run<B> for kinds::Reshape {
    fn step(r: &Reshape, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        // The batch kept (0), the one open size inferred (-1).
        let shape: Vec<i32> = std::iter::once(0)
            .chain(r.target_shape.iter().map(|d| d.map_or(-1, |n| n as i32)))
            .collect();
        t.reshape(&shape)
    }
}

impl<B: Backend> Run<B> for kinds::Permute {
    fn step(p: &Permute, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        each_rank!(t, |x| permute(x, &p.dims))
    }
}

impl<B: Backend> Run<B> for kinds::RepeatVector {
    fn step(
        r: &RepeatVector,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        DynTensor::R3(repeat_vector(t.get(), r.n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, floats};

    #[test]
    fn keeps_the_batch() {
        let x = Tensor::<TestBackend, 4>::zeros([2, 3, 4, 5], &Default::default());
        assert_eq!(flatten(x.clone()).dims(), [2, 60]);
        let x = DynTensor::R4(x);
        assert_eq!(x.clone().reshape(&[0, 12, -1]).dims(), [2, 12, 5]);
        assert_eq!(x.reshape(&[0, 60]).dims(), [2, 60]);
    }

    #[test]
    fn permute_and_repeat_move_values_as_keras() {
        let device = Default::default();
        // One example [[1, 2, 3], [4, 5, 6]]; Permute((2, 1)) transposes it.
        let x = Tensor::<TestBackend, 1>::from_floats([1., 2., 3., 4., 5., 6.], &device)
            .reshape([1, 2, 3]);
        let y = permute(x, &[2, 1]);
        assert_eq!(y.dims(), [1, 3, 2]);
        assert_eq!(floats(y), [1., 4., 2., 5., 3., 6.]);
        // RepeatVector(2) on the vectors [1, 2] and [3, 4].
        let v = Tensor::<TestBackend, 2>::from_floats([[1., 2.], [3., 4.]], &device);
        let y = repeat_vector(v, 2);
        assert_eq!(y.dims(), [2, 2, 2]);
        assert_eq!(floats(y), [1., 2., 1., 2., 3., 4., 3., 4.]);
    }
}
