//! [`Trainer::fit`] along its seams: the plan (what trains and validates on what, checked
//! first), the resume from a backup, the epochs, one epoch's batches, one update, the
//! validation and the backup; the callbacks run through one loop, [`call_each`].

use std::ops::{ControlFlow, Range};

use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use kiln_datasets::{Augment, Dataset, HostBatch, Loader, Remainder, TargetKind};

use super::{CallbackHook, Fit, Totals, Trainer, WarmUp, batch_sums, evaluate_with, target};
use crate::backend::on_kernel_threads;
use crate::backup::{Backup, BackupState};
use crate::callback::{BatchLogs, Callback, Control};
use crate::callbacks::ProgbarLogger;
use crate::error::TrainError;
use crate::history::History;
use crate::logs::Logs;
use crate::loss::{Counted, Objective, Output, Target};
use crate::metric::Reported;
use crate::model::{Batch, Model};
use crate::optimizer::{Optimizer, Stepper};
use crate::progress::Verbosity;
use crate::subset::Subset;

/// Calls `hook` on each of `callbacks` in order with `control`; the first failure stops
/// the calls and is an error naming its callback.
pub(super) fn call_each<'h, 'o: 'h, B: AutodiffBackend + 'h, M: 'h>(
    callbacks: impl IntoIterator<Item = &'h mut (dyn Callback<B, M> + 'o)>,
    control: &mut Control<M>,
    hook: &mut CallbackHook<'_, B, M>,
) -> Result<(), TrainError> {
    for c in callbacks {
        hook(c, control).map_err(|source| TrainError::Callback {
            name: c.name(),
            source,
        })?;
    }
    Ok(())
}

/// The error for a model lost by an update that panicked.
pub(super) fn lost() -> TrainError {
    TrainError::Setting(super::TAKEN.into())
}

/// A fit's callbacks and what they may change: whether to stop, the learning rate.
struct Hooks<'c, B: AutodiffBackend, M> {
    callbacks: Vec<Box<dyn Callback<B, M> + 'c>>,
    stop: bool,
    learning_rate: f64,
    /// The optimizer's schedule and decay, and the updates made: the next update's rate.
    optimizer: Optimizer,
    iterations: u64,
    epochs: usize,
    steps: usize,
    /// Whether this epoch's validation was left out ([`Fit::validation_freq`]).
    skipped_validation: bool,
}

impl<B: AutodiffBackend, M> Hooks<'_, B, M> {
    /// Runs `hook` on every callback at `epoch`, keeping what they set.
    fn call(
        &mut self,
        model: &mut M,
        epoch: usize,
        hook: &mut CallbackHook<'_, B, M>,
    ) -> Result<(), TrainError> {
        let mut control = Control {
            model,
            stop: self.stop,
            learning_rate: self.learning_rate,
            optimizer: &self.optimizer,
            iterations: self.iterations,
            epoch,
            epochs: self.epochs,
            steps: self.steps,
            skipped_validation: self.skipped_validation,
        };
        call_each(
            self.callbacks.iter_mut().map(|c| c.as_mut()),
            &mut control,
            hook,
        )?;
        (self.stop, self.learning_rate) = (control.stop, control.learning_rate);
        Ok(())
    }

    /// The backup of the callback that keeps one (`BackupAndRestore`; the last one when
    /// there are several, as a tuner adds its own after the user's), and whether it stays
    /// after training.
    fn backup(&self) -> Option<(Backup, bool)> {
        self.callbacks
            .iter()
            .rev()
            .find_map(|c| c.backup_dir().map(|d| (Backup::new(d), c.keeps_backup())))
    }
}

/// What a fit trains and validates on: Keras holds out the last fraction of the data,
/// before any shuffling, unless validation data is given.
struct Split<'d, 'v, D: ?Sized> {
    train: Subset<'d, D>,
    held_out: Subset<'d, D>,
    given: Option<&'v (dyn Dataset + 'v)>,
    hold_out: bool,
    /// Validate after every `every`th epoch ([`Fit::validation_freq`]).
    every: usize,
}

