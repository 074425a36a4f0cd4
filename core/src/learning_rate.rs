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
    /// [`CosineDecayRestarts`].
    CosineDecayRestarts(CosineDecayRestarts),
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
    CosineDecay,
    CosineDecayRestarts
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
            LearningRate::PolynomialDecay(s) => s.at(t),
            LearningRate::CosineDecay(s) => s.at(t),
            LearningRate::CosineDecayRestarts(s) => s.at(t),
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
            LearningRate::CosineDecayRestarts(s) => s.initial,
        }
    }

    /// Why this schedule cannot run, if it cannot: a step count of 0, boundaries out of
    /// order or values that do not match them, rates that are negative or not numbers.
    pub fn check(&self) -> Result<(), String> {
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
            LearningRate::PiecewiseConstantDecay(s) => s.check(),
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
                alpha("CosineDecay", s.alpha)?;
                rates("CosineDecay", &[s.initial, top])
            }
            LearningRate::CosineDecayRestarts(s) => s.check(),
        }
    }
}

/// Whether `name`'s decay steps are positive.
fn steps(name: &str, steps: u64) -> Result<(), String> {
    match steps {
        0 => Err(format!("{name}'s decay steps must be positive")),
        _ => Ok(()),
    }
}

/// Whether `name`'s alpha, a fraction of its highest rate, is in [0, 1].
fn alpha(name: &str, alpha: f64) -> Result<(), String> {
    match alpha {
        0.0..=1.0 => Ok(()),
        _ => Err(format!("{name}'s alpha must be in [0, 1], got {alpha}")),
    }
}

