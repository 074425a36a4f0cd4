//! `HyperParameters`: what a build function declares and reads, in KerasTuner's words.

use crate::space::{Condition, HyperParameter, Kind, Sampling};
use crate::value::{IntoValue, Value, Values};

/// The hyperparameters of one trial. A build function declares each one where it uses
/// it (`hp.int("units", 32, 512).step(32).value()`) and gets this trial's value; the
/// first declaration adds it to the search space. A mistake (an empty range, a name
/// declared twice differently) never panics: the trial fails with a message naming it.
///
/// ```
/// use kiln_tune::HyperParameters;
///
/// let mut hp = HyperParameters::new();
/// let units = hp.int("units", 32, 512).step(32).value();
/// let rate = hp.float("learning_rate", 1e-4, 1e-2).log().value();
/// let optimizer = hp.choice("optimizer", ["adam", "sgd"]).value();
/// // Nothing chosen yet: each is its default (the minimum, the first choice).
/// assert_eq!((units, rate, optimizer), (32, 1e-4, "adam"));
/// assert_eq!(hp.space().len(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct HyperParameters {
    space: Vec<HyperParameter>,
    values: Values,
    scopes: Vec<Condition>,
    problems: Vec<String>,
}

impl HyperParameters {
    /// No hyperparameters, no values: every declaration returns its default.
    pub fn new() -> Self {
        HyperParameters::default()
    }

    /// Hyperparameters that return `values` (an oracle's choice) and defaults elsewhere.
    pub fn with_values(space: &[HyperParameter], values: Values) -> Self {
        HyperParameters {
            space: space.to_vec(),
            values,
            ..HyperParameters::default()
        }
    }

    /// An integer from `min` to `max` inclusive; KerasTuner's `hp.Int`.
    pub fn int(&mut self, name: &str, min: i64, max: i64) -> Int<'_> {
        Number::new(self, name, min, max)
    }

    /// A number from `min` to `max`; KerasTuner's `hp.Float`.
    pub fn float(&mut self, name: &str, min: f64, max: f64) -> Float<'_> {
        Number::new(self, name, min, max)
    }

    /// One of `values` (integers, numbers, strings or booleans); KerasTuner's `hp.Choice`.
    pub fn choice<T: IntoValue>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = T>,
    ) -> Choice<'_, T> {
        Choice {
            hp: self,
            name: name.to_string(),
            values: values.into_iter().collect(),
            default: None,
        }
    }

    /// True or false (false by default); KerasTuner's `hp.Boolean`.
    pub fn boolean(&mut self, name: &str) -> Boolean<'_> {
        Boolean {
            hp: self,
            name: name.to_string(),
            default: false,
        }
    }

    /// A value recorded with the trial but never searched; KerasTuner's `hp.Fixed`.
    pub fn fixed<T: IntoValue>(&mut self, name: &str, value: T) -> T {
        let declared = value.clone().into_value();
        if !is_finite(&declared) {
            return self.problem(
                name,
                format!("the value {declared} is not a finite number"),
                value,
            );
        }
        // A fixed value is what the build says, whatever the journal holds.
        self.declare(name, Kind::Fixed, declared);
        value
    }

    /// Runs `build` with the hyperparameters it declares active only while `parent` has
    /// one of `values`; KerasTuner's `hp.conditional_scope`. Inactive ones return their
    /// defaults and are not part of the trial's values.
    pub fn conditional_scope<T: IntoValue, R>(
        &mut self,
        parent: &str,
        values: impl IntoIterator<Item = T>,
        build: impl FnOnce(&mut Self) -> R,
    ) -> R {
        if !self.space.iter().any(|h| h.name == parent) {
            self.problems.push(format!(
                "conditional_scope names `{parent}`, which is not declared before it; declare the parent hyperparameter first"
            ));
        }
        self.scopes.push(Condition {
            parent: parent.to_string(),
            values: values.into_iter().map(IntoValue::into_value).collect(),
        });
        let result = build(self);
        self.scopes.pop();
        result
    }

    /// The value of `name` in this trial (active hyperparameters only).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.space
            .iter()
            .find(|h| h.name == name)
            .filter(|h| h.is_active(&self.values))
            .and_then(|_| self.values.get(name))
    }

    /// Every hyperparameter declared so far, in order.
    pub fn space(&self) -> &[HyperParameter] {
        &self.space
    }

    /// The values of the active hyperparameters, in declaration order.
    pub fn values(&self) -> Values {
        self.space
            .iter()
            .filter(|h| h.is_active(&self.values))
            .filter_map(|h| {
                self.values
                    .get(&h.name)
                    .map(|v| (h.name.clone(), v.clone()))
            })
            .collect()
    }

    /// The mistakes in the declarations, one message each.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Adds `name` to the space (or checks it against its earlier declaration) and
    /// returns this trial's value: the chosen one when active and of the right kind, else
    /// the default.
    fn declare(&mut self, name: &str, kind: Kind, default: Value) -> Value {
        let declared = HyperParameter {
            name: name.to_string(),
            kind,
            default,
            conditions: self.scopes.clone(),
        };
        match self.space.iter().find(|h| h.name == name) {
            Some(earlier)
                if earlier.kind != declared.kind || earlier.default != declared.default =>
            {
                self.problems.push(format!(
                    "hyperparameter `{name}` is declared twice, differently: first {}, then {}; give each its own name",
                    describe(earlier),
                    describe(&declared)
                ));
                return declared.default;
            }
            Some(_) => {}
            None => self.space.push(declared.clone()),
        }
        let chosen = self.values.get(name).cloned();
        if let Some(v) = chosen.as_ref().filter(|v| !fits(&declared.kind, v)) {
            self.problems.push(format!(
                "hyperparameter `{name}`: this trial's value {v} is not one of {} (was the search space changed?)",
                describe(&declared)
            ));
        }
        let chosen = chosen.filter(|v| fits(&declared.kind, v));
        let value = match chosen {
            Some(v) if declared.is_active(&self.values) && declared.kind != Kind::Fixed => v,
            _ => declared.default.clone(),
        };
        self.values.insert(name, value.clone());
        value
    }

    /// Records a problem with `name`'s declaration and returns `fallback`.
    fn problem<T>(&mut self, name: &str, what: String, fallback: T) -> T {
        self.problems
            .push(format!("hyperparameter `{name}`: {what}"));
        fallback
    }
}

