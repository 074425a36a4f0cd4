//! Data-parallel training, Keras's `keras.distribution.DataParallel`: one worker per
//! device, each global batch split across them, the gradients summed by burn-collective
//! before every optimizer step, so the weights stay the same on every worker and the run
//! is the one a single device would make on the whole batch. With [`Nodes`], several
//! processes (on one machine or several) train one model together over TCP.
//!
//! ```no_run
//! # use kiln_core::{Fit, distributed::{DataParallel, Nodes}};
//! # type B = kiln_core::backend::Cpu;
//! # let device = Default::default();
//! // Two workers in this process:
//! let fit = Fit::<B, ()>::epochs(10).distribution(DataParallel::new([device.clone(), device]));
//! // Or this process as one of several started with KILN_WORLD_SIZE, KILN_RANK and
//! // KILN_COORDINATOR (rank 0's host:port, as the others reach it):
//! let parallel = match Nodes::from_env()? {
//!     Some(nodes) => DataParallel::new([Default::default()]).nodes(nodes),
//!     None => DataParallel::new([Default::default()]),
//! };
//! # Ok::<(), kiln_core::TrainError>(())
//! ```

use std::time::Duration;

use crate::error::TrainError;

/// The most workers of one run, over every process.
const MAX_WORKERS: usize = 4096;

/// How [`Fit`](crate::Fit) spreads its batches: over `devices` in this process, and with
/// [`nodes`](Self::nodes) over several processes.
#[derive(Debug, Clone)]
pub struct DataParallel<D> {
    pub(crate) devices: Vec<D>,
    pub(crate) nodes: Option<Nodes>,
    pub(crate) threads: Option<usize>,
    pub(crate) timeout: Duration,
}

impl<D> DataParallel<D> {
    /// One worker per device (a device may be named twice: two workers share it).
    pub fn new(devices: impl IntoIterator<Item = D>) -> Self {
        DataParallel {
            devices: devices.into_iter().collect(),
            nodes: None,
            threads: None,
            timeout: Duration::from_secs(600),
        }
    }

    /// This process as one of several, each with the same number of devices.
    pub fn nodes(mut self, nodes: Nodes) -> Self {
        self.nodes = Some(nodes);
        self
    }

    /// The CPU threads each worker's kernels use (by default the machine's cores shared
    /// evenly among this process's workers, so they do not oversubscribe it).
    pub fn threads_per_worker(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// How long a process waits for the others (to join, or at an exchange) before it
    /// gives up with an error; ten minutes by default, since rank 0 validates while the
    /// others wait. Also how long this process's workers wait to start together.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The workers of every process.
    pub fn workers(&self) -> usize {
        let processes = self.nodes.as_ref().map_or(1, |n| n.count as usize);
        self.devices.len().saturating_mul(processes)
    }

    /// Whether this process runs the callbacks, the validation and the backups: rank 0.
    pub fn is_leader(&self) -> bool {
        self.nodes.as_ref().is_none_or(|n| n.rank == 0)
    }

    /// The threads each worker's kernels use: the setting, else the cores shared evenly,
    /// else `None` (one worker keeps the whole machine, at no cost).
    pub(crate) fn threads(&self) -> Option<usize> {
        match (self.threads, self.devices.len()) {
            (Some(t), _) => Some(t.max(1)),
            (None, 0 | 1) => None,
            (None, n) => Some(
                std::thread::available_parallelism()
                    .map_or(1, |c| c.get())
                    .div_ceil(n),
            ),
        }
    }

    /// Checks the setting before any worker starts.
    pub(crate) fn check(&self) -> Result<(), TrainError> {
        let setting = |message: String| Err(TrainError::Setting(message));
        if self.devices.is_empty() {
            return setting("DataParallel needs at least one device".into());
        }
        if self.timeout.is_zero() {
            return setting("the timeout of DataParallel must be positive".into());
        }
        if self.workers() > MAX_WORKERS {
            return setting(format!(
                "{} workers are more than kiln takes ({MAX_WORKERS})",
                self.workers()
            ));
        }
        match &self.nodes {
            Some(n) if n.count == 0 => setting("a run needs at least one node".into()),
            Some(n) if n.rank >= n.count => setting(format!(
                "the rank {} is not below the number of nodes {}",
                n.rank, n.count
            )),
            _ => Ok(()),
        }
    }
}

/// This process's place among several: how many take part, which one it is, and where
/// rank 0 listens. Rank 0 leads: it runs the callbacks and validation and keeps the
/// backups; it listens on the coordinator's port, and on the ports after it when a
/// process has several devices (one per device). Every process must train the same model
/// on the same data with the same settings and the same number of devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodes {
    pub(crate) count: u32,
    pub(crate) rank: u32,
    pub(crate) coordinator: (String, u16),
}

