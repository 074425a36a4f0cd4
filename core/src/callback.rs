//! Callbacks: code that runs at the start and end of training, of each epoch and of each
//! batch (training and validation), reads the logs, and can stop training or change the
//! learning rate.

use std::cell::OnceCell;
use std::path::Path;

use burn::tensor::backend::AutodiffBackend;

use crate::logs::Logs;
use crate::optimizer::Optimizer;

/// What a callback's hook returns: `Err` stops training with that error.
pub type CallbackResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// What a callback can see and change while training runs.
pub struct Control<'a, M> {
    pub(crate) model: &'a mut M,
    pub(crate) stop: bool,
    pub(crate) learning_rate: f64,
    /// The optimizer's schedule and decay, and the updates made: the next update's rate.
    pub(crate) optimizer: &'a Optimizer,
    pub(crate) iterations: u64,
    pub(crate) epoch: usize,
    pub(crate) epochs: usize,
    pub(crate) steps: usize,
    /// Whether the fit left this epoch's validation out ([`Fit::validation_freq`](crate::Fit::validation_freq)).
    pub(crate) skipped_validation: bool,
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

    /// The value of `name` in an epoch's `logs`, for a callback watching it: `None` for a
    /// `val_` quantity of an epoch whose validation the fit left out
    /// ([`Fit::validation_freq`](crate::Fit::validation_freq)), to pass over; an error
    /// listing what is logged when it is missing otherwise.
    pub fn watched(&self, logs: &Logs, name: &str) -> Result<Option<f64>, String> {
        match logs.get(name) {
            None if self.skipped_validation && name.starts_with("val_") => Ok(None),
            _ => logs.require(name).map(Some),
        }
    }

    /// The learning rate the next updates use, before the optimizer's schedule and
    /// decay: the optimizer's rate, or its schedule's reference rate
    /// ([`LearningRate::reference`](crate::learning_rate::LearningRate::reference)), as
    /// callbacks have left it.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Sets the learning rate for the next updates. With a schedule
    /// ([`crate::learning_rate`]), every later rate of the schedule is scaled by the new
    /// rate's ratio to [`Control::learning_rate`]'s first value.
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.learning_rate = learning_rate;
    }

    /// The rate the next update uses: [`Control::learning_rate`] through the optimizer's
    /// schedule and decay (what TensorBoard logs).
    pub fn next_learning_rate(&self) -> f64 {
        self.optimizer.decayed(self.learning_rate, self.iterations)
    }

    /// The current epoch (0-based).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The number of epochs `fit` was asked for.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The training batches per epoch.
    pub fn steps(&self) -> usize {
        self.steps
    }
}

/// The running logs of the epoch after a batch, read from the device only when a callback
/// asks (reading waits for the device to finish).
pub struct BatchLogs<'a> {
    read: &'a dyn Fn() -> Logs,
    cache: OnceCell<Logs>,
}

impl<'a> BatchLogs<'a> {
    pub(crate) fn new(read: &'a dyn Fn() -> Logs) -> Self {
        BatchLogs {
            read,
            cache: OnceCell::new(),
        }
    }

    /// The epoch's running loss and metrics so far (which waits for the device).
    pub fn get(&self) -> &Logs {
        self.cache.get_or_init(|| (self.read)())
    }

    /// The same when a callback before this one has read them, without waiting.
    pub fn read(&self) -> Option<&Logs> {
        self.cache.get()
    }
}

/// A hook into `fit`, as Keras's `Callback`. Every method does nothing by default; a
/// callback implements those it needs.
///
/// ```
/// use kiln_core::{BatchLogs, Callback, CallbackResult, Control};
///
/// /// The seed's LossHistory: the loss after every batch.
/// #[derive(Default)]
/// struct LossHistory {
///     losses: Vec<f64>,
/// }
///
/// impl<B: burn::tensor::backend::AutodiffBackend, M> Callback<B, M> for LossHistory {
///     fn on_train_batch_end(&mut self, _batch: usize, logs: &BatchLogs, _control: &mut Control<M>) -> CallbackResult {
///         self.losses.extend(logs.get().get("loss"));
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

    /// Where this callback keeps the training state to resume after a crash, for
    /// `BackupAndRestore`: the trainer saves there after each epoch and resumes from it.
    fn backup_dir(&self) -> Option<&Path> {
        None
    }

    /// Whether the backup stays after `fit` finishes (with [`Callback::backup_dir`]).
    fn keeps_backup(&self) -> bool {
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

    /// Before each training batch.
    fn on_train_batch_begin(&mut self, _batch: usize, _control: &mut Control<M>) -> CallbackResult {
        Ok(())
    }

    /// After each training batch, with the epoch's running logs on demand.
    fn on_train_batch_end(
        &mut self,
        _batch: usize,
        _logs: &BatchLogs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        Ok(())
    }

    /// Before the validation at the end of an epoch.
    fn on_test_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        Ok(())
    }

    /// After the validation, with its logs (`loss` and metrics, without `val_`).
    fn on_test_end(&mut self, _logs: &Logs, _control: &mut Control<M>) -> CallbackResult {
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

    /// Before `Trainer::predict_with` runs.
    fn on_predict_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        Ok(())
    }

    /// After `Trainer::predict_with` ran, with the number of examples predicted.
    fn on_predict_end(&mut self, _examples: usize, _control: &mut Control<M>) -> CallbackResult {
        Ok(())
    }
}

