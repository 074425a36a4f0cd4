//! Learning-rate schedules: LearningRateScheduler (a function of the epoch) and
//! ReduceLROnPlateau (divides the rate when progress stalls).

use burn::tensor::backend::AutodiffBackend;

use crate::callback::{Callback, CallbackResult, Control, Mode, Monitor};
use crate::logs::Logs;

/// Sets the learning rate before each epoch to `schedule(epoch, current rate)`, as Keras's
/// `LearningRateScheduler`.
///
/// ```
/// use kiln_core::callbacks::LearningRateScheduler;
/// // Halve the rate every 10 epochs.
/// let halve = LearningRateScheduler::new(|epoch, lr| if epoch > 0 && epoch % 10 == 0 { lr / 2.0 } else { lr });
/// ```
pub struct LearningRateScheduler<'a> {
    schedule: Box<dyn FnMut(usize, f64) -> f64 + 'a>,
}

impl<'a> LearningRateScheduler<'a> {
    /// A schedule from a closure of the epoch (0-based) and the current rate.
    pub fn new(schedule: impl FnMut(usize, f64) -> f64 + 'a) -> Self {
        LearningRateScheduler {
            schedule: Box::new(schedule),
        }
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for LearningRateScheduler<'_> {
    fn on_epoch_begin(&mut self, epoch: usize, control: &mut Control<M>) -> CallbackResult {
        let rate = (self.schedule)(epoch, control.learning_rate());
        if !rate.is_finite() || rate < 0.0 {
            return Err(
                format!("the schedule gave the learning rate {rate} for epoch {epoch}").into(),
            );
        }
        control.set_learning_rate(rate);
        Ok(())
    }
}

impl<'a, B: AutodiffBackend, M: 'a> From<LearningRateScheduler<'a>>
    for Box<dyn Callback<B, M> + 'a>
{
    fn from(callback: LearningRateScheduler<'a>) -> Self {
        Box::new(callback)
    }
}

/// Multiplies the learning rate by `factor` when `monitor` has not improved for
/// `patience` epochs, as Keras's `ReduceLROnPlateau`.
///
/// ```
/// use kiln_core::callbacks::ReduceLrOnPlateau;
/// let reduce = ReduceLrOnPlateau::monitor("val_loss").factor(0.2).patience(5).min_lr(1e-5);
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    monitor: Monitor,
    mode: Mode,
    factor: f64,
    patience: usize,
    cooldown: usize,
    min_lr: f64,
    wait: usize,
    cooldown_left: usize,
}

impl ReduceLrOnPlateau {
    /// Watches `name`; Keras's defaults: factor 0.1, patience 10, min_delta 1e-4, no
    /// cooldown, no floor.
    pub fn monitor(name: &str) -> Self {
        ReduceLrOnPlateau {
            monitor: Monitor::new(name, Mode::Auto, 1e-4),
            mode: Mode::Auto,
            factor: 0.1,
            patience: 10,
            cooldown: 0,
            min_lr: 0.0,
            wait: 0,
            cooldown_left: 0,
        }
    }

    /// The factor the rate is multiplied by, in `(0, 1)`.
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before reducing.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.monitor = Monitor::new(&self.monitor.name, self.mode, min_delta);
        self
    }

    /// Whether lower or higher values are better.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self.monitor = Monitor::new(&self.monitor.name, mode, self.monitor.min_delta);
        self
    }

    /// Epochs to wait after a reduction before watching again.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The rate is never reduced below this. With a learning-rate schedule (which Keras
    /// refuses here), a reduction scales the whole schedule and this bounds the
    /// schedule's rate at the time of the reduction; the schedule may decay below it
    /// later, as it would have without the callback.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for ReduceLrOnPlateau {
    fn on_train_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(format!(
                "ReduceLROnPlateau's factor must be in (0, 1), got {}",
                self.factor
            )
            .into());
        }
        if !(self.min_lr >= 0.0 && self.min_lr.is_finite()) {
            return Err(format!(
                "ReduceLROnPlateau's min_lr must be finite and at least 0, got {}",
                self.min_lr
            )
            .into());
        }
        self.monitor.reset();
        self.wait = 0;
        self.cooldown_left = 0;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        let Some(current) = self.monitor.value(logs, control)? else {
            return Ok(()); // an epoch without validation
        };
        let cooling = self.cooldown_left > 0;
        if cooling {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if self.monitor.improves(current, self.monitor.best) {
            self.monitor.best = current;
            self.wait = 0;
        } else if !cooling {
            self.wait += 1;
            if self.wait >= self.patience {
                // The rate now: the optimizer's, or its schedule's at this update.
                let base = control.learning_rate();
                let now = control.optimizer.scheduled(base, control.iterations);
                if now > self.min_lr {
                    let reduced = (now * self.factor).max(self.min_lr);
                    control.set_learning_rate(base * reduced / now);
                    self.cooldown_left = self.cooldown;
                    self.wait = 0;
                }
            }
        }
        Ok(())
    }
}

