//! The Keras workflow: compile (optimizer, loss, metrics), fit, evaluate, predict.

use std::ops::ControlFlow;

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use kiln_datasets::{Augment, Dataset, HostBatch, Loader, Remainder, TargetKind, Targets};
use kiln_spec::{Dim, Layer};

use crate::backend::on_kernel_threads;
use crate::callback::{Callback, CallbackResult, Control};
use crate::error::TrainError;
use crate::logs::Logs;
use crate::loss::{Counted, Loss, Objective, Output, Target};
use crate::metric::{Metric, Reported};
use crate::model::{Batch, Model};
use crate::optimizer::{Optimizer, Stepper};
use crate::progress::Verbosity;

mod adapt;
mod features;
mod fit;
pub(crate) mod floats;
#[cfg(feature = "distributed")]
mod link;
#[cfg(feature = "distributed")]
mod parallel;
#[cfg(feature = "distributed")]
mod peer;

/// One hook call on one callback, as [`Trainer::predict_with`] runs it on each.
type CallbackHook<'a, B, M> =
    dyn FnMut(&mut dyn Callback<B, M>, &mut Control<M>) -> CallbackResult + 'a;

/// How `fit` runs: epochs, batch size, validation, shuffling, callbacks, verbosity.
///
/// ```
/// use kiln_core::{Fit, Verbosity};
/// type B = kiln_core::backend::Cpu;
/// # type M = ();
/// let fit: Fit<B, M> = Fit::epochs(10).batch_size(128).validation_split(0.1).verbose(Verbosity::OneLinePerEpoch);
/// ```
pub struct Fit<'a, B: AutodiffBackend, M> {
    epochs: usize,
    batch_size: usize,
    validation_split: f64,
    validation_data: Option<&'a (dyn Dataset + 'a)>,
    validation_freq: usize,
    validation_batch_size: Option<usize>,
    shuffle: bool,
    seed: u64,
    verbose: Verbosity,
    callbacks: Vec<Box<dyn Callback<B, M> + 'a>>,
    initial_epoch: usize,
    augment: Option<Augment>,
    data_on_device: Option<bool>,
    class_weight: Option<Vec<(usize, f32)>>,
    #[cfg(feature = "distributed")]
    distribution: Option<crate::distributed::DataParallel<B::Device>>,
}

impl<'a, B: AutodiffBackend, M> Fit<'a, B, M> {
    /// Trains for `epochs` epochs; Keras's other defaults: batches of 32, shuffled, no
    /// validation, a progress bar.
    pub fn epochs(epochs: usize) -> Self {
        Fit {
            epochs,
            batch_size: 32,
            validation_split: 0.0,
            validation_data: None,
            validation_freq: 1,
            validation_batch_size: None,
            shuffle: true,
            seed: 0,
            verbose: Verbosity::ProgressBar,
            callbacks: Vec::new(),
            initial_epoch: 0,
            augment: None,
            data_on_device: None,
            class_weight: None,
            #[cfg(feature = "distributed")]
            distribution: None,
        }
    }

    /// Trains until epoch `epochs` instead (counted from 0 as Keras's `epochs`, so with
    /// [`Fit::initial_epoch`] `k` it trains `epochs - k` epochs), keeping the other
    /// settings: how a tuner gives a trial its budget.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Examples per update.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Holds out the last `fraction` of the training data (before shuffling) for
    /// validation, as Keras's `validation_split`.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Validates on `data` after each epoch.
    pub fn validation_data(mut self, data: &'a (dyn Dataset + 'a)) -> Self {
        self.validation_data = Some(data);
        self
    }

    /// Validates after every `n`th epoch only (epochs `n - 1`, `2n - 1`, ... counted from
    /// 0, as Keras's `validation_freq`; 1 by default, at least 1). The other epochs have
    /// no `val_` logs: their history holds NaN there, `CsvLogger` writes `NA`, and
    /// `EarlyStopping`, `ReduceLrOnPlateau`, the tuner and a `ModelCheckpoint` watching a
    /// `val_` quantity (or naming one in its path) pass them over.
    pub fn validation_freq(mut self, n: usize) -> Self {
        self.validation_freq = n;
        self
    }

    /// Examples per validation batch, as Keras's `validation_batch_size` (the batch size
    /// by default; on a GPU with a fixed batch shape another size compiles its kernels
    /// once more). Only the speed and memory change: the validation logs are the epoch's
    /// exact sums either way.
    pub fn validation_batch_size(mut self, n: usize) -> Self {
        self.validation_batch_size = Some(n);
        self
    }

    /// Whether to shuffle the training data each epoch (seeded; on by default).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How much to print.
    pub fn verbose(mut self, verbose: Verbosity) -> Self {
        self.verbose = verbose;
        self
    }

    /// Adds callbacks, run in order.
    pub fn callbacks(
        mut self,
        callbacks: impl IntoIterator<Item = Box<dyn Callback<B, M> + 'a>>,
    ) -> Self {
        self.callbacks.extend(callbacks);
        self
    }

    /// Adds one callback.
    pub fn callback(mut self, callback: impl Callback<B, M> + 'a) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Augments every training batch of images (never the validation data) with these
    /// random transforms, seeded from the fit's seed, as Keras's `ImageDataGenerator`.
    pub fn augment(mut self, augment: Augment) -> Self {
        self.augment = Some(augment);
        self
    }

    /// Whether the training examples go to the model's device once, before the first
    /// epoch, each batch then picked from them there, instead of each batch going there
    /// when it is used. On by default on a backend that
    /// [compiles its kernels](crate::backend::compiles_kernels) (a GPU's) when they take
    /// at most 1 GiB as `f32` and any augmentation runs on the device
    /// ([`Augment::on_device`]); off on the CPU (where they already are) and in a
    /// data-parallel run. Turned on, it runs the augmentation on the device, the examples
    /// not being in the loader's workers.
    pub fn data_on_device(mut self, on: bool) -> Self {
        self.data_on_device = Some(on);
        self
    }

    /// Weights each training example's loss by its class, as Keras's
    /// `fit(class_weight={0: 1.0, 1: 5.0})`: `.class_weight([(0, 1.0), (1, 5.0)])` (or a
    /// `HashMap<usize, f32>`). A class left out weighs 1. An example's class is its label,
    /// the arg-max of a one-hot target, or a single 0/1 target rounded. Validation and
    /// the metrics stay unweighted, as in Keras (the
    /// [`weighted_metrics`](Trainer::weighted_metrics) weigh training examples by it).
    /// Each weight must be finite and at least 0, each class one of the data's, and the
    /// training data without [sample weights](kiln_datasets::Weighted) (Keras refuses
    /// both at once).
    pub fn class_weight(mut self, weights: impl IntoIterator<Item = (usize, f32)>) -> Self {
        self.class_weight = Some(weights.into_iter().collect());
        self
    }

    /// The epoch to start counting from (to resume a run).
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }

    /// Trains on several devices, or as one of several processes, as Keras's
    /// `keras.distribution.set_distribution(DataParallel(...))`: each batch of
    /// [`batch_size`](Self::batch_size) is split across the workers, and the weights after
    /// every step are those one device would reach on the whole batch.
    #[cfg(feature = "distributed")]
    pub fn distribution(mut self, parallel: crate::distributed::DataParallel<B::Device>) -> Self {
        self.distribution = Some(parallel);
        self
    }
}

/// A model with its optimizer, loss and metrics: Keras's compiled model.
///
/// ```no_run
/// # use kiln_core::*;
/// # fn demo<M>(model: M, train: &kiln_datasets::ImageDataset) -> Result<(), TrainError>
/// # where M: burn::module::AutodiffModule<backend::Cpu> + Model<backend::Cpu>,
/// #       M::InnerModule: Model<backend::CpuBackend> {
/// let mut trainer = Trainer::new(model)
///     .optimizer(Adam::new().learning_rate(1e-3))
///     .loss(Loss::CategoricalCrossentropy)
///     .metrics([Metric::Accuracy]);
/// let history = trainer.fit(train, Fit::epochs(10).batch_size(128).validation_split(0.1))?;
/// println!("{:?}", history.get("val_accuracy"));
/// # Ok(()) }
/// ```
pub struct Trainer<B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    model: Option<M>,
    device: B::Device,
    optimizer: Optimizer,
    stepper: Option<Stepper<B, M>>,
    loss: Objective,
    metrics: Vec<Reported>,
    learning_rate: f64,
    iterations: u64,
    first_step: Option<std::time::Duration>,
    fixed_batches: bool,
    batch_size: usize,
}

/// The model is out of its slot only inside an update; only a panic there loses it.
const TAKEN: &str = "the model was lost by an update that panicked; build the trainer again";

/// The running sums of an epoch: the loss and each metric over its examples. The device
/// adds each batch's sums to its own total in its float type (f32 on most backends, whose
/// counts are exact up to 2²⁴); before one of that total's counts could pass 2²⁴, the
/// total is read into the host's f64 totals and the device's starts afresh.
struct Totals<B: Backend> {
    sums: Option<Tensor<B, 1>>,
    read: Vec<f64>,
    /// The most any count in `sums` can be: its examples times `per_example`.
    bound: usize,
    /// The most a count grows by per example ([`Reported::count_bound`]); `None`: not
    /// known (read after every batch).
    per_example: Option<usize>,
    outputs: Option<usize>,
    examples: usize,
    batches: usize,
}

/// The counts a backend float holds exactly (f32's 2²⁴).
const EXACT_COUNTS: usize = 1 << 24;

/// Adds a device total's values to the host's (waits for the device).
fn fold<B: Backend>(host: &mut Vec<f64>, device: Tensor<B, 1>) {
    let values = device
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap_or_default();
    host.resize(host.len().max(values.len()), 0.0);
    host.iter_mut().zip(values).for_each(|(h, v)| *h += v);
}

impl<B: Backend> Totals<B> {
    /// Totals of `metrics` on a model with `outputs` outputs per example.
    fn new(metrics: &[Reported], outputs: Option<usize>) -> Self {
        let mut bounds = metrics.iter().map(|m| m.count_bound(outputs));
        Totals {
            sums: None,
            read: Vec::new(),
            bound: 0,
            // The loss is no count.
            per_example: bounds.try_fold(0, |most, b| Some(most.max(b?))),
            outputs,
            examples: 0,
            batches: 0,
        }
    }

    fn add(&mut self, sums: Tensor<B, 1>, examples: usize) {
        let bound = examples.saturating_mul(self.per_example.unwrap_or(EXACT_COUNTS));
        if self.bound.saturating_add(bound) > EXACT_COUNTS
            && let Some(held) = self.sums.take()
        {
            fold(&mut self.read, held);
            self.bound = 0;
        }
        self.sums = Some(match self.sums.take() {
            Some(s) => s + sums,
            None => sums,
        });
        self.bound = self.bound.saturating_add(bound);
        self.examples += examples;
        self.batches += 1;
    }

