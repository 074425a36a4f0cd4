//! Losses, by their Keras names and definitions. Cross-entropies work on logits when the
//! model ends in softmax or sigmoid (or in no activation), never on the log of an
//! activated output.

use std::fmt;

use burn::tensor::activation::{log_softmax, softplus};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl Loss {
    /// Every loss.
    pub const ALL: [Loss; 10] = [
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
        }
    }

    /// The loss with this Keras name (or its short alias: `mse`, `mae`, `mape`, `msle`).
    pub fn from_name(name: &str) -> Option<Loss> {
        let name = match name {
            "mse" => "mean_squared_error",
            "rmse" => "root_mean_squared_error",
            "mae" => "mean_absolute_error",
            "mape" => "mean_absolute_percentage_error",
            "msle" => "mean_squared_logarithmic_error",
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

    /// Whether Keras's `label_smoothing` applies: the cross-entropies.
    pub fn smooths_labels(self) -> bool {
        matches!(
            self,
            Loss::BinaryCrossentropy
                | Loss::CategoricalCrossentropy
                | Loss::SparseCategoricalCrossentropy
        )
    }

    /// The loss of each example, `[batch]` (for the root mean squared error, its mean
    /// squared error: the root is taken over a batch, in [`Objective::counted`]), its
    /// targets smoothed by `smoothing` (Keras's `label_smoothing`, for the
    /// cross-entropies).
    fn per_example<B: Backend>(
        self,
        output: &Output<B>,
        target: &Target<B>,
        smoothing: f32,
    ) -> Tensor<B, 1> {
        let width = output.width();
        let rows = |t: Tensor<B, 2>| t.mean_dim(1).squeeze_dim(1);
        match self {
            Loss::SparseCategoricalCrossentropy | Loss::CategoricalCrossentropy => {
                categorical_crossentropy(output, target, smoothing)
            }
            Loss::BinaryCrossentropy => {
                let y = smoothed(target.dense(width), 2, smoothing);
                if output.sigmoid_logits() {
                    // -[y·ln σ(z) + (1-y)·ln σ(-z)] = softplus(z) - y·z, computed stably.
                    let z = output.logits.clone();
                    rows(softplus(z.clone(), 1.0) - y * z)
                } else {
                    let p = output.activated().clamp(EPSILON, 1.0 - EPSILON);
                    let one = p.ones_like();
                    rows((y.clone() * p.clone().log() + (one.clone() - y) * (one - p).log()).neg())
                }
            }
            // The root is taken over the batch, in `counted`.
            Loss::MeanSquaredError | Loss::RootMeanSquaredError => {
                rows((output.activated() - target.dense(width)).square())
            }
            Loss::MeanAbsoluteError => rows((output.activated() - target.dense(width)).abs()),
            Loss::MeanAbsolutePercentageError => {
                let y = target.dense(width);
                let denominator = y.clone().abs().clamp_min(EPSILON);
                rows((output.activated() - y).abs() / denominator).mul_scalar(100.0)
            }
            Loss::MeanSquaredLogarithmicError => {
                let y = target.dense(width).clamp_min(EPSILON).add_scalar(1.0).log();
                let p = output.activated().clamp_min(EPSILON).add_scalar(1.0).log();
                rows((p - y).square())
            }
            Loss::Hinge | Loss::SquaredHinge => {
                let y = signed(target.dense(width));
                let margin = (y * output.activated())
                    .neg()
                    .add_scalar(1.0)
                    .clamp_min(0.0);
                if self == Loss::Hinge {
                    rows(margin)
                } else {
                    rows(margin.square())
                }
            }
        }
    }
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

/// Categorical cross-entropy of each example, `[batch]`, its targets smoothed by
/// `smoothing`.
fn categorical_crossentropy<B: Backend>(
    output: &Output<B>,
    target: &Target<B>,
    smoothing: f32,
) -> Tensor<B, 1> {
    let width = output.width();
    let log_p = if output.softmax_logits() {
        log_softmax(output.logits.clone(), 1)
    } else {
        // An output that is not a softmax: normalize and clip as Keras does.
        let p = output.activated();
        let p = p.clone() / p.sum_dim(1);
        p.clamp(EPSILON, 1.0 - EPSILON).log()
    };
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

    /// Why this label smoothing cannot apply, if it cannot: outside [0, 1], or with a
    /// loss other than a cross-entropy.
    pub fn check(self) -> Result<(), String> {
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
