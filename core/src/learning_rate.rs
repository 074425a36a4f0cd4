//! Learning rates that change with every update, as Keras's
//! `keras.optimizers.schedules`: an optimizer's `learning_rate` takes a number or one of
//! these, and each update's rate is the schedule's at that update's step (counted from 0
//! over the whole training, so a resumed fit goes on where it stopped).
//!
//! ```
//! use kiln_core::learning_rate::{CosineDecay, LearningRate};
//! use kiln_core::Adam;
//! let schedule = CosineDecay::new(0.0, 1_000).warmup(100, 1e-3);
//! let rate = LearningRate::from(schedule.clone());
//! assert_eq!(rate.at(0), 0.0);
//! assert!((rate.at(50) - 5e-4).abs() < 1e-12); // halfway up the warm-up
//! assert!((rate.at(100) - 1e-3).abs() < 1e-12); // the top, where the cosine starts
//! assert!(rate.at(1_100).abs() < 1e-12); // the end of the decay, and after
//! let adam = Adam::new().learning_rate(schedule);
//! ```

use std::f64::consts::PI;

/// A learning rate: one number, or a schedule of one per update.
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRate {
    /// The same rate for every update.
    Constant(f64),
    /// [`ExponentialDecay`].
    ExponentialDecay(ExponentialDecay),
    /// [`InverseTimeDecay`].
    InverseTimeDecay(InverseTimeDecay),
    /// [`PiecewiseConstantDecay`].
    PiecewiseConstantDecay(PiecewiseConstantDecay),
    /// [`PolynomialDecay`].
    PolynomialDecay(PolynomialDecay),
    /// [`CosineDecay`].
    CosineDecay(CosineDecay),
}

impl From<f64> for LearningRate {
    fn from(rate: f64) -> Self {
        LearningRate::Constant(rate)
    }
}

macro_rules! schedules {
    ($($kind:ident),*) => {$(
        impl From<$kind> for LearningRate {
            fn from(schedule: $kind) -> Self {
                LearningRate::$kind(schedule)
            }
        }
    )*};
}

schedules!(
    ExponentialDecay,
    InverseTimeDecay,
    PiecewiseConstantDecay,
    PolynomialDecay,
    CosineDecay
);

impl LearningRate {
    /// The rate of the update at `step` (0 for the first).
    pub fn at(&self, step: u64) -> f64 {
        let t = step as f64;
        match self {
            LearningRate::Constant(rate) => *rate,
            LearningRate::ExponentialDecay(s) => {
                s.initial * s.rate.powf(progress(t, s.steps, s.staircase))
            }
            LearningRate::InverseTimeDecay(s) => {
                s.initial / (1.0 + s.rate * progress(t, s.steps, s.staircase))
            }
            LearningRate::PiecewiseConstantDecay(s) => {
                let past = s.boundaries.iter().take_while(|&&b| step > b).count();
                s.values[past]
            }
            LearningRate::PolynomialDecay(s) => {
                let done = t.min(s.steps as f64) / s.steps as f64;
                (s.initial - s.end) * (1.0 - done).powf(s.power) + s.end
            }
            LearningRate::CosineDecay(s) => s.at(t),
        }
    }

    /// The rate a callback reads and sets (`Control::learning_rate`): the number, or the
    /// schedule's highest rate (the warm-up's target, the first piece...). A callback
    /// that sets another scales every later rate of the schedule by the same factor.
    pub fn reference(&self) -> f64 {
        match self {
            LearningRate::Constant(rate) => *rate,
            LearningRate::ExponentialDecay(s) => s.initial,
            LearningRate::InverseTimeDecay(s) => s.initial,
            LearningRate::PiecewiseConstantDecay(s) => s.values.iter().copied().fold(0.0, f64::max),
            LearningRate::PolynomialDecay(s) => s.initial.max(s.end),
            LearningRate::CosineDecay(s) => s.initial.max(s.warmup.map_or(0.0, |(_, top)| top)),
        }
    }

