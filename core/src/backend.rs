//! The backends kiln trains on: the CPU backend chosen by features (kiln's own,
//! [`KilnCpu`]: burn-flex with kiln's convolution kernels, by default; NdArray with
//! `--no-default-features --features ndarray`), and CUDA with `cuda`.

#[cfg(any(feature = "flex", feature = "ndarray", feature = "cuda"))]
use burn::backend::Autodiff;

#[cfg(feature = "flex")]
pub use kiln_cpu::KilnCpu;

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
