//! The workers of a data-parallel fit ([`DataParallel`]): the fit's own thread is worker
//! 0 of its process, each further device gets a thread with a replica of the model and
//! of the optimizer. Every worker takes its rows of each global batch, weights its loss
//! by its share of the batch, and burn-collective sums the gradients of all workers (of
//! every process) before each replica's optimizer steps: the weights stay the same
//! everywhere, and equal a single device's on the whole batch.
//!
//! Within a process the workers sum through burn-collective; between processes through
//! [`Link`], kiln's own TCP sums (one lane per local worker).
//!
//! Each step also sums a small control tensor `[stop, learning rate, sums...]`: rank 0's
//! first worker alone puts its learning rate and stop flag there, so the other processes
//! follow its callbacks' schedule and stop when it stops; the sums are the epoch's loss
//! and metrics over the whole batch.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use burn::collective::{self, CollectiveConfig, PeerId, ReduceOperation};
use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use kiln_datasets::HostBatch;

use super::fit::{Feed, gradients};
use super::link::Link;
use crate::distributed::{DataParallel, Nodes};
use crate::error::TrainError;
use crate::model::Model;
use crate::optimizer::Stepper;

/// One distributed fit at a time per process: burn-collective keeps one registry per
/// backend.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A step's sums over the whole batch (`None`: the leader stopped).
type Sums<B> = Option<Tensor<<B as AutodiffBackend>::InnerBackend, 1>>;

/// The model after an update, and the update's outcome.
type Stepped<B, M> = (M, Result<Sums<B>, TrainError>);

/// A gradient flattened, with its parameter and shape.
type Part<B> = (
    (ParamId, Vec<usize>),
    Tensor<<B as AutodiffBackend>::InnerBackend, 1>,
);

/// The leader's flag in the control tensor.
const STOP: f32 = 1.0;
const FAILED: f32 = 2.0;

/// A worker's place: its peer id (its shard of every batch), how many there are, and the
/// threads its kernels run on.
struct Peer {
    id: u32,
    of: u32,
    local: usize,
    link: RefCell<Option<Link>>,
    timeout: Duration,
    pool: Option<rayon::ThreadPool>,
}

fn lost(what: impl std::fmt::Debug) -> TrainError {
    TrainError::Distributed(format!(
        "{what:?}; another worker or process stopped (its own error says why)"
    ))
}

