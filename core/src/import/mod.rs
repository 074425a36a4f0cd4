//! Models from other frameworks: Keras's `.keras` files, architecture and weights. (PyTorch
//! state dicts load through [`Load::from_pytorch`](crate::Load::from_pytorch).)

mod hdf5;
mod keras;
mod zip;

pub use keras::{KerasModel, Weight, keras};
