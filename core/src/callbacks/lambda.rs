//! LambdaCallback: closures for the hooks, without a type of one's own.

use std::fmt;

use burn::tensor::backend::AutodiffBackend;

use crate::callback::{BatchLogs, Callback, CallbackResult, Control};
use crate::logs::Logs;

/// Keras's `LambdaCallback`: a closure for each hook it is given, called with what Keras
/// passes (the epoch or batch, and the logs), for a quick print or record.
///
/// ```
/// use kiln_core::callbacks::LambdaCallback;
/// let mut losses = Vec::new();
/// let record = LambdaCallback::new().on_epoch_end(|_epoch, logs| losses.extend(logs.get("loss")));
/// ```
#[derive(Default)]
pub struct LambdaCallback<'a> {
    train_begin: Option<Box<dyn FnMut() + 'a>>,
    epoch_begin: Option<Box<dyn FnMut(usize) + 'a>>,
    batch_end: Option<Box<BatchHook<'a>>>,
    epoch_end: Option<Box<EpochHook<'a>>>,
    train_end: Option<Box<EndHook<'a>>>,
}

/// What `on_train_batch_end` calls.
type BatchHook<'a> = dyn FnMut(usize, &BatchLogs) + 'a;
/// What `on_epoch_end` calls.
type EpochHook<'a> = dyn FnMut(usize, &Logs) + 'a;
/// What `on_train_end` calls.
type EndHook<'a> = dyn FnMut(&Logs) + 'a;

impl<'a> LambdaCallback<'a> {
    /// No hook yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Called before the first epoch.
    pub fn on_train_begin(mut self, f: impl FnMut() + 'a) -> Self {
        self.train_begin = Some(Box::new(f));
        self
    }

    /// Called with each epoch before it starts.
    pub fn on_epoch_begin(mut self, f: impl FnMut(usize) + 'a) -> Self {
        self.epoch_begin = Some(Box::new(f));
        self
    }

    /// Called after each training batch with its number in the epoch and the epoch's
    /// running logs (read from the device only if the closure asks).
    pub fn on_train_batch_end(mut self, f: impl FnMut(usize, &BatchLogs) + 'a) -> Self {
        self.batch_end = Some(Box::new(f));
        self
    }

    /// Called after each epoch with its logs (`val_` values included).
    pub fn on_epoch_end(mut self, f: impl FnMut(usize, &Logs) + 'a) -> Self {
        self.epoch_end = Some(Box::new(f));
        self
    }

    /// Called after the last epoch with its logs.
    pub fn on_train_end(mut self, f: impl FnMut(&Logs) + 'a) -> Self {
        self.train_end = Some(Box::new(f));
        self
    }
}

impl fmt::Debug for LambdaCallback<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaCallback")
            .field("on_train_begin", &self.train_begin.is_some())
            .field("on_epoch_begin", &self.epoch_begin.is_some())
            .field("on_train_batch_end", &self.batch_end.is_some())
            .field("on_epoch_end", &self.epoch_end.is_some())
            .field("on_train_end", &self.train_end.is_some())
            .finish()
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for LambdaCallback<'_> {
    fn on_train_begin(&mut self, _control: &mut Control<M>) -> CallbackResult {
        if let Some(f) = &mut self.train_begin {
            f();
        }
        Ok(())
    }

    fn on_epoch_begin(&mut self, epoch: usize, _control: &mut Control<M>) -> CallbackResult {
        if let Some(f) = &mut self.epoch_begin {
            f(epoch);
        }
        Ok(())
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        if let Some(f) = &mut self.batch_end {
            f(batch, logs);
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        if let Some(f) = &mut self.epoch_end {
            f(epoch, logs);
        }
        Ok(())
    }

    fn on_train_end(&mut self, logs: &Logs, _control: &mut Control<M>) -> CallbackResult {
        if let Some(f) = &mut self.train_end {
            f(logs);
        }
        Ok(())
    }
}

crate::callbacks::into_box!(LambdaCallback<'a> where M: 'a);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::testing::{logs, script};

    #[test]
    fn calls_each_closure_it_is_given_with_keras_s_arguments() {
        // Two closures recording in one list share it through a RefCell.
        let epochs = std::cell::RefCell::new(Vec::new());
        let (mut begun, mut ended) = (0, None);
        {
            let mut lambda = LambdaCallback::new()
                .on_train_begin(|| begun += 1)
                .on_epoch_begin(|epoch| epochs.borrow_mut().push((epoch, None)))
                .on_epoch_end(|epoch, l| epochs.borrow_mut().push((epoch, l.get("loss"))));
            let seen: Vec<Logs> = [0.5, 0.25].iter().map(|&v| logs("loss", v)).collect();
            script(&mut lambda, &seen, 0.1);
            let mut model = 0usize;
            let mut control = crate::callbacks::testing::control(&mut model, 0.1, 2);
            <LambdaCallback as Callback<crate::testing::TestAutodiff, usize>>::on_train_end(
                &mut LambdaCallback::new().on_train_end(|l| ended = l.get("loss")),
                &logs("loss", 0.25),
                &mut control,
            )
            .unwrap();
        }
        assert_eq!(begun, 1);
        assert_eq!(
            epochs.into_inner(),
            [(0, None), (0, Some(0.5)), (1, None), (1, Some(0.25))]
        );
        assert_eq!(ended, Some(0.25));
    }
}
