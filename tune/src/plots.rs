//! A search's charts: the objective trial by trial with the best so far, the score
//! against each hyperparameter, and every trial's learning curve.

use std::path::{Path, PathBuf};

use kiln_core::{Chart, PlotError, Series, plot_lines};

use crate::num::as_f64;
use crate::report::ranked;
use crate::space::{HyperParameter, Kind, Sampling};
use crate::trial::{Objective, TrialRecord};
use crate::value::Value;

/// Writes the charts into `dir`: `objective.png`, `learning_curves.png` and one
/// `score_vs_<name>.png` per searched hyperparameter that a completed trial used;
/// returns the files written.
pub(crate) fn write(
    dir: &Path,
    objective: &Objective,
    space: &[HyperParameter],
    trials: &[TrialRecord],
) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(dir).map_err(|e| PlotError::Draw {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut written = vec![dir.join("objective.png"), dir.join("learning_curves.png")];
    history(&written[0], objective, trials)?;
    learning_curves(&written[1], objective, trials)?;
    for hp in space.iter().filter(|h| h.is_searched()) {
        // A name is the file's: only letters, digits, `-` and `_` are kept.
        let name: String = hp
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let file = dir.join(format!("score_vs_{name}.png"));
        match against(&file, objective, hp, trials) {
            // A conditional hyperparameter no completed trial used has no chart.
            Err(PlotError::Empty) => {}
            other => {
                other?;
                written.push(file);
            }
        }
    }
    Ok(written)
}

/// A trial's number as the charts show it, from 1.
fn number(trial: &TrialRecord) -> f64 {
    trial.id.parse::<f64>().map_or(0.0, |n| n + 1.0)
}

/// The objective of each completed trial, and the best so far.
fn history(file: &Path, objective: &Objective, trials: &[TrialRecord]) -> Result<(), PlotError> {
    let scores: Vec<(f64, f64)> = trials
        .iter()
        .filter_map(|t| Some((number(t), t.completed_score()?)))
        .collect();
    let mut best: Option<f64> = None;
    let running: Vec<(f64, f64)> = scores
        .iter()
        .map(|&(x, y)| {
            let b = best.filter(|&b| !objective.better(y, b)).unwrap_or(y);
            best = Some(b);
            (x, b)
        })
        .collect();
    let name = &objective.name;
    let chart = Chart::new(
        &format!("{name} per trial, and the best so far"),
        "trial",
        name,
    )
    .whole_x();
    plot_lines(
        file,
        &chart,
        &[
            Series::new(name, scores).points_only(),
            Series::new("best so far", running),
        ],
    )
}

/// Each trial's objective epoch by epoch: the best trial coloured, the others grey.
fn learning_curves(
    file: &Path,
    objective: &Objective,
    trials: &[TrialRecord],
) -> Result<(), PlotError> {
    let best = ranked(objective, trials).first().map(|t| t.id.clone());
    let curve = |t: &TrialRecord| -> Vec<(f64, f64)> {
        t.reports
            .iter()
            .filter(|r| r.execution == 0)
            .map(|r| (as_f64(r.epoch) + 1.0, r.value))
            .collect()
    };
    let mut series: Vec<Series> = trials
        .iter()
        .filter(|t| Some(&t.id) != best.as_ref())
        .map(|t| Series::new(&t.id, curve(t)).muted())
        .collect();
    if let Some(t) = trials.iter().find(|t| Some(&t.id) == best.as_ref()) {
        series.push(Series::new(&format!("best: trial {}", t.id), curve(t)));
    }
    let name = &objective.name;
    let chart = Chart::new(
        &format!("{name} of every trial, epoch by epoch"),
        "epoch",
        name,
    )
    .whole_x();
    plot_lines(file, &chart, &series)
}

/// Each completed trial's score against its value of `hp` (the logarithm for log
/// sampling, the position in the list for choices).
fn against(
    file: &Path,
    objective: &Objective,
    hp: &HyperParameter,
    trials: &[TrialRecord],
) -> Result<(), PlotError> {
    let log = matches!(
        hp.kind,
        Kind::Int {
            sampling: Sampling::Log,
            ..
        } | Kind::Float {
            sampling: Sampling::Log,
            ..
        }
    );
    let position = |v: &Value| -> Option<f64> {
        match &hp.kind {
            Kind::Choice { values } if v.as_f64().is_none() => {
                values.iter().position(|c| c == v).map(as_f64)
            }
            _ => v.as_f64().map(|x| if log { x.log10() } else { x }),
        }
    };
    let points: Vec<(f64, f64)> = trials
        .iter()
        .filter_map(|t| Some((position(t.values.get(&hp.name)?)?, t.completed_score()?)))
        .collect();
    let x_label = match &hp.kind {
        Kind::Choice { values } if values.iter().any(|v| v.as_f64().is_none()) => {
            let names: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{i} = {v}"))
                .collect();
            format!("{} ({})", hp.name, names.join(", "))
        }
        _ if log => format!("log10({})", hp.name),
        _ => hp.name.clone(),
    };
    let name = &objective.name;
    let chart = Chart::new(&format!("{name} against {}", hp.name), &x_label, name);
    plot_lines(file, &chart, &[Series::new(name, points).points_only()])
}
