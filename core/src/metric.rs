//! Metrics, by their Keras names, accumulated exactly over an epoch: each batch adds the
//! sum of its examples' values, and the epoch's value is that total over the examples
//! (precision and recall add two counts, and are their ratio).

use std::fmt;

use burn::tensor::{IndexingUpdateOp, Tensor, backend::Backend};

use crate::loss::{Counted, Loss, Output, Target};

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
    /// Of the outputs above `threshold`, the fraction whose target is not 0 (true
    /// positives over predicted positives, each output a class of its own; 0 when none
    /// is predicted): Keras's `Precision`.
    Precision {
        /// The decision threshold (0.5 in Keras).
        threshold: f64,
    },
    /// Of the outputs whose target is not 0, the fraction above `threshold` (true
    /// positives over actual positives; 0 when there is none): Keras's `Recall`.
    Recall {
        /// The decision threshold (0.5 in Keras).
        threshold: f64,
    },
    /// The area under the ROC curve (true against false positive rate), its points at
    /// `thresholds` thresholds evenly spread over [0, 1], each output (clipped to [0, 1])
    /// a class of its own, summed by trapezoids: Keras's `AUC` with its defaults. A batch
    /// counts its outputs into a bucket per threshold, `batch × thresholds` floats.
    Auc {
        /// How many thresholds (200 in Keras; 2 to [`Metric::MAX_AUC_THRESHOLDS`]).
        thresholds: usize,
    },
    /// The mean of [`Loss::BinaryCrossentropy`] over the examples.
    BinaryCrossentropy,
    /// The mean of [`Loss::CategoricalCrossentropy`] over the examples.
    CategoricalCrossentropy,
    /// The mean of [`Loss::SparseCategoricalCrossentropy`] over the examples.
    SparseCategoricalCrossentropy,
    /// The mean of [`Loss::KlDivergence`] over the examples.
    KlDivergence,
    /// The mean of [`Loss::Poisson`] over the examples.
    Poisson,
    /// The mean of [`Loss::LogCosh`] over the examples (Keras's `LogCoshError`, logged as
    /// `logcosh`).
    LogCoshError,
    /// The mean of [`Loss::Hinge`] over the examples.
    Hinge,
    /// The mean of [`Loss::SquaredHinge`] over the examples.
    SquaredHinge,
    /// The mean of [`Loss::CategoricalHinge`] over the examples.
    CategoricalHinge,
    /// The mean cosine of the angle between output and target, 1 when they point the same
    /// way (the opposite of [`Loss::CosineSimilarity`]).
    CosineSimilarity,
    /// Keras's `F1Score`: each class's harmonic mean of precision and recall from the
    /// epoch's counts, the classes' scores combined by `average`; an output is predicted
    /// above `threshold`, or, with none, when it is its example's highest (ties all).
    F1Score {
        /// How the classes' scores are combined.
        average: Average,
        /// The decision threshold, in (0, 1]; `None`: the highest output of each example.
        threshold: Option<f64>,
    },
    /// Keras's `FBetaScore`: as [`Metric::F1Score`], recall weighing `beta` times as much
    /// as precision.
    FBetaScore {
        /// Recall's weight against precision (positive; 1 is the F1 score).
        beta: f64,
        /// How the classes' scores are combined.
        average: Average,
        /// The decision threshold, in (0, 1]; `None`: the highest output of each example.
        threshold: Option<f64>,
    },
    /// Keras's `R2Score`, the coefficient of determination: for each output
    /// `1 - Σ(y - ŷ)² / Σ(y - ȳ)²` from the epoch's sums (0 where the targets do not vary
    /// but the errors do), combined by `aggregation` ([`Metric::R2_SCORE`]: uniform).
    R2Score {
        /// How the outputs' scores are combined.
        aggregation: R2Aggregation,
    },
}

/// How [`Metric::R2Score`] combines the outputs' scores, as Keras's `class_aggregation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum R2Aggregation {
    /// Their mean (`uniform_average`, Keras's default).
    Uniform,
    /// Weighted by each output's variance (`variance_weighted_average`).
    VarianceWeighted,
}

/// How [`Metric::F1Score`] and [`Metric::FBetaScore`] combine the classes' scores, as
/// Keras's `average` (whose default, a score per class, kiln's scalar logs leave out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Average {
    /// One score from the counts summed over the classes.
    Micro,
    /// The mean of the classes' scores.
    Macro,
    /// The classes' scores weighted by their share of the true targets.
    Weighted,
}

impl Metric {
    /// Keras's binary accuracy with its threshold 0.5.
    pub const BINARY_ACCURACY: Metric = Metric::BinaryAccuracy { threshold: 0.5 };
    /// Keras's top-k accuracy with k = 5.
    pub const TOP_5: Metric = Metric::TopKCategoricalAccuracy { k: 5 };
    /// Keras's precision with its threshold 0.5.
    pub const PRECISION: Metric = Metric::Precision { threshold: 0.5 };
    /// Keras's recall with its threshold 0.5.
    pub const RECALL: Metric = Metric::Recall { threshold: 0.5 };
    /// Keras's AUC with its 200 thresholds.
    pub const AUC: Metric = Metric::Auc { thresholds: 200 };
    /// Keras's `R2Score()`: the outputs' scores averaged.
    pub const R2_SCORE: Metric = Metric::R2Score {
        aggregation: R2Aggregation::Uniform,
    };
    /// The most thresholds an [`Metric::Auc`] takes.
    pub const MAX_AUC_THRESHOLDS: usize = 10_000;

