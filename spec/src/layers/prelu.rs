//! `PReLU(shared_axes = None)`: a rectifier whose slope below 0 is learned.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, positive_int};
use crate::rule::{Input, Params, Rule};
use crate::shape::{Dim, Shape};

/// Keras's PReLU: `x` above 0 and `alpha · x` below, with a learned `alpha` (starting at 0)
/// for each value of an example, or one shared along the axes `shared_axes` lists (from 1,
/// in kiln's order: `shared_axes = (2, 3)` shares one per channel of `[c, h, w]` images).
///
/// # Shapes
/// Unchanged; `alpha` has the example's shape with 1 along the shared axes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PRelu {
    /// The axes along which one `alpha` serves every value, from 1.
    #[serde(default)]
    pub shared_axes: Vec<usize>,
}

impl PRelu {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "shared_axes",
            "the axes sharing one slope, from 1, e.g. PReLU(shared_axes = (2, 3))",
        )];
        let mut args = Args::new("PReLU", call, &params);
        let shared_axes = args.or("shared_axes", Vec::new(), |v| {
            let axes = match v {
                Value::Tuple(items) => items.iter().map(positive_int).collect(),
                one => positive_int(one).map(|a| vec![a]),
            }?;
            let mut sorted = axes.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != axes.len() {
                return Err(format!("expected each axis once, got `{v}`"));
            }
            Ok(sorted)
        });
        args.finish(|| Some(PRelu { shared_axes }))
    }

    /// The shape of `alpha` for examples of `shape`: 1 along the shared axes.
    pub fn alpha_shape(&self, shape: &Shape) -> Vec<Dim> {
        let shared = |i: usize| self.shared_axes.contains(&(i + 1));
        let dims = shape.dims().iter().enumerate();
        dims.map(|(i, &d)| if shared(i) { Dim::Known(1) } else { d })
            .collect()
    }
}

impl Rule for PRelu {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let rank = input.shape.rank();
        if let Some(axis) = self.shared_axes.iter().find(|&&a| a > rank) {
            return Err(format!(
                "{layer} shares along axis {axis}, but {} has {rank} dimensions",
                input.describe()
            ));
        }
        if self
            .alpha_shape(input.shape)
            .iter()
            .any(|d| d.known().is_none())
        {
            return Err(format!(
                "{layer} learns a slope for each value of {}, whose size is not known; share the unknown axes, e.g. shared_axes = (1,)",
                input.describe()
            ));
        }
        Ok(input.shape.clone())
    }

    fn params(&self, input: &Shape) -> Params {
        let dims = self.alpha_shape(input);
        Params::trainable(crate::product(dims.iter().map(|d| d.known().unwrap_or(0))))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn one_slope_per_value_or_per_unshared_axis() {
        // Keras: PReLU on (5,) has 5 weights; with shared_axes=[1, 2] on (3, 4, 2) images,
        // 2, one per channel: kiln's [2, 3, 4] shares its axes 2 and 3.
        let every = layer("PReLU", &[], &[]);
        assert_eq!(every.params(&s(&[Some(5)])), Params::trainable(5));
        assert_eq!(every.keras_name(), "p_re_lu");
        let per_channel = layer("PReLU", &[], &[("shared_axes", t(&[3, 2]))]);
        let image = s(&[Some(2), Some(3), Some(4)]);
        assert_eq!(out(&per_channel, &image, "Conv2D"), Ok(image.clone()));
        assert_eq!(per_channel.params(&image), Params::trainable(2));
        let steps = layer("PReLU", &[], &[("shared_axes", i(1))]);
        assert_eq!(
            out(&steps, &s(&[None, Some(8)]), "LSTM"),
            Ok(s(&[None, Some(8)]))
        );
        assert_eq!(steps.params(&s(&[None, Some(8)])), Params::trainable(8));
    }

    #[test]
    fn refuses_axes_it_cannot_share_or_sizes_it_does_not_know() {
        let l = layer("PReLU", &[], &[]);
        assert_eq!(
            out(&l, &s(&[None, Some(8)]), "the input"),
            Err("PReLU learns a slope for each value of [_, 8] from the input, whose size is not known; share the unknown axes, e.g. shared_axes = (1,)".into())
        );
        let far = layer("PReLU", &[], &[("shared_axes", i(3))]);
        assert_eq!(
            out(&far, &s(&[Some(4), Some(8)]), "the input"),
            Err("PReLU shares along axis 3, but [4, 8] from the input has 2 dimensions".into())
        );
        let twice =
            Layer::from_call(&call("PReLU", &[], &[("shared_axes", t(&[1, 1]))])).unwrap_err();
        assert_eq!(
            twice[0].message,
            "`shared_axes` of PReLU: expected each axis once, got `(1, 1)`"
        );
    }
}