impl Peer {
    /// This worker's rows of a batch of `len`: an even split, the first shards one row
    /// shorter when it does not divide.
    fn rows(&self, len: usize) -> Range<usize> {
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
                    .map_err(lost)?
            }
        };
        let mut link = self.link.borrow_mut();
        let Some(link) = link.as_mut() else {
            return Ok(tensor);
        };
        let device = tensor.device();
        let mut values = tensor
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(lost)?;
        link.sum(&mut values)?;
        let n = values.len();
        Ok(Tensor::from_data(TensorData::new(values, [n]), &device))
    }

    /// `grads` summed over every worker, all in one sum (in the model's order, the same
    /// in every process).
    fn sum_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: &M,
        mut grads: GradientsParams,
    ) -> Result<GradientsParams, TrainError> {
        let mut flat = Flatten::<B> {
            grads: &mut grads,
            parts: Vec::new(),
            _b: PhantomData,
        };
        model.visit(&mut flat);
        let parts = std::mem::take(&mut flat.parts);
        if parts.is_empty() {
            return Ok(grads);
        }
        let (places, tensors): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let summed = self.sum(Tensor::cat(tensors, 0))?;
        model.visit(&mut Restore::<B> {
            grads: &mut grads,
            places: places.into_iter().peekable(),
            summed,
            offset: 0,
        });
        Ok(grads)
    }

    /// The control tensor summed: the leader's flag and learning rate, and `sums`.
    fn control<B: Backend>(
        &self,
        flag: f32,
        lr: f64,
        sums: Tensor<B, 1>,
    ) -> Result<(f32, f64, Tensor<B, 1>), TrainError> {
        let head = match self.id {
            0 => [flag, lr as f32],
            _ => [0.0, 0.0],
        };
        let head = Tensor::<B, 1>::from_floats(head, &sums.device());
        let n = sums.dims()[0];
        let summed = self.sum(Tensor::cat(vec![head, sums], 0))?;
        let values = summed
            .clone()
            .slice(0..2)
            .into_data()
            .to_vec::<f32>()
            .map_err(lost)?;
        Ok((values[0], f64::from(values[1]), summed.slice(2..2 + n)))
    }

    /// The leader's `values` (every other worker adds zeros).
    fn leaders<B: Backend>(
        &self,
        values: [f32; 2],
        device: &B::Device,
    ) -> Result<[f32; 2], TrainError> {
        let mine = if self.id == 0 { values } else { [0.0; 2] };
        let summed = self.sum(Tensor::<B, 1>::from_floats(mine, device))?;
        let v = summed.into_data().to_vec::<f32>().map_err(lost)?;
        Ok([v[0], v[1]])
    }

    /// One update of `model` on this worker's rows of `batch`: the whole batch's sums, or
    /// `None` when the leader stopped. The model comes back whatever happens.
    fn update<B, M>(
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
        let (flag, lr, sums) = match self.control(0.0, lr, sums) {
            Ok(c) => c,
            Err(e) => return (model, Err(e)),
        };
        if flag == FAILED {
            let e = TrainError::Distributed("rank 0 failed (its own error says why)".into());
            return (model, Err(e));
        }
        if flag == STOP {
            return (model, Ok(None));
        }
        let grads = match self.sum_gradients(&model, grads) {
            Ok(g) => g,
            Err(e) => return (model, Err(e)),
        };
        let model = self.run(move || stepper.step(lr, model, grads));
        (model, Ok(Some(sums)))
    }

    /// The weights, and BatchNormalization's moving statistics, of the leader's first
    /// worker: a sum where every other worker adds zeros.
    fn adopt<B: AutodiffBackend, M: AutodiffModule<B>>(&self, model: M) -> Result<M, TrainError> {
        let mut mapper = Adopt::<B> {
            peer: self,
            failure: None,
            average: false,
            _b: PhantomData,
        };
        let model = model.map(&mut mapper);
        mapper.failure.map_or(Ok(model), Err)
    }

    /// BatchNormalization's moving statistics averaged over the processes (the workers
    /// of one process share them, as burn's `RunningState` does).
    fn average<B: AutodiffBackend, M: AutodiffModule<B>>(&self, model: M) -> Result<M, TrainError> {
        let _ = model.valid(); // folds each thread's pending update into the statistics
        let mut mapper = Adopt::<B> {
            peer: self,
            failure: None,
            average: true,
            _b: PhantomData,
        };
        let model = model.map(&mut mapper);
        mapper.failure.map_or(Ok(model), Err)
    }
}

/// Maps every float of a model through a sum over the workers: the leader's values
/// (`average` off), or the mean of what takes no gradient (`average` on).
struct Adopt<'p, B> {
    peer: &'p Peer,
    failure: Option<TrainError>,
    average: bool,
    _b: PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleMapper<B> for Adopt<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        if self.failure.is_some() || (self.average && tensor.is_require_grad()) {
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let grad = tensor.is_require_grad();
        let shape = tensor.shape();
        let inner = tensor.inner();
        let contribution = match (self.average, self.peer.id) {
            (true, _) | (false, 0) => inner.clone(),
            (false, _) => inner.zeros_like(),
        };
        let mut out = match self.peer.sum(contribution.flatten::<1>(0, D - 1)) {
            Ok(t) => t.reshape(shape),
            Err(e) => {
                self.failure = Some(e);
                inner
            }
        };
        if self.average {
            out = out.div_scalar(self.peer.of);
        }
        let tensor = Tensor::from_inner(out).set_require_grad(grad);
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// Takes a model's gradients out of `grads` in the model's order, each flattened.
struct Flatten<'g, B: AutodiffBackend> {
    grads: &'g mut GradientsParams,
    parts: Vec<Part<B>>,
    _b: PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let dims = g.dims().to_vec();
            self.parts
                .push(((param.id, dims), g.flatten::<1>(0, D - 1)));
        }
    }
}

