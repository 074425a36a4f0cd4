//! `Dropout(rate)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, rate};
use crate::rule::{Input, Rule};
use crate::shape::Shape;

/// Zeroes a random `rate` of its inputs while training and scales the rest by
/// `1 / (1 - rate)`; does nothing at inference. The shape is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropout {
    /// The fraction dropped, in `[0, 1)`.
    pub rate: f64,
}

impl Dropout {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "rate",
            "the fraction of inputs to drop, e.g. Dropout(0.5)",
        )];
        let mut args = Args::new("Dropout", call, &params);
        let rate = args.required("rate", rate);
        args.finish(|| Some(Dropout { rate: rate? }))
    }
}

impl Rule for Dropout {
    fn output(&self, _layer: &str, input: &Input) -> Result<Shape, String> {
        Ok(input.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::Layer;
    use crate::layers::testing::*;

    #[test]
    fn rate_must_be_a_fraction() {
        let cases = [
            (f(0.25), None),
            (i(0), None),
            (f(1.0), Some("1.0")),
            (f(-0.1), Some("-0.1")),
        ];
        for (rate, bad) in cases {
            let got = Layer::from_call(&call("Dropout", std::slice::from_ref(&rate), &[]));
            match bad {
                None => assert!(got.is_ok(), "{rate}"),
                Some(shown) => assert_eq!(
                    got.unwrap_err()[0].message,
                    format!("`rate` of Dropout: the rate must be in [0, 1), got {shown}")
                ),
            }
        }
    }
}
