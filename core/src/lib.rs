//! kiln's runtime on burn: each layer's module with Keras's initializers, activations and
//! regularizers, and the [`Model`] trait the trainer works with.
#![warn(missing_docs)]

pub mod activation;
pub mod backend;
pub mod layers;
mod model;
pub mod regularizer;

pub use model::{Batch, Model, TrainForward};

#[cfg(test)]
pub(crate) mod testing;
