//! `Rescaling(scale, offset = 0.0)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, finite};
use crate::rule::{Input, Rule};
use crate::shape::Shape;

/// Multiplies every value by `scale` and adds `offset`, as Keras's `Rescaling`:
/// `Rescaling(1./255)` takes pixels from [0, 255] to [0, 1]. The shape is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rescaling {
    /// The factor.
    pub scale: f64,
    /// Added after the factor (0 by default).
    #[serde(default)]
    pub offset: f64,
}

impl Rescaling {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional("scale", "the factor, e.g. Rescaling(1./255)"),
            Param::positional("offset", "added after the factor"),
        ];
        let mut args = Args::new("Rescaling", call, &params);
        let scale = args.required("scale", finite);
        let offset = args.or("offset", 0.0, finite);
        args.finish(|| {
            Some(Rescaling {
                scale: scale?,
                offset,
            })
        })
    }
}

impl Rule for Rescaling {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::Layer;
    use crate::layers::testing::*;

    #[test]
    fn keeps_the_shape_and_takes_keras_s_arguments() {
        let l = layer("Rescaling", &[f(0.5)], &[("offset", f(-1.0))]);
        let shape = s(&[Some(3), Some(8), Some(8)]);
        assert_eq!(out(&l, &shape, "the input"), Ok(shape));
        match &l {
            Layer::Rescaling(r) => assert_eq!((r.scale, r.offset), (0.5, -1.0)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            layer("Rescaling", &[i(2)], &[]),
            Layer::Rescaling(r) if r.scale == 2.0 && r.offset == 0.0
        ));
    }

    #[test]
    fn needs_a_finite_scale() {
        let err = Layer::from_call(&call("Rescaling", &[], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "Rescaling needs `scale` (the factor, e.g. Rescaling(1./255)); add it"
        );
        let err = Layer::from_call(&call("Rescaling", &[f(f64::INFINITY)], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`scale` of Rescaling: expected a finite number, got inf"
        );
    }
}
