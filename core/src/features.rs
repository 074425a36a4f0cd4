//! Feature extraction: the output of one named layer, as Keras's
//! `Model(inputs, model.get_layer(name).output)`. A model's forward pass offers each
//! layer's output to a [`Tap`]; the training forward's tap takes none (and costs nothing),
//! [`Features`] takes the one asked for and stops the pass there.

use std::convert::Infallible;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use kiln_spec::Activation;

use crate::dyn_tensor::DynTensor;
use crate::error::TrainError;

/// What a forward pass offers each layer's output to: it may look at it, replace it (a
/// new leaf for a gradient, as Grad-CAM takes) or stop the pass with a value.
pub trait Tap<B: Backend> {
    /// What stopping gives.
    type Stop;

    /// Called after layer `layer` with its output; the pass goes on with what it returns.
    /// `pending` is the activation the pass applies only at its end (the last layer's,
    /// which the training forward splits off); the layer's output is
    /// `activation(pending, output)`.
    ///
    /// # Errors
    /// `Err` stops the forward pass with that value.
    fn at<const D: usize>(
        &mut self,
        layer: &str,
        output: Tensor<B, D>,
        pending: Activation,
    ) -> Result<Tensor<B, D>, Self::Stop>;
}

/// The tap of the ordinary forward pass: takes nothing, never stops.
pub struct NoTap;

impl<B: Backend> Tap<B> for NoTap {
    type Stop = Infallible;

    #[inline(always)]
    fn at<const D: usize>(
        &mut self,
        _layer: &str,
        output: Tensor<B, D>,
        _pending: Activation,
    ) -> Result<Tensor<B, D>, Infallible> {
        Ok(output)
    }
}

/// Stops the forward pass at one layer with its output.
pub struct Features<'a> {
    layer: &'a str,
}

impl<'a> Features<'a> {
    /// Stops at `layer`.
    pub fn new(layer: &'a str) -> Self {
        Features { layer }
    }
}

impl<B: Backend> Tap<B> for Features<'_> {
    type Stop = Result<DynTensor<B>, TrainError>;

    fn at<const D: usize>(
        &mut self,
        layer: &str,
        output: Tensor<B, D>,
        pending: Activation,
    ) -> Result<Tensor<B, D>, Self::Stop> {
        if layer == self.layer {
            Err(DynTensor::new(crate::activation::apply(pending, output)))
        } else {
            Ok(output)
        }
    }
}

/// The error for a layer name a model does not have, with the nearest it has.
pub fn unknown_layer(layer: &str, layers: &[&str]) -> TrainError {
    let nested = match layer.split_once('.') {
        Some((outer, inner)) if layers.contains(&outer) => format!(
            "; a nested model gives its own layers' features: `model.{outer}.features(\"{inner}\", x)`"
        ),
        _ => String::new(),
    };
    TrainError::Setting(format!("{}{nested}", no_such_layer(layer, layers)))
}

/// `no layer `conv` in this model; did you mean `conv2d`?`
pub(crate) fn no_such_layer(layer: &str, layers: &[&str]) -> String {
    let hint = match kiln_spec::nearest(layer, layers.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("its layers are {}", layers.join(", ")),
    };
    format!("no layer `{layer}` in this model; {hint}")
}
