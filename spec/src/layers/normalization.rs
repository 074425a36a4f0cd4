//! `Normalization(axis = -1, mean, variance, invert = false)`: Keras's preprocessing layer
//! that standardizes its inputs with a mean and variance, learned from the data by
//! `adapt` or given.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, finite, non_negative};
use crate::rule::{Input, Params, Rule};
use crate::shape::Shape;
use crate::window::{feature_axis, features};

/// Which values share one mean and variance; written as `model!` writes it, `-1` or
/// `"None"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "serde_json::Value", try_from = "serde_json::Value")]
pub enum NormAxis {
    /// One per feature: an image's channels, the first dimension; a vector's or a
    /// sequence's features, the last (Keras's `axis = -1`, the default).
    Features,
    /// One for every value (Keras's `axis = None`).
    All,
}

/// Keras's Normalization: `(x - mean) / sqrt(variance)` (the root kept above 1e-7, as
/// Keras's), or with `invert` its inverse, `mean + x · sqrt(variance)`. Without `mean`
/// and `variance` it holds them as state, mean 0 and variance 1 until `adapt` reads them
/// off the data; given, they are constants (one number for all, or one per feature).
///
/// # Shapes
/// Unchanged; `axis = -1` needs a known number of features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Which values share one mean and variance.
    pub axis: NormAxis,
    /// The given means (one, or one per feature); none: state that `adapt` sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f64>>,
    /// The given variances, as many as the means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variance: Option<Vec<f64>>,
    /// Whether it undoes the normalization instead (to map outputs back).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
}

impl NormAxis {
    /// The axis `model!` reads.
    fn read(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(-1) => Ok(NormAxis::Features),
            Value::Name(n) if n == "None" => Ok(NormAxis::All),
            other => Err(format!(
                "kiln normalizes per feature (`axis = -1`) or over all values (`axis = None`), got `{other}`"
            )),
        }
    }
}

impl From<NormAxis> for serde_json::Value {
    fn from(axis: NormAxis) -> Self {
        match axis {
            NormAxis::Features => (-1).into(),
            NormAxis::All => "None".into(),
        }
    }
}

impl NormAxis {
    /// Why a `null` axis is refused: Keras's `None` (all values) or kiln's default (per
    /// feature)?
    pub const NULL: &'static str = "Normalization's `axis` is null, which could mean Keras's None or the default; write \"None\" for one mean over all values, or -1 for one per feature";
}

impl TryFrom<serde_json::Value> for NormAxis {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::Null => Err(NormAxis::NULL.into()),
            serde_json::Value::String(name) => NormAxis::read(&Value::Name(name)),
            other => NormAxis::read(&Value::Int(other.as_i64().unwrap_or(0))),
        }
    }
}

impl Normalization {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::keyword("axis"),
            Param::keyword("mean"),
            Param::keyword("variance"),
            Param::keyword("invert"),
        ];
        let mut args = Args::new("Normalization", call, &params);
        let axis = args.or("axis", NormAxis::Features, NormAxis::read);
        let values = |check: fn(&Value) -> Result<f64, String>| {
            move |v: &Value| match v {
                Value::Tuple(items) if !items.is_empty() => items.iter().map(check).collect(),
                Value::Tuple(_) => Err("expected a number or one per feature, got `()`".into()),
                one => check(one).map(|x| vec![x]),
            }
        };
        let mean = args.get("mean", values(finite));
        let variance = args.get("variance", values(non_negative));
        let invert = args.or("invert", false, crate::args::boolean);
        match (&mean, &variance) {
            (Some(m), Some(v)) if m.len() != v.len() => args.error_on(
                "variance",
                format!(
                    "Normalization's `mean` and `variance` must be as many, got {} and {}",
                    m.len(),
                    v.len()
                ),
            ),
            (Some(_), None) => args.error_on(
                "mean",
                "Normalization takes both `mean` and `variance`, or neither (to adapt them to the data); add `variance`".into(),
            ),
            (None, Some(_)) => args.error_on(
                "variance",
                "Normalization takes both `mean` and `variance`, or neither (to adapt them to the data); add `mean`".into(),
            ),
            _ => {}
        }
        args.finish(|| {
            Some(Normalization {
                axis,
                mean,
                variance,
                invert,
            })
        })
    }

    /// How many means and variances it holds for an input of `shape`: one per feature or
    /// one.
    pub fn size(&self, shape: &Shape) -> usize {
        match self.axis {
            NormAxis::All => 1,
            NormAxis::Features => shape
                .dims()
                .get(feature_axis(shape.rank()))
                .and_then(|d| d.known())
                .unwrap_or(0),
        }
    }

    /// Whether `adapt` sets its mean and variance (none were given).
    pub fn adapts(&self) -> bool {
        self.mean.is_none()
    }
}

