//! Losses, by their Keras names and definitions. Cross-entropies work on logits when the
//! model ends in softmax or sigmoid (or in no activation), never on the log of an
//! activated output.

use std::fmt;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Int, Tensor, TensorData, backend::Backend};
use kiln_spec::Activation;

use crate::activation;

/// Keras's epsilon for clipping probabilities and denominators.
pub(crate) const EPSILON: f64 = 1e-7;

/// A batch's targets on the device.
#[derive(Clone, Debug)]
pub enum Target<B: Backend> {
    /// Class indices `[batch]`, among this many classes.
    Classes(Tensor<B, 1, Int>, usize),
    /// Values `[batch, width]`.
    Values(Tensor<B, 2>),
}

impl<B: Backend> Target<B> {
    /// The targets as values `[batch, width]`: class indices one-hot over `width` columns,
    /// or as a single 0/1 column for a one-output binary model.
    pub fn dense(&self, width: usize) -> Tensor<B, 2> {
        match self {
            Target::Values(v) => v.clone(),
            Target::Classes(c, _) if width == 1 => c.clone().float().unsqueeze_dim(1),
            Target::Classes(c, _) => c.clone().one_hot(width).float(),
        }
    }
}

/// How the examples of a batch count: only the first `real` when the others pad it to a
/// fixed shape (so a GPU backend compiles no kernel for a smaller last batch; they are
/// left out of the loss, the metrics and the outputs), and each with its weight in the
/// loss when they weigh differently (Keras's `sample_weight` and `class_weight`).
#[derive(Clone, Debug)]
pub(crate) struct Counted<B: Backend> {
    /// Whether each row only pads the batch, `[batch]`.
    padding: Option<Tensor<B, 1, Bool>>,
    /// Each row's weight in the loss, `[batch]`.
    weights: Option<Tensor<B, 1>>,
    real: usize,
}

impl<B: Backend> Counted<B> {
    /// The first `real` of `batch` examples, weighted by `weights` (one per example of
    /// the batch, the padding's included) when given, on `device`; `None` when every
    /// example counts once.
    pub(crate) fn new(
        real: usize,
        batch: usize,
        weights: Option<&[f32]>,
        device: &B::Device,
    ) -> Option<Self> {
        let padding = (real < batch).then(|| {
            let padding: Vec<bool> = (0..batch).map(|i| i >= real).collect();
            Tensor::from_data(TensorData::new(padding, [batch]), device)
        });
        let weights =
            weights.map(|w| Tensor::from_data(TensorData::new(w.to_vec(), [batch]), device));
        (padding.is_some() || weights.is_some()).then_some(Counted {
            padding,
            weights,
            real,
        })
    }

    /// The sums of `each`'s columns (`[batch, k]`, a row per example) over the examples
    /// that count (the padding's values replaced by 0, not multiplied by it: an infinite
    /// one stays out), unweighted (weighed first for the loss and `weighted_metrics`): `[k]`.
    pub(crate) fn sum_rows(&self, each: Tensor<B, 2>) -> Tensor<B, 1> {
        let each = match &self.padding {
            Some(padding) => {
                let mask = padding.clone().unsqueeze_dim::<2>(1).expand(each.dims());
                each.mask_fill(mask, 0.0)
            }
            None => each,
        };
        each.sum_dim(0).squeeze_dim(0)
    }

    /// `each`'s rows (`[batch, k]`, a row per example) times their examples' weights.
    pub(crate) fn weigh_rows(&self, each: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.weights {
            Some(w) => each * w.clone().unsqueeze_dim(1),
            None => each,
        }
    }

    /// The loss's mean: `Σ wᵢ·eachᵢ` over the examples that count, divided by their
    /// number (Keras's `sum_over_batch_size`).
    pub(crate) fn mean(&self, each: Tensor<B, 1>) -> Tensor<B, 1> {
        let each = self.weigh_rows(each.unsqueeze_dim(1));
        self.sum_rows(each).div_scalar(self.real.max(1) as f64)
    }
}

/// A model's output for a batch, as `[batch, width]` rows: the values before the last
/// activation and that activation.
#[derive(Clone, Debug)]
pub struct Output<B: Backend> {
    /// The rows before the last activation.
    pub logits: Tensor<B, 2>,
    /// The last activation.
    pub activation: Activation,
}

impl<B: Backend> Output<B> {
    /// The model's output: the activation applied.
    pub fn activated(&self) -> Tensor<B, 2> {
        activation::apply(self.activation, self.logits.clone())
    }

    /// Whether the rows before the activation can be read as logits of a softmax
    /// (a softmax, or no activation, at the end).
    fn softmax_logits(&self) -> bool {
        matches!(self.activation, Activation::Softmax | Activation::Linear)
    }

    /// Rows whose order is the output's: the logits when the last activation keeps their
    /// order (softmax, sigmoid, none), so ranking them (accuracies) skips the activation.
    pub(crate) fn ranked(&self) -> Tensor<B, 2> {
        match self.activation {
            Activation::Softmax | Activation::Sigmoid | Activation::Linear => self.logits.clone(),
            _ => self.activated(),
        }
    }

    /// The same for a sigmoid.
    fn sigmoid_logits(&self) -> bool {
        matches!(self.activation, Activation::Sigmoid | Activation::Linear)
    }

    /// The output width.
    pub fn width(&self) -> usize {
        self.logits.dims()[1]
    }
}

