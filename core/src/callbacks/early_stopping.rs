//! EarlyStopping: stops when a monitored quantity has stopped improving.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use crate::callback::{Callback, CallbackResult, Control, Mode, Monitor};
use crate::logs::Logs;
use crate::save::{Snapshot, restore, snapshot};

/// Stops training when `monitor` has not improved by `min_delta` for `patience` epochs,
/// as Keras's `EarlyStopping`; optionally restores the best epoch's weights at the end.
///
/// ```
/// use kiln_core::callbacks::EarlyStopping;
/// let stop = EarlyStopping::monitor("val_loss").patience(3).restore_best_weights(true);
/// ```
#[derive(Debug)]
pub struct EarlyStopping {
    monitor: Monitor,
    mode: Mode,
    patience: usize,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    wait: usize,
    best_weights: Option<Snapshot>,
    best_epoch: Option<usize>,
    stopped_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Watches `name` (`val_loss`, `val_accuracy`, ...); Keras's defaults: no patience,
    /// no minimum change, mode from the name.
    pub fn monitor(name: &str) -> Self {
        EarlyStopping {
            monitor: Monitor::new(name, Mode::Auto, 0.0),
            mode: Mode::Auto,
            patience: 0,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            wait: 0,
            best_weights: None,
            best_epoch: None,
            stopped_epoch: None,
        }
    }

    /// Epochs without improvement to wait before stopping.
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

    /// A value the quantity must beat: training stops if it does not within `patience`.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Whether to put back the weights of the best epoch when training ends, stopped early
    /// or not, as Keras 3 does (after the optimizer's moving average, if any, is put in
    /// the weights).
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// The epoch from which to start watching (warm-up epochs before it are ignored).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The epoch training stopped at, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch with the best value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Callback<B, M> for EarlyStopping {
    fn on_train_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        self.wait = 0;
        self.monitor.reset();
        self.best_weights = None;
        self.best_epoch = None;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        let Some(current) = self.monitor.value(logs, control)? else {
            return Ok(()); // an epoch without validation
        };
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.restore_best_weights && self.best_weights.is_none() {
            // The first watched epoch is the best so far until another beats it.
            self.best_weights = Some(snapshot(control.model())?);
        }
        self.wait += 1;
        if self.monitor.improves(current, self.monitor.best) {
            self.monitor.best = current;
            self.best_epoch = Some(epoch);
            if self.restore_best_weights {
                self.best_weights = Some(snapshot(control.model())?);
            }
            if self
                .baseline
                .is_none_or(|b| self.monitor.improves(current, b))
            {
                self.wait = 0;
                return Ok(());
            }
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            control.stop_training();
        }
        Ok(())
    }

    fn on_train_end(&mut self, _logs: &Logs, control: &mut Control<M>) -> CallbackResult {
        match &self.best_weights {
            Some(best) => Ok(restore(control.model_mut(), best)?),
            None => Ok(()),
        }
    }
}

crate::callbacks::into_box!(EarlyStopping where M: AutodiffModule<B>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::testing::{control, logs, script};

    fn run(stop: &mut EarlyStopping, values: &[f64], name: &str) -> Vec<usize> {
        let epochs: Vec<Logs> = values.iter().map(|&v| logs(name, v)).collect();
        script(stop, &epochs, 0.1).0
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        // Keras: best 0.5 at epoch 1; epochs 2, 3 and 4 do not improve; with patience 3 it
        // stops after epoch 4.
        let mut stop = EarlyStopping::monitor("val_loss").patience(3);
        assert_eq!(
            run(&mut stop, &[1.0, 0.5, 0.6, 0.55, 0.7, 0.1, 0.1], "val_loss"),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(
            (stop.best_epoch(), stop.stopped_epoch()),
            (Some(1), Some(4))
        );
    }

    #[test]
    fn modes_deltas_baselines_and_warm_up() {
        // accuracy is maximised: 0.8 then no gain.
        let mut stop = EarlyStopping::monitor("val_accuracy").patience(1);
        assert_eq!(
            run(&mut stop, &[0.7, 0.8, 0.79, 0.9], "val_accuracy"),
            [0, 1, 2]
        );
        // A gain smaller than min_delta does not count.
        let mut stop = EarlyStopping::monitor("loss").min_delta(0.1).patience(1);
        assert_eq!(run(&mut stop, &[1.0, 0.95, 0.5], "loss"), [0, 1]);
        // Never beating the baseline stops after patience epochs.
        let mut stop = EarlyStopping::monitor("loss").baseline(0.1).patience(2);
        assert_eq!(run(&mut stop, &[1.0, 0.9, 0.8, 0.7], "loss"), [0, 1]);
        // Epochs before start_from_epoch are not watched.
        let mut stop = EarlyStopping::monitor("loss").start_from_epoch(2);
        assert_eq!(
            run(&mut stop, &[1.0, 2.0, 3.0, 2.0, 2.5], "loss"),
            [0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn a_missing_quantity_is_an_error_listing_the_logs() {
        let mut stop = EarlyStopping::monitor("val_loss");
        let mut model = 0usize;
        let mut control = control(&mut model, 0.1, 1);
        let err = <EarlyStopping as Callback<crate::testing::TestAutodiff, usize>>::on_epoch_end(
            &mut stop,
            0,
            &logs("loss", 1.0),
            &mut control,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`val_loss` is not logged; the logs hold: loss"
        );
    }
}
