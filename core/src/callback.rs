//! Callbacks: code that runs at the start and end of training, of each epoch and of each
//! batch, reads the logs, and can stop training or change the learning rate.

use burn::tensor::backend::AutodiffBackend;

use crate::logs::Logs;

/// What a callback's hook returns: `Err` stops training with that error.
pub type CallbackResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// What a callback can see and change while training runs.
pub struct Control<'a, M> {
    pub(crate) model: &'a mut M,
    pub(crate) stop: bool,
    pub(crate) learning_rate: f64,
    pub(crate) epoch: usize,
}

impl<M> Control<'_, M> {
    /// The model being trained.
    pub fn model(&self) -> &M {
        self.model
    }

    /// The model, to replace its weights (restoring the best ones, say).
    pub fn model_mut(&mut self) -> &mut M {
        self.model
    }

    /// Stops training after the current epoch (after the current batch, from a batch hook).
    pub fn stop_training(&mut self) {
        self.stop = true;
    }

    /// Whether training will stop.
    pub fn stopping(&self) -> bool {
        self.stop
    }

    /// The learning rate the next updates use (before the optimizer's own decay).
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Sets the learning rate for the next updates.
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.learning_rate = learning_rate;
    }

    /// The current epoch (0-based).
    pub fn epoch(&self) -> usize {
        self.epoch
    }
}

/// A hook into `fit`, as Keras's `Callback`. Every method does nothing by default; a
/// callback implements those it needs.
///
/// ```
/// use kiln_core::{Callback, CallbackResult, Control, Logs};
///
/// /// The seed's LossHistory: the loss after every batch.
/// #[derive(Default)]
/// struct LossHistory {
///     losses: Vec<f64>,
/// }
///
/// impl<B: burn::tensor::backend::AutodiffBackend, M> Callback<B, M> for LossHistory {
///     fn wants_batch_logs(&self) -> bool {
///         true
///     }
///
///     fn on_train_batch_end(&mut self, _batch: usize, logs: &Logs, _control: &mut Control<M>) -> CallbackResult {
///         self.losses.extend(logs.get("loss"));
///         Ok(())
///     }
/// }
/// ```
pub trait Callback<B: AutodiffBackend, M> {
    /// A name for messages.
    fn name(&self) -> String {
        std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("callback")
            .to_string()
    }

    /// Whether [`Callback::on_train_batch_end`] needs the running logs of each batch
    /// (reading them waits for the device, so it is done only when asked).
    fn wants_batch_logs(&self) -> bool {
        false
    }

    /// Before the first epoch.
    fn on_train_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        Ok(())
    }

    /// Before each epoch.
    fn on_epoch_begin(&mut self, _epoch: usize, _control: &mut Control<M>) -> CallbackResult {
        Ok(())
    }

    /// After each training batch, with the epoch's running logs so far when
    /// [`Callback::wants_batch_logs`] (else empty logs).
    fn on_train_batch_end(
        &mut self,
        _batch: usize,
        _logs: &Logs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        Ok(())
    }

    /// After each epoch, with its logs (`loss`, metrics, `val_` values).
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &Logs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        Ok(())
    }

    /// After the last epoch, with its logs.
    fn on_train_end(&mut self, _logs: &Logs, _control: &mut Control<M>) -> CallbackResult {
        Ok(())
    }
}
