//! Why training, evaluating, predicting, saving or loading failed.

use std::path::PathBuf;

/// An error of the trainer; each names what does not fit and how to mend it.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The dataset's examples do not have the model's input shape.
    #[error(
        "the dataset's examples have shape {data:?} but the model takes {model}; reshape the data or change the model's input"
    )]
    InputShape {
        /// The dataset's example shape.
        data: Vec<usize>,
        /// The model's input shape.
        model: String,
    },
    /// The dataset's targets do not fit the model's output or the loss.
    #[error("{0}")]
    Targets(String),
    /// The dataset's values do not fit the model's input (token ids an Embedding lacks).
    #[error("{0}")]
    Inputs(String),
    /// There is nothing to train or evaluate on.
    #[error("the {0} dataset is empty")]
    Empty(&'static str),
    /// A setting is out of range.
    #[error("{0}")]
    Setting(String),
    /// A callback stopped training with an error.
    #[error("callback {name} failed: {source}")]
    Callback {
        /// The callback's name.
        name: String,
        /// Its error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Bytes that are not what they should be: a Keras or PyTorch file, a saved history.
    #[error("{what} cannot be read: {reason}")]
    Unreadable {
        /// What was read (`this Keras model file`).
        what: &'static str,
        /// Why not, naming the part at fault.
        reason: String,
    },
    /// Saved weights or architecture do not match the model they are loaded into.
    #[error("{path} does not fit this model: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs (layer, shape).
        reason: String,
    },
    /// A device could not be opened (no driver, no such GPU).
    #[error("{0}")]
    Device(String),
    /// The workers of a data-parallel fit lost each other (a process died, the
    /// coordinator cannot be reached, a worker timed out).
    #[error("data-parallel training stopped: {0}")]
    Distributed(String),
}
