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
#![warn(missing_docs)]

pub use kiln_core::{Batch, Model, TrainForward, activation, backend, layers, regularizer};
pub use kiln_macros::model;
pub use kiln_spec as spec;
pub use kiln_spec::{Activation, Dim, ModelSpec, Padding, Regularizer, Shape, Summary};

/// What most programs need: `use kiln::prelude::*;`.
pub mod prelude {
    pub use crate::model;
    pub use crate::{Activation, Dim, Model, Shape};
    pub use burn::tensor::Tensor;
    pub use burn::tensor::backend::Backend;
}

/// The paths `model!`'s generated code names, so a user needs `kiln` alone in their
/// Cargo.toml. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use burn;
    pub use kiln_core::activation::apply as activation;
    pub use kiln_core::{Model, TrainForward, layers, regularizer};
    pub use kiln_spec::{Activation, Dim, ModelSpec, Padding, Regularizer, Summary};
}
