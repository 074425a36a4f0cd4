//! The training state `BackupAndRestore` keeps: written after every epoch so that a
//! crash at any moment leaves a complete backup (the weights and optimizer files of an
//! epoch are written first, then `state.json` naming that epoch replaces the previous one
//! by an atomic rename), and read back when `fit` starts again.

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::history::History;
use crate::load::load_weights;
use crate::model::Model;
use crate::optimizer::{Optimizer, Stepper};
use crate::save::save_weights;

/// What is saved besides the weights and the optimizer state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct BackupState {
    /// The last finished epoch (0-based).
    pub epoch: usize,
    /// Updates done.
    pub iterations: u64,
    /// The base learning rate (as callbacks left it).
    pub learning_rate: f64,
    /// The fit's seed, which fixes each epoch's shuffling and dropout.
    pub seed: u64,
    /// The history so far, as JSON.
    pub history: String,
}

impl BackupState {
    pub fn history(&self) -> Result<History, TrainError> {
        History::from_json(&self.history).map_err(|e| TrainError::File {
            path: "the backup's history".into(),
            reason: e.to_string(),
        })
    }
}

pub(crate) struct Backup {
    dir: PathBuf,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl Backup {
    pub fn new(dir: &Path) -> Self {
        Backup {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn weights(&self, epoch: usize) -> PathBuf {
        self.dir.join(format!("model-{epoch}.bpk"))
    }

    /// The optimizer's moving average of the weights, as weights (`use_ema`).
    fn average(&self, epoch: usize) -> PathBuf {
        self.dir.join(format!("average-{epoch}.bpk"))
    }

    /// The optimizer file's stem; burn's recorder adds `.bin`.
    fn optimizer(&self, epoch: usize) -> PathBuf {
        self.dir.join(format!("optimizer-{epoch}"))
    }

    /// The backup's state, if there is one.
    pub fn read(&self) -> Result<Option<BackupState>, TrainError> {
        let path = self.state_file();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| TrainError::File {
                path,
                reason: format!("not a kiln backup: {e}"),
            })
    }

    /// Puts the backed-up weights into `model` and the optimizer state into `stepper`.
    pub fn restore<B, M>(
        &self,
        model: &mut M,
        stepper: &mut Option<Stepper<B, M>>,
        optimizer: &Optimizer,
        device: &B::Device,
        state: &BackupState,
    ) -> Result<(), TrainError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B> + Model<B>,
    {
        load_weights(model, self.weights(state.epoch))?;
        let fresh = stepper.take().unwrap_or_else(|| optimizer.init());
        let path = self.optimizer(state.epoch);
        let mut loaded = fresh
            .load(model, &path, device)
            .map_err(|reason| TrainError::File { path, reason })?;
        let average = self.average(state.epoch);
        if average.exists() {
            let mut weights = model.clone();
            load_weights(&mut weights, average)?;
            loaded.set_average(&weights);
        }
        *stepper = Some(loaded);
        Ok(())
    }

    /// Saves the state after `state.epoch`, then drops older epochs' files.
    pub fn write<B, M>(
        &self,
        model: &M,
        stepper: &Stepper<B, M>,
        state: &BackupState,
    ) -> Result<(), TrainError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B> + Model<B>,
    {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        save_weights(model, self.weights(state.epoch))?;
        match stepper.average(model) {
            Some(average) => save_weights(&average, self.average(state.epoch))?,
            // A killed run's average of this epoch must not pass for this one's.
            None => match std::fs::remove_file(self.average(state.epoch)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io(&self.average(state.epoch))(e));
                }
                _ => {}
            },
        }
        let staging = self.dir.join(format!("optimizer-{}-staging", state.epoch));
        stepper
            .save(model, &staging)
            .map_err(|reason| TrainError::File {
                path: staging.clone(),
                reason,
            })?;
        let (from, to) = (
            staging.with_extension("bin"),
            self.optimizer(state.epoch).with_extension("bin"),
        );
        std::fs::rename(&from, &to).map_err(io(&to))?;
        let json = serde_json::to_string(state).map_err(|e| TrainError::Setting(e.to_string()))?;
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, json).map_err(io(&tmp))?;
        std::fs::rename(&tmp, self.state_file()).map_err(io(&self.state_file()))?;
        // The new state is in place; older epochs' files are no longer needed.
        let keep = [
            self.weights(state.epoch),
            self.average(state.epoch),
            to,
            self.state_file(),
        ];
        for entry in std::fs::read_dir(&self.dir)
            .map_err(io(&self.dir))?
            .flatten()
        {
            let path = entry.path();
            if !keep.contains(&path) {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    /// Deletes the backup (after a finished fit).
    pub fn remove(&self) -> Result<(), TrainError> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&self.dir)(e)),
            _ => Ok(()),
        }
    }
}
