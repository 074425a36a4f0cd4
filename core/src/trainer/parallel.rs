//! The workers of a data-parallel fit ([`DataParallel`]): the fit's own thread is worker
//! 0 of its process, each further device gets a thread with a replica of the model and
//! of the optimizer; each worker's part is a [`Peer`]'s.
//!
//! Between processes every exchange starts with the control tensor, of one length
//! throughout: at each step, at each epoch's end (before BatchNormalization's statistics
//! are averaged) and once after the last epoch. So wherever the others wait, the leader's
//! stop or failure reaches them with its next control tensor, and a leader that stops
//! sends one more, never a sum the others do not make.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use burn::collective::{self, CollectiveConfig, PeerId};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use kiln_datasets::HostBatch;

use super::fit::Feed;
use super::link::Link;
use super::peer::{FAILED, Peer, STOP, Stepped, broken};
use crate::distributed::{DataParallel, Nodes};
use crate::error::TrainError;
use crate::metric::Reported;
use crate::model::Model;
use crate::optimizer::Stepper;

/// One distributed fit at a time per process: burn-collective keeps one registry per
/// backend.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What a worker thread is asked to do: its part of a step, of an epoch's end, or of a
/// control tensor (the leader's stop, the last exchange).
enum Job {
    Step(Arc<HostBatch>),
    EpochEnd,
    Control,
}

/// The fit's view of its workers: its own place, and the threads of the others.
pub(super) struct Peers<B: AutodiffBackend, M> {
    me: Peer,
    jobs: Vec<mpsc::Sender<Job>>,
    done: mpsc::Receiver<Result<(), TrainError>>,
    device: B::Device,
    nodes: Option<Nodes>,
    announced: bool,
    _lock: MutexGuard<'static, ()>,
    _m: PhantomData<(B, M)>,
}

/// What a worker owns to build its [`Feed`].
struct Owned<B: Backend> {
    example: Vec<Vec<usize>>,
    kind: kiln_datasets::TargetKind,
    loss: crate::loss::Objective,
    metrics: Vec<Reported>,
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
            // Each worker's batches go to its own device (no `data_on_device`).
            examples: None,
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
            Ok(result) => result.map_err(broken)?,
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
        let link = Link::open(nodes, lane, me.local as u32, me.timeout)?;
        *me.link.borrow_mut() = Some(link);
    }
    Ok(())
}

/// Local worker `k`'s place in `parallel`, with its threads, for steps whose sums have
/// `sums` values.
fn peer<D>(parallel: &DataParallel<D>, k: usize, sums: usize) -> Result<Peer, TrainError> {
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
        sums,
        link: RefCell::new(None),
        timeout: parallel.timeout,
        pool,
    })
}

/// What every process must agree on before training: where it starts and what it
/// trains on.
const AGREED: [&str; 5] = [
    "epoch",
    "steps taken",
    "training examples",
    "batch size",
    "epochs",
];

