//! What kiln trains on: the [`Dataset`] trait and the targets its examples carry.

/// What a dataset's targets are.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetKind {
    /// A class index per example, among this many classes.
    Classes(usize),
    /// This many values per example (regression, or one-hot targets given as such).
    Values(usize),
}

/// A batch's targets.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class indices.
    Classes(Vec<i64>),
    /// Values, row after row.
    Values(Vec<f32>),
}

/// Examples kiln can train on: each an `f32` tensor of one shape, with a target.
pub trait Dataset: Sync {
    /// The number of examples.
    fn len(&self) -> usize;

    /// Whether there is no example.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of one example.
    fn example_shape(&self) -> Vec<usize>;

    /// For a model with several inputs, the shape of each input's part of an example
    /// (an example's values are its parts one after the other); by default one part, the
    /// example's shape.
    fn input_shapes(&self) -> Vec<Vec<usize>> {
        vec![self.example_shape()]
    }

    /// What the targets are.
    fn target_kind(&self) -> TargetKind;

    /// Appends the examples at `indices`, as `f32`, to `x`, and their targets to `targets`.
    fn gather(&self, indices: &[usize], x: &mut Vec<f32>, targets: &mut Targets);

    /// Appends the targets of the examples at `indices` to `targets` (for examples already
    /// on the device); by default through [`Dataset::gather`], whose examples it drops.
    fn gather_targets(&self, indices: &[usize], targets: &mut Targets) {
        self.gather(indices, &mut Vec::new(), targets);
    }

    /// Each example's weight in the loss, in the examples' order (Keras's
    /// `sample_weight`); `None`, the default, when each weighs 1. [`crate::Weighted`]
    /// gives a dataset weights.
    fn sample_weights(&self) -> Option<&[f32]> {
        None
    }
}
