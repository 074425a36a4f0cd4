//! TerminateOnNaN: stops training as soon as the loss is no longer a number.

use burn::tensor::backend::AutodiffBackend;

use crate::callback::{BatchLogs, Callback, CallbackResult, Control};

/// Stops training at the first batch whose running loss is NaN or infinite, saying which
/// batch, as Keras's `TerminateOnNaN`. (It reads the loss after every batch, which waits
/// for the device each time.)
#[derive(Clone, Debug, Default)]
pub struct TerminateOnNan {
    stopped_at: Option<(usize, usize)>,
}

impl TerminateOnNan {
    /// A new callback.
    pub fn new() -> Self {
        TerminateOnNan::default()
    }

    /// The `(epoch, batch)` where training was stopped, if it was.
    pub fn stopped_at(&self) -> Option<(usize, usize)> {
        self.stopped_at
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for TerminateOnNan {
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        if let Some(loss) = logs.get().get("loss").filter(|l| !l.is_finite()) {
            eprintln!(
                "TerminateOnNaN: the loss is {loss} after batch {batch} of epoch {}; training stopped",
                control.epoch() + 1
            );
            self.stopped_at = Some((control.epoch(), batch));
            control.stop_training();
        }
        Ok(())
    }
}

crate::callbacks::into_box!(TerminateOnNan where M: 'a);
