//! The merges of the functional form: `Add(a, b)`, `Subtract(a, b)`, `Multiply`,
//! `Average`, `Maximum`, `Minimum` and
//! `Concatenate(a, b, axis = k)`. The tensors they merge are named by the graph, not by
//! their arguments.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param};
use crate::rule::{Input, Rule};
use crate::shape::{Dim, Shape};

/// How a merge layer combines its tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOp {
    /// The element-wise sum.
    Add,
    /// The element-wise product.
    Multiply,
    /// The element-wise mean.
    Average,
    /// The element-wise maximum.
    Maximum,
    /// The first minus the second.
    Subtract,
    /// The element-wise minimum.
    Minimum,
    /// Joined along tensor dimension `dim` (the batch is dimension 0).
    Concatenate {
        /// The tensor dimension joined.
        dim: usize,
    },
}

/// An element-wise merge (Add, Subtract, Multiply, Average, Maximum, Minimum): every input
/// has one shape, which the output keeps; Subtract takes two.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Merge {}

impl Merge {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        Args::new(&call.name, call, &[]).finish(|| Some(Merge {}))
    }
}

/// Joins its inputs along one axis; every other dimension must agree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concatenate {
    /// Keras's axis, counting the batch dimension as 0: `-1` (the default) is the last,
    /// `1` the channels of a channels-first image.
    pub axis: i64,
}

impl Concatenate {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::keyword("axis")];
        let mut args = Args::new("Concatenate", call, &params);
        let axis = args.or("axis", -1, |v| match v {
            crate::Value::Int(0) => Err(
                "axis 0 is the batch dimension, which Concatenate never joins; use 1 for the first dimension of an example or -1 for the last".into(),
            ),
            crate::Value::Int(n) => Ok(*n),
            other => Err(format!("expected an integer axis, e.g. axis = -1, got `{other}`")),
        });
        args.finish(|| Some(Concatenate { axis }))
    }

    /// The index into an example's dimensions of `axis`, for examples of `rank`.
    pub fn dim_index(&self, rank: usize) -> Option<usize> {
        let rank = rank as i64;
        let index = if self.axis < 0 {
            rank + self.axis
        } else {
            self.axis - 1
        };
        (0..rank).contains(&index).then_some(index as usize)
    }
}

fn listed(inputs: &[Input]) -> String {
    let mut shown: Vec<String> = inputs.iter().map(Input::describe).collect();
    let last = shown.pop().unwrap_or_default();
    if shown.is_empty() {
        last
    } else {
        format!("{} and {last}", shown.join(", "))
    }
}

/// Dimension `d` of the inputs, which agree on it: where one leaves it unknown, another
/// may know it.
fn known(inputs: &[Input], d: usize) -> Dim {
    inputs
        .iter()
        .map(|i| i.shape.dims()[d])
        .find(|d| d.known().is_some())
        .unwrap_or(Dim::Unknown)
}

/// Refuses fewer than two inputs.
fn at_least_two(layer: &str, inputs: &[Input]) -> Result<(), String> {
    if inputs.len() < 2 {
        return Err(format!(
            "{layer} merges two or more tensors, got {}; name them: `let s = {layer}(a, b) -> ...`",
            inputs.len()
        ));
    }
    Ok(())
}

impl Rule for Merge {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        self.merge(layer, std::slice::from_ref(input))
    }

    fn merge(&self, layer: &str, inputs: &[Input]) -> Result<Shape, String> {
        at_least_two(layer, inputs)?;
        if layer == "Subtract" && inputs.len() != 2 {
            return Err(format!(
                "Subtract takes two tensors, a - b, got {}; subtract them one at a time",
                inputs.len()
            ));
        }
        let first = inputs[0].shape;
        let fits = |s: &Shape| crate::shapes_fit(s.dims(), first.dims());
        if !inputs.iter().all(|i| fits(i.shape)) {
            return Err(format!(
                "{layer} needs inputs of one shape, got {}; make them agree (a Conv2D or Dense to match the channels, or Concatenate to join them)",
                listed(inputs)
            ));
        }
        Ok(Shape::new((0..first.rank()).map(|d| known(inputs, d))))
    }
}

impl Rule for Concatenate {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        self.merge(layer, std::slice::from_ref(input))
    }

    fn merge(&self, layer: &str, inputs: &[Input]) -> Result<Shape, String> {
        at_least_two(layer, inputs)?;
        let rank = inputs[0].shape.rank();
        if inputs.iter().any(|i| i.shape.rank() != rank) {
            return Err(format!(
                "{layer} needs inputs of one rank, got {}; Flatten or Reshape them first",
                listed(inputs)
            ));
        }
        let Some(axis) = self.dim_index(rank) else {
            return Err(format!(
                "{layer}'s axis {} is outside examples of {rank} dimensions (axes 1 to {rank}, or -1 to -{rank}; 0 is the batch)",
                self.axis
            ));
        };
        for d in (0..rank).filter(|&d| d != axis) {
            let first = inputs[0].shape.dims()[d];
            if inputs.iter().any(|i| !i.shape.dims()[d].fits(first)) {
                return Err(format!(
                    "{layer} along axis {} needs every other dimension equal, but dimension {} differs: {}",
                    self.axis,
                    d + 1,
                    listed(inputs)
                ));
            }
        }
        let dims = (0..rank).map(|d| {
            if d == axis {
                inputs
                    .iter()
                    .map(|i| i.shape.dims()[d].known())
                    .sum::<Option<usize>>()
                    .into()
            } else {
                known(inputs, d)
            }
        });
        Ok(Shape::new(dims))
    }
}

