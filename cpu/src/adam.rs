//! Adam's (and AdamW's) update of one weight in one pass. burn-optim's `Adam` makes it of
//! 13 tensor ops (the two moments, the bias-corrected ratio, the step), each a pass over the
//! weight's floats: on a CNN whose dense layer holds a million weights that was 3 ms of
//! every step whatever the batch, a tenth of the CIFAR CNN's at batch 32. Here every
//! float is read and written once, in the same f32 arithmetic, so the results are
//! burn's bit for bit.

use burn_backend::{DType, TensorMetadata};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::module::from_values;
use crate::strided::GRAIN;

/// One step's coefficients, computed as burn-optim's `Adam` or `AdamW` computes them (in
/// f32).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// The first moment's decay β₁.
    pub beta_1: f32,
    /// The second moment's decay β₂.
    pub beta_2: f32,
    /// The learning rate.
    pub learning_rate: f32,
    /// Whether this is the first step, whose moments start from the gradient alone (the
    /// moments passed in are not read, as burn-optim's state does not exist yet).
    pub first: bool,
    /// How the moments make the step.
    pub rule: AdamRule,
}

/// How the moments `m` and `v` make the step of a weight `w`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AdamRule {
    /// burn-optim's `Adam`: `w − lr · m·c / (√v + ε')`.
    Adam {
        /// `c = √(1 − β₂ᵗ) / (1 − β₁ᵗ)` at step `t` (from 1).
        correction: f32,
        /// `ε' = ε · √(1 − β₂ᵗ)`.
        epsilon: f32,
    },
    /// burn-optim's `AdamW`: `w·k − lr · (m / c₁) / (√(v / c₂) + ε)`.
    AdamW {
        /// `c₁ = 1 − β₁ᵗ`.
        correction_1: f32,
        /// `c₂ = 1 − β₂ᵗ`.
        correction_2: f32,
        /// ε.
        epsilon: f32,
        /// `k = 1 − lr · decay`, or `None` (the weight as it is) when that product is 0.
        keep: Option<f32>,
    },
}

impl AdamStep {
    /// burn-optim's `Adam` at step `time` (the first is 1).
    pub fn adam(beta_1: f32, beta_2: f32, epsilon: f32, learning_rate: f64, time: i32) -> Self {
        let root = (1.0 - beta_2.powi(time)).sqrt();
        let rule = AdamRule::Adam {
            correction: root / (1.0 - beta_1.powi(time)),
            epsilon: epsilon * root,
        };
        Self::new(beta_1, beta_2, learning_rate, time, rule)
    }

    /// burn-optim's `AdamW` (without its cautious decay) at step `time` (the first is 1).
    pub fn adam_w(
        [beta_1, beta_2]: [f32; 2],
        epsilon: f32,
        weight_decay: f32,
        learning_rate: f64,
        time: i32,
    ) -> Self {
        let decay = learning_rate * f64::from(weight_decay);
        let rule = AdamRule::AdamW {
            correction_1: 1.0 - beta_1.powi(time),
            correction_2: 1.0 - beta_2.powi(time),
            epsilon,
            // burn's `mul_scalar(1 − decay)`: the f64 scalar taken as f32.
            keep: (decay != 0.0).then_some((1.0 - decay) as f32),
        };
        Self::new(beta_1, beta_2, learning_rate, time, rule)
    }

    fn new(beta_1: f32, beta_2: f32, learning_rate: f64, time: i32, rule: AdamRule) -> Self {
        AdamStep {
            beta_1,
            beta_2,
            // The learning rate reaches burn's `mul_scalar` as a scalar taken as f32.
            learning_rate: learning_rate as f32,
            first: time == 1,
            rule,
        }
    }

    /// The step over slices of the weight, its moments and its gradient.
    fn run(&self, w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        match self.rule {
            AdamRule::Adam {
                correction,
                epsilon,
            } => self.each(
                w,
                m,
                v,
                g,
                |m, v| m * correction / (v.sqrt() + epsilon),
                |w| w,
            ),
            AdamRule::AdamW {
                correction_1,
                correction_2,
                epsilon,
                keep,
            } => self.each(
                w,
                m,
                v,
                g,
                |m, v| m / correction_1 / ((v / correction_2).sqrt() + epsilon),
                |w| keep.map_or(w, |k| w * k),
            ),
        }
    }

    /// Each float's update: the moments, then `decay(w) − lr · delta(m, v)`.
    #[inline(always)]
    fn each(
        &self,
        w: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        g: &[f32],
        delta: impl Fn(f32, f32) -> f32,
        decay: impl Fn(f32) -> f32,
    ) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        for k in 0..w.len() {
            let (gk, mk, vk) = (g[k], m[k], v[k]);
            let (mk, vk) = if self.first {
                (gk * (1.0 - b1), gk * gk * (1.0 - b2))
            } else {
                (mk * b1 + gk * (1.0 - b1), vk * b2 + gk * gk * (1.0 - b2))
            };
            (w[k], m[k], v[k]) = (decay(w[k]) - delta(mk, vk) * self.learning_rate, mk, vk);
        }
    }
}