    /// Why this metric cannot run, if it cannot: a threshold outside [0, 1], or an AUC's
    /// count of thresholds outside 2 to [`Metric::MAX_AUC_THRESHOLDS`].
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Metric::BinaryAccuracy { threshold }
            | Metric::Precision { threshold }
            | Metric::Recall { threshold }
                if !(0.0..=1.0).contains(&threshold) =>
            {
                Err(format!(
                    "{self}'s threshold must be in [0, 1], got {threshold}"
                ))
            }
            Metric::Auc { thresholds }
                if !(2..=Metric::MAX_AUC_THRESHOLDS).contains(&thresholds) =>
            {
                Err(format!(
                    "auc's thresholds must be from 2 to {}, got {thresholds}",
                    Metric::MAX_AUC_THRESHOLDS
                ))
            }
            Metric::TopKCategoricalAccuracy { k: 0 } => {
                Err("top_k_categorical_accuracy's k must be positive".into())
            }
            Metric::FBetaScore { beta, .. } if !(beta.is_finite() && beta > 0.0) => Err(format!(
                "fbeta_score's beta must be finite and positive, got {beta}"
            )),
            Metric::F1Score {
                threshold: Some(t), ..
            }
            | Metric::FBetaScore {
                threshold: Some(t), ..
            } if !(t > 0.0 && t <= 1.0) => {
                Err(format!("{self}'s threshold must be in (0, 1], got {t}"))
            }
            _ => Ok(()),
        }
    }

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
            Metric::Precision { .. } => "precision",
            Metric::Recall { .. } => "recall",
            Metric::Auc { .. } => "auc",
            Metric::BinaryCrossentropy => "binary_crossentropy",
            Metric::CategoricalCrossentropy => "categorical_crossentropy",
            Metric::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Metric::KlDivergence => "kl_divergence",
            Metric::Poisson => "poisson",
            Metric::LogCoshError => "logcosh",
            Metric::Hinge => "hinge",
            Metric::SquaredHinge => "squared_hinge",
            Metric::CategoricalHinge => "categorical_hinge",
            Metric::CosineSimilarity => "cosine_similarity",
            Metric::F1Score { .. } => "f1_score",
            Metric::FBetaScore { .. } => "fbeta_score",
            Metric::R2Score { .. } => "r2_score",
        }
    }

    /// Whether the metric keeps sums for each output (class) of the model: the F-scores
    /// averaged over classes and R², which need a model whose output size is known.
    pub fn per_class(&self) -> bool {
        match self {
            Metric::F1Score { average, .. } | Metric::FBetaScore { average, .. } => {
                *average != Average::Micro
            }
            Metric::R2Score { .. } => true,
            _ => false,
        }
    }

    /// The metric with this Keras name (`acc`, `mse`, `mae`, `mape`, `msle`, `kld` too).
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
            "precision" => Metric::PRECISION,
            "recall" => Metric::RECALL,
            "auc" => Metric::AUC,
            "binary_crossentropy" => Metric::BinaryCrossentropy,
            "categorical_crossentropy" => Metric::CategoricalCrossentropy,
            "sparse_categorical_crossentropy" => Metric::SparseCategoricalCrossentropy,
            "kl_divergence" | "kld" => Metric::KlDivergence,
            "poisson" => Metric::Poisson,
            "logcosh" | "log_cosh" | "log_cosh_error" => Metric::LogCoshError,
            "hinge" => Metric::Hinge,
            "squared_hinge" => Metric::SquaredHinge,
            "categorical_hinge" => Metric::CategoricalHinge,
            "cosine_similarity" => Metric::CosineSimilarity,
            "r2_score" => Metric::R2_SCORE,
            _ => return None,
        })
    }

    /// Whether a higher value is better (accuracies, precision, recall), for callbacks'
    /// `mode = auto`.
    pub fn higher_is_better(&self) -> bool {
        crate::callback::Mode::Auto.higher_is_better(self.name())
    }

    /// How many sums a batch adds to the epoch's totals for this metric, on a model of
    /// `outputs` outputs: the sum of its examples' values, for precision and recall the
    /// two counts of their ratio, for AUC the true and false positives at each threshold
    /// and the positives and negatives, for the F-scores the true and false positives,
    /// the false negatives and the true targets (of each class unless `Average::Micro`),
    /// for R² each output's sums of targets, their squares, squared errors and examples.
    pub fn sums(&self, outputs: usize) -> usize {
        match self {
            Metric::Precision { .. } | Metric::Recall { .. } => 2,
            Metric::Auc { thresholds } => 2 * auc_count(*thresholds) + 2,
            Metric::F1Score { .. } | Metric::FBetaScore { .. } | Metric::R2Score { .. }
                if self.per_class() =>
            {
                4 * outputs
            }
            Metric::F1Score { .. } | Metric::FBetaScore { .. } => 4,
            _ => 1,
        }
    }

    /// The batch's [sums](Self::sums) over its examples.
    pub fn batch_sum<B: Backend>(&self, output: &Output<B>, target: &Target<B>) -> Tensor<B, 1> {
        self.per_example(output, target).sum_dim(0).squeeze_dim(0)
    }

    /// Each example's part of each of the metric's [sums](Self::sums): `[batch, sums]`.
    fn per_example<B: Backend>(&self, output: &Output<B>, target: &Target<B>) -> Tensor<B, 2> {
        let width = output.width();
        let p = || output.activated();
        let mean = |t: Tensor<B, 2>| t.mean_dim(1).squeeze_dim(1);
        let loss = |loss: Loss| loss.per_example(output, target, 0.0);
        let classes = || match target {
            Target::Classes(c, _) => c.clone(),
            Target::Values(v) => v.clone().argmax(1).squeeze_dim(1),
        };
        let one = match self {
            Metric::Accuracy if width == 1 => {
                return Metric::BINARY_ACCURACY.per_example(output, target);
            }
            Metric::Accuracy | Metric::CategoricalAccuracy | Metric::SparseCategoricalAccuracy => {
                let predicted = output.ranked().argmax(1).squeeze_dim::<1>(1);
                predicted.equal(classes()).float()
            }
            Metric::BinaryAccuracy { threshold } => {
                let predicted = p().greater_elem(*threshold).float();
                let truth = target.dense(width).greater_elem(*threshold).float();
                mean(predicted.equal(truth).float())
            }
            Metric::TopKCategoricalAccuracy { k } => {
                let p = output.ranked();
                // The target is in the top k when fewer than k outputs beat it.
                let of_truth = p.clone().gather(1, classes().unsqueeze_dim(1));
                let beaten_by = p.greater(of_truth).int().sum_dim(1).squeeze_dim::<1>(1);
                beaten_by.lower_elem(*k as i64).float()
            }
            // The means of losses (their root for the root mean squared error, taken by
            // `finish`).
            Metric::MeanSquaredError | Metric::RootMeanSquaredError => loss(Loss::MeanSquaredError),
            Metric::MeanAbsoluteError => loss(Loss::MeanAbsoluteError),
            Metric::MeanAbsolutePercentageError => loss(Loss::MeanAbsolutePercentageError),
            Metric::MeanSquaredLogarithmicError => loss(Loss::MeanSquaredLogarithmicError),
            Metric::BinaryCrossentropy => loss(Loss::BinaryCrossentropy),
            Metric::CategoricalCrossentropy => loss(Loss::CategoricalCrossentropy),
            Metric::SparseCategoricalCrossentropy => loss(Loss::SparseCategoricalCrossentropy),
            Metric::KlDivergence => loss(Loss::KlDivergence),
            Metric::Poisson => loss(Loss::Poisson),
            Metric::LogCoshError => loss(Loss::LogCosh),
            Metric::Hinge => loss(Loss::Hinge),
            Metric::SquaredHinge => loss(Loss::SquaredHinge),
            Metric::CategoricalHinge => loss(Loss::CategoricalHinge),
            Metric::CosineSimilarity => loss(Loss::CosineSimilarity).neg(),
            // True positives, and the predicted or the actual positives.
            Metric::Precision { threshold } | Metric::Recall { threshold } => {
                let predicted = p().greater_elem(*threshold).float();
                let actual = target.dense(width).not_equal_elem(0.0).float();
                let of = match self {
                    Metric::Precision { .. } => predicted.clone(),
                    _ => actual.clone(),
                };
                return Tensor::cat(vec![(predicted * actual).sum_dim(1), of.sum_dim(1)], 1);
            }
            Metric::Auc { thresholds } => {
                return confusion(p().clamp(0.0, 1.0), target.dense(width), *thresholds);
            }
            Metric::F1Score { threshold, .. } | Metric::FBetaScore { threshold, .. } => {
                return f_counts(p(), target.dense(width), *threshold, self.per_class());
            }
            Metric::R2Score { .. } => return r2_parts(p(), target.dense(width)),
        };
        one.unsqueeze_dim(1)
    }

    /// The epoch's value from its totals of the [sums](Self::sums) over `examples`
    /// examples (their total weight for a weighted metric): their mean (its root for the
    /// root mean squared error), or the counts' ratio (0 over 0 is 0, as Keras's).
    pub fn finish(&self, sums: &[f64], examples: f64) -> f64 {
        let ratio = |of: f64, count: f64| if count == 0.0 { 0.0 } else { of / count };
        let first = sums.first().copied().unwrap_or(f64::NAN);
        match (self, sums) {
            (Metric::Precision { .. } | Metric::Recall { .. }, [hits, of]) => ratio(*hits, *of),
            (Metric::RootMeanSquaredError, _) => ratio(first, examples).sqrt(),
            (Metric::Auc { .. }, _) => roc_area(sums),
            (Metric::F1Score { average, .. }, _) => f_score(sums, 1.0, *average),
            (Metric::FBetaScore { beta, average, .. }, _) => f_score(sums, *beta, *average),
            (Metric::R2Score { aggregation }, _) => r2_score(sums, *aggregation),
            _ => ratio(first, examples),
        }
    }
}

