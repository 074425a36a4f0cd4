//! ProgbarLogger: Keras's progress display as a callback; `fit` adds one for its
//! verbosity.

use burn::tensor::backend::AutodiffBackend;

use crate::callback::{BatchLogs, Callback, CallbackResult, Control};
use crate::logs::Logs;
use crate::progress::{Progress, Verbosity};

/// Prints `Epoch 3/10`, a progress bar with the step count, ETA and running logs, and one
/// summary line per epoch (only the lines when the output is not a terminal).
pub struct ProgbarLogger {
    progress: Progress,
}

impl ProgbarLogger {
    /// A progress display at `verbosity`.
    pub fn new(verbosity: Verbosity) -> Self {
        ProgbarLogger {
            progress: Progress::new(verbosity),
        }
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for ProgbarLogger {
    fn on_epoch_begin(&mut self, epoch: usize, control: &mut Control<M>) -> CallbackResult {
        self.progress
            .begin_epoch(epoch, control.epochs(), control.steps());
        Ok(())
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        let logs = self.progress.wants_logs().then(|| logs.get());
        self.progress.step(batch + 1, logs);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        self.progress.end_epoch(logs);
        Ok(())
    }
}

crate::callbacks::into_box!(ProgbarLogger where M: 'a);
