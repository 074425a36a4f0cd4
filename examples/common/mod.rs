//! What the examples share: the device and optimizer choices of their command lines, the
//! device dispatch, building the seed's MLP at run time, and the history charts.
#![allow(dead_code)] // each example uses its own part

use clap::ValueEnum;
use kiln::prelude::*;
use kiln::spec::{Call, ModelSpec};
use kiln::{Optimizer, TrainError};

/// Where to train (`--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Device {
    /// kiln's CPU backend.
    Cpu,
    /// An NVIDIA GPU through burn-cuda.
    #[cfg(feature = "cuda")]
    Cuda,
}

/// The optimizer (`--optimizer`), with Keras's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    Sgd,
    Rmsprop,
    Adam,
    Adamw,
}

/// The optimizer called `name` at `learning_rate`.
pub fn optimizer(name: OptimizerName, learning_rate: impl Into<kiln::LearningRate>) -> Optimizer {
    match name {
        OptimizerName::Sgd => Sgd::new().learning_rate(learning_rate).into(),
        OptimizerName::Rmsprop => RmsProp::new().learning_rate(learning_rate).into(),
        OptimizerName::Adam => Adam::new().learning_rate(learning_rate).into(),
        OptimizerName::Adamw => AdamW::new().learning_rate(learning_rate).into(),
    }
}

/// The seed's MLP on flat 28×28 images: `hidden` Dense layers of `units` with ReLU, each
/// followed by Dropout(`dropout`) when positive, then Dense(10, softmax).
pub fn mlp(hidden: usize, units: usize, dropout: f64) -> Result<ModelSpec, TrainError> {
    let mut layers = Vec::new();
    for _ in 0..hidden {
        layers.push(Call::bare("Dense").arg(units).kw("activation", "relu"));
        if dropout > 0.0 {
            layers.push(Call::bare("Dropout").arg(dropout));
        }
    }
    layers.push(Call::bare("Dense").arg(10).kw("activation", "softmax"));
    ModelSpec::from_calls("Mlp", Shape::known([784]), &layers)
        .map_err(|e| TrainError::Setting(e.to_string()))
}

/// Runs `$run::<Backend>(device, args...)` on the backend of a [`Device`].
#[macro_export]
macro_rules! on_device {
    ($device:expr, $run:ident($($arg:expr),*)) => {
        match $device {
            $crate::common::Device::Cpu => {
                Ok($run::<kiln::backend::Cpu>(Default::default(), $($arg),*)?)
            }
            #[cfg(feature = "cuda")]
            $crate::common::Device::Cuda => {
                Ok($run::<kiln::backend::Cuda>(kiln::backend::cuda_device(0)?, $($arg),*)?)
            }
        }
    };
}

/// What an example's `main` returns on failure: shown as its message (`Error: MNIST's
/// train-images-idx3-ubyte.gz is truncated ...`), where a boxed error would show its
/// structure.
pub struct Failure(Box<dyn std::error::Error>);

impl<E: Into<Box<dyn std::error::Error>>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.into())
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a run on `data` writes its output `path` (a file, or a folder and what is in it):
/// `path` itself for real data, `synthetic_digits_<path>` for kiln's synthetic digits (the
/// stand-in when MNIST can be neither read nor downloaded), so that no chart, checkpoint,
/// log or table of a synthetic run passes for MNIST's.
pub fn output(data: &ImageDataset, path: &str) -> String {
    if data.name() == kiln::datasets::SYNTHETIC_DIGITS {
        format!("synthetic_digits_{path}")
    } else {
        path.to_string()
    }
}

/// Writes the history charts of a run on `data` (at [`output`]`(data, path)` and one per
/// metric beside it, each titled with the data's name) and says where, or why not.
pub fn plot_history(history: &History, path: &str, data: &ImageDataset) {
    match history.plot_titled(output(data, path), data.name()) {
        Ok(files) => println!(
            "History charts: {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => println!("No history charts: {e}"),
    }
}