/// Puts summed gradients back in the model's order, each in its shape.
struct Restore<'g, B: AutodiffBackend> {
    grads: &'g mut GradientsParams,
    places: std::iter::Peekable<std::vec::IntoIter<(ParamId, Vec<usize>)>>,
    summed: Tensor<B::InnerBackend, 1>,
    offset: usize,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Restore<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let Some((_, dims)) = self.places.next_if(|(id, _)| *id == param.id) else {
            return;
        };
        let Ok(shape) = <[usize; D]>::try_from(dims.as_slice()) else {
            return;
        };
        let n = dims.iter().product::<usize>();
        let part = self.summed.clone().narrow(0, self.offset, n);
        self.offset += n;
        self.grads
            .register::<B::InnerBackend, D>(param.id, part.reshape(shape));
    }
}

/// What a worker thread is asked to do.
enum Job {
    Step(Arc<HostBatch>),
    Control(usize),
    Average,
}

/// The fit's view of its workers: its own place, and the threads of the others.
pub(super) struct Peers<B: AutodiffBackend, M> {
    me: Peer,
    jobs: Vec<mpsc::Sender<Job>>,
    done: mpsc::Receiver<Result<(), TrainError>>,
    device: B::Device,
    sums: usize,
    nodes: bool,
    leader: bool,
    announced: bool,
    _lock: MutexGuard<'static, ()>,
    _m: PhantomData<(B, M)>,
}

/// What a worker owns to build its [`Feed`].
struct Owned<B: Backend> {
    example: Vec<Vec<usize>>,
    kind: kiln_datasets::TargetKind,
    loss: crate::loss::Loss,
    metrics: Vec<crate::metric::Metric>,
    device: B::Device,
}

impl<B: Backend> Owned<B> {
    fn feed(&self) -> Feed<'_, B> {
        Feed {
            example: &self.example,
            kind: &self.kind,
            loss: self.loss,
            metrics: &self.metrics,
            device: &self.device,
        }
    }
}

/// Joins worker `me` to the others: to this process's through burn-collective (giving
/// up after its timeout), and to its lane between processes.
fn join<B: Backend>(me: &Peer, device: B::Device, nodes: Option<&Nodes>) -> Result<(), TrainError> {
    if me.local > 1 {
        let config = CollectiveConfig::default().with_num_devices(me.local);
        let (tx, rx) = mpsc::channel();
        let id = me.id;
        std::thread::spawn(move || {
            let _ = tx.send(collective::register::<B>(PeerId(id), device, config));
        });
        match rx.recv_timeout(me.timeout) {
            Ok(result) => result.map_err(lost)?,
            Err(_) => {
                return Err(TrainError::Distributed(format!(
                    "this process's workers did not all start within {} s",
                    me.timeout.as_secs()
                )));
            }
        }
    }
    if let Some(nodes) = nodes {
        let lane = (me.id as usize % me.local) as u16;
        *me.link.borrow_mut() = Some(Link::open(nodes, lane, me.timeout)?);
    }
    Ok(())
}

/// Local worker `k`'s place in `parallel`, with its threads.
fn peer<D>(parallel: &DataParallel<D>, k: usize) -> Result<Peer, TrainError> {
    let local = parallel.devices.len();
    let rank = parallel.nodes.as_ref().map_or(0, |n| n.rank as usize);
    let pool = match parallel.threads() {
        Some(t) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| TrainError::Setting(e.to_string()))?,
        ),
        None => None,
    };
    Ok(Peer {
        id: (rank * local + k) as u32,
        of: parallel.workers() as u32,
        local,
        link: RefCell::new(None),
        timeout: parallel.timeout,
        pool,
    })
}

