//! A contiguous part of a dataset, without copying it (a validation split).

use std::ops::Range;

use kiln_datasets::{Dataset, TargetKind, Targets};

/// The examples `range` of `data`.
pub(crate) struct Subset<'a, D: ?Sized> {
    data: &'a D,
    range: Range<usize>,
}

impl<'a, D: Dataset + ?Sized> Subset<'a, D> {
    pub fn new(data: &'a D, range: Range<usize>) -> Self {
        Subset { data, range }
    }

    /// `indices` in `data`.
    fn shifted(&self, indices: &[usize]) -> Vec<usize> {
        indices.iter().map(|i| i + self.range.start).collect()
    }
}

impl<D: Dataset + ?Sized> Dataset for Subset<'_, D> {
    fn len(&self) -> usize {
        self.range.len()
    }

    fn example_shape(&self) -> Vec<usize> {
        self.data.example_shape()
    }

    fn input_shapes(&self) -> Vec<Vec<usize>> {
        self.data.input_shapes()
    }

    fn target_kind(&self) -> TargetKind {
        self.data.target_kind()
    }

    fn gather(&self, indices: &[usize], x: &mut Vec<f32>, targets: &mut Targets) {
        self.data.gather(&self.shifted(indices), x, targets);
    }

    fn gather_targets(&self, indices: &[usize], targets: &mut Targets) {
        self.data.gather_targets(&self.shifted(indices), targets);
    }

    fn sample_weights(&self) -> Option<&[f32]> {
        self.data.sample_weights().map(|w| &w[self.range.clone()])
    }
}
