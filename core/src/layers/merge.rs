//! The merges of the functional form, on tensors of one rank: Add, Multiply, Average,
//! Maximum and Concatenate, as Keras computes them.

use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{kinds, layers};

use super::recurrent::dims_of;
use super::{Run, RuntimeLayer, Stepped};
use crate::dyn_tensor::{DynTensor, each_rank};

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

/// Keras's Dot of `x` and the first of `more` (`x` itself when there is none), for
/// examples of one or two dimensions (`D` = 2 or 3), as kiln-spec's rule accepted them:
/// `[batch, 1]` for two vectors, `[batch, m, n]` for two sequences. Of other ranks, which
/// kiln-spec never gives it, `x` comes back unchanged.
pub fn dot<B: Backend, const D: usize>(
    l: &layers::Dot,
    x: Tensor<B, D>,
    more: Vec<Tensor<B, D>>,
) -> Tensor<B, D> {
    let (Some(y), Some([a, b])) = (more.into_iter().next(), l.dims([D - 1, D - 1])) else {
        return x;
    };
    // Each divided by its L2 norm along its axis, kept off 0 as Keras's `normalize` (the
    // squares clamped before the root, whose slope at 0 is infinite).
    let unit = |t: Tensor<B, D>, dim: usize| {
        let norm = t.clone().square().sum_dim(dim).clamp_min(1e-14).sqrt();
        t / norm
    };
    let (x, y) = if l.normalize {
        (unit(x, a + 1), unit(y, b + 1))
    } else {
        (x, y)
    };
    if D == 2 {
        return (x * y).sum_dim(1);
    }
    // kiln-spec refuses a Dot of examples of three dimensions.
    if D != 3 {
        return x;
    }
    // [batch, m, k] · [batch, k, n].
    let (dx, dy): ([usize; 3], [usize; 3]) = (dims_of(&x), dims_of(&y));
    let (x, y) = (x.reshape(dx), y.reshape(dy));
    let x = if a == 1 { x } else { x.swap_dims(1, 2) };
    let y = if b == 0 { y } else { y.swap_dims(1, 2) };
    let out = x.matmul(y);
    let dims: [usize; D] = dims_of(&out);
    out.reshape(dims)
}

/// `first` merged with `rest`, tensors of one rank (kiln-spec's check saw to it).
fn merge_any<B: Backend>(op: Merge, first: DynTensor<B>, rest: Vec<DynTensor<B>>) -> DynTensor<B> {
    let rest = rest.into_iter();
    each_rank!(first, |a| merge(op, a, rest.map(DynTensor::get).collect()))
}

/// The merges: `t` merged with the `more` tensors the graph gives it, by the merge each
/// kind's configuration gives for tensors of `t`'s rank; a single tensor is its own sum,
/// product, mean, maximum or concatenation.
macro_rules! merges {
    ($($kind:ident($config:ident) => $op:expr),* $(,)?) => {$(
        impl<B: Backend> Run<B> for kinds::$kind {
            fn step(
                _: &layers::$config,
                _: Option<&RuntimeLayer<B>>,
                t: DynTensor<B>,
                _: bool,
            ) -> DynTensor<B> {
                t
            }

            fn step_with(
                config: &layers::$config,
                _: Option<&RuntimeLayer<B>>,
                t: DynTensor<B>,
                more: Vec<DynTensor<B>>,
                _: bool,
            ) -> Stepped<B> {
                let op: fn(&layers::$config, usize) -> Option<Merge> = $op;
                match op(config, t.dims().len() - 1) {
                    Some(op) => (merge_any(op, t, more), Vec::new()),
                    // kiln-spec's rule refuses an axis outside the examples.
                    None => (t, Vec::new()),
                }
            }
        }
    )*};
}

merges! {
    Add(Merge) => |_, _| Some(Merge::Add),
    Multiply(Merge) => |_, _| Some(Merge::Multiply),
    Average(Merge) => |_, _| Some(Merge::Average),
    Maximum(Merge) => |_, _| Some(Merge::Maximum),
    Subtract(Merge) => |_, _| Some(Merge::Subtract),
    Minimum(Merge) => |_, _| Some(Merge::Minimum),
    Concatenate(Concatenate) => |c, rank| {
        c.dim_index(rank).map(|d| Merge::Concatenate { dim: d + 1 })
    },
}

