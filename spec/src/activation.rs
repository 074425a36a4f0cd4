//! Activation functions, by their Keras names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::args::{Value, suggestion};

/// An activation function, named as in Keras (`activation = relu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `exp(x) / sum(exp(x))` along the last axis.
    Softmax,
    /// `x` if `x > 0`, else `exp(x) - 1` (Keras's alpha = 1).
    Elu,
    /// Scaled ELU with Keras's constants (alpha ≈ 1.6733, scale ≈ 1.0507).
    Selu,
    /// Gaussian error linear unit, exact (erf) form as Keras's default.
    Gelu,
    /// `x` if `x > 0`, else `0.2 · x` (Keras 3's default negative slope).
    LeakyRelu,
    /// `ln(1 + exp(x))`.
    Softplus,
    /// `x · sigmoid(x)` (also called SiLU).
    Swish,
    /// The identity.
    Linear,
}

impl Activation {
    /// Every activation, in the order of the Keras docs.
    pub const ALL: [Activation; 11] = [
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::Elu,
        Activation::Selu,
        Activation::Gelu,
        Activation::LeakyRelu,
        Activation::Softplus,
        Activation::Swish,
        Activation::Linear,
    ];

    /// The Keras name: `relu`, `leaky_relu`.
    pub const fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::Elu => "elu",
            Activation::Selu => "selu",
            Activation::Gelu => "gelu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Softplus => "softplus",
            Activation::Swish => "swish",
            Activation::Linear => "linear",
        }
    }

    /// The activation with this Keras name.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Reads `activation = relu` (or `"relu"`).
    pub(crate) fn from_value(v: &Value) -> Result<Activation, String> {
        let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
        match v {
            Value::Name(n) => Activation::from_name(n)
                .ok_or_else(|| format!("unknown activation `{n}`; {}", suggestion(n, &names))),
            other => Err(format!(
                "expected an activation name ({}), got `{other}`",
                names.join(", ")
            )),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_name(a.name()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let cases = [
            (
                Value::Name("rellu".into()),
                "unknown activation `rellu`; did you mean `relu`?",
            ),
            (
                Value::Name("softmx".into()),
                "unknown activation `softmx`; did you mean `softmax`?",
            ),
            (
                Value::Int(3),
                "expected an activation name (relu, sigmoid, tanh, softmax, elu, selu, gelu, leaky_relu, softplus, swish, linear), got `3`",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(Activation::from_value(&v), Err(want.to_string()));
        }
    }
}
