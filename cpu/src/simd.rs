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

/// Lanes of partial sums (so the additions vectorize): `Σ f(v)` over `values`.
#[inline(always)]
pub(crate) fn lanes(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    lanes2(values, values, |v, _| f(v))
}

/// `Σ f(a, b)` over pairs of `a` and `b`, in 16 lanes of f32 summed in f64.
#[inline(always)]
pub(crate) fn lanes2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    const L: usize = 16;
    let (a_chunks, a_rest) = a.as_chunks::<L>();
    let (b_chunks, b_rest) = b.as_chunks::<L>();
    let mut acc = [0f32; L];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for l in 0..L {
            acc[l] += f(x[l], y[l]);
        }
    }
    let rest: f64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| f64::from(f(x, y)))
        .sum();
    acc.iter().map(|&v| f64::from(v)).sum::<f64>() + rest
}