    /// The epoch's logs so far (waits for the device).
    fn logs(&self, metrics: &[Reported]) -> Logs {
        let mut logs = Logs::new();
        let mut values = self.read.clone();
        if let Some(held) = &self.sums {
            fold(&mut values, held.clone());
        }
        if values.is_empty() {
            return logs;
        }
        let n = self.examples.max(1) as f64;
        logs.insert("loss", values.first().copied().unwrap_or(f64::NAN) / n);
        let mut rest = values.get(1..).unwrap_or_default();
        for metric in metrics {
            let count = metric.sums(self.outputs.unwrap_or_default());
            let (sums, after) = rest.split_at(count.min(rest.len()));
            logs.insert(&metric.name, metric.finish(sums, self.examples));
            rest = after;
        }
        logs
    }
}

/// Says what is happening when the first update is slow (a GPU backend compiling and
/// tuning its kernels), from a thread that waits for it.
struct WarmUp {
    started: std::time::Instant,
    done: Option<std::sync::mpsc::Sender<()>>,
}

impl WarmUp {
    fn start(verbose: bool) -> Self {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let started = std::time::Instant::now();
        if verbose {
            std::thread::spawn(move || {
                use std::sync::mpsc::RecvTimeoutError::Timeout;
                if wait.recv_timeout(std::time::Duration::from_secs(5)) != Err(Timeout) {
                    return;
                }
                let kept = match crate::backend::kernel_cache() {
                    Some(dir) => format!(
                        "a device made with kiln::backend::cuda_device keeps them in {}",
                        dir.display()
                    ),
                    None => "cubecl.toml says where they are kept".into(),
                };
                eprintln!(
                    "Warming up: the first step compiles and tunes the backend's kernels, once per \
                     model and batch shape; {kept} for later runs"
                );
                while wait.recv_timeout(std::time::Duration::from_secs(15)) == Err(Timeout) {
                    eprintln!(
                        "  still warming up after {:.0} s",
                        started.elapsed().as_secs_f64()
                    );
                }
                eprintln!(
                    "Kernels ready after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            });
        }
        WarmUp {
            started,
            done: Some(done),
        }
    }

    fn finish(mut self) -> std::time::Duration {
        drop(self.done.take());
        self.started.elapsed()
    }
}

/// The targets of a batch on `device`.
fn target<BB: Backend>(batch: &HostBatch, kind: &TargetKind, device: &BB::Device) -> Target<BB> {
    match (&batch.targets, kind) {
        (Targets::Classes(c), TargetKind::Classes(n)) => Target::Classes(
            Tensor::<BB, 1, Int>::from_data(TensorData::new(c.clone(), [c.len()]), device),
            *n,
        ),
        (Targets::Classes(c), TargetKind::Values(_)) => Target::Classes(
            Tensor::<BB, 1, Int>::from_data(TensorData::new(c.clone(), [c.len()]), device),
            0,
        ),
        (Targets::Values(v), _) => {
            let width = v.len().checked_div(batch.len).unwrap_or(0);
            Target::Values(Tensor::from_data(
                TensorData::new(v.clone(), [batch.len, width]),
                device,
            ))
        }
    }
}

/// Whether `data`'s sample weights, if any, are one per example, each finite and at least
/// 0 ([`kiln_datasets::Weighted`] makes them so; another [`Dataset`] may not).
fn check_sample_weights<D: Dataset + ?Sized>(data: &D, what: &str) -> Result<(), TrainError> {
    match data.sample_weights() {
        Some(weights) => kiln_datasets::check_sample_weights(weights, data.len())
            .map_err(|e| TrainError::Targets(format!("the {what}: {e}"))),
        None => Ok(()),
    }
}

/// Whether each of `train`'s single target values stands for class 0 or 1 (rounded), as
/// `class_weight` reads them.
fn binary_targets<D: Dataset + ?Sized>(train: &D) -> Result<(), TrainError> {
    let mut targets = Targets::Values(Vec::with_capacity(train.len()));
    train.gather_targets(&(0..train.len()).collect::<Vec<_>>(), &mut targets);
    let Targets::Values(values) = targets else {
        return Ok(());
    };
    match (values.iter().enumerate())
        .find(|(_, v)| kiln_datasets::binary_class(**v).is_none_or(|c| c > 1))
    {
        Some((i, v)) => Err(TrainError::Setting(format!(
            "class_weight reads a single target value as class 0 or 1, but example {i}'s is {v}"
        ))),
        None => Ok(()),
    }
}

/// The sums a batch adds to an epoch's totals: `[loss · examples, metric sums...]`, over
/// the examples that count (all, or `counted`'s).
fn batch_sums<BB: Backend>(
    loss: Tensor<BB, 1>,
    output: &Output<BB>,
    target: &Target<BB>,
    metrics: &[Reported],
    (examples, counted): (usize, Option<&Counted<BB>>),
) -> Tensor<BB, 1> {
    let mut parts = vec![loss.mul_scalar(examples as f64)];
    parts.extend(
        metrics
            .iter()
            .map(|m| m.counted_sum(output, target, counted)),
    );
    Tensor::cat(parts, 0)
}

impl<B, M> Trainer<B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// A trainer for `model`, on the device its weights are on, with Keras's compile
    /// defaults: RMSprop, mean squared error, no metric.
    pub fn new(model: M) -> Self {
        let device = model.devices().into_iter().next().unwrap_or_default();
        let optimizer = Optimizer::default();
        Trainer {
            learning_rate: optimizer.base_learning_rate(),
            model: Some(model),
            device,
            optimizer,
            stepper: None,
            loss: Loss::MeanSquaredError.into(),
            metrics: Vec::new(),
            iterations: 0,
            first_step: None,
            fixed_batches: crate::backend::compiles_kernels::<B>(),
            batch_size: 32,
        }
    }

    /// The optimizer (a new one: its state starts afresh, and its schedule and decay
    /// from the first update, as Keras's `compile` with a new optimizer).
    pub fn optimizer(mut self, optimizer: impl Into<Optimizer>) -> Self {
        self.optimizer = optimizer.into();
        self.learning_rate = self.optimizer.base_learning_rate();
        self.stepper = None;
        self.iterations = 0;
        self
    }

    /// The loss to minimize.
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss.loss = loss;
        self
    }

    /// Keras's `label_smoothing` of the cross-entropy losses: each example's targets
    /// become `y·(1 - ε) + ε/K` over its K classes (`y·(1 - ε) + ε/2` for binary
    /// cross-entropy's outputs), in training and evaluation; the metrics compare with the
    /// targets as they are. Keras smooths the categorical and binary cross-entropies;
    /// kiln the sparse one too, as the categorical. `fit` and `evaluate` refuse an `ε`
    /// outside [0, 1], or with another loss.
    pub fn label_smoothing(mut self, epsilon: f32) -> Self {
        self.loss.label_smoothing = epsilon;
        self
    }

    /// The metrics to report, besides the loss, each example counting once whatever its
    /// weight (Keras's `metrics`).
    pub fn metrics(mut self, metrics: impl IntoIterator<Item = Metric>) -> Self {
        let metrics: Vec<Metric> = metrics.into_iter().collect();
        self.metrics = Reported::list(&metrics, &self.listed(true));
        self
    }

    /// The metrics to report with each example counting by its weight, as Keras's
    /// `weighted_metrics`: the weights of [`Weighted`](kiln_datasets::Weighted) data and
    /// of [`Fit::class_weight`] (a weighted mean `Σ wᵢ·vᵢ / Σ wᵢ`, weighted counts for
    /// precision, recall and AUC); the same as unweighted where every example weighs 1.
    /// Each keeps its name, or is `weighted_` and its name when [`metrics`](Self::metrics)
    /// has it too.
    pub fn weighted_metrics(mut self, metrics: impl IntoIterator<Item = Metric>) -> Self {
        let weighted: Vec<Metric> = metrics.into_iter().collect();
        self.metrics = Reported::list(&self.listed(false), &weighted);
        self
    }

    /// The metrics listed unweighted or weighted.
    fn listed(&self, weighted: bool) -> Vec<Metric> {
        let listed = self.metrics.iter().filter(|r| r.weighted == weighted);
        listed.map(|r| r.metric).collect()
    }

    /// Whether every batch the model sees has the same size, on by default on a backend
    /// that compiles its kernels for each new shape (CUDA, see
    /// [`compiles_kernels`](crate::backend::compiles_kernels)), so that a run compiles
    /// them once: `fit` leaves out the examples that do not fill a last batch (others
    /// each epoch when it shuffles, as tf.data's `drop_remainder`), validation runs in
    /// batches of [`Fit::validation_batch_size`] (the fit's batch size by default), and
    /// `evaluate` and `predict` in batches of the last fit's size (32 before any fit;
    /// `evaluate_batched` its own), the last one padded, with the padding left out of
    /// their sums and outputs.
    pub fn fixed_batch_shape(mut self, fixed: bool) -> Self {
        self.fixed_batches = fixed;
        self
    }

    /// The model.
    ///
    /// # Panics
    /// After a `fit` whose update panicked, which lost the model.
    #[allow(clippy::expect_used, reason = "the model is lost only by a panic")]
    pub fn model(&self) -> &M {
        self.model.as_ref().expect(TAKEN)
    }

    /// The model, taken back from the trainer.
    ///
    /// # Panics
    /// As [`Trainer::model`].
    #[allow(clippy::expect_used, reason = "the model is lost only by a panic")]
    pub fn into_model(mut self) -> M {
        self.model.take().expect(TAKEN)
    }

    /// Replaces the model's weights (the optimizer state is kept).
    pub fn set_model(&mut self, model: M) {
        self.model = Some(model);
        if let Some(stepper) = &mut self.stepper {
            stepper.forget_average();
        }
    }

    /// Freezes `layers` of the model, by name or nested path, as [`freeze`](crate::freeze)
    /// does. As Keras recompiles after a change of `trainable`, the optimizer's state (its
    /// moments) starts afresh.
    ///
    /// # Errors
    /// When a name is not one of the model's layers; nothing changes then.
    pub fn freeze(&mut self, layers: &[&str]) -> Result<(), TrainError> {
        self.set_trainable(layers, false)
    }

    /// Makes `layers` trainable again; see [`Trainer::freeze`].
    ///
    /// # Errors
    /// When a name is not one of the model's layers; nothing changes then.
    pub fn unfreeze(&mut self, layers: &[&str]) -> Result<(), TrainError> {
        self.set_trainable(layers, true)
    }

    fn set_trainable(&mut self, layers: &[&str], trainable: bool) -> Result<(), TrainError> {
        let model = self.model.take().ok_or_else(fit::lost)?;
        let changed = if trainable {
            crate::freeze::unfreeze(model, layers)
        } else {
            crate::freeze::freeze(model, layers)
        };
        match changed {
            Ok(model) => {
                self.model = Some(model);
                self.stepper = None;
                Ok(())
            }
            Err(e) => {
                self.model = Some(e.model);
                Err(TrainError::Setting(e.message))
            }
        }
    }

    /// The device the model trains on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// The updates done so far.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// How long the first update of the last `fit` took, device work included: on a GPU,
    /// the time to compile and tune its kernels (minutes on the first run, seconds once
    /// cubecl has cached them).
    pub fn first_step_time(&self) -> Option<std::time::Duration> {
        self.first_step
    }

    /// The current base learning rate, before the optimizer's schedule and decay (see
    /// [`Control::learning_rate`]).
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// The shape of one example of each model input, checked against `data`. One input:
    /// the data's own shape when it fits the model's input, else the model's input when
    /// that is fully known and holds as many elements (so MNIST's `[1, 28, 28]` images feed
    /// a model declared with `input: [784]`, as Keras users reshape them). Several: the
    /// data's parts (`ArrayDataset::and_input`), one fitting each input. Where the model
    /// leaves sizes to run time, it is checked at the data's (see `fits_sizes`).
    pub(crate) fn example_shapes<D: Dataset + ?Sized>(
        &self,
        data: &D,
        what: &'static str,
    ) -> Result<Vec<Vec<usize>>, TrainError> {
        let shapes = self.input_parts(data, what)?;
        self.fits_sizes(&shapes, what)?;
        Ok(shapes)
    }

    /// An error unless the model fits examples of `shapes` ([`check_sizes`](kiln_spec::ModelSpec::check_sizes)), so
    /// that two sequences of unequal lengths merged, say, are named at the layer that cannot
    /// take them rather than found by the backend in the middle of a step.
    fn fits_sizes(&self, shapes: &[Vec<usize>], what: &'static str) -> Result<(), TrainError> {
        let Some(spec) = self.model().spec() else {
            return Ok(());
        };
        spec.check_sizes(shapes)
            .map_err(|e| TrainError::Inputs(format!("the model does not fit the {what} {e}")))
    }

    /// The shapes of `example_shapes`, before the check at the data's sizes.
    fn input_parts<D: Dataset + ?Sized>(
        &self,
        data: &D,
        what: &'static str,
    ) -> Result<Vec<Vec<usize>>, TrainError> {
        let inputs = self.model().input_shapes();
        if inputs.len() == 1 {
            return self.example_shape(data, what).map(|shape| vec![shape]);
        }
        if data.is_empty() {
            return Err(TrainError::Empty(what));
        }
        let parts = data.input_shapes();
        let shown = |shapes: &[String]| shapes.join(" and ");
        let model: Vec<String> = inputs.iter().map(ToString::to_string).collect();
        let fits = parts.len() == inputs.len()
            && parts.iter().zip(&inputs).all(|(p, m)| {
                p.len() == m.rank() && p.iter().zip(m.dims()).all(|(&d, m)| Dim::Known(d).fits(*m))
            });
        if !fits {
            return Err(TrainError::Inputs(format!(
                "the model takes {} inputs, {}, but the {what} examples are {}; give one part per input with ArrayDataset::and_input",
                inputs.len(),
                shown(&model),
                shown(&parts.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>())
            )));
        }
        Ok(parts)
    }

    /// The shape of one example, for a model with one input (see `example_shapes`).
    fn example_shape<D: Dataset + ?Sized>(
        &self,
        data: &D,
        what: &'static str,
    ) -> Result<Vec<usize>, TrainError> {
        if data.is_empty() {
            return Err(TrainError::Empty(what));
        }
        let shape = data.example_shape();
        let input = self.model().input_shape();
        let fits = shape.len() == input.rank()
            && shape
                .iter()
                .zip(input.dims())
                .all(|(&d, m)| Dim::Known(d).fits(*m));
        if fits {
            self.check_token_ids(data, what)?;
            return Ok(shape);
        }
        match input.all_known() {
            Some(dims) if dims.iter().product::<usize>() == shape.iter().product::<usize>() => {
                Ok(dims)
            }
            _ => Err(TrainError::InputShape {
                data: shape,
                model: input.to_string(),
            }),
        }
    }

    /// Checks, when the model starts with an Embedding, that every value of `data` is a
    /// token id it has: a whole number from 0 to `input_dim - 1`. One pass over the data,
    /// so a bad id is named here rather than read out of bounds on the device.
    fn check_token_ids<D: Dataset + ?Sized>(
        &self,
        data: &D,
        what: &'static str,
    ) -> Result<(), TrainError> {
        let spec = self.model().spec();
        let Some(Layer::Embedding(embedding)) = spec
            .as_ref()
            .and_then(|s| s.layers.first())
            .map(|l| &l.layer)
        else {
            return Ok(());
        };
        let per = data.example_shape().iter().product::<usize>().max(1);
        let indices: Vec<usize> = (0..data.len()).collect();
        for (c, chunk) in indices.chunks(1024).enumerate() {
            let x = kiln_datasets::gather(data, chunk).x;
            let bad = x.iter().position(|&v| {
                !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < embedding.input_dim)
            });
            if let Some(i) = bad {
                return Err(TrainError::Inputs(format!(
                    "{what} example {} holds {} at step {}, but the Embedding's token ids are whole numbers from 0 to {} (input_dim = {})",
                    c * 1024 + i / per,
                    x[i],
                    i % per,
                    embedding.input_dim - 1,
                    embedding.input_dim
                )));
            }
        }
        Ok(())
    }

