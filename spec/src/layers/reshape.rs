//! `Reshape(target_shape)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value};
use crate::rule::{Input, Rule};
use crate::shape::{Dim, Shape};

/// Gives the same elements another shape; one dimension may be `-1`, inferred from the
/// others as in Keras.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reshape {
    /// The target shape; `None` for the one inferred dimension.
    pub target_shape: Vec<Option<usize>>,
}

impl Reshape {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "target_shape",
            "the new shape of one example, e.g. Reshape((1, 28, 28))",
        )];
        let mut args = Args::new("Reshape", call, &params);
        let target = args.required("target_shape", |v| {
            let items = match v {
                Value::Tuple(items) => items.as_slice(),
                Value::Int(_) => std::slice::from_ref(v),
                other => return Err(format!("expected a tuple of sizes, got `{other}`")),
            };
            let dims = items
                .iter()
                .map(|item| match item {
                    Value::Int(-1) => Ok(None),
                    Value::Int(n) if *n > 0 => crate::args::size(*n).map(Some),
                    other => Err(format!(
                        "each size must be a positive integer or -1, got `{other}`"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if dims.iter().filter(|d| d.is_none()).count() > 1 {
                return Err("only one size can be -1".to_string());
            }
            Ok(dims)
        });
        args.finish(|| {
            Some(Reshape {
                target_shape: target?,
            })
        })
    }

    fn target(&self) -> String {
        let dims: Vec<String> = self
            .target_shape
            .iter()
            .map(|d| d.map_or("-1".to_string(), |n| n.to_string()))
            .collect();
        format!("({})", dims.join(", "))
    }
}

impl Rule for Reshape {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let known = crate::product(self.target_shape.iter().flatten().copied());
        let inferred = self.target_shape.contains(&None);
        let Some(elements) = input.shape.elements() else {
            return Ok(Shape::new(self.target_shape.iter().map(|&d| Dim::from(d))));
        };
        let fits = if inferred {
            elements % known == 0
        } else {
            elements == known
        };
        if !fits {
            return Err(format!(
                "{layer} to {} does not fit {} ({elements} elements); the element counts must be equal",
                self.target(),
                input.describe()
            ));
        }
        Ok(Shape::known(
            self.target_shape
                .iter()
                .map(|d| d.unwrap_or(elements / known)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::Layer;
    use crate::layers::testing::*;

    #[test]
    fn keeps_the_element_count() {
        let cases = [
            (
                t(&[1, 28, 28]),
                s(&[Some(784)]),
                Ok(s(&[Some(1), Some(28), Some(28)])),
            ),
            (
                t(&[4, -1]),
                s(&[Some(2), Some(6)]),
                Ok(s(&[Some(4), Some(3)])),
            ),
            (t(&[-1]), s(&[Some(2), Some(6)]), Ok(s(&[Some(12)]))),
            (t(&[4, 8]), s(&[None, Some(8)]), Ok(s(&[Some(4), Some(8)]))),
            (
                t(&[4, 7, 7]),
                s(&[Some(784)]),
                Err(
                    "Reshape to (4, 7, 7) does not fit [784] from Flatten (784 elements); the element counts must be equal",
                ),
            ),
            (
                t(&[5, -1]),
                s(&[Some(12)]),
                Err(
                    "Reshape to (5, -1) does not fit [12] from Flatten (12 elements); the element counts must be equal",
                ),
            ),
        ];
        for (target, input, want) in cases {
            let l = layer("Reshape", &[target], &[]);
            assert_eq!(out(&l, &input, "Flatten"), want.map_err(String::from));
        }
    }

    #[test]
    fn refuses_bad_targets() {
        let cases = [
            (
                t(&[-1, -1]),
                "`target_shape` of Reshape: only one size can be -1",
            ),
            (
                t(&[0, 4]),
                "`target_shape` of Reshape: each size must be a positive integer or -1, got `0`",
            ),
            (
                n("x"),
                "`target_shape` of Reshape: expected a tuple of sizes, got `x`",
            ),
        ];
        for (target, want) in cases {
            let err = Layer::from_call(&call("Reshape", &[target], &[])).unwrap_err();
            assert_eq!(err[0].message, want);
        }
    }
}