    /// Why this schedule cannot run, if it cannot: a step count of 0, boundaries out of
    /// order or values that do not match them, rates that are negative or not numbers.
    pub fn check(&self) -> Result<(), String> {
        let steps = |name: &str, steps: u64| match steps {
            0 => Err(format!("{name}'s decay steps must be positive")),
            _ => Ok(()),
        };
        let rates =
            |name: &str, rates: &[f64]| match rates.iter().find(|r| !(**r >= 0.0 && r.is_finite()))
            {
                Some(r) => Err(format!(
                    "{name}'s rates must be finite and at least 0, got {r}"
                )),
                None => Ok(()),
            };
        match self {
            LearningRate::Constant(rate) => rates("the learning rate", &[*rate]),
            LearningRate::ExponentialDecay(s) => {
                steps("ExponentialDecay", s.steps)?;
                rates("ExponentialDecay", &[s.initial, s.rate])
            }
            LearningRate::InverseTimeDecay(s) => {
                steps("InverseTimeDecay", s.steps)?;
                rates("InverseTimeDecay", &[s.initial, s.rate])
            }
            LearningRate::PiecewiseConstantDecay(s) => {
                if s.values.len() != s.boundaries.len() + 1 {
                    return Err(format!(
                        "PiecewiseConstantDecay needs one value more than its boundaries, got {} boundaries and {} values",
                        s.boundaries.len(),
                        s.values.len()
                    ));
                }
                if let Some(w) = s.boundaries.windows(2).find(|w| w[0] >= w[1]) {
                    return Err(format!(
                        "PiecewiseConstantDecay's boundaries must increase, got {} then {}",
                        w[0], w[1]
                    ));
                }
                rates("PiecewiseConstantDecay", &s.values)
            }
            LearningRate::PolynomialDecay(s) => {
                steps("PolynomialDecay", s.steps)?;
                rates("PolynomialDecay", &[s.initial, s.end, s.power])
            }
            LearningRate::CosineDecay(s) => {
                steps("CosineDecay", s.steps)?;
                let (warmup, top) = s.warmup.unwrap_or((1, 0.0));
                if warmup == 0 {
                    return Err("CosineDecay's warm-up steps must be positive".into());
                }
                if !(0.0..=1.0).contains(&s.alpha) {
                    return Err(format!(
                        "CosineDecay's alpha must be in [0, 1], got {}",
                        s.alpha
                    ));
                }
                rates("CosineDecay", &[s.initial, top])
            }
        }
    }
}

/// `t / steps`, floored with `staircase`.
fn progress(t: f64, steps: u64, staircase: bool) -> f64 {
    let p = t / steps as f64;
    if staircase { p.floor() } else { p }
}

/// A schedule of Keras's with an initial rate, a step count, a decay rate and a
/// staircase: its struct, constructor and `staircase` option.
macro_rules! decay {
    ($(#[$doc:meta])* $name:ident, $(#[$new:meta])*) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            initial: f64,
            steps: u64,
            rate: f64,
            staircase: bool,
        }

        impl $name {
            $(#[$new])*
            pub fn new(initial: f64, steps: u64, rate: f64) -> Self {
                $name {
                    initial,
                    steps,
                    rate,
                    staircase: false,
                }
            }

            /// Whether the rate drops by whole steps of `steps` updates rather than
            /// smoothly.
            pub fn staircase(mut self, staircase: bool) -> Self {
                self.staircase = staircase;
                self
            }
        }
    };
}

decay!(
    /// `initial · rate^(step / steps)` (the exponent floored with `staircase`): Keras's
    /// `ExponentialDecay`.
    ExponentialDecay,
    /// The rate starts at `initial` and is multiplied by `rate` every `steps` updates.
);

decay!(
    /// `initial / (1 + rate · step / steps)` (the ratio floored with `staircase`): Keras's
    /// `InverseTimeDecay`.
    InverseTimeDecay,
    /// The rate starts at `initial`; after `steps` updates it is `initial / (1 + rate)`.
);

/// `values[0]` up to update `boundaries[0]` (included), `values[1]` up to
/// `boundaries[1]`, ..., the last value after the last boundary: Keras's
/// `PiecewiseConstantDecay`.
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseConstantDecay {
    boundaries: Vec<u64>,
    values: Vec<f64>,
}

impl PiecewiseConstantDecay {
    /// `values` holds one rate more than `boundaries` (checked when `fit` starts).
    pub fn new(boundaries: impl Into<Vec<u64>>, values: impl Into<Vec<f64>>) -> Self {
        PiecewiseConstantDecay {
            boundaries: boundaries.into(),
            values: values.into(),
        }
    }
}

/// From `initial` to `end` over `steps` updates along `(1 - step / steps)^power`, then
/// `end`: Keras's `PolynomialDecay` (its defaults: `end` 1e-4, `power` 1, a straight
/// line).
#[derive(Clone, Debug, PartialEq)]
pub struct PolynomialDecay {
    initial: f64,
    steps: u64,
    end: f64,
    power: f64,
}

impl PolynomialDecay {
    /// From `initial` to 1e-4 in a straight line over `steps` updates.
    pub fn new(initial: f64, steps: u64) -> Self {
        PolynomialDecay {
            initial,
            steps,
            end: 1e-4,
            power: 1.0,
        }
    }

    /// The rate at the end and after.
    pub fn end(mut self, end: f64) -> Self {
        self.end = end;
        self
    }

    /// The curve's power (1: a straight line).
    pub fn power(mut self, power: f64) -> Self {
        self.power = power;
        self
    }
}

/// Half a cosine from `initial` down to `alpha · initial` over `steps` updates, then
/// flat; with a warm-up, first a straight line from `initial` up to its target, and the
/// cosine from there: Keras's `CosineDecay`.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineDecay {
    initial: f64,
    steps: u64,
    alpha: f64,
    warmup: Option<(u64, f64)>,
}

