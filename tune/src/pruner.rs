//! Pruners: stop a trial early when its learning curve shows it cannot win, as Optuna's
//! `MedianPruner` and `SuccessiveHalvingPruner` (ASHA) decide. The tuner asks its pruner
//! after every epoch of every trial, with every trial's journaled objective.

use crate::trial::{Objective, Status, TrialRecord};

/// What a pruner sees after an epoch: the trial, its epoch and objective, and every
/// trial of the search (this one's reports included).
#[derive(Clone, Copy, Debug)]
pub struct Epoch<'a> {
    /// The trial's id.
    pub trial: &'a str,
    /// The epoch just finished, from 0.
    pub epoch: usize,
    /// Its objective.
    pub value: f64,
    /// What the search optimises.
    pub objective: &'a Objective,
    /// Every trial so far.
    pub trials: &'a [TrialRecord],
}

impl Epoch<'_> {
    /// This trial's record.
    fn this(&self) -> Option<&TrialRecord> {
        self.trials.iter().find(|t| t.id == self.trial)
    }

    /// The objective other trial `t` reached at this epoch (its first execution).
    fn value_of(&self, t: &TrialRecord) -> Option<f64> {
        t.reports
            .iter()
            .find(|r| r.execution == 0 && r.epoch == self.epoch)
            .map(|r| r.value)
            .filter(|v| v.is_finite())
    }
}

/// Decides after each epoch whether a trial goes on.
pub trait Pruner {
    /// Whether to stop the trial now.
    fn should_prune(&self, epoch: &Epoch<'_>) -> bool;
}

/// Stops a trial whose best objective so far is worse than the median of the completed
/// trials' objectives at the same epoch, as Optuna's `MedianPruner`: not before
/// `startup_trials` (5) trials have completed, nor in the first `warmup_epochs` (0).
#[derive(Clone, Debug)]
pub struct MedianPruner {
    startup_trials: usize,
    warmup_epochs: usize,
}

impl MedianPruner {
    /// Optuna's defaults: 5 completed trials first, no warm-up.
    pub fn new() -> Self {
        MedianPruner {
            startup_trials: 5,
            warmup_epochs: 0,
        }
    }

    /// How many trials must complete before any is pruned.
    pub fn startup_trials(mut self, trials: usize) -> Self {
        self.startup_trials = trials;
        self
    }

    /// How many epochs each trial trains before it can be pruned.
    pub fn warmup_epochs(mut self, epochs: usize) -> Self {
        self.warmup_epochs = epochs;
        self
    }
}

impl Default for MedianPruner {
    fn default() -> Self {
        MedianPruner::new()
    }
}

impl Pruner for MedianPruner {
    fn should_prune(&self, epoch: &Epoch<'_>) -> bool {
        if epoch.epoch < self.warmup_epochs {
            return false;
        }
        let completed: Vec<&TrialRecord> = epoch
            .trials
            .iter()
            .filter(|t| t.status == Status::Completed && t.id != epoch.trial)
            .collect();
        if completed.len() < self.startup_trials.max(1) {
            return false;
        }
        let mut values: Vec<f64> = completed.iter().filter_map(|t| epoch.value_of(t)).collect();
        if values.is_empty() {
            return false;
        }
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        let median = if values.len().is_multiple_of(2) {
            values
                .get(middle - 1)
                .zip(values.get(middle))
                .map_or(0.0, |(a, b)| (a + b) / 2.0)
        } else {
            values.get(middle).copied().unwrap_or(0.0)
        };
        let best = epoch
            .this()
            .into_iter()
            .flat_map(|t| {
                t.reports
                    .iter()
                    .filter(|r| r.execution == 0 && r.epoch <= epoch.epoch)
            })
            .map(|r| r.value)
            .chain([epoch.value])
            .filter(|v| v.is_finite())
            .reduce(|a, b| if epoch.objective.better(b, a) { b } else { a });
        best.is_none_or(|b| epoch.objective.better(median, b))
    }
}

/// Asynchronous successive halving, as Optuna's `SuccessiveHalvingPruner`: at the rungs
/// (after `min_epochs`, `min_epochs · factor`, `min_epochs · factor²`, ... epochs) a trial
/// goes on only if its objective is in the best `1 / reduction_factor` of every trial's
/// at that rung so far (the first trial at a rung always goes on).
#[derive(Clone, Debug)]
pub struct Asha {
    min_epochs: usize,
    reduction_factor: usize,
}

impl Asha {
    /// Rungs after 1, 3, 9, ... epochs.
    pub fn new() -> Self {
        Asha {
            min_epochs: 1,
            reduction_factor: 3,
        }
    }

    /// The epochs before the first rung.
    pub fn min_epochs(mut self, epochs: usize) -> Self {
        self.min_epochs = epochs.max(1);
        self
    }

