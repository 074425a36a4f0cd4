//! LambdaCallback: closures for the hooks, without a type of one's own.

use std::fmt;
use std::ops::ControlFlow;

use burn::tensor::backend::AutodiffBackend;

use crate::callback::{BatchLogs, Callback, CallbackResult, Control};
use crate::logs::Logs;

/// Keras's `LambdaCallback`: a closure for each hook it is given, called with what Keras
/// passes (the epoch or batch, and the logs), for a quick print or record. The epoch and
/// batch closures may stop training, as Keras's setting `model.stop_training`: one that
/// returns [`ControlFlow::Break`] stops it after that batch (from `on_train_batch_end`),
/// after that epoch (from `on_epoch_end`), or, as Keras's loop, after the epoch's first
/// batch (from `on_epoch_begin`); one that returns nothing never does.
///
/// ```
/// use std::ops::ControlFlow;
/// use kiln_core::callbacks::LambdaCallback;
/// let stop_below = LambdaCallback::new().on_epoch_end(|_epoch, logs| {
///     match logs.get("loss") {
///         Some(loss) if loss < 0.01 => ControlFlow::Break(()),
///         _ => ControlFlow::Continue(()),
///     }
/// });
/// ```
///
/// ```
/// use kiln_core::callbacks::LambdaCallback;
/// let mut losses = Vec::new();
/// let record = LambdaCallback::new().on_epoch_end(|_epoch, logs| losses.extend(logs.get("loss")));
/// ```
#[derive(Default)]
pub struct LambdaCallback<'a> {
    train_begin: Option<Box<dyn FnMut() + 'a>>,
    epoch_begin: Option<Box<dyn FnMut(usize) -> Flow + 'a>>,
    batch_end: Option<Box<BatchHook<'a>>>,
    epoch_end: Option<Box<EpochHook<'a>>>,
    train_end: Option<Box<EndHook<'a>>>,
}

/// Whether a hook lets training go on.
type Flow = ControlFlow<()>;
/// What `on_train_batch_end` calls.
type BatchHook<'a> = dyn FnMut(usize, &BatchLogs) -> Flow + 'a;
/// What `on_epoch_end` calls.
type EpochHook<'a> = dyn FnMut(usize, &Logs) -> Flow + 'a;

/// What a [`LambdaCallback`] closure of an epoch or batch may return: nothing (training
/// goes on) or a [`ControlFlow`], whose `Break` stops training.
pub trait HookFlow {
    /// The flow this return value asks for.
    fn flow(self) -> ControlFlow<()>;
}

impl HookFlow for () {
    fn flow(self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl HookFlow for ControlFlow<()> {
    fn flow(self) -> ControlFlow<()> {
        self
    }
}
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

    /// Called with each epoch before it starts; `Break` stops training after its first
    /// batch, as Keras's loop does.
    pub fn on_epoch_begin<R: HookFlow>(mut self, mut f: impl FnMut(usize) -> R + 'a) -> Self {
        self.epoch_begin = Some(Box::new(move |epoch| f(epoch).flow()));
        self
    }

    /// Called after each training batch with its number in the epoch and the epoch's
    /// running logs (read from the device only if the closure asks); `Break` stops
    /// training after this batch.
    pub fn on_train_batch_end<R: HookFlow>(
        mut self,
        mut f: impl FnMut(usize, &BatchLogs) -> R + 'a,
    ) -> Self {
        self.batch_end = Some(Box::new(move |batch, logs| f(batch, logs).flow()));
        self
    }

    /// Called after each epoch with its logs (`val_` values included); `Break` stops
    /// training.
    pub fn on_epoch_end<R: HookFlow>(mut self, mut f: impl FnMut(usize, &Logs) -> R + 'a) -> Self {
        self.epoch_end = Some(Box::new(move |epoch, logs| f(epoch, logs).flow()));
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

    fn on_epoch_begin(&mut self, epoch: usize, control: &mut Control<M>) -> CallbackResult {
        if let Some(f) = &mut self.epoch_begin {
            follow(f(epoch), control);
        }
        Ok(())
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        if let Some(f) = &mut self.batch_end {
            follow(f(batch, logs), control);
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        if let Some(f) = &mut self.epoch_end {
            follow(f(epoch, logs), control);
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

/// Stops training when a hook's closure asked.
fn follow<M>(flow: Flow, control: &mut Control<M>) {
    if flow.is_break() {
        control.stop_training();
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