/// A loss, named as in Keras (`loss="categorical_crossentropy"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// `mean((y - ŷ)²)`.
    MeanSquaredError,
    /// `sqrt(mean((y - ŷ)²))` over the batch.
    RootMeanSquaredError,
    /// `mean(|y - ŷ|)`.
    MeanAbsoluteError,
    /// `100 · mean(|y - ŷ| / max(|y|, ε))`.
    MeanAbsolutePercentageError,
    /// `mean((ln(1 + ŷ) - ln(1 + y))²)`, both clipped at ε.
    MeanSquaredLogarithmicError,
    /// `mean(max(1 - y·ŷ, 0))`, with 0/1 targets read as -1/1.
    Hinge,
    /// `mean(max(1 - y·ŷ, 0)²)`, with 0/1 targets read as -1/1.
    SquaredHinge,
    /// `-mean(y·ln p + (1 - y)·ln(1 - p))`.
    BinaryCrossentropy,
    /// `-sum(y · ln p)` with one-hot (or class-index) targets.
    CategoricalCrossentropy,
    /// `-ln p[label]` with class-index targets.
    SparseCategoricalCrossentropy,
    /// Keras's `Huber`: `½·e²` for an error `|e| ≤ delta`, else `delta·|e| - ½·delta²`,
    /// averaged ([`Loss::HUBER`]: `delta` 1).
    Huber {
        /// Where the square turns linear (positive).
        delta: f32,
    },
    /// `mean(ln cosh(ŷ - y))`, computed as `x + softplus(-2x) - ln 2`.
    LogCosh,
    /// Keras's `kl_divergence`: `Σ y·ln(y / ŷ)`, both clipped to [ε, 1].
    KlDivergence,
    /// `mean(ŷ - y·ln(ŷ + ε))`.
    Poisson,
    /// Keras's `cosine_similarity`: `-Σ ŷ/‖ŷ‖ · y/‖y‖` (each norm at least ε), -1 when
    /// output and target point the same way.
    CosineSimilarity,
    /// `max(max((1 - y)·ŷ) - Σ y·ŷ + 1, 0)`, targets as they are.
    CategoricalHinge,
    /// Keras's `BinaryFocalCrossentropy`: each output's binary cross-entropy times
    /// `(1 - p_t)^gamma`, `p_t` the probability of its target, averaged
    /// ([`Loss::BINARY_FOCAL_CROSSENTROPY`]: `gamma` 2, no class balancing).
    BinaryFocalCrossentropy {
        /// How much the well-classified outputs are discounted (at least 0; 0 is the
        /// binary cross-entropy).
        gamma: f32,
    },
    /// Keras's `CategoricalFocalCrossentropy`: `Σ -alpha·(1 - p)^gamma · y·ln p` over the
    /// classes ([`Loss::CATEGORICAL_FOCAL_CROSSENTROPY`]: `alpha` 0.25, `gamma` 2).
    CategoricalFocalCrossentropy {
        /// The weight of every class (at least 0).
        alpha: f32,
        /// How much the well-classified classes are discounted (at least 0).
        gamma: f32,
    },
}

impl Loss {
    /// Keras's `Huber()`: `delta` 1.
    pub const HUBER: Loss = Loss::Huber { delta: 1.0 };
    /// Keras's `BinaryFocalCrossentropy()`: `gamma` 2.
    pub const BINARY_FOCAL_CROSSENTROPY: Loss = Loss::BinaryFocalCrossentropy { gamma: 2.0 };
    /// Keras's `CategoricalFocalCrossentropy()`: `alpha` 0.25, `gamma` 2.
    pub const CATEGORICAL_FOCAL_CROSSENTROPY: Loss = Loss::CategoricalFocalCrossentropy {
        alpha: 0.25,
        gamma: 2.0,
    };

    /// Every loss (with Keras's default settings).
    pub const ALL: [Loss; 18] = [
        Loss::MeanSquaredError,
        Loss::RootMeanSquaredError,
        Loss::MeanAbsoluteError,
        Loss::MeanAbsolutePercentageError,
        Loss::MeanSquaredLogarithmicError,
        Loss::Hinge,
        Loss::SquaredHinge,
        Loss::BinaryCrossentropy,
        Loss::CategoricalCrossentropy,
        Loss::SparseCategoricalCrossentropy,
        Loss::HUBER,
        Loss::LogCosh,
        Loss::KlDivergence,
        Loss::Poisson,
        Loss::CosineSimilarity,
        Loss::CategoricalHinge,
        Loss::BINARY_FOCAL_CROSSENTROPY,
        Loss::CATEGORICAL_FOCAL_CROSSENTROPY,
    ];

