//! `Identity` and `ActivityRegularization(l1, l2)`: layers that give their input unchanged,
//! the second adding a penalty on it to the loss while training.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, non_negative};
use crate::regularizer::Regularizer;
use crate::rule::{Input, Rule};
use crate::shape::Shape;

/// Keras's Identity: its input, unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {}

impl Identity {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        Args::new("Identity", call, &[]).finish(|| Some(Identity {}))
    }
}

impl Rule for Identity {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }
}

/// Keras's ActivityRegularization: its input unchanged, with `l1 · sum(|x|) + l2 · sum(x²)`
/// of it, divided by the batch size as Keras does, added to the loss while training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityRegularization {
    /// The factor of `sum(|x|)`.
    pub l1: f64,
    /// The factor of `sum(x²)`.
    pub l2: f64,
}

impl ActivityRegularization {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional("l1", "the factor of sum(|x|)"),
            Param::positional("l2", "the factor of sum(x²)"),
        ];
        let mut args = Args::new("ActivityRegularization", call, &params);
        let l1 = args.or("l1", 0.0, non_negative);
        let l2 = args.or("l2", 0.0, non_negative);
        args.finish(|| Some(ActivityRegularization { l1, l2 }))
    }
}

impl Rule for ActivityRegularization {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }

    fn activity(&self) -> Option<Regularizer> {
        Some(Regularizer {
            l1: self.l1,
            l2: self.l2,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params, Regularizer};

    #[test]
    fn pass_the_input_on() {
        let image = s(&[Some(3), Some(4), Some(4)]);
        let identity = layer("Identity", &[], &[]);
        assert_eq!(out(&identity, &image, "the input"), Ok(image.clone()));
        assert_eq!(identity.activity(), None);
        let penalized = layer("ActivityRegularization", &[], &[("l2", f(0.01))]);
        assert_eq!(penalized.keras_name(), "activity_regularization");
        assert_eq!(out(&penalized, &image, "the input"), Ok(image.clone()));
        assert_eq!(penalized.params(&image), Params::default());
        assert_eq!(
            penalized.activity(),
            Some(Regularizer { l1: 0.0, l2: 0.01 })
        );
        let err = Layer::from_call(&call("ActivityRegularization", &[f(-1.0)], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`l1` of ActivityRegularization: expected a number of 0 or more, got -1.0"
        );
    }
}