impl<'d, 'v, D: Dataset + ?Sized> Split<'d, 'v, D> {
    fn new<B: AutodiffBackend, M>(data: &'d D, fit: &Fit<'v, B, M>) -> Result<Self, TrainError> {
        if !(0.0..1.0).contains(&fit.validation_split) {
            return Err(TrainError::Setting(format!(
                "validation_split must be in [0, 1), got {}",
                fit.validation_split
            )));
        }
        if fit.validation_freq == 0 {
            return Err(TrainError::Setting(
                "validation_freq must be at least 1 (validate after every n-th epoch), got 0"
                    .into(),
            ));
        }
        super::check_sample_weights(data, "data given to fit")?;
        if let Some(given) = fit.validation_data {
            super::check_sample_weights(given, "validation data")?;
        }
        let train_len = match fit.validation_data {
            Some(_) => data.len(),
            None => ((data.len() as f64) * (1.0 - fit.validation_split)) as usize,
        };
        Ok(Split {
            train: Subset::new(data, 0..train_len),
            held_out: Subset::new(data, train_len..data.len()),
            given: fit.validation_data,
            hold_out: fit.validation_split > 0.0,
            every: fit.validation_freq,
        })
    }

    fn validation(&self) -> Option<&dyn Dataset> {
        match self.given {
            Some(v) => Some(v),
            None if self.hold_out => Some(&self.held_out),
            None => None,
        }
    }
}

/// The most bytes of training examples, as `f32`, that `fit` puts on a GPU by default
/// ([`Fit::data_on_device`]): CIFAR-10's 614 MB, not a size that would crowd a small GPU.
const DEVICE_DATA_BYTES: usize = 1 << 30;

/// How a fit feeds the model, checked before it starts.
struct Plan {
    /// Whether the training examples are on the device ([`Fit::data_on_device`]).
    examples_on_device: bool,
    example: Vec<Vec<usize>>,
    val_example: Vec<Vec<usize>>,
    loader: Loader,
    kind: TargetKind,
    batch_size: usize,
    /// Examples per validation batch ([`Fit::validation_batch_size`]).
    val_batch_size: usize,
    seed: u64,
}

/// What changes as a fit runs: the model (out of the trainer while it trains), the
/// optimizer's state and the history.
struct Run<B: AutodiffBackend, M: AutodiffModule<B>> {
    model: Option<M>,
    stepper: Stepper<B, M>,
    history: History,
    warm_up: Option<WarmUp>,
    /// Every training example as rows on the device, with [`Fit::data_on_device`].
    examples: Option<Tensor<B, 2>>,
    #[cfg(feature = "distributed")]
    peers: Option<super::parallel::Peers<B, M>>,
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Run<B, M> {
    fn model(&self) -> Result<&M, TrainError> {
        self.model.as_ref().ok_or_else(lost)
    }

    fn model_mut(&mut self) -> Result<&mut M, TrainError> {
        self.model.as_mut().ok_or_else(lost)
    }

    /// Whether this process runs the callbacks and validation: all but the followers of
    /// a data-parallel run.
    fn leads(&self) -> bool {
        #[cfg(feature = "distributed")]
        if let Some(peers) = &self.peers {
            return peers.leads();
        }
        true
    }

    /// At an epoch's end in a data-parallel run of several processes: whether training
    /// stops, this process's `stop` or the leader's (see [`super::parallel::Peers`]).
    #[cfg_attr(not(feature = "distributed"), allow(clippy::unused_self))]
    fn epoch_end(&mut self, stop: bool) -> Result<bool, TrainError> {
        #[cfg(feature = "distributed")]
        if let Some(peers) = self.peers.as_mut().filter(|p| p.between_processes()) {
            let model = self.model.as_ref().ok_or_else(lost)?.clone();
            let (model, stop) = peers.epoch_end(model, stop)?;
            self.model = Some(model);
            return Ok(stop);
        }
        Ok(stop)
    }

    /// After the last epoch of a data-parallel run of several processes: the leader's
    /// stop, or one last exchange.
    #[cfg_attr(
        not(feature = "distributed"),
        allow(unused_variables, clippy::unused_self)
    )]
    fn last(&mut self, stop: bool) -> Result<(), TrainError> {
        #[cfg(feature = "distributed")]
        if let Some(peers) = &mut self.peers {
            return peers.last(stop);
        }
        Ok(())
    }

    /// What sets this process's random draws apart from the others' (0 when alone).
    fn rank(&self) -> u64 {
        #[cfg(feature = "distributed")]
        if let Some(peers) = &self.peers {
            return u64::from(peers.rank());
        }
        0
    }
}

