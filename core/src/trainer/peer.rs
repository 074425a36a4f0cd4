//! One worker of a data-parallel fit: its shard of each batch, its sums with the others
//! (this process's workers through burn-collective, the other processes' through its
//! [`Link`]) and the control tensor of each step, `[flag, learning rate (two halves),
//! sums...]`, where rank 0's first worker alone puts its stop flag and learning rate, so
//! every worker follows its callbacks; the sums are the loss and metrics of the whole
//! batch.

use std::cell::RefCell;
use std::ops::Range;
use std::time::Duration;

use burn::collective::{self, PeerId, ReduceOperation};
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use kiln_datasets::HostBatch;

use super::fit::{Feed, gradients};
use super::floats::{Flatten, Floats, Gather, Restore, Scatter};
use super::link::Link;
use crate::error::TrainError;
use crate::model::Model;
use crate::optimizer::Stepper;

/// The leader's flag: go on, stop (a callback stopped training), or stop with an error.
const GO: f32 = 0.0;
pub(super) const STOP: f32 = 1.0;
pub(super) const FAILED: f32 = 2.0;

/// The control tensor's head: the flag and the learning rate's two halves.
const HEAD: usize = 3;

/// A step's sums over the whole batch (`None`: the leader stopped).
pub(super) type Sums<B> = Option<Tensor<<B as AutodiffBackend>::InnerBackend, 1>>;

/// The model after an update, and the update's outcome.
pub(super) type Stepped<B, M> = (M, Result<Sums<B>, TrainError>);

/// A worker's place: its peer id (its shard of every batch), how many there are, how
/// many of them in its process, the length of the step's sums, its link to the other
/// processes and the threads its kernels run on.
pub(super) struct Peer {
    pub id: u32,
    pub of: u32,
    pub local: usize,
    pub sums: usize,
    pub link: RefCell<Option<Link>>,
    pub timeout: Duration,
    pub pool: Option<rayon::ThreadPool>,
}

/// A sum within this process failed: another of its workers stopped.
pub(super) fn broken(what: impl std::fmt::Debug) -> TrainError {
    TrainError::Distributed(format!(
        "another worker of this process stopped ({what:?}); its own error says why"
    ))
}

impl Peer {
    /// This worker's rows of a batch of `len`: an even split, the first shards one row
    /// shorter when it does not divide.
    pub fn rows(&self, len: usize) -> Range<usize> {
        let (id, of) = (self.id as usize, self.of as usize);
        len * id / of..len * (id + 1) / of
    }

    /// `f` on this worker's threads.
    fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// The sum of `tensor` over every worker: this process's through burn-collective,
    /// then the processes' through the link.
    fn sum<B: Backend>(&self, tensor: Tensor<B, 1>) -> Result<Tensor<B, 1>, TrainError> {
        let tensor = match self.local {
            1 => tensor,
            _ => {
                let primitive = tensor.into_primitive().tensor();
                collective::all_reduce::<B>(PeerId(self.id), primitive, ReduceOperation::Sum)
                    .map(|t| Tensor::from_primitive(TensorPrimitive::Float(t)))
                    .map_err(broken)?
            }
        };
        let mut link = self.link.borrow_mut();
        let Some(link) = link.as_mut() else {
            return Ok(tensor);
        };
        let device = tensor.device();
        let mut values = floats(tensor)?;
        link.sum(&mut values)?;
        let n = values.len();
        Ok(Tensor::from_data(TensorData::new(values, [n]), &device))
    }

