//! Metrics, by their Keras names, accumulated exactly over an epoch: each batch adds the
//! sum of its examples' values, and the epoch's value is that total over the examples.

use std::fmt;

use burn::tensor::{Tensor, backend::Backend};

use crate::loss::{Counted, EPSILON, Output, Target};

/// A metric reported for each epoch (`metrics=["accuracy"]` in Keras).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Keras's `accuracy`: binary for one output, else categorical (sparse for class
    /// targets).
    Accuracy,
    /// The fraction of outputs on the right side of `threshold`.
    BinaryAccuracy {
        /// The decision threshold (0.5 in Keras).
        threshold: f64,
    },
    /// The arg-max of the output equals that of one-hot targets (or the class target).
    CategoricalAccuracy,
    /// The arg-max of the output equals the class target.
    SparseCategoricalAccuracy,
    /// The target class is among the `k` highest outputs.
    TopKCategoricalAccuracy {
        /// How many of the highest outputs count (5 in Keras).
        k: usize,
    },
    /// `mean((y - ŷ)²)`.
    MeanSquaredError,
    /// The square root of the epoch's mean squared error.
    RootMeanSquaredError,
    /// `mean(|y - ŷ|)`.
    MeanAbsoluteError,
    /// `100 · mean(|y - ŷ| / max(|y|, ε))`.
    MeanAbsolutePercentageError,
    /// `mean((ln(1 + ŷ) - ln(1 + y))²)`.
    MeanSquaredLogarithmicError,
}

impl Metric {
    /// Keras's binary accuracy with its threshold 0.5.
    pub const BINARY_ACCURACY: Metric = Metric::BinaryAccuracy { threshold: 0.5 };
    /// Keras's top-k accuracy with k = 5.
    pub const TOP_5: Metric = Metric::TopKCategoricalAccuracy { k: 5 };

