//! `GroupNormalization(groups = 32, epsilon, center, scale)` and `UnitNormalization`:
//! normalizations of each example's features, in groups or as one vector.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, boolean, epsilon};
use crate::rule::{Input, Params, Rule};
use crate::shape::Shape;
use crate::window::{feature_axis, features};

/// Reads Keras's `axis`, which kiln takes as -1 only: the features (an image's channels,
/// first in kiln's order; a vector's or a sequence's features, last).
fn last_axis(args: &mut Args) {
    args.get("axis", |v| match v {
        Value::Int(-1) => Ok(()),
        Value::Tuple(items) if items.as_slice() == [Value::Int(-1)] => Ok(()),
        other => Err(format!(
            "kiln normalizes the features, axis = -1 (Keras's default), got `{other}`"
        )),
    });
}

/// Keras's GroupNormalization: each example's features split into `groups` groups of
/// consecutive features, each group normalized over its features and every position
/// (`(x - mean) / sqrt(variance + epsilon)`), then scaled by `gamma` and shifted by
/// `beta`, one per feature; `groups = -1` gives each feature its own (instance
/// normalization). It keeps no statistics of the batch.
///
/// # Shapes
/// Unchanged; the number of features must be known and a multiple of `groups`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupNormalization {
    /// How many groups, or -1 for one per feature.
    pub groups: i64,
    /// Added to the variance before the square root.
    pub epsilon: f64,
    /// Whether a learned `beta` is added.
    pub center: bool,
    /// Whether a learned `gamma` scales.
    pub scale: bool,
}

impl GroupNormalization {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional("groups", "how many groups, e.g. GroupNormalization(8)"),
            Param::keyword("axis"),
            Param::keyword("epsilon"),
            Param::keyword("center"),
            Param::keyword("scale"),
        ];
        let mut args = Args::new("GroupNormalization", call, &params);
        let groups = args.or("groups", 32, |v| match v {
            Value::Int(g) if *g == -1 || (1..=crate::MAX_SIZE as i64).contains(g) => Ok(*g),
            other => Err(format!(
                "expected a number of groups, or -1 for one per feature, got `{other}`"
            )),
        });
        last_axis(&mut args);
        let epsilon = args.or("epsilon", 1e-3, epsilon);
        let center = args.or("center", true, boolean);
        let scale = args.or("scale", true, boolean);
        args.finish(|| {
            Some(GroupNormalization {
                groups,
                epsilon,
                center,
                scale,
            })
        })
    }

    /// The number of groups of `features` features.
    pub fn group_count(&self, features: usize) -> usize {
        usize::try_from(self.groups).unwrap_or(features)
    }
}

/// The known number of features of `input`, 0 when unknown.
fn feature_count(input: &Shape) -> usize {
    input
        .dims()
        .get(feature_axis(input.rank()))
        .and_then(|d| d.known())
        .unwrap_or(0)
}

impl Rule for GroupNormalization {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let features = features(layer, input)?;
        let groups = self.group_count(features);
        if groups > features || features % groups != 0 {
            return Err(format!(
                "{layer} splits {} into {groups} groups, but its {features} features are not a multiple of {groups}; give a divisor of {features}, e.g. GroupNormalization({})",
                input.describe(),
                (1..=groups.min(features))
                    .rev()
                    .find(|g| features % g == 0)
                    .unwrap_or(1)
            ));
        }
        Ok(input.shape.clone())
    }

    fn params(&self, input: &Shape) -> Params {
        let per_feature = usize::from(self.center) + usize::from(self.scale);
        Params::trainable(per_feature * feature_count(input))
    }
}

/// Keras's UnitNormalization: each example's features (at each position) divided by their
/// L2 norm, kept above 1e-12 as Keras's; the shape is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitNormalization {}

impl UnitNormalization {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::keyword("axis")];
        let mut args = Args::new("UnitNormalization", call, &params);
        last_axis(&mut args);
        args.finish(|| Some(UnitNormalization {}))
    }
}

impl Rule for UnitNormalization {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }

    fn params(&self, _input: &Shape) -> Params {
        Params::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn groups_divide_the_features_and_count_keras_s_weights() {
        // Keras 3.15: GroupNormalization(4) on (8, 8, 16) images has 32 weights; with
        // center=False, 16; UnitNormalization none.
        let image = s(&[Some(16), Some(8), Some(8)]);
        let four = layer("GroupNormalization", &[i(4)], &[]);
        assert_eq!(four.keras_name(), "group_normalization");
        assert_eq!(out(&four, &image, "Conv2D"), Ok(image.clone()));
        assert_eq!(four.params(&image), Params::trainable(32));
        let uncentred = layer(
            "GroupNormalization",
            &[i(4)],
            &[("center", crate::Value::Bool(false))],
        );
        assert_eq!(uncentred.params(&image), Params::trainable(16));
        let each = layer("GroupNormalization", &[i(-1)], &[]);
        assert_eq!(
            out(&each, &s(&[None, Some(6)]), "LSTM"),
            Ok(s(&[None, Some(6)]))
        );
        let unit = layer("UnitNormalization", &[], &[]);
        assert_eq!(unit.params(&image), Params::default());
        assert_eq!(out(&unit, &image, "Conv2D"), Ok(image));
    }

    #[test]
    fn refuses_groups_that_do_not_divide_the_features() {
        // Keras's default of 32 groups on 12 channels.
        let default = layer("GroupNormalization", &[], &[]);
        assert_eq!(
            out(&default, &s(&[Some(12), Some(4), Some(4)]), "Conv2D"),
            Err("GroupNormalization splits [12, 4, 4] from Conv2D into 32 groups, but its 12 features are not a multiple of 32; give a divisor of 12, e.g. GroupNormalization(12)".into())
        );
        let error = |pos: &[crate::Value], kw: &[(&str, crate::Value)]| {
            Layer::from_call(&call("GroupNormalization", pos, kw)).unwrap_err()[0]
                .message
                .clone()
        };
        assert_eq!(
            error(&[i(0)], &[]),
            "`groups` of GroupNormalization: expected a number of groups, or -1 for one per feature, got `0`"
        );
        assert_eq!(
            error(&[], &[("axis", i(1))]),
            "`axis` of GroupNormalization: kiln normalizes the features, axis = -1 (Keras's default), got `1`"
        );
    }
}