/// A metric as the trainer reports it, as Keras's `compile` lists it: in `metrics`, or in
/// `weighted_metrics`, where each example counts with its weight (`sample_weight`,
/// `class_weight`): a weighted mean `Σ wᵢ·vᵢ / Σ wᵢ`, or weighted counts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reported {
    pub metric: Metric,
    pub weighted: bool,
    /// The name in the logs.
    pub name: String,
}

impl Reported {
    /// `metrics` then `weighted`, named as Keras's `CompileMetrics` names them: a repeated
    /// name gets `_1`, `_2`...; a weighted metric whose name is taken is `weighted_` and
    /// its name.
    pub fn list(metrics: &[Metric], weighted: &[Metric]) -> Vec<Reported> {
        fn unique(seen: &mut std::collections::HashMap<String, usize>, name: String) -> String {
            let count = seen.entry(name.clone()).or_default();
            *count += 1;
            match *count {
                1 => name,
                n => format!("{name}_{}", n - 1),
            }
        }
        let mut seen = std::collections::HashMap::new();
        let listed = metrics.iter().map(|&m| (m, false));
        listed
            .chain(weighted.iter().map(|&m| (m, true)))
            .map(|(metric, weighted)| {
                let name = match weighted && seen.contains_key(metric.name()) {
                    true => format!("weighted_{}", metric.name()),
                    false => metric.name().into(),
                };
                Reported {
                    metric,
                    weighted,
                    name: unique(&mut seen, name),
                }
            })
            .collect()
    }

