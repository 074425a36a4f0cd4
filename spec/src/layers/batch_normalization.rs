//! `BatchNormalization(momentum, epsilon)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, epsilon, number};
use crate::rule::{Input, Params, Rule};
use crate::shape::Shape;
use crate::window::{feature_axis, features};

/// Normalizes each feature (an image's channels, the first dimension; a sequence's
/// features, the last, as Keras's `axis = -1`) with the batch's statistics while training
/// and with moving averages at inference; the shape is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormalization {
    /// Keras's momentum of the moving averages: `moving = momentum · moving + (1 - momentum) · batch`.
    pub momentum: f64,
    /// Added to the variance before the square root.
    pub epsilon: f64,
}

impl BatchNormalization {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::keyword("momentum"), Param::keyword("epsilon")];
        let mut args = Args::new("BatchNormalization", call, &params);
        let momentum = args.or("momentum", 0.99, |v| {
            let m = number(v)?;
            if (0.0..=1.0).contains(&m) {
                Ok(m)
            } else {
                Err(format!("the momentum must be in [0, 1], got {m:?}"))
            }
        });
        let epsilon = args.or("epsilon", 1e-3, epsilon);
        args.finish(|| Some(BatchNormalization { momentum, epsilon }))
    }
}

impl Rule for BatchNormalization {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        features(layer, input)?;
        Ok(input.shape.clone())
    }

    fn params(&self, input: &Shape) -> Params {
        let channels = input
            .dims()
            .get(feature_axis(input.rank()))
            .and_then(|d| d.known())
            .unwrap_or(0);
        // gamma and beta are trained; the moving mean and variance are not.
        Params {
            trainable: 2 * channels,
            non_trainable: 2 * channels,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn counts_four_weights_per_channel() {
        let l = layer("BatchNormalization", &[], &[]);
        let input = s(&[Some(32), Some(8), Some(8)]);
        assert_eq!(out(&l, &input, "Conv2D"), Ok(input.clone()));
        assert_eq!(
            l.params(&input),
            Params {
                trainable: 64,
                non_trainable: 64
            }
        );
        assert_eq!(l.params(&input).total(), 128);
    }

    #[test]
    fn reads_keras_defaults_and_checks_ranges() {
        let Layer::BatchNormalization(bn) = layer("BatchNormalization", &[], &[]) else {
            unreachable!()
        };
        assert_eq!((bn.momentum, bn.epsilon), (0.99, 1e-3));
        let err = Layer::from_call(&call(
            "BatchNormalization",
            &[],
            &[("momentum", f(1.5)), ("epsilon", i(0))],
        ))
        .unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.message).collect();
        assert_eq!(
            messages,
            [
                "`momentum` of BatchNormalization: the momentum must be in [0, 1], got 1.5",
                "`epsilon` of BatchNormalization: epsilon must be positive, got 0.0",
            ]
        );
    }
}
