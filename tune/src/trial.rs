//! What the tuner optimises, and what it knows of each trial.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::Values;

/// Whether the objective is minimised or maximised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracies).
    Max,
}

/// The logged quantity a search optimises (the best epoch's value of each trial), as
/// KerasTuner's `Objective`.
///
/// ```
/// use kiln_tune::{Direction, Objective};
/// // From a name, the direction is inferred as kiln's callbacks infer it.
/// assert_eq!(Objective::from("val_accuracy").direction, Direction::Max);
/// assert_eq!(Objective::from("val_loss").direction, Direction::Min);
/// assert_eq!(Objective::max("val_f1").to_string(), "Objective(name=\"val_f1\", direction=\"max\")");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objective {
    /// The name in the epoch logs (`val_accuracy`).
    pub name: String,
    /// Whether to minimise or maximise it.
    pub direction: Direction,
}

impl Objective {
    /// Maximise `name`.
    pub fn max(name: &str) -> Self {
        Objective {
            name: name.to_string(),
            direction: Direction::Max,
        }
    }

    /// Minimise `name`.
    pub fn min(name: &str) -> Self {
        Objective {
            name: name.to_string(),
            direction: Direction::Min,
        }
    }

    /// Whether `a` is a better score than `b` (NaN is never better).
    pub fn better(&self, a: f64, b: f64) -> bool {
        match self.direction {
            Direction::Max => a > b,
            Direction::Min => a < b,
        }
    }

    /// `score` as a loss: lower is better in both directions.
    pub fn as_loss(&self, score: f64) -> f64 {
        match self.direction {
            Direction::Max => -score,
            Direction::Min => score,
        }
    }
}

impl From<&str> for Objective {
    /// Maximised when the name ends in `accuracy`, `acc` or `auc`, else minimised.
    fn from(name: &str) -> Self {
        if kiln_core::Mode::Auto.higher_is_better(name) {
            Objective::max(name)
        } else {
            Objective::min(name)
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = match self.direction {
            Direction::Max => "max",
            Direction::Min => "min",
        };
        write!(
            f,
            "Objective(name=\"{}\", direction=\"{direction}\")",
            self.name
        )
    }
}

/// Where a trial stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Started and not ended: training now, or interrupted by a crash (then resumed).
    Running,
    /// Trained to the end.
    Completed,
    /// Its build or its training failed; the message says why.
    Failed,
    /// Stopped early by the tuner's pruner.
    Pruned,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Running => "RUNNING",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Pruned => "PRUNED",
        })
    }
}

/// The objective after one epoch of a trial.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Which execution of the trial (from 0; see `Tuner::executions_per_trial`).
    pub execution: usize,
    /// The epoch, from 0.
    pub epoch: usize,
    /// The objective's value (NaN when training diverged: `null` in the journal).
    #[serde(deserialize_with = "nan_if_null")]
    pub value: f64,
}

/// A number the journal wrote as `null` (JSON has no NaN or infinity) is NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// A Hyperband trial's place and epochs: it trains from `initial_epoch` to `epochs`,
/// from its parent's best weights when it continues one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The epoch to train until (KerasTuner's `tuner/epochs`).
    pub epochs: usize,
    /// The epoch it starts from (`tuner/initial_epoch`): its parent's `epochs`.
    pub initial_epoch: usize,
    /// Which pass over the brackets (`hyperband_iterations`).
    pub iteration: usize,
    /// Its bracket (`tuner/bracket`): the most aggressive first.
    pub bracket: usize,
    /// Its round in the bracket (`tuner/round`).
    pub round: usize,
    /// The trial it continues (`tuner/trial_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// One trial as the journal records it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRecord {
    /// Its id, `0000` upwards: its directory is `trial_<id>`.
    pub id: String,
    /// The values of its active hyperparameters.
    pub values: Values,
    /// The seed of its training (shuffling, dropout, initial weights).
    pub seed: u64,
    /// Where it stands.
    pub status: Status,
    /// The objective at its best epoch, averaged over its executions.
    pub score: Option<f64>,
    /// Its best epoch (of the best execution).
    pub best_epoch: Option<usize>,
    /// The objective after each finished epoch of each execution.
    pub reports: Vec<Report>,
    /// How many epochs it trained, over all executions.
    pub epochs: usize,
    /// Its training time in seconds.
    pub seconds: f64,
    /// Why it failed.
    pub message: Option<String>,
    /// Its Hyperband budget, for Hyperband's trials.
    pub budget: Option<Budget>,
    /// How many processes have started it (more than one when one died running it).
    pub attempts: usize,
}

impl TrialRecord {
    /// A trial just started.
    pub(crate) fn started(id: String, values: Values, seed: u64, budget: Option<Budget>) -> Self {
        TrialRecord {
            id,
            values,
            seed,
            status: Status::Running,
            score: None,
            best_epoch: None,
            reports: Vec::new(),
            epochs: 0,
            seconds: 0.0,
            message: None,
            budget,
            attempts: 1,
        }
    }

    /// Its score when completed with a finite score.
    pub fn completed_score(&self) -> Option<f64> {
        self.score
            .filter(|s| s.is_finite() && self.status == Status::Completed)
    }
}