    /// The name in logs and history (`val_` is prefixed for validation).
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BinaryAccuracy { .. } => "binary_accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy",
            Metric::TopKCategoricalAccuracy { .. } => "top_k_categorical_accuracy",
            Metric::MeanSquaredError => "mean_squared_error",
            Metric::RootMeanSquaredError => "root_mean_squared_error",
            Metric::MeanAbsoluteError => "mean_absolute_error",
            Metric::MeanAbsolutePercentageError => "mean_absolute_percentage_error",
            Metric::MeanSquaredLogarithmicError => "mean_squared_logarithmic_error",
        }
    }

    /// The metric with this Keras name (`acc`, `mse`, `mae`, `mape`, `msle` too).
    pub fn from_name(name: &str) -> Option<Metric> {
        Some(match name {
            "accuracy" | "acc" => Metric::Accuracy,
            "binary_accuracy" => Metric::BINARY_ACCURACY,
            "categorical_accuracy" => Metric::CategoricalAccuracy,
            "sparse_categorical_accuracy" => Metric::SparseCategoricalAccuracy,
            "top_k_categorical_accuracy" => Metric::TOP_5,
            "mean_squared_error" | "mse" => Metric::MeanSquaredError,
            "root_mean_squared_error" | "rmse" => Metric::RootMeanSquaredError,
            "mean_absolute_error" | "mae" => Metric::MeanAbsoluteError,
            "mean_absolute_percentage_error" | "mape" => Metric::MeanAbsolutePercentageError,
            "mean_squared_logarithmic_error" | "msle" => Metric::MeanSquaredLogarithmicError,
            _ => return None,
        })
    }

    /// Whether a higher value is better (accuracies), for callbacks' `mode = auto`.
    pub fn higher_is_better(&self) -> bool {
        self.name().ends_with("accuracy")
    }

    /// The sum over the batch's examples of each one's value: one element.
    pub fn batch_sum<B: Backend>(&self, output: &Output<B>, target: &Target<B>) -> Tensor<B, 1> {
        self.counted_sum(output, target, None)
    }

    /// The sum over the examples that count (all, or `counted`'s first ones), computed
    /// on every row of the batch so that its kernels keep the batch's shape.
    pub(crate) fn counted_sum<B: Backend>(
        &self,
        output: &Output<B>,
        target: &Target<B>,
        counted: Option<&Counted<B>>,
    ) -> Tensor<B, 1> {
        let each = self.per_example(output, target);
        match counted {
            Some(counted) => counted.sum(each),
            None => each.sum(),
        }
    }

    /// Each example's value, `[batch]`.
    fn per_example<B: Backend>(&self, output: &Output<B>, target: &Target<B>) -> Tensor<B, 1> {
        let width = output.width();
        let p = || output.activated();
        let per_row = |t: Tensor<B, 2>| t.mean_dim(1).squeeze_dim(1);
        match self {
            Metric::Accuracy if width == 1 => Metric::BINARY_ACCURACY.per_example(output, target),
            Metric::Accuracy | Metric::CategoricalAccuracy | Metric::SparseCategoricalAccuracy => {
                let predicted = output.ranked().argmax(1).squeeze_dim::<1>(1);
                let truth = match target {
                    Target::Classes(c, _) => c.clone(),
                    Target::Values(v) => v.clone().argmax(1).squeeze_dim(1),
                };
                predicted.equal(truth).float()
            }
            Metric::BinaryAccuracy { threshold } => {
                let predicted = p().greater_elem(*threshold).float();
                let truth = target.dense(width).greater_elem(*threshold).float();
                per_row(predicted.equal(truth).float())
            }
            Metric::TopKCategoricalAccuracy { k } => {
                let p = output.ranked();
                let truth = match target {
                    Target::Classes(c, _) => c.clone(),
                    Target::Values(v) => v.clone().argmax(1).squeeze_dim(1),
                };
                // The target is in the top k when fewer than k outputs beat it.
                let of_truth = p.clone().gather(1, truth.unsqueeze_dim(1));
                let beaten_by = p.greater(of_truth).int().sum_dim(1).squeeze_dim::<1>(1);
                beaten_by.lower_elem(*k as i64).float()
            }
            Metric::MeanSquaredError | Metric::RootMeanSquaredError => {
                per_row((p() - target.dense(width)).square())
            }
            Metric::MeanAbsoluteError => per_row((p() - target.dense(width)).abs()),
            Metric::MeanAbsolutePercentageError => {
                let y = target.dense(width);
                per_row(((p() - y.clone()).abs() / y.abs().clamp_min(EPSILON)).mul_scalar(100.0))
            }
            Metric::MeanSquaredLogarithmicError => {
                let y = target.dense(width).clamp_min(EPSILON).add_scalar(1.0).log();
                per_row((p().clamp_min(EPSILON).add_scalar(1.0).log() - y).square())
            }
        }
    }

    /// The epoch's value from the mean of its examples' values.
    pub fn finish(&self, mean: f64) -> f64 {
        match self {
            Metric::RootMeanSquaredError => mean.sqrt(),
            _ => mean,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestBackend as B;
    use kiln_spec::Activation;

    fn output(v: &[&[f32]]) -> Output<B> {
        let width = v[0].len();
        let flat: Vec<f32> = v.iter().flat_map(|r| r.iter().copied()).collect();
        let logits = Tensor::<B, 1>::from_floats(flat.as_slice(), &Default::default())
            .reshape([v.len(), width]);
        Output {
            logits,
            activation: Activation::Linear,
        }
    }

    fn classes(c: &[i64]) -> Target<B> {
        Target::Classes(
            Tensor::from_data(
                burn::tensor::TensorData::new(c.to_vec(), [c.len()]),
                &Default::default(),
            ),
            3,
        )
    }

    fn sum(metric: Metric, output: &Output<B>, target: &Target<B>) -> f32 {
        metric.batch_sum(output, target).into_scalar()
    }

    #[test]
    fn sums_over_examples_match_keras() {
        let three = output(&[&[0.1, 0.7, 0.2], &[0.5, 0.3, 0.2], &[0.2, 0.3, 0.5]]);
        let labels = classes(&[1, 1, 0]);
        // Arg-maxes 1, 0, 2 against labels 1, 1, 0: one right.
        assert_eq!(sum(Metric::Accuracy, &three, &labels), 1.0);
        assert_eq!(sum(Metric::SparseCategoricalAccuracy, &three, &labels), 1.0);
        // Top 2: label 1 is in {1, 2}; label 1 in {0, 1}; label 0 is not in {2, 1}.
        assert_eq!(
            sum(Metric::TopKCategoricalAccuracy { k: 2 }, &three, &labels),
            2.0
        );
        let one_hot = Target::Values(labels.dense(3));
        assert_eq!(sum(Metric::CategoricalAccuracy, &three, &one_hot), 1.0);

        let binary = output(&[&[0.9], &[0.4], &[0.6]]);
        let targets = Target::Values(output(&[&[1.0], &[1.0], &[0.0]]).logits);
        assert_eq!(sum(Metric::Accuracy, &binary, &targets), 1.0);
        assert_eq!(
            sum(Metric::BinaryAccuracy { threshold: 0.3 }, &binary, &targets),
            2.0
        );

        // Squared errors 0.01, 0.36, 0.36: summed per example.
        let squared = sum(Metric::MeanSquaredError, &binary, &targets);
        assert!((squared - 0.73).abs() < 1e-6, "{squared}");
        assert_eq!(Metric::RootMeanSquaredError.finish(0.25), 0.5);
    }

    #[test]
    fn padding_rows_are_left_out_of_every_metric() {
        // The first two rows count; the third pads the batch, right or wrong by any metric.
        let three = output(&[&[0.1, 0.7, 0.2], &[0.5, 0.3, 0.2], &[0.9, 0.05, 0.05]]);
        let two = output(&[&[0.1, 0.7, 0.2], &[0.5, 0.3, 0.2]]);
        let counted = Counted::new(2, 3, None, &Default::default()).unwrap();
        for metric in [
            Metric::Accuracy,
            Metric::BINARY_ACCURACY,
            Metric::TOP_5,
            Metric::TopKCategoricalAccuracy { k: 2 },
            Metric::MeanSquaredError,
            Metric::MeanAbsoluteError,
            Metric::MeanAbsolutePercentageError,
            Metric::MeanSquaredLogarithmicError,
        ] {
            let padded = metric
                .counted_sum(&three, &classes(&[1, 1, 0]), Some(&counted))
                .into_scalar();
            let alone = sum(metric, &two, &classes(&[1, 1]));
            assert!(
                (padded - alone).abs() <= 1e-6 * alone.abs().max(1.0),
                "{metric}: {padded} against {alone}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for m in [
            Metric::Accuracy,
            Metric::BINARY_ACCURACY,
            Metric::CategoricalAccuracy,
            Metric::TOP_5,
            Metric::MeanAbsoluteError,
        ] {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert!(
            Metric::Accuracy.higher_is_better() && !Metric::MeanSquaredError.higher_is_better()
        );
    }
}
