//! Element-wise ops on every core: ReLU, the sigmoid and their gradients, tanh, exp and
//! log, arithmetic with a scalar, square roots and squares, and arithmetic of two
//! tensors of one shape. Flex runs
//! them on one thread, and a CNN's activations are its largest tensors (the MNIST
//! CNN's second convolution gives 4.7 million floats for a batch of 128), Adam a dozen
//! of them per weight each step: there the other cores waited. Each op computes what
//! Flex's does, in the same f32 arithmetic, so the values are Flex's bit for bit.

use burn_backend::ops::{ActivationOps, FloatTensorOps};
use burn_backend::tensor::FloatTensor;
use burn_backend::{DType, Scalar, Shape, TensorMetadata};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use crate::module::from_values;
use crate::simd::widest;
use crate::strided::GRAIN;

/// Tensors smaller than this (512 KiB) stay with Flex: one thread does them about as
/// fast as a fork and join of all (with 2¹⁵, Adam's steps on the MLP's 100,352 weights
/// made its training at batch 32 0.68× as fast).
const PARALLEL: usize = 1 << 17;

/// The whole buffer of an f32 tensor that is exactly its row-major elements, and
/// large enough to split.
fn whole(tensor: &FlexTensor) -> Option<&[f32]> {
    let n = tensor.layout().num_elements();
    let exact = tensor.layout().contiguous_offsets() == Some((0, n));
    (tensor.dtype() == DType::F32 && exact && n >= PARALLEL).then(|| &tensor.storage::<f32>()[..n])
}

/// A new tensor of `shape` from `values` computed in parallel.
fn collected(shape: Shape, values: impl IndexedParallelIterator<Item = f32>) -> FlexTensor {
    from_values(values.collect(), shape)
}

/// `op` of each element: in place when the tensor is its buffer's only owner, else
/// into a new buffer; `flex` for other tensors (see [`whole`]).
fn unary(
    tensor: FlexTensor,
    op: impl Fn(f32) -> f32 + Sync,
    flex: impl FnOnce(FlexTensor) -> FlexTensor,
) -> FlexTensor {
    let Some(values) = whole(&tensor) else {
        return flex(tensor);
    };
    if !tensor.is_unique() {
        return collected(tensor.shape(), values.par_iter().map(|&x| op(x)));
    }
    let mut tensor = tensor;
    let n = tensor.layout().num_elements();
    tensor.storage_mut::<f32>()[..n]
        .par_chunks_mut(GRAIN)
        .for_each(|chunk| {
            widest(
                #[inline(always)]
                || chunk.iter_mut().for_each(|x| *x = op(*x)),
            )
        });
    tensor
}

/// `op(l, r)` of two tensors of one shape: in place into whichever is its buffer's
/// only owner, else into a new buffer; `flex` for other tensors (see [`whole`]).
pub(crate) fn binary(
    lhs: FlexTensor,
    rhs: FlexTensor,
    op: impl Fn(f32, f32) -> f32 + Sync,
    flex: impl FnOnce(FlexTensor, FlexTensor) -> FlexTensor,
) -> FlexTensor {
    let fits = lhs.shape() == rhs.shape() && whole(&lhs).is_some() && whole(&rhs).is_some();
    if !fits {
        return flex(lhs, rhs);
    }
    let n = lhs.layout().num_elements();
    // Written into `into`, read from `from`; `swapped` when `into` is the right operand.
    let (mut into, from, swapped) = match (lhs.is_unique(), rhs.is_unique()) {
        (true, _) => (lhs, rhs, false),
        (false, true) => (rhs, lhs, true),
        (false, false) => {
            let (a, b) = (&lhs.storage::<f32>()[..n], &rhs.storage::<f32>()[..n]);
            let values = a.par_iter().zip(b).map(|(&a, &b)| op(a, b));
            return collected(lhs.shape(), values);
        }
    };
    let from = &from.storage::<f32>()[..n];
    into.storage_mut::<f32>()[..n]
        .par_chunks_mut(GRAIN)
        .zip(from.par_chunks(GRAIN))
        .for_each(|(into, from)| {
            widest(
                #[inline(always)]
                || {
                    for (x, &y) in into.iter_mut().zip(from) {
                        *x = if swapped { op(y, *x) } else { op(*x, y) };
                    }
                },
            )
        });
    into
}

