//! `keep_freed_memory` on glibc: a thread started after it (as rayon's are, where a
//! training step runs) reuses the memory of tensors freed at the end of a step instead
//! of faulting their pages in again. Its own process (`harness = false`): no thread may
//! have allocated before the call, as the test harness's threads would have.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn main() {
    kiln_cpu::keep_freed_memory();
    // Two "steps" on a new thread, each allocating and writing 96 MiB in tensors of
    // 8 MiB (more than one of glibc's 64 MiB per-thread heaps) and freeing them.
    let faults = std::thread::spawn(|| [step(), step()])
        .join()
        .expect("the thread allocates and frees");
    let pages = 96 << 20 >> 12;
    // The first step faults its pages in (fewer faults than pages where the kernel maps
    // huge pages); the second finds them kept.
    assert!(
        faults[0] > 10 * faults[1].max(1),
        "page faults: {} then {}",
        faults[0],
        faults[1]
    );
    assert!(
        faults[1] < pages / 100,
        "second step: {} page faults of {pages} pages (first: {})",
        faults[1],
        faults[0]
    );
    println!(
        "freed memory kept: page faults {} then {}",
        faults[0], faults[1]
    );
}

/// The minor page faults of this thread while it allocates, writes and frees twelve
/// 8-MiB buffers.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn step() -> i64 {
    let before = minor_faults();
    let tensors: Vec<Vec<f32>> = (0..12).map(|k| vec![k as f32 + 1.0; 2 << 20]).collect();
    assert!(tensors.iter().all(|t| t[t.len() - 1] > 0.0));
    drop(tensors);
    minor_faults() - before
}

/// This thread's minor page faults so far.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes the struct it is given, zeroed here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage struct.
    let status = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(status, 0, "getrusage");
    usage.ru_minflt
}

/// Other C libraries keep their own allocation policy: nothing to check.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {}
