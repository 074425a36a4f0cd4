//! What can go wrong in a search.

use std::path::{Path, PathBuf};

/// Why a search cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// A file or folder of the search cannot be read or written.
    #[error("cannot access {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A journal line is not one of the tuner's events.
    #[error("{path}, line {line}, is not a tuner journal event: {reason}")]
    Journal {
        /// The journal.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// Why.
        reason: String,
    },
    /// No search is kept where one was asked for.
    #[error("no search is kept in {}: its journal is missing (is the directory or project_name misspelt?)", .0.parent().unwrap_or(.0).display())]
    NoSearch(PathBuf),
    /// The directory holds another search.
    #[error(
        "{path} holds a search with {found}, not {wanted}; use another project_name, or overwrite(true) to start afresh"
    )]
    OtherSearch {
        /// The journal.
        path: PathBuf,
        /// Its settings.
        found: String,
        /// This tuner's settings.
        wanted: String,
    },
    /// The search space cannot be searched this way.
    #[error("{0}")]
    Space(String),
    /// A setting is out of range.
    #[error("{0}")]
    Setting(String),
    /// Trials failed one after another (KerasTuner's `max_consecutive_failed_trials`).
    #[error("{count} trials in a row failed; the last, trial {trial}: {message}")]
    Failed {
        /// How many failed in a row.
        count: usize,
        /// The last one.
        trial: String,
        /// Why it failed.
        message: String,
    },
    /// A chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] kiln_core::PlotError),
    /// Training a best model again, or loading its weights, failed.
    #[error(transparent)]
    Train(#[from] kiln_core::TrainError),
}

impl TuneError {
    pub(crate) fn file(path: &Path, reason: impl std::fmt::Display) -> Self {
        TuneError::File {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
