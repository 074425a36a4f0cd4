//! The search space: each hyperparameter's definition, and its map to the unit interval
//! that every oracle works in (KerasTuner's `value_to_prob` and `prob_to_value`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::num::{as_f64, to_index, truncate};
use crate::value::{Value, Values};

/// How a numeric range is sampled, as KerasTuner's `sampling`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// Evenly over the range.
    #[default]
    Linear,
    /// Evenly over the logarithm (a positive range): as many values in 1e-4..1e-3 as in
    /// 1e-3..1e-2.
    Log,
    /// Dense near the top of the range (`1 - log`), as for momentum near 1.
    ReverseLog,
}

/// What a hyperparameter ranges over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// Integers from `min` to `max` inclusive, every `step` (a factor under log sampling).
    Int {
        /// The smallest value.
        min: i64,
        /// The largest value.
        max: i64,
        /// The step between values; 1 when not given.
        step: Option<i64>,
        /// How the range is sampled.
        sampling: Sampling,
    },
    /// Numbers from `min` to `max`, continuous or every `step`.
    Float {
        /// The smallest value.
        min: f64,
        /// The largest value.
        max: f64,
        /// The step between values (a factor under log sampling), or none for every number.
        step: Option<f64>,
        /// How the range is sampled.
        sampling: Sampling,
    },
    /// One of a list of values.
    Choice {
        /// The values, in order.
        values: Vec<Value>,
    },
    /// True or false.
    Boolean,
    /// One value, never searched.
    Fixed,
}

/// A hyperparameter is active only while each named parent has one of the listed values
/// (`hp.conditional_scope`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The parent hyperparameter.
    pub parent: String,
    /// The parent's values under which the child is active.
    pub values: Vec<Value>,
}