    /// Checks that `data`'s targets fit the model's output and the loss.
    fn check_targets<D: Dataset + ?Sized>(&self, data: &D) -> Result<(), TrainError> {
        self.loss.check().map_err(TrainError::Setting)?;
        let outputs = self.model().output_shape().elements();
        for reported in &self.metrics {
            reported.metric.check().map_err(TrainError::Setting)?;
            if reported.metric.per_class() && outputs.is_none() {
                return Err(TrainError::Setting(format!(
                    "{} averages over the model's classes, but the size of its output is not known",
                    reported.name
                )));
            }
        }
        let Some(width) = self.model().output_shape().elements() else {
            return Ok(()); // an output of unknown size is checked by burn as it runs
        };
        let categorical = matches!(
            self.loss.loss,
            Loss::CategoricalCrossentropy
                | Loss::SparseCategoricalCrossentropy
                | Loss::CategoricalFocalCrossentropy { .. }
        );
        match data.target_kind() {
            TargetKind::Classes(n) if width == n || (width == 1 && n == 2 && !categorical) => {
                Ok(())
            }
            TargetKind::Classes(n) => Err(TrainError::Targets(format!(
                "the model outputs {width} values per example but the dataset has {n} classes; end the model with Dense({n}){}",
                if n == 2 {
                    " or, for a binary loss, Dense(1, activation = sigmoid)"
                } else {
                    ""
                }
            ))),
            TargetKind::Values(_) if self.loss.loss.needs_classes() => {
                Err(TrainError::Targets(format!(
                    "{} needs class labels but the dataset's targets are values; use categorical_crossentropy for one-hot targets",
                    self.loss.loss
                )))
            }
            TargetKind::Values(w) if w == width => Ok(()),
            TargetKind::Values(w) => Err(TrainError::Targets(format!(
                "the model outputs {width} values per example but the dataset's targets have {w}"
            ))),
        }
    }

    /// The weight of each class of `train`'s (1 for those `class_weight` leaves out), when
    /// the fit weighs classes ([`Fit::class_weight`]).
    fn class_weights<D: Dataset + ?Sized>(
        train: &D,
        class_weight: Option<&[(usize, f32)]>,
    ) -> Result<Option<Vec<f32>>, TrainError> {
        let Some(given) = class_weight.filter(|given| !given.is_empty()) else {
            return Ok(None);
        };
        if train.sample_weights().is_some() {
            return Err(TrainError::Setting(
                "class_weight and sample weights cannot be used together (as in Keras): \
                 multiply each example's sample weight by its class's weight instead"
                    .into(),
            ));
        }
        let (classes, what) = match train.target_kind() {
            TargetKind::Classes(n) => (n, format!("the data has {n} classes")),
            TargetKind::Values(1) => {
                binary_targets(train)?;
                (2, "a single target value makes the classes 0 and 1".into())
            }
            TargetKind::Values(w) => (w, format!("the targets have {w} values, one per class")),
        };
        let mut table: Vec<Option<f32>> = vec![None; classes];
        for &(class, weight) in given {
            let slot = table.get_mut(class).ok_or_else(|| {
                TrainError::Setting(format!("class_weight names class {class}, but {what}"))
            })?;
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(TrainError::Setting(format!(
                    "the class_weight of class {class} is {weight}: each must be finite and at least 0"
                )));
            }
            if slot.replace(weight).is_some() {
                return Err(TrainError::Setting(format!(
                    "class_weight gives class {class} twice"
                )));
            }
        }
        Ok(Some(table.into_iter().map(|w| w.unwrap_or(1.0)).collect()))
    }

    /// The loss and every metric on `data`, in batches of 32 (of the last fit's size
    /// with a [fixed batch shape](Trainer::fixed_batch_shape)), as Keras's `evaluate`.
    ///
    /// # Errors
    /// When the data does not fit the model.
    pub fn evaluate<D: Dataset + ?Sized>(&self, data: &D) -> Result<Logs, TrainError> {
        self.evaluate_batched(data, self.inference_batch())
    }

    /// [`Trainer::evaluate`] with another batch size.
    ///
    /// # Errors
    /// When the data does not fit the model.
    pub fn evaluate_batched<D: Dataset + ?Sized>(
        &self,
        data: &D,
        batch_size: usize,
    ) -> Result<Logs, TrainError> {
        check_sample_weights(data, "evaluation data")?;
        let example = self.example_shapes(data, "evaluation")?;
        self.check_targets(data)?;
        Ok(evaluate_with::<B, M, D>(
            &self.model().valid(),
            data,
            &example,
            &self.inference_loader(batch_size.max(1)),
            self.loss,
            &self.metrics,
            &self.device,
        ))
    }

    /// The batch size of `evaluate` and `predict`: Keras's 32, or the last fit's with a
    /// fixed batch shape.
    pub(crate) fn inference_batch(&self) -> usize {
        if self.fixed_batches {
            self.batch_size
        } else {
            32
        }
    }

    /// The batches of evaluation, prediction and feature extraction, in order: the last
    /// one padded to `batch_size` with a fixed batch shape.
    pub(crate) fn inference_loader(&self, batch_size: usize) -> Loader {
        let remainder = if self.fixed_batches {
            Remainder::Pad
        } else {
            Remainder::Keep
        };
        Loader::new(batch_size).remainder(remainder)
    }

    /// The model's outputs for every example of `data`, in order, as Keras's `predict`
    /// (in batches of 32, or of the last fit's size with a
    /// [fixed batch shape](Trainer::fixed_batch_shape)).
    ///
    /// # Errors
    /// When the examples do not have the model's input shape.
    pub fn predict<D: Dataset + ?Sized>(
        &self,
        data: &D,
    ) -> Result<<M::InnerModule as Model<B::InnerBackend>>::Output, TrainError> {
        let example = self.example_shapes(data, "prediction")?;
        let model = self.model().valid();
        let mut outputs = Vec::new();
        let loader = self.inference_loader(self.inference_batch());
        loader.for_each(data, 0, |batch| {
            let (model, batch, example, device) = (model.clone(), &batch, &example, &self.device);
            outputs.push(on_kernel_threads::<B::InnerBackend, _>(move || {
                let x = <<M::InnerModule as Model<B::InnerBackend>>::Input as Batch<
                    B::InnerBackend,
                >>::from_rows(batch.rows(device), example);
                model.forward(x).head(batch.real())
            }));
            ControlFlow::Continue(())
        });
        Ok(Batch::cat(outputs))
    }

    /// [`Trainer::predict`] with callbacks around it (their predict hooks), as Keras's
    /// `predict(x, callbacks=...)`.
    ///
    /// # Errors
    /// When the examples do not have the model's input shape, or a callback fails.
    pub fn predict_with<D: Dataset + ?Sized>(
        &mut self,
        data: &D,
        callbacks: &mut [&mut dyn Callback<B, M>],
    ) -> Result<<M::InnerModule as Model<B::InnerBackend>>::Output, TrainError> {
        let mut hook = |trainer: &mut Self, f: &mut CallbackHook<'_, B, M>| {
            let mut control = Control {
                model: trainer.model.as_mut().ok_or_else(fit::lost)?,
                stop: false,
                learning_rate: trainer.learning_rate,
                optimizer: &trainer.optimizer,
                iterations: trainer.iterations,
                epoch: 0,
                epochs: 0,
                steps: 0,
                skipped_validation: false,
            };
            fit::call_each(callbacks.iter_mut().map(|c| &mut **c), &mut control, f)
        };
        hook(self, &mut |c, control| c.on_predict_begin(control))?;
        let output = self.predict(data)?;
        let examples = output.batch_size();
        hook(self, &mut |c, control| c.on_predict_end(examples, control))?;
        Ok(output)
    }

    /// The outputs as `[examples, values]` rows: the class probabilities of a classifier,
    /// as Keras's `predict_proba`.
    ///
    /// # Errors
    /// When the examples do not have the model's input shape.
    pub fn predict_proba<D: Dataset + ?Sized>(
        &self,
        data: &D,
    ) -> Result<Tensor<B::InnerBackend, 2>, TrainError> {
        Ok(self.predict(data)?.into_rows())
    }

    /// The predicted class of each example: the arg-max of its outputs, or for a single
    /// output whether it exceeds 0.5, as Keras's `predict_classes`.
    ///
    /// # Errors
    /// When the examples do not have the model's input shape.
    pub fn predict_classes<D: Dataset + ?Sized>(&self, data: &D) -> Result<Vec<usize>, TrainError> {
        let rows = self.predict_proba(data)?;
        let classes = if rows.dims()[1] == 1 {
            rows.greater_elem(0.5).int().squeeze_dim::<1>(1)
        } else {
            rows.argmax(1).squeeze_dim::<1>(1)
        };
        let classes = classes
            .into_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .map_err(|e| {
                TrainError::Setting(format!("the predicted classes could not be read: {e:?}"))
            })?;
        Ok(classes.into_iter().map(|c| c as usize).collect())
    }
}

