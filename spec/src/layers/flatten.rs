//! `Flatten`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call};
use crate::rule::{Input, Rule};
use crate::shape::{Dim, Shape};

/// Flattens one example into a vector: `[64, 12, 12]` → `[9216]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flatten {}

impl Flatten {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        Args::new("Flatten", call, &[]).finish(|| Some(Flatten {}))
    }
}

impl Rule for Flatten {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(Shape::new([Dim::from(input.shape.elements())]))
    }
}

#[cfg(test)]
mod tests {
    use crate::Layer;
    use crate::layers::testing::*;

    #[test]
    fn multiplies_the_dimensions() {
        let l = layer("Flatten", &[], &[]);
        let cases = [
            (s(&[Some(64), Some(12), Some(12)]), s(&[Some(9216)])),
            (s(&[Some(10)]), s(&[Some(10)])),
            (s(&[None, Some(16)]), s(&[None])),
        ];
        for (input, want) in cases {
            assert_eq!(out(&l, &input, "the input"), Ok(want));
        }
    }

    #[test]
    fn takes_no_arguments() {
        let err = Layer::from_call(&call("Flatten", &[i(1)], &[])).unwrap_err();
        assert_eq!(err[0].message, "Flatten takes no positional arguments");
    }
}