/// One hyperparameter of the search space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HyperParameter {
    /// Its name, unique in the space.
    pub name: String,
    /// What it ranges over.
    #[serde(flatten)]
    pub kind: Kind,
    /// Its value in the first trial, and whenever it is inactive.
    pub default: Value,
    /// When it is active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl HyperParameter {
    /// Whether this hyperparameter is active under `values` (each parent set and to one of
    /// its listed values).
    pub fn is_active(&self, values: &Values) -> bool {
        self.conditions
            .iter()
            .all(|c| values.get(&c.parent).is_some_and(|v| c.values.contains(v)))
    }

    /// Whether an oracle searches it (everything but `fixed`).
    pub fn is_searched(&self) -> bool {
        self.kind != Kind::Fixed
    }

    /// `value`'s place in [0, 1], as KerasTuner's `value_to_prob`: the cumulative position
    /// in the (log) range for continuous numbers, the middle of its slot for stepped
    /// numbers, choices and booleans.
    pub fn to_prob(&self, value: &Value) -> f64 {
        match &self.kind {
            Kind::Int {
                min,
                max,
                step,
                sampling,
            } => {
                let range = Range::new(as_f64(*min), as_f64(*max), step.map(as_f64), *sampling);
                let v = value.as_f64().unwrap_or(range.min);
                match range.step {
                    // Each integer owns the slot up to the next one.
                    None => range.continuous_prob(v + 0.5, range.max + 1.0),
                    Some(_) => range.stepped_prob(v),
                }
            }
            Kind::Float {
                min,
                max,
                step,
                sampling,
            } => {
                let range = Range::new(*min, *max, *step, *sampling);
                let v = value.as_f64().unwrap_or(*min);
                match range.step {
                    None => range.continuous_prob(v, range.max),
                    Some(_) => range.stepped_prob(v),
                }
            }
            Kind::Choice { values } => {
                let index = values.iter().position(|c| c == value).unwrap_or(0);
                index_to_prob(as_f64(index), as_f64(values.len()))
            }
            Kind::Boolean => {
                if *value == Value::Bool(true) {
                    0.75
                } else {
                    0.25
                }
            }
            Kind::Fixed => 0.5,
        }
    }

    /// The value at `prob` in [0, 1], as KerasTuner's `prob_to_value`.
    pub fn from_prob(&self, prob: f64) -> Value {
        let prob = if prob.is_finite() {
            prob.clamp(0.0, 1.0)
        } else {
            0.5
        };
        match &self.kind {
            Kind::Int {
                min,
                max,
                step,
                sampling,
            } => {
                let range = Range::new(as_f64(*min), as_f64(*max), step.map(as_f64), *sampling);
                let value = match range.step {
                    None => range.sample(prob, range.max + 1.0),
                    Some(_) => range.nth(prob_to_index(prob, range.count())),
                };
                Value::Int(truncate(value).clamp(*min, *max))
            }
            Kind::Float {
                min,
                max,
                step,
                sampling,
            } => {
                let range = Range::new(*min, *max, *step, *sampling);
                let value = match range.step {
                    None => range.sample(prob, range.max),
                    Some(_) => range.nth(prob_to_index(prob, range.count())),
                };
                Value::Float(value.clamp(*min, *max))
            }
            Kind::Choice { values } => {
                let index = prob_to_index(prob, as_f64(values.len()));
                values
                    .get(to_index(index))
                    .cloned()
                    .unwrap_or_else(|| self.default.clone())
            }
            Kind::Boolean => Value::Bool(prob >= 0.5),
            Kind::Fixed => self.default.clone(),
        }
    }

    /// Every value for grid search, the default first and then the others in order
    /// (KerasTuner's order); an error naming the hyperparameter for a number without a
    /// step, or more than [`MAX_GRID`] values.
    pub fn grid(&self) -> Result<Vec<Value>, String> {
        let range = match &self.kind {
            Kind::Int {
                min,
                max,
                step,
                sampling,
            } => Range::new(as_f64(*min), as_f64(*max), step.map(as_f64), *sampling),
            Kind::Float {
                min,
                max,
                step,
                sampling,
            } => Range::new(*min, *max, *step, *sampling),
            Kind::Choice { values } => return Ok(self.default_first(values.clone())),
            Kind::Boolean => {
                return Ok(self.default_first(vec![Value::Bool(true), Value::Bool(false)]));
            }
            Kind::Fixed => return Ok(vec![self.default.clone()]),
        };
        let kind = if matches!(self.kind, Kind::Int { .. }) {
            "int"
        } else {
            "float"
        };
        if range.step.is_none() {
            return Err(format!(
                "grid search needs a step for {kind} `{}`; give it one (`.step(..)`) or use another oracle",
                self.name
            ));
        }
        let count = range.count();
        if count > as_f64(MAX_GRID) {
            return Err(format!(
                "grid search over {kind} `{}` would try {count} values, more than {MAX_GRID}; give it a larger step",
                self.name
            ));
        }
        // Steps in floating point overshoot (0.3 + 6 × 0.1): the values stay in range.
        let values = (0..to_index(count)).map(|i| range.nth(as_f64(i)).clamp(range.min, range.max));
        let values = values.map(|v| match self.kind {
            Kind::Int { .. } => Value::Int(truncate(v)),
            _ => Value::Float(v),
        });
        Ok(self.default_first(values.collect()))
    }

    /// `values` with the default first, the others after it in order.
    fn default_first(&self, values: Vec<Value>) -> Vec<Value> {
        let others = values.into_iter().filter(|v| *v != self.default);
        std::iter::once(self.default.clone())
            .chain(others)
            .collect()
    }
}

/// The most values grid search takes from one hyperparameter.
pub const MAX_GRID: usize = 10_000;

/// A numeric range with its step and sampling: KerasTuner's `Numerical` arithmetic.
struct Range {
    min: f64,
    max: f64,
    step: Option<f64>,
    sampling: Sampling,
}

impl Range {
    fn new(min: f64, max: f64, step: Option<f64>, sampling: Sampling) -> Self {
        Range {
            min,
            max,
            step,
            sampling,
        }
    }

    /// The value at cumulative position `prob` of `min..max` (`_sample_numerical_value`).
    fn sample(&self, prob: f64, max: f64) -> f64 {
        let min = self.min;
        match self.sampling {
            Sampling::Linear => prob * (max - min) + min,
            Sampling::Log => min * (max / min).powf(prob),
            Sampling::ReverseLog => max + min - min * (max / min).powf(1.0 - prob),
        }
    }

