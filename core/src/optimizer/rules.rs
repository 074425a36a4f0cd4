//! Keras's optimizers that burn-optim does not have, or not with Keras's rule: Adagrad,
//! Adadelta, Adamax, Nadam and Lion, each update as Keras 3 writes it.

use burn::optim::SimpleOptimizer;
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::{Clip, Ema, LearningRate};

/// An optimizer's settings as Keras's: the learning rate (0.001 by default), the
/// gradient clipping, the moving average, its own settings (each an `f64` with its Keras
/// default and a setter) and Keras 2's time-based decay.
macro_rules! optimizer {
    ($(#[$doc:meta])* $ty:ident, $defaults:literal {
        $($(#[$field_doc:meta])* $field:ident = $default:expr),* $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $ty {
            pub(super) learning_rate: LearningRate,
            pub(super) clip: Clip,
            pub(super) ema: Ema,
            $($field: f64,)*
            pub(super) decay: f64,
        }

        impl $ty {
            #[doc = concat!("Keras's defaults: learning rate 0.001, ", $defaults, ".")]
            pub fn new() -> Self {
                $ty {
                    learning_rate: LearningRate::Constant(0.001),
                    clip: Clip::default(),
                    ema: Ema::default(),
                    $($field: $default,)*
                    decay: 0.0,
                }
            }
        }

        setters!($ty {
            $($(#[$field_doc])* $field: f64,)*
            /// Time-based decay of the learning rate.
            decay: f64,
        });
    };
}

optimizer! {
    /// Adagrad, as Keras's `Adagrad`: each weight's step is the rate over the root of the
    /// sum of its squared gradients (from `initial_accumulator_value`).
    Adagrad, "accumulators from 0.1, epsilon 1e-7" {
        /// Where the sums of squared gradients start (at least 0).
        initial_accumulator_value = 0.1,
        /// Added to the sum under the root (positive).
        epsilon = 1e-7,
    }
}

optimizer! {
    /// Adadelta, as Keras's `Adadelta`: steps scaled by the ratio of the moving roots of
    /// the past steps and of the gradients.
    Adadelta, "rho 0.95, epsilon 1e-7" {
        /// The decay of the moving averages, in [0, 1).
        rho = 0.95,
        /// Added under each root (positive).
        epsilon = 1e-7,
    }
}

optimizer! {
    /// Adamax, as Keras's `Adamax`: Adam with the infinity norm of the past gradients in
    /// place of the root of their squares.
    Adamax, "betas 0.9 and 0.999, epsilon 1e-7" {
        /// The decay of the first moment, in [0, 1).
        beta_1 = 0.9,
        /// The decay of the infinity norm, in [0, 1).
        beta_2 = 0.999,
        /// Added for numerical stability (positive).
        epsilon = 1e-7,
    }
}

optimizer! {
    /// Nadam, as Keras's `Nadam`: Adam with Nesterov momentum (and its momentum schedule).
    Nadam, "betas 0.9 and 0.999, epsilon 1e-7" {
        /// The decay of the first moment, in [0, 1).
        beta_1 = 0.9,
        /// The decay of the second moment, in [0, 1).
        beta_2 = 0.999,
        /// Added for numerical stability (positive).
        epsilon = 1e-7,
    }
}

optimizer! {
    /// Lion, as Keras's `Lion`: each step the rate times the sign of a blend of the
    /// gradient and its moving average.
    Lion, "betas 0.9 and 0.99" {
        /// The blend of the moving average and the gradient whose sign is the step, in
        /// (0, 1].
        beta_1 = 0.9,
        /// The decay of the moving average, in [0, 1).
        beta_2 = 0.99,
    }
}

impl Adagrad {
    pub(super) fn rule(&self) -> Rule {
        Rule::Adagrad {
            initial: self.initial_accumulator_value as f32,
            epsilon: self.epsilon as f32,
        }
    }
}

impl Adadelta {
    pub(super) fn rule(&self) -> Rule {
        Rule::Adadelta {
            rho: self.rho as f32,
            epsilon: self.epsilon as f32,
        }
    }
}

impl Adamax {
    pub(super) fn rule(&self) -> Rule {
        Rule::Adamax {
            betas: [self.beta_1 as f32, self.beta_2 as f32],
            epsilon: self.epsilon as f32,
        }
    }
}

impl Nadam {
    pub(super) fn rule(&self) -> Rule {
        Rule::Nadam {
            betas: [self.beta_1, self.beta_2],
            epsilon: self.epsilon as f32,
        }
    }
}

impl Lion {
    pub(super) fn rule(&self) -> Rule {
        Rule::Lion {
            betas: [self.beta_1 as f32, self.beta_2 as f32],
        }
    }
}

/// Where a setting must be.
#[derive(Clone, Copy)]
enum Range {
    /// `[0, 1)`: a decay.
    Decay,
    /// `(0, 1]`: a blend.
    Blend,
    /// At least 0.
    NonNegative,
    /// Above 0.
    Positive,
}

/// Why settings cannot run, if they cannot: each `(name, value, range)` must be finite
/// and in its range.
fn check(settings: &[(&str, f64, Range)]) -> Result<(), String> {
    for &(name, value, range) in settings {
        let (fits, says) = match range {
            Range::Decay => ((0.0..1.0).contains(&value), "in [0, 1)"),
            Range::Blend => (value > 0.0 && value <= 1.0, "in (0, 1]"),
            Range::NonNegative => (value >= 0.0, "at least 0"),
            Range::Positive => (value > 0.0, "positive"),
        };
        if !(value.is_finite() && fits) {
            return Err(format!("{name} must be finite and {says}, got {value}"));
        }
    }
    Ok(())
}

/// Adamax's and Nadam's betas and epsilon.
fn moments(betas: [f64; 2], epsilon: f64) -> Result<(), String> {
    check(&[
        ("beta_1", betas[0], Range::Decay),
        ("beta_2", betas[1], Range::Decay),
        ("epsilon", epsilon, Range::Positive),
    ])
}

impl Adamax {
    pub(super) fn check(&self) -> Result<(), String> {
        moments([self.beta_1, self.beta_2], self.epsilon)
    }
}

impl Nadam {
    pub(super) fn check(&self) -> Result<(), String> {
        moments([self.beta_1, self.beta_2], self.epsilon)
    }
}

impl Adagrad {
    pub(super) fn check(&self) -> Result<(), String> {
        check(&[
            (
                "initial_accumulator_value",
                self.initial_accumulator_value,
                Range::NonNegative,
            ),
            ("epsilon", self.epsilon, Range::Positive),
        ])
    }
}

impl Adadelta {
    pub(super) fn check(&self) -> Result<(), String> {
        check(&[
            ("rho", self.rho, Range::Decay),
            ("epsilon", self.epsilon, Range::Positive),
        ])
    }
}

impl Lion {
    pub(super) fn check(&self) -> Result<(), String> {
        check(&[
            ("beta_1", self.beta_1, Range::Blend),
            ("beta_2", self.beta_2, Range::Decay),
        ])
    }
}

/// The update rules, with their settings as the tensors take them.
#[derive(Clone, Debug)]
pub enum Rule {
    /// `acc += g²; w -= lr·g / √(acc + ε)`, `acc` from `initial`.
    Adagrad { initial: f32, epsilon: f32 },
    /// `a = ρa + (1-ρ)g²; δ = -√(d + ε)·g / √(a + ε); d = ρd + (1-ρ)δ²; w += lr·δ`.
    Adadelta { rho: f32, epsilon: f32 },
    /// `m += (g - m)(1-β₁); u = max(β₂u, |g|); w -= lr·m / ((1-β₁ᵗ)(u + ε))`.
    Adamax { betas: [f32; 2], epsilon: f32 },
    /// Keras's Nadam, its momentum schedule `μₜ = β₁(1 - ½·0.96ᵗ)` (the betas in f64 for
    /// the running product of the `μ`s).
    Nadam { betas: [f64; 2], epsilon: f32 },
    /// `w -= lr·sign(β₁m + (1-β₁)g); m = β₂m + (1-β₂)g`.
    Lion { betas: [f32; 2] },
}

/// A weight's state under a [`Rule`]: the steps taken, one or two moving quantities (the
/// accumulated squares, the moments), and Nadam's product of its momentum schedule.
#[derive(Record, Clone)]
pub struct RuleState<B: Backend, const D: usize> {
    time: usize,
    first: Tensor<B, D>,
    second: Option<Tensor<B, D>>,
    product: f64,
}

/// Nadam's momentum at step `t`: `β₁(1 - ½·0.96ᵗ)`.
fn nadam_momentum(beta_1: f64, t: usize) -> f64 {
    beta_1 * (1.0 - 0.5 * 0.96f64.powi(power(t)))
}

/// Step `t` as a power.
fn power(t: usize) -> i32 {
    i32::try_from(t).unwrap_or(i32::MAX)
}

/// `average` moved towards `x` by `rate`: `average + (x - average)·rate`.
fn toward<B: Backend, const D: usize>(
    average: Tensor<B, D>,
    x: Tensor<B, D>,
    rate: f64,
) -> Tensor<B, D> {
    average.clone() + (x - average).mul_scalar(rate)
}

impl<B: Backend> SimpleOptimizer<B> for Rule {
    type State<const D: usize> = RuleState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: burn::optim::LearningRate,
        w: Tensor<B, D>,
        g: Tensor<B, D>,
        state: Option<RuleState<B, D>>,
    ) -> (Tensor<B, D>, Option<RuleState<B, D>>) {
        let (time, first, second, product) = match state {
            Some(s) => (s.time, s.first, s.second, s.product),
            None => (0, w.zeros_like(), None, 1.0),
        };
        let t = time + 1;
        let second = || second.clone().unwrap_or_else(|| w.zeros_like());
        let state = |first, second: Option<Tensor<B, D>>, product| RuleState {
            time: t,
            first,
            second,
            product,
        };
        match *self {
            Rule::Adagrad { initial, epsilon } => {
                let start = if time == 0 {
                    first.add_scalar(initial)
                } else {
                    first
                };
                let sum = start + g.clone().square();
                let w = w - g.mul_scalar(lr) / sum.clone().add_scalar(epsilon).sqrt();
                (w, Some(state(sum, None, 1.0)))
            }
            Rule::Adadelta { rho, epsilon } => {
                let rms = |x: Tensor<B, D>| x.add_scalar(epsilon).sqrt();
                let squares = first.mul_scalar(rho) + g.clone().square().mul_scalar(1.0 - rho);
                let steps = second();
                let delta = (rms(steps.clone()) * g / rms(squares.clone())).neg();
                let steps = steps.mul_scalar(rho) + delta.clone().square().mul_scalar(1.0 - rho);
                (
                    w + delta.mul_scalar(lr),
                    Some(state(squares, Some(steps), 1.0)),
                )
            }
            Rule::Adamax { betas, epsilon } => {
                let m = toward(first, g.clone(), f64::from(1.0 - betas[0]));
                let u = second().mul_scalar(betas[1]).max_pair(g.abs());
                let bias = 1.0 - f64::from(betas[0]).powi(power(t));
                let step = m.clone() / u.clone().add_scalar(epsilon).mul_scalar(bias);
                (w - step.mul_scalar(lr), Some(state(m, Some(u), 1.0)))
            }
            Rule::Nadam { betas, epsilon } => {
                let (now, next) = (nadam_momentum(betas[0], t), nadam_momentum(betas[0], t + 1));
                let product = product * now;
                let m = toward(first, g.clone(), 1.0 - betas[0]);
                let v = toward(second(), g.clone().square(), 1.0 - betas[1]);
                let m_hat = m.clone().mul_scalar(next / (1.0 - product * next))
                    + g.mul_scalar((1.0 - now) / (1.0 - product));
                let v_hat = v.clone().div_scalar(1.0 - betas[1].powi(power(t)));
                let w = w - m_hat.mul_scalar(lr) / v_hat.sqrt().add_scalar(epsilon);
                (w, Some(state(m, Some(v), product)))
            }
            Rule::Lion { betas } => {
                let blend =
                    first.clone().mul_scalar(betas[0]) + g.clone().mul_scalar(1.0 - betas[0]);
                let m = first.mul_scalar(betas[1]) + g.mul_scalar(1.0 - betas[1]);
                (w - blend.sign().mul_scalar(lr), Some(state(m, None, 1.0)))
            }
        }
    }

    fn to_device<const D: usize>(state: RuleState<B, D>, device: &B::Device) -> RuleState<B, D> {
        RuleState {
            first: state.first.to_device(device),
            second: state.second.map(|s| s.to_device(device)),
            ..state
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestBackend as B;

    /// Three steps at rate 0.1 from `[1, -2, 0.5]` with the same gradients as Keras 3.15's
    /// optimizers took (`apply_gradients`, TensorFlow backend), to its weights.
    #[test]
    fn each_rule_steps_as_keras_steps() {
        let grads = [[0.5, -1.0, 2.0], [0.1, 0.3, -0.2], [-0.4, 0.0, 1.5]];
        for (rule, want) in [
            (
                Adagrad::new().rule(),
                [0.954_287_95, -1.932_154_8, 0.351_717_4],
            ),
            (
                Adadelta::new().rule(),
                [0.999_946_65, -1.999_917_5, 0.499_756_37],
            ),
            (
                Adamax::new().rule(),
                [0.835_022_3, -1.848_423_4, 0.303_500_44],
            ),
            (
                Nadam::new().rule(),
                [0.925_316_3, -1.911_253_3, 0.327_293_5],
            ),
            (Lion::new().rule(), [0.9, -1.9, 0.4]),
        ] {
            let device = Default::default();
            let mut w = Tensor::<B, 1>::from_floats([1.0, -2.0, 0.5], &device);
            let mut state = None;
            for g in grads {
                (w, state) = rule.step(0.1, w, Tensor::from_floats(g, &device), state);
            }
            let got = w.into_data().to_vec::<f32>().unwrap();
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 2e-6, "{rule:?}: got {got:?}, want {want:?}");
            }
        }
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        assert_eq!(
            Adadelta::new().rho(1.0).check().unwrap_err(),
            "rho must be finite and in [0, 1), got 1"
        );
        assert_eq!(
            Adagrad::new()
                .initial_accumulator_value(-0.1)
                .check()
                .unwrap_err(),
            "initial_accumulator_value must be finite and at least 0, got -0.1"
        );
        assert_eq!(
            Nadam::new().beta_2(f64::NAN).check().unwrap_err(),
            "beta_2 must be finite and in [0, 1), got NaN"
        );
        assert!(Lion::new().beta_1(1.0).check().is_ok());
        assert_eq!(
            Lion::new().beta_1(0.0).check().unwrap_err(),
            "beta_1 must be finite and in (0, 1], got 0"
        );
        assert_eq!(
            Adamax::new().epsilon(0.0).check().unwrap_err(),
            "epsilon must be finite and positive, got 0"
        );
        // As fit checks them, named by the optimizer.
        let lion = crate::Optimizer::from(Lion::new().beta_2(1.5));
        assert_eq!(
            lion.check().unwrap_err(),
            "lion's beta_2 must be finite and in [0, 1), got 1.5"
        );
        assert!(Adamax::new().check().is_ok());
    }
}