/// Whether `value` is not a NaN or an infinity (which JSON, and so the journal, cannot
/// hold).
fn is_finite(value: &Value) -> bool {
    !matches!(value, Value::Float(x) if !x.is_finite())
}

/// Whether `value` is one of `kind`'s (an edited journal may hold anything).
fn fits(kind: &Kind, value: &Value) -> bool {
    match (kind, value) {
        (Kind::Int { min, max, .. }, Value::Int(v)) => (min..=max).contains(&v),
        (Kind::Float { min, max, .. }, Value::Float(v)) => (*min..=*max).contains(v),
        (Kind::Choice { values }, v) => values.contains(v),
        (Kind::Boolean, Value::Bool(_)) | (Kind::Fixed, _) => true,
        _ => false,
    }
}

/// A declaration in a message: `int 32..=512 step 32`.
pub(crate) fn describe(h: &HyperParameter) -> String {
    let step = |s: Option<String>| s.map(|s| format!(" step {s}")).unwrap_or_default();
    match &h.kind {
        Kind::Int {
            min,
            max,
            step: s,
            sampling,
        } => {
            format!(
                "int {min}..={max}{} {sampling:?}",
                step(s.map(|s| s.to_string()))
            )
        }
        Kind::Float {
            min,
            max,
            step: s,
            sampling,
        } => {
            format!(
                "float {min}..={max}{} {sampling:?}",
                step(s.map(|s| s.to_string()))
            )
        }
        Kind::Choice { values } => {
            let values: Vec<String> = values.iter().map(ToString::to_string).collect();
            format!("choice [{}]", values.join(", "))
        }
        Kind::Boolean => "boolean".into(),
        Kind::Fixed => format!("fixed {}", h.default),
    }
    .replace(" Linear", "")
    .replace(" Log", " log")
    .replace(" ReverseLog", " reverse log")
}

/// `hp.int(name, min, max)` or `hp.float(name, min, max)`: set its step, sampling or
/// default, then take its `value()`.
#[must_use = "a hyperparameter is declared by `.value()`"]
pub struct Number<'h, T> {
    hp: &'h mut HyperParameters,
    name: String,
    min: T,
    max: T,
    step: Option<T>,
    sampling: Sampling,
    default: Option<T>,
}

/// `hp.int(name, min, max)`.
pub type Int<'h> = Number<'h, i64>;

/// `hp.float(name, min, max)`.
pub type Float<'h> = Number<'h, f64>;

impl<'h, T> Number<'h, T> {
    fn new(hp: &'h mut HyperParameters, name: &str, min: T, max: T) -> Self {
        Number {
            hp,
            name: name.to_string(),
            min,
            max,
            step: None,
            sampling: Sampling::Linear,
            default: None,
        }
    }

    /// Every `step` from the minimum (a factor under `log` sampling).
    pub fn step(mut self, step: T) -> Self {
        self.step = Some(step);
        self
    }

