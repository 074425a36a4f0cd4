//! Where `on_kernel_threads` runs its work. One test, so that no other test of this
//! process runs a step in rayon's pool meanwhile (one step at a time goes there).
#![cfg(feature = "flex")]

use std::sync::atomic::Ordering::SeqCst;

use kiln_core::backend::{Cpu, CpuBackend, Flex, on_kernel_threads};

/// The rayon thread `f` ran on, if any, and its result.
fn thread<B: burn::tensor::backend::Backend>() -> (Option<usize>, u32) {
    on_kernel_threads::<B, _>(|| (rayon::current_thread_index(), 7))
}

#[test]
fn the_cpu_backends_run_in_rayons_pool_one_at_a_time() {
    // Only a pool of two threads or more takes the work (with one, nothing would run
    // beside it).
    let pooled = rayon::current_num_threads() >= 2;
    // From a thread outside the pool: kiln's CPU backend in it, burn-flex's autodiff not.
    assert!(
        rayon::current_thread_index().is_none(),
        "a test's own thread"
    );
    for (index, value) in [thread::<Cpu>(), thread::<CpuBackend>()] {
        assert_eq!((index.is_some(), value), (pooled, 7));
    }
    assert_eq!(thread::<Flex>(), (None, 7));

    // From a thread of a pool (a data-parallel worker's): on that thread.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build();
    let pool = pool.expect("a pool of two threads");
    let (index, inner) = pool.install(|| (rayon::current_thread_index(), thread::<Cpu>()));
    assert_eq!(index, inner.0);

    // Two at once from two threads: both in the pool, one after the other.
    let inside = std::sync::atomic::AtomicUsize::new(0);
    let most = std::sync::atomic::AtomicUsize::new(0);
    let where_run = || {
        on_kernel_threads::<Cpu, _>(|| {
            let now = inside.fetch_add(1, SeqCst) + 1;
            most.fetch_max(now, SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            inside.fetch_sub(1, SeqCst);
            rayon::current_thread_index()
        })
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(where_run);
        let b = s.spawn(where_run);
        (a.join().expect("first"), b.join().expect("second"))
    });
    assert_eq!((a.is_some(), b.is_some()), (pooled, pooled));
    let most = most.load(SeqCst);
    assert_eq!(most, if pooled { 1 } else { 2 });

    // The pool is free again afterwards.
    assert_eq!(thread::<Cpu>().0.is_some(), pooled);
}