    /// How many times fewer trials each rung keeps.
    pub fn reduction_factor(mut self, factor: usize) -> Self {
        self.reduction_factor = factor.max(2);
        self
    }

    /// Whether `epoch` (from 0) ends a rung.
    fn is_rung(&self, epoch: usize) -> bool {
        let mut rung = self.min_epochs;
        while rung <= epoch + 1 {
            if rung == epoch + 1 {
                return true;
            }
            rung = rung.saturating_mul(self.reduction_factor);
        }
        false
    }
}

impl Default for Asha {
    fn default() -> Self {
        Asha::new()
    }
}

impl Pruner for Asha {
    fn should_prune(&self, epoch: &Epoch<'_>) -> bool {
        if !self.is_rung(epoch.epoch) || !epoch.value.is_finite() {
            return !epoch.value.is_finite();
        }
        let mut competing: Vec<f64> = epoch
            .trials
            .iter()
            .filter(|t| t.id != epoch.trial)
            .filter_map(|t| epoch.value_of(t))
            .chain([epoch.value])
            .collect();
        competing.sort_by(|a, b| {
            epoch
                .objective
                .as_loss(*a)
                .total_cmp(&epoch.objective.as_loss(*b))
        });
        let keep = (competing.len() / self.reduction_factor).max(1);
        competing
            .get(keep - 1)
            .is_some_and(|&worst_kept| epoch.objective.better(worst_kept, epoch.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::Report;
    use crate::value::Values;

    /// A trial with these objective values, epoch by epoch.
    fn trial(id: usize, status: Status, curve: &[f64]) -> TrialRecord {
        let mut t = TrialRecord::started(format!("{id:04}"), Values::new(), 0, None);
        t.status = status;
        t.reports = curve
            .iter()
            .enumerate()
            .map(|(epoch, &value)| Report {
                execution: 0,
                epoch,
                value,
            })
            .collect();
        t
    }

    fn asks(pruner: &dyn Pruner, trials: &[TrialRecord], epoch: usize, value: f64) -> bool {
        let objective = Objective::max("val_accuracy");
        let id = trials.last().map(|t| t.id.clone()).unwrap_or_default();
        pruner.should_prune(&Epoch {
            trial: &id,
            epoch,
            value,
            objective: &objective,
            trials,
        })
    }

    #[test]
    fn the_median_pruner_stops_a_curve_below_the_median_once_enough_trials_completed() {
        let done = [0.5, 0.6, 0.7, 0.8, 0.9].map(|v| [v - 0.2, v]);
        let mut trials: Vec<TrialRecord> = done
            .iter()
            .enumerate()
            .map(|(i, c)| trial(i, Status::Completed, c))
            .collect();
        trials.push(trial(5, Status::Running, &[0.3]));
        let pruner = MedianPruner::new();
        // Epoch 0: the median of 0.3..0.7 is 0.5; 0.3 is below it, 0.55 is not.
        assert!(asks(&pruner, &trials, 0, 0.3));
        assert!(!asks(&pruner, &trials, 0, 0.55));
        assert!(
            !asks(&MedianPruner::new().warmup_epochs(1), &trials, 0, 0.3),
            "warm-up"
        );
        assert!(
            !asks(&MedianPruner::new().startup_trials(6), &trials, 0, 0.3),
            "too few completed"
        );
        // Its best so far counts: 0.9 at epoch 0 keeps it at epoch 1 despite 0.2.
        let mut lucky = trials.clone();
        lucky[5] = trial(5, Status::Running, &[0.9]);
        assert!(!asks(&pruner, &lucky, 1, 0.2));
    }

    #[test]
    fn asha_keeps_the_best_third_at_each_rung() {
        let asha = Asha::new();
        let rungs: Vec<usize> = (0..30).filter(|&e| asha.is_rung(e)).collect();
        assert_eq!(rungs, [0, 2, 8, 26], "after 1, 3, 9 and 27 epochs");
        assert!(
            !asks(&asha, &[trial(0, Status::Running, &[])], 0, 0.1),
            "the first trial goes on"
        );
        let mut trials: Vec<TrialRecord> = [0.9, 0.8, 0.7, 0.6, 0.5]
            .iter()
            .enumerate()
            .map(|(i, &v)| trial(i, Status::Completed, &[v]))
            .collect();
        trials.push(trial(5, Status::Running, &[]));
        // Six values at the rung keep the best two: 0.9 and 0.8.
        assert!(asks(&asha, &trials, 0, 0.75));
        assert!(!asks(&asha, &trials, 0, 0.85));
        assert!(!asks(&asha, &trials, 1, 0.1), "epoch 1 is no rung");
        assert!(
            asks(&asha, &trials, 1, f64::NAN),
            "a NaN objective is hopeless"
        );
    }
}