    /// The most any of its counts grows by per example, on a model of `outputs` outputs
    /// (`None` when that needs the outputs and they are not known): the outputs for the
    /// counts over them (precision, recall, AUC, micro F-scores), 1 for a count per
    /// example or class (the accuracies, the F-scores per class, R²'s examples, a
    /// weighted metric's total weight), 0 for sums that are no counts (the means).
    pub fn count_bound(&self, outputs: Option<usize>) -> Option<usize> {
        let own = match self.metric {
            Metric::Precision { .. } | Metric::Recall { .. } | Metric::Auc { .. } => outputs,
            Metric::F1Score { .. } | Metric::FBetaScore { .. } if !self.metric.per_class() => {
                outputs
            }
            Metric::Accuracy
            | Metric::BinaryAccuracy { .. }
            | Metric::CategoricalAccuracy
            | Metric::SparseCategoricalAccuracy
            | Metric::TopKCategoricalAccuracy { .. }
            | Metric::F1Score { .. }
            | Metric::FBetaScore { .. }
            | Metric::R2Score { .. } => Some(1),
            Metric::MeanSquaredError
            | Metric::RootMeanSquaredError
            | Metric::MeanAbsoluteError
            | Metric::MeanAbsolutePercentageError
            | Metric::MeanSquaredLogarithmicError
            | Metric::BinaryCrossentropy
            | Metric::CategoricalCrossentropy
            | Metric::SparseCategoricalCrossentropy
            | Metric::KlDivergence
            | Metric::Poisson
            | Metric::LogCoshError
            | Metric::Hinge
            | Metric::SquaredHinge
            | Metric::CategoricalHinge
            | Metric::CosineSimilarity => Some(0),
        };
        own.map(|b| b.max(usize::from(self.weighted)))
    }

    /// How many sums a batch adds on a model of `outputs` outputs: the metric's, then for
    /// a weighted one its examples' total weight.
    pub fn sums(&self, outputs: usize) -> usize {
        self.metric.sums(outputs) + usize::from(self.weighted)
    }

    /// The [sums](Self::sums) over the examples that count (all, or `counted`'s first
    /// ones, with their weights when weighted), computed on every row of the batch so that
    /// its kernels keep the batch's shape.
    pub fn counted_sum<B: Backend>(
        &self,
        output: &Output<B>,
        target: &Target<B>,
        counted: Option<&Counted<B>>,
    ) -> Tensor<B, 1> {
        let mut each = self.metric.per_example(output, target);
        if self.weighted {
            let ones = Tensor::ones([each.dims()[0], 1], &each.device());
            each = Tensor::cat(vec![each, ones], 1);
            if let Some(counted) = counted {
                each = counted.weigh_rows(each);
            }
        }
        match counted {
            Some(counted) => counted.sum_rows(each),
            None => each.sum_dim(0).squeeze_dim(0),
        }
    }

    /// The epoch's value from its totals of the [sums](Self::sums) over `examples`.
    pub fn finish(&self, sums: &[f64], examples: usize) -> f64 {
        match (self.weighted, sums.split_last()) {
            (true, Some((weight, sums))) => self.metric.finish(sums, *weight),
            _ => self.metric.finish(sums, examples as f64),
        }
    }
}

/// An AUC's count of thresholds, within the range [`Metric::check`] allows.
fn auc_count(n: usize) -> usize {
    n.clamp(2, Metric::MAX_AUC_THRESHOLDS)
}

/// Each example's counts for the AUC, `[batch, 2n + 2]`: at each of the `n` thresholds
/// its outputs above it whose target is positive (not 0), and those whose target is not;
/// then its positive and its negative targets. The thresholds being evenly spread, an
/// output `p` in [0, 1] is above the first `k + 1` of them, `k = max(⌈p·(n - 1)⌉ - 1, 0)`:
/// each output adds its class to its bucket `k`, and a threshold's count is the sum of
/// the buckets from its own up (Keras's way), `batch × n` floats where comparing every
/// output with every threshold would take `batch × outputs × n`.
fn confusion<B: Backend>(p: Tensor<B, 2>, y: Tensor<B, 2>, n: usize) -> Tensor<B, 2> {
    let [batch, _] = p.dims();
    let n = auc_count(n);
    let device = p.device();
    // A NaN output is above no threshold (as a comparison says): it counts in no bucket.
    let nan = p.clone().is_nan();
    let counts = nan.clone().bool_not().float();
    let bucket = p
        .mask_fill(nan, 0.0)
        .mul_scalar((n - 1) as f64)
        .ceil()
        .sub_scalar(1.0)
        .clamp(0.0, (n - 1) as f64)
        .int();
    let positive = y.not_equal_elem(0.0).float();
    let negative = positive.clone().neg().add_scalar(1.0);
    let at = |class: Tensor<B, 2>| {
        Tensor::<B, 2>::zeros([batch, n], &device)
            .scatter(
                1,
                bucket.clone(),
                class * counts.clone(),
                IndexingUpdateOp::Add,
            )
            .flip([1])
            .cumsum(1)
            .flip([1])
    };
    Tensor::cat(
        vec![
            at(positive.clone()),
            at(negative.clone()),
            positive.sum_dim(1),
            negative.sum_dim(1),
        ],
        1,
    )
}

/// Each example's counts for the F-scores, `[batch, 4k]`: its true positives, false
/// positives, false negatives and true targets, of each of its `k` outputs when
/// `per_class`, else summed over them (`k` = 1). An output is predicted above
/// `threshold`, or with none when it is its example's highest and not 0 (Keras's rule).
fn f_counts<B: Backend>(
    p: Tensor<B, 2>,
    y: Tensor<B, 2>,
    threshold: Option<f64>,
    per_class: bool,
) -> Tensor<B, 2> {
    let predicted = match threshold {
        Some(t) => p.greater_elem(t),
        None => {
            let highest = p.clone().max_dim(1).expand(p.dims());
            let nonzero = p.clone().abs().greater_elem(1e-9);
            p.greater_equal(highest).bool_and(nonzero)
        }
    }
    .float();
    let truth = y.not_equal_elem(0.0).float();
    let (missed, wrong) = (
        predicted.clone().neg().add_scalar(1.0),
        truth.clone().neg().add_scalar(1.0),
    );
    let parts = [
        predicted.clone() * truth.clone(),
        predicted * wrong,
        missed * truth.clone(),
        truth,
    ];
    Tensor::cat(
        parts
            .into_iter()
            .map(|t| if per_class { t } else { t.sum_dim(1) })
            .collect(),
        1,
    )
}

