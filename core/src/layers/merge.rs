//! The merges of the functional form, on tensors of one rank: Add, Multiply, Average,
//! Maximum and Concatenate, as Keras computes them.

use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{kinds, layers};

use super::{Run, RuntimeLayer};
use crate::dyn_tensor::DynTensor;

/// How a merge combines its tensors: kiln-spec's, which says which each layer is
/// ([`Layer::merge_op`](kiln_spec::Layer::merge_op)).
pub use kiln_spec::layers::MergeOp as Merge;

/// `first` merged with `rest` (kiln-spec sees to it that there is at least one more).
pub fn merge<B: Backend, const D: usize>(
    merge: Merge,
    first: Tensor<B, D>,
    rest: Vec<Tensor<B, D>>,
) -> Tensor<B, D> {
    let count = rest.len() + 1;
    match merge {
        Merge::Add => rest.into_iter().fold(first, |a, b| a + b),
        Merge::Multiply => rest.into_iter().fold(first, |a, b| a * b),
        Merge::Average => rest
            .into_iter()
            .fold(first, |a, b| a + b)
            .div_scalar(count as f64),
        Merge::Maximum => rest.into_iter().fold(first, |a, b| a.max_pair(b)),
        Merge::Subtract => rest.into_iter().fold(first, |a, b| a - b),
        Merge::Minimum => rest.into_iter().fold(first, |a, b| a.min_pair(b)),
        Merge::Concatenate { dim } => {
            let mut all = Vec::with_capacity(count);
            all.push(first);
            all.extend(rest);
            Tensor::cat(all, dim)
        }
    }
}

/// The merges' steps on a single tensor, which is its own sum, product, mean, maximum or
/// concatenation; the graph merges several tensors with [`merge`] before any step.
macro_rules! one_tensor {
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

one_tensor!(
    Add(Merge),
    Multiply(Merge),
    Average(Merge),
    Maximum(Merge),
    Subtract(Merge),
    Minimum(Merge),
    Concatenate(Concatenate)
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use burn::tensor::TensorData;

    fn t(rows: [[f32; 2]; 1]) -> Tensor<CpuBackend, 2> {
        Tensor::from_data(TensorData::from(rows), &Default::default())
    }

    #[test]
    fn each_merge_computes_as_keras() {
        let (a, b, c) = (t([[1.0, -2.0]]), t([[3.0, 5.0]]), t([[2.0, 0.0]]));
        let cases = [
            (Merge::Add, vec![6.0, 3.0]),
            (Merge::Multiply, vec![6.0, -0.0]),
            (Merge::Average, vec![2.0, 1.0]),
            (Merge::Maximum, vec![3.0, 5.0]),
            (Merge::Minimum, vec![1.0, -2.0]),
            (
                Merge::Concatenate { dim: 1 },
                vec![1.0, -2.0, 3.0, 5.0, 2.0, 0.0],
            ),
        ];
        for (m, want) in cases {
            let got = merge(m, a.clone(), vec![b.clone(), c.clone()]);
            assert_eq!(got.into_data().to_vec::<f32>().unwrap(), want, "{m:?}");
        }
        // Keras's Subtract: the first minus the second.
        let got = merge(Merge::Subtract, a, vec![b]);
        assert_eq!(got.into_data().to_vec::<f32>().unwrap(), [-2.0, -7.0]);
    }
}
