//! # kiln-tune — hyperparameter search for kiln, in KerasTuner's words
//!
//! A build function declares the hyperparameters where it uses them and returns the
//! trial's model and fit; an oracle ([`GridSearch`], [`RandomSearch`],
//! [`BayesianOptimization`], [`Hyperband`]) chooses their values; the [`Tuner`] trains each trial as a
//! normal kiln training in its own folder and keeps an append-only journal, from which a
//! search resumes after a crash (an interrupted trial continues after its last finished
//! epoch) and which several processes can share.
//!
//! ```
//! use kiln_tune::{GridSearch, HyperParameters, Oracle};
//!
//! let mut hp = HyperParameters::new();
//! let units = hp.choice("units", [10, 50, 100]).value();
//! let layers = hp.choice("layers", [3, 9, 27]).value();
//! assert_eq!((units, layers), (10, 3)); // the defaults: the first of each
//! assert_eq!(GridSearch::new().name(), "grid_search");
//! ```
#![warn(missing_docs)]
// The shape stays: short functions (clippy.toml: 60 lines), no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::too_many_lines, clippy::unwrap_used, clippy::expect_used)
)]

mod error;
mod gp;
mod hparams;
mod hyperband;
mod hyperparameters;
mod journal;
mod num;
mod oracle;
mod plots;
mod pruner;
mod report;
mod space;
mod trial;
mod tuner;
mod value;

pub use error::TuneError;
pub use hyperband::Hyperband;
pub use hyperparameters::{Boolean, Choice, Float, HyperParameters, Int, Number};
pub use oracle::{BayesianOptimization, Context, GridSearch, Oracle, Proposal, RandomSearch};
pub use pruner::{Asha, Epoch, MedianPruner, Pruner};
pub use space::{Condition, HyperParameter, Kind, Sampling};
pub use trial::{Budget, Direction, Objective, Report, Status, TrialRecord};
pub use tuner::{Trial, Tuner};
pub use value::{IntoValue, Value, Values};