    /// The cumulative position of `value` in `min..max` (`_numerical_to_prob`).
    fn continuous_prob(&self, value: f64, max: f64) -> f64 {
        let min = self.min;
        if max <= min {
            return 0.5;
        }
        let prob = match self.sampling {
            Sampling::Linear => (value - min) / (max - min),
            Sampling::Log => (value / min).ln() / (max / min).ln(),
            Sampling::ReverseLog => 1.0 - ((max + min - value) / min).ln() / (max / min).ln(),
        };
        if prob.is_finite() {
            prob.clamp(0.0, 1.0)
        } else {
            0.5
        }
    }

    /// How many values the steps give (`_get_n_values`).
    fn count(&self) -> f64 {
        let step = self.step.unwrap_or(1.0);
        let n = match self.sampling {
            Sampling::Linear => ((self.max - self.min) / step).floor() + 1.0,
            Sampling::Log | Sampling::ReverseLog => {
                ((self.max / self.min).ln() / step.ln() + 1e-8).trunc() + 1.0
            }
        };
        if n.is_finite() { n.max(1.0) } else { 1.0 }
    }

    /// The `i`-th stepped value (`_get_value_by_index`).
    fn nth(&self, i: f64) -> f64 {
        let step = self.step.unwrap_or(1.0);
        match self.sampling {
            Sampling::Linear => self.min + i * step,
            Sampling::Log => self.min * step.powf(i),
            Sampling::ReverseLog => self.max + self.min - self.min * step.powf(i),
        }
    }

    /// The middle of a stepped value's slot (`_to_prob_with_step`).
    fn stepped_prob(&self, value: f64) -> f64 {
        let step = self.step.unwrap_or(1.0);
        let index = match self.sampling {
            Sampling::Linear => ((value - self.min) / step).floor(),
            Sampling::Log => (value / self.min).ln() / step.ln(),
            Sampling::ReverseLog => ((self.max - value + self.min) / self.min).ln() / step.ln(),
        };
        let prob = index_to_prob(index, self.count());
        if prob.is_finite() {
            prob.clamp(0.0, 1.0)
        } else {
            0.5
        }
    }
}

/// The slot of `n` equal slots of [0, 1] that `prob` falls in; KerasTuner divides by the
/// slot width (`0.3 / (1 / 10)` is just under 3, so slot 2), and so does kiln.
fn prob_to_index(prob: f64, n: f64) -> f64 {
    let index = (prob / (1.0 / n)).floor();
    if index >= n { n - 1.0 } else { index.max(0.0) }
}

/// The middle of slot `index` of `n`.
fn index_to_prob(index: f64, n: f64) -> f64 {
    (index + 0.5) * (1.0 / n)
}

impl fmt::Display for HyperParameter {
    /// KerasTuner's `search_space_summary` lines: `units (Int)`, then its settings as
    /// Python writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conditions: Vec<String> = self
            .conditions
            .iter()
            .map(|c| format!("'{}' in {}", c.parent, python_list(&c.values)))
            .collect();
        let common = format!(
            "'default': {}, 'conditions': [{}]",
            python(&self.default),
            conditions.join(", ")
        );
        let (class, settings) = match &self.kind {
            Kind::Int {
                min,
                max,
                step,
                sampling,
            } => (
                "Int",
                range(&common, min, max, step.map(|s| s.to_string()), *sampling),
            ),
            Kind::Float {
                min,
                max,
                step,
                sampling,
            } => (
                "Float",
                range(
                    &common,
                    &format!("{min:?}"),
                    &format!("{max:?}"),
                    step.map(|s| format!("{s:?}")),
                    *sampling,
                ),
            ),
            Kind::Choice { values } => (
                "Choice",
                format!("{common}, 'values': {}", python_list(values)),
            ),
            Kind::Boolean => ("Boolean", common),
            Kind::Fixed => (
                "Fixed",
                format!(
                    "'conditions': [{}], 'value': {}",
                    conditions.join(", "),
                    python(&self.default)
                ),
            ),
        };
        write!(f, "{} ({class})\n{{{settings}}}", self.name)
    }
}

/// A numeric range's settings as KerasTuner's summary writes them.
fn range(
    common: &str,
    min: &dyn fmt::Display,
    max: &dyn fmt::Display,
    step: Option<String>,
    sampling: Sampling,
) -> String {
    let sampling = match sampling {
        Sampling::Linear => "linear",
        Sampling::Log => "log",
        Sampling::ReverseLog => "reverse_log",
    };
    let step = step.unwrap_or_else(|| "None".into());
    format!(
        "{common}, 'min_value': {min}, 'max_value': {max}, 'step': {step}, 'sampling': '{sampling}'"
    )
}