/// Whether `name`'s rates are finite and at least 0.
fn rates(name: &str, rates: &[f64]) -> Result<(), String> {
    match rates.iter().find(|r| !(**r >= 0.0 && r.is_finite())) {
        Some(r) => Err(format!(
            "{name}'s rates must be finite and at least 0, got {r}"
        )),
        None => Ok(()),
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

    fn check(&self) -> Result<(), String> {
        if self.values.len() != self.boundaries.len() + 1 {
            return Err(format!(
                "PiecewiseConstantDecay needs one value more than its boundaries, got {} boundaries and {} values",
                self.boundaries.len(),
                self.values.len()
            ));
        }
        if let Some(w) = self.boundaries.windows(2).find(|w| w[0] >= w[1]) {
            return Err(format!(
                "PiecewiseConstantDecay's boundaries must increase, got {} then {}",
                w[0], w[1]
            ));
        }
        rates("PiecewiseConstantDecay", &self.values)
    }
}

/// From `initial` to `end` over `steps` updates along `(1 - step / steps)^power`, then
/// `end`, or with `cycle` the same again over each next multiple of `steps`: Keras's
/// `PolynomialDecay` (its defaults: `end` 1e-4, `power` 1, a straight line, no cycle).
#[derive(Clone, Debug, PartialEq)]
pub struct PolynomialDecay {
    initial: f64,
    steps: u64,
    end: f64,
    power: f64,
    cycle: bool,
}

impl PolynomialDecay {
    /// From `initial` to 1e-4 in a straight line over `steps` updates.
    pub fn new(initial: f64, steps: u64) -> Self {
        PolynomialDecay {
            initial,
            steps,
            end: 1e-4,
            power: 1.0,
            cycle: false,
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

    /// Whether, past `steps`, the decay starts again over the next multiple of `steps`
    /// (from `initial`, a little lower each time: over `k·steps` updates from the
    /// `(k-1)·steps`-th, as Keras's `cycle=True`) instead of staying at `end`.
    pub fn cycle(mut self, cycle: bool) -> Self {
        self.cycle = cycle;
        self
    }

    fn at(&self, t: f64) -> f64 {
        let steps = self.steps as f64;
        let done = if self.cycle {
            // Keras: the decay steps times ceil(t / steps), 1 at the first step.
            t / (steps * (t / steps).ceil().max(1.0))
        } else {
            t.min(steps) / steps
        };
        (self.initial - self.end) * (1.0 - done).powf(self.power) + self.end
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

/// Cosine decays that restart (SGDR, Loshchilov and Hutter): the first over `steps`
/// updates from `initial`, each next one `t_mul` times longer, decay `k` starting at
/// `initial · (m_mulᵏ · (1 - alpha) + alpha)`, and each down to `alpha · initial`: Keras's
/// `CosineDecayRestarts` (its defaults: `t_mul` 2, `m_mul` 1, `alpha` 0). Unlike Keras,
/// `t_mul` below 1 (decays that all end after `steps / (1 - t_mul)` updates, the rate
/// NaN after them) and `m_mul` above 1 (restarts above `initial`, the highest rate a
/// callback reads) are refused.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineDecayRestarts {
    initial: f64,
    steps: u64,
    t_mul: f64,
    m_mul: f64,
    alpha: f64,
}

impl CosineDecayRestarts {
    /// From `initial` to 0 over the first `steps` updates, then again over twice as many.
    pub fn new(initial: f64, steps: u64) -> Self {
        CosineDecayRestarts {
            initial,
            steps,
            t_mul: 2.0,
            m_mul: 1.0,
            alpha: 0.0,
        }
    }

    /// How much longer each decay is than the one before (at least 1).
    pub fn t_mul(mut self, t_mul: f64) -> Self {
        self.t_mul = t_mul;
        self
    }

    /// How much lower each decay starts than the one before, above the floor (in [0, 1]).
    pub fn m_mul(mut self, m_mul: f64) -> Self {
        self.m_mul = m_mul;
        self
    }

    /// The lowest rate of every decay, as a fraction of `initial`.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    fn check(&self) -> Result<(), String> {
        steps("CosineDecayRestarts", self.steps)?;
        alpha("CosineDecayRestarts", self.alpha)?;
        if !(self.t_mul >= 1.0 && self.t_mul.is_finite()) {
            return Err(format!(
                "CosineDecayRestarts's t_mul must be at least 1 (shorter decays all end after \
                 steps / (1 - t_mul) updates), got {}",
                self.t_mul
            ));
        }
        if !(0.0..=1.0).contains(&self.m_mul) {
            return Err(format!(
                "CosineDecayRestarts's m_mul must be in [0, 1] (no restart above the first), got {}",
                self.m_mul
            ));
        }
        rates("CosineDecayRestarts", &[self.initial])
    }

    fn at(&self, t: f64) -> f64 {
        let done = t / self.steps as f64;
        // Which decay `t` is in, and how far along it.
        let (restarts, along) = if self.t_mul == 1.0 {
            (done.floor(), done - done.floor())
        } else {
            // Decay k starts at Σ t_mulⁱ (i < k) first decays; the logarithm finds k, and
            // the starts themselves settle a step on a boundary, whatever its rounding.
            let start = |k: f64| (1.0 - self.t_mul.powf(k)) / (1.0 - self.t_mul);
            let mut k = ((1.0 - done * (1.0 - self.t_mul)).ln() / self.t_mul.ln()).floor();
            if start(k + 1.0) <= done {
                k += 1.0;
            } else if start(k) > done {
                k -= 1.0;
            }
            (k, (done - start(k)) / self.t_mul.powf(k))
        };
        let cosine = 0.5 * self.m_mul.powf(restarts) * (1.0 + (PI * along).cos());
        self.initial * ((1.0 - self.alpha) * cosine + self.alpha)
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
        let cases: [(LearningRate, &[(u64, f64)]); 15] = [
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
            // Cycling: steps 10 up to 10, then 20 (from the start, at 15: 1 - 15/20), 30...
            (
                PolynomialDecay::new(1.0, 10).end(0.0).cycle(true).into(),
                &[
                    (0, 1.0),
                    (5, 0.5),
                    (10, 0.0),
                    (15, 0.25),
                    (20, 0.0),
                    (21, 0.3),
                ],
            ),
            // Decays over [0, 10), [10, 30), [30, 70): the middle of each at a half.
            (
                CosineDecayRestarts::new(1.0, 10).into(),
                &[
                    (0, 1.0),
                    (5, 0.5),
                    (10, 1.0),
                    (20, 0.5),
                    (30, 1.0),
                    (50, 0.5),
                    (70, 1.0),
                ],
            ),
            // m_mul 0.5, alpha 0.2: each restart at half the last; its middle at
            // 0.5ᵏ · 0.5 · 0.8 + 0.2.
            (
                CosineDecayRestarts::new(1.0, 10)
                    .m_mul(0.5)
                    .alpha(0.2)
                    .into(),
                &[(0, 1.0), (5, 0.6), (10, 0.6), (20, 0.4), (30, 0.4)],
            ),
            // Power 2, cycling: at 15 of the second cycle's 20, (1 - 0.75)².
            (
                PolynomialDecay::new(1.0, 10)
                    .end(0.0)
                    .power(2.0)
                    .cycle(true)
                    .into(),
                &[(5, 0.25), (15, 0.0625)],
            ),
            // t_mul 1.5: decays over [0, 20), [20, 50), [50, 95); middles at 10, 35, 72.5.
            (
                CosineDecayRestarts::new(1.0, 20).t_mul(1.5).into(),
                &[(10, 0.5), (20, 1.0), (35, 0.5), (50, 1.0)],
            ),
            // t_mul 1: the same decay every 10 steps; at 2 of 10, 2 · ½(1 + cos(π/5)).
            (
                CosineDecayRestarts::new(2.0, 10).t_mul(1.0).into(),
                &[(0, 2.0), (10, 2.0), (12, 1.0 + (PI * 0.2).cos()), (25, 1.0)],
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
        let cases: [(LearningRate, &str); 11] = [
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
            (
                CosineDecayRestarts::new(0.1, 0).into(),
                "decay steps must be positive",
            ),
            (
                CosineDecayRestarts::new(0.1, 10).t_mul(0.5).into(),
                "t_mul must be at least 1 (shorter decays all end after steps / (1 - t_mul) updates), got 0.5",
            ),
            (
                CosineDecayRestarts::new(0.1, 10).m_mul(-1.0).into(),
                "m_mul must be in [0, 1] (no restart above the first), got -1",
            ),
            (
                CosineDecayRestarts::new(0.1, 10).m_mul(1.5).into(),
                "m_mul must be in [0, 1] (no restart above the first), got 1.5",
            ),
            ((-0.1).into(), "must be finite and at least 0"),
        ];
        for (rate, message) in cases {
            let error = rate.check().expect_err("refused");
            assert!(error.contains(message), "{rate:?}: {error}");
        }
    }
}
