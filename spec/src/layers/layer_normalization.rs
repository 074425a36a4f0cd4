//! `LayerNormalization(epsilon, center)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, boolean, epsilon};
use crate::rule::{Input, Params, Rule};
use crate::shape::Shape;
use crate::window::{feature_axis, features};

/// Normalizes each example's features at each position (an image's channels, the first
/// dimension; a sequence's features, the last: Keras's `axis = -1`) with their own mean
/// and variance, then scales them by `gamma` and shifts them by `beta`; the shape is
/// unchanged. Unlike BatchNormalization, it keeps no statistics of the batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerNormalization {
    /// Added to the variance before the square root.
    pub epsilon: f64,
    /// Whether a learned `beta` is added.
    pub center: bool,
}

impl LayerNormalization {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::keyword("axis"),
            Param::keyword("epsilon"),
            Param::keyword("center"),
            Param::keyword("scale"),
        ];
        let mut args = Args::new("LayerNormalization", call, &params);
        args.get("axis", |v| match v {
            Value::Int(-1) => Ok(()),
            Value::Tuple(items) if items.as_slice() == [Value::Int(-1)] => Ok(()),
            other => Err(format!(
                "kiln normalizes the features, axis = -1 (Keras's default), got `{other}`"
            )),
        });
        let epsilon = args.or("epsilon", 1e-3, epsilon);
        let center = args.or("center", true, boolean);
        args.get("scale", |v| match boolean(v)? {
            true => Ok(()),
            false => Err("burn's LayerNorm always scales by gamma; remove `scale = false`".into()),
        });
        args.finish(|| Some(LayerNormalization { epsilon, center }))
    }
}

impl Rule for LayerNormalization {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        features(layer, input)?;
        Ok(input.shape.clone())
    }

    fn params(&self, input: &Shape) -> Params {
        let features = input
            .dims()
            .get(feature_axis(input.rank()))
            .and_then(|d| d.known())
            .unwrap_or(0);
        // gamma, and beta when centred.
        Params::trainable(features * (1 + usize::from(self.center)))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn counts_keras_s_weights_per_feature() {
        let cases = [
            (
                layer("LayerNormalization", &[], &[]),
                s(&[Some(32), Some(8), Some(8)]),
                64,
            ),
            (
                layer("LayerNormalization", &[], &[]),
                s(&[None, Some(16)]),
                32,
            ),
            (
                layer(
                    "LayerNormalization",
                    &[],
                    &[("center", crate::Value::Bool(false))],
                ),
                s(&[Some(10)]),
                10,
            ),
        ];
        for (l, input, weights) in cases {
            assert_eq!(out(&l, &input, "Dense"), Ok(input.clone()));
            assert_eq!(l.params(&input), Params::trainable(weights));
        }
        assert_eq!(
            out(&layer("LayerNormalization", &[], &[]), &s(&[Some(5), None]), "Conv1D"),
            Err("LayerNormalization needs a known number of features (the last dimension), got [5, _] from Conv1D".to_string())
        );
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let Layer::LayerNormalization(ln) = layer("LayerNormalization", &[], &[("axis", i(-1))])
        else {
            unreachable!()
        };
        assert_eq!((ln.epsilon, ln.center), (1e-3, true));
        let err = Layer::from_call(&call(
            "LayerNormalization",
            &[],
            &[
                ("axis", i(1)),
                ("epsilon", f(-1.0)),
                ("scale", crate::Value::Bool(false)),
            ],
        ))
        .unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.message).collect();
        assert_eq!(
            messages,
            [
                "`axis` of LayerNormalization: kiln normalizes the features, axis = -1 (Keras's default), got `1`",
                "`epsilon` of LayerNormalization: epsilon must be positive, got -1.0",
                "`scale` of LayerNormalization: burn's LayerNorm always scales by gamma; remove `scale = false`",
            ]
        );
    }
}