impl CosineDecay {
    /// From `initial` to 0 over `steps` updates.
    pub fn new(initial: f64, steps: u64) -> Self {
        CosineDecay {
            initial,
            steps,
            alpha: 0.0,
            warmup: None,
        }
    }

    /// The lowest rate, as a fraction of the highest.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// A warm-up of `steps` updates from the initial rate up to `target` before the
    /// cosine, which then starts from `target` (Keras's `warmup_steps` and
    /// `warmup_target`).
    pub fn warmup(mut self, steps: u64, target: f64) -> Self {
        self.warmup = Some((steps, target));
        self
    }

    fn at(&self, t: f64) -> f64 {
        let cosine = |t: f64, from: f64| {
            let done = t.min(self.steps as f64) / self.steps as f64;
            from * ((1.0 - self.alpha) * 0.5 * (1.0 + (PI * done).cos()) + self.alpha)
        };
        match self.warmup {
            None => cosine(t, self.initial),
            Some((warmup, top)) if t < warmup as f64 => {
                self.initial + (top - self.initial) * t / warmup as f64
            }
            Some((warmup, top)) => cosine(t - warmup as f64, top),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// Each schedule against values worked out from Keras's formulas.
    #[test]
    fn the_schedules_give_keras_rates() {
        let cases: [(LearningRate, &[(u64, f64)]); 9] = [
            (0.01.into(), &[(0, 0.01), (1_000_000, 0.01)]),
            (
                ExponentialDecay::new(0.1, 100, 0.5).into(),
                &[
                    (0, 0.1),
                    (50, 0.1 * 0.5f64.sqrt()),
                    (100, 0.05),
                    (300, 0.0125),
                ],
            ),
            (
                ExponentialDecay::new(0.1, 100, 0.5).staircase(true).into(),
                &[(0, 0.1), (99, 0.1), (100, 0.05), (250, 0.025)],
            ),
            (
                InverseTimeDecay::new(0.1, 10, 1.0).into(),
                &[(0, 0.1), (5, 0.1 / 1.5), (10, 0.05), (30, 0.025)],
            ),
            (
                InverseTimeDecay::new(0.1, 10, 1.0).staircase(true).into(),
                &[(9, 0.1), (10, 0.05), (19, 0.05)],
            ),
            (
                PiecewiseConstantDecay::new([10, 20], [1.0, 0.5, 0.1]).into(),
                &[
                    (0, 1.0),
                    (10, 1.0),
                    (11, 0.5),
                    (20, 0.5),
                    (21, 0.1),
                    (1_000, 0.1),
                ],
            ),
            (
                PolynomialDecay::new(0.1, 100).into(),
                &[(0, 0.1), (50, 0.05 + 0.5e-4), (100, 1e-4), (200, 1e-4)],
            ),
            (
                PolynomialDecay::new(1.0, 10).end(0.0).power(2.0).into(),
                &[(0, 1.0), (5, 0.25), (10, 0.0), (11, 0.0)],
            ),
            (
                CosineDecay::new(1.0, 100).alpha(0.1).into(),
                &[(0, 1.0), (50, 0.55), (100, 0.1), (500, 0.1)],
            ),
        ];
        for (rate, expected) in cases {
            assert_eq!(rate.check(), Ok(()), "{rate:?}");
            for &(step, want) in expected {
                let got = rate.at(step);
                assert!(close(got, want), "{rate:?} at {step}: {got} against {want}");
            }
        }
        let warm = LearningRate::from(CosineDecay::new(0.0, 100).warmup(10, 2.0));
        for (step, want) in [
            (0, 0.0),
            (5, 1.0),
            (10, 2.0),
            (60, 1.0),
            (110, 0.0),
            (200, 0.0),
        ] {
            assert!(
                close(warm.at(step), want),
                "warm-up at {step}: {}",
                warm.at(step)
            );
        }
        assert_eq!(warm.reference(), 2.0);
    }

    /// A schedule that cannot run is refused with what is wrong.
    #[test]
    fn a_schedule_that_cannot_run_says_why() {
        let cases: [(LearningRate, &str); 7] = [
            (
                ExponentialDecay::new(0.1, 0, 0.5).into(),
                "decay steps must be positive",
            ),
            (
                PiecewiseConstantDecay::new([10], [1.0]).into(),
                "one value more than its boundaries",
            ),
            (
                PiecewiseConstantDecay::new([10, 10], [1.0, 0.5, 0.1]).into(),
                "boundaries must increase",
            ),
            (
                CosineDecay::new(0.1, 10).warmup(0, 1.0).into(),
                "warm-up steps must be positive",
            ),
            (
                CosineDecay::new(0.1, 10).alpha(2.0).into(),
                "alpha must be in [0, 1]",
            ),
            (PolynomialDecay::new(f64::NAN, 10).into(), "must be finite"),
            ((-0.1).into(), "must be finite and at least 0"),
        ];
        for (rate, message) in cases {
            let error = rate.check().expect_err("refused");
            assert!(error.contains(message), "{rate:?}: {error}");
        }
    }
}
