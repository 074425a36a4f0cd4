//! Logs: the named values of a batch or epoch (`loss`, `accuracy`, `val_loss`, ...), in
//! the order Keras prints them.

use std::fmt;

/// Named values, in insertion order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs(Vec<(String, f64)>);

impl Logs {
    /// No values.
    pub fn new() -> Self {
        Logs(Vec::new())
    }

    /// Sets `name` to `value`, replacing an earlier value of that name.
    pub fn insert(&mut self, name: impl Into<String>, value: f64) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The value of `name`, or an error naming it and listing what is logged (for a
    /// callback or a tuner watching `name`).
    ///
    /// ```
    /// let logs: kiln_core::Logs = [("loss", 0.5)].into_iter().collect();
    /// assert_eq!(logs.require("val_f1").unwrap_err(), "`val_f1` is not logged; the logs hold: loss");
    /// ```
    pub fn require(&self, name: &str) -> Result<f64, String> {
        self.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.iter().map(|(n, _)| n).collect();
            format!(
                "`{name}` is not logged; the logs hold: {}",
                names.join(", ")
            )
        })
    }

    /// Each name and value, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every value of `other` with `prefix` before its name (`val_`).
    pub fn extend_prefixed(&mut self, prefix: &str, other: &Logs) {
        for (name, value) in other.iter() {
            self.insert(format!("{prefix}{name}"), value);
        }
    }
}

impl<S: Into<String>> FromIterator<(S, f64)> for Logs {
    fn from_iter<I: IntoIterator<Item = (S, f64)>>(iter: I) -> Self {
        let mut logs = Logs::new();
        for (name, value) in iter {
            logs.insert(name, value);
        }
        logs
    }
}

impl fmt::Display for Logs {
    /// `loss: 0.1234 - accuracy: 0.9876`, as Keras prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" - ")?;
            }
            write!(f, "{name}: {value:.4}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_keras_order_and_format() {
        let mut logs = Logs::new();
        logs.insert("loss", 0.25);
        logs.insert("accuracy", 0.9);
        let mut val = Logs::new();
        val.insert("loss", 0.5);
        logs.extend_prefixed("val_", &val);
        logs.insert("loss", 0.125);
        assert_eq!(
            logs.to_string(),
            "loss: 0.1250 - accuracy: 0.9000 - val_loss: 0.5000"
        );
        assert_eq!(logs.get("val_loss"), Some(0.5));
        assert_eq!(logs.get("val_accuracy"), None);
    }
}