#[cfg(test)]
mod tests {
    use crate::Layer;
    use crate::layers::testing::*;
    use crate::rule::Input;
    use crate::shape::Shape;

    fn merged(layer: &Layer, shapes: &[(Shape, &str)]) -> Result<Shape, String> {
        let inputs: Vec<Input> = shapes
            .iter()
            .map(|(shape, from)| Input { shape, from })
            .collect();
        layer.merge(&inputs).map_err(|e| e.message)
    }

    #[test]
    fn subtract_takes_two() {
        let a = s(&[Some(4)]);
        let three = [(a.clone(), "a"), (a.clone(), "b"), (a, "c")];
        assert_eq!(
            merged(&layer("Subtract", &[], &[]), &three),
            Err("Subtract takes two tensors, a - b, got 3; subtract them one at a time".into())
        );
    }

    #[test]
    fn element_wise_merges_need_one_shape() {
        let a = s(&[Some(32), Some(16), Some(16)]);
        let b = s(&[Some(64), Some(16), Some(16)]);
        let u = s(&[None, Some(16), Some(16)]);
        for name in [
            "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
        ] {
            let l = layer(name, &[], &[]);
            assert_eq!(
                merged(&l, &[(a.clone(), "h"), (a.clone(), "r")]),
                Ok(a.clone())
            );
            assert_eq!(
                merged(&l, &[(u.clone(), "h"), (a.clone(), "r")]),
                Ok(a.clone())
            );
            assert_eq!(
                merged(&l, &[(a.clone(), "`h`"), (b.clone(), "`r`")]),
                Err(format!(
                    "{name} needs inputs of one shape, got [32, 16, 16] from `h` and [64, 16, 16] from `r`; make them agree (a Conv2D or Dense to match the channels, or Concatenate to join them)"
                ))
            );
            assert_eq!(
                merged(&l, &[(a.clone(), "h")]),
                Err(format!(
                    "{name} merges two or more tensors, got 1; name them: `let s = {name}(a, b) -> ...`"
                ))
            );
            assert_eq!(l.params(&a).total(), 0);
        }
    }

    #[test]
    fn concatenate_sums_its_axis() {
        let a = s(&[Some(32), Some(8), Some(8)]);
        let b = s(&[Some(16), Some(8), Some(8)]);
        let channels = layer("Concatenate", &[], &[("axis", i(1))]);
        assert_eq!(
            merged(&channels, &[(a.clone(), "a"), (b.clone(), "b")]),
            Ok(s(&[Some(48), Some(8), Some(8)]))
        );
        let last = layer("Concatenate", &[], &[]);
        assert_eq!(
            merged(&last, &[(a.clone(), "`a`"), (b.clone(), "`b`")]),
            Err("Concatenate along axis -1 needs every other dimension equal, but dimension 1 differs: [32, 8, 8] from `a` and [16, 8, 8] from `b`".into())
        );
        let seq = s(&[None, Some(4)]);
        assert_eq!(
            merged(&last, &[(seq.clone(), "a"), (s(&[Some(7), Some(3)]), "b")]),
            Ok(s(&[Some(7), Some(7)]))
        );
        assert_eq!(
            merged(&channels, &[(seq.clone(), "a"), (s(&[Some(7), Some(3)]), "b")]),
            Err("Concatenate along axis 1 needs every other dimension equal, but dimension 2 differs: [_, 4] from a and [7, 3] from b".into())
        );
        let far = layer("Concatenate", &[], &[("axis", i(4))]);
        assert_eq!(
            merged(&far, &[(a.clone(), "a"), (b, "b")]),
            Err("Concatenate's axis 4 is outside examples of 3 dimensions (axes 1 to 3, or -1 to -3; 0 is the batch)".into())
        );
        assert_eq!(
            merged(&last, &[(a, "`a`"), (s(&[Some(4)]), "`b`")]),
            Err("Concatenate needs inputs of one rank, got [32, 8, 8] from `a` and [4] from `b`; Flatten or Reshape them first".into())
        );
    }

    #[test]
    fn concatenate_never_joins_the_batch() {
        let err = Layer::from_call(&call("Concatenate", &[], &[("axis", i(0))])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`axis` of Concatenate: axis 0 is the batch dimension, which Concatenate never joins; use 1 for the first dimension of an example or -1 for the last"
        );
        let err = Layer::from_call(&call("Add", &[i(3)], &[])).unwrap_err();
        assert!(err[0].message.contains("Add takes"), "{:?}", err);
    }
}
