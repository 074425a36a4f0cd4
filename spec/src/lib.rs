//! kiln's shape engine: the layers `model!` accepts, their arguments, their shape rules
//! and parameter counts, and a model's JSON form.
//!
//! This crate knows nothing of burn: the `model!` macro uses it at compile time to refuse
//! a network whose shapes do not fit, and kiln's runtime uses it to check a model read from
//! JSON, so both check shapes with one code.
//!
//! Shapes leave out the batch dimension and are channels-first: an image is
//! `[channels, height, width]`.
#![warn(missing_docs)]
// The shape stays: short functions (clippy.toml: 60 lines), no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::too_many_lines, clippy::unwrap_used, clippy::expect_used)
)]

mod activation;
mod args;
mod graph;
mod json;
mod layer;
pub mod layers;
mod model;
mod plan;
mod regularizer;
mod rule;
mod shape;
mod window;

pub use activation::Activation;
pub use args::{Arg, ArgError, At, Call, Value, nearest};
pub use graph::{Definition, Site, check_names};
pub use layer::{Base, Declared, Layer, LayerKind, ShapeError, kinds};
pub use model::{
    CheckError, Checked, JsonError, LayerInfo, ModelSpec, NamedLayer, NamedShape, Namer,
    SizesError, Summary, reference,
};
pub use plan::{Epilogue, Plan, Use};
pub use regularizer::Regularizer;
pub use rule::{Input, MAX_PARAMS, MAX_SIZE, Params, WeightOptions, product};
pub use shape::{Dim, Shape, shapes_fit};
pub use window::{Padding, Window, channels_axis, feature_axis, spatial_dims};
