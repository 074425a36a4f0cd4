//! Element-wise work on f32 tensors that broadcast or are strided views: arithmetic,
//! and copies into row-major order (a reshape of a permuted tensor).
//!
//! Flex runs those through a scalar, serial index walk (unless one of two layer-norm
//! patterns fits), so batch normalization, which swaps and reshapes its input and
//! multiplies it by `γ[1, C, 1, 1]`, took most of a ResNet step (BENCHMARKS.md).
//! Here the operands' strides over the output's shape (0 along a broadcast dimension)
//! are merged wherever they run on contiguously, which leaves rows of the innermost
//! run: each row is one loop with a fixed step in each operand, and the rows run in
//! parallel.

use burn_backend::ops::FloatTensorOps;
use burn_backend::tensor::FloatTensor;
use burn_backend::{DType, Shape, Slice, TensorMetadata};
use burn_flex::{Flex, FlexTensor};
use core::ops::Range;
use rayon::prelude::*;

use crate::elementwise;
use crate::memory::zeros;
use crate::module::{from_values, values};

/// Elements per parallel task, about.
pub(crate) const GRAIN: usize = 1 << 14;

pub(crate) fn float_add(lhs: FloatTensor<Flex>, rhs: FloatTensor<Flex>) -> FloatTensor<Flex> {
    broadcast(lhs, rhs, |a, b| a + b, Flex::float_add)
}

pub(crate) fn float_sub(lhs: FloatTensor<Flex>, rhs: FloatTensor<Flex>) -> FloatTensor<Flex> {
    broadcast(lhs, rhs, |a, b| a - b, Flex::float_sub)
}

pub(crate) fn float_mul(lhs: FloatTensor<Flex>, rhs: FloatTensor<Flex>) -> FloatTensor<Flex> {
    broadcast(lhs, rhs, |a, b| a * b, Flex::float_mul)
}

pub(crate) fn float_div(lhs: FloatTensor<Flex>, rhs: FloatTensor<Flex>) -> FloatTensor<Flex> {
    broadcast(lhs, rhs, |a, b| a / b, Flex::float_div)
}

/// `op` over the broadcast of two f32 tensors; two contiguous tensors of one shape
/// element by element (`elementwise::binary`); other types by `flex`.
fn broadcast(
    lhs: FlexTensor,
    rhs: FlexTensor,
    op: impl Fn(f32, f32) -> f32 + Sync + Copy,
    flex: fn(FlexTensor, FlexTensor) -> FlexTensor,
) -> FlexTensor {
    let same = lhs.shape() == rhs.shape() && lhs.is_contiguous() && rhs.is_contiguous();
    let plan = match (lhs.dtype(), rhs.dtype()) {
        (DType::F32, DType::F32) if !same => Plan::new([&lhs, &rhs]),
        _ => None,
    };
    let Some(plan) = plan else {
        return elementwise::binary(lhs, rhs, op, flex);
    };
    let (a, b) = (lhs.storage::<f32>(), rhs.storage::<f32>());
    let [sa, sb] = plan.step;
    plan.fill(|[ia, ib], out| {
        let n = out.len();
        match (sa, sb) {
            (1, 1) => {
                let (a, b) = (&a[ia as usize..][..n], &b[ib as usize..][..n]);
                for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                    *o = op(x, y);
                }
            }
            (1, 0) => {
                let (a, y) = (&a[ia as usize..][..n], b[ib as usize]);
                for (o, &x) in out.iter_mut().zip(a) {
                    *o = op(x, y);
                }
            }
            (0, 1) => {
                let (x, b) = (a[ia as usize], &b[ib as usize..][..n]);
                for (o, &y) in out.iter_mut().zip(b) {
                    *o = op(x, y);
                }
            }
            _ => {
                for (k, o) in out.iter_mut().enumerate() {
                    let k = k as isize;
                    *o = op(a[(ia + k * sa) as usize], b[(ib + k * sb) as usize]);
                }
            }
        }
    })
}