impl<B: Backend> Run<B> for kinds::Dot {
    /// The graph always gives a Dot two tensors.
    fn step(
        _: &layers::Dot,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        t
    }

    /// `t`'s Dot with the first of `more`.
    fn step_with(
        l: &layers::Dot,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        more: Vec<DynTensor<B>>,
        _: bool,
    ) -> Stepped<B> {
        let more = more.into_iter();
        let out = match t {
            DynTensor::R2(x) => DynTensor::R2(dot(l, x, more.map(DynTensor::get).collect())),
            DynTensor::R3(x) => DynTensor::R3(dot(l, x, more.map(DynTensor::get).collect())),
            // kiln-spec refuses a Dot of examples of three dimensions.
            images => images,
        };
        (out, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use burn::tensor::TensorData;

    fn t(rows: [[f32; 2]; 1]) -> Tensor<CpuBackend, 2> {
        Tensor::from_data(TensorData::from(rows), &Default::default())
    }

    #[test]
    fn dot_computes_as_keras() {
        let config = |axes, normalize| layers::Dot { axes, normalize };
        let device = Default::default();
        let floats = |t: Tensor<CpuBackend, 3>| t.into_data().to_vec::<f32>().unwrap();
        // Keras 3.15: Dot(axes=1) of [1, 2, -2] and [0.5, -1, 3], with and without
        // normalize.
        let (a, b) = (t([[1.0, -2.0]]), t([[0.5, -1.0]]));
        let plain = dot(
            &config(layers::Axes::Both(1), false),
            a.clone(),
            vec![b.clone()],
        );
        assert_eq!(plain.into_data().to_vec::<f32>().unwrap(), [2.5]);
        let v = |x: [f32; 3]| Tensor::<CpuBackend, 2>::from_data(TensorData::from([x]), &device);
        let cosine = dot(
            &config(layers::Axes::Both(1), true),
            v([1.0, 2.0, -2.0]),
            vec![v([0.5, -1.0, 3.0])],
        );
        let got = cosine.into_data().to_vec::<f32>().unwrap();
        assert!((got[0] + 0.780_868_8).abs() < 1e-6, "{got:?}");
        // Sequences: A = 0..6 as (2, 3), B = 0..12 - 5 as (4, 3), C = 0..8 - 3 as (2, 4).
        let seq = |rows: usize, cols: usize, from: f32| {
            let values: Vec<f32> = (0..rows * cols).map(|i| i as f32 + from).collect();
            Tensor::<CpuBackend, 3>::from_data(TensorData::new(values, [1, rows, cols]), &device)
        };
        let last = dot(
            &config(layers::Axes::Both(2), false),
            seq(2, 3, 0.0),
            vec![seq(4, 3, -5.0)],
        );
        assert_eq!(last.dims(), [1, 2, 4]);
        assert_eq!(
            floats(last),
            [-10.0, -1.0, 8.0, 17.0, -46.0, -10.0, 26.0, 62.0]
        );
        let first = dot(
            &config(layers::Axes::Both(1), false),
            seq(2, 3, 0.0),
            vec![seq(2, 4, -3.0)],
        );
        assert_eq!(first.dims(), [1, 3, 4]);
        assert_eq!(
            floats(first),
            [
                3.0, 6.0, 9.0, 12.0, 1.0, 6.0, 11.0, 16.0, -1.0, 6.0, 13.0, 20.0
            ]
        );
        let cosines = dot(
            &config(layers::Axes::Each([2, 2]), true),
            seq(2, 3, 0.0),
            vec![seq(4, 3, -5.0)],
        );
        let want = [
            -0.632_455_5,
            -0.2,
            0.956_182_8,
            0.866_400_2,
            -0.92,
            -0.632_455_5,
            0.982_707_7,
            0.999_220_6,
        ];
        assert!(
            floats(cosines)
                .iter()
                .zip(want)
                .all(|(g, w)| (g - w).abs() < 1e-6)
        );
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