/// The fit's own worker joined to the others, with the leader's weights, checked to start
/// where the leader starts (`epoch`, `iterations`).
fn first<B: AutodiffBackend, M: AutodiffModule<B>>(
    me: &Peer,
    model: M,
    feed: &Feed<'_, B>,
    nodes: Option<&Nodes>,
    (epoch, iterations): (usize, u64),
) -> Result<M, TrainError> {
    join::<B::InnerBackend>(me, feed.device.clone(), nodes)?;
    let model = me.adopt(model)?;
    let [e, i] = me.leaders::<B::InnerBackend>([epoch as f32, iterations as f32], feed.device)?;
    if (e, i) != (epoch as f32, iterations as f32) {
        return Err(TrainError::Setting(format!(
            "this process starts at epoch {epoch} after {iterations} steps but rank 0 at epoch {e} after {i}: \
             give every process the same BackupAndRestore directory (a folder they all reach)"
        )));
    }
    Ok(model)
}

impl<B, M> Peers<B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
{
    /// Starts the workers of `parallel` in `scope`, each with a replica of `model` and
    /// `stepper`, and gives every worker the leader's weights.
    pub(super) fn start<'s>(
        scope: &'s std::thread::Scope<'s, '_>,
        parallel: &DataParallel<B::Device>,
        model: M,
        stepper: &Stepper<B, M>,
        feed: &Feed<'_, B>,
        start: (usize, u64),
    ) -> Result<(Self, M), TrainError>
    where
        M: 's,
    {
        parallel.check()?;
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        collective::reset_collective::<B::InnerBackend>();
        let nodes = parallel.nodes.as_ref();
        let (reply, done) = mpsc::channel();
        let mut jobs = Vec::new();
        for (k, device) in parallel.devices.iter().enumerate().skip(1) {
            let me = peer(parallel, k)?;
            let owned = Owned::<B> {
                example: feed.example.to_vec(),
                kind: feed.kind.clone(),
                loss: feed.loss,
                metrics: feed.metrics.to_vec(),
                device: device.clone(),
            };
            let replica = model.clone().fork(device);
            let stepper = stepper.replica(device);
            let (tx, rx) = mpsc::channel();
            let (reply, nodes) = (reply.clone(), nodes.cloned());
            scope.spawn(move || worker(me, replica, stepper, owned, nodes, rx, reply));
            jobs.push(tx);
        }
        let me = peer(parallel, 0)?;
        let model = match first(&me, model, feed, nodes, start) {
            Ok(model) => model,
            Err(e) => {
                // Releases the workers from any sum they wait in for this one.
                drop(jobs);
                collective::reset_collective::<B::InnerBackend>();
                return Err(e);
            }
        };
        let peers = Peers {
            me,
            jobs,
            done,
            device: feed.device.clone(),
            sums: 1 + feed.metrics.len(),
            nodes: nodes.is_some(),
            leader: parallel.is_leader(),
            announced: false,
            _lock: lock,
            _m: PhantomData,
        };
        peers.wait()?;
        Ok((peers, model))
    }

    /// One update on `batch` by every worker: see [`Peer::update`].
    pub(super) fn update(
        &self,
        model: M,
        stepper: &mut Stepper<B, M>,
        batch: &HostBatch,
        feed: &Feed<'_, B>,
        lr: f64,
    ) -> Stepped<B, M> {
        let shared = Arc::new(batch.clone());
        if let Err(e) = self.send(|| Job::Step(shared.clone())) {
            return (model, Err(e));
        }
        let (model, result) = self.me.update(model, stepper, batch, feed, lr);
        match (result, self.wait()) {
            (Ok(sums), Ok(())) => (model, Ok(sums)),
            (Err(e), _) | (Ok(_), Err(e)) => (model, Err(e)),
        }
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Peers<B, M> {
    /// Whether this process leads (runs the callbacks, validation and backups).
    pub(super) fn leads(&self) -> bool {
        self.leader
    }

    /// Each other worker's answer to the last job.
    fn wait(&self) -> Result<(), TrainError> {
        for _ in &self.jobs {
            match self.done.recv_timeout(self.me.timeout) {
                Ok(r) => r?,
                Err(e) => return Err(lost(e)),
            }
        }
        Ok(())
    }

    fn send(&self, job: impl Fn() -> Job) -> Result<(), TrainError> {
        for tx in &self.jobs {
            tx.send(job()).map_err(lost)?;
        }
        Ok(())
    }

    /// BatchNormalization's statistics averaged over the processes, at an epoch's end.
    pub(super) fn average(&self, model: M) -> Result<M, TrainError> {
        if !self.nodes {
            return Ok(model);
        }
        self.send(|| Job::Average)?;
        let model = self.me.average(model);
        self.wait()?;
        model
    }

    /// Tells the other processes that the leader stopped (`failed`: with an error), once.
    pub(super) fn announce(&mut self, failed: bool) -> Result<(), TrainError> {
        let sums = self.sums;
        if !self.nodes || !self.leader || self.announced {
            return Ok(());
        }
        self.announced = true;
        let flag = if failed { FAILED } else { STOP };
        self.send(|| Job::Control(sums))?;
        self.me
            .control::<B::InnerBackend>(flag, 0.0, Tensor::zeros([sums], &self.device))?;
        self.wait()
    }

    /// Ends the workers of this process after `result`: on a failure, the other
    /// processes hear of it and this process's workers are released from any sum they
    /// wait in.
    pub(super) fn finish(mut self, result: Result<(), TrainError>) -> Result<(), TrainError> {
        if result.is_err() {
            let unreachable = matches!(result, Err(TrainError::Distributed(_)));
            if !unreachable {
                let _ = self.announce(true);
            }
            collective::reset_collective::<B::InnerBackend>();
        }
        drop(std::mem::take(&mut self.jobs));
        for _ in self.done.iter() {}
        let _ = collective::finish_collective::<B::InnerBackend>(PeerId(self.me.id));
        result
    }
}

/// A worker thread: jobs until the fit drops its channel, then unregisters.
fn worker<B, M>(
    me: Peer,
    model: M,
    mut stepper: Stepper<B, M>,
    owned: Owned<B>,
    nodes: Option<Nodes>,
    jobs: mpsc::Receiver<Job>,
    reply: mpsc::Sender<Result<(), TrainError>>,
) where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
{
    let started = join::<B::InnerBackend>(&me, owned.device.clone(), nodes.as_ref())
        .and_then(|()| me.adopt(model))
        .and_then(|m| {
            me.leaders::<B::InnerBackend>([0.0; 2], &owned.device)
                .map(|_| m)
        });
    let mut model = match started {
        Ok(m) => m,
        Err(e) => {
            let _ = reply.send(Err(e));
            return;
        }
    };
    let _ = reply.send(Ok(()));
    let feed = owned.feed();
    for job in jobs.iter() {
        let result = match job {
            Job::Step(batch) => {
                let (m, r) = me.update(model, &mut stepper, &batch, &feed, 0.0);
                model = m;
                r.map(|_| ())
            }
            Job::Control(n) => me
                .control::<B::InnerBackend>(0.0, 0.0, Tensor::zeros([n], &owned.device))
                .map(|_| ()),
            Job::Average => me.average(model.clone()).map(|m| model = m),
        };
        if reply.send(result).is_err() {
            break;
        }
    }
    let _ = collective::finish_collective::<B::InnerBackend>(PeerId(me.id));
}
