//! The backends kiln trains on: the CPU backend chosen by features (kiln's own,
//! [`KilnCpu`]: burn-flex with kiln's convolution kernels, by default; NdArray with
//! `--no-default-features --features ndarray`), and CUDA with `cuda`.

#[cfg(any(feature = "flex", feature = "ndarray", feature = "cuda"))]
use burn::backend::Autodiff;

#[cfg(feature = "flex")]
pub use kiln_cpu::{KilnCpu, keep_freed_memory};

/// The CPU backend without autodiff: [`KilnCpu`] by default (measured fastest, see
/// README).
#[cfg(feature = "flex")]
pub type CpuBackend = KilnCpu;
/// The CPU backend without autodiff: NdArray, when `flex` is off.
#[cfg(all(feature = "ndarray", not(feature = "flex")))]
pub type CpuBackend = burn::backend::NdArray;

/// Training on the CPU.
#[cfg(any(feature = "flex", feature = "ndarray"))]
pub type Cpu = Autodiff<CpuBackend>;

/// burn-flex's own CPU backend with autodiff, for comparison with [`Cpu`].
#[cfg(feature = "flex")]
pub type Flex = Autodiff<burn::backend::Flex>;

/// The NdArray CPU backend with autodiff.
#[cfg(feature = "ndarray")]
pub type NdArray = Autodiff<burn::backend::NdArray>;

/// Training on an NVIDIA GPU through CUDA (NVRTC and the driver are loaded at run time).
#[cfg(feature = "cuda")]
pub type Cuda = Autodiff<burn::backend::Cuda>;

/// Runs `f` (the ops of a training step, or of a batch's forward pass) on one of
/// rayon's threads when `B` is [`Cpu`] or [`CpuBackend`] (or burn-flex's, whose tensors
/// they share), whose kernels run on them, and on the calling thread on any other
/// backend. `fit`, `evaluate` and `predict` run each batch so, and a training loop of
/// your own can too.
///
/// An op called from outside rayon's pool hands its work to the pool and waits for a
/// thread to wake; called from inside, it starts at once on the calling thread while
/// the others join it. A step is a few hundred parallel ops with serial work between
/// them (autodiff's bookkeeping), long enough for idle threads to go to sleep: on this
/// project's 2-core machine, a small parallel op after 0.1–1 ms of idling took 46–66 µs
/// from the main thread and 12–13 µs from inside the pool (README, Backends).
///
/// One `f` at a time runs in the pool, and only in a pool of two threads or more; a
/// second waits for the first to finish. A thread of the pool that waits for a stolen
/// half of its own work runs other queued work meanwhile, and burn's autodiff holds a
/// lock through each backward pass: a step queued while another thread's step was in
/// its backward pass could start on top of that pass's own work, wait for the lock the
/// pass held, and hang both (it did, with two `fit`s in two threads). So a training
/// loop of your own that runs beside `fit` in another thread of the process must run
/// its steps through this function too.
pub fn on_kernel_threads<B: burn::tensor::backend::Backend, R: Send>(
    f: impl FnOnce() -> R + Send,
) -> R {
    #[cfg(feature = "flex")]
    {
        use burn::tensor::backend::Backend;
        use std::sync::Mutex;

        /// Held while an `f` runs in the pool.
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        fn primitive<B: Backend>() -> core::any::TypeId {
            core::any::TypeId::of::<B::FloatTensorPrimitive>()
        }
        let cpu = [primitive::<Cpu>(), primitive::<CpuBackend>()].contains(&primitive::<B>());
        if cpu {
            // Before rayon's threads start and allocate: they then share malloc's main
            // arena, whose freed memory the next step reuses.
            keep_freed_memory();
        }
        // Already on a thread of a pool (inside another `f`, or a data-parallel worker's
        // own pool): the ops start there as it is.
        let outside = rayon::current_thread_index().is_none();
        if cpu && outside && rayon::current_num_threads() >= 2 {
            // An `f` that panicked leaves nothing to repair: the lock only orders them.
            let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            return rayon::scope(|_| f());
        }
    }
    f()
}
