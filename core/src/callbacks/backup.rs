//! BackupAndRestore: the training state saved after every epoch, so a run killed midway
//! resumes where it stopped.

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;

use crate::callback::Callback;

/// Keeps the training state — weights, optimizer state, epoch, update count, learning
/// rate, history and the seed that fixes shuffling and dropout — in `backup_dir` after
/// every epoch, as Keras's `BackupAndRestore`. When `fit` starts and a backup is there, it
/// resumes after the last finished epoch with the same weights (bitwise), so a crash
/// loses no finished epoch. Each backup is written beside the previous one and made
/// current by an atomic rename; a finished `fit` deletes it.
///
/// ```
/// use kiln_core::callbacks::BackupAndRestore;
/// let backup = BackupAndRestore::new("backup");
/// ```
#[derive(Clone, Debug)]
pub struct BackupAndRestore {
    dir: PathBuf,
    delete_when_done: bool,
}

impl BackupAndRestore {
    /// Backs up into `dir` (created when needed).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        BackupAndRestore {
            dir: dir.into(),
            delete_when_done: true,
        }
    }

    /// Whether a finished `fit` deletes the backup (as Keras does by default).
    pub fn delete_when_done(mut self, delete: bool) -> Self {
        self.delete_when_done = delete;
        self
    }

    /// Whether a finished `fit` deletes the backup.
    pub fn deletes_when_done(&self) -> bool {
        self.delete_when_done
    }
}

impl<B: AutodiffBackend, M> Callback<B, M> for BackupAndRestore {
    fn backup_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn keeps_backup(&self) -> bool {
        !self.delete_when_done
    }
}

crate::callbacks::into_box!(BackupAndRestore where M: 'a);