/// Keras's F-beta score from an epoch's [`f_counts`]: for each class
/// `(1 + β²)·p·r / (β²·p + r)`, precision and recall and the ratio each with Keras's ε
/// in its denominator, combined by `average`.
fn f_score(sums: &[f64], beta: f64, average: Average) -> f64 {
    const EPSILON: f64 = 1e-7;
    let k = sums.len() / 4;
    let part = |i: usize| sums.get(i * k..(i + 1) * k).unwrap_or_default();
    let (hits, wrong, missed, truth) = (part(0), part(1), part(2), part(3));
    let b2 = beta * beta;
    let scores = (hits.iter().zip(wrong).zip(missed)).map(|((tp, fp), fneg)| {
        let precision = tp / (tp + fp + EPSILON);
        let recall = tp / (tp + fneg + EPSILON);
        (1.0 + b2) * precision * recall / (b2 * precision + recall + EPSILON)
    });
    match average {
        Average::Weighted => {
            let total: f64 = truth.iter().sum();
            scores
                .zip(truth)
                .map(|(s, t)| s * t / (total + EPSILON))
                .sum()
        }
        Average::Micro | Average::Macro => scores.sum::<f64>() / k.max(1) as f64,
    }
}

/// Each example's parts of R²'s sums, `[batch, 4k]`: its `k` targets, their squares, the
/// squared errors of its outputs, and 1 for each.
fn r2_parts<B: Backend>(p: Tensor<B, 2>, y: Tensor<B, 2>) -> Tensor<B, 2> {
    let errors = (y.clone() - p).square();
    Tensor::cat(
        vec![y.clone(), y.clone().square(), errors, y.ones_like()],
        1,
    )
}

/// Keras's R² from an epoch's sums of each output's targets, their squares, its squared
/// errors and its (weighted) count of examples: each output's `1 - errors / variation`
/// (0 where that is infinite), combined by `aggregation`.
fn r2_score(sums: &[f64], aggregation: R2Aggregation) -> f64 {
    let k = sums.len() / 4;
    let part = |i: usize| sums.get(i * k..(i + 1) * k).unwrap_or_default();
    let (sum, squares, errors, count) = (part(0), part(1), part(2), part(3));
    let variation: Vec<f64> = (sum.iter().zip(squares).zip(count))
        .map(|((s, sq), n)| sq - s * (s / n))
        .collect();
    let scores = errors
        .iter()
        .zip(&variation)
        .map(|(e, v)| match 1.0 - e / v {
            r if r.is_infinite() => 0.0,
            r => r,
        });
    match aggregation {
        R2Aggregation::Uniform => scores.sum::<f64>() / k.max(1) as f64,
        R2Aggregation::VarianceWeighted => {
            let weighted: f64 = scores.zip(&variation).map(|(r, v)| r * v).sum();
            weighted / variation.iter().sum::<f64>()
        }
    }
}