    /// The Keras name: `categorical_crossentropy`.
    pub const fn name(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::RootMeanSquaredError => "root_mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::MeanAbsolutePercentageError => "mean_absolute_percentage_error",
            Loss::MeanSquaredLogarithmicError => "mean_squared_logarithmic_error",
            Loss::Hinge => "hinge",
            Loss::SquaredHinge => "squared_hinge",
            Loss::BinaryCrossentropy => "binary_crossentropy",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::Huber { .. } => "huber",
            Loss::LogCosh => "log_cosh",
            Loss::KlDivergence => "kl_divergence",
            Loss::Poisson => "poisson",
            Loss::CosineSimilarity => "cosine_similarity",
            Loss::CategoricalHinge => "categorical_hinge",
            Loss::BinaryFocalCrossentropy { .. } => "binary_focal_crossentropy",
            Loss::CategoricalFocalCrossentropy { .. } => "categorical_focal_crossentropy",
        }
    }

    /// The loss with this Keras name, with Keras's default settings (or its short alias:
    /// `mse`, `mae`, `mape`, `msle`, `kld`, `logcosh`).
    pub fn from_name(name: &str) -> Option<Loss> {
        let name = match name {
            "mse" => "mean_squared_error",
            "rmse" => "root_mean_squared_error",
            "mae" => "mean_absolute_error",
            "mape" => "mean_absolute_percentage_error",
            "msle" => "mean_squared_logarithmic_error",
            "kld" | "kullback_leibler_divergence" => "kl_divergence",
            "logcosh" => "log_cosh",
            other => other,
        };
        Loss::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether the loss needs class indices (sparse categorical cross-entropy).
    pub fn needs_classes(self) -> bool {
        self == Loss::SparseCategoricalCrossentropy
    }

    /// The loss of a batch, averaged over its examples: one value.
    pub fn batch<B: Backend>(self, output: &Output<B>, target: &Target<B>) -> Tensor<B, 1> {
        Objective::from(self).batch(output, target)
    }

    /// Whether Keras's `label_smoothing` applies: the cross-entropies, focal or not.
    pub fn smooths_labels(self) -> bool {
        matches!(
            self,
            Loss::BinaryCrossentropy
                | Loss::CategoricalCrossentropy
                | Loss::SparseCategoricalCrossentropy
                | Loss::BinaryFocalCrossentropy { .. }
                | Loss::CategoricalFocalCrossentropy { .. }
        )
    }

    /// Why this loss's settings cannot apply, if they cannot: a `delta` that is not
    /// positive, an `alpha` or `gamma` below 0, or any of them not finite.
    pub fn check(self) -> Result<(), String> {
        let (name, value, least) = match self {
            Loss::Huber { delta } if !(delta.is_finite() && delta > 0.0) => {
                ("delta", delta, "positive")
            }
            Loss::BinaryFocalCrossentropy { gamma }
            | Loss::CategoricalFocalCrossentropy { gamma, .. }
                if !(gamma.is_finite() && gamma >= 0.0) =>
            {
                ("gamma", gamma, "at least 0")
            }
            Loss::CategoricalFocalCrossentropy { alpha, .. }
                if !(alpha.is_finite() && alpha >= 0.0) =>
            {
                ("alpha", alpha, "at least 0")
            }
            _ => return Ok(()),
        };
        Err(format!(
            "{self}'s {name} must be finite and {least}, got {value}"
        ))
    }

    /// The loss of each example, `[batch]` (for the root mean squared error, its mean
    /// squared error: the root is taken over a batch, in [`Objective::counted`]), its
    /// targets smoothed by `smoothing` (Keras's `label_smoothing`, for the
    /// cross-entropies).
    pub(crate) fn per_example<B: Backend>(
        self,
        output: &Output<B>,
        target: &Target<B>,
        smoothing: f32,
    ) -> Tensor<B, 1> {
        let width = output.width();
        let rows = |t: Tensor<B, 2>| t.mean_dim(1).squeeze_dim(1);
        let (p, y) = (|| output.activated(), || target.dense(width));
        match self {
            Loss::SparseCategoricalCrossentropy | Loss::CategoricalCrossentropy => {
                categorical_crossentropy(output, target, smoothing)
            }
            Loss::BinaryCrossentropy => {
                rows(binary_crossentropy(output, smoothed(y(), 2, smoothing)).0)
            }
            Loss::BinaryFocalCrossentropy { gamma } => {
                rows(binary_focal(output, smoothed(y(), 2, smoothing), gamma))
            }
            Loss::CategoricalFocalCrossentropy { alpha, gamma } => {
                categorical_focal(output, smoothed(y(), width, smoothing), alpha, gamma)
            }
            // The root is taken over the batch, in `counted`.
            Loss::MeanSquaredError | Loss::RootMeanSquaredError => rows((p() - y()).square()),
            Loss::MeanAbsoluteError => rows((p() - y()).abs()),
            Loss::MeanAbsolutePercentageError => {
                let y = y();
                let denominator = y.clone().abs().clamp_min(EPSILON);
                rows((p() - y).abs() / denominator).mul_scalar(100.0)
            }
            Loss::MeanSquaredLogarithmicError => {
                let log = |t: Tensor<B, 2>| t.clamp_min(EPSILON).add_scalar(1.0).log();
                rows((log(p()) - log(y())).square())
            }
            Loss::Hinge | Loss::SquaredHinge => {
                let margin = (signed(y()) * p()).neg().add_scalar(1.0).clamp_min(0.0);
                match self {
                    Loss::Hinge => rows(margin),
                    _ => rows(margin.square()),
                }
            }
            Loss::Huber { delta } => rows(huber(p() - y(), delta)),
            Loss::LogCosh => {
                let x = p() - y();
                rows(x.clone() + softplus(x.mul_scalar(-2.0)) - 2f32.ln())
            }
            Loss::KlDivergence => {
                let (y, p) = (y().clamp(EPSILON, 1.0), p().clamp(EPSILON, 1.0));
                (y.clone() * (y.log() - p.log())).sum_dim(1).squeeze_dim(1)
            }
            Loss::Poisson => rows(p() - y() * p().add_scalar(EPSILON).log()),
            Loss::CosineSimilarity => (unit(p()) * unit(y())).sum_dim(1).squeeze_dim(1).neg(),
            Loss::CategoricalHinge => {
                let (y, p) = (y(), p());
                let positive = (y.clone() * p.clone()).sum_dim(1);
                let negative = (y.neg().add_scalar(1.0) * p).max_dim(1);
                let margin = (negative - positive).add_scalar(1.0);
                margin.clamp_min(0.0).squeeze_dim(1)
            }
        }
    }
}

/// Keras's Huber loss of each error: `½·e²` up to `delta`, linear beyond.
fn huber<B: Backend>(error: Tensor<B, 2>, delta: f32) -> Tensor<B, 2> {
    let size = error.clone().abs();
    let linear = size
        .clone()
        .mul_scalar(delta)
        .sub_scalar(0.5 * delta * delta);
    let quadratic = error.square().mul_scalar(0.5);
    quadratic.mask_where(size.greater_elem(delta), linear)
}

/// Each row over its norm, the norm at least ε (its square at least ε², so that a row of
/// zeros has a finite slope), as Keras's `normalize`.
fn unit<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let squares = x.clone().square().sum_dim(1);
    x / squares.clamp_min(EPSILON * EPSILON).sqrt()
}

