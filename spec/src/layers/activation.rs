//! `Activation(name)`

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::args::{ArgError, Args, Call, Param};
use crate::rule::{Input, Rule};
use crate::shape::Shape;

/// An activation function applied on its own; the shape is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivationLayer {
    /// The function.
    pub activation: Activation,
}

impl ActivationLayer {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "activation",
            "the function's name, e.g. Activation(relu)",
        )];
        let mut args = Args::new("Activation", call, &params);
        let activation = args.required("activation", Activation::from_value);
        args.finish(|| {
            Some(ActivationLayer {
                activation: activation?,
            })
        })
    }
}

impl Rule for ActivationLayer {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Activation, Layer};

    #[test]
    fn keeps_the_shape() {
        let l = layer("Activation", &[n("softmax")], &[]);
        assert_eq!(l.activation(), Some(Activation::Softmax));
        let shape = s(&[Some(3), None]);
        assert_eq!(out(&l, &shape, "the input"), Ok(shape));
    }

    #[test]
    fn needs_a_known_function() {
        let err = Layer::from_call(&call("Activation", &[], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "Activation needs `activation` (the function's name, e.g. Activation(relu)); add it"
        );
        let err = Layer::from_call(&call("Activation", &[n("rleu")], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`activation` of Activation: unknown activation `rleu`; did you mean `relu`?"
        );
    }
}
