//! `GaussianNoise(stddev)`, `GaussianDropout(rate)`, `SpatialDropout1D(rate)` and
//! `SpatialDropout2D(rate)`: regularizers that act only while training.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, number, rate};
use crate::rule::{Input, Rule};
use crate::shape::Shape;
use crate::window::spatial;

/// Adds zero-centred Gaussian noise of `stddev` to every value while training, as Keras's
/// GaussianNoise; does nothing at inference. The shape is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussianNoise {
    /// The noise's standard deviation, in [0, 1] (as Keras's).
    pub stddev: f64,
}

/// Multiplies every value by Gaussian noise of mean 1 and standard deviation
/// `√(rate / (1 - rate))` while training, as Keras's GaussianDropout; does nothing at
/// inference. The shape is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussianDropout {
    /// The dropout rate it stands for, in `[0, 1)`.
    pub rate: f64,
}

/// Zeroes whole channels (an image's feature maps, a sequence's features at every step)
/// at random while training, scaling the rest by `1 / (1 - rate)`, as Keras's
/// SpatialDropout1D and SpatialDropout2D; does nothing at inference.
///
/// # Shapes
/// `[steps, channels]` (`N` = 1) or `[channels, height, width]` (`N` = 2), unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpatialDropout<const N: usize> {
    /// The fraction of channels dropped, in `[0, 1)`.
    pub rate: f64,
}

/// Over `[steps, channels]`.
pub type SpatialDropout1D = SpatialDropout<1>;
/// Over `[channels, height, width]`.
pub type SpatialDropout2D = SpatialDropout<2>;

/// A layer of one required argument `name`, read by `read`.
fn one<T>(
    call: &Call,
    name: &'static str,
    help: &'static str,
    read: fn(&Value) -> Result<f64, String>,
    build: impl FnOnce(f64) -> T,
) -> Result<T, Vec<ArgError>> {
    let params = [Param::positional(name, help)];
    let mut args = Args::new(&call.name, call, &params);
    let value = args.required(name, read);
    args.finish(|| Some(build(value?)))
}

impl GaussianNoise {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let stddev = |v: &Value| match number(v)? {
            s if (0.0..=1.0).contains(&s) => Ok(s),
            s => Err(format!(
                "the standard deviation must be in [0, 1] (as Keras's), got {s:?}"
            )),
        };
        one(
            call,
            "stddev",
            "the noise's standard deviation, e.g. GaussianNoise(0.1)",
            stddev,
            |stddev| GaussianNoise { stddev },
        )
    }
}

impl GaussianDropout {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        one(
            call,
            "rate",
            "the dropout rate it stands for, e.g. GaussianDropout(0.2)",
            rate,
            |rate| GaussianDropout { rate },
        )
    }
}

impl<const N: usize> SpatialDropout<N> {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        one(
            call,
            "rate",
            "the fraction of channels to drop, e.g. SpatialDropout2D(0.2)",
            rate,
            |rate| SpatialDropout { rate },
        )
    }
}

impl Rule for GaussianNoise {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }
}

impl Rule for GaussianDropout {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }
}

impl<const N: usize> Rule for SpatialDropout<N> {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        spatial::<N>(layer, input)?;
        Ok(input.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::Layer;
    use crate::layers::testing::*;

    #[test]
    fn keep_the_shape_and_check_their_argument() {
        let image = s(&[Some(3), Some(8), Some(8)]);
        for l in [
            layer("GaussianNoise", &[f(0.1)], &[]),
            layer("GaussianDropout", &[f(0.2)], &[]),
            layer("SpatialDropout2D", &[f(0.2)], &[]),
        ] {
            assert_eq!(out(&l, &image, "the input"), Ok(image.clone()), "{l:?}");
        }
        let sequence = s(&[None, Some(4)]);
        let spatial = layer("SpatialDropout1D", &[f(0.5)], &[]);
        assert_eq!(out(&spatial, &sequence, "LSTM"), Ok(sequence.clone()));
        assert_eq!(
            out(&layer("SpatialDropout2D", &[f(0.5)], &[]), &sequence, "LSTM"),
            Err("SpatialDropout2D expects a 3-D input [channels, height, width], got [_, 4] from LSTM; reshape it to [channels, height, width] first".into())
        );
        for (name, value, message) in [
            (
                "GaussianNoise",
                f(-0.1),
                "`stddev` of GaussianNoise: the standard deviation must be in [0, 1] (as Keras's), got -0.1",
            ),
            (
                "GaussianDropout",
                f(1.0),
                "`rate` of GaussianDropout: the rate must be in [0, 1), got 1.0",
            ),
            (
                "SpatialDropout1D",
                i(2),
                "`rate` of SpatialDropout1D: the rate must be in [0, 1), got 2.0",
            ),
        ] {
            let err = Layer::from_call(&call(name, &[value], &[])).unwrap_err();
            assert_eq!(err[0].message, message);
        }
    }
}
