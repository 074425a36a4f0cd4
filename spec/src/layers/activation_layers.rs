//! Keras's activation layers with arguments of their own: `ReLU(max_value, negative_slope,
//! threshold)`, `LeakyReLU(negative_slope)`, `ELU(alpha)` and `Softmax(axis)`.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::args::{ArgError, Args, Call, Param, Value, finite, non_negative};
use crate::rule::{Input, Rule};
use crate::shape::Shape;

/// Keras's ReLU layer: `x` above `threshold` (0), capped at `max_value` (none), and
/// `negative_slope · (x - threshold)` below it (0). `ReLU(6.)` is MobileNet's ReLU6.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relu {
    /// The cap, if any.
    pub max_value: Option<f64>,
    /// The slope below the threshold.
    pub negative_slope: f64,
    /// Where the slope turns.
    pub threshold: f64,
}

/// Keras's LeakyReLU layer: `x` above 0, `negative_slope · x` below (0.3 by default, the
/// layer's, not the `leaky_relu` activation's 0.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeakyRelu {
    /// The slope below 0.
    pub negative_slope: f64,
}

/// Keras's ELU layer: `x` above 0, `alpha · (exp(x) - 1)` below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Elu {
    /// The scale of the negative part.
    pub alpha: f64,
}

/// Keras's Softmax layer, along the last axis (`axis = -1`, the only one kiln takes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxLayer {
    /// Keras's axis, counting the batch as 0: -1, or the last axis's number.
    pub axis: i64,
}

impl Relu {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional("max_value", "the cap, e.g. ReLU(6.)"),
            Param::positional("negative_slope", "the slope below the threshold"),
            Param::positional("threshold", "where the slope turns"),
        ];
        let mut args = Args::new("ReLU", call, &params);
        let max_value = args.get("max_value", non_negative);
        let negative_slope = args.or("negative_slope", 0.0, non_negative);
        let threshold = args.or("threshold", 0.0, non_negative);
        args.finish(|| {
            Some(Relu {
                max_value,
                negative_slope,
                threshold,
            })
        })
    }
}

impl LeakyRelu {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional("negative_slope", "the slope below 0")];
        let mut args = Args::new("LeakyReLU", call, &params);
        let negative_slope = args.or("negative_slope", 0.3, non_negative);
        args.finish(|| Some(LeakyRelu { negative_slope }))
    }
}

impl Elu {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional("alpha", "the scale of the negative part")];
        let mut args = Args::new("ELU", call, &params);
        let alpha = args.or("alpha", 1.0, finite);
        args.finish(|| Some(Elu { alpha }))
    }
}

impl SoftmaxLayer {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "axis",
            "the axis the values add to 1 along",
        )];
        let mut args = Args::new("Softmax", call, &params);
        let axis = args.or("axis", -1, |v| match v {
            Value::Int(n) if *n != 0 => Ok(*n),
            other => Err(format!(
                "expected an axis of the examples, e.g. axis = -1 (0 is the batch), got `{other}`"
            )),
        });
        args.finish(|| Some(SoftmaxLayer { axis }))
    }
}

/// The layers whose values map one by one: the shape is unchanged.
macro_rules! value_by_value {
    ($($layer:ident),*) => {$(
        impl Rule for $layer {
            fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
                Ok(input.shape.clone())
            }
        }
    )*};
}

value_by_value!(Relu, LeakyRelu, Elu);

impl Rule for SoftmaxLayer {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let rank = input.shape.rank() as i64;
        if self.axis == -1 || self.axis == rank {
            return Ok(input.shape.clone());
        }
        Err(format!(
            "kiln's {layer} runs along the last axis (-1, or {rank} of {}), not axis {}; Permute the axis last first",
            input.describe(),
            self.axis
        ))
    }

    /// Its function is the model's softmax after the step, so a last Softmax splits off
    /// for the loss as `Dense(..., activation = softmax)` does.
    fn activation(&self) -> Option<Activation> {
        Some(Activation::Softmax)
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Activation, Layer};

    #[test]
    fn keep_the_shape_and_take_keras_s_arguments() {
        let shape = s(&[Some(3), None]);
        let relu6 = layer("ReLU", &[f(6.0)], &[]);
        assert_eq!(out(&relu6, &shape, "the input"), Ok(shape.clone()));
        assert_eq!(relu6.keras_name(), "re_lu");
        let Layer::ReLU(r) = relu6 else {
            panic!("a ReLU")
        };
        assert_eq!(
            (r.max_value, r.negative_slope, r.threshold),
            (Some(6.0), 0.0, 0.0)
        );
        let leaky = layer("LeakyReLU", &[], &[]);
        assert_eq!(leaky.keras_name(), "leaky_re_lu");
        let Layer::LeakyReLU(l) = leaky else {
            panic!("a LeakyReLU")
        };
        assert_eq!(l.negative_slope, 0.3);
        let softmax = layer("Softmax", &[], &[]);
        assert_eq!(softmax.activation(), Some(Activation::Softmax));
        assert_eq!(out(&softmax, &shape, "the input"), Ok(shape.clone()));
        let along = layer("Softmax", &[], &[("axis", i(2))]);
        assert_eq!(out(&along, &shape, "the input"), Ok(shape.clone()));
        assert_eq!(layer("ELU", &[], &[]).params(&shape).total(), 0);
    }

    #[test]
    fn refuse_what_keras_or_kiln_does_not_take() {
        let cases = [
            (
                "ReLU",
                vec![("max_value", f(-1.0))],
                "`max_value` of ReLU: expected a number of 0 or more, got -1.0",
            ),
            (
                "ReLU",
                vec![("threshold", f(-0.5))],
                "`threshold` of ReLU: expected a number of 0 or more, got -0.5",
            ),
            (
                "LeakyReLU",
                vec![("negative_slope", f(-0.1))],
                "`negative_slope` of LeakyReLU: expected a number of 0 or more, got -0.1",
            ),
            (
                "Softmax",
                vec![("axis", i(0))],
                "`axis` of Softmax: expected an axis of the examples, e.g. axis = -1 (0 is the batch), got `0`",
            ),
        ];
        for (name, kw, want) in cases {
            let err = Layer::from_call(&call(name, &[], &kw)).unwrap_err();
            assert_eq!(err[0].message, want);
        }
        let image = layer("Softmax", &[], &[("axis", i(1))]);
        assert_eq!(
            out(&image, &s(&[Some(4), Some(5), Some(5)]), "Conv2D"),
            Err("kiln's Softmax runs along the last axis (-1, or 3 of [4, 5, 5] from Conv2D), not axis 1; Permute the axis last first".into())
        );
    }
}
