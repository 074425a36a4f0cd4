//! `ZeroPadding2D(padding)` and `Cropping2D(cropping)`: rows and columns added around an
//! image or cut off its edges, given as Keras gives them.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value};
use crate::rule::{Input, Rule};
use crate::shape::{Dim, Shape};
use crate::window::{spatial, with_channels};

/// `[[top, bottom], [left, right]]`.
pub type Borders = [[usize; 2]; 2];

/// Zeros added around each image.
///
/// # Shapes
/// `[channels, height, width]` → `[channels, top + height + bottom, left + width + right]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZeroPadding2D {
    /// `[[top, bottom], [left, right]]` (1 all round by default).
    pub padding: Borders,
}

/// Rows and columns cut off each image's edges.
///
/// # Shapes
/// `[channels, height, width]` → `[channels, height - top - bottom, width - left - right]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cropping2D {
    /// `[[top, bottom], [left, right]]` (none by default).
    pub cropping: Borders,
}

/// A size that may be 0.
fn count(v: &Value) -> Result<usize, String> {
    match v {
        Value::Int(n) if *n >= 0 => crate::args::size(*n),
        other => Err(format!("expected a size of 0 or more, got `{other}`")),
    }
}

/// Keras's three spellings: `n` (every side), `(height, width)` (each on both of its
/// sides), `((top, bottom), (left, right))`.
fn borders(v: &Value) -> Result<Borders, String> {
    let pair = |v: &Value| match v {
        Value::Tuple(items) if items.len() == 2 => Ok([count(&items[0])?, count(&items[1])?]),
        other => count(other).map(|n| [n, n]),
    };
    match v {
        Value::Int(_) => count(v).map(|n| [[n, n]; 2]),
        Value::Tuple(items) if items.len() == 2 => Ok([pair(&items[0])?, pair(&items[1])?]),
        other => Err(format!(
            "expected a size, (height, width) or ((top, bottom), (left, right)), got `{other}`"
        )),
    }
}

/// Reads the one argument of either layer.
fn read(call: &Call, name: &'static str, default: Borders) -> Result<Borders, Vec<ArgError>> {
    let params = [Param::positional(name, "")];
    let mut args = Args::new(&call.name, call, &params);
    let borders = args.or(name, default, borders);
    args.finish(|| Some(borders))
}

impl ZeroPadding2D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        read(call, "padding", [[1, 1]; 2]).map(|padding| ZeroPadding2D { padding })
    }
}

impl Cropping2D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        read(call, "cropping", [[0, 0]; 2]).map(|cropping| Cropping2D { cropping })
    }
}

impl Rule for ZeroPadding2D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let sizes = spatial::<2>(layer, input)?;
        let mut out = Vec::new();
        for (&size, [a, b]) in sizes.iter().zip(self.padding) {
            match size
                .known()
                .map(|n| n.checked_add(a).and_then(|n| n.checked_add(b)))
            {
                Some(None) => {
                    return Err(format!(
                        "{layer} padding makes {} too large to count",
                        input.describe()
                    ));
                }
                _ => out.push(size.map(|n| n + a + b)),
            }
        }
        Ok(with_channels(input.shape.dims()[0], out))
    }
}

impl Rule for Cropping2D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let sizes = spatial::<2>(layer, input)?;
        let mut out = Vec::new();
        for ((&size, [a, b]), axis) in sizes.iter().zip(self.cropping).zip(["height", "width"]) {
            out.push(match size {
                // At run time a smaller image than the crop could not be cut: refused here.
                Dim::Unknown => {
                    return Err(format!(
                        "{layer} needs a known {axis} to cut from, got {}",
                        input.describe()
                    ));
                }
                Dim::Known(n) if a.saturating_add(b) >= n => {
                    return Err(format!(
                        "{layer} cuts {a} + {b} off a {axis} of {n} in {}, which leaves nothing; crop less",
                        input.describe()
                    ));
                }
                known => known.map(|n| n - a - b),
            });
        }
        Ok(with_channels(input.shape.dims()[0], out))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;

    #[test]
    fn pads_and_crops_in_keras_spellings() {
        let image = s(&[Some(3), Some(10), Some(8)]);
        let cases = [
            (
                layer("ZeroPadding2D", &[], &[]),
                s(&[Some(3), Some(12), Some(10)]),
            ),
            (
                layer("ZeroPadding2D", &[t(&[2, 0])], &[]),
                s(&[Some(3), Some(14), Some(8)]),
            ),
            (
                layer(
                    "ZeroPadding2D",
                    &[crate::Value::Tuple(vec![t(&[1, 2]), t(&[3, 4])])],
                    &[],
                ),
                s(&[Some(3), Some(13), Some(15)]),
            ),
            (layer("Cropping2D", &[], &[]), image.clone()),
            (
                layer("Cropping2D", &[i(2)], &[]),
                s(&[Some(3), Some(6), Some(4)]),
            ),
            (
                layer(
                    "Cropping2D",
                    &[],
                    &[("cropping", crate::Value::Tuple(vec![t(&[1, 0]), i(3)]))],
                ),
                s(&[Some(3), Some(9), Some(2)]),
            ),
        ];
        for (l, want) in cases {
            assert_eq!(out(&l, &image, "Conv2D"), Ok(want), "{l:?}");
        }
        // An unknown size stays unknown through padding, and cannot be cropped.
        let tall = s(&[Some(3), None, Some(8)]);
        assert_eq!(
            out(&layer("ZeroPadding2D", &[i(1)], &[]), &tall, "the input"),
            Ok(s(&[Some(3), None, Some(10)]))
        );
        assert_eq!(
            out(&layer("Cropping2D", &[i(1)], &[]), &tall, "the input"),
            Err("Cropping2D needs a known height to cut from, got [3, _, 8] from the input".into())
        );
    }

    #[test]
    fn refuses_negative_sizes_and_crops_that_leave_nothing() {
        let err = crate::Layer::from_call(&call("ZeroPadding2D", &[i(-1)], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`padding` of ZeroPadding2D: expected a size of 0 or more, got `-1`"
        );
        let err = crate::Layer::from_call(&call("Cropping2D", &[t(&[1, 2, 3])], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`cropping` of Cropping2D: expected a size, (height, width) or ((top, bottom), (left, right)), got `(1, 2, 3)`"
        );
        assert_eq!(
            out(&layer("Cropping2D", &[t(&[5, 0])], &[]), &s(&[Some(3), Some(10), Some(8)]), "Conv2D"),
            Err("Cropping2D cuts 5 + 5 off a height of 10 in [3, 10, 8] from Conv2D, which leaves nothing; crop less".to_string())
        );
    }
}
