//! Examples given as `f32` arrays: features of any shape with class labels or values.

use crate::data::{Dataset, TargetKind, Targets};
use crate::error::{DataError, Result};

/// Examples held as `f32`, each of one shape, with a class label or values per example:
/// Keras's `fit(x, y)` on NumPy arrays.
///
/// ```
/// use kiln_datasets::{ArrayDataset, Dataset};
/// // Four examples of 2 features, with a value each.
/// let data = ArrayDataset::regression(vec![0.0; 8], vec![2], vec![1.0, 2.0, 3.0, 4.0], 1).unwrap();
/// assert_eq!((data.len(), data.example_shape()), (4, vec![2]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayDataset {
    x: Vec<f32>,
    example: Vec<usize>,
    /// Each input's part of an example, for a model with several inputs; empty for one.
    inputs: Vec<Vec<usize>>,
    targets: Targets,
    kind: TargetKind,
}

impl ArrayDataset {
    fn count(x: &[f32], example: &[usize]) -> Result<usize> {
        let per: usize = example.iter().product();
        if per == 0 || !x.len().is_multiple_of(per) {
            return Err(DataError::Invalid(format!(
                "{} values do not make whole examples of shape {example:?}",
                x.len()
            )));
        }
        Ok(x.len() / per)
    }

    /// Examples of `example` shape, one after the other in `x`, each with a class label
    /// below `classes`.
    ///
    /// # Errors
    /// When the counts disagree or a label is not a class.
    pub fn classification(
        x: Vec<f32>,
        example: Vec<usize>,
        labels: Vec<usize>,
        classes: usize,
    ) -> Result<Self> {
        let n = Self::count(&x, &example)?;
        if labels.len() != n {
            return Err(DataError::Invalid(format!(
                "{n} examples but {} labels",
                labels.len()
            )));
        }
        if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(DataError::Invalid(format!(
                "label {l} of example {i} is outside the {classes} classes"
            )));
        }
        Ok(ArrayDataset {
            x,
            example,
            inputs: Vec::new(),
            targets: Targets::Classes(labels.into_iter().map(|l| l as i64).collect()),
            kind: TargetKind::Classes(classes),
        })
    }

    /// Examples of `example` shape, each with `width` target values, one after the other
    /// in `y`.
    ///
    /// # Errors
    /// When the counts disagree.
    pub fn regression(x: Vec<f32>, example: Vec<usize>, y: Vec<f32>, width: usize) -> Result<Self> {
        let n = Self::count(&x, &example)?;
        if width == 0 || y.len() != n * width {
            return Err(DataError::Invalid(format!(
                "{n} examples need {} target values of width {width}, got {}",
                n * width,
                y.len()
            )));
        }
        Ok(ArrayDataset {
            x,
            example,
            inputs: Vec::new(),
            targets: Targets::Values(y),
            kind: TargetKind::Values(width),
        })
    }
}

impl ArrayDataset {
    /// One more input, for a model with several, as Keras's `fit([x1, x2], y)`: the
    /// dataset's values so far are the first inputs, `x` (examples of `example` shape, as
    /// many as the targets) the next.
    ///
    /// ```
    /// use kiln_datasets::{ArrayDataset, Dataset};
    /// let data = ArrayDataset::classification(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![3], vec![0, 1], 2)?
    ///     .and_input(vec![7.0, 8.0], vec![1])?;
    /// assert_eq!(data.input_shapes(), [vec![3], vec![1]]);
    /// assert_eq!(kiln_datasets::gather(&data, &[1]).x, [4.0, 5.0, 6.0, 8.0]);
    /// # Ok::<(), kiln_datasets::DataError>(())
    /// ```
    ///
    /// # Errors
    /// When `x` does not make whole examples, or not as many as the targets.
    pub fn and_input(self, x: Vec<f32>, example: Vec<usize>) -> Result<Self> {
        let n = self.len();
        let count = Self::count(&x, &example)?;
        if count != n {
            return Err(DataError::Invalid(format!(
                "the new input has {count} examples but the targets are for {n}"
            )));
        }
        let (before, size): (usize, usize) =
            (self.example.iter().product(), example.iter().product());
        let mut joined = Vec::with_capacity(n * (before + size));
        for i in 0..n {
            joined.extend_from_slice(&self.x[i * before..(i + 1) * before]);
            joined.extend_from_slice(&x[i * size..(i + 1) * size]);
        }
        let mut inputs = self.input_shapes();
        inputs.push(example);
        Ok(ArrayDataset {
            x: joined,
            example: vec![before + size],
            inputs,
            ..self
        })
    }
}

impl Dataset for ArrayDataset {
    fn len(&self) -> usize {
        match &self.targets {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => match self.kind {
                TargetKind::Values(w) => v.len() / w.max(1),
                TargetKind::Classes(_) => 0,
            },
        }
    }

    fn example_shape(&self) -> Vec<usize> {
        self.example.clone()
    }

    fn input_shapes(&self) -> Vec<Vec<usize>> {
        if self.inputs.is_empty() {
            vec![self.example.clone()]
        } else {
            self.inputs.clone()
        }
    }

    fn target_kind(&self) -> TargetKind {
        self.kind.clone()
    }

    fn gather(&self, indices: &[usize], x: &mut Vec<f32>, targets: &mut Targets) {
        let per: usize = self.example.iter().product();
        for &i in indices {
            x.extend_from_slice(&self.x[i * per..(i + 1) * per]);
        }
        self.gather_targets(indices, targets);
    }

    fn gather_targets(&self, indices: &[usize], targets: &mut Targets) {
        match (&self.targets, targets) {
            (Targets::Classes(src), Targets::Classes(dst)) => {
                dst.extend(indices.iter().map(|&i| src[i]))
            }
            (Targets::Values(src), Targets::Values(dst)) => {
                let w = src.len() / self.len().max(1);
                for &i in indices {
                    dst.extend_from_slice(&src[i * w..(i + 1) * w]);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::gather;

    #[test]
    fn gathers_examples_and_targets() {
        let data = ArrayDataset::regression(
            (0..6).map(|v| v as f32).collect(),
            vec![2],
            vec![10.0, 11.0, 12.0, 13.0, 14.0, 15.0],
            2,
        )
        .unwrap();
        let batch = gather(&data, &[2, 0]);
        assert_eq!(batch.x, [4.0, 5.0, 0.0, 1.0]);
        assert_eq!(batch.targets, Targets::Values(vec![14.0, 15.0, 10.0, 11.0]));
        let data = ArrayDataset::classification(vec![0.0; 3], vec![1], vec![2, 0, 1], 3).unwrap();
        assert_eq!(gather(&data, &[1, 2]).targets, Targets::Classes(vec![0, 1]));
    }

    #[test]
    fn refuses_inconsistent_arrays() {
        let cases = [
            (
                ArrayDataset::classification(vec![0.0; 5], vec![2], vec![0, 0], 1),
                "5 values do not make whole examples of shape [2]",
            ),
            (
                ArrayDataset::classification(vec![0.0; 4], vec![2], vec![0], 1),
                "2 examples but 1 labels",
            ),
            (
                ArrayDataset::classification(vec![0.0; 2], vec![2], vec![3], 2),
                "label 3 of example 0 is outside the 2 classes",
            ),
            (
                ArrayDataset::regression(vec![0.0; 2], vec![1], vec![0.0; 3], 1),
                "2 examples need 2 target values of width 1, got 3",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.unwrap_err().to_string(), want);
        }
    }
}