/// The loss and metrics of `model` (without dropout) on `data`.
fn evaluate_with<B, M, D>(
    model: &M::InnerModule,
    data: &D,
    example: &[Vec<usize>],
    loader: &Loader,
    loss: Objective,
    metrics: &[Reported],
    device: &B::Device,
) -> Logs
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
    D: Dataset + ?Sized,
{
    let kind = data.target_kind();
    let mut totals = Totals::<B::InnerBackend>::new(metrics, model.output_shape().elements());
    loader.for_each(data, 0, |batch| {
        // A handle on the weights (not a copy of them) for the kernels' thread.
        let (model, batch, kind) = (model.clone(), &batch, &kind);
        let sums = on_kernel_threads::<B::InnerBackend, _>(move || {
            let x = <<M::InnerModule as Model<B::InnerBackend>>::Input as Batch<B::InnerBackend>>::from_rows(batch.rows(device), example);
            let target = target::<B::InnerBackend>(batch, kind, device);
            let forward = model.forward_train(x.clone());
            let output = Output { logits: forward.logits.into_rows(), activation: forward.activation };
            let counted = Counted::new(batch.real(), batch.len, batch.weights.as_deref(), device);
            let mut value = loss.counted(&output, &target, counted.as_ref());
            // An activity penalty is a mean over the batch's rows, the padding's too: a
            // padded batch's comes from a second pass over its real rows alone.
            let penalty = match forward.penalty {
                Some(_) if batch.padding > 0 => model.forward_train(x.head(batch.real())).penalty,
                penalty => penalty,
            };
            if let Some(penalty) = penalty {
                value = value + penalty;
            }
            batch_sums(value, &output, &target, metrics, (batch.real(), counted.as_ref()))
        });
        totals.add(sums, batch.real());
        ControlFlow::Continue(())
    });
    totals.logs(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learning_rate::{CosineDecay, ExponentialDecay, PiecewiseConstantDecay};
    use crate::optimizer::{Adam, RmsProp, Sgd};
    use crate::testing::TestAutodiff as Ad;
    use burn::module::{Module, Param};
    use kiln_datasets::{ArrayDataset, ImageDataset};

    /// One weight `w`, and a bias `b` or none: `forward(x) = w · x (+ b)`.
    #[derive(Module, Debug)]
    struct Scale<B: Backend> {
        w: Param<Tensor<B, 1>>,
        b: Option<Param<Tensor<B, 1>>>,
    }

    impl<B: Backend> Model<B> for Scale<B> {
        type Input = Tensor<B, 2>;
        type Output = Tensor<B, 2>;

        fn input_shape(&self) -> kiln_spec::Shape {
            kiln_spec::Shape::known([1])
        }

        fn output_shape(&self) -> kiln_spec::Shape {
            kiln_spec::Shape::known([1])
        }

        fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
            let y = x * self.w.val().unsqueeze_dim(0);
            match &self.b {
                Some(b) => y + b.val().unsqueeze_dim(0),
                None => y,
            }
        }
    }

    /// The batch sizes a recording [`Watched`] model is given, wherever it runs.
    static SEEN: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

    /// A [`Scale`] whose output size may be unknown and whose batch sizes may be recorded.
    #[derive(Module, Debug)]
    struct Watched<B: Backend> {
        inner: Scale<B>,
        output_known: bool,
        records: bool,
    }

    impl<B: Backend> Watched<B> {
        fn of(inner: Scale<B>) -> Self {
            Watched {
                inner,
                output_known: true,
                records: false,
            }
        }

        fn output_unknown(self) -> Self {
            Watched {
                output_known: false,
                ..self
            }
        }

        fn recording(self) -> Self {
            Watched {
                records: true,
                ..self
            }
        }
    }

    impl<B: Backend> Model<B> for Watched<B> {
        type Input = Tensor<B, 2>;
        type Output = Tensor<B, 2>;

        fn input_shape(&self) -> kiln_spec::Shape {
            self.inner.input_shape()
        }

        fn output_shape(&self) -> kiln_spec::Shape {
            match self.output_known {
                true => self.inner.output_shape(),
                false => kiln_spec::Shape::new([kiln_spec::Dim::Unknown]),
            }
        }

        fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
            if self.records {
                SEEN.lock().unwrap().push(x.dims()[0]);
            }
            self.inner.forward(x)
        }
    }

    /// One example: x = 1 with the target value 0.
    fn one_example() -> ArrayDataset {
        ArrayDataset::regression(vec![1.0], vec![1], vec![0.0], 1).unwrap()
    }

    /// The weight after `steps` updates from w = 1 on loss w² (gradient 2w).
    fn w_after(optimizer: impl Into<Optimizer>, steps: usize) -> f32 {
        let model = scale(1.0);
        let mut trainer = Trainer::new(model)
            .optimizer(optimizer)
            .loss(Loss::MeanSquaredError);
        trainer
            .fit(
                &one_example(),
                Fit::epochs(steps).batch_size(1).verbose(Verbosity::Silent),
            )
            .unwrap();
        trainer.model().w.val().into_scalar()
    }

    #[test]
    fn updates_follow_keras_rules() {
        // Hand-computed from w = 1 and the gradient 2w:
        let cases: Vec<(Optimizer, usize, f32)> = vec![
            // w - lr·g = 1 - 0.1·2
            (Sgd::new().learning_rate(0.1).into(), 1, 0.8),
            // v1 = -0.2, w1 = 0.8; v2 = 0.9·v1 - 0.1·1.6 = -0.34, w2 = 0.46
            (Sgd::new().learning_rate(0.1).momentum(0.9).into(), 2, 0.46),
            // Nesterov: w1 = w + 0.9·v1 - lr·g = 1 - 0.18 - 0.2
            (
                Sgd::new()
                    .learning_rate(0.1)
                    .momentum(0.9)
                    .nesterov(true)
                    .into(),
                1,
                0.62,
            ),
            // decay 0.5: w1 = 0.8, then lr = 0.1 / 1.5 and w2 = 0.8 - 1.6/15
            (
                Sgd::new().learning_rate(0.1).decay(0.5).into(),
                2,
                0.8 - 1.6 / 15.0,
            ),
            // v = (1 - 0.9)·4 = 0.4; w = 1 - 0.01·2 / (sqrt(0.4) + 1e-7)
            (
                RmsProp::new().learning_rate(0.01).into(),
                1,
                1.0 - 0.02 / (0.4f32.sqrt() + 1e-7),
            ),
            // m̂ = 2, v̂ = 4: w = 1 - 0.1·2 / (2 + ε)
            (Adam::new().learning_rate(0.1).into(), 1, 0.9),
            // A schedule, one rate per update: 0.1, then 0.05: w2 = 0.8 - 0.05·1.6
            (
                Sgd::new()
                    .learning_rate(PiecewiseConstantDecay::new([0], [0.1, 0.05]))
                    .into(),
                2,
                0.72,
            ),
            // A warm-up from 0: the first update moves nothing, the second at 0.1
            (
                Sgd::new()
                    .learning_rate(CosineDecay::new(0.0, 2).warmup(1, 0.1))
                    .into(),
                2,
                0.8,
            ),
            // A schedule with Keras 2's decay: 0.1, then 0.05 / (1 + 0.5)
            (
                Sgd::new()
                    .learning_rate(ExponentialDecay::new(0.1, 1, 0.5))
                    .decay(0.5)
                    .into(),
                2,
                0.8 - 1.6 * 0.05 / 1.5,
            ),
        ];
        for (optimizer, steps, want) in cases {
            let got = w_after(optimizer.clone(), steps);
            assert!(
                (got - want).abs() < 1e-5,
                "{optimizer:?}: got {got}, want {want}"
            );
        }
    }

    fn scale(w: f32) -> Scale<Ad> {
        let device = Default::default();
        Scale {
            w: Param::from_tensor(Tensor::from_floats([w], &device)),
            b: None,
        }
    }

    /// `forward(x) = w · x + b`.
    fn affine(w: f32, b: f32) -> Scale<Ad> {
        let device = Default::default();
        Scale {
            b: Some(Param::from_tensor(Tensor::from_floats([b], &device))),
            ..scale(w)
        }
    }

    fn close(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|g| (g - want).abs() < 1e-6)
    }

    /// Keras's gradient clipping, worked by hand: from w = b = 1 on x = 1, y = 0, the
    /// loss (w + b)² has the gradient 4 for each weight (a norm of √32 for both).
    #[test]
    fn gradients_are_clipped_as_keras_clips_them() {
        let after = |sgd: Sgd| {
            let mut trainer = Trainer::new(affine(1.0, 1.0))
                .optimizer(sgd.learning_rate(0.1))
                .loss(Loss::MeanSquaredError);
            let fit = Fit::epochs(1).batch_size(1).verbose(Verbosity::Silent);
            let result = trainer.fit(&one_example(), fit).map(|_| ());
            let m = trainer.model();
            let b = m.b.as_ref().map_or(f32::NAN, |b| b.val().into_scalar());
            (result, [m.w.val().into_scalar(), b])
        };
        let global = 1.0 - 0.1 * 4.0 * 2.0 / 32f32.sqrt();
        let cases = [
            (Sgd::new(), 0.6),                         // 1 - 0.1·4
            (Sgd::new().clipvalue(3.0), 0.7),          // each value to 3
            (Sgd::new().clipnorm(2.0), 0.8),           // each weight's norm to 2
            (Sgd::new().clipnorm(10.0), 0.6),          // under the bound: unchanged
            (Sgd::new().global_clipnorm(2.0), global), // both together to a norm of 2
        ];
        for (sgd, want) in cases {
            let (result, got) = after(sgd.clone());
            assert!(result.is_ok(), "{sgd:?}: {result:?}");
            assert!(
                got.iter().all(|g| (g - want).abs() < 1e-6),
                "{sgd:?}: {got:?}, want {want}"
            );
        }
        for (sgd, message) in [
            (
                Sgd::new().clipnorm(1.0).global_clipnorm(1.0),
                "only one of clipnorm, clipvalue and global_clipnorm can be set (as in Keras), got clipnorm and global_clipnorm",
            ),
            (
                Sgd::new().clipvalue(0.0),
                "the optimizer's clipvalue must be positive, got 0",
            ),
            (
                Sgd::new().clipnorm(f64::NAN),
                "the optimizer's clipnorm must be positive, got NaN",
            ),
        ] {
            let (result, weights) = after(sgd);
            assert_eq!(
                result.err().map(|e| e.to_string()).as_deref(),
                Some(message)
            );
            assert_eq!(weights, [1.0, 1.0]);
        }
    }

    /// Sample weights multiply each example's loss (Keras's `sum_over_batch_size`: the
    /// sum over the batch's size) in training, validation and evaluation; the metrics
    /// stay unweighted, as Keras's `metrics`, and `weighted_metrics` are their weighted
    /// means.
    #[test]
    fn sample_weights_weigh_the_loss_in_fit_validation_and_evaluate() {
        use kiln_datasets::Weighted;
        // x = 1, 2 train (weights 3, 0); x = 1, 3 are held out (weights 2, 1); y = 0.
        let data =
            ArrayDataset::regression(vec![1.0, 2.0, 1.0, 3.0], vec![1], vec![0.0; 4], 1).unwrap();
        let weighted = Weighted::new(&data, vec![3.0, 0.0, 2.0, 1.0]).unwrap();
        let mut trainer = Trainer::new(scale(1.0))
            .optimizer(Sgd::new().learning_rate(0.1))
            .loss(Loss::MeanSquaredError)
            .weighted_metrics([Metric::MeanSquaredError, Metric::MeanAbsoluteError])
            .metrics([Metric::MeanSquaredError]);
        let fit = Fit::epochs(1)
            .batch_size(2)
            .validation_split(0.5)
            .shuffle(false);
        let history = trainer
            .fit(&weighted, fit.verbose(Verbosity::Silent))
            .unwrap();
        let last = |name: &str| history.get(name).and_then(|v| v.last().copied());
        // Loss (3·1² + 0·2²) / 2 = 1.5w², gradient 3w: w = 1 - 0.1·3 = 0.7.
        assert!((trainer.model().w.val().into_scalar() - 0.7).abs() < 1e-6);
        assert!(close(last("loss"), 1.5), "{:?}", last("loss"));
        assert!(close(last("mean_squared_error"), 2.5)); // (1 + 4) / 2
        assert!(close(last("weighted_mean_squared_error"), 1.0)); // (3·1 + 0·4) / 3
        assert!(close(last("mean_absolute_error"), 1.0)); // (3·1 + 0·2) / 3
        // Held out at w = 0.7: squares 0.49 and 4.41, weighing 2 and 1.
        assert!(
            close(last("val_loss"), (2.0 * 0.49 + 4.41) / 2.0),
            "{:?}",
            last("val_loss")
        );
        assert!(close(last("val_mean_squared_error"), (0.49 + 4.41) / 2.0));
        let weighted_val = (2.0 * 0.49 + 4.41) / 3.0;
        assert!(close(last("val_weighted_mean_squared_error"), weighted_val));
        // All four in batches of 3 and 1: squares 0.49, 1.96, 0.49, 4.41.
        let logs = trainer.evaluate_batched(&weighted, 3).unwrap();
        assert!(
            close(logs.get("loss"), (3.0 * 0.49 + 2.0 * 0.49 + 4.41) / 4.0),
            "{logs:?}"
        );
        assert!(close(
            logs.get("mean_squared_error"),
            (0.49 + 1.96 + 0.49 + 4.41) / 4.0
        ));
        let weighted_all = (3.0 * 0.49 + 2.0 * 0.49 + 4.41) / 6.0;
        assert!(close(logs.get("weighted_mean_squared_error"), weighted_all));
        let unweighted = trainer.evaluate_batched(&data, 3).unwrap();
        assert_eq!(unweighted.get("loss"), unweighted.get("mean_squared_error"));
        // With a fixed batch shape the last batch is padded to 3: the same values.
        let padded = trainer
            .fixed_batch_shape(true)
            .evaluate_batched(&weighted, 3)
            .unwrap();
        assert!(
            close(padded.get("loss"), (3.0 * 0.49 + 2.0 * 0.49 + 4.41) / 4.0),
            "{padded:?}"
        );
        assert!(close(
            padded.get("weighted_mean_squared_error"),
            weighted_all
        ));
        // A root mean squared error whose weights are all 0 stays finite (the root of 0
        // has no slope): the weight does not move.
        let zero = Weighted::new(&data, vec![0.0; 4]).unwrap();
        let mut trainer = Trainer::new(scale(1.0))
            .optimizer(Sgd::new().learning_rate(0.1))
            .loss(Loss::RootMeanSquaredError);
        trainer
            .fit(
                &zero,
                Fit::epochs(1).batch_size(4).verbose(Verbosity::Silent),
            )
            .unwrap();
        assert_eq!(trainer.model().w.val().into_scalar(), 1.0);
    }

    /// `class_weight` trains as the same weights given per example, and unlike no weights.
    #[test]
    fn class_weights_train_as_the_sample_weights_of_each_class() {
        use kiln_datasets::Weighted;
        let data = ArrayDataset::classification(
            vec![1.0, -2.0, 0.5, 3.0, -1.0, 2.0],
            vec![1],
            vec![1, 0, 0, 1, 0, 1],
            2,
        )
        .unwrap();
        let train = |data: &dyn Dataset, class_weight: Option<[(usize, f32); 2]>, on_device| {
            let mut trainer = Trainer::new(scale(0.3))
                .optimizer(Sgd::new().learning_rate(0.5))
                .loss(Loss::BinaryCrossentropy);
            let mut fit = Fit::epochs(3)
                .batch_size(4)
                .seed(7)
                .data_on_device(on_device)
                .verbose(Verbosity::Silent);
            if let Some(weights) = class_weight {
                fit = fit.class_weight(weights);
            }
            let history = trainer.fit(data, fit).unwrap();
            (
                trainer.model().w.val().into_scalar(),
                history.get("loss").unwrap().to_vec(),
            )
        };
        let by_class = train(&data, Some([(1, 2.0), (0, 0.5)]), false);
        let weighted = Weighted::new(&data, vec![2.0, 0.5, 0.5, 2.0, 0.5, 2.0]).unwrap();
        assert_eq!(by_class, train(&weighted, None, false));
        assert_ne!(by_class.0, train(&data, None, false).0);
        // The same with the examples on the device, each batch picked there.
        assert_eq!(by_class, train(&data, Some([(1, 2.0), (0, 0.5)]), true));
        assert_eq!(by_class, train(&weighted, None, true));
    }

    /// Class weights that do not fit the data, or come with sample weights, and sample
    /// weights that are not one per example, stop `fit` before any update, saying why.
    #[test]
    fn weights_that_do_not_fit_are_refused() {
        use kiln_datasets::{TargetKind, Targets, Weighted};
        let labels = ArrayDataset::classification(vec![0.0; 2], vec![1], vec![0, 1], 2).unwrap();
        let values = ArrayDataset::regression(vec![0.0; 2], vec![1], vec![0.0, 1.0], 1).unwrap();
        let weighted = Weighted::new(&labels, vec![1.0, 2.0]).unwrap();
        /// Weights of the wrong length, as a dataset of one's own might give.
        struct Short(ArrayDataset);
        impl Dataset for Short {
            fn len(&self) -> usize {
                self.0.len()
            }
            fn example_shape(&self) -> Vec<usize> {
                self.0.example_shape()
            }
            fn target_kind(&self) -> TargetKind {
                self.0.target_kind()
            }
            fn gather(&self, i: &[usize], x: &mut Vec<f32>, t: &mut Targets) {
                self.0.gather(i, x, t)
            }
            fn sample_weights(&self) -> Option<&[f32]> {
                Some(&[1.0])
            }
        }
        let counts = ArrayDataset::regression(vec![0.0; 2], vec![1], vec![0.4, 2.0], 1).unwrap();
        let short = Short(labels.clone());
        type Case<'a> = (&'a dyn Dataset, Option<Vec<(usize, f32)>>, &'a str);
        let cases: [Case; 7] = [
            (
                &counts,
                Some(vec![(1, 2.0)]),
                "class_weight reads a single target value as class 0 or 1, but example 1's is 2",
            ),
            (
                &weighted,
                Some(vec![(0, 2.0)]),
                "class_weight and sample weights cannot be used together (as in Keras): multiply each example's sample weight by its class's weight instead",
            ),
            (
                &labels,
                Some(vec![(2, 1.0)]),
                "class_weight names class 2, but the data has 2 classes",
            ),
            (
                &values,
                Some(vec![(0, 1.0), (3, 1.0)]),
                "class_weight names class 3, but a single target value makes the classes 0 and 1",
            ),
            (
                &labels,
                Some(vec![(1, -1.0)]),
                "the class_weight of class 1 is -1: each must be finite and at least 0",
            ),
            (
                &labels,
                Some(vec![(1, 1.0), (1, 2.0)]),
                "class_weight gives class 1 twice",
            ),
            (
                &short,
                None,
                "the data given to fit: 1 sample weights for 2 examples: give one per example",
            ),
        ];
        for (data, class_weight, want) in cases {
            let mut trainer = Trainer::new(scale(1.0)).loss(Loss::BinaryCrossentropy);
            let mut fit = Fit::epochs(1).verbose(Verbosity::Silent);
            if let Some(weights) = class_weight {
                fit = fit.class_weight(weights);
            }
            let got = trainer.fit(data, fit).err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), Some(want));
            assert_eq!(trainer.model().w.val().into_scalar(), 1.0);
        }
        let trainer = Trainer::new(scale(1.0)).loss(Loss::BinaryCrossentropy);
        let got = trainer.evaluate(&short).err().map(|e| e.to_string());
        let want = "the evaluation data: 1 sample weights for 2 examples: give one per example";
        assert_eq!(got.as_deref(), Some(want));
        // A prediction needs no weights: the bad ones are left out.
        assert_eq!(trainer.predict_proba(&short).unwrap().dims(), [2, 1]);
    }

    /// Keras's moving average of the weights (`use_ema`), worked by hand from w = 1 and
    /// the gradient 2w at a rate of 0.1 (w: 0.8, 0.64, 0.512), momentum 0.5: the average
    /// starts at the first update's weights and ends in the model.
    #[test]
    fn the_weights_moving_average_ends_in_the_model() {
        let sgd = || {
            Sgd::new()
                .learning_rate(0.1)
                .use_ema(true)
                .ema_momentum(0.5)
        };
        let close =
            |got: f32, want: f32| assert!((got - want).abs() < 1e-6, "{got} against {want}");
        close(w_after(Sgd::new().learning_rate(0.1), 3), 0.512);
        // The average: 0.8, (0.8 + 0.64) / 2 = 0.72, (0.72 + 0.512) / 2 = 0.616.
        close(w_after(sgd(), 3), 0.616);
        // Put in the weights every 2 updates: w 0.8, 0.64 → 0.72, then 0.576; the
        // average 0.8, 0.72, (0.72 + 0.576) / 2 = 0.648.
        close(w_after(sgd().ema_overwrite_frequency(2), 3), 0.648);
        for (sgd, message) in [
            (
                sgd().ema_momentum(1.5),
                "the optimizer's ema_momentum must be in [0, 1], got 1.5",
            ),
            (
                sgd().ema_overwrite_frequency(0),
                "the optimizer's ema_overwrite_frequency must be positive",
            ),
        ] {
            let mut trainer = Trainer::new(scale(1.0))
                .optimizer(sgd)
                .loss(Loss::MeanSquaredError);
            let got = trainer
                .fit(&one_example(), Fit::epochs(1).verbose(Verbosity::Silent))
                .err();
            assert_eq!(got.map(|e| e.to_string()).as_deref(), Some(message));
        }
    }

    /// A run stopped after its first epoch and resumed from its backup keeps the moving
    /// average and the optimizer's state it had (Adagrad's sums, Adadelta's, Adamax's and
    /// Nadam's moments and Nadam's momentum product, Lion's average): it ends where the
    /// run never stopped ends, bit for bit.
    #[test]
    fn a_resumed_run_keeps_the_weights_moving_average_and_the_optimizers_state() {
        use crate::callbacks::BackupAndRestore;
        /// Fails at the end of epoch 1, before its backup.
        struct Crash;
        impl<B: AutodiffBackend, M> Callback<B, M> for Crash {
            fn on_epoch_end(
                &mut self,
                epoch: usize,
                _: &Logs,
                _: &mut Control<M>,
            ) -> CallbackResult {
                if epoch == 1 {
                    Err("a crash".into())
                } else {
                    Ok(())
                }
            }
        }
        let averaged = Sgd::new()
            .learning_rate(0.1)
            .use_ema(true)
            .ema_momentum(0.5);
        let optimizers: [Optimizer; 6] = [
            averaged.into(),
            crate::Adagrad::new().learning_rate(0.1).into(),
            crate::Adadelta::new().learning_rate(0.5).into(),
            crate::Adamax::new().learning_rate(0.1).into(),
            crate::Nadam::new().learning_rate(0.1).into(),
            crate::Lion::new().learning_rate(0.1).into(),
        ];
        for optimizer in optimizers {
            let name = optimizer.name();
            let dir =
                std::env::temp_dir().join(format!("kiln-backup-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let trainer = || {
                Trainer::new(scale(1.0))
                    .optimizer(optimizer.clone())
                    .loss(Loss::MeanSquaredError)
            };
            let fit = || Fit::epochs(3).batch_size(1).verbose(Verbosity::Silent);
            let mut whole = trainer();
            whole.fit(&one_example(), fit()).unwrap();
            let mut stopped = trainer();
            let crashed = stopped.fit(
                &one_example(),
                fit().callback(BackupAndRestore::new(&dir)).callback(Crash),
            );
            assert!(crashed.is_err());
            assert_eq!(dir.join("average-0.bpk").exists(), name == "sgd", "{name}");
            let mut resumed = trainer();
            resumed
                .fit(&one_example(), fit().callback(BackupAndRestore::new(&dir)))
                .unwrap();
            let w = |t: &Trainer<Ad, Scale<Ad>>| t.model().w.val().into_scalar();
            assert_eq!(w(&resumed).to_bits(), w(&whole).to_bits(), "{name}");
            // Every one moves w from 1 towards the target 0.
            assert!(
                (0.0..1.0).contains(&w(&whole).abs()) && w(&whole) != 1.0,
                "{name}: {}",
                w(&whole)
            );
            if name == "sgd" {
                assert!((w(&whole) - 0.616).abs() < 1e-6);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// A callback that sets the learning rate scales the schedule's later rates; the
    /// rate it reads and sets starts at the schedule's highest; a schedule that cannot run
    /// stops `fit` before any update, saying why.
    #[test]
    fn callbacks_scale_a_schedule_and_a_bad_one_is_refused() {
        use crate::callbacks::LearningRateScheduler;
        let schedule = ExponentialDecay::new(0.1, 1, 0.5);
        let optimizer = Optimizer::from(Sgd::new().learning_rate(schedule.clone()));
        assert_eq!(optimizer.base_learning_rate(), 0.1);
        assert!((optimizer.decayed(0.1, 2) - 0.025).abs() < 1e-15);
        assert!((optimizer.decayed(0.05, 2) - 0.0125).abs() < 1e-15);
        // Two epochs of one update: 0.1, then the schedule's 0.05 halved by the callback.
        let model = scale(1.0);
        let mut trainer = Trainer::new(model)
            .optimizer(Sgd::new().learning_rate(schedule))
            .loss(Loss::MeanSquaredError);
        let halve = LearningRateScheduler::new(|epoch, lr| if epoch == 1 { lr / 2.0 } else { lr });
        let fit = Fit::epochs(2).batch_size(1).verbose(Verbosity::Silent);
        trainer.fit(&one_example(), fit.callback(halve)).unwrap();
        let w = trainer.model().w.val().into_scalar();
        assert!((w - (0.8 - 1.6 * 0.025)).abs() < 1e-6, "{w}");

        let mut refused = Trainer::new(scale(1.0))
            .optimizer(
                Sgd::new().learning_rate(PiecewiseConstantDecay::new([5, 3], [1.0, 0.5, 0.1])),
            )
            .loss(Loss::MeanSquaredError);
        let error = refused
            .fit(&one_example(), Fit::epochs(1).verbose(Verbosity::Silent))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("boundaries must increase, got 5 then 3"),
            "{error}"
        );
        assert_eq!(refused.model().w.val().into_scalar(), 1.0);
    }

    /// Label smoothing changes the loss `evaluate` reports as Keras's does, and `fit`
    /// refuses it with a loss it does not apply to.
    #[test]
    fn label_smoothing_smooths_the_loss_and_is_refused_with_other_losses() {
        let data = ArrayDataset::classification(vec![1.0], vec![1], vec![1], 2).unwrap();
        let model = || scale(0.7);
        let trainer = Trainer::new(model())
            .loss(Loss::BinaryCrossentropy)
            .label_smoothing(0.2);
        let loss = trainer
            .evaluate_batched(&data, 1)
            .unwrap()
            .get("loss")
            .unwrap();
        // The logit 0.7 against the target 1 read as 0.9: softplus(z) - y·z.
        let by_hand = (1.0 + 0.7f64.exp()).ln() - 0.9 * 0.7;
        assert!((loss - by_hand).abs() < 1e-6, "{loss} against {by_hand}");
        let mut refused = Trainer::new(model())
            .loss(Loss::MeanSquaredError)
            .label_smoothing(0.2);
        let error = refused
            .fit(&one_example(), Fit::epochs(1).verbose(Verbosity::Silent))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(
                "label smoothing applies to the cross-entropies, not to mean_squared_error"
            ),
            "{error}"
        );
    }

    /// Counts past f32's 2²⁴ stay exact: three batches of one example of 2²³ outputs,
    /// each adding an odd count of 2²³ - 1 (as its loss, true and predicted positives),
    /// total 3·2²³ - 3, which no f32 holds.
    #[test]
    fn epoch_totals_are_read_into_f64_before_a_count_passes_2_to_the_24() {
        let device = Default::default();
        let odd = ((1 << 23) - 1) as f32;
        let precision = Reported::list(&[Metric::PRECISION], &[]);
        let mut totals = Totals::<crate::testing::TestBackend>::new(&precision, Some(1 << 23));
        for _ in 0..3 {
            totals.add(Tensor::from_floats([odd; 3], &device), 1);
        }
        let want = 3.0 * f64::from(odd);
        assert_ne!(f64::from(3.0 * odd), want, "an f32 would round it");
        let logs = totals.logs(&Reported::list(&[Metric::PRECISION], &[]));
        assert_eq!(logs.get("loss"), Some(want / 3.0));
        assert_eq!(logs.get("precision"), Some(1.0));
        // The f64 totals and the device's are both in the logs; a count over the outputs
        // of a model whose output width is unknown reads the device after every batch.
        assert_eq!(totals.read, [2.0 * f64::from(odd); 3]);
        let mut unknown = Totals::<crate::testing::TestBackend>::new(&precision, None);
        unknown.add(Tensor::from_floats([1.0, 2.0, 4.0], &device), 1);
        unknown.add(Tensor::from_floats([3.0, 1.0, 4.0], &device), 1);
        assert_eq!(
            (unknown.read.as_slice(), unknown.examples),
            ([1.0, 2.0, 4.0].as_slice(), 2)
        );
        let logs = unknown.logs(&precision);
        assert_eq!(
            (logs.get("loss"), logs.get("precision")),
            (Some(2.0), Some(3.0 / 8.0))
        );
        // The loss and means of losses count nothing: never read before the logs.
        let mae = Reported::list(&[Metric::MeanAbsoluteError], &[]);
        let mut means = Totals::<crate::testing::TestBackend>::new(&mae, None);
        for _ in 0..3 {
            means.add(Tensor::from_floats([1.0, 2.0], &device), 1 << 23);
        }
        assert!(means.read.is_empty());
        assert_eq!(
            means.logs(&mae).get("mean_absolute_error"),
            Some(6.0 / 3.0 / f64::from(1 << 23))
        );
    }

    #[test]
    fn epoch_metrics_are_exact_over_uneven_batches() {
        // Five examples, right for the first two only (w = 1 makes the output x, compared
        // with targets): batches of 2 give per-batch accuracies 1, 0, 0, whose plain mean
        // 1/3 differs from the exact 2/5.
        let data =
            ArrayDataset::classification(vec![1.0; 5], vec![1], vec![1, 1, 0, 0, 0], 2).unwrap();
        let model = scale(1.0);
        let trainer = Trainer::new(model)
            .loss(Loss::BinaryCrossentropy)
            .metrics([Metric::Accuracy]);
        let logs = trainer.evaluate_batched(&data, 2).unwrap();
        assert_eq!(logs.get("accuracy"), Some(0.4));
        let one_by_one = trainer.evaluate_batched(&data, 1).unwrap();
        assert!((logs.get("loss").unwrap() - one_by_one.get("loss").unwrap()).abs() < 1e-6);
        // Precision and recall are the epoch's counts' ratios: outputs 1, -1, 1, -1, 1
        // against labels 1, 1, 0, 0, 0 make one true positive of 3 predicted and 2
        // actual ones; per batch of 2, recall would be 1/2, 0/0 and 0/0.
        let data = ArrayDataset::classification(
            vec![1.0, -1.0, 1.0, -1.0, 1.0],
            vec![1],
            vec![1, 1, 0, 0, 0],
            2,
        )
        .unwrap();
        let trainer = Trainer::new(scale(1.0))
            .loss(Loss::BinaryCrossentropy)
            .metrics([Metric::PRECISION, Metric::Accuracy, Metric::RECALL]);
        let logs = trainer.evaluate_batched(&data, 2).unwrap();
        assert_eq!(logs.get("precision"), Some(1.0 / 3.0));
        assert_eq!(logs.get("accuracy"), Some(0.4));
        assert_eq!(logs.get("recall"), Some(0.5));
        // AUC from the epoch's counts: positives 0.9 and 0.4 above 5 of the 6 negatives'
        // pairs (0.6, 0.1, 0.3), in batches of 2 as in one.
        let data = ArrayDataset::classification(
            vec![0.9, 0.4, 0.6, 0.1, 0.3],
            vec![1],
            vec![1, 1, 0, 0, 0],
            2,
        )
        .unwrap();
        // And F1 from them: above 0.5 are 0.9 (a positive) and 0.6 (not), one of the two
        // positives found: precision and recall 1/2.
        let f1 = Metric::F1Score {
            average: crate::metric::Average::Macro,
            threshold: Some(0.5),
        };
        let trainer = Trainer::new(scale(1.0))
            .loss(Loss::BinaryCrossentropy)
            .metrics([Metric::AUC, f1]);
        for batch in [2, 5] {
            let logs = trainer.evaluate_batched(&data, batch).unwrap();
            let auc = logs.get("auc").unwrap();
            assert!((auc - 5.0 / 6.0).abs() < 1e-12, "batches of {batch}: {auc}");
            let f1 = logs.get("f1_score").unwrap();
            assert!((f1 - 0.5).abs() < 1e-6, "batches of {batch}: {f1}");
        }
        // A model whose output size is only known as it runs has no classes to average.
        let open = Trainer::new(Watched::of(scale(1.0)).output_unknown())
            .loss(Loss::BinaryCrossentropy)
            .metrics([f1]);
        assert_eq!(
            open.evaluate(&data).unwrap_err().to_string(),
            "f1_score averages over the model's classes, but the size of its output is not known"
        );
        let refused = Trainer::new(scale(1.0))
            .loss(Loss::BinaryCrossentropy)
            .metrics([Metric::Auc { thresholds: 1 }]);
        let got = refused.evaluate(&data).err().map(|e| e.to_string());
        assert_eq!(
            got.as_deref(),
            Some("auc's thresholds must be from 2 to 10000, got 1")
        );
    }

    #[test]
    fn a_fixed_batch_shape_pads_inference_and_drops_what_does_not_fill_a_training_batch() {
        // Five examples of distinct values: batches of 2 leave one over.
        let data = ArrayDataset::classification(
            vec![0.5, -1.0, 2.0, -0.3, 0.8],
            vec![1],
            vec![1, 1, 0, 0, 1],
            2,
        )
        .unwrap();
        let trainer = |fixed| {
            let model = scale(0.7);
            Trainer::new(model)
                .optimizer(Sgd::new().learning_rate(0.1))
                .loss(Loss::BinaryCrossentropy)
                .metrics([Metric::Accuracy, Metric::MeanSquaredError])
                .fixed_batch_shape(fixed)
        };
        let (mut fixed, mut free) = (trainer(true), trainer(false));
        let same = |a: &Logs, b: &Logs| {
            for key in ["loss", "accuracy", "mean_squared_error"] {
                let (a, b) = (a.get(key).unwrap(), b.get(key).unwrap());
                assert!((a - b).abs() < 1e-6, "{key}: {a} against {b}");
            }
        };
        let rows = |t: &Trainer<Ad, Scale<Ad>>| {
            let out = t.predict(&data).unwrap();
            assert_eq!(out.dims(), [5, 1]);
            out.into_data().to_vec::<f32>().unwrap()
        };
        // Before any fit: batches of 32, the one batch padded from 5.
        same(
            &fixed.evaluate(&data).unwrap(),
            &free.evaluate(&data).unwrap(),
        );
        assert_eq!(rows(&fixed), rows(&free));
        // Training drops the fifth example: two updates an epoch, not three.
        let fit = || {
            Fit::epochs(2)
                .batch_size(2)
                .shuffle(false)
                .verbose(Verbosity::Silent)
        };
        let history = fixed.fit(&data, fit()).unwrap();
        free.fit(&data, fit()).unwrap();
        assert_eq!((fixed.iterations(), free.iterations()), (4, 6));
        // The epoch's logs are over the four examples trained on: with w from 0.7, the
        // first batch's outputs 0.35 and -0.7 are both wrong, the second's (w ≈ 0.677)
        // 1.35 wrong and -0.2 right.
        assert_eq!(history.get("accuracy").unwrap()[0], 0.25);
        // Now in batches of the fit's 2, the last padded: the same as one by one.
        free.set_model(fixed.model().clone());
        same(
            &fixed.evaluate(&data).unwrap(),
            &free.evaluate_batched(&data, 1).unwrap(),
        );
        assert_eq!(rows(&fixed), rows(&free));
        // Fewer examples than a batch cannot train.
        let one = ArrayDataset::classification(vec![0.5], vec![1], vec![1], 2).unwrap();
        let err = fixed.fit(&one, fit()).unwrap_err().to_string();
        assert!(
            err.contains("the 1 training examples do not fill one of 2")
                && err.contains("fixed_batch_shape(false)"),
            "{err}"
        );
    }

    #[test]
    fn data_that_does_not_fit_is_refused() {
        let model = scale(1.0);
        let mut trainer = Trainer::new(model).loss(Loss::CategoricalCrossentropy);
        let wrong_shape =
            ImageDataset::new("wide", [1, 1, 2], vec![0, 0], vec![0], vec!["0".into()]).unwrap();
        let err = trainer
            .fit(&wrong_shape, Fit::epochs(1).verbose(Verbosity::Silent))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the dataset's examples have shape [1, 1, 2] but the model takes [1]; reshape the data or change the model's input"
        );
        let flat_enough = ImageDataset::new(
            "one",
            [1, 1, 1],
            vec![0],
            vec![0],
            vec!["0".into(), "1".into()],
        )
        .unwrap();
        let err = trainer
            .fit(&flat_enough, Fit::epochs(1).verbose(Verbosity::Silent))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model outputs 1 values per example but the dataset has 2 classes; end the model with Dense(2) or, for a binary loss, Dense(1, activation = sigmoid)"
        );
        let trainer_sparse = Trainer::new(scale(1.0)).loss(Loss::SparseCategoricalCrossentropy);
        assert_eq!(
            trainer_sparse
                .evaluate(&one_example())
                .unwrap_err()
                .to_string(),
            "sparse_categorical_crossentropy needs class labels but the dataset's targets are values; use categorical_crossentropy for one-hot targets"
        );
        let err = trainer
            .fit(&one_example(), Fit::epochs(1).validation_split(1.5))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "validation_split must be in [0, 1), got 1.5"
        );
        let empty = ImageDataset::new("none", [1, 1, 1], vec![], vec![], vec!["0".into()]).unwrap();
        assert_eq!(
            trainer.evaluate(&empty).unwrap_err().to_string(),
            "the evaluation dataset is empty"
        );
    }

    /// Keras's `validation_batch_size`: validation in batches of its own size, with the
    /// same logs; 0 is refused.
    #[test]
    fn validation_runs_in_batches_of_validation_batch_size() {
        let train = ArrayDataset::regression(vec![1.0; 4], vec![1], vec![0.0; 4], 1).unwrap();
        let held = ArrayDataset::regression(vec![2.0; 5], vec![1], vec![0.0; 5], 1).unwrap();
        let run = |fit: Fit<'_, Ad, Watched<Ad>>| {
            SEEN.lock().unwrap().clear();
            let mut trainer = Trainer::new(Watched::of(scale(1.0)).recording())
                .optimizer(Sgd::new().learning_rate(0.0))
                .loss(Loss::MeanSquaredError);
            let history = trainer.fit(&train, fit.verbose(Verbosity::Silent));
            (
                history.map(|h| h.get("val_loss").map(<[f64]>::to_vec)),
                SEEN.lock().unwrap().clone(),
            )
        };
        let fit = || {
            Fit::epochs(1)
                .batch_size(2)
                .shuffle(false)
                .validation_data(&held)
        };
        let (default, seen) = run(fit());
        assert_eq!(seen, [2, 2, 2, 2, 1]);
        let (own, seen) = run(fit().validation_batch_size(5));
        assert_eq!(seen, [2, 2, 5]);
        assert_eq!(own.unwrap(), default.unwrap());
        let (refused, _) = run(fit().validation_batch_size(0));
        assert_eq!(
            refused.unwrap_err().to_string(),
            "validation_batch_size must be positive"
        );
    }

    /// A LambdaCallback's closures see what `fit` logs: each batch's running loss and
    /// each epoch's, as the history has them.
    #[test]
    fn a_lambda_callback_sees_the_batches_and_epochs() {
        use crate::callbacks::LambdaCallback;
        let data = ArrayDataset::regression(vec![1.0, 2.0, 3.0], vec![1], vec![0.0; 3], 1).unwrap();
        let (batches, epochs) = (std::cell::Cell::new(0), std::cell::RefCell::new(Vec::new()));
        let lambda = LambdaCallback::new()
            .on_train_batch_end(|_, logs| {
                assert!(logs.get().get("loss").is_some_and(f64::is_finite));
                batches.set(batches.get() + 1);
            })
            .on_epoch_end(|_, logs| epochs.borrow_mut().extend(logs.get("loss")));
        let mut trainer = Trainer::new(scale(1.0))
            .optimizer(Sgd::new().learning_rate(0.01))
            .loss(Loss::MeanSquaredError);
        let fit = Fit::epochs(2)
            .batch_size(2)
            .verbose(Verbosity::Silent)
            .callback(lambda);
        let history = trainer.fit(&data, fit).unwrap();
        assert_eq!(batches.get(), 4);
        assert_eq!(epochs.into_inner(), history.get("loss").unwrap());
    }

    /// Keras's `validation_freq`: validation after every 2nd epoch only; the others have
    /// no `val_` logs (NaN in the history, empty in the CSV), and the callbacks watching
    /// `val_loss` pass them over instead of failing.
    #[test]
    fn validation_freq_validates_every_nth_epoch() {
        use crate::callbacks::{CsvLogger, EarlyStopping, ModelCheckpoint, ReduceLrOnPlateau};
        let csv = std::env::temp_dir().join(format!("kiln-val-freq-{}.csv", std::process::id()));
        let dir = std::env::temp_dir().join(format!("kiln-val-freq-{}", std::process::id()));
        let template = dir.join("w-{epoch}-{val_loss:.4}.bpk");
        let mut checkpoint =
            ModelCheckpoint::new(template.to_string_lossy().into_owned()).save_weights_only(true);
        let mut trainer = Trainer::new(scale(1.0))
            .optimizer(Sgd::new().learning_rate(0.1))
            .loss(Loss::MeanSquaredError);
        let mut stop = EarlyStopping::monitor("val_loss").patience(1);
        let data = one_example();
        let fit = Fit::epochs(5)
            .batch_size(1)
            .validation_data(&data)
            .validation_freq(2)
            .verbose(Verbosity::Silent)
            .callback(&mut stop)
            .callback(ReduceLrOnPlateau::monitor("val_loss"))
            .callback(&mut checkpoint)
            .callback(CsvLogger::new(&csv));
        let history = trainer.fit(&data, fit).unwrap();
        let validated: Vec<bool> = history
            .get("val_loss")
            .unwrap()
            .iter()
            .map(|v| !v.is_nan())
            .collect();
        assert_eq!(validated, [false, true, false, true, false]);
        assert_eq!((stop.best_epoch(), stop.stopped_epoch()), (Some(3), None));
        // Saved after the validated epochs only, named by their val_loss.
        let saved: Vec<String> = checkpoint
            .saved()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(saved.len(), 2, "{saved:?}");
        assert!(
            saved[0].starts_with("w-2-") && saved[1].starts_with("w-4-"),
            "{saved:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "epoch,loss,val_loss");
        assert!(
            lines[1].starts_with("0,") && lines[1].ends_with(",NA"),
            "{text}"
        );
        assert!(!lines[2].ends_with(",NA"), "{text}");
        let _ = std::fs::remove_file(&csv);
        let err = trainer
            .fit(
                &data,
                Fit::epochs(1).validation_freq(0).verbose(Verbosity::Silent),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "validation_freq must be at least 1 (validate after every n-th epoch), got 0"
        );
    }

    #[test]
    fn the_optimizer_keeps_no_state_for_frozen_weights() {
        let device = Default::default();
        let mut trainer = Trainer::new(crate::testing::Two::<Ad>::new(&device))
            .optimizer(Adam::new())
            .loss(Loss::MeanSquaredError);
        trainer.freeze(&["dense"]).unwrap();
        let data = ArrayDataset::regression(vec![1.0; 8], vec![2], vec![0.5; 8], 2).unwrap();
        let fit = Fit::epochs(2).batch_size(2).verbose(Verbosity::Silent);
        trainer.fit(&data, fit).unwrap();
        let mut kept = trainer.stepper.as_ref().unwrap().adam_state();
        kept.sort_by_key(ToString::to_string);
        let head = &trainer.model().head;
        let mut want = vec![head.weight.id, head.bias.as_ref().unwrap().id];
        want.sort_by_key(ToString::to_string);
        assert_eq!(kept, want);
    }

    /// The moving average leaves frozen weights out, as Keras's (its trainable
    /// variables): they stay as they were, bit for bit, however often it is put back.
    #[test]
    fn the_weights_moving_average_leaves_frozen_weights_alone() {
        let device = Default::default();
        let sgd = Sgd::new()
            .learning_rate(0.1)
            .use_ema(true)
            .ema_momentum(0.9);
        let mut trainer = Trainer::new(crate::testing::Two::<Ad>::new(&device))
            .optimizer(sgd.ema_overwrite_frequency(1))
            .loss(Loss::MeanSquaredError);
        trainer.freeze(&["dense"]).unwrap();
        let frozen =
            |t: &Trainer<Ad, crate::testing::Two<Ad>>| t.model().dense.weight.val().into_data();
        let (before, head) = (
            frozen(&trainer),
            trainer.model().head.weight.val().into_data(),
        );
        let data = ArrayDataset::regression(vec![1.0; 8], vec![2], vec![0.5; 8], 2).unwrap();
        trainer
            .fit(
                &data,
                Fit::epochs(3).batch_size(2).verbose(Verbosity::Silent),
            )
            .unwrap();
        assert_eq!(frozen(&trainer), before);
        assert_ne!(trainer.model().head.weight.val().into_data(), head);
        let trainable = trainer
            .model()
            .head
            .weight
            .val()
            .dims()
            .iter()
            .product::<usize>()
            + trainer
                .model()
                .head
                .bias
                .as_ref()
                .map_or(0, |b| b.val().dims()[0]);
        assert_eq!(
            trainer.stepper.as_ref().and_then(|s| s.average_len()),
            Some(trainable)
        );
    }

    /// EarlyStopping puts the best weights back when training ends, after the moving
    /// average (Keras 3's order): from w = 1 at a rate of 1.1 the weight swings to -1.2
    /// (the best epoch's, loss 1) then 1.44 (loss 1.44, a stop); the average's 0.12 is
    /// put in the weights first, then the best epoch's -1.2.
    #[test]
    fn early_stopping_restores_the_best_weights_after_the_moving_average() {
        use crate::callbacks::EarlyStopping;
        let sgd = Sgd::new()
            .learning_rate(1.1)
            .use_ema(true)
            .ema_momentum(0.5);
        let mut trainer = Trainer::new(scale(1.0))
            .optimizer(sgd)
            .loss(Loss::MeanSquaredError);
        let stop = EarlyStopping::monitor("loss").restore_best_weights(true);
        let fit = Fit::epochs(5)
            .batch_size(1)
            .verbose(Verbosity::Silent)
            .callback(stop);
        let history = trainer.fit(&one_example(), fit).unwrap();
        assert_eq!(history.get("loss").map(<[f64]>::len), Some(2));
        assert!((trainer.model().w.val().into_scalar() + 1.2).abs() < 1e-6);
    }

    /// Keras 3 puts the best weights back when a run ends without stopping early too: the
    /// same swing (-1.2 after the best epoch, then 1.44) with patience to spare.
    #[test]
    fn early_stopping_restores_the_best_weights_of_a_run_it_did_not_stop() {
        use crate::callbacks::EarlyStopping;
        let mut trainer = Trainer::new(scale(1.0))
            .optimizer(Sgd::new().learning_rate(1.1))
            .loss(Loss::MeanSquaredError);
        let mut stop = EarlyStopping::monitor("loss")
            .patience(5)
            .restore_best_weights(true);
        let fit = Fit::epochs(2)
            .batch_size(1)
            .verbose(Verbosity::Silent)
            .callback(&mut stop);
        let history = trainer.fit(&one_example(), fit).unwrap();
        assert_eq!(history.get("loss").map(<[f64]>::len), Some(2));
        assert_eq!((stop.best_epoch(), stop.stopped_epoch()), (Some(0), None));
        assert!((trainer.model().w.val().into_scalar() + 1.2).abs() < 1e-6);
    }

    #[test]
    fn save_best_only_skips_the_epochs_that_do_not_improve() {
        use crate::callbacks::{LearningRateScheduler, ModelCheckpoint};
        // Loss w² with gradient 2w, one step an epoch from w = 1: at rate 1.5 the step
        // doubles w and flips its sign, at 0.5 it lands on 0. The losses logged (before
        // each step) are 1, 4, 16, 0: only epochs 1 and 4 improve.
        let model = scale(1.0);
        let dir = std::env::temp_dir().join(format!("kiln-best-only-{}", std::process::id()));
        let template = dir
            .join("best-{epoch:02}.bpk")
            .to_string_lossy()
            .into_owned();
        let mut best = ModelCheckpoint::new(template)
            .monitor("loss")
            .save_best_only(true)
            .save_weights_only(true);
        let mut rates = LearningRateScheduler::new(|epoch, _| if epoch < 2 { 1.5 } else { 0.5 });
        let mut trainer = Trainer::new(model)
            .optimizer(Sgd::new())
            .loss(Loss::MeanSquaredError);
        let history = trainer
            .fit(
                &one_example(),
                Fit::epochs(4)
                    .batch_size(1)
                    .verbose(Verbosity::Silent)
                    .callback(&mut rates)
                    .callback(&mut best),
            )
            .unwrap();
        assert_eq!(history.get("loss").unwrap(), [1.0, 4.0, 16.0, 0.0]);
        assert_eq!(
            best.saved(),
            [dir.join("best-01.bpk"), dir.join("best-04.bpk")]
        );
        assert!(!dir.join("best-02.bpk").exists() && !dir.join("best-03.bpk").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