/// A value as Python's `repr` writes it.
fn python(value: &Value) -> String {
    match value {
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => format!("{x:?}"),
        Value::Str(s) => format!("'{s}'"),
    }
}

/// A list of values as Python's `repr` writes it.
fn python_list(values: &[Value]) -> String {
    let values: Vec<String> = values.iter().map(python).collect();
    format!("[{}]", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(min: i64, max: i64, step: Option<i64>, sampling: Sampling) -> HyperParameter {
        HyperParameter {
            name: "i".into(),
            kind: Kind::Int {
                min,
                max,
                step,
                sampling,
            },
            default: Value::Int(min),
            conditions: Vec::new(),
        }
    }

    fn float(min: f64, max: f64, step: Option<f64>, sampling: Sampling) -> HyperParameter {
        HyperParameter {
            name: "f".into(),
            kind: Kind::Float {
                min,
                max,
                step,
                sampling,
            },
            default: Value::Float(min),
            conditions: Vec::new(),
        }
    }

    const PROBS: [f64; 11] = [
        0.0, 0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9, 0.95, 0.999_999,
    ];

    fn assert_ints(hp: &HyperParameter, values: [i64; 11]) {
        let got: Vec<Value> = PROBS.iter().map(|&p| hp.from_prob(p)).collect();
        assert_eq!(got, values.map(Value::Int), "{hp:?}");
    }

    fn assert_probs(hp: &HyperParameter, cases: &[(Value, f64)]) {
        for (value, prob) in cases {
            let got = hp.to_prob(value);
            assert!(
                (got - prob).abs() < 1e-12,
                "{hp:?} {value}: {got} != {prob}"
            );
        }
    }

    // Every expected number below is keras_tuner 1.4.8's (`prob_to_value` and
    // `value_to_prob` of the same hyperparameter, e.g. `hp.Int("i", 1, 10)`).
    #[test]
    fn integers_map_to_the_unit_interval_as_keras_tuner_maps_them() {
        let linear = int(1, 10, Some(1), Sampling::Linear);
        assert_ints(&linear, [1, 1, 2, 3, 3, 6, 7, 8, 10, 10, 10]);
        assert_probs(
            &linear,
            &[
                (Value::Int(1), 0.05),
                (Value::Int(5), 0.45),
                (Value::Int(10), 0.9500000000000001),
            ],
        );
        let stepped = int(10, 100, Some(30), Sampling::Linear);
        assert_ints(&stepped, [10, 10, 10, 40, 40, 70, 70, 100, 100, 100, 100]);
        assert_probs(
            &stepped,
            &[(Value::Int(10), 0.125), (Value::Int(70), 0.625)],
        );
        assert_ints(
            &int(0, 10, Some(3), Sampling::Linear),
            [0, 0, 0, 3, 3, 6, 6, 9, 9, 9, 9],
        );
        let log = int(1, 1000, None, Sampling::Log);
        assert_ints(&log, [1, 1, 1, 5, 7, 31, 125, 177, 501, 708, 1000]);
        assert_probs(
            &log,
            &[
                (Value::Int(5), 0.24675186002294264),
                (Value::Int(100), 0.6672921350895129),
            ],
        );
        let log_step = int(1, 1000, Some(10), Sampling::Log);
        assert_ints(
            &log_step,
            [1, 1, 1, 10, 10, 100, 100, 1000, 1000, 1000, 1000],
        );
        assert_probs(
            &log_step,
            &[
                (Value::Int(10), 0.375),
                (Value::Int(1000), 0.8749999999999999),
            ],
        );
        let reverse = int(1, 1000, None, Sampling::ReverseLog);
        assert_ints(
            &reverse,
            [1, 293, 500, 824, 876, 970, 994, 996, 1000, 1000, 1000],
        );
        assert_probs(
            &reverse,
            &[
                (Value::Int(500), 0.10003990501769344),
                (Value::Int(900), 0.33127474544120794),
            ],
        );
        assert_ints(
            &int(1, 1000, Some(10), Sampling::ReverseLog),
            [1000, 1000, 1000, 991, 991, 901, 901, 1, 1, 1, 1],
        );
    }

    #[test]
    fn numbers_map_to_the_unit_interval_as_keras_tuner_maps_them() {
        let stepped = float(0.1, 0.5, Some(0.1), Sampling::Linear);
        let got: Vec<Value> = [0.0, 0.25, 0.5, 0.7, 0.999_999]
            .iter()
            .map(|&p| stepped.from_prob(p))
            .collect();
        assert_eq!(
            got,
            [0.1, 0.2, 0.30000000000000004, 0.4, 0.5].map(Value::Float)
        );
        assert_probs(
            &stepped,
            &[
                (Value::Float(0.2), 0.30000000000000004),
                (Value::Float(0.5), 0.9),
            ],
        );
        let log = float(1e-4, 0.1, None, Sampling::Log);
        assert_eq!(log.from_prob(0.5), Value::Float(0.0031622776601683794));
        assert_eq!(log.from_prob(0.05), Value::Float(0.00014125375446227543));
        assert_probs(
            &log,
            &[
                (Value::Float(0.001), 0.33333333333333337),
                (Value::Float(0.1), 1.0),
            ],
        );
        let reverse = float(0.1, 1.0, None, Sampling::ReverseLog);
        assert_eq!(reverse.from_prob(0.5), Value::Float(0.7837722339831621));
        assert_probs(
            &reverse,
            &[
                (Value::Float(0.5), 0.22184874961635637),
                (Value::Float(0.9), 0.6989700043360187),
            ],
        );
        let reverse_step = float(1.0, 100.0, Some(10.0), Sampling::ReverseLog);
        // keras_tuner's values are [100, 91, 1]; the grid puts the default (1) first.
        assert_eq!(
            reverse_step.grid().unwrap(),
            [1.0, 100.0, 91.0].map(Value::Float)
        );
    }

    #[test]
    fn every_value_round_trips_through_its_probability() {
        let choice = HyperParameter {
            name: "c".into(),
            kind: Kind::Choice {
                values: ["relu", "tanh", "sigmoid", "elu"]
                    .map(|s| Value::Str(s.into()))
                    .to_vec(),
            },
            default: Value::Str("relu".into()),
            conditions: Vec::new(),
        };
        let boolean = HyperParameter {
            name: "b".into(),
            kind: Kind::Boolean,
            default: Value::Bool(false),
            conditions: Vec::new(),
        };
        for hp in [
            int(1, 10, Some(1), Sampling::Linear),
            int(10, 100, Some(30), Sampling::Linear),
            int(1, 1000, Some(10), Sampling::Log),
            float(0.0, 1.0, Some(0.25), Sampling::Linear),
            float(1e-4, 0.1, Some(10.0), Sampling::Log),
            choice,
            boolean,
        ] {
            for value in hp.grid().unwrap() {
                assert_eq!(hp.from_prob(hp.to_prob(&value)), value, "{hp:?}");
            }
        }
        // Continuous ranges round-trip to float precision.
        for hp in [
            float(1e-4, 0.1, None, Sampling::Log),
            float(0.1, 1.0, None, Sampling::ReverseLog),
        ] {
            for x in [0.0, 0.3, 0.77, 1.0] {
                let Value::Float(v) = hp.from_prob(x) else {
                    panic!()
                };
                assert!((hp.to_prob(&Value::Float(v)) - x).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn the_grid_starts_with_the_default() {
        let mut hp = int(10, 100, Some(45), Sampling::Linear);
        assert_eq!(hp.grid().unwrap(), [10, 55, 100].map(Value::Int));
        hp.default = Value::Int(55);
        assert_eq!(hp.grid().unwrap(), [55, 10, 100].map(Value::Int));
        assert_eq!(
            float(0.0, 1.0, None, Sampling::Linear).grid().unwrap_err(),
            "grid search needs a step for float `f`; give it one (`.step(..)`) or use another oracle"
        );
        assert_eq!(
            int(0, i64::MAX, Some(1), Sampling::Linear)
                .grid()
                .unwrap_err(),
            "grid search over int `i` would try 9223372036854776000 values, more than 10000; give it a larger step"
        );
        // 0.3 + 6 × 0.1 is 0.9000000000000001 in floating point: kept in range.
        let grid = float(0.3, 0.9, Some(0.1), Sampling::Linear).grid().unwrap();
        assert_eq!(grid.last(), Some(&Value::Float(0.9)));
    }
}