/// Below this many floats (512 KiB) a weight is updated on the calling thread: a fork
/// and join costs more than it saves (as for [`crate::elementwise`]'s ops).
const PARALLEL: usize = 1 << 17;

/// The floats of an f32 tensor that is exactly its row-major elements.
fn exact(tensor: &FlexTensor) -> Option<usize> {
    let n = tensor.layout().num_elements();
    let whole = tensor.layout().contiguous_offsets() == Some((0, n));
    (tensor.dtype() == DType::F32 && whole).then_some(n)
}

/// `tensor` as the only owner of its buffer (copied when shared).
fn owned(tensor: &mut FlexTensor, n: usize) {
    if !tensor.is_unique() {
        *tensor = from_values(tensor.storage::<f32>()[..n].to_vec(), tensor.shape());
    }
}

/// Adam's step on `weight` with its gradient `grad`, updating the two moments: in place,
/// on every core for a large weight. `false`, and nothing changed, unless all four are
/// f32 tensors of one shape laid out as their row-major elements.
pub fn adam_step(
    weight: &mut FlexTensor,
    grad: &FlexTensor,
    moment_1: &mut FlexTensor,
    moment_2: &mut FlexTensor,
    step: &AdamStep,
) -> bool {
    let shape = weight.shape();
    let Some(n) = exact(weight) else {
        return false;
    };
    let fits = [grad, &*moment_1, &*moment_2]
        .iter()
        .all(|t| t.shape() == shape && exact(t) == Some(n));
    if !fits {
        return false;
    }
    for tensor in [&mut *weight, &mut *moment_1, &mut *moment_2] {
        owned(tensor, n);
    }
    let (w, m, v) = (
        &mut weight.storage_mut::<f32>()[..n],
        &mut moment_1.storage_mut::<f32>()[..n],
        &mut moment_2.storage_mut::<f32>()[..n],
    );
    let g = &grad.storage::<f32>()[..n];
    if n < PARALLEL {
        step.run(w, m, v, g);
    } else {
        w.par_chunks_mut(GRAIN)
            .zip(m.par_chunks_mut(GRAIN))
            .zip(v.par_chunks_mut(GRAIN).zip(g.par_chunks(GRAIN)))
            .for_each(|((w, m), (v, g))| step.run(w, m, v, g));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_backend::Shape;

    fn tensor(values: &[f32]) -> FlexTensor {
        from_values(values.to_vec(), Shape::new([values.len()]))
    }

    fn values(t: &FlexTensor) -> Vec<f32> {
        t.storage::<f32>()[..t.layout().num_elements()].to_vec()
    }

    #[test]
    fn one_step_is_adams_formula() {
        let step = AdamStep::adam(0.9, 0.999, 1e-7, 0.01, 1);
        let (mut w, g) = (tensor(&[1.0, -2.0]), tensor(&[0.5, -4.0]));
        let (mut m, mut v) = (tensor(&[0.0; 2]), tensor(&[0.0; 2]));
        assert!(adam_step(&mut w, &g, &mut m, &mut v, &step));
        // The first step moves each weight by the learning rate against its gradient's sign.
        let w = values(&w);
        assert!(
            (w[0] - 0.99).abs() < 1e-6 && (w[1] + 1.99).abs() < 1e-6,
            "{w:?}"
        );
        assert_eq!(values(&m), [0.5 * (1.0 - 0.9f32), -4.0 * (1.0 - 0.9f32)]);
        assert_eq!(
            values(&v),
            [0.25 * (1.0 - 0.999f32), 16.0 * (1.0 - 0.999f32)]
        );
    }

    #[test]
    fn a_shared_weight_is_copied_and_a_mismatch_refused() {
        let step = AdamStep::adam(0.9, 0.999, 1e-7, 0.01, 1);
        let original = tensor(&[1.0, 2.0]);
        let mut w = original.clone();
        let (mut m, mut v) = (tensor(&[0.0; 2]), tensor(&[0.0; 2]));
        assert!(adam_step(
            &mut w,
            &tensor(&[1.0, 1.0]),
            &mut m,
            &mut v,
            &step
        ));
        assert_eq!(values(&original), [1.0, 2.0]);
        assert_ne!(values(&w), [1.0, 2.0]);
        let before = values(&w);
        assert!(!adam_step(
            &mut w,
            &tensor(&[1.0; 3]),
            &mut m,
            &mut v,
            &step
        ));
        assert_eq!(values(&w), before);
    }
}