/// `op(x, s)` of each element and a scalar `s` taken as f32, as Flex takes it.
fn with_scalar(
    tensor: FlexTensor,
    s: Scalar,
    op: impl Fn(f32, f32) -> f32 + Sync,
    flex: fn(FlexTensor, Scalar) -> FlexTensor,
) -> FlexTensor {
    let value = s.elem::<f64>() as f32;
    unary(tensor, move |x| op(x, value), |t| flex(t, s))
}

/// `x` where it is positive, else +0 (NaN and -0 included).
fn positive(x: f32) -> f32 {
    if x > 0.0 { x } else { 0.0 }
}

pub(crate) fn relu(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    unary(tensor, positive, Flex::relu)
}

/// `grad` where `output` (ReLU's) is positive, else 0.
pub(crate) fn relu_backward(
    output: FloatTensor<Flex>,
    grad: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    binary(
        output,
        grad,
        |o, g| if o > 0.0 { g } else { 0.0 },
        Flex::relu_backward,
    )
}

/// Flex's sigmoid, in two halves so that `exp` never overflows.
fn sigmoid_of(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub(crate) fn sigmoid(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    unary(tensor, sigmoid_of, Flex::sigmoid)
}

/// `grad · s · (1 - s)` of the sigmoid's output `s`, as Flex multiplies.
pub(crate) fn sigmoid_backward(
    output: FloatTensor<Flex>,
    grad: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    binary(
        output,
        grad,
        |s, g| g * s * (1.0 - s),
        Flex::sigmoid_backward,
    )
}

pub(crate) fn float_tanh(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    unary(tensor, f32::tanh, Flex::float_tanh)
}

pub(crate) fn float_exp(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    unary(tensor, f32::exp, Flex::float_exp)
}

pub(crate) fn float_log(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    unary(tensor, f32::ln, Flex::float_log)
}

pub(crate) fn float_add_scalar(lhs: FloatTensor<Flex>, rhs: Scalar) -> FloatTensor<Flex> {
    with_scalar(lhs, rhs, |a, b| a + b, Flex::float_add_scalar)
}

pub(crate) fn float_sub_scalar(lhs: FloatTensor<Flex>, rhs: Scalar) -> FloatTensor<Flex> {
    with_scalar(lhs, rhs, |a, b| a - b, Flex::float_sub_scalar)
}

pub(crate) fn float_mul_scalar(lhs: FloatTensor<Flex>, rhs: Scalar) -> FloatTensor<Flex> {
    with_scalar(lhs, rhs, |a, b| a * b, Flex::float_mul_scalar)
}

pub(crate) fn float_div_scalar(lhs: FloatTensor<Flex>, rhs: Scalar) -> FloatTensor<Flex> {
    with_scalar(lhs, rhs, |a, b| a / b, Flex::float_div_scalar)
}

pub(crate) fn float_sqrt(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    unary(tensor, f32::sqrt, Flex::float_sqrt)
}

/// Squares (`Tensor::square`, which Adam takes of every gradient) in parallel, as
/// `x · x` like Flex; other powers by Flex.
pub(crate) fn float_powi_scalar(lhs: FloatTensor<Flex>, rhs: Scalar) -> FloatTensor<Flex> {
    // Flex's exponent: the scalar truncated to an integer.
    let square = match rhs {
        Scalar::Int(n) => n == 2,
        Scalar::UInt(n) => n == 2,
        Scalar::Float(x) => x.trunc() == 2.0,
        Scalar::Bool(_) => false,
    };
    if square {
        unary(lhs, |x| x * x, |t| Flex::float_powi_scalar(t, rhs))
    } else {
        Flex::float_powi_scalar(lhs, rhs)
    }
}