/// Whether higher values of a monitored quantity are better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracies).
    Max,
    /// Max for names ending in `accuracy`, `acc` or `auc`, else min, as Keras decides.
    #[default]
    Auto,
}

impl Mode {
    /// Whether higher values of the quantity `name` are better under this mode.
    ///
    /// ```
    /// use kiln_core::Mode;
    /// assert!(Mode::Auto.higher_is_better("val_accuracy"));
    /// assert!(Mode::Auto.higher_is_better("val_recall"));
    /// assert!(!Mode::Auto.higher_is_better("val_loss"));
    /// assert!(Mode::Max.higher_is_better("val_loss"));
    /// ```
    pub fn higher_is_better(self, name: &str) -> bool {
        match self {
            Mode::Min => false,
            Mode::Max => true,
            Mode::Auto => [
                "accuracy",
                "acc",
                "auc",
                "precision",
                "recall",
                "cosine_similarity",
                "_score",
            ]
            .iter()
            .any(|s| name.ends_with(s)),
        }
    }
}

/// A monitored quantity and the best value seen (shared by EarlyStopping,
/// ModelCheckpoint and ReduceLROnPlateau).
#[derive(Clone, Debug)]
pub(crate) struct Monitor {
    pub name: String,
    pub higher_is_better: bool,
    pub min_delta: f64,
    pub best: f64,
}

impl Monitor {
    pub fn new(name: &str, mode: Mode, min_delta: f64) -> Self {
        let mut m = Monitor {
            name: name.to_string(),
            higher_is_better: mode.higher_is_better(name),
            min_delta: min_delta.abs(),
            best: 0.0,
        };
        m.reset();
        m
    }

    /// Forgets the best value.
    pub fn reset(&mut self) {
        self.best = if self.higher_is_better {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }

    /// The monitored value in `logs`, if the epoch has it: [`Control::watched`].
    pub fn value<M>(&self, logs: &Logs, control: &Control<M>) -> Result<Option<f64>, String> {
        control.watched(logs, &self.name)
    }

    /// Whether `current` improves on `reference` by more than `min_delta`.
    pub fn improves(&self, current: f64, reference: f64) -> bool {
        if self.higher_is_better {
            current - self.min_delta > reference
        } else {
            current + self.min_delta < reference
        }
    }
}

/// A callback lent to `fit` (`.callback(&mut checkpoint)`) works as itself, and stays with
/// its owner to be inspected afterwards.
impl<B: AutodiffBackend, M, C: Callback<B, M> + ?Sized> Callback<B, M> for &mut C {
    fn name(&self) -> String {
        (**self).name()
    }

    fn backup_dir(&self) -> Option<&Path> {
        (**self).backup_dir()
    }

    fn keeps_backup(&self) -> bool {
        (**self).keeps_backup()
    }

    fn on_train_begin(&mut self, control: &mut Control<M>) -> CallbackResult {
        (**self).on_train_begin(control)
    }

    fn on_epoch_begin(&mut self, epoch: usize, control: &mut Control<M>) -> CallbackResult {
        (**self).on_epoch_begin(epoch, control)
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        (**self).on_train_batch_end(batch, logs, control)
    }

    fn on_test_begin(&mut self, control: &mut Control<M>) -> CallbackResult {
        (**self).on_test_begin(control)
    }

    fn on_test_end(&mut self, logs: &Logs, control: &mut Control<M>) -> CallbackResult {
        (**self).on_test_end(logs, control)
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        (**self).on_epoch_end(epoch, logs, control)
    }

    fn on_train_end(&mut self, logs: &Logs, control: &mut Control<M>) -> CallbackResult {
        (**self).on_train_end(logs, control)
    }

    fn on_train_batch_begin(&mut self, batch: usize, control: &mut Control<M>) -> CallbackResult {
        (**self).on_train_batch_begin(batch, control)
    }

    fn on_predict_begin(&mut self, control: &mut Control<M>) -> CallbackResult {
        (**self).on_predict_begin(control)
    }

    fn on_predict_end(&mut self, examples: usize, control: &mut Control<M>) -> CallbackResult {
        (**self).on_predict_end(examples, control)
    }
}