/// Checks that `augment` can transform the examples (images of a one-input model).
fn augmentable(example: &[Vec<usize>], augment: &Augment) -> Result<(), TrainError> {
    let [image] = example else {
        return Err(TrainError::Setting(format!(
            "augmentation transforms images [channels, height, width] of a model with one input, but the examples are {}",
            example
                .iter()
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>()
                .join(" and ")
        )));
    };
    let &[c, h, w] = image.as_slice() else {
        return Err(TrainError::Setting(format!(
            "augmentation transforms images [channels, height, width], but the examples are {image:?}"
        )));
    };
    augment
        .check([c, h, w])
        .map_err(|e| TrainError::Setting(e.to_string()))
}

/// What an update feeds the model besides its weights.
pub(super) struct Feed<'a, BB: Backend> {
    pub example: &'a [Vec<usize>],
    pub kind: &'a TargetKind,
    pub loss: Objective,
    pub metrics: &'a [Reported],
    pub device: &'a BB::Device,
    /// Every training example as rows on the device, when they are there.
    pub examples: Option<&'a Tensor<BB, 2>>,
}

/// The gradients of the loss on `rows` of `batch`, weighted by their share of it (so the
/// shards' gradients sum to the whole batch's), and the sums those rows add to the epoch's
/// totals. A worker with no rows (a batch shorter than the workers) runs the whole batch
/// at weight 0, so it makes the same sums as the others and BatchNormalization sees a
/// real batch.
pub(super) fn gradients<B, M>(
    model: &M,
    batch: &HostBatch,
    rows: Range<usize>,
    feed: &Feed<'_, B>,
) -> (Tensor<B::InnerBackend, 1>, GradientsParams)
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
{
    let mut x = match feed.examples {
        Some(all) => batch.rows_of(all),
        None => batch.rows::<B>(feed.device),
    };
    let mut target = target::<B>(batch, feed.kind, feed.device);
    let mut weights = batch.weights.as_deref();
    let share = rows.len() as f64 / batch.len as f64;
    if !rows.is_empty() && rows.len() != batch.len {
        let (start, len) = (rows.start, rows.len());
        x = x.narrow(0, start, len);
        target = match target {
            Target::Classes(c, n) => Target::Classes(c.narrow(0, start, len), n),
            Target::Values(v) => Target::Values(v.narrow(0, start, len)),
        };
        weights = weights.map(|w| &w[rows.clone()]);
    }
    let examples = x.dims()[0];
    let forward = model.forward_train(<M::Input as Batch<B>>::from_rows(x, feed.example));
    let output = Output {
        logits: forward.logits.into_rows(),
        activation: forward.activation,
    };
    let counted = Counted::new(examples, examples, weights, feed.device);
    let mut loss = feed.loss.counted(&output, &target, counted.as_ref());
    if let Some(penalty) = forward.penalty {
        loss = loss + penalty;
    }
    let detached = Output {
        logits: output.logits.clone().inner(),
        activation: output.activation,
    };
    let detached_target = match &target {
        Target::Classes(c, n) => Target::Classes(c.clone().inner(), *n),
        Target::Values(v) => Target::Values(v.clone().inner()),
    };
    // The weights again off the tape, for the weighted metrics.
    let weighed = match feed.metrics.iter().any(|m| m.weighted) {
        true => Counted::new(examples, examples, weights, feed.device),
        false => None,
    };
    let mut sums = batch_sums(
        loss.clone().inner(),
        &detached,
        &detached_target,
        feed.metrics,
        (rows.len(), weighed.as_ref()),
    );
    if share != 1.0 {
        loss = loss.mul_scalar(share);
        if rows.is_empty() {
            sums = sums.zeros_like();
        }
    }
    (sums, GradientsParams::from_grads(loss.backward(), model))
}

/// The optimizer's step on the gradients of `batch`, on this device or, in a data-parallel
/// run, summed over every worker's shard: see [`Trainer::step`].
fn update<B, M>(
    run: &mut Run<B, M>,
    current: M,
    batch: &HostBatch,
    feed: &Feed<'_, B>,
    lr: f64,
) -> Result<Option<Tensor<B::InnerBackend, 1>>, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
{
    #[cfg(feature = "distributed")]
    if let Some(peers) = &run.peers {
        let (model, sums) = peers.update(current, &mut run.stepper, batch, feed, lr);
        run.model = Some(model);
        return sums;
    }
    let stepper = &mut run.stepper;
    let (model, sums) = on_kernel_threads::<B, _>(move || {
        let (sums, grads) = gradients(&current, batch, 0..batch.len, feed);
        (stepper.step(lr, current, grads), sums)
    });
    run.model = Some(model);
    Ok(Some(sums))
}