/// How to walk `N` operands over their broadcast shape: rows of `run` elements, each
/// operand advancing by `step` within a row; the rows' starts by the merged outer
/// dimensions.
struct Plan<const N: usize> {
    shape: Shape,
    /// The outer dimensions (innermost last) and each operand's stride along them.
    outer: Vec<(usize, [isize; N])>,
    run: usize,
    step: [isize; N],
    start: [isize; N],
}

impl<const N: usize> Plan<N> {
    /// The plan, or `None` when the shapes do not broadcast (Flex's op then reports
    /// it).
    fn new(operands: [&FlexTensor; N]) -> Option<Self> {
        let rank = operands[0].shape().num_dims();
        if operands.iter().any(|t| t.shape().num_dims() != rank) {
            return None;
        }
        let mut dims: Vec<(usize, [isize; N])> = Vec::with_capacity(rank);
        for d in 0..rank {
            let sizes = operands.map(|t| t.shape()[d]);
            let size = sizes.iter().copied().max().unwrap_or(1);
            if sizes.iter().any(|&n| n != size && n != 1) {
                return None;
            }
            // A dimension of size 1 never advances: stride 0, whatever the layout says.
            let strides = core::array::from_fn(|k| match sizes[k] {
                1 => 0,
                _ => operands[k].layout().strides()[d],
            });
            dims.push((size, strides));
        }
        let shape = Shape::from(dims.iter().map(|&(n, _)| n).collect::<Vec<_>>());
        // Merge each dimension into the next inner one where every operand runs on.
        let mut merged: Vec<(usize, [isize; N])> = Vec::new();
        for &(n, s) in dims.iter().filter(|&&(n, _)| n != 1) {
            match merged.last_mut() {
                Some((m, t)) if (0..N).all(|k| t[k] == s[k] * n as isize) => {
                    *m *= n;
                    *t = s;
                }
                _ => merged.push((n, s)),
            }
        }
        let (run, step) = merged.pop().unwrap_or((1, [0; N]));
        Some(Plan {
            shape,
            outer: merged,
            run,
            step,
            start: operands.map(|t| t.layout().start_offset() as isize),
        })
    }

    fn len(&self) -> usize {
        self.shape.num_elements()
    }

    /// Where row `row` starts in each operand.
    fn row_start(&self, mut row: usize) -> [isize; N] {
        let mut at = self.start;
        for &(n, s) in self.outer.iter().rev() {
            let i = (row % n) as isize;
            row /= n;
            for k in 0..N {
                at[k] += i * s[k];
            }
        }
        at
    }

    /// Fills a row-major output of the plan's shape, `row(first_index, out_row)` for
    /// each row, rows in parallel.
    fn fill(&self, row: impl Fn([isize; N], &mut [f32]) + Sync) -> FlexTensor {
        let mut out = zeros(self.len());
        let run = self.run.max(1);
        let rows_per_task = (GRAIN / run).max(1);
        out.par_chunks_mut(rows_per_task * run)
            .enumerate()
            .for_each(|(task, chunk)| {
                for (i, out) in chunk.chunks_mut(run).enumerate() {
                    row(self.row_start(task * rows_per_task + i), out);
                }
            });
        from_values(out, self.shape.clone())
    }
}

/// `tensor` in row-major order: itself when it is already, else a parallel copy (f32)
/// or Flex's copy (other types).
pub(crate) fn contiguous(tensor: &FlexTensor) -> FlexTensor {
    let whole = tensor.layout().contiguous_offsets() == Some((0, tensor.layout().num_elements()));
    if whole || tensor.dtype() != DType::F32 {
        return tensor.to_contiguous();
    }
    let Some(plan) = Plan::new([tensor]) else {
        return tensor.to_contiguous();
    };
    let src = tensor.storage::<f32>();
    let step = plan.step[0];
    plan.fill(|[at], out| match step {
        1 => out.copy_from_slice(&src[at as usize..][..out.len()]),
        _ => {
            for (k, o) in out.iter_mut().enumerate() {
                *o = src[(at + k as isize * step) as usize];
            }
        }
    })
}