    /// Samples the logarithm evenly (a positive range): learning rates, layer widths.
    pub fn log(mut self) -> Self {
        self.sampling = Sampling::Log;
        self
    }

    /// The value of the first trial and of inactive trials (the minimum otherwise).
    pub fn default(mut self, default: T) -> Self {
        self.default = Some(default);
        self
    }
}

impl Int<'_> {
    /// Declares it and returns this trial's value.
    pub fn value(self) -> i64 {
        let Number {
            hp,
            name,
            min,
            max,
            step,
            sampling,
            default,
        } = self;
        if min > max {
            return hp.problem(&name, format!("min {min} is above max {max}"), min);
        }
        if step.is_some_and(|s| s < 1 || (sampling == Sampling::Log && s < 2)) {
            let what = format!("step {step:?} must be at least 1 (at least 2 as a log factor)");
            return hp.problem(&name, what, min);
        }
        if sampling == Sampling::Log && min < 1 {
            return hp.problem(&name, format!("log sampling needs min ≥ 1, got {min}"), min);
        }
        let default = default.unwrap_or(min);
        if !(min..=max).contains(&default) {
            return hp.problem(
                &name,
                format!("default {default} is outside {min}..={max}"),
                min,
            );
        }
        // A linear integer range steps by 1 unless told otherwise, as KerasTuner's.
        let step = step.or((sampling == Sampling::Linear).then_some(1));
        let kind = Kind::Int {
            min,
            max,
            step,
            sampling,
        };
        match hp.declare(&name, kind, Value::Int(default)) {
            Value::Int(v) => v,
            _ => default,
        }
    }
}

impl Float<'_> {
    /// Samples densely near the maximum: momentum-like values close to 1.
    pub fn reverse_log(mut self) -> Self {
        self.sampling = Sampling::ReverseLog;
        self
    }

    /// Declares it and returns this trial's value.
    pub fn value(self) -> f64 {
        let Number {
            hp,
            name,
            min,
            max,
            step,
            sampling,
            default,
        } = self;
        let default = default.unwrap_or(min);
        let problem = if !(min.is_finite() && max.is_finite() && min <= max) {
            Some(format!("the range {min}..={max} is empty or not finite"))
        } else if sampling != Sampling::Linear && min <= 0.0 {
            Some(format!("log sampling needs min > 0, got {min}"))
        } else if step.is_some_and(|s| !(s > 0.0 && (sampling == Sampling::Linear || s > 1.0))) {
            Some(format!(
                "step {step:?} must be positive (above 1 as a log factor)"
            ))
        } else if !(min..=max).contains(&default) {
            Some(format!("default {default} is outside {min}..={max}"))
        } else {
            None
        };
        if let Some(what) = problem {
            return hp.problem(&name, what, min);
        }
        let kind = Kind::Float {
            min,
            max,
            step,
            sampling,
        };
        match hp.declare(&name, kind, Value::Float(default)) {
            Value::Float(v) => v,
            _ => default,
        }
    }
}

/// `hp.choice(name, values)`: set its default if not the first value, then take its
/// `value()`.
#[must_use = "a hyperparameter is declared by `.value()`"]
pub struct Choice<'h, T> {
    hp: &'h mut HyperParameters,
    name: String,
    values: Vec<T>,
    default: Option<T>,
}

impl<T: IntoValue + Default> Choice<'_, T> {
    /// The value of the first trial and of inactive trials (the first value otherwise).
    pub fn default(mut self, default: T) -> Self {
        self.default = Some(default);
        self
    }

    /// Declares it and returns this trial's value.
    pub fn value(self) -> T {
        let Choice {
            hp,
            name,
            values,
            default,
        } = self;
        let encoded: Vec<Value> = values.iter().cloned().map(IntoValue::into_value).collect();
        let Some(default) = default.or_else(|| values.first().cloned()) else {
            return hp.problem(
                &name,
                "a choice needs at least one value".into(),
                T::default(),
            );
        };
        if let Some(bad) = encoded.iter().find(|v| !is_finite(v)) {
            let what = format!("the choice {bad} is not a finite number");
            return hp.problem(&name, what, default);
        }
        let default_value = default.clone().into_value();
        if !encoded.contains(&default_value) {
            let what = format!("default {default_value} is not one of the choices");
            return hp.problem(&name, what, default);
        }
        if let Some(mixed) = encoded
            .iter()
            .find(|v| v.type_name() != default_value.type_name())
        {
            let what = format!(
                "a choice holds values of one type: {mixed} is {}, {default_value} is {}",
                mixed.type_name(),
                default_value.type_name()
            );
            return hp.problem(&name, what, default);
        }
        let chosen = hp.declare(
            &name,
            Kind::Choice {
                values: encoded.clone(),
            },
            default_value,
        );
        encoded
            .iter()
            .position(|v| *v == chosen)
            .and_then(|i| values.get(i).cloned())
            .unwrap_or(default)
    }
}

