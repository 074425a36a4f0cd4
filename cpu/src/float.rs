//! The float ops KilnCpu implements itself (the generated `delegate.rs` calls these by
//! name).

use burn_backend::ops::{FloatTensorOps, IntTensorOps};
use burn_backend::tensor::{Device, FloatTensor};
use burn_backend::{Bytes, DType, Distribution, FloatDType, IntDType, Shape};
use burn_flex::{Flex, FlexTensor, Layout};
use rayon::prelude::*;

use crate::gemm::{Matrix, MatrixMut, Threads, gemm};
use crate::memory::{keep_freed_memory, zeros};
use crate::module::from_values;

/// Elements drawn from one stream position onward by one task: the values depend on
/// the seed and the element's index only, never on the thread count.
const CHUNK: usize = 1 << 14;

/// A uniform draw in [0, 1) for element `index` of the stream `seed`: SplitMix64's
/// output function on the element's counter, its top 24 bits as an f32 mantissa.
fn uniform(seed: u64, index: u64) -> f32 {
    let mut z = seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

/// A uniform draw `u` and two parameters to a distribution's value.
type Draw = fn(f64, f64, f64) -> f64;

/// Random f32 values, drawn in parallel for the distributions a training step draws
/// from (dropout's Bernoulli masks, uniform noise); others, and other float types, come
/// from Flex's own serial generator. The parallel draws take their seed from Flex's
/// generator, so `Backend::seed` makes them reproducible.
pub(crate) fn float_random(
    shape: Shape,
    distribution: Distribution,
    device: &Device<Flex>,
    dtype: FloatDType,
) -> FloatTensor<Flex> {
    // A uniform draw u in [0, 1) becomes the distribution's value: (parameters, map).
    let (a, b, map): (f64, f64, Draw) = match distribution {
        Distribution::Bernoulli(p) => (p, 0.0, |u, p, _| f64::from(u8::from(u < p))),
        Distribution::Uniform(low, high) => (low, high, |u, low, high| low + (high - low) * u),
        Distribution::Default => (0.0, 1.0, |u, _, _| u),
        Distribution::Normal(..) => return Flex::float_random(shape, distribution, device, dtype),
    };
    if !matches!(dtype, FloatDType::F32 | FloatDType::Flex32) {
        return Flex::float_random(shape, distribution, device, dtype);
    }
    // Often a program's first parallel op (a model's initial weights): before rayon's
    // threads start.
    keep_freed_memory();
    let seed = stream_seed(device);
    let mut values = zeros(shape.num_elements());
    values
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let first = (chunk * CHUNK) as u64;
            for (i, v) in values.iter_mut().enumerate() {
                *v = map(f64::from(uniform(seed, first + i as u64)), a, b) as f32;
            }
        });
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        DType::F32,
    )
}

/// 64 random bits from Flex's generator (seeded by `Backend::seed`).
fn stream_seed(device: &Device<Flex>) -> u64 {
    let halves = Flex::int_random(
        Shape::new([2]),
        Distribution::Uniform(0.0, 4_294_967_296.0),
        device,
        IntDType::I64,
    );
    let halves = halves.to_contiguous();
    let halves: &[i64] = halves.storage();
    ((halves[0] as u64) << 32) | (halves[1] as u64 & 0xFFFF_FFFF)
}

/// The matrix product: f32 matrices (rank 2, any non-negative strides, such as a
/// transposed view) through [`product`]; the rest (batches, other float types) through
/// Flex.
pub(crate) fn float_matmul(lhs: FloatTensor<Flex>, rhs: FloatTensor<Flex>) -> FloatTensor<Flex> {
    let ours = matrix(&lhs)
        .zip(matrix(&rhs))
        .and_then(|(a, b)| product(a, b, None));
    ours.unwrap_or_else(|| Flex::float_matmul(lhs, rhs))
}

/// `a · b`, plus `bias` on every row, as a new tensor, on every core, or `None` where
/// the shapes do not fit (Flex's op then says what is wrong). Flex allocates a
/// product's output as bytes and then copies it to align it, both on the calling thread:
/// for a dense layer's weight gradient, megabytes twice over while the other cores wait.
/// The bias is added after the product, as Flex adds it: `gemm` adding the product to a
/// bias written first rounds differently on some shapes (its accumulators start from it).
/// The first product (every trained model with a dense layer runs one) also sets the
/// allocator to keep freed memory (`crate::memory`).
pub(crate) fn product(a: Matrix, b: Matrix, bias: Option<&[f32]>) -> Option<FlexTensor> {
    let ([m, k], [k_b, n]) = (a.dims(), b.dims());
    if k != k_b || bias.is_some_and(|bias| bias.len() != n) {
        return None;
    }
    keep_freed_memory();
    let mut values = zeros(m * n);
    gemm(
        MatrixMut::rows(&mut values, m, n),
        false,
        a,
        b,
        Threads::All,
    );
    if let Some(bias) = bias {
        for row in values.chunks_exact_mut(n) {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    }
    Some(from_values(values, Shape::new([m, n])))
}

/// An f32 tensor of rank 2 with non-negative strides, as a matrix over its storage.
pub(crate) fn matrix(tensor: &FlexTensor) -> Option<Matrix<'_>> {
    let layout = tensor.layout();
    let (&[rows, cols], &[row_stride, col_stride]) = (layout.shape().as_slice(), layout.strides())
    else {
        return None;
    };
    if tensor.dtype() != DType::F32 {
        return None;
    }
    let data = tensor.storage::<f32>().get(layout.start_offset()..)?;
    Matrix::new(
        data,
        rows,
        cols,
        usize::try_from(row_stride).ok()?,
        usize::try_from(col_stride).ok()?,
    )
}