crate::callbacks::into_box!(ReduceLrOnPlateau where M: 'a);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::testing::{control, logs, script};

    fn rates(callback: &mut ReduceLrOnPlateau, values: &[f64]) -> Vec<f64> {
        let epochs: Vec<Logs> = values.iter().map(|&v| logs("val_loss", v)).collect();
        let mut model = 0usize;
        let mut control = control(&mut model, 1.0, values.len());
        <ReduceLrOnPlateau as Callback<crate::testing::TestAutodiff, usize>>::on_train_begin(
            callback,
            &mut control,
        )
        .unwrap();
        epochs
            .iter()
            .enumerate()
            .map(|(e, l)| {
                <ReduceLrOnPlateau as Callback<crate::testing::TestAutodiff, usize>>::on_epoch_end(
                    callback,
                    e,
                    l,
                    &mut control,
                )
                .unwrap();
                control.learning_rate
            })
            .collect()
    }

    #[test]
    fn reduces_at_the_right_epochs() {
        // Patience 2: epochs 1 and 2 do not improve on 1.0, so the rate drops after epoch 2;
        // epochs 3 and 4 do not improve either: it drops again after epoch 4, then stops at 0.2.
        let mut reduce = ReduceLrOnPlateau::monitor("val_loss")
            .factor(0.5)
            .patience(2)
            .min_lr(0.2);
        assert_eq!(
            rates(&mut reduce, &[1.0, 1.0, 1.1, 1.0, 1.2, 1.3, 1.4]),
            [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2]
        );
        // A cooldown of 2 epochs pauses the watch after each reduction.
        let mut reduce = ReduceLrOnPlateau::monitor("val_loss")
            .factor(0.5)
            .patience(1)
            .cooldown(2);
        assert_eq!(
            rates(&mut reduce, &[1.0, 1.0, 1.0, 1.0, 1.0]),
            [1.0, 0.5, 0.5, 0.5, 0.25]
        );
        // An improvement resets the wait.
        let mut reduce = ReduceLrOnPlateau::monitor("val_loss")
            .factor(0.5)
            .patience(2);
        assert_eq!(
            rates(&mut reduce, &[1.0, 1.0, 0.5, 0.6, 0.4]),
            [1.0, 1.0, 1.0, 1.0, 1.0]
        );
    }

    /// With a schedule, the floor bounds the rate the schedule has reached, not its
    /// reference rate: at update 2 of a schedule halving every update from 1.0, the
    /// rate is 0.25, which a factor of 0.5 would take to 0.125, below the floor of 0.2.
    #[test]
    fn the_floor_bounds_a_schedules_rate_at_the_reduction() {
        let mut model = 0usize;
        let mut control = control(&mut model, 1.0, 2);
        let halving = crate::learning_rate::ExponentialDecay::new(1.0, 1, 0.5);
        control.optimizer = Box::leak(Box::new(crate::Sgd::new().learning_rate(halving).into()));
        control.iterations = 2;
        let mut reduce = ReduceLrOnPlateau::monitor("val_loss")
            .factor(0.5)
            .patience(0)
            .min_lr(0.2);
        let end = |reduce: &mut ReduceLrOnPlateau, control: &mut Control<usize>| {
            <ReduceLrOnPlateau as Callback<crate::testing::TestAutodiff, usize>>::on_epoch_end(
                reduce,
                0,
                &logs("val_loss", 1.0),
                control,
            )
            .unwrap();
        };
        end(&mut reduce, &mut control); // the first value is the best so far
        assert_eq!(control.learning_rate(), 1.0);
        end(&mut reduce, &mut control);
        assert!((control.next_learning_rate() - 0.2).abs() < 1e-12);
        assert!((control.learning_rate() - 0.8).abs() < 1e-12);
        // At the floor, no further reduction.
        end(&mut reduce, &mut control);
        assert!((control.learning_rate() - 0.8).abs() < 1e-12);
        for min_lr in [-1e-3, f64::NAN] {
            let mut reduce = ReduceLrOnPlateau::monitor("val_loss").min_lr(min_lr);
            let begun = <ReduceLrOnPlateau as Callback<crate::testing::TestAutodiff, usize>>::on_train_begin(&mut reduce, &mut control);
            let want =
                format!("ReduceLROnPlateau's min_lr must be finite and at least 0, got {min_lr}");
            assert_eq!(begun.err().map(|e| e.to_string()), Some(want));
        }
    }

    #[test]
    fn the_scheduler_sets_the_rate_before_each_epoch() {
        let mut halve =
            LearningRateScheduler::new(|epoch, lr| if epoch > 0 { lr / 2.0 } else { lr });
        let (_, rates) = script(
            &mut halve,
            &[logs("loss", 1.0), logs("loss", 1.0), logs("loss", 1.0)],
            0.8,
        );
        assert_eq!(rates, [0.8, 0.4, 0.2]);
        let mut bad = LearningRateScheduler::new(|_, _| f64::NAN);
        let mut model = 0usize;
        let mut control = control(&mut model, 1.0, 1);
        let err = <LearningRateScheduler as Callback<crate::testing::TestAutodiff, usize>>::on_epoch_begin(&mut bad, 3, &mut control).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the schedule gave the learning rate NaN for epoch 3"
        );
    }

    /// The next update's rate goes through the optimizer's schedule and follows a rate a
    /// callback set earlier in the same hook (TensorBoard after ReduceLrOnPlateau).
    #[test]
    fn the_next_rate_follows_the_schedule_and_a_change_made_before() {
        use crate::learning_rate::ExponentialDecay;
        let schedule = ExponentialDecay::new(1.0, 1, 0.5);
        let optimizer = crate::Optimizer::from(crate::Sgd::new().learning_rate(schedule));
        let mut model = 0usize;
        let mut control = Control {
            model: &mut model,
            stop: false,
            learning_rate: 1.0,
            optimizer: &optimizer,
            iterations: 2,
            epoch: 0,
            epochs: 3,
            steps: 1,
            skipped_validation: false,
        };
        assert_eq!(control.next_learning_rate(), 0.25);
        control.set_learning_rate(0.5);
        assert_eq!(control.next_learning_rate(), 0.125);
    }
}