/// `hp.boolean(name)`: set its default if not false, then take its `value()`.
#[must_use = "a hyperparameter is declared by `.value()`"]
pub struct Boolean<'h> {
    hp: &'h mut HyperParameters,
    name: String,
    default: bool,
}

impl Boolean<'_> {
    /// The value of the first trial and of inactive trials.
    pub fn default(mut self, default: bool) -> Self {
        self.default = default;
        self
    }

    /// Declares it and returns this trial's value.
    pub fn value(self) -> bool {
        let Boolean { hp, name, default } = self;
        hp.declare(&name, Kind::Boolean, Value::Bool(default)) == Value::Bool(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_reads_its_values_and_defaults_elsewhere() {
        let mut discovery = HyperParameters::new();
        discovery.int("units", 32, 512).step(32).value();
        discovery.float("rate", 1e-4, 1e-2).log().value();
        let values: Values = [("units", Value::Int(256)), ("rate", Value::Float(0.003))]
            .into_iter()
            .collect();
        let mut hp = HyperParameters::with_values(discovery.space(), values.clone());
        assert_eq!(hp.int("units", 32, 512).step(32).value(), 256);
        assert_eq!(hp.float("rate", 1e-4, 1e-2).log().value(), 0.003);
        assert!(
            !hp.boolean("batch_norm").value(),
            "undeclared before: its default"
        );
        assert_eq!(
            hp.choice("optimizer", ["adam", "sgd"])
                .default("sgd")
                .value(),
            "sgd"
        );
        assert_eq!(hp.fixed("epochs", 3), 3);
        assert_eq!(hp.values().len(), 5);
        assert!(hp.problems().is_empty());
    }

    #[test]
    fn conditional_hyperparameters_are_active_only_under_their_parent() {
        let build = |hp: &mut HyperParameters| {
            let model = hp.choice("model", ["mlp", "cnn"]).value();
            let filters =
                hp.conditional_scope("model", ["cnn"], |hp| hp.int("filters", 8, 64).value());
            (model, filters)
        };
        let mut discovery = HyperParameters::new();
        assert_eq!(build(&mut discovery), ("mlp", 8));
        assert_eq!(discovery.space()[1].conditions.len(), 1);
        assert_eq!(
            discovery.values().to_string(),
            "model=mlp",
            "filters is inactive"
        );

        let cnn: Values = [
            ("model", Value::Str("cnn".into())),
            ("filters", Value::Int(32)),
        ]
        .into_iter()
        .collect();
        let mut hp = HyperParameters::with_values(discovery.space(), cnn);
        assert_eq!(build(&mut hp), ("cnn", 32));
        assert_eq!(hp.values().to_string(), "model=cnn, filters=32");
        assert_eq!(hp.get("filters"), Some(&Value::Int(32)));

        let mlp: Values = [
            ("model", Value::Str("mlp".into())),
            ("filters", Value::Int(32)),
        ]
        .into_iter()
        .collect();
        let mut hp = HyperParameters::with_values(discovery.space(), mlp);
        assert_eq!(
            build(&mut hp),
            ("mlp", 8),
            "inactive: the default, whatever the values say"
        );
        assert_eq!(hp.get("filters"), None);
    }

    #[test]
    fn mistakes_are_named_not_panics() {
        let mut hp = HyperParameters::new();
        assert_eq!(hp.int("units", 64, 32).value(), 64);
        assert_eq!(hp.float("rate", 0.0, 1.0).log().value(), 0.0);
        assert_eq!(hp.choice::<i64>("empty", []).value(), 0);
        assert_eq!(
            hp.choice("mixed", [Value::Int(1), Value::Str("a".into())])
                .value(),
            Value::Int(1)
        );
        hp.int("layers", 1, 3).value();
        hp.int("layers", 1, 5).value();
        hp.conditional_scope("nowhere", [true], |hp| hp.boolean("flag").value());
        let problems = hp.problems().join("\n");
        for expected in [
            "hyperparameter `units`: min 64 is above max 32",
            "hyperparameter `rate`: log sampling needs min > 0, got 0",
            "hyperparameter `empty`: a choice needs at least one value",
            "hyperparameter `mixed`: a choice holds values of one type: a is a string, 1 is an integer",
            "hyperparameter `layers` is declared twice, differently: first int 1..=3 step 1, then int 1..=5 step 1; give each its own name",
            "conditional_scope names `nowhere`, which is not declared before it",
        ] {
            assert!(
                problems.contains(expected),
                "{expected}\nnot in\n{problems}"
            );
        }
    }
}
