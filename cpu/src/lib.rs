//! kiln's CPU backend: burn-flex's `Flex` with kiln's own kernels for what dominates a
//! training step.
//!
//! [`KilnCpu`] holds the same tensors as `Flex` and hands every op to it (all of them,
//! the traits' default methods included, in the generated `delegate.rs`) except these,
//! which burn-flex 0.21 leaves to burn's generic decompositions or runs serially:
//!
//! - `conv2d` and its input, weight and bias gradients, and `conv1d` through the same
//!   code: per image im2col and one GEMM, parallel over the batch, written in place in
//!   NCHW, the weight gradient as dY·colsᵀ summed per thread; 3×3 stride-1
//!   convolutions by Winograd's F(2×2, 3×3) (2.25× fewer multiplications);
//! - 2-D max pooling (forward with indices, and backward) and the backward pass of
//!   average pooling, parallel over channels;
//! - element-wise arithmetic of broadcast or strided f32 tensors, and reshapes of
//!   permuted ones, in parallel; element-wise ops of large tensors (ReLU and its
//!   gradient, arithmetic with a scalar or between tensors of one shape, square roots
//!   and squares) in parallel;
//! - f32 random draws for dropout masks and uniform noise, in parallel (seeded from
//!   Flex's generator, so `Backend::seed` still makes runs reproducible).
//!
//! Neither is an optimizer's update: [`adam_step`] updates a weight and Adam's (or
//! AdamW's) two moments in one pass (burn-optim's `Adam` takes 13 tensor ops); kiln's
//! `Adam` and `AdamW` call it.
//!
//! Batch normalization is no backend op in burn 0.21 either, so it comes as a function of
//! its own: [`batch_norm_training`] normalizes a batch in training as one autodiff op on
//! `Autodiff<KilnCpu>` (two passes over the activations each way, where burn-nn's
//! `BatchNorm` runs about ten tensor ops); kiln's `BatchNormalization` layer calls it.
//!
//! On glibc it also keeps freed memory for reuse ([`keep_freed_memory`]: `mallopt`, once
//! per process), so each step's tensors do not fault their pages in again. Other float
//! types than f32, and grouped convolutions, go to Flex.
//!
//! ```
//! use burn_backend::Backend;
//! use kiln_cpu::KilnCpu;
//!
//! assert_eq!(KilnCpu::name(&Default::default()), "kiln-cpu");
//! ```
#![warn(missing_docs)]
// The shape stays: short functions (clippy.toml: 60 lines), no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::too_many_lines, clippy::unwrap_used, clippy::expect_used)
)]

mod adam;
mod conv;
mod convert;
mod delegate;
mod elementwise;
mod float;
mod gemm;
mod memory;
mod module;
mod norm;
mod pool;
mod simd;
mod strided;

use burn_backend::{Backend, BackendTypes, DType, DTypeUsageSet, ExecutionError, TensorData};
use burn_flex::{Flex, FlexDevice, FlexQTensor, FlexTensor};

pub use adam::{AdamRule, AdamStep, adam_step};
pub use memory::keep_freed_memory;
pub use norm::{BatchNormOutput, TrainingTensor, batch_norm_training};

/// kiln's CPU backend: Flex's tensors and ops, kiln's convolutions (see the crate docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct KilnCpu;

impl BackendTypes for KilnCpu {
    type Device = FlexDevice;
    type FloatTensorPrimitive = FlexTensor;
    type FloatElem = f32;
    type IntTensorPrimitive = FlexTensor;
    type IntElem = i32;
    type BoolTensorPrimitive = FlexTensor;
    type BoolElem = bool;
    type QuantizedTensorPrimitive = FlexQTensor;
}

impl Backend for KilnCpu {
    fn ad_enabled(device: &FlexDevice) -> bool {
        Flex::ad_enabled(device)
    }

    fn memory_persistent_allocations<O: Send, I: Send, F: Fn(I) -> O + Send>(
        device: &FlexDevice,
        input: I,
        func: F,
    ) -> O {
        Flex::memory_persistent_allocations(device, input, func)
    }

    fn memory_cleanup(device: &FlexDevice) {
        Flex::memory_cleanup(device)
    }

    fn name(_device: &FlexDevice) -> String {
        "kiln-cpu".into()
    }

    fn seed(device: &FlexDevice, seed: u64) {
        Flex::seed(device, seed)
    }

    fn sync(device: &FlexDevice) -> Result<(), ExecutionError> {
        Flex::sync(device)
    }

    fn staging<'a, Iter>(data: Iter, device: &FlexDevice)
    where
        Iter: Iterator<Item = &'a mut TensorData>,
    {
        Flex::staging(data, device)
    }

    fn supports_dtype(device: &FlexDevice, dtype: DType) -> bool {
        Flex::supports_dtype(device, dtype)
    }

    fn dtype_usage(device: &FlexDevice, dtype: DType) -> DTypeUsageSet {
        Flex::dtype_usage(device, dtype)
    }

    fn device_count(type_id: u16) -> usize {
        Flex::device_count(type_id)
    }
}
