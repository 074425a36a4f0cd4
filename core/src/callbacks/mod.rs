//! Keras's callbacks: EarlyStopping, ModelCheckpoint, CSVLogger, LearningRateScheduler,
//! ReduceLROnPlateau, TerminateOnNaN, BackupAndRestore, TensorBoard, ProgbarLogger and
//! LambdaCallback.

mod backup;
mod checkpoint;
mod csv_logger;
mod early_stopping;
mod lambda;
mod progbar;
mod schedule;
pub mod tensorboard;
mod terminate_on_nan;

pub use backup::BackupAndRestore;
pub use checkpoint::ModelCheckpoint;
pub use csv_logger::CsvLogger;
pub use early_stopping::EarlyStopping;
pub use lambda::{HookFlow, LambdaCallback};
pub use progbar::ProgbarLogger;
pub use schedule::{LearningRateScheduler, ReduceLrOnPlateau};
pub use tensorboard::{TensorBoard, read_events};
pub use terminate_on_nan::TerminateOnNan;

/// `callback.into()` for `Fit::callbacks([...])`, for each callback type with the bounds
/// its hooks need.
macro_rules! into_box {
    ($ty:ty where M: $($bound:tt)+) => {
        impl<'a, B, M> From<$ty> for Box<dyn crate::callback::Callback<B, M> + 'a>
        where
            B: burn::tensor::backend::AutodiffBackend,
            M: $($bound)+,
            $ty: crate::callback::Callback<B, M> + 'a,
        {
            fn from(callback: $ty) -> Self {
                Box::new(callback)
            }
        }
    };
}
pub(crate) use into_box;

/// Test helpers: drive a callback with scripted logs, as `fit` would.
#[cfg(test)]
pub(crate) mod testing {
    use crate::callback::{Callback, Control};
    use crate::logs::Logs;
    use crate::testing::TestAutodiff;

    /// Logs with one value.
    pub fn logs(name: &str, value: f64) -> Logs {
        let mut l = Logs::new();
        l.insert(name, value);
        l
    }

    /// What `fit` hands a callback at its first epoch of `epochs`: `model`, one step per
    /// epoch, this learning rate.
    pub fn control<M>(model: &mut M, learning_rate: f64, epochs: usize) -> Control<'_, M> {
        Control {
            model,
            stop: false,
            learning_rate,
            // A constant rate, leaked for the control's lifetime (tests only).
            optimizer: Box::leak(Box::new(
                crate::Sgd::new().learning_rate(learning_rate).into(),
            )),
            iterations: 0,
            epoch: 0,
            epochs,
            steps: 1,
            skipped_validation: false,
        }
    }

    /// Runs `callback` over epochs with these logs on a unit model; returns the epochs it
    /// ran (stopping when asked) and the learning rate before each epoch.
    pub fn script<C: Callback<TestAutodiff, usize>>(
        callback: &mut C,
        epochs: &[Logs],
        learning_rate: f64,
    ) -> (Vec<usize>, Vec<f64>) {
        let mut model = 0usize;
        let mut control = control(&mut model, learning_rate, epochs.len());
        callback.on_train_begin(&mut control).unwrap();
        let mut ran = Vec::new();
        let mut rates = Vec::new();
        for (epoch, l) in epochs.iter().enumerate() {
            if control.stop {
                break;
            }
            control.epoch = epoch;
            callback.on_epoch_begin(epoch, &mut control).unwrap();
            rates.push(control.learning_rate);
            callback.on_epoch_end(epoch, l, &mut control).unwrap();
            ran.push(epoch);
        }
        (ran, rates)
    }
}
