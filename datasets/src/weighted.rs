//! A dataset whose examples weigh differently in the loss: Keras's `sample_weight`.

use crate::data::{Dataset, TargetKind, Targets};
use crate::error::{DataError, Result};

/// `data` with a weight per example, which multiplies that example's loss in training,
/// validation and evaluation, as Keras's `fit(x, y, sample_weight=w)` and
/// `evaluate(x, y, sample_weight=w)`: a batch's loss is `Σ wᵢ·lossᵢ / batch size`. The
/// metrics stay unweighted, as Keras's `metrics`, but for the trainer's
/// `weighted_metrics`, which weigh each example by it. A validation split takes the
/// weights of the examples it holds out.
///
/// ```
/// use kiln_datasets::{ArrayDataset, Dataset, Weighted};
/// let data = ArrayDataset::classification(vec![0.0; 6], vec![2], vec![0, 1, 1], 2)?;
/// // The first example counts three times as much as the others.
/// let weighted = Weighted::new(&data, vec![3.0, 1.0, 1.0])?;
/// assert_eq!(weighted.sample_weights(), Some(&[3.0, 1.0, 1.0][..]));
/// assert!(Weighted::new(&data, vec![1.0, 1.0]).is_err());
/// # Ok::<(), kiln_datasets::DataError>(())
/// ```
pub struct Weighted<'a, D: ?Sized> {
    data: &'a D,
    weights: Vec<f32>,
}

impl<'a, D: Dataset + ?Sized> Weighted<'a, D> {
    /// `data` with `weights`, one per example, each finite and at least 0.
    ///
    /// # Errors
    /// When the weights are not one per example, or one is negative, infinite or NaN.
    pub fn new(data: &'a D, weights: Vec<f32>) -> Result<Self> {
        check_sample_weights(&weights, data.len()).map_err(DataError::Invalid)?;
        Ok(Weighted { data, weights })
    }
}

/// Why `weights` cannot weigh `examples` examples, if they cannot: not one per example,
/// or one negative, infinite or NaN.
///
/// # Errors
/// The reason, naming the first example at fault.
pub fn check_sample_weights(weights: &[f32], examples: usize) -> std::result::Result<(), String> {
    if weights.len() != examples {
        return Err(format!(
            "{} sample weights for {examples} examples: give one per example",
            weights.len()
        ));
    }
    match weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        Some(i) => Err(format!(
            "the sample weight of example {i} is {}: each must be finite and at least 0",
            weights[i]
        )),
        None => Ok(()),
    }
}

impl<D: Dataset + ?Sized> Dataset for Weighted<'_, D> {
    fn len(&self) -> usize {
        self.data.len()
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
        self.data.gather(indices, x, targets);
    }

    fn gather_targets(&self, indices: &[usize], targets: &mut Targets) {
        self.data.gather_targets(indices, targets);
    }

    fn sample_weights(&self) -> Option<&[f32]> {
        Some(&self.weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArrayDataset;
    use crate::loader::gather;

    #[test]
    fn a_batch_carries_its_examples_weights() {
        let data = ArrayDataset::classification(
            (0..8).map(|v| v as f32).collect(),
            vec![2],
            vec![0, 1, 0, 1],
            2,
        )
        .unwrap();
        assert_eq!(gather(&data, &[1, 2]).weights, None);
        let weighted = Weighted::new(&data, vec![0.5, 2.0, 0.0, 1.0]).unwrap();
        let batch = gather(&weighted, &[3, 1, 1]);
        assert_eq!(batch.weights, Some(vec![1.0, 2.0, 2.0]));
        assert_eq!(batch.x, [6.0, 7.0, 2.0, 3.0, 2.0, 3.0]);
        assert_eq!(batch.targets, Targets::Classes(vec![1, 1, 1]));
    }

    #[test]
    fn refuses_weights_that_do_not_fit() {
        let data = ArrayDataset::regression(vec![0.0; 3], vec![1], vec![0.0; 3], 1).unwrap();
        let cases = [
            (
                vec![1.0; 4],
                "4 sample weights for 3 examples: give one per example",
            ),
            (
                vec![1.0, -0.5, 1.0],
                "the sample weight of example 1 is -0.5: each must be finite and at least 0",
            ),
            (
                vec![1.0, 1.0, f32::NAN],
                "the sample weight of example 2 is NaN: each must be finite and at least 0",
            ),
            (
                vec![f32::INFINITY, 1.0, 1.0],
                "the sample weight of example 0 is inf: each must be finite and at least 0",
            ),
        ];
        for (weights, want) in cases {
            let got = Weighted::new(&data, weights).err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), Some(want));
        }
    }
}
