//! `Permute(dims)` and `RepeatVector(n)`: the same elements in another layout.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, positive_int};
use crate::rule::{Input, Rule};
use crate::shape::{Dim, Shape};

/// Reorders the dimensions of each example: `dims` lists, for each output dimension, the
/// input dimension it takes, counting from 1 as Keras does (the batch is not counted).
///
/// # Shapes
/// `[a, b, c]` with `dims = (3, 1, 2)` → `[c, a, b]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Permute {
    /// A permutation of `1..=rank`.
    pub dims: Vec<usize>,
}

/// Repeats a vector `n` times.
///
/// # Shapes
/// `[features]` → `[n, features]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepeatVector {
    /// How many times.
    pub n: usize,
}

impl Permute {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "dims",
            "the input dimension of each output dimension, from 1, e.g. Permute((2, 1))",
        )];
        let mut args = Args::new("Permute", call, &params);
        let dims = args.required("dims", |v| {
            let items = match v {
                Value::Tuple(items) => items.as_slice(),
                other => return Err(format!("expected a tuple such as (2, 1), got `{other}`")),
            };
            let dims = items
                .iter()
                .map(positive_int)
                .collect::<Result<Vec<_>, _>>()?;
            let mut sorted = dims.clone();
            sorted.sort_unstable();
            if sorted != (1..=dims.len()).collect::<Vec<_>>() {
                return Err(format!(
                    "expected each of 1 to {} once, got `{v}`",
                    dims.len()
                ));
            }
            Ok(dims)
        });
        args.finish(|| Some(Permute { dims: dims? }))
    }
}

impl Rule for Permute {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let dims = input.shape.dims();
        if dims.len() != self.dims.len() {
            return Err(format!(
                "{layer} reorders {} dimensions, but {} has {}; list each of its dimensions once",
                self.dims.len(),
                input.describe(),
                dims.len()
            ));
        }
        Ok(Shape::new(self.dims.iter().map(|&d| dims[d - 1])))
    }
}

impl RepeatVector {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "n",
            "how many times, e.g. RepeatVector(3)",
        )];
        let mut args = Args::new("RepeatVector", call, &params);
        let n = args.required("n", positive_int);
        args.finish(|| Some(RepeatVector { n: n? }))
    }
}

impl Rule for RepeatVector {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        match input.shape.dims() {
            [features] => Ok(Shape::new([Dim::Known(self.n), *features])),
            _ => Err(format!(
                "{layer} repeats a vector [features], got {}; add Flatten before it",
                input.describe()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;

    #[test]
    fn permute_reorders_the_example_dimensions() {
        let l = layer("Permute", &[t(&[3, 1, 2])], &[]);
        assert_eq!(
            out(&l, &s(&[Some(4), None, Some(6)]), "Conv2D"),
            Ok(s(&[Some(6), Some(4), None]))
        );
        assert_eq!(
            out(&l, &s(&[Some(4), Some(6)]), "LSTM"),
            Err("Permute reorders 3 dimensions, but [4, 6] from LSTM has 2; list each of its dimensions once".to_string())
        );
        for (dims, want) in [
            (
                t(&[1, 1]),
                "`dims` of Permute: expected each of 1 to 2 once, got `(1, 1)`",
            ),
            (
                t(&[0, 1]),
                "`dims` of Permute: expected a positive integer, got 0",
            ),
            (
                i(2),
                "`dims` of Permute: expected a tuple such as (2, 1), got `2`",
            ),
        ] {
            let err = crate::Layer::from_call(&call("Permute", &[dims], &[])).unwrap_err();
            assert_eq!(err[0].message, want);
        }
    }

    #[test]
    fn repeat_vector_stacks_copies() {
        let l = layer("RepeatVector", &[i(3)], &[]);
        assert_eq!(
            out(&l, &s(&[Some(32)]), "Dense"),
            Ok(s(&[Some(3), Some(32)]))
        );
        assert_eq!(
            out(&l, &s(&[Some(2), Some(32)]), "LSTM"),
            Err("RepeatVector repeats a vector [features], got [2, 32] from LSTM; add Flatten before it".to_string())
        );
        let err = crate::Layer::from_call(&call("RepeatVector", &[], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "RepeatVector needs `n` (how many times, e.g. RepeatVector(3)); add it"
        );
    }
}
