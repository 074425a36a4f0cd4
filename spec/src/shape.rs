//! Shapes without the batch dimension, channels-first, each dimension known or not.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One dimension of a shape: a known size, or unknown until run time (`_` in `model!`,
/// `None` in Keras, `null` in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Option<usize>", into = "Option<usize>")]
pub enum Dim {
    /// A size known when the model is declared.
    Known(usize),
    /// A size only known when data arrives (a sequence length, say).
    Unknown,
}

impl Dim {
    /// The size, when known.
    pub const fn known(self) -> Option<usize> {
        match self {
            Dim::Known(n) => Some(n),
            Dim::Unknown => None,
        }
    }

    /// Whether a tensor of this dimension can be given where `other` is expected: equal
    /// sizes, or either one unknown.
    pub const fn fits(self, other: Dim) -> bool {
        match (self, other) {
            (Dim::Known(a), Dim::Known(b)) => a == b,
            _ => true,
        }
    }

    /// Applies `f` to a known size; an unknown size stays unknown.
    pub fn map(self, f: impl FnOnce(usize) -> usize) -> Dim {
        match self {
            Dim::Known(n) => Dim::Known(f(n)),
            Dim::Unknown => Dim::Unknown,
        }
    }
}

impl From<Option<usize>> for Dim {
    fn from(value: Option<usize>) -> Self {
        value.map_or(Dim::Unknown, Dim::Known)
    }
}

impl From<Dim> for Option<usize> {
    fn from(value: Dim) -> Self {
        value.known()
    }
}

impl From<usize> for Dim {
    fn from(value: usize) -> Self {
        Dim::Known(value)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Unknown => f.write_str("_"),
        }
    }
}

/// Whether two shapes fit each other dimension by dimension (see [`Dim::fits`]); usable in
/// `const` assertions, which is how `model!` checks one model used inside another.
pub const fn shapes_fit(a: &[Dim], b: &[Dim]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].fits(b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// The shape of one example (the batch dimension left out), channels-first:
/// `[features]`, `[channels, length]`, `[channels, height, width]`.
///
/// ```
/// use kiln_spec::{Dim, Shape};
/// let s = Shape::new([Dim::Known(1), Dim::Known(28), Dim::Known(28)]);
/// assert_eq!(s.to_string(), "[1, 28, 28]");
/// assert_eq!(s.keras(), "(None, 1, 28, 28)");
/// assert_eq!(s.elements(), Some(784));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    /// A shape from its dimensions.
    pub fn new(dims: impl IntoIterator<Item = Dim>) -> Self {
        Shape(dims.into_iter().collect())
    }

    /// A shape whose dimensions are all known.
    pub fn known(dims: impl IntoIterator<Item = usize>) -> Self {
        Shape(dims.into_iter().map(Dim::Known).collect())
    }

    /// The number of dimensions (the batch dimension not counted).
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The dimensions.
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    /// The number of elements of one example, when every dimension is known (saturating
    /// at `usize::MAX`, past every limit).
    pub fn elements(&self) -> Option<usize> {
        self.all_known().map(crate::rule::product)
    }

    /// Every dimension, when all are known.
    pub fn all_known(&self) -> Option<Vec<usize>> {
        self.0.iter().map(|d| d.known()).collect()
    }

    /// Keras's spelling, batch dimension included: `(None, 32, 26, 26)`.
    pub fn keras(&self) -> String {
        let mut s = String::from("(None");
        for d in &self.0 {
            match d.known() {
                Some(n) => s.push_str(&format!(", {n}")),
                None => s.push_str(", None"),
            }
        }
        s.push(')');
        s
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_keras_spelling() {
        let cases = [
            (Shape::known([784]), "[784]", "(None, 784)"),
            (
                Shape::new([Dim::Unknown, Dim::Known(16)]),
                "[_, 16]",
                "(None, None, 16)",
            ),
            (Shape::known([]), "[]", "(None)"),
        ];
        for (shape, plain, keras) in cases {
            assert_eq!(shape.to_string(), plain);
            assert_eq!(shape.keras(), keras);
        }
    }

    #[test]
    fn elements_need_every_dimension() {
        assert_eq!(Shape::known([3, 32, 32]).elements(), Some(3072));
        assert_eq!(Shape::new([Dim::Unknown, Dim::Known(4)]).elements(), None);
    }

    #[test]
    fn unknown_dimensions_fit_anything() {
        let a = [Dim::Known(3), Dim::Unknown];
        let b = [Dim::Known(3), Dim::Known(9)];
        let c = [Dim::Known(4), Dim::Known(9)];
        assert!(shapes_fit(&a, &b));
        assert!(!shapes_fit(&b, &c));
        assert!(!shapes_fit(&a, &a[..1]));
    }

    #[test]
    fn json_spells_unknown_as_null() {
        let s = Shape::new([Dim::Unknown, Dim::Known(16)]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "[null,16]");
        assert_eq!(serde_json::from_str::<Shape>(&json).unwrap(), s);
    }
}
