//! The widest vector instructions the CPU has, for kiln's own loops, and sums written
//! so that they vectorize.
//!
//! Rust compiles for the baseline of the target (SSE2 on x86-64); the `gemm` crate picks
//! AVX-512 or AVX2 at run time, and kiln's loops around it (Winograd's transforms) do the
//! same through [`widest`].

use core::ops::{AddAssign, Range};

use rayon::prelude::*;

/// Runs `f`, compiled for AVX-512 or AVX2 with FMA when the CPU has them (checked once
/// and cached by the standard library). `f`'s body must be `#[inline(always)]` code for
/// the wider instructions to reach it.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Asks the CPU to bring `values` into its first-level cache ahead of their use, a
/// cache line at a time. For reads that jump from page to page (a channel's plane of
/// each image of a group), where the CPU's own prefetchers stop at each page's end.
#[inline(always)]
pub(crate) fn prefetch(values: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks(16) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch only hints the cache: it neither faults nor writes.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// Lanes of partial sums (so the additions vectorize): `Σ f(v)` over `values`, in 16
/// lanes of f32 summed in f64.
#[inline(always)]
pub(crate) fn lanes(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let [sum] = sums(values, values, |v, _| [f(v)]);
    sum
}

/// `N` sums at once, `Σ f(a, b)[k]` over pairs of `a` and `b`, each in 16 lanes of f32
/// summed in f64 (as [`lanes`] sums): one pass over the operands for all of them.
#[inline(always)]
pub(crate) fn sums<const N: usize>(
    a: &[f32],
    b: &[f32],
    f: impl Fn(f32, f32) -> [f32; N],
) -> [f64; N] {
    const L: usize = 16;
    let (a_chunks, a_rest) = a.as_chunks::<L>();
    let (b_chunks, b_rest) = b.as_chunks::<L>();
    let mut acc = [[0f32; L]; N];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for l in 0..L {
            let values = f(x[l], y[l]);
            for k in 0..N {
                acc[k][l] += values[k];
            }
        }
    }
    let mut rest = [0f64; N];
    for (&x, &y) in a_rest.iter().zip(b_rest) {
        let values = f(x, y);
        for k in 0..N {
            rest[k] += f64::from(values[k]);
        }
    }
    let mut out = [0f64; N];
    for k in 0..N {
        out[k] = acc[k].iter().map(|&v| f64::from(v)).sum::<f64>() + rest[k];
    }
    out
}

/// `part(k)`, `len` values each, for `k` in `0..parts` in parallel, then their sum in
/// the order of `k`: the same values whichever thread ran which part and however rayon
/// split the work (its own `reduce` adds the parts in the order its splits make, which
/// depends on which threads were awake: training would not repeat bit for bit).
pub(crate) fn in_order<T>(
    len: usize,
    parts: usize,
    part: impl Fn(usize) -> Vec<T> + Sync + Send,
) -> Vec<T>
where
    T: Copy + Default + Send + AddAssign,
{
    let sums: Vec<Vec<T>> = (0..parts).into_par_iter().map(part).collect();
    sums.into_iter()
        .reduce(|mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            a
        })
        .unwrap_or_else(|| vec![T::default(); len])
}

/// The sum of `run(images)` (`len` values each) over a batch of `batch` images cut into
/// one contiguous run per thread, each run's sum computed on its own thread and the runs'
/// added in order ([`in_order`]): for a given batch and thread count, the same values
/// every time.
pub(crate) fn batch_sums<T>(
    batch: usize,
    len: usize,
    run: impl Fn(Range<usize>) -> Vec<T> + Sync + Send,
) -> Vec<T>
where
    T: Copy + Default + Send + AddAssign,
{
    let parts = rayon::current_num_threads().min(batch).max(1);
    let per_part = batch.div_ceil(parts);
    in_order(len, parts, |part| {
        run(part * per_part..((part + 1) * per_part).min(batch))
    })
}