impl<B, M> Trainer<B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// Trains the model on `data`, as Keras's `model.fit`, and returns every epoch's logs.
    /// Shuffling and dropout are seeded per epoch from the fit's seed, so a run is
    /// reproducible, and a run resumed by `BackupAndRestore` continues as it would have.
    ///
    /// # Errors
    /// When the data does not fit the model (shape, targets), a setting is out of range,
    /// a backup cannot be read or written, or a callback fails.
    pub fn fit<D: Dataset + ?Sized>(
        &mut self,
        data: &D,
        mut fit: Fit<'_, B, M>,
    ) -> Result<History, TrainError> {
        // Each worker's root of its own shard's mean is not a share of the batch's root.
        #[cfg(feature = "distributed")]
        if fit.distribution.as_ref().is_some_and(|p| p.workers() > 1)
            && self.loss.loss == crate::loss::Loss::RootMeanSquaredError
        {
            return Err(TrainError::Setting(
                "the RootMeanSquaredError loss is not the sum of the workers' shares, so data-parallel training would not follow one device's; train with MeanSquaredError (the same minimum) and report RootMeanSquaredError as a metric".into(),
            ));
        }
        let split = Split::new(data, &fit)?;
        let plan = self.plan(&split, &mut fit)?;
        self.batch_size = plan.batch_size;
        let mut callbacks = std::mem::take(&mut fit.callbacks);
        if fit.verbose != Verbosity::Silent {
            callbacks.insert(0, Box::new(ProgbarLogger::new(fit.verbose)));
        }
        let mut hooks = Hooks {
            callbacks,
            stop: false,
            learning_rate: self.learning_rate,
            optimizer: self.optimizer.clone(),
            iterations: self.iterations,
            epochs: fit.epochs,
            steps: plan.loader.batches(split.train.len()),
            skipped_validation: false,
        };
        let backup = hooks.backup();
        let resumed = self.resume(backup.as_ref().map(|(b, _)| b), fit.verbose)?;
        (hooks.learning_rate, hooks.iterations) = (self.learning_rate, self.iterations);
        let (history, first_epoch) = resumed.unwrap_or((History::default(), fit.initial_epoch));
        let mut run = Run {
            model: self.model.take(),
            stepper: self.stepper.take().unwrap_or_else(|| self.optimizer.init()),
            history,
            warm_up: Some(WarmUp::start(
                fit.verbose != Verbosity::Silent && crate::backend::compiles_kernels::<B>(),
            )),
            examples: plan.examples_on_device.then(|| {
                let every: Vec<usize> = (0..split.train.len()).collect();
                kiln_datasets::gather(&split.train, &every).into_rows(&self.device)
            }),
            #[cfg(feature = "distributed")]
            peers: None,
        };
        run.stepper.set_iterations(self.iterations);
        // Several workers train in threads of their own (where a bad setting is refused);
        // a single one is the usual loop, at no cost.
        #[cfg(feature = "distributed")]
        let parallel = (fit.distribution.take()).filter(|p| p.check().is_err() || p.workers() > 1);
        #[cfg(feature = "distributed")]
        let result = match parallel {
            Some(parallel) => {
                let start = (first_epoch, backup);
                self.epochs_in_parallel(&parallel, &split, &plan, &mut hooks, &mut run, start)
            }
            None => self.epochs(&split, &plan, &mut hooks, &mut run, first_epoch, backup),
        };
        #[cfg(not(feature = "distributed"))]
        let result = self.epochs(&split, &plan, &mut hooks, &mut run, first_epoch, backup);
        self.model = run.model;
        self.stepper = Some(run.stepper);
        self.learning_rate = hooks.learning_rate;
        result.map(|()| run.history)
    }

    /// The examples' shapes and the loader, checked against the model before training.
    fn plan<D: Dataset + ?Sized>(
        &self,
        split: &Split<'_, '_, D>,
        fit: &mut Fit<'_, B, M>,
    ) -> Result<Plan, TrainError> {
        if fit.batch_size == 0 || fit.validation_batch_size == Some(0) {
            let which = match fit.batch_size {
                0 => "the batch size",
                _ => "validation_batch_size",
            };
            return Err(TrainError::Setting(format!("{which} must be positive")));
        }
        self.optimizer.check().map_err(TrainError::Setting)?;
        let example = self.example_shapes(&split.train, "training")?;
        self.check_targets(&split.train)?;
        let val_example = match split.validation() {
            Some(v) => {
                self.check_targets(v)?;
                self.example_shapes(v, "validation")?
            }
            None => Vec::new(),
        };
        let examples_on_device = self.data_on_device(&split.train, fit)?;
        let mut loader = Loader::new(fit.batch_size).examples_on_device(examples_on_device);
        if self.fixed_batches {
            if split.train.len() < fit.batch_size {
                return Err(TrainError::Setting(format!(
                    "with a fixed batch shape an epoch leaves out the examples that do not fill a batch, \
                     and the {} training examples do not fill one of {}: lower the batch size, or \
                     turn the fixed shape off (Trainer::fixed_batch_shape(false))",
                    split.train.len(),
                    fit.batch_size
                )));
            }
            loader = loader.remainder(Remainder::Drop);
        }
        if fit.shuffle {
            loader = loader.shuffle(fit.seed);
        }
        if let Some(table) = Self::class_weights(&split.train, fit.class_weight.as_deref())? {
            loader = loader.class_weights(table);
        }
        if let Some(augment) = fit.augment.take() {
            augmentable(&example, &augment)?;
            loader = loader.augment(augment, fit.seed);
        }
        Ok(Plan {
            examples_on_device,
            example,
            val_example,
            loader,
            kind: split.train.target_kind(),
            batch_size: fit.batch_size,
            val_batch_size: fit.validation_batch_size.unwrap_or(fit.batch_size),
            seed: fit.seed,
        })
    }

    /// Whether the training examples go to the device ([`Fit::data_on_device`]).
    fn data_on_device<D: Dataset + ?Sized>(
        &self,
        train: &D,
        fit: &Fit<'_, B, M>,
    ) -> Result<bool, TrainError> {
        #[cfg(feature = "distributed")]
        let distributed = fit.distribution.is_some();
        #[cfg(not(feature = "distributed"))]
        let distributed = false;
        let bytes = train.len() * train.example_shape().iter().product::<usize>() * 4;
        match fit.data_on_device {
            Some(true) if distributed => Err(TrainError::Setting(
                "data_on_device does not combine with a distribution, whose workers each \
                 take their part of a batch to their own device"
                    .into(),
            )),
            Some(on) => Ok(on),
            // Not by default when the augmentation was left in the workers.
            None => Ok(!distributed
                && crate::backend::compiles_kernels::<B>()
                && bytes <= DEVICE_DATA_BYTES
                && fit.augment.as_ref().is_none_or(Augment::runs_on_device)),
        }
    }

    /// The history and the next epoch from `backup`'s state, with the weights, optimizer
    /// state, step count and learning rate put back; `None` without a state to resume.
    fn resume(
        &mut self,
        backup: Option<&Backup>,
        verbose: Verbosity,
    ) -> Result<Option<(History, usize)>, TrainError> {
        let Some(backup) = backup else {
            return Ok(None);
        };
        let Some(state) = backup.read()? else {
            return Ok(None);
        };
        let mut model = self.model.take().ok_or_else(lost)?;
        let restored = backup.restore(
            &mut model,
            &mut self.stepper,
            &self.optimizer,
            &self.device,
            &state,
        );
        self.model = Some(model);
        restored?;
        self.iterations = state.iterations;
        self.learning_rate = state.learning_rate;
        if verbose != Verbosity::Silent {
            println!(
                "Resuming after epoch {} from the backup in {}",
                state.epoch + 1,
                backup.dir().display()
            );
        }
        Ok(Some((state.history()?, state.epoch + 1)))
    }

    /// [`Trainer::epochs`] from `start` (the first epoch and the backup) with the
    /// workers of `parallel`, which end with it (on a panic too).
    #[cfg(feature = "distributed")]
    fn epochs_in_parallel<D: Dataset + ?Sized>(
        &mut self,
        parallel: &crate::distributed::DataParallel<B::Device>,
        split: &Split<'_, '_, D>,
        plan: &Plan,
        hooks: &mut Hooks<'_, B, M>,
        run: &mut Run<B, M>,
        (first_epoch, backup): (usize, Option<(Backup, bool)>),
    ) -> Result<(), TrainError> {
        std::thread::scope(|scope| {
            let agreed = [
                first_epoch as u64,
                self.iterations,
                split.train.len() as u64,
                plan.batch_size as u64,
                hooks.epochs as u64,
            ];
            let started = self.start_peers(scope, parallel, plan, run, agreed);
            let train = std::panic::AssertUnwindSafe(|| {
                started.and_then(|leads| {
                    if !leads {
                        // The leader alone runs the callbacks and keeps the backups.
                        hooks.callbacks.clear();
                    }
                    let backup = backup.filter(|_| leads);
                    self.epochs(split, plan, hooks, run, first_epoch, backup)
                })
            });
            let result = match std::panic::catch_unwind(train) {
                Ok(result) => result,
                Err(panic) => {
                    // A callback's panic: the workers must end before it goes on.
                    if let Some(peers) = run.peers.take() {
                        peers.abandon();
                    }
                    std::panic::resume_unwind(panic)
                }
            };
            match run.peers.take() {
                Some(peers) => peers.finish(result),
                None => result,
            }
        })
    }

    /// Starts the workers of a data-parallel fit in `scope`, with the leader's weights:
    /// whether this process leads.
    #[cfg(feature = "distributed")]
    fn start_peers<'s>(
        &self,
        scope: &'s std::thread::Scope<'s, '_>,
        parallel: &crate::distributed::DataParallel<B::Device>,
        plan: &Plan,
        run: &mut Run<B, M>,
        agreed: [u64; 5],
    ) -> Result<bool, TrainError>
    where
        M: 's,
    {
        let model = run.model()?.clone();
        let (peers, model) = super::parallel::Peers::start(
            scope,
            parallel,
            model,
            &run.stepper,
            &self.feed(plan, None),
            agreed,
        )?;
        run.model = Some(model);
        let leads = peers.leads();
        run.peers = Some(peers);
        Ok(leads)
    }

    /// Epochs `first..` with their callbacks, validation and backups.
    fn epochs<D: Dataset + ?Sized>(
        &mut self,
        split: &Split<'_, '_, D>,
        plan: &Plan,
        hooks: &mut Hooks<'_, B, M>,
        run: &mut Run<B, M>,
        first: usize,
        backup: Option<(Backup, bool)>,
    ) -> Result<(), TrainError> {
        hooks.call(run.model_mut()?, first, &mut |c, ctl| c.on_train_begin(ctl))?;
        let mut last = Logs::new();
        for epoch in first..hooks.epochs {
            if hooks.stop {
                break;
            }
            // Dropout and other randomness drawn anew, reproducibly, each epoch.
            B::seed(
                &self.device,
                plan.seed
                    ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ run.rank().wrapping_mul(0xD1B5_4A32_D192_ED03),
            );
            hooks.call(run.model_mut()?, epoch, &mut |c, ctl| {
                c.on_epoch_begin(epoch, ctl)
            })?;
            let mut logs = self.epoch(&split.train, plan, hooks, run, epoch)?;
            if hooks.stop && logs.is_empty() {
                break; // a follower told to stop before this epoch's first step
            }
            hooks.stop = run.epoch_end(hooks.stop)?;
            let validation = split.validation().filter(|_| run.leads());
            let due = (epoch + 1) % split.every == 0;
            hooks.skipped_validation = validation.is_some() && !due;
            if let Some(v) = validation.filter(|_| due) {
                logs.extend_prefixed("val_", &self.validate(v, plan, hooks, run, epoch)?);
            }
            run.history.push(epoch, &logs);
            hooks.call(run.model_mut()?, epoch, &mut |c, ctl| {
                c.on_epoch_end(epoch, &logs, ctl)
            })?;
            if let Some((backup, _)) = &backup {
                let state = BackupState {
                    epoch,
                    iterations: self.iterations,
                    learning_rate: hooks.learning_rate,
                    seed: plan.seed,
                    history: run.history.to_json(),
                };
                backup.write(run.model()?, &run.stepper, &state)?;
            }
            last = logs;
        }
        run.last(hooks.stop)?;
        // Keras's `finalize_variable_values`: the weights' moving average, if kept.
        run.model = run.model.take().map(|m| run.stepper.finalize(m));
        let end = hooks.epochs.saturating_sub(1);
        hooks.call(run.model_mut()?, end, &mut |c, ctl| {
            c.on_train_end(&last, ctl)
        })?;
        match &backup {
            Some((backup, false)) => backup.remove(),
            _ => Ok(()),
        }
    }

    /// One epoch's batches, each between its callbacks' batch hooks: the epoch's logs.
    fn epoch<D: Dataset + ?Sized>(
        &mut self,
        train: &D,
        plan: &Plan,
        hooks: &mut Hooks<'_, B, M>,
        run: &mut Run<B, M>,
        epoch: usize,
    ) -> Result<Logs, TrainError> {
        let outputs = run.model()?.output_shape().elements();
        let mut totals = Totals::<B::InnerBackend>::new(&self.metrics, outputs);
        let mut failure = None;
        plan.loader.for_each(train, epoch as u64, |batch| {
            let index = totals.batches;
            let mut batch_step = || -> Result<(), TrainError> {
                hooks.call(run.model_mut()?, epoch, &mut |c, ctl| {
                    c.on_train_batch_begin(index, ctl)
                })?;
                let Some(sums) = self.step(run, &batch, plan, hooks.learning_rate)? else {
                    hooks.stop = true;
                    return Ok(());
                };
                hooks.iterations = self.iterations;
                totals.add(sums, batch.len);
                let read = || totals.logs(&self.metrics);
                let logs = BatchLogs::new(&read);
                hooks.call(run.model_mut()?, epoch, &mut |c, ctl| {
                    c.on_train_batch_end(index, &logs, ctl)
                })
            };
            match batch_step() {
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
                Ok(()) if hooks.stop => ControlFlow::Break(()),
                Ok(()) => ControlFlow::Continue(()),
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(totals.logs(&self.metrics)),
        }
    }

    /// What an update on `plan`'s batches feeds the model, with the training examples
    /// when they are on the device.
    fn feed<'a>(&'a self, plan: &'a Plan, examples: Option<&'a Tensor<B, 2>>) -> Feed<'a, B> {
        Feed {
            example: &plan.example,
            kind: &plan.kind,
            loss: self.loss,
            metrics: &self.metrics,
            device: &self.device,
            examples,
        }
    }

    /// One update on `batch`: the sums it adds to the epoch's loss and metrics, or `None`
    /// when the leader of a data-parallel run stopped it.
    fn step(
        &mut self,
        run: &mut Run<B, M>,
        batch: &HostBatch,
        plan: &Plan,
        learning_rate: f64,
    ) -> Result<Option<Tensor<B::InnerBackend, 1>>, TrainError> {
        // The model leaves its slot for the update, which consumes it, so no second
        // handle on its weights stops the optimizer from updating them in place.
        let current = run.model.take().ok_or_else(lost)?;
        let lr = self.optimizer.decayed(learning_rate, self.iterations);
        let examples = run.examples.clone(); // a handle, for the feed beside `run`
        let sums = update(run, current, batch, &self.feed(plan, examples.as_ref()), lr)?;
        if sums.is_some() {
            if let Some(warm_up) = run.warm_up.take() {
                // The first update compiles and tunes a GPU backend's kernels.
                let _ = B::sync(&self.device);
                self.first_step = Some(warm_up.finish());
            }
            self.iterations += 1;
        }
        Ok(sums)
    }

    /// The loss and metrics on the validation data, between the test hooks.
    fn validate(
        &self,
        data: &dyn Dataset,
        plan: &Plan,
        hooks: &mut Hooks<'_, B, M>,
        run: &mut Run<B, M>,
        epoch: usize,
    ) -> Result<Logs, TrainError> {
        hooks.call(run.model_mut()?, epoch, &mut |c, ctl| c.on_test_begin(ctl))?;
        let inner = run.model()?.valid();
        let logs = evaluate_with::<B, M, _>(
            &inner,
            data,
            &plan.val_example,
            &self.inference_loader(plan.val_batch_size),
            self.loss,
            &self.metrics,
            &self.device,
        );
        hooks.call(run.model_mut()?, epoch, &mut |c, ctl| {
            c.on_test_end(&logs, ctl)
        })?;
        Ok(logs)
    }
}