impl Nodes {
    /// Process `rank` of `count`; rank 0 listens at `coordinator` (`host:port`, the
    /// address the others reach it at).
    ///
    /// # Errors
    /// When `coordinator` is not `host:port`.
    pub fn new(count: u32, rank: u32, coordinator: &str) -> Result<Self, TrainError> {
        let bad = || {
            TrainError::Setting(format!(
                "the coordinator must be host:port (e.g. 10.0.0.1:29500), got {coordinator:?}"
            ))
        };
        let (host, port) = coordinator.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Nodes {
            count,
            rank,
            coordinator: (host.to_string(), port),
        })
    }

    /// The nodes the launcher's environment describes, `None` when `KILN_WORLD_SIZE` is
    /// not set: `KILN_WORLD_SIZE` processes, this one `KILN_RANK`, rank 0 at
    /// `KILN_COORDINATOR` (host:port).
    ///
    /// # Errors
    /// When a variable is missing or not a number.
    pub fn from_env() -> Result<Option<Self>, TrainError> {
        let var = |name: &str| std::env::var(name).ok();
        let Some(size) = var("KILN_WORLD_SIZE") else {
            return Ok(None);
        };
        let number = |name: &str, value: Option<String>| -> Result<u32, TrainError> {
            let value = value.ok_or_else(|| {
                TrainError::Setting(format!("KILN_WORLD_SIZE is set but {name} is not"))
            })?;
            value
                .parse()
                .map_err(|_| TrainError::Setting(format!("{name} must be a number, got {value:?}")))
        };
        let count = number("KILN_WORLD_SIZE", Some(size))?;
        let rank = number("KILN_RANK", var("KILN_RANK"))?;
        let coordinator = var("KILN_COORDINATOR").ok_or_else(|| {
            TrainError::Setting("KILN_WORLD_SIZE is set but KILN_COORDINATOR is not".into())
        })?;
        Nodes::new(count, rank, &coordinator).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_parse_the_coordinator() {
        let n = Nodes::new(2, 1, "10.0.0.1:29500").unwrap();
        assert_eq!(n.coordinator, ("10.0.0.1".to_string(), 29500));
        for bad in ["10.0.0.1", ":29500", "host:port", "h:70000"] {
            let e = Nodes::new(2, 0, bad).unwrap_err().to_string();
            assert!(e.contains("host:port") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let empty = DataParallel::<u8>::new([]).check().unwrap_err();
        assert!(empty.to_string().contains("at least one device"), "{empty}");
        let rank = DataParallel::new([0u8])
            .nodes(Nodes::new(2, 2, "h:1").unwrap())
            .check()
            .unwrap_err();
        assert!(rank.to_string().contains("rank 2"), "{rank}");
        let many = DataParallel::new([0u8, 0])
            .nodes(Nodes::new(u32::MAX, 0, "h:1").unwrap())
            .check()
            .unwrap_err();
        assert!(many.to_string().contains("more than kiln takes"), "{many}");
        let zero = DataParallel::new([0u8]).timeout(Duration::ZERO).check();
        assert!(zero.unwrap_err().to_string().contains("timeout"));
        let two = DataParallel::new([0u8, 0]);
        assert_eq!((two.workers(), two.is_leader()), (2, true));
        assert!(two.threads().unwrap() >= 1);
        assert_eq!(DataParallel::new([0u8]).threads(), None);
    }
}
