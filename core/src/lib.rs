//! kiln's runtime on burn: each layer's module with Keras's initializers, activations and
//! regularizers, the [`Model`] trait, and the Keras workflow of [`Trainer`]: losses,
//! metrics, optimizers, fit, evaluate, predict, callbacks and history.
#![warn(missing_docs)]

pub mod activation;
pub mod backend;
mod backup;
mod callback;
pub mod callbacks;
mod error;
pub mod features;
mod freeze;
mod history;
pub mod import;
pub mod layers;
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

pub use callback::{BatchLogs, Callback, CallbackResult, Control, Mode};
pub use error::TrainError;
pub use freeze::{FreezeError, freeze, trainable_summary, unfreeze};
pub use history::{History, PlotError, plot_runs};
pub use load::{Load, Loaded, load_weights, load_weights_with};
pub use logs::Logs;
pub use loss::{Loss, Output, Target};
pub use metric::Metric;
pub use model::{Batch, Model, TrainForward};
pub use optimizer::{Adam, AdamW, Optimizer, RmsProp, Sgd};
pub use progress::Verbosity;
pub use runtime::{DynTensor, JsonGraph, JsonModel, RuntimeLayer};
pub use save::{load_model, save_model, save_weights};
pub use trainer::{Fit, Trainer};

#[cfg(test)]
pub(crate) mod testing;