/// Each output's binary focal cross-entropy against `y`: its cross-entropy times
/// `(1 - p_t)^gamma`, `p_t = y·p + (1 - y)·(1 - p)` the probability of its target.
fn binary_focal<B: Backend>(output: &Output<B>, y: Tensor<B, 2>, gamma: f32) -> Tensor<B, 2> {
    let (bce, p) = binary_crossentropy(output, y.clone());
    let p_t = y.clone() * p.clone() + y.neg().add_scalar(1.0) * p.neg().add_scalar(1.0);
    unlikely(p_t, gamma) * bce
}

/// Each example's categorical focal cross-entropy against `y`, `[batch]`.
fn categorical_focal<B: Backend>(
    output: &Output<B>,
    y: Tensor<B, 2>,
    alpha: f32,
    gamma: f32,
) -> Tensor<B, 1> {
    let log_p = log_probabilities(output);
    let factor = unlikely(log_p.clone().exp(), gamma).mul_scalar(alpha);
    (factor * y * log_p).sum_dim(1).squeeze_dim(1).neg()
}

/// Keras's hinge targets: when every target is 0 or 1 they become -1 or 1, else they
/// stay; decided on the device, without a round trip.
fn signed<B: Backend>(y: Tensor<B, 2>) -> Tensor<B, 2> {
    let binary = y
        .clone()
        .equal_elem(0.0)
        .bool_or(y.clone().equal_elem(1.0))
        .all()
        .float()
        .unsqueeze_dim::<2>(1);
    // binary · (2y - 1) + (1 - binary) · y = y + binary · (y - 1)
    y.clone() + (y.sub_scalar(1.0) * binary)
}

/// Keras's smoothed targets: `y·(1 - ε) + ε/K` over K classes (K = 2 for binary
/// cross-entropy's outputs, each a class of its own).
fn smoothed<B: Backend>(y: Tensor<B, 2>, classes: usize, smoothing: f32) -> Tensor<B, 2> {
    match smoothing {
        0.0 => y,
        e => y.mul_scalar(1.0 - e).add_scalar(e / classes as f32),
    }
}

/// Each output's binary cross-entropy against `y`, `[batch, width]`, from the logits
/// when the model ends in a sigmoid (or nothing), and its probability.
fn binary_crossentropy<B: Backend>(
    output: &Output<B>,
    y: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    if output.sigmoid_logits() {
        // -[y·ln σ(z) + (1-y)·ln σ(-z)] = softplus(z) - y·z, computed stably.
        let z = output.logits.clone();
        let p = activation::apply(Activation::Sigmoid, z.clone());
        (softplus(z.clone()) - y * z, p)
    } else {
        let p = output.activated();
        let clipped = p.clone().clamp(EPSILON, 1.0 - EPSILON);
        let one = clipped.ones_like();
        let bce = y.clone() * clipped.clone().log() + (one.clone() - y) * (one - clipped).log();
        (bce.neg(), p)
    }
}

/// `ln(1 + eᶻ)` without overflow: `z` itself above 20, where the two agree in f32
/// (PyTorch's threshold), with the slope `σ(z)` below and 1 above.
fn softplus<B: Backend, const D: usize>(z: Tensor<B, D>) -> Tensor<B, D> {
    let soft = z.clone().clamp_max(20.0).exp().log1p();
    soft.mask_where(z.clone().greater_elem(20.0), z)
}

/// The focal loss's factor `(1 - p)^gamma` for outputs of probability `p` of their target,
/// `1 - p` kept at least ε so that its slope stays finite for a `gamma` below 1.
fn unlikely<B: Backend>(p: Tensor<B, 2>, gamma: f32) -> Tensor<B, 2> {
    p.neg()
        .add_scalar(1.0)
        .clamp_min(EPSILON)
        .powf_scalar(gamma)
}

/// The log-probabilities of each class, `[batch, width]`: of the softmax of the logits
/// when the model ends in a softmax (or nothing), else of the output normalized to sum to
/// 1 and clipped, as Keras does.
fn log_probabilities<B: Backend>(output: &Output<B>) -> Tensor<B, 2> {
    if output.softmax_logits() {
        log_softmax(output.logits.clone(), 1)
    } else {
        let p = output.activated();
        let p = p.clone() / p.sum_dim(1);
        p.clamp(EPSILON, 1.0 - EPSILON).log()
    }
}

/// Categorical cross-entropy of each example, `[batch]`, its targets smoothed by
/// `smoothing`.
fn categorical_crossentropy<B: Backend>(
    output: &Output<B>,
    target: &Target<B>,
    smoothing: f32,
) -> Tensor<B, 1> {
    let width = output.width();
    let log_p = log_probabilities(output);
    match target {
        // The true class's log-probability, picked rather than summed over a one-hot
        // row: the same value in fewer operations; smoothed, the mean log-probability's
        // share added.
        Target::Classes(c, _) if width > 1 => {
            let picked = log_p.clone().gather(1, c.clone().unsqueeze_dim(1));
            let picked = match smoothing {
                0.0 => picked,
                e => picked.mul_scalar(1.0 - e) + log_p.mean_dim(1).mul_scalar(e),
            };
            picked.squeeze_dim(1).neg()
        }
        _ => (smoothed(target.dense(width), width, smoothing) * log_p)
            .sum_dim(1)
            .squeeze_dim(1)
            .neg(),
    }
}

/// A loss as the trainer computes it: the loss, and Keras's `label_smoothing` of the
/// targets of the cross-entropies (0: none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Objective {
    pub loss: Loss,
    pub label_smoothing: f32,
}

impl From<Loss> for Objective {
    fn from(loss: Loss) -> Self {
        Objective {
            loss,
            label_smoothing: 0.0,
        }
    }
}

impl Objective {
    /// The loss of a batch, averaged over its examples: one value.
    pub fn batch<B: Backend>(self, output: &Output<B>, target: &Target<B>) -> Tensor<B, 1> {
        self.counted(output, target, None)
    }

