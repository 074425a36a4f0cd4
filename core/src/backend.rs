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

/// Where kiln keeps a GPU backend's compiled kernels and autotune results between runs:
/// `$KILN_KERNEL_CACHE` when it is set, else `kiln/kernels` in the user's cache folder
/// (`~/.cache/kiln/kernels` on Linux). `None` when a `cubecl.toml` (or `CubeCL.toml`, or
/// a `burn.toml` with a `[cubecl]` section) in the working folder or one above it
/// configures cubecl: its settings then apply as they are.
pub fn kernel_cache() -> Option<std::path::PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    kernel_cache_for(
        std::env::var_os("KILN_KERNEL_CACHE"),
        &cwd,
        dirs::cache_dir(),
    )
}

/// [`kernel_cache`] for this setting of `KILN_KERNEL_CACHE`, working folder and user
/// cache folder.
fn kernel_cache_for(
    setting: Option<std::ffi::OsString>,
    cwd: &std::path::Path,
    user_cache: Option<std::path::PathBuf>,
) -> Option<std::path::PathBuf> {
    let configures = |dir: &std::path::Path| {
        ["cubecl.toml", "CubeCL.toml"]
            .iter()
            .any(|name| dir.join(name).is_file())
            || ["burn.toml", "Burn.toml"].iter().any(|name| {
                std::fs::read_to_string(dir.join(name)).is_ok_and(|toml| {
                    toml.lines().map(str::trim_start).any(|line| {
                        ["[cubecl]", "[cubecl.", "cubecl.", "cubecl ", "cubecl="]
                            .iter()
                            .any(|start| line.starts_with(start))
                    })
                })
            })
    };
    if cwd.ancestors().any(configures) {
        return None;
    }
    match setting.filter(|s| !s.is_empty()) {
        Some(dir) => Some(dir.into()),
        None => Some(
            user_cache
                .unwrap_or_else(std::env::temp_dir)
                .join("kiln/kernels"),
        ),
    }
}

/// The NVIDIA GPU `index` (0 for the first), with cubecl told first to keep the kernels
/// it compiles and the autotune results in [`kernel_cache`], so that the next run of the
/// same model starts in seconds instead of minutes. Make the device with it before
/// anything else touches the GPU: cubecl reads its settings once, at its first use, and
/// keeps them (a device made otherwise keeps cubecl's defaults: the autotune results in
/// the project's `target/`, the compiled kernels nowhere).
///
/// # Errors
/// [`TrainError::Device`](crate::TrainError::Device) when the GPU cannot be opened: no
/// NVIDIA driver on this machine, or no GPU of that index (burn-cuda's own message, on
/// stderr, says which).
#[cfg(feature = "cuda")]
pub fn cuda_device(index: usize) -> Result<burn::backend::cuda::CudaDevice, crate::TrainError> {
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};
    use burn::tensor::backend::Backend;
    if let Some(dir) = kernel_cache() {
        let mut settings = CubeClRuntimeConfig::storage().lock();
        if settings.is_none() {
            let mut config = CubeClRuntimeConfig::default().override_from_env();
            config.compilation.cache = Some(CacheConfig::File(dir.clone()));
            config.autotune.cache = CacheConfig::File(dir);
            *settings = Some(std::sync::Arc::new(config));
        }
    }
    let device = burn::backend::cuda::CudaDevice::new(index);
    // burn-cuda panics when it cannot open the device: opened here in a thread of its
    // own, that is an error instead.
    let probe = device.clone();
    match std::thread::spawn(move || <burn::backend::Cuda as Backend>::name(&probe)).join() {
        Ok(_) => Ok(device),
        Err(_) => Err(crate::TrainError::Device(format!(
            "the NVIDIA GPU {index} could not be opened: this machine has no NVIDIA driver \
             (libcuda), or no GPU of that index (burn-cuda's message above says which)"
        ))),
    }
}

/// Whether `B` compiles its kernels as it runs and runs them asynchronously, as CUDA's
/// does: there every new tensor shape compiles (and tunes) the model's kernels again, and
/// every value read back waits for the device. kiln then keeps batch shapes fixed
/// ([`Trainer::fixed_batch_shape`](crate::Trainer::fixed_batch_shape)) and reads the
/// running loss only when the progress bar does
/// ([`TerminateOnNan`](crate::callbacks::TerminateOnNan)).
pub fn compiles_kernels<B: burn::tensor::backend::Backend>() -> bool {
    use core::any::TypeId;
    #[cfg(feature = "cuda")]
    let compiling = {
        fn float<G: burn::tensor::backend::Backend>() -> TypeId {
            TypeId::of::<G::FloatTensorPrimitive>()
        }
        [float::<Cuda>(), float::<burn::backend::Cuda>()]
    };
    #[cfg(not(feature = "cuda"))]
    let compiling: [TypeId; 0] = [];
    compiling.contains(&TypeId::of::<B::FloatTensorPrimitive>())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cuda_compiles_kernels() {
        #[cfg(feature = "flex")]
        assert!(!compiles_kernels::<Cpu>() && !compiles_kernels::<CpuBackend>());
        #[cfg(feature = "cuda")]
        assert!(compiles_kernels::<Cuda>() && compiles_kernels::<burn::backend::Cuda>());
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn a_gpu_that_cannot_be_opened_is_an_error() {
        // No machine this runs on has eight GPUs; a machine without a driver has none.
        let error = cuda_device(7).map(|_| ()).unwrap_err().to_string();
        assert!(
            error.starts_with("the NVIDIA GPU 7 could not be opened: "),
            "{error}"
        );
    }

    #[test]
    fn the_kernel_cache_is_the_setting_else_the_users_unless_cubecl_is_configured() {
        let root = std::env::temp_dir().join(format!("kiln-kernel-cache-{}", std::process::id()));
        let project = root.join("project/src");
        std::fs::create_dir_all(&project).unwrap();
        let user = Some(root.join("home/.cache"));
        let set = Some("/data/kernels".into());
        assert_eq!(
            kernel_cache_for(set.clone(), &project, user.clone()),
            Some("/data/kernels".into())
        );
        assert_eq!(
            kernel_cache_for(None, &project, user.clone()),
            Some(root.join("home/.cache/kiln/kernels"))
        );
        // A burn.toml without a [cubecl] section configures nothing of cubecl's.
        std::fs::write(
            root.join("project/burn.toml"),
            "[other]\n[cubeclx]\nx = 1\n",
        )
        .unwrap();
        assert!(kernel_cache_for(set.clone(), &project, user.clone()).is_some());
        std::fs::write(
            root.join("project/burn.toml"),
            "[cubecl.compilation]\ncache = \"target\"\n",
        )
        .unwrap();
        assert_eq!(kernel_cache_for(set.clone(), &project, user.clone()), None);
        std::fs::remove_file(root.join("project/burn.toml")).unwrap();
        std::fs::write(root.join("cubecl.toml"), "").unwrap();
        assert_eq!(kernel_cache_for(set, &project, user), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
