//! `UpSampling2D(size, interpolation)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, one_of, sizes};
use crate::rule::{Input, Rule};
use crate::shape::Shape;
use crate::window::{spatial, with_channels};

/// How UpSampling2D fills the new pixels, and how the augmentation layers read the points
/// between pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// Each pixel repeated `size` times along each axis (Keras's default).
    Nearest,
    /// Linear in both axes between pixel centres, as TensorFlow's `resize` (half-pixel
    /// centres, edges clamped).
    Bilinear,
}

/// Scales an image up by whole factors.
///
/// # Shapes
/// `[channels, height, width]` → `[channels, height·size[0], width·size[1]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpSampling2D {
    /// The factor along height and width (2 by default).
    pub size: [usize; 2],
    /// How the new pixels are filled.
    pub interpolation: Interpolation,
}

impl UpSampling2D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional("size", "the factor along height and width"),
            Param::keyword("interpolation"),
        ];
        let mut args = Args::new("UpSampling2D", call, &params);
        let size = args.or("size", [2, 2], sizes::<2>);
        let interpolation = args.or("interpolation", Interpolation::Nearest, |v| {
            one_of(v, &["nearest", "bilinear"])
                .map(|i| [Interpolation::Nearest, Interpolation::Bilinear][i])
        });
        args.finish(|| {
            Some(UpSampling2D {
                size,
                interpolation,
            })
        })
    }
}

impl Rule for UpSampling2D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let sizes = spatial::<2>(layer, input)?;
        // Both at most MAX_SIZE (2³¹): the product fits, and the check refuses it past the limit.
        let out = sizes
            .iter()
            .zip(self.size)
            .map(|(size, factor)| size.map(|n| n * factor))
            .collect();
        Ok(with_channels(input.shape.dims()[0], out))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;

    #[test]
    fn multiplies_height_and_width() {
        let cases = [
            (
                layer("UpSampling2D", &[], &[]),
                s(&[Some(8), Some(7), None]),
                s(&[Some(8), Some(14), None]),
            ),
            (
                layer(
                    "UpSampling2D",
                    &[t(&[3, 1])],
                    &[("interpolation", n("bilinear"))],
                ),
                s(&[Some(1), Some(2), Some(5)]),
                s(&[Some(1), Some(6), Some(5)]),
            ),
        ];
        for (l, input, want) in cases {
            assert_eq!(out(&l, &input, "Conv2D"), Ok(want));
        }
    }

    #[test]
    fn refuses_bad_arguments_and_inputs() {
        let err = crate::Layer::from_call(&call("UpSampling2D", &[i(0)], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`size` of UpSampling2D: expected a positive integer, got 0"
        );
        let err = crate::Layer::from_call(&call(
            "UpSampling2D",
            &[],
            &[("interpolation", n("bilinar"))],
        ))
        .unwrap_err();
        assert_eq!(
            err[0].message,
            "`interpolation` of UpSampling2D: unknown value `bilinar`; did you mean `bilinear`?"
        );
        let l = layer("UpSampling2D", &[i(2)], &[]);
        assert_eq!(
            out(&l, &s(&[Some(10)]), "Dense"),
            Err("UpSampling2D expects a 3-D input [channels, height, width], got [10] from Dense; reshape it to [channels, height, width] first".to_string())
        );
        let huge = call("UpSampling2D", &[i(1 << 40)], &[]);
        assert_eq!(
            crate::Layer::from_call(&huge).unwrap_err()[0].message,
            "`size` of UpSampling2D: 1099511627776 is larger than kiln's largest size, 2147483647"
        );
    }
}