/// Flex's reshape, after a parallel copy when `tensor` is a view that cannot be
/// reshaped in place (a permuted tensor).
pub(crate) fn float_reshape(tensor: FloatTensor<Flex>, shape: Shape) -> FloatTensor<Flex> {
    if tensor.layout().reshape(shape.clone()).is_some() {
        return Flex::float_reshape(tensor, shape);
    }
    Flex::float_reshape(contiguous(&tensor), shape)
}

/// Flex's `slice_assign` (`value` written over a region of `tensor`), for f32 with unit
/// steps: rows in parallel, in place when `tensor` owns its row-major buffer alone. Flex
/// writes on the calling thread, and copies the whole tensor first even then (its
/// copy-on-write finds the buffer shared with its own contiguous view of it): burn's
/// explicit padding (`Tensor::full`, then this), which Keras's `same` with stride 2
/// needs, took three serial passes over the padded activations.
pub(crate) fn float_slice_assign(
    tensor: FloatTensor<Flex>,
    slices: &[Slice],
    value: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    let Some(region) = Region::new(&tensor, slices, &value) else {
        return Flex::float_slice_assign(tensor, slices, value);
    };
    let value = contiguous(&value);
    let mut out = contiguous(&tensor);
    drop(tensor);
    let src = values(&value);
    match out.try_storage_mut::<f32>() {
        Some(dst) => region.write(src, dst),
        None => {
            let mut copy: Vec<f32> = values(&out).par_iter().copied().collect();
            region.write(src, &mut copy);
            out = from_values(copy, region.shape);
        }
    }
    out
}

/// Where a `slice_assign` writes: `ranges` (one per dimension) of a tensor of `shape`.
struct Region {
    shape: Shape,
    ranges: Vec<Range<usize>>,
}

impl Region {
    /// The region, when both tensors are f32, every step is 1 and `value` fits it
    /// exactly; `None` otherwise (Flex's op then runs, or says what is wrong).
    fn new(tensor: &FlexTensor, slices: &[Slice], value: &FlexTensor) -> Option<Self> {
        let shape = tensor.shape();
        let ranges: Vec<Range<usize>> = (0..shape.num_dims())
            .map(|d| slices.get(d).map_or(0..shape[d], |s| s.range(shape[d])))
            .collect();
        let fits = |(d, r): (usize, &Range<usize>)| {
            r.start <= r.end && r.end <= shape[d] && value.shape().get(d) == Some(&r.len())
        };
        let fit = tensor.dtype() == DType::F32
            && value.dtype() == DType::F32
            && shape.num_dims() > 0
            && slices.len() <= shape.num_dims()
            && slices.iter().all(|s| s.step == 1)
            && value.shape().num_dims() == shape.num_dims()
            && value.shape().num_elements() > 0
            && ranges.iter().enumerate().all(fits);
        fit.then_some(Region { shape, ranges })
    }

    /// Writes `value` (row-major, the region's shape) into `dst` (row-major, the whole
    /// tensor's), a task per group of the innermost dimension's rows.
    fn write(&self, value: &[f32], dst: &mut [f32]) {
        let (outer, inner) = self.ranges.split_at(self.ranges.len() - 1);
        let (row, run) = (self.shape[outer.len()], inner[0].clone());
        let rows_per_task = (GRAIN / row).max(1);
        dst.par_chunks_mut(rows_per_task * row)
            .enumerate()
            .for_each(|(task, chunk)| {
                for (i, dst) in chunk.chunks_exact_mut(row).enumerate() {
                    if let Some(at) = self.value_row(task * rows_per_task + i) {
                        dst[run.clone()].copy_from_slice(&value[at * run.len()..][..run.len()]);
                    }
                }
            });
    }

    /// The row of `value` that row `row` of the tensor (counted over all but the
    /// innermost dimension) takes, if it is in the region.
    fn value_row(&self, mut row: usize) -> Option<usize> {
        let outer = &self.ranges[..self.ranges.len() - 1];
        let (mut at, mut rows) = (0, 1);
        for (d, range) in outer.iter().enumerate().rev() {
            let i = row % self.shape[d];
            row /= self.shape[d];
            if !range.contains(&i) {
                return None;
            }
            at += (i - range.start) * rows;
            rows *= range.len();
        }
        Some(at)
    }
}