impl Rule for Normalization {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let size = match self.axis {
            NormAxis::Features => features(layer, input)?,
            NormAxis::All => 1,
        };
        if let Some(given) = self.mean.as_ref().map(Vec::len)
            && given != 1
            && given != size
        {
            let what = match self.axis {
                NormAxis::Features => format!("{size} features"),
                NormAxis::All => "axis = None".into(),
            };
            return Err(format!(
                "{layer} is given {given} means and variances, but {} has {what}; give one, or one per feature",
                input.describe()
            ));
        }
        Ok(input.shape.clone())
    }

    fn params(&self, input: &Shape) -> Params {
        // Keras keeps an adapted mean, variance and a count; given values are constants.
        let state = if self.adapts() {
            2 * self.size(input) + 1
        } else {
            0
        };
        Params {
            trainable: 0,
            non_trainable: state,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn holds_a_mean_and_variance_per_feature_or_for_all() {
        // Keras 3.15: Normalization() on (4,) has 9 non-trainable weights (mean, variance,
        // count); on (8, 8, 3) images, 7; with axis=None, 3; with values given, none.
        let adapted = layer("Normalization", &[], &[]);
        assert_eq!(adapted.keras_name(), "normalization");
        let vector = s(&[Some(4)]);
        assert_eq!(out(&adapted, &vector, "the input"), Ok(vector.clone()));
        assert_eq!(adapted.params(&vector).non_trainable, 9);
        let image = s(&[Some(3), Some(8), Some(8)]);
        assert_eq!(adapted.params(&image).non_trainable, 7);
        let steps = s(&[None, Some(5)]);
        assert_eq!(out(&adapted, &steps, "the input"), Ok(steps.clone()));
        let all = layer("Normalization", &[], &[("axis", n("None"))]);
        assert_eq!(all.params(&image).non_trainable, 3);
        let given = layer(
            "Normalization",
            &[],
            &[("mean", t(&[1, 2, 3])), ("variance", t(&[4, 4, 4]))],
        );
        assert_eq!(out(&given, &image, "the input"), Ok(image.clone()));
        assert!(matches!(&given, Layer::Normalization(_)));
        assert_eq!(
            layer(
                "Normalization",
                &[],
                &[("mean", f(0.5)), ("variance", f(0.25))]
            )
            .params(&image),
            Params::default()
        );
    }

    #[test]
    fn its_json_form_reads_back_and_a_null_axis_is_refused() {
        let model = crate::ModelSpec::sequential(
            "Scaled",
            s(&[Some(3)]),
            vec![
                layer("Normalization", &[], &[]),
                layer(
                    "Normalization",
                    &[],
                    &[
                        ("axis", n("None")),
                        ("invert", crate::Value::Bool(true)),
                        ("mean", f(0.5)),
                        ("variance", f(2.0)),
                    ],
                ),
            ],
        );
        let json = model.to_json();
        assert_eq!(crate::ModelSpec::from_json(&json).unwrap(), model);
        let null = json.replacen("\"axis\": -1", "\"axis\": null", 1);
        assert_ne!(null, json);
        let err = crate::ModelSpec::from_json(&null).unwrap_err().to_string();
        assert!(err.contains(super::NormAxis::NULL), "{err}");
    }

    #[test]
    fn refuses_what_keras_refuses_and_axes_kiln_lacks() {
        let no_features = layer("Normalization", &[], &[]);
        assert_eq!(
            out(&no_features, &s(&[Some(4), None]), "the input"),
            Err("Normalization needs a known number of features (the last dimension), got [4, _] from the input".into())
        );
        let three = layer(
            "Normalization",
            &[],
            &[("mean", t(&[1, 2, 3])), ("variance", t(&[1, 1, 1]))],
        );
        assert_eq!(
            out(&three, &s(&[Some(4)]), "the input"),
            Err("Normalization is given 3 means and variances, but [4] from the input has 4 features; give one, or one per feature".into())
        );
        let error = |kwargs: &[(&str, crate::args::Value)]| {
            Layer::from_call(&call("Normalization", &[], kwargs)).unwrap_err()[0]
                .message
                .clone()
        };
        assert_eq!(
            error(&[("axis", i(1))]),
            "`axis` of Normalization: kiln normalizes per feature (`axis = -1`) or over all values (`axis = None`), got `1`"
        );
        assert_eq!(
            error(&[("mean", f(0.5))]),
            "Normalization takes both `mean` and `variance`, or neither (to adapt them to the data); add `variance`"
        );
        assert_eq!(
            error(&[("mean", t(&[1, 2])), ("variance", f(1.0))]),
            "Normalization's `mean` and `variance` must be as many, got 2 and 1"
        );
        assert_eq!(
            error(&[("mean", f(0.5)), ("variance", f(-1.0))]),
            "`variance` of Normalization: expected a number of 0 or more, got -1.0"
        );
    }
}
