//! kiln's runtime on burn: each layer's module with Keras's initializers, activations and
//! regularizers, the [`Model`] trait, and the Keras workflow of [`Trainer`]: losses,
//! metrics, optimizers, fit, evaluate, predict, callbacks and history.
#![warn(missing_docs)]
// The shape stays: short functions (clippy.toml: 60 lines), no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::too_many_lines, clippy::unwrap_used, clippy::expect_used)
)]

pub mod activation;
pub mod backend;
mod backup;
mod callback;
pub mod callbacks;
mod chart;
#[cfg(feature = "distributed")]
pub mod distributed;
mod dyn_tensor;
mod error;
pub mod features;
mod freeze;
mod history;
pub mod import;
pub mod layers;
pub mod learning_rate;
mod load;
mod logs;
mod loss;
mod metric;
mod model;
mod optimizer;
mod progress;
pub mod regularizer;
mod runtime;
mod save;
mod subset;
mod trainer;
pub mod visualize;

pub use callback::{BatchLogs, Callback, CallbackResult, Control, Mode};
pub use chart::{Chart, Series, plot_lines};
pub use dyn_tensor::DynTensor;
pub use error::TrainError;
pub use freeze::{FreezeError, freeze, trainable_summary, unfreeze};
pub use history::{History, PlotError, plot_runs};
pub use layers::RuntimeLayer;
pub use load::{Load, Loaded, load_model, load_weights, load_weights_with};
pub use logs::Logs;
pub use loss::{Loss, Output, Target};
pub use metric::{Average, Metric, R2Aggregation};
pub use model::{Batch, Model, TrainForward};
pub use optimizer::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, FusedAdam, FusedAdamW, Lion, Nadam, Optimizer, RmsProp,
    Sgd,
};
pub use progress::Verbosity;
pub use runtime::{JsonGraph, JsonModel};
pub use save::{save_model, save_weights};
pub use trainer::{Fit, Trainer};

#[cfg(test)]
pub(crate) mod testing;
