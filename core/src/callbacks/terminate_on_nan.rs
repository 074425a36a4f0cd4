//! TerminateOnNaN: stops training as soon as the loss is no longer a number.

use burn::tensor::backend::AutodiffBackend;

use crate::callback::{BatchLogs, Callback, CallbackResult, Control};
use crate::logs::Logs;

/// Stops training at the first batch whose running loss is NaN or infinite, saying which
/// batch, as Keras's `TerminateOnNaN`.
///
/// Reading the loss waits for the device. On the CPU it reads it after every batch; on a
/// backend that [compiles its kernels](crate::backend::compiles_kernels) (CUDA), whose
/// steps run ahead of the host, only when another callback has read it (the progress
/// bar, at each refresh) and at the epoch's end. The running loss stays NaN once a batch
/// made it so, so it is caught then, a few batches later. [`TerminateOnNan::every_batch`]
/// chooses.
#[derive(Clone, Debug, Default)]
pub struct TerminateOnNan {
    stopped_at: Option<(usize, usize)>,
    every_batch: Option<bool>,
    /// The epoch's last batch so far.
    last_batch: usize,
}

impl TerminateOnNan {
    /// A new callback.
    pub fn new() -> Self {
        TerminateOnNan::default()
    }

    /// Whether to read the loss after every batch (`true`), or only when another
    /// callback read it and at each epoch's end (`false`); by default, every batch unless
    /// the backend compiles its kernels.
    pub fn every_batch(mut self, every: bool) -> Self {
        self.every_batch = Some(every);
        self
    }

    /// Stops `control`'s training when `logs`' loss is not finite, after `batch` of the
    /// epoch (once a fit).
    fn check<M>(&mut self, logs: &Logs, batch: usize, control: &mut Control<M>) {
        if self.stopped_at.is_some() {
            return;
        }
        if let Some(loss) = logs.get("loss").filter(|l| !l.is_finite()) {
            eprintln!(
                "TerminateOnNaN: the loss is {loss} after batch {batch} of epoch {}; training stopped",
                control.epoch() + 1
            );
            self.stopped_at = Some((control.epoch(), batch));
            control.stop_training();
        }
    }

    /// The `(epoch, batch)` where training was stopped, if it was.
    pub fn stopped_at(&self) -> Option<(usize, usize)> {
        self.stopped_at
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for TerminateOnNan {
    fn on_train_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        self.stopped_at = None; // a new fit: it may stop again
        Ok(())
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        self.last_batch = batch;
        let every = (self.every_batch).unwrap_or_else(|| !crate::backend::compiles_kernels::<B>());
        let read = if every { Some(logs.get()) } else { logs.read() };
        if let Some(logs) = read {
            self.check(logs, batch, control);
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        self.check(logs, self.last_batch, control);
        Ok(())
    }
}

crate::callbacks::into_box!(TerminateOnNan where M: 'a);