    /// The loss averaged over the examples that count (all, or `counted`'s first ones),
    /// computed on every row of the batch so that its kernels keep the batch's shape.
    pub fn counted<B: Backend>(
        self,
        output: &Output<B>,
        target: &Target<B>,
        counted: Option<&Counted<B>>,
    ) -> Tensor<B, 1> {
        let each = (self.loss).per_example(output, target, self.label_smoothing);
        let mean = match counted {
            Some(counted) => counted.mean(each),
            None => each.mean(),
        };
        match self.loss {
            // The root of the mean over every value of the batch: of the rows' means,
            // since every row has the output's width. Clamped off 0, where the root's
            // slope is infinite (and times a weight of 0, NaN).
            Loss::RootMeanSquaredError => mean.clamp_min(f32::MIN_POSITIVE).sqrt(),
            _ => mean,
        }
    }

    /// Why this loss cannot apply, if it cannot: its settings ([`Loss::check`]), or a label
    /// smoothing outside [0, 1] or with a loss other than a cross-entropy.
    pub fn check(self) -> Result<(), String> {
        self.loss.check()?;
        let e = self.label_smoothing;
        if !(0.0..=1.0).contains(&e) {
            return Err(format!("label smoothing must be in [0, 1], got {e}"));
        }
        if e > 0.0 && !self.loss.smooths_labels() {
            return Err(format!(
                "label smoothing applies to the cross-entropies, not to {}",
                self.loss
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestBackend as B;

    fn rows(v: &[&[f32]]) -> Tensor<B, 2> {
        let width = v[0].len();
        let flat: Vec<f32> = v.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::<B, 1>::from_floats(flat.as_slice(), &Default::default()).reshape([v.len(), width])
    }

    fn classes(c: &[i64], n: usize) -> Target<B> {
        Target::Classes(
            Tensor::from_data(
                burn::tensor::TensorData::new(c.to_vec(), [c.len()]),
                &Default::default(),
            ),
            n,
        )
    }

    fn out(logits: &[&[f32]], activation: Activation) -> Output<B> {
        Output {
            logits: rows(logits),
            activation,
        }
    }

    fn value(loss: Loss, output: &Output<B>, target: &Target<B>) -> f32 {
        loss.batch(output, target).into_scalar()
    }

    #[test]
    fn padding_rows_are_left_out_of_every_loss() {
        // Three rows, the last a padding row of wild values: each loss over the first two,
        // computed on all three, is the loss of the first two alone.
        let logits: [&[f32]; 3] = [&[0.3, -1.2, 0.8], &[1.5, 0.1, -0.4], &[40.0, -9.0, 7.0]];
        let targets: [&[f32]; 3] = [&[0.0, 1.0, 0.0], &[1.0, 0.0, 0.0], &[0.0, 0.0, 1.0]];
        let device = Default::default();
        let counted = Counted::new(2, 3, None, &device).unwrap();
        for activation in [Activation::Softmax, Activation::Sigmoid, Activation::Relu] {
            for loss in Loss::ALL {
                let all = Objective::from(loss).counted(
                    &out(&logits, activation),
                    &Target::Values(rows(&targets)),
                    Some(&counted),
                );
                let two = loss.batch(
                    &out(&logits[..2], activation),
                    &Target::Values(rows(&targets[..2])),
                );
                let (all, two) = (all.into_scalar(), two.into_scalar());
                assert!(
                    (all - two).abs() < 1e-5,
                    "{loss} after {activation:?}: {all} against {two}"
                );
            }
        }
    }

    #[test]
    fn an_infinite_padding_value_stays_out_of_the_sum() {
        let each = Tensor::<B, 1>::from_floats([1.0, 2.0, f32::INFINITY], &Default::default());
        let counted = Counted::new(2, 3, None, &Default::default()).unwrap();
        assert_eq!(
            counted
                .sum_rows(each.clone().unsqueeze_dim(1))
                .into_scalar(),
            3.0
        );
        assert_eq!(counted.mean(each).into_scalar(), 1.5);
    }

    #[test]
    fn weights_multiply_each_example_in_the_loss_not_in_the_metric_sums() {
        let device = Default::default();
        let each = Tensor::<B, 1>::from_floats([1.0, 2.0, f32::INFINITY], &device);
        let counted = Counted::new(2, 3, Some(&[2.0, 0.5, 3.0]), &device).unwrap();
        assert_eq!(
            counted
                .sum_rows(each.clone().unsqueeze_dim(1))
                .into_scalar(),
            3.0
        );
        assert_eq!(counted.mean(each).into_scalar(), 1.5); // (2·1 + 0.5·2) / 2
        // Keras's sum_over_batch_size: squared errors 0.25 and 4 weighing 2 and 0 make
        // (2·0.25 + 0·4) / 2, whose root is 0.5.
        let output = out(&[&[0.5], &[2.0]], Activation::Linear);
        let target = Target::Values(rows(&[&[0.0], &[0.0]]));
        let counted = Counted::new(2, 2, Some(&[2.0, 0.0]), &device);
        let value = |loss: Loss| {
            Objective::from(loss)
                .counted(&output, &target, counted.as_ref())
                .into_scalar()
        };
        assert_eq!(value(Loss::MeanSquaredError), 0.25);
        assert_eq!(value(Loss::RootMeanSquaredError), 0.5);
        assert_eq!(value(Loss::MeanAbsoluteError), 0.5);
    }

    #[test]
    fn values_match_keras_definitions() {
        // Expected values: Keras's formulas (keras.losses, Keras 3) worked by hand, with
        // the numbers in each comment.
        let values = |y: &[&[f32]]| Target::Values(rows(y));
        let cases: Vec<(Loss, Output<B>, Target<B>, f32)> = vec![
            // ((0 - 0.5)² + (1 - 0.5)²) / 2
            (
                Loss::MeanSquaredError,
                out(&[&[0.5, 0.5]], Activation::Linear),
                values(&[&[0.0, 1.0]]),
                0.25,
            ),
            // sqrt(mean(1, 1, 9, 9))
            (
                Loss::RootMeanSquaredError,
                out(&[&[1.0, 1.0], &[3.0, 3.0]], Activation::Linear),
                values(&[&[0.0, 0.0], &[0.0, 0.0]]),
                5f32.sqrt(),
            ),
            // (|2 - 1| + |-4 + 2|) / 2
            (
                Loss::MeanAbsoluteError,
                out(&[&[1.0, -2.0]], Activation::Linear),
                values(&[&[2.0, -4.0]]),
                1.5,
            ),
            // 100 · (1/2 + 2/4) / 2
            (
                Loss::MeanAbsolutePercentageError,
                out(&[&[1.0, -2.0]], Activation::Linear),
                values(&[&[2.0, -4.0]]),
                50.0,
            ),
            // (ln 4 - ln 2)²
            (
                Loss::MeanSquaredLogarithmicError,
                out(&[&[3.0]], Activation::Linear),
                values(&[&[1.0]]),
                2f32.ln().powi(2),
            ),
            // 0/1 targets read as -1/1: (max(1 + 0.3, 0) + max(1 - 0.4, 0)) / 2
            (
                Loss::Hinge,
                out(&[&[0.3, 0.4]], Activation::Linear),
                values(&[&[0.0, 1.0]]),
                0.95,
            ),
            // (1.3² + 0.6²) / 2
            (
                Loss::SquaredHinge,
                out(&[&[0.3, 0.4]], Activation::Linear),
                values(&[&[0.0, 1.0]]),
                1.025,
            ),
            // -1/1 targets stay: max(1 - (-1)(-0.5), 0)
            (
                Loss::Hinge,
                out(&[&[-0.5]], Activation::Linear),
                values(&[&[-1.0]]),
                0.5,
            ),
            // logsumexp(1, 2, 3) - 3
            (
                Loss::CategoricalCrossentropy,
                out(&[&[1.0, 2.0, 3.0]], Activation::Softmax),
                classes(&[2], 3),
                0.407_605_96,
            ),
            (
                Loss::SparseCategoricalCrossentropy,
                out(&[&[1.0, 2.0, 3.0]], Activation::Softmax),
                classes(&[2], 3),
                0.407_605_96,
            ),
            (
                Loss::CategoricalCrossentropy,
                out(&[&[1.0, 2.0, 3.0]], Activation::Softmax),
                values(&[&[0.0, 0.0, 1.0]]),
                0.407_605_96,
            ),
            // (ln 2 + softplus(2)) / 2, from sigmoid logits 0 and 2 with targets 1 and 0
            (
                Loss::BinaryCrossentropy,
                out(&[&[0.0], &[2.0]], Activation::Sigmoid),
                classes(&[1, 0], 2),
                (2f32.ln() + 2.126_928) / 2.0,
            ),
            // an output that is not a sigmoid is a probability: -ln 0.8
            (
                Loss::BinaryCrossentropy,
                out(&[&[0.8]], Activation::Relu),
                values(&[&[1.0]]),
                0.223_143_55,
            ),
        ];
        for (loss, output, target, want) in cases {
            let got = value(loss, &output, &target);
            assert!((got - want).abs() < 1e-5, "{loss}: got {got}, want {want}");
        }
    }

    /// The losses Keras 3.15 computes on the same values (`keras.losses`, TensorFlow
    /// backend, printed to 8 digits), the smoothed ones through `Objective`.
    #[test]
    fn the_other_keras_losses_match_keras() {
        let values = |y: &[&[f32]]| Target::Values(rows(y));
        let (one_hot, p): ([&[f32]; 2], [&[f32]; 2]) = (
            [&[0.0, 1.0, 0.0], &[1.0, 0.0, 0.0]],
            [&[0.2, 0.7, 0.1], &[0.5, 0.3, 0.2]],
        );
        let (y, x): ([&[f32]; 2], [&[f32]; 2]) =
            ([&[1.5, -2.0], &[0.3, 4.0]], [&[0.5, 1.0], &[0.1, 0.2]]);
        let (labels, probabilities): ([&[f32]; 3], [&[f32]; 3]) =
            ([&[1.0], &[0.0], &[1.0]], [&[0.9], &[0.4], &[0.2]]);
        let logits: [&[f32]; 2] = [&[1.0, 2.0, 3.0], &[0.5, -1.0, 0.0]];
        let softened: Vec<Vec<f32>> = one_hot
            .iter()
            .map(|r| r.iter().map(|v| v * 0.8 + 0.1).collect())
            .collect();
        let softened: Vec<&[f32]> = softened.iter().map(Vec::as_slice).collect();
        let linear = |v: &[&[f32]]| out(v, Activation::Linear);
        // Outputs read as probabilities: a last activation that is neither a sigmoid, a
        // softmax nor none (a ReLU of positive values).
        let probability = |v: &[&[f32]]| out(v, Activation::Relu);
        let cases: Vec<(Objective, Output<B>, Target<B>, f32)> = vec![
            (Loss::HUBER.into(), linear(&x), values(&y), 1.58),
            (
                Loss::Huber { delta: 2.0 }.into(),
                linear(&x),
                values(&y),
                2.53,
            ),
            (Loss::LogCosh.into(), linear(&x), values(&y), 1.467_582_7),
            (
                Loss::KlDivergence.into(),
                probability(&p),
                values(&softened),
                0.253_350_26,
            ),
            (
                Loss::Poisson.into(),
                linear(&[&[0.5, 1.0], &[0.1, 0.2]]),
                values(&[&[1.5, 2.0], &[0.3, 4.0]]),
                2.492_061_1,
            ),
            (
                Loss::CosineSimilarity.into(),
                linear(&x),
                values(&y),
                -0.239_077_79,
            ),
            (
                Loss::CategoricalHinge.into(),
                probability(&p),
                values(&one_hot),
                0.65,
            ),
            (
                Loss::BINARY_FOCAL_CROSSENTROPY.into(),
                probability(&probabilities),
                values(&labels),
                0.370_942_03,
            ),
            (
                Loss::BinaryFocalCrossentropy { gamma: 1.0 }.into(),
                probability(&probabilities),
                values(&labels),
                0.500_805_56,
            ),
            (
                Loss::BINARY_FOCAL_CROSSENTROPY.into(),
                out(&logits, Activation::Sigmoid),
                values(&one_hot),
                0.622_245_2,
            ),
            (
                Loss::CATEGORICAL_FOCAL_CROSSENTROPY.into(),
                probability(&p),
                values(&one_hot),
                0.025_673_443,
            ),
            (
                Loss::CATEGORICAL_FOCAL_CROSSENTROPY.into(),
                out(&logits, Activation::Softmax),
                values(&one_hot),
                0.115_895_94,
            ),
            (
                Loss::CategoricalFocalCrossentropy {
                    alpha: 1.0,
                    gamma: 0.0,
                }
                .into(),
                probability(&p),
                values(&one_hot),
                0.524_911_05,
            ),
            (
                Objective {
                    loss: Loss::CATEGORICAL_FOCAL_CROSSENTROPY,
                    label_smoothing: 0.1,
                },
                probability(&p),
                values(&one_hot),
                0.042_774_886,
            ),
            (
                Objective {
                    loss: Loss::BINARY_FOCAL_CROSSENTROPY,
                    label_smoothing: 0.1,
                },
                probability(&probabilities),
                values(&labels),
                0.335_545_03,
            ),
        ];
        for (objective, output, target, want) in cases {
            let got = objective.batch(&output, &target).into_scalar();
            assert!(
                (got - want).abs() < 2e-6,
                "{objective:?}: got {got}, want {want}"
            );
        }
        // Class targets read as one-hot rows.
        let sparse =
            Loss::CATEGORICAL_FOCAL_CROSSENTROPY.batch(&probability(&p), &classes(&[1, 0], 3));
        assert!((sparse.into_scalar() - 0.025_673_443).abs() < 2e-6);
        // A focal loss keeps a finite slope where an output is certain, for any gamma.
        let certain = Loss::BinaryFocalCrossentropy { gamma: 0.5 }
            .batch(&out(&[&[40.0]], Activation::Sigmoid), &values(&[&[1.0]]));
        assert!(certain.into_scalar().is_finite());
    }

    /// Every loss has a finite slope that lowers it: a small step of the logits against
    /// it (scaled to 0.01 at most) makes each smaller.
    #[test]
    fn every_loss_falls_along_its_slope() {
        use crate::testing::TestAutodiff as A;
        let device = Default::default();
        let logits: [[f32; 3]; 2] = [[0.3, -1.2, 0.8], [1.5, 0.1, -0.4]];
        let one_hot = rows(&[&[0.0, 1.0, 0.0], &[1.0, 0.0, 0.0]]);
        let value = |loss: Loss, logits: Tensor<B, 2>| {
            let output = Output {
                logits,
                activation: Activation::Softmax,
            };
            loss.batch(&output, &Target::Values(one_hot.clone()))
                .into_scalar()
        };
        for loss in Loss::ALL {
            let z = Tensor::<A, 2>::from_floats(logits, &device).require_grad();
            let output = Output {
                logits: z.clone(),
                activation: Activation::Softmax,
            };
            let target = Target::Values(Tensor::from_inner(one_hot.clone()));
            let slope = z.grad(&loss.batch(&output, &target).backward()).unwrap();
            let largest = slope.clone().abs().max().into_scalar();
            assert!(
                largest.is_finite() && largest > 0.0,
                "{loss}: slope {largest}"
            );
            let before = value(loss, z.clone().inner());
            let after = value(loss, z.inner() - slope.div_scalar(largest).mul_scalar(0.01));
            assert!(after < before, "{loss}: {before} then {after}");
        }
    }

    #[test]
    fn loss_settings_out_of_range_are_refused() {
        for (loss, message) in [
            (
                Loss::Huber { delta: 0.0 },
                "huber's delta must be finite and positive, got 0",
            ),
            (
                Loss::Huber { delta: f32::NAN },
                "huber's delta must be finite and positive, got NaN",
            ),
            (
                Loss::BinaryFocalCrossentropy { gamma: -1.0 },
                "binary_focal_crossentropy's gamma must be finite and at least 0, got -1",
            ),
            (
                Loss::CategoricalFocalCrossentropy {
                    alpha: -0.5,
                    gamma: 2.0,
                },
                "categorical_focal_crossentropy's alpha must be finite and at least 0, got -0.5",
            ),
            (
                Loss::CategoricalFocalCrossentropy {
                    alpha: 0.25,
                    gamma: f32::INFINITY,
                },
                "categorical_focal_crossentropy's gamma must be finite and at least 0, got inf",
            ),
        ] {
            assert_eq!(
                Objective::from(loss).check().err().as_deref(),
                Some(message)
            );
        }
        let smoothed = Objective {
            loss: Loss::Poisson,
            label_smoothing: 0.1,
        };
        assert_eq!(
            smoothed.check().unwrap_err(),
            "label smoothing applies to the cross-entropies, not to poisson"
        );
        assert_eq!(Loss::from_name("kld"), Some(Loss::KlDivergence));
        assert_eq!(Loss::from_name("huber"), Some(Loss::HUBER));
    }

    /// Far from 0 the losses built on `ln(1 + eᶻ)` stay finite, their slopes too: a
    /// log-cosh error of ±100 is `100 - ln 2` with slope ±1, and a binary cross-entropy
    /// of a logit ±1000 is 0 where it is right and 1000 where it is wrong.
    #[test]
    fn softplus_losses_stay_finite_far_from_zero() {
        use crate::testing::TestAutodiff as A;
        let device = Default::default();
        let slope_of = |loss: Loss, x: f32, y: f32, activation| {
            let z = Tensor::<A, 2>::from_floats([[x]], &device).require_grad();
            let output = Output {
                logits: z.clone(),
                activation,
            };
            let target = Target::Values(Tensor::from_floats([[y]], &device));
            let value = loss.batch(&output, &target);
            let slope = z.grad(&value.clone().backward()).unwrap().into_scalar();
            (value.into_scalar(), slope)
        };
        for (x, sign) in [(100.0, 1.0), (-100.0, -1.0)] {
            let (value, slope) = slope_of(Loss::LogCosh, x, 0.0, Activation::Linear);
            assert!(
                (value - (100.0 - 2f32.ln())).abs() < 1e-3 && slope == sign,
                "{x}: {value}, {slope}"
            );
        }
        for (z, y, want) in [
            (1000.0, 1.0, 0.0),
            (1000.0, 0.0, 1000.0),
            (-1000.0, 0.0, 0.0),
            (-1000.0, 1.0, 1000.0),
        ] {
            let (value, slope) = slope_of(Loss::BinaryCrossentropy, z, y, Activation::Sigmoid);
            assert!(
                (value - want).abs() < 1e-3 && slope.is_finite(),
                "{z} against {y}: {value}, {slope}"
            );
        }
        // At 0 the slope is σ(0) - y: -0.5 against a target of 1.
        assert_eq!(
            slope_of(Loss::BinaryCrossentropy, 0.0, 1.0, Activation::Sigmoid).1,
            -0.5
        );
    }

    #[test]
    fn cross_entropy_on_logits_stays_finite() {
        // Softmax of [1000, 0] rounds to [1, 0] in f32: log(softmax) would give -inf.
        let output = out(&[&[1000.0, 0.0]], Activation::Softmax);
        let got = value(Loss::CategoricalCrossentropy, &output, &classes(&[1], 2));
        assert!((got - 1000.0).abs() < 1e-2, "{got}");
        let output = out(&[&[-1000.0]], Activation::Sigmoid);
        let got = value(Loss::BinaryCrossentropy, &output, &classes(&[1], 2));
        assert!((got - 1000.0).abs() < 1e-2, "{got}");
    }

    #[test]
    fn names_round_trip() {
        for loss in Loss::ALL {
            assert_eq!(Loss::from_name(loss.name()), Some(loss));
        }
        assert_eq!(Loss::from_name("mse"), Some(Loss::MeanSquaredError));
        assert_eq!(Loss::from_name("nope"), None);
    }

    /// Keras's label smoothing, worked out by hand: `-Σ y'·ln p` with `y' = y·(1 - ε) +
    /// ε/K`, the same from class indices and from one-hot rows; binary cross-entropy's
    /// targets `y·(1 - ε) + ε/2`; and a smoothing that cannot apply is refused.
    #[test]
    fn label_smoothing_follows_keras() {
        let logits: [&[f32]; 2] = [&[0.3, -1.2, 0.8], &[1.5, 0.1, -0.4]];
        let labels = [2usize, 0];
        let e = 0.1f32;
        let by_hand: f64 = logits
            .iter()
            .zip(labels)
            .map(|(row, label)| {
                let total: f64 = row.iter().map(|&z| f64::from(z).exp()).sum();
                let log_p = row.iter().map(|&z| f64::from(z) - total.ln());
                let y = |k: usize| f64::from(if k == label { 1.0 - e } else { 0.0 } + e / 3.0);
                -log_p.enumerate().map(|(k, l)| y(k) * l).sum::<f64>()
            })
            .sum::<f64>()
            / 2.0;
        let smoothing = |loss| Objective {
            loss,
            label_smoothing: e,
        };
        let output = out(&logits, Activation::Softmax);
        let one_hot = Target::Values(rows(&[&[0.0, 0.0, 1.0], &[1.0, 0.0, 0.0]]));
        for (loss, target) in [
            (Loss::SparseCategoricalCrossentropy, classes(&[2, 0], 3)),
            (Loss::CategoricalCrossentropy, classes(&[2, 0], 3)),
            (Loss::CategoricalCrossentropy, one_hot),
        ] {
            let got = smoothing(loss).batch(&output, &target).into_scalar();
            assert!(
                (f64::from(got) - by_hand).abs() < 1e-5,
                "{loss}: {got} against {by_hand}"
            );
            let plain = loss.batch(&output, &target).into_scalar();
            assert!(
                (got - plain).abs() > 1e-3,
                "{loss}: the smoothing changed nothing"
            );
        }
        // Binary: one sigmoid output, target 1 read as 0.95 with ε = 0.1.
        let z = 0.7f64;
        let p = 1.0 / (1.0 + (-z).exp());
        let y = 1.0 - f64::from(e) / 2.0;
        let by_hand = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
        let got = smoothing(Loss::BinaryCrossentropy)
            .batch(
                &out(&[&[0.7]], Activation::Sigmoid),
                &Target::Values(rows(&[&[1.0]])),
            )
            .into_scalar();
        assert!(
            (f64::from(got) - by_hand).abs() < 1e-5,
            "{got} against {by_hand}"
        );

        assert_eq!(smoothing(Loss::CategoricalCrossentropy).check(), Ok(()));
        let refused = Objective {
            loss: Loss::CategoricalCrossentropy,
            label_smoothing: 1.5,
        };
        assert_eq!(
            refused.check(),
            Err("label smoothing must be in [0, 1], got 1.5".into())
        );
        assert_eq!(
            smoothing(Loss::MeanSquaredError).check(),
            Err("label smoothing applies to the cross-entropies, not to mean_squared_error".into())
        );
    }
}
