//! A hyperparameter's value and a trial's set of them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One hyperparameter's value: what `hp.int`, `hp.float`, `hp.choice`, `hp.boolean` and
/// `hp.fixed` return, as the journal stores it (a JSON bool, integer, number or string).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// `hp.boolean`, or a choice of booleans.
    Bool(bool),
    /// `hp.int`, or a choice of integers.
    Int(i64),
    /// `hp.float`, or a choice of numbers.
    Float(f64),
    /// A choice of strings.
    Str(String),
}

impl Value {
    /// The value as a number, for plots and the Gaussian process (booleans are 0 and 1;
    /// strings have none).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            // Hyperparameter integers are small: the cast is exact.
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(_) => None,
        }
    }

    /// The kind of value, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
        }
    }
}

/// The empty string: what an empty `hp.choice` of values returns, beside its problem.
impl Default for Value {
    fn default() -> Self {
        Value::Str(String::new())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            // As Python prints it: 0.0, not 0.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

/// What a choice may hold: integers, numbers, strings and booleans.
pub trait IntoValue: Clone {
    /// The value as the journal stores it.
    fn into_value(self) -> Value;
}

macro_rules! into_value {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl IntoValue for $t {
            fn into_value(self) -> Value {
                Value::$v(self.into())
            }
        }
    )*};
}

into_value!(bool => Bool, i64 => Int, i32 => Int, u32 => Int, f64 => Float, f32 => Float, String => Str, &str => Str);

impl IntoValue for usize {
    fn into_value(self) -> Value {
        Value::Int(i64::try_from(self).unwrap_or(i64::MAX))
    }
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

/// A trial's hyperparameter values by name, in the order they were declared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values(Vec<(String, Value)>);

impl Values {
    /// No values.
    pub fn new() -> Self {
        Values::default()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets `name` to `value` (replacing its value, or adding it last).
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name, value)),
        }
    }

    /// Names and values, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether both hold the same names with the same values, in any order.
    pub fn same_as(&self, other: &Values) -> bool {
        self.len() == other.len() && self.iter().all(|(n, v)| other.get(n) == Some(v))
    }
}

impl<S: Into<String>> FromIterator<(S, Value)> for Values {
    fn from_iter<I: IntoIterator<Item = (S, Value)>>(iter: I) -> Self {
        let mut values = Values::new();
        for (name, value) in iter {
            values.insert(name, value);
        }
        values
    }
}

impl fmt::Display for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.iter().enumerate() {
            write!(f, "{}{name}={value}", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

impl Serialize for Values {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        map.into_iter()
            .map(|(name, value)| {
                serde_json::from_value(value)
                    .map(|v| (name, v))
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_json_in_declaration_order() {
        let values: Values = [
            ("units", Value::Int(64)),
            ("learning_rate", Value::Float(0.001)),
            ("optimizer", Value::Str("adam".into())),
            ("batch_norm", Value::Bool(true)),
            ("dropout", Value::Float(0.0)),
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_string(&values).unwrap();
        assert_eq!(
            json,
            r#"{"units":64,"learning_rate":0.001,"optimizer":"adam","batch_norm":true,"dropout":0.0}"#
        );
        let back: Values = serde_json::from_str(&json).unwrap();
        assert_eq!(back, values);
        assert_eq!(
            back.to_string(),
            "units=64, learning_rate=0.001, optimizer=adam, batch_norm=true, dropout=0.0"
        );
    }
}
