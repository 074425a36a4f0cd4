//! Activation functions, by their Keras names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::args::{Value, suggestion};

/// An activation function, named as in Keras (`activation = relu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
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
    /// `x · sigmoid(x)` (also called SiLU: `silu` reads as `swish`).
    Swish,
    /// `min(max(x, 0), 6)`, MobileNet's.
    Relu6,
    /// `relu6(x + 3) / 6`, Keras 3's piecewise-linear sigmoid.
    HardSigmoid,
    /// `x · hard_sigmoid(x)`, MobileNetV3's hard swish (`hard_swish` reads as this).
    HardSilu,
    /// `x / (|x| + 1)`.
    Softsign,
    /// `exp(x)`.
    Exponential,
    /// `x · tanh(softplus(x))`.
    Mish,
    /// The identity.
    Linear,
}

impl Activation {
    /// Every activation, in the order of the Keras docs.
    pub const ALL: [Activation; 17] = [
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
        Activation::Relu6,
        Activation::HardSigmoid,
        Activation::HardSilu,
        Activation::Softsign,
        Activation::Exponential,
        Activation::Mish,
        Activation::Linear,
    ];

    /// Other Keras names of activations: Keras 3 writes `swish` as `silu` and `hard_swish`
    /// as `hard_silu`.
    const ALIASES: [(&'static str, Activation); 2] = [
        ("silu", Activation::Swish),
        ("hard_swish", Activation::HardSilu),
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
            Activation::Relu6 => "relu6",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::HardSilu => "hard_silu",
            Activation::Softsign => "softsign",
            Activation::Exponential => "exponential",
            Activation::Mish => "mish",
            Activation::Linear => "linear",
        }
    }

    /// The activation with this Keras name (or one of Keras's other names for it).
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .or_else(|| {
                let alias = Activation::ALIASES.iter().find(|(n, _)| *n == name);
                alias.map(|&(_, a)| a)
            })
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

impl TryFrom<String> for Activation {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Activation::from_value(&Value::Name(name))
    }
}

impl From<Activation> for &'static str {
    fn from(a: Activation) -> Self {
        a.name()
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
                "expected an activation name (relu, sigmoid, tanh, softmax, elu, selu, gelu, leaky_relu, softplus, swish, relu6, hard_sigmoid, hard_silu, softsign, exponential, mish, linear), got `3`",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(Activation::from_value(&v), Err(want.to_string()));
        }
    }

    #[test]
    fn keras_3_s_other_names_read_as_kiln_s() {
        assert_eq!(Activation::from_name("silu"), Some(Activation::Swish));
        assert_eq!(
            Activation::from_name("hard_swish"),
            Some(Activation::HardSilu)
        );
        assert_eq!(
            serde_json::from_str::<Activation>("\"hard_silu\"").unwrap(),
            Activation::HardSilu
        );
    }
}
