//! Keeping freed memory in the process for the next training step's tensors, and
//! clearing new output buffers on every core, or not at all where the op writes them
//! whole.
//!
//! glibc's malloc hands blocks above 128 KiB (its threshold grows to the largest block
//! freed) straight back to the kernel, and trims the heap above 128 KiB of free space,
//! so each step's tensors, megabytes each, fault their pages in again: on a 2-core
//! machine that was a fifth to a quarter of a CNN's training step (BENCHMARKS.md).
//! Raising both thresholds once keeps freed blocks for reuse, as PyTorch's and
//! TensorFlow's CPU allocators do with their own caches.
//!
//! That holds for the main arena only. A thread other than the main one (rayon's, where
//! a training step runs) allocates from an arena of its own, in heaps of 64 MiB that
//! glibc unmaps whenever one is wholly free, whatever the thresholds: at the end of each
//! step, so the next one faulted its pages in again (the CIFAR CNN at batch 128: 600,000
//! to 1.5 million page faults in an 8-second run, 13% of its samples in the kernel). So
//! threads that have not allocated yet share the main arena.

use core::mem::MaybeUninit;
use std::sync::Once;

use rayon::iter::{ParallelExtend, repeat_n};

/// Largest block glibc takes from its heaps (its ceiling on 64-bit systems); larger
/// ones are still mapped and unmapped each time.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Sets glibc's malloc, once per process, to keep freed memory for reuse: large blocks
/// and the heap's free top are kept, and threads that have not allocated yet share the
/// main arena (see the module docs); nothing on other C libraries. kiln's CPU ops call
/// it, and so does `kiln::backend::on_kernel_threads` before rayon's threads start; a
/// program that starts them earlier (its own rayon work before any of kiln's) can call it
/// first, as `kiln::backend::keep_freed_memory`.
pub fn keep_freed_memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes tuning parameters of the allocator; glibc takes
        // the allocator's lock for it, so it is safe while other threads allocate.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    });
}

/// Buffers smaller than this are cleared by the calling thread alone.
const PARALLEL_ZEROS: usize = 1 << 16;

/// `len` zeros, written by all of rayon's threads. An op's output buffer, megabytes that
/// its kernel then fills in parallel, would otherwise be cleared by glibc's `calloc` on
/// the calling thread alone (freed memory is kept, so it comes back dirty) while the
/// other cores wait: 5% of the MNIST CNN's training step, all of it serial.
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    if len < PARALLEL_ZEROS {
        return vec![0.0; len];
    }
    let mut buffer = Vec::with_capacity(len);
    buffer.par_extend(repeat_n(0.0, len));
    buffer
}

/// `len` values written once each by `fill`, through the uninitialized buffer it is
/// given: an op's output that its kernel writes whole is not cleared first. Cleared, a
/// batch's activations (megabytes, more than the cache holds) went to memory twice, once
/// as zeros; clearing took 2–4% of a ResNet's training step.
///
/// # Safety
/// `fill` must write every one of the `len` values (if it panics instead, nothing is
/// read: the buffer is dropped empty).
pub(crate) unsafe fn written<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut buffer = Vec::with_capacity(len);
    fill(&mut buffer.spare_capacity_mut()[..len]);
    // SAFETY: `fill` wrote every value below `len` (the caller's promise), and the
    // capacity is at least `len`.
    unsafe { buffer.set_len(len) };
    buffer
}
