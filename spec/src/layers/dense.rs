//! `Dense(units, activation, use_bias, kernel_regularizer, bias_regularizer, activity_regularizer)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, positive_int};
use crate::rule::{Input, Params, Rule, WeightOptions};
use crate::shape::{Dim, Shape};

/// A fully connected layer: `activation(x · kernel + bias)` over the last axis.
///
/// # Shapes
/// `[features]` → `[units]`, or `[timesteps, features]` → `[timesteps, units]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// The number of outputs.
    pub units: usize,
    /// Activation, bias and regularizers.
    #[serde(flatten)]
    pub weights: WeightOptions,
}

impl Dense {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            &[Param::positional(
                "units",
                "the number of outputs, e.g. Dense(128)",
            )][..],
            &WeightOptions::PARAMS,
        ]
        .concat();
        let mut args = Args::new("Dense", call, &params);
        let units = args.required("units", positive_int);
        let weights = WeightOptions::read(&mut args);
        args.finish(|| {
            Some(Dense {
                units: units?,
                weights,
            })
        })
    }

    fn features(input: &Shape) -> Option<usize> {
        input.dims().last().and_then(|d| d.known())
    }
}

impl Rule for Dense {
    fn weights(&self) -> Option<&WeightOptions> {
        Some(&self.weights)
    }

    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let dims = input.shape.dims();
        match dims {
            [] | [_, _, _, ..] => Err(format!(
                "{layer} expects a 1-D input [features], got {}; add Flatten before it",
                input.describe()
            )),
            [.., Dim::Unknown] => Err(format!(
                "{layer} needs a known number of input features (the last dimension), got {}",
                input.describe()
            )),
            [rest @ .., Dim::Known(_)] => Ok(Shape::new(
                rest.iter().copied().chain([Dim::Known(self.units)]),
            )),
        }
    }

    fn params(&self, input: &Shape) -> Params {
        let features = Dense::features(input).unwrap_or(0);
        Params::trainable(features * self.units + usize::from(self.weights.use_bias) * self.units)
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Activation, Layer, Params, Regularizer};

    #[test]
    fn shapes_and_params_match_keras() {
        // (units, use_bias, input, output, params); params from keras.layers.Dense.count_params().
        let cases = [
            (128, true, s(&[Some(784)]), s(&[Some(128)]), 100_480),
            (10, true, s(&[Some(128)]), s(&[Some(10)]), 1_290),
            (10, false, s(&[Some(128)]), s(&[Some(10)]), 1_280),
            (8, true, s(&[None, Some(4)]), s(&[None, Some(8)]), 40),
        ];
        for (units, bias, input, output, params) in cases {
            let l = layer(
                "Dense",
                &[i(units)],
                &[("use_bias", crate::args::Value::Bool(bias))],
            );
            assert_eq!(out(&l, &input, "the input"), Ok(output));
            assert_eq!(l.params(&input), Params::trainable(params));
        }
    }

    #[test]
    fn reads_keywords() {
        let l = layer(
            "Dense",
            &[i(64)],
            &[
                ("activation", n("relu")),
                (
                    "kernel_regularizer",
                    crate::args::Value::Call(call("l2", &[f(1e-4)], &[])),
                ),
            ],
        );
        let Layer::Dense(d) = l else { unreachable!() };
        assert_eq!(d.units, 64);
        assert_eq!(d.weights.activation, Activation::Relu);
        assert_eq!(d.weights.kernel_regularizer, Some(Regularizer::l2(1e-4)));
        assert!(d.weights.use_bias);
    }

    #[test]
    fn a_bias_regularizer_needs_a_bias() {
        let err = Layer::from_call(&call(
            "Dense",
            &[i(4)],
            &[
                ("use_bias", crate::args::Value::Bool(false)),
                (
                    "bias_regularizer",
                    crate::args::Value::Call(call("l2", &[], &[])),
                ),
            ],
        ))
        .unwrap_err();
        assert_eq!(err[0].at, crate::At::Value(2));
        assert_eq!(
            err[0].message,
            "bias_regularizer has no bias to act on, since use_bias = false; remove one of them"
        );
    }

    #[test]
    fn refuses_inputs_it_cannot_take() {
        let l = layer("Dense", &[i(10)], &[]);
        let cases = [
            (
                s(&[Some(64), Some(12), Some(12)]),
                "MaxPooling2D",
                "Dense expects a 1-D input [features], got [64, 12, 12] from MaxPooling2D; add Flatten before it",
            ),
            (
                s(&[None]),
                "Flatten",
                "Dense needs a known number of input features (the last dimension), got [_] from Flatten",
            ),
        ];
        for (input, from, want) in cases {
            assert_eq!(out(&l, &input, from), Err(want.to_string()));
        }
    }
}
