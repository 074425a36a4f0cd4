//! The widest vector instructions the CPU has, for kiln's own loops, and sums written
//! so that they vectorize.
//!
//! Rust compiles for the baseline of the target (SSE2 on x86-64); the `gemm` crate picks
//! AVX-512 or AVX2 at run time, and kiln's loops around it (Winograd's transforms) do the
//! same through [`widest`].

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
