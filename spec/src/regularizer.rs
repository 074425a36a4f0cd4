//! Weight and activity penalties: `l1(x)`, `l2(x)`, `l1_l2(l1 = x, l2 = y)`.

use serde::{Deserialize, Serialize};

use crate::args::{Value, suggestion};

/// A penalty added to the loss, as Keras's `kernel_regularizer = l2(1e-4)`:
/// `l1 · sum(|w|) + l2 · sum(w²)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regularizer {
    /// The factor of `sum(|w|)`.
    pub l1: f64,
    /// The factor of `sum(w²)`.
    pub l2: f64,
}

impl Regularizer {
    /// `l1(x)`.
    pub const fn l1(l1: f64) -> Self {
        Regularizer { l1, l2: 0.0 }
    }

    /// `l2(x)`.
    pub const fn l2(l2: f64) -> Self {
        Regularizer { l1: 0.0, l2 }
    }

    /// Reads `l1(x)`, `l2(x)` or `l1_l2(l1 = x, l2 = y)` (Keras's defaults: 0.01 for a
    /// factor left out of l1/l2, 0 for one left out of l1_l2).
    pub(crate) fn from_value(v: &Value) -> Result<Regularizer, String> {
        const NAMES: [&str; 3] = ["l1", "l2", "l1_l2"];
        let Value::Call(call) = v else {
            return Err(format!(
                "expected a regularizer: l1(x), l2(x) or l1_l2(l1 = x, l2 = y), got `{v}`"
            ));
        };
        if !NAMES.contains(&call.name.as_str()) {
            return Err(format!(
                "unknown regularizer `{}`; {}",
                call.name,
                suggestion(&call.name, &NAMES)
            ));
        }
        let factor = |v: &Value| -> Result<f64, String> {
            let x = match v {
                Value::Float(x) => *x,
                Value::Int(n) => *n as f64,
                other => {
                    return Err(format!(
                        "a factor of {call} must be a number, got `{other}`"
                    ));
                }
            };
            if x >= 0.0 && x.is_finite() {
                Ok(x)
            } else {
                Err(format!("a factor of {call} must be ≥ 0, got {x:?}"))
            }
        };
        let mut l1 = None;
        let mut l2 = None;
        for (i, arg) in call.args.iter().enumerate() {
            let name = match (arg.keyword.as_deref(), call.name.as_str(), i) {
                (Some(k @ ("l1" | "l2")), "l1_l2", _) => k,
                (None, "l1_l2", 0) => "l1",
                (None, "l1_l2", 1) => "l2",
                (Some("l1") | None, "l1", 0) => "l1",
                (Some("l2") | None, "l2", 0) => "l2",
                _ => return Err(format!("unexpected argument {} in `{call}`", i + 1)),
            };
            let slot = if name == "l1" { &mut l1 } else { &mut l2 };
            if slot.replace(factor(&arg.value)?).is_some() {
                return Err(format!("`{name}` is given twice in `{call}`"));
            }
        }
        Ok(match call.name.as_str() {
            "l1" => Regularizer::l1(l1.unwrap_or(0.01)),
            "l2" => Regularizer::l2(l2.unwrap_or(0.01)),
            _ => Regularizer {
                l1: l1.unwrap_or(0.0),
                l2: l2.unwrap_or(0.0),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Arg, Call};

    fn reg(name: &str, args: &[(Option<&str>, Value)]) -> Value {
        Value::Call(Call {
            name: name.into(),
            args: args
                .iter()
                .map(|(k, v)| Arg {
                    keyword: k.map(String::from),
                    value: v.clone(),
                })
                .collect(),
        })
    }

    #[test]
    fn reads_every_spelling() {
        let cases = [
            (
                reg("l2", &[(None, Value::Float(1e-4))]),
                Regularizer::l2(1e-4),
            ),
            (reg("l1", &[]), Regularizer::l1(0.01)),
            (
                reg("l2", &[(Some("l2"), Value::Int(1))]),
                Regularizer::l2(1.0),
            ),
            (
                reg(
                    "l1_l2",
                    &[
                        (Some("l1"), Value::Float(0.1)),
                        (Some("l2"), Value::Float(0.2)),
                    ],
                ),
                Regularizer { l1: 0.1, l2: 0.2 },
            ),
            (
                reg("l1_l2", &[(Some("l2"), Value::Float(0.2))]),
                Regularizer { l1: 0.0, l2: 0.2 },
            ),
        ];
        for (v, want) in cases {
            assert_eq!(Regularizer::from_value(&v), Ok(want), "{v}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_regularizer() {
        let cases = [
            (
                reg("l3", &[(None, Value::Float(0.1))]),
                "unknown regularizer `l3`; did you mean `l1`?",
            ),
            (
                reg("l2", &[(None, Value::Float(-0.1))]),
                "a factor of l2(-0.1) must be ≥ 0, got -0.1",
            ),
            (
                reg(
                    "l2",
                    &[(None, Value::Float(0.1)), (None, Value::Float(0.1))],
                ),
                "unexpected argument 2 in `l2(0.1, 0.1)`",
            ),
            (
                Value::Float(0.1),
                "expected a regularizer: l1(x), l2(x) or l1_l2(l1 = x, l2 = y), got `0.1`",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(Regularizer::from_value(&v), Err(want.to_string()), "{v}");
        }
    }
}