/// The area under the ROC curve from an epoch's [`confusion`] counts: the false
/// positive rate against the true positive rate at each threshold, summed by trapezoids
/// (a rate of 0 over 0 is 0, as Keras's).
fn roc_area(sums: &[f64]) -> f64 {
    let n = sums.len().saturating_sub(2) / 2;
    let (true_positives, rest) = sums.split_at(n);
    let (false_positives, totals) = rest.split_at(n);
    let rate = |count: f64, of: f64| if of == 0.0 { 0.0 } else { count / of };
    let (positives, negatives) = (
        totals.first().copied().unwrap_or(0.0),
        totals.get(1).copied().unwrap_or(0.0),
    );
    let points: Vec<(f64, f64)> = (true_positives.iter().zip(false_positives))
        .map(|(tp, fp)| (rate(*fp, negatives), rate(*tp, positives)))
        .collect();
    points
        .windows(2)
        .map(|w| (w[0].0 - w[1].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::EPSILON;
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

    /// A metric's sums as f64s.
    fn sums_of(sums: Tensor<B, 1>) -> Vec<f64> {
        let sums = sums.into_data().to_vec::<f32>().unwrap();
        sums.into_iter().map(f64::from).collect()
    }

    /// `metric` over the batch, every row an example.
    fn value_of(metric: Metric, output: &Output<B>, target: &Target<B>) -> f64 {
        let rows = output.logits.dims()[0];
        let sums = sums_of(metric.batch_sum(output, target));
        assert_eq!(sums.len(), metric.sums(output.width()), "{metric:?}");
        metric.finish(&sums, rows as f64)
    }

    /// `metric` as a weighted metric over the first `real` rows of the batch (the rest
    /// padding), weighing `weights` (or 1 each).
    fn weighted(
        metric: Metric,
        (output, target): (&Output<B>, &Target<B>),
        real: usize,
        weights: Option<&[f32]>,
    ) -> f64 {
        let [reported] = Reported::list(&[], &[metric]).try_into().unwrap();
        let rows = output.logits.dims()[0];
        let counted = Counted::new(real, rows, weights, &Default::default());
        let sums = sums_of(reported.counted_sum(output, target, counted.as_ref()));
        assert_eq!(sums.len(), reported.sums(output.width()), "{metric:?}");
        reported.finish(&sums, real)
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
        assert_eq!(Metric::RootMeanSquaredError.finish(&[1.0], 4.0), 0.5);
    }

    /// The means of losses, as Keras 3.15's metrics of the same names compute them on the
    /// same probabilities (a last activation read as probabilities: a ReLU of positive
    /// values).
    #[test]
    fn the_means_of_losses_match_keras() {
        let p = Output::<B> {
            activation: Activation::Relu,
            ..output(&[&[0.2, 0.7, 0.1], &[0.5, 0.3, 0.2]])
        };
        let y = Target::Values(output(&[&[0.0, 1.0, 0.0], &[1.0, 0.0, 0.0]]).logits);
        for (metric, name, want) in [
            (
                Metric::BinaryCrossentropy,
                "binary_crossentropy",
                0.326_357_45,
            ),
            (
                Metric::CategoricalCrossentropy,
                "categorical_crossentropy",
                0.524_911_05,
            ),
            (Metric::KlDivergence, "kl_divergence", 0.524_908_2),
            (Metric::Poisson, "poisson", 0.508_303_64),
            (Metric::LogCoshError, "logcosh", 0.042_253_97),
            (Metric::Hinge, "hinge", 0.933_333_3),
            (Metric::SquaredHinge, "squared_hinge", 1.02),
            (Metric::CategoricalHinge, "categorical_hinge", 0.65),
            (Metric::CosineSimilarity, "cosine_similarity", 0.881_843_27),
        ] {
            assert_eq!(
                (metric.name(), Metric::from_name(name)),
                (name, Some(metric))
            );
            let got = metric.finish(&[f64::from(sum(metric, &p, &y))], 2.0);
            assert!(
                (got - want).abs() < 2e-6,
                "{metric}: got {got}, want {want}"
            );
        }
        let sparse = Metric::SparseCategoricalCrossentropy;
        let got = sparse.finish(&[f64::from(sum(sparse, &p, &classes(&[1, 0])))], 2.0);
        assert!((got - 0.524_911_05).abs() < 2e-6, "{got}");
        assert!(Metric::CosineSimilarity.higher_is_better() && !Metric::Poisson.higher_is_better());
    }

    /// Keras's F1Score and FBetaScore, as Keras 3.15 computes them on the same values.
    #[test]
    fn f_scores_match_keras() {
        let p = Output::<B> {
            activation: Activation::Relu,
            ..output(&[
                &[0.2, 0.7, 0.1],
                &[0.5, 0.3, 0.2],
                &[0.6, 0.1, 0.3],
                &[0.1, 0.4, 0.5],
                &[0.3, 0.3, 0.4],
            ])
        };
        let y = classes(&[1, 0, 2, 1, 0]);
        let score = |metric: Metric, weights| weighted(metric, (&p, &y), 5, weights);
        let f1 = |average, threshold| Metric::F1Score { average, threshold };
        for (metric, want) in [
            (f1(Average::Micro, None), 0.399_999_98),
            (f1(Average::Micro, Some(0.35)), 0.545_454_5),
            (f1(Average::Macro, None), 0.388_888_84),
            (f1(Average::Macro, Some(0.35)), 0.5),
            (f1(Average::Weighted, None), 0.466_666_58),
            (f1(Average::Weighted, Some(0.35)), 0.599_999_96),
            (
                Metric::FBetaScore {
                    beta: 2.0,
                    average: Average::Macro,
                    threshold: None,
                },
                0.351_851_85,
            ),
        ] {
            let got = score(metric, None);
            assert!(
                (got - want).abs() < 1e-6,
                "{metric:?}: got {got}, want {want}"
            );
        }
        // Weighted by examples, as a weighted metric.
        let got = score(f1(Average::Macro, None), Some(&[1.0, 2.0, 0.5, 1.0, 3.0]));
        assert!((got - 0.399_999_95).abs() < 1e-6, "{got}");
        assert_eq!(
            (
                f1(Average::Macro, None).name(),
                Metric::FBetaScore {
                    beta: 0.5,
                    average: Average::Micro,
                    threshold: None
                }
                .name()
            ),
            ("f1_score", "fbeta_score")
        );
        assert!(
            f1(Average::Weighted, None).higher_is_better() && f1(Average::Macro, None).per_class()
        );
        assert!(!f1(Average::Micro, None).per_class());
        // One sigmoid output against 0/1 targets.
        let binary = Output::<B> {
            activation: Activation::Relu,
            ..output(&[&[0.9], &[0.6], &[0.2], &[0.7]])
        };
        let targets = Target::Values(output(&[&[1.0], &[0.0], &[1.0], &[1.0]]).logits);
        let got = value_of(f1(Average::Micro, Some(0.5)), &binary, &targets);
        assert!((got - 0.666_666_6).abs() < 1e-6);
    }

    /// Keras's R2Score, as Keras 3.15 computes it on the same values.
    #[test]
    fn r2_scores_match_keras() {
        let p = output(&[&[1.0, -1.5], &[0.5, 3.0], &[1.5, 1.5], &[-0.5, 0.0]]);
        let y =
            Target::Values(output(&[&[1.5, -2.0], &[0.3, 4.0], &[2.0, 1.0], &[-1.0, 0.5]]).logits);
        let score = |metric: Metric, weights| weighted(metric, (&p, &y), 4, weights);
        let by_variance = Metric::R2Score {
            aggregation: R2Aggregation::VarianceWeighted,
        };
        for (metric, weights, want) in [
            (Metric::R2_SCORE, None, 0.878_469_94),
            (by_variance, None, 0.892_224_43),
            (
                Metric::R2_SCORE,
                Some([1.0, 2.0, 0.5, 1.0].as_slice()),
                0.870_034_7,
            ),
        ] {
            let got = score(metric, weights);
            assert!(
                (got - want).abs() < 1e-6,
                "{metric:?}: got {got}, want {want}"
            );
        }
        assert_eq!(Metric::from_name("r2_score"), Some(Metric::R2_SCORE));
        assert!(Metric::R2_SCORE.higher_is_better() && Metric::R2_SCORE.per_class());
        // Targets that do not vary: an infinite score counts 0, as Keras's.
        let flat =
            Target::Values(output(&[&[1.0, 1.0], &[1.0, 1.0], &[1.0, 1.0], &[1.0, 1.0]]).logits);
        assert_eq!(value_of(Metric::R2_SCORE, &p, &flat), 0.0);
    }

    /// Keras's Precision and Recall, worked by hand: each output a class of its own,
    /// positive above the threshold, a target positive when not 0.
    #[test]
    fn precision_and_recall_count_as_keras_counts() {
        // Outputs above 0.5: (0, 1), (0, 0), (1, 1); targets (0, 1), (1, 0), (1, 0).
        let out = output(&[&[0.2, 0.9], &[0.4, 0.1], &[0.6, 0.7]]);
        let targets = Target::Values(output(&[&[0.0, 1.0], &[1.0, 0.0], &[1.0, 0.0]]).logits);
        // True positives 2, predicted 3, actual 3.
        let sums = |m: Metric| {
            m.batch_sum(&out, &targets)
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(sums(Metric::PRECISION), [2.0, 3.0]);
        assert_eq!(sums(Metric::RECALL), [2.0, 3.0]);
        // A higher threshold: only 0.9 and 0.7 are positive, one of them truly.
        assert_eq!(sums(Metric::Precision { threshold: 0.65 }), [1.0, 2.0]);
        assert_eq!(sums(Metric::Recall { threshold: 0.65 }), [1.0, 3.0]);
        // Class indices as one-hot rows; a single output against 0/1 classes.
        assert_eq!(sums(Metric::PRECISION), {
            let labels = classes(&[1, 0, 0]);
            Metric::PRECISION
                .batch_sum(&out, &labels)
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        });
        let binary = output(&[&[0.9], &[0.4], &[0.6]]);
        let labels = classes(&[1, 1, 0]);
        let of = |m: Metric| {
            m.batch_sum(&binary, &labels)
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(of(Metric::PRECISION), [1.0, 2.0]);
        assert_eq!(of(Metric::RECALL), [1.0, 2.0]);
        // The epoch's value: the counts' ratio, 0 when nothing is predicted.
        assert_eq!(Metric::PRECISION.finish(&[3.0, 4.0], 10.0), 0.75);
        assert_eq!(Metric::RECALL.finish(&[0.0, 0.0], 10.0), 0.0);
    }

    /// Keras's AUC: the ROC curve's points at each threshold, summed by trapezoids.
    #[test]
    fn auc_is_the_area_under_the_roc_curve() {
        let auc = |p: &[&[f32]], y: &[&[f32]]| {
            value_of(Metric::AUC, &output(p), &Target::Values(output(y).logits))
        };
        let (one, zero): (&[f32], &[f32]) = (&[1.0], &[0.0]);
        // Positives 0.9 and 0.4, negatives 0.6 and 0.1: 3 of the 4 pairs in order.
        assert_eq!(
            auc(&[&[0.9], &[0.4], &[0.6], &[0.1]], &[one, one, zero, zero]),
            0.75
        );
        assert_eq!(auc(&[&[0.8], &[0.2]], &[one, zero]), 1.0);
        assert_eq!(auc(&[&[0.2], &[0.8]], &[one, zero]), 0.0);
        // A NaN output is above no threshold: a positive never found.
        assert_eq!(auc(&[&[f32::NAN], &[0.8], &[0.2]], &[one, one, zero]), 0.5);
        // A tie counts half.
        assert_eq!(auc(&[&[0.5], &[0.5]], &[one, zero]), 0.5);
        // Each output a class of its own: positives 0.9 and 0.7 above negatives 0.2, 0.3.
        assert_eq!(
            auc(&[&[0.2, 0.9], &[0.7, 0.3]], &[&[0.0, 1.0], &[1.0, 0.0]]),
            1.0
        );
        // No negative: no false positive rate, an area of 0 (Keras's 0 over 0).
        assert_eq!(auc(&[&[0.8], &[0.2]], &[one, one]), 0.0);
        // Outputs outside [0, 1] are clipped into it, as Keras's: in order, an area of 1.
        assert_eq!(auc(&[&[3.0], &[-3.0]], &[one, zero]), 1.0);
        assert_eq!(
            auc_thresholds(3),
            [-(EPSILON as f32), 0.5, 1.0 + EPSILON as f32]
        );
    }

    /// Keras's AUC thresholds: `n` from just below 0 to just above 1, evenly spread between.
    fn auc_thresholds(n: usize) -> Vec<f32> {
        let n = auc_count(n);
        let inner = (1..n - 1).map(|i| i as f32 / (n - 1) as f32);
        std::iter::once(-(EPSILON as f32))
            .chain(inner)
            .chain(std::iter::once(1.0 + EPSILON as f32))
            .collect()
    }

    /// The buckets count what comparing each output with each threshold counts.
    #[test]
    fn auc_buckets_count_the_outputs_above_each_threshold() {
        let (batch, width, n) = (7, 13, 200);
        // Outputs spread over [0, 1], the thresholds themselves among them.
        let p: Vec<f32> = (0..batch * width)
            .map(|i| match i % 5 {
                0 => (i % 200) as f32 / 199.0,
                _ => ((i * 7919) % 1000) as f32 / 999.0,
            })
            .collect();
        let y: Vec<f32> = (0..batch * width)
            .map(|i| ((i * 31) % 3 % 2) as f32)
            .collect();
        let counts = confusion(
            output(&p.chunks(width).collect::<Vec<_>>()).logits,
            output(&y.chunks(width).collect::<Vec<_>>()).logits,
            n,
        );
        assert_eq!(counts.dims(), [batch, 2 * n + 2]);
        let counts = counts.into_data().to_vec::<f32>().unwrap();
        let thresholds = auc_thresholds(n);
        for (row, counts) in counts.chunks(2 * n + 2).enumerate() {
            let example = row * width..(row + 1) * width;
            let above = |t: f32, positive: bool| {
                example
                    .clone()
                    .filter(|&i| p[i] > t && (y[i] != 0.0) == positive)
                    .count() as f32
            };
            let want: Vec<f32> = [true, false]
                .iter()
                .flat_map(|&positive| thresholds.iter().map(move |&t| (t, positive)))
                .map(|(t, positive)| above(t, positive))
                .chain([true, false].map(|positive| above(-1.0, positive)))
                .collect();
            assert_eq!(counts, want, "example {row}");
        }
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
            Metric::PRECISION,
            Metric::RECALL,
            Metric::AUC,
            Metric::BinaryCrossentropy,
            Metric::CategoricalCrossentropy,
            Metric::KlDivergence,
            Metric::Poisson,
            Metric::LogCoshError,
            Metric::CategoricalHinge,
            Metric::CosineSimilarity,
        ] {
            // Plain and weighted (each weighing 1: the same sums, then their count).
            for reported in Reported::list(&[metric], &[metric]) {
                let padded = reported.counted_sum(&three, &classes(&[1, 1, 0]), Some(&counted));
                let alone = reported.counted_sum(&two, &classes(&[1, 1]), None);
                let (padded, alone) = [padded, alone]
                    .map(|t| t.into_data().to_vec::<f32>().unwrap())
                    .into();
                assert_eq!(padded.len(), reported.sums(3));
                for (padded, alone) in padded.iter().zip(&alone) {
                    assert!(
                        (padded - alone).abs() <= 1e-6 * alone.abs().max(1.0),
                        "{}: {padded} against {alone}",
                        reported.name
                    );
                }
            }
        }
    }

    /// Keras's `weighted_metrics`: each example counts by its weight, the padding not at
    /// all; their total weight is the mean's count.
    #[test]
    fn weighted_metrics_count_each_example_by_its_weight() {
        // Right, wrong, right, and a padding row; weighing 2, 0.5, 1 (and 7).
        let out = output(&[&[0.9, 0.1], &[0.8, 0.2], &[0.3, 0.7], &[0.6, 0.4]]);
        let labels = classes(&[0, 1, 1, 1]);
        let weights = [2.0, 0.5, 1.0, 7.0];
        let value = |metric| weighted(metric, (&out, &labels), 3, Some(&weights));
        assert_eq!(value(Metric::Accuracy), 3.0 / 3.5);
        // Precision at 0.5 of each output: the positives above it are (0, 0.9) of target
        // 1, (0, 0.8) of 0, (1, 0.7) of 1: true 2·1 + 1·1 of 2 + 0.5 + 1 predicted.
        assert_eq!(value(Metric::PRECISION), 3.0 / 3.5);
        // Recall: the actual positives (0, 0.9), (1, 0.2), (1, 0.7): 3 of 2 + 0.5 + 1.
        assert_eq!(value(Metric::RECALL), 3.0 / 3.5);
        // Squared errors of each example, averaged over its two outputs: 0.01, 0.64, 0.09.
        let mse = value(Metric::MeanSquaredError);
        assert!(
            (mse - (2.0 * 0.01 + 0.5 * 0.64 + 0.09) / 3.5).abs() < 1e-6,
            "{mse}"
        );
    }

    /// Keras's names: repeats numbered, a weighted metric of a listed name `weighted_`.
    #[test]
    fn reported_metrics_are_named_as_keras_names_them() {
        let names = |metrics: &[Metric], weighted: &[Metric]| -> Vec<String> {
            let reported = Reported::list(metrics, weighted);
            reported.into_iter().map(|r| r.name).collect()
        };
        assert_eq!(
            names(&[Metric::Accuracy, Metric::Accuracy], &[Metric::AUC]),
            ["accuracy", "accuracy_1", "auc"]
        );
        assert_eq!(
            names(
                &[Metric::Accuracy, Metric::AUC],
                &[Metric::Accuracy, Metric::Accuracy, Metric::RECALL]
            ),
            [
                "accuracy",
                "auc",
                "weighted_accuracy",
                "weighted_accuracy_1",
                "recall"
            ]
        );
    }

    #[test]
    fn names_round_trip() {
        for m in [
            Metric::Accuracy,
            Metric::BINARY_ACCURACY,
            Metric::CategoricalAccuracy,
            Metric::TOP_5,
            Metric::MeanAbsoluteError,
            Metric::PRECISION,
            Metric::RECALL,
            Metric::AUC,
        ] {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert!(
            Metric::Accuracy.higher_is_better() && !Metric::MeanSquaredError.higher_is_better()
        );
        assert!(Metric::PRECISION.higher_is_better() && Metric::RECALL.higher_is_better());
        for (metric, message) in [
            (
                Metric::Precision { threshold: 1.5 },
                "precision's threshold must be in [0, 1], got 1.5",
            ),
            (
                Metric::BinaryAccuracy {
                    threshold: f64::NAN,
                },
                "binary_accuracy's threshold must be in [0, 1], got NaN",
            ),
            (
                Metric::Auc { thresholds: 1 },
                "auc's thresholds must be from 2 to 10000, got 1",
            ),
            (
                Metric::Auc {
                    thresholds: usize::MAX,
                },
                &format!(
                    "auc's thresholds must be from 2 to 10000, got {}",
                    usize::MAX
                ),
            ),
            (
                Metric::TopKCategoricalAccuracy { k: 0 },
                "top_k_categorical_accuracy's k must be positive",
            ),
            (
                Metric::FBetaScore {
                    beta: 0.0,
                    average: Average::Macro,
                    threshold: None,
                },
                "fbeta_score's beta must be finite and positive, got 0",
            ),
            (
                Metric::F1Score {
                    average: Average::Micro,
                    threshold: Some(-0.5),
                },
                "f1_score's threshold must be in (0, 1], got -0.5",
            ),
        ] {
            assert_eq!(metric.check().err().as_deref(), Some(message), "{metric:?}");
        }
        assert_eq!(
            Metric::Auc {
                thresholds: usize::MAX
            }
            .sums(1),
            2 * 10_000 + 2
        );
    }
}