    /// `grads` summed over every worker in one exchange.
    fn sum_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: &M,
        mut grads: GradientsParams,
    ) -> Result<GradientsParams, TrainError> {
        let mut flat = Flatten::<B>::new(&mut grads);
        model.visit(&mut flat);
        let (places, parts) = (flat.places, flat.parts);
        if parts.is_empty() {
            return Ok(grads);
        }
        let summed = self.sum(Tensor::cat(parts, 0))?;
        model.visit(&mut Restore::<B>::new(&mut grads, places, summed));
        Ok(grads)
    }

    /// The control tensor summed, this worker putting `flag` and `lr` when it is the
    /// leader's first, and `sums` (zeros when `None`): the leader's learning rate and the
    /// sums of every worker, or `None` when the leader stopped.
    pub fn control<B: Backend>(
        &self,
        flag: f32,
        lr: f64,
        sums: Option<Tensor<B, 1>>,
        device: &B::Device,
    ) -> Result<Option<(f64, Tensor<B, 1>)>, TrainError> {
        let high = lr as f32;
        let head = match self.id {
            0 => [flag, high, (lr - f64::from(high)) as f32],
            _ => [GO; HEAD],
        };
        let sums = sums.unwrap_or_else(|| Tensor::zeros([self.sums], device));
        let head = Tensor::<B, 1>::from_floats(head, device);
        let summed = self.sum(Tensor::cat(vec![head, sums], 0))?;
        let told = floats(summed.clone().slice(0..HEAD))?;
        match told[0] {
            FAILED => Err(TrainError::Distributed(
                "rank 0 failed (its own error says why)".into(),
            )),
            STOP => Ok(None),
            _ => {
                let lr = f64::from(told[1]) + f64::from(told[2]);
                Ok(Some((lr, summed.slice(HEAD..HEAD + self.sums))))
            }
        }
    }

    /// The leader's `values` (every other worker adds zeros).
    pub fn leaders<B: Backend>(
        &self,
        values: &[f32],
        device: &B::Device,
    ) -> Result<Vec<f32>, TrainError> {
        let zeros = vec![0.0; values.len()];
        let mine = if self.id == 0 { values } else { &zeros };
        let n = mine.len();
        floats(self.sum(Tensor::<B, 1>::from_data(
            TensorData::new(mine.to_vec(), [n]),
            device,
        ))?)
    }

    /// One update of `model` on this worker's rows of `batch` (the leader's first worker
    /// giving the learning rate `lr`): the whole batch's sums, or `None` when the leader
    /// stopped. The model comes back whatever happens.
    pub fn update<B, M>(
        &self,
        model: M,
        stepper: &mut Stepper<B, M>,
        batch: &HostBatch,
        feed: &Feed<'_, B>,
        lr: f64,
    ) -> Stepped<B, M>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B> + Model<B>,
    {
        let rows = self.rows(batch.len);
        let (model, (sums, grads)) = self.run(move || {
            let out = gradients(&model, batch, rows, feed);
            (model, out)
        });
        let (lr, sums) = match self.control(GO, lr, Some(sums), feed.device) {
            Ok(Some(told)) => told,
            Ok(None) => return (model, Ok(None)),
            Err(e) => return (model, Err(e)),
        };
        let grads = match self.sum_gradients(&model, grads) {
            Ok(g) => g,
            Err(e) => return (model, Err(e)),
        };
        let model = self.run(move || stepper.step(lr, model, grads));
        (model, Ok(Some(sums)))
    }

    /// `model` with `which` floats summed over every worker (zeros from all but the
    /// leader's first when `leaders`), divided by `divisor`.
    fn exchange<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: M,
        which: Floats,
        leaders: bool,
        divisor: f64,
    ) -> Result<M, TrainError> {
        let mut gather = Gather::<B>::new(which, leaders && self.id != 0);
        model.visit(&mut gather);
        if gather.parts.is_empty() {
            return Ok(model);
        }
        let summed = self.sum(Tensor::cat(gather.parts, 0))?;
        Ok(model.map(&mut Scatter::<B>::new(which, summed, divisor)))
    }

    /// The weights, and BatchNormalization's moving statistics, of the leader's first
    /// worker.
    pub fn adopt<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: M,
    ) -> Result<M, TrainError> {
        self.exchange(model, Floats::All, true, 1.0)
    }

    /// At an epoch's end, between processes: BatchNormalization's moving statistics
    /// averaged over them (the workers of one process share theirs, as burn's
    /// `RunningState` does), or `None` when the leader stopped.
    pub fn epoch_end<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: M,
        device: &B::Device,
    ) -> Result<Option<M>, TrainError> {
        if self
            .control::<B::InnerBackend>(GO, 0.0, None, device)?
            .is_none()
        {
            return Ok(None);
        }
        let _ = model.valid(); // folds each thread's pending update into the statistics
        let model = self.exchange(model, Floats::Statistics, false, f64::from(self.of))?;
        Ok(Some(model))
    }
}

/// A tensor's values as `f32`s.
fn floats<B: Backend>(tensor: Tensor<B, 1>) -> Result<Vec<f32>, TrainError> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| TrainError::Distributed(format!("a sum's values cannot be read: {e:?}")))
}