/// The fit's own worker joined to the others, with the leader's weights, checked to
/// agree with the leader on `agreed` (see [`AGREED`]).
fn first<B: AutodiffBackend, M: AutodiffModule<B>>(
    me: &Peer,
    model: M,
    device: &B::Device,
    nodes: Option<&Nodes>,
    agreed: [u64; 5],
) -> Result<M, TrainError> {
    join::<B::InnerBackend>(me, device.clone(), nodes)?;
    let model = me.adopt(model)?;
    // Each count in three exact 22-bit parts (an f32 holds integers to 2^24).
    let parts: Vec<f32> = agreed
        .iter()
        .flat_map(|v| [v >> 44, (v >> 22) & 0x3F_FFFF, v & 0x3F_FFFF].map(|p| p as f32))
        .collect();
    let summed = me.leaders::<B::InnerBackend>(&parts, device)?;
    let leaders = summed
        .chunks(3)
        .map(|p| ((p[0] as u64) << 44) | ((p[1] as u64) << 22) | p[2] as u64);
    let differ: Vec<String> = (AGREED.iter().zip(agreed.iter().zip(leaders)))
        .filter(|(_, (a, b))| **a != *b)
        .map(|(name, (a, b))| format!("{name} {a} where rank 0 has {b}"))
        .collect();
    if !differ.is_empty() {
        return Err(TrainError::Setting(format!(
            "this process does not train what rank 0 trains: {}. Every process needs the same data and settings, and, \
             to resume, the same BackupAndRestore directory (a folder they all reach)",
            differ.join(", ")
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
    /// `stepper`, and gives every worker the leader's weights, once every process agrees
    /// on `agreed` (see [`AGREED`]).
    pub(super) fn start<'s>(
        scope: &'s std::thread::Scope<'s, '_>,
        parallel: &DataParallel<B::Device>,
        model: M,
        stepper: &Stepper<B, M>,
        feed: &Feed<'_, B>,
        agreed: [u64; 5],
    ) -> Result<(Self, M), TrainError>
    where
        M: 's,
    {
        parallel.check()?;
        let outputs = model.output_shape().elements().unwrap_or_default();
        let sums = 1 + feed.metrics.iter().map(|m| m.sums(outputs)).sum::<usize>();
        let mut peers = (0..parallel.devices.len())
            .map(|k| peer(parallel, k, sums))
            .collect::<Result<Vec<_>, _>>()?;
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        collective::reset_collective::<B::InnerBackend>();
        let nodes = parallel.nodes.as_ref();
        let (reply, done) = mpsc::channel();
        let me = peers.remove(0);
        let mut jobs = Vec::new();
        for (peer, device) in peers.into_iter().zip(&parallel.devices[1..]) {
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
            scope.spawn(move || worker(peer, replica, stepper, owned, nodes, rx, reply));
            jobs.push(tx);
        }
        let model = match first(&me, model, feed.device, nodes, agreed) {
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
            nodes: nodes.cloned(),
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
        if !self.jobs.is_empty() {
            // The batch is copied once for this process's other workers, only when it has some.
            let shared = Arc::new(batch.clone());
            if let Err(e) = self.send(|| Job::Step(shared.clone())) {
                return (model, Err(e));
            }
        }
        let (model, result) = self.me.update(model, stepper, batch, feed, lr);
        (model, self.gather(result))
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Peers<B, M> {
    /// Whether this process leads (runs the callbacks, validation and backups).
    pub(super) fn leads(&self) -> bool {
        self.nodes.as_ref().is_none_or(|n| n.rank == 0)
    }

    /// Whether the run has several processes (whose epochs end with an exchange).
    pub(super) fn between_processes(&self) -> bool {
        self.nodes.is_some()
    }

    /// This process's rank (0 when it is alone).
    pub(super) fn rank(&self) -> u32 {
        self.nodes.as_ref().map_or(0, |n| n.rank)
    }

    /// This worker's part of a job (`mine`) with the others' answers; when this one's
    /// failed, the others are first released from any sum they wait in for it.
    fn gather<T>(&self, mine: Result<T, TrainError>) -> Result<T, TrainError> {
        if mine.is_err() {
            collective::reset_collective::<B::InnerBackend>();
        }
        let theirs = self.wait();
        let mine = mine?;
        theirs.map(|()| mine)
    }

    /// Each other worker's answer to the last job.
    fn wait(&self) -> Result<(), TrainError> {
        for _ in &self.jobs {
            match self.done.recv_timeout(self.me.timeout) {
                Ok(r) => r?,
                Err(e) => return Err(broken(e)),
            }
        }
        Ok(())
    }

    fn send(&self, job: impl Fn() -> Job) -> Result<(), TrainError> {
        for tx in &self.jobs {
            tx.send(job()).map_err(broken)?;
        }
        Ok(())
    }

    /// A control tensor from every worker of this process, the leader's first putting
    /// `flag`: whether the leader stopped.
    fn control(&self, flag: f32) -> Result<bool, TrainError> {
        self.send(|| Job::Control)?;
        let told = self
            .me
            .control::<B::InnerBackend>(flag, 0.0, None, &self.device);
        Ok(self.gather(told)?.is_none())
    }

    /// At an epoch's end, between processes: when this process `stop`s, the leader
    /// tells the others; otherwise every process hears whether the leader stopped (the
    /// result), and if not, averages BatchNormalization's statistics. Called only when
    /// [`between_processes`](Self::between_processes): within one process the workers
    /// already share every update.
    pub(super) fn epoch_end(&mut self, model: M, stop: bool) -> Result<(M, bool), TrainError> {
        if stop {
            self.announce(false)?;
            return Ok((model, true));
        }
        self.send(|| Job::EpochEnd)?;
        let averaged = self.me.epoch_end(model.clone(), &self.device);
        Ok(match self.gather(averaged)? {
            Some(model) => (model, false),
            None => (model, true),
        })
    }

    /// After the last epoch, between processes: the leader's stop if it stopped early,
    /// else one last control tensor from all, so the leader never waits on a process
    /// that finished.
    pub(super) fn last(&mut self, stop: bool) -> Result<(), TrainError> {
        match (&self.nodes, stop) {
            (None, _) => Ok(()),
            (Some(_), true) => self.announce(false),
            (Some(_), false) => self.control(0.0).map(|_| ()),
        }
    }

    /// Tells the other processes that the leader stopped (`failed`: with an error), once;
    /// nothing on the others.
    fn announce(&mut self, failed: bool) -> Result<(), TrainError> {
        if self.nodes.is_none() || !self.leads() || self.announced {
            return Ok(());
        }
        self.announced = true;
        self.control(if failed { FAILED } else { STOP }).map(|_| ())
    }

    /// Releases the workers when the fit thread unwinds from a panic, so the scope they
    /// run in can end.
    pub(super) fn abandon(mut self) {
        self.jobs.clear();
        collective::reset_collective::<B::InnerBackend>();
    }

    /// Ends the workers of this process after `result`: on a failure, the other
    /// processes hear of it and this process's workers are released from any sum they
    /// wait in.
    pub(super) fn finish(mut self, result: Result<(), TrainError>) -> Result<(), TrainError> {
        if result.is_err() {
            if !matches!(result, Err(TrainError::Distributed(_))) {
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

/// When a worker thread ends by a panic: releases the other workers of this process
/// from the sums they wait in, and tells the fit.
struct Release<B: Backend>(mpsc::Sender<Result<(), TrainError>>, PhantomData<B>);

impl<B: Backend> Drop for Release<B> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            collective::reset_collective::<B>();
            let panicked = TrainError::Distributed("a worker of this process panicked".into());
            let _ = self.0.send(Err(panicked));
        }
    }
}

/// A worker thread: jobs until the fit drops its channel or one fails (which releases
/// the others of this process from the sums they wait in), then unregisters.
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
    let _release = Release::<B::InnerBackend>(reply.clone(), PhantomData);
    let device = owned.device.clone();
    let started = join::<B::InnerBackend>(&me, device.clone(), nodes.as_ref())
        .and_then(|()| me.adopt(model))
        .and_then(|m| {
            me.leaders::<B::InnerBackend>(&[0.0; 15], &device)
                .map(|_| m)
        });
    let mut model = match started {
        Ok(m) => m,
        Err(e) => {
            collective::reset_collective::<B::InnerBackend>();
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
            Job::EpochEnd => me
                .epoch_end(model.clone(), &device)
                .map(|m| model = m.unwrap_or_else(|| model.clone())),
            Job::Control => me
                .control::<B::InnerBackend>(0.0, 0.0, None, &device)
                .map(|_| ()),
        };
        let failed = result.is_err();
        if failed {
            collective::reset_collective::<B::InnerBackend>();
        }
        if reply.send(result).is_err() || failed {
            break;
        }
    }
    let _ = collective::finish_collective::<B::InnerBackend>(PeerId(me.id));
}
