//! # kiln — Keras for Rust, checked by the compiler
//!
//! Declare a network in Keras's words; the [`model!`] macro works out every tensor shape
//! at compile time, refuses a network that does not fit with an error on the layer at
//! fault, and generates an ordinary burn module.
//!
//! ```
//! use kiln::prelude::*;
//!
//! model! {
//!     /// The classic MNIST convnet.
//!     pub struct MnistCnn {
//!         input: [1, 28, 28],
//!         Conv2D(32, 3, activation = relu),
//!         Conv2D(64, 3, activation = relu),
//!         MaxPooling2D(2),
//!         Dropout(0.25),
//!         Flatten,
//!         Dense(128, activation = relu, kernel_regularizer = l2(1e-4)),
//!         Dropout(0.5),
//!         Dense(10, activation = softmax),
//!     }
//! }
//!
//! type B = kiln::backend::CpuBackend;
//! let device = Default::default();
//! let model = MnistCnn::<B>::new(&device);
//! let x = Tensor::<B, 4>::zeros([2, 1, 28, 28], &device);
//! assert_eq!(model.forward(x).dims(), [2, 10]);
//! assert_eq!(MnistCnn::<B>::OUTPUT_SHAPE, [Dim::Known(10)]);
//! println!("{}", model.summary());
//! ```
//!
//! The functional form names inputs and tensors, for skip connections, branches and
//! several inputs or outputs:
//!
//! ```
//! use kiln::prelude::*;
//!
//! model! {
//!     pub struct TwoTowers {
//!         input image: [1, 28, 28],
//!         input extra: [4],
//!         let seen = image -> Conv2D(8, 3, activation = relu) -> GlobalAveragePooling2D;
//!         let both = Concatenate(seen, extra) -> Dense(16, activation = relu);
//!         let y = Add(both, both) -> Dense(10, activation = softmax);
//!         output y,
//!         output seen,
//!     }
//! }
//!
//! type B = kiln::backend::CpuBackend;
//! let device = Default::default();
//! let model = TwoTowers::<B>::new(&device);
//! let (y, seen) = model.forward(
//!     Tensor::zeros([2, 1, 28, 28], &device),
//!     Tensor::zeros([2, 4], &device),
//! );
//! assert_eq!((y.dims(), seen.dims()), ([2, 10], [2, 8]));
//! ```
//!
//! A model with several inputs or outputs runs from its JSON form as a [`JsonGraph`]
//! (one with one of each as a trainable [`JsonModel`], see [`from_json`]):
//!
//! ```
//! use kiln::{DynTensor, JsonGraph};
//! use kiln::prelude::*;
//!
//! model! {
//!     struct TwoInputs {
//!         input a: [3],
//!         input b: [2, 2],
//!         let flat = b -> Flatten;
//!         let y = Concatenate(a, flat) -> Dense(2);
//!         output y,
//!         output flat,
//!     }
//! }
//!
//! type B = kiln::backend::CpuBackend;
//! let device = Default::default();
//! let graph = JsonGraph::<B>::from_json(&TwoInputs::<B>::new(&device).to_json(), &device)?;
//! let a = DynTensor::new(Tensor::<B, 2>::zeros([5, 3], &device))?;
//! let b = DynTensor::new(Tensor::<B, 3>::zeros([5, 2, 2], &device))?;
//! let outputs = graph.forward(vec![a, b])?;
//! assert_eq!(outputs[0].dims(), [5, 2]);
//! assert_eq!(outputs[1].clone().tensor::<2>()?.dims(), [5, 4]);
//! # Ok::<(), kiln::TrainError>(())
//! ```
#![warn(missing_docs)]

pub use kiln_core::callbacks;
#[cfg(feature = "distributed")]
pub use kiln_core::distributed;
pub use kiln_core::import;
/// Learning-rate schedules, as Keras's `keras.optimizers.schedules`: an optimizer's
/// `learning_rate` takes one (`Adam::new().learning_rate(CosineDecay::new(1e-3, 10_000))`).
pub use kiln_core::learning_rate as schedules;
pub use kiln_core::visualize;
pub use kiln_core::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Average, Batch, BatchLogs, Callback, CallbackResult,
    Chart, Control, DynTensor, Fit, FreezeError, FusedAdam, FusedAdamW, History, JsonGraph,
    JsonModel, Lion, Load, Loaded, Logs, Loss, Metric, Mode, Model, Nadam, Optimizer, PlotError,
    R2Aggregation, RmsProp, Series, Sgd, TrainError, TrainForward, Trainer, Verbosity, activation,
    backend, freeze, layers, learning_rate::LearningRate, load_model, load_weights,
    load_weights_with, plot_lines, plot_runs, regularizer, save_model, save_weights, unfreeze,
};
pub use kiln_datasets as datasets;
pub use kiln_macros::model;
pub use kiln_spec as spec;
pub use kiln_spec::{Activation, Dim, ModelSpec, Padding, Regularizer, Shape, Summary};
pub use kiln_tune as tuner;

/// Builds a runtime model from the JSON form of a `model!` (`to_json()`), with fresh
/// weights on `device`; `I` and `O` are the ranks of its input and output tensors (one more
/// than its example shapes). The same as [`JsonModel::from_json`].
///
/// # Errors
/// When the text is not a model, its shapes do not fit kiln-spec's rules, or its ranks are
/// not `I` and `O`.
pub fn from_json<B: burn::tensor::backend::Backend, const I: usize, const O: usize>(
    json: &str,
    device: &B::Device,
) -> Result<JsonModel<B, I, O>, TrainError> {
    JsonModel::from_json(json, device)
}

/// What most programs need: `use kiln::prelude::*;`.
pub mod prelude {
    pub use crate::datasets::{ArrayDataset, DataDir, Dataset, ImageDataset};
    pub use crate::model;
    pub use crate::{
        Activation, Adadelta, Adagrad, Adam, AdamW, Adamax, Callback, Dim, Fit, History, Lion,
        Logs, Loss, Metric, Model, Nadam, RmsProp, Sgd, Shape, Trainer, Verbosity,
    };
    pub use burn::tensor::Tensor;
    pub use burn::tensor::backend::Backend;
}

/// The paths `model!`'s generated code names, so a user needs `kiln` alone in their
/// Cargo.toml. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use burn;
    pub use kiln_core::activation::apply as activation;
    pub use kiln_core::{
        DynTensor, Model, TrainError, TrainForward, features, layers, regularizer,
        trainable_summary,
    };
    pub use kiln_spec::{
        Activation, Dim, LayerKind, ModelSpec, Regularizer, Shape, Summary, kinds, shapes_fit,
    };
    /// The backend the const assertions on nested models name their shapes with.
    pub type CheckBackend = kiln_core::backend::CpuBackend;
}
