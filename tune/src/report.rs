//! What a search shows: KerasTuner's printouts, and `results.csv` / `results.md`.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::TuneError;
use crate::space::HyperParameter;
use crate::trial::{Objective, TrialRecord};
use crate::value::Value;

/// The completed trials with a finite score, best first (earlier first on ties).
pub(crate) fn ranked<'t>(objective: &Objective, trials: &'t [TrialRecord]) -> Vec<&'t TrialRecord> {
    let mut done: Vec<&TrialRecord> = trials
        .iter()
        .filter(|t| t.completed_score().is_some())
        .collect();
    done.sort_by(|a, b| {
        let (a, b) = (a.score.unwrap_or(0.0), b.score.unwrap_or(0.0));
        objective.as_loss(a).total_cmp(&objective.as_loss(b))
    });
    done
}

/// KerasTuner's `search_space_summary`.
pub(crate) fn space_summary(space: &[HyperParameter]) -> String {
    let mut text = format!(
        "Search space summary\nDefault search space size: {}\n",
        space.len()
    );
    for hp in space {
        let _ = writeln!(text, "{hp}");
    }
    text
}

/// KerasTuner's `results_summary(n)`.
pub(crate) fn results_summary(
    dir: &Path,
    objective: &Objective,
    trials: &[TrialRecord],
    n: usize,
) -> String {
    let mut text = format!(
        "Results summary\nResults in {}\nShowing {n} best trials\n{objective}\n",
        dir.display()
    );
    for trial in ranked(objective, trials).into_iter().take(n) {
        let _ = write!(text, "\nTrial {} summary\nHyperparameters:\n", trial.id);
        if trial.values.is_empty() {
            text.push_str("default configuration\n");
        }
        for (name, value) in trial.values.iter() {
            let _ = writeln!(text, "{name}: {value}");
        }
        let _ = writeln!(text, "Score: {}", trial.score.unwrap_or(f64::NAN));
    }
    text
}

/// The table KerasTuner prints when a trial starts: its values beside the best trial's.
pub(crate) fn trial_header(
    objective: &Objective,
    trials: &[TrialRecord],
    trial: &TrialRecord,
) -> String {
    // KerasTuner shows `?` until a trial has completed.
    let best = ranked(objective, trials).first().copied();
    let mut text = format!(
        "\nSearch: Running Trial #{}\n\n{:18}|{:18}|Hyperparameter\n",
        number(trial),
        "Value",
        "Best Value So Far"
    );
    for (name, value) in trial.values.iter() {
        let best_value = best
            .and_then(|b| b.values.get(name))
            .map_or("?".to_string(), cell);
        let _ = writeln!(text, "{:18}|{:18}|{name}", cell(value), best_value);
    }
    text
}

/// What KerasTuner prints when a trial ends: its score, the best so far, the time.
pub(crate) fn trial_footer(
    objective: &Objective,
    trials: &[TrialRecord],
    trial: &TrialRecord,
) -> String {
    let mut text = format!(
        "\nTrial {} Complete [{}]\n",
        number(trial),
        clock(trial.seconds)
    );
    match (&trial.message, trial.score) {
        (Some(message), _) => {
            let _ = writeln!(text, "Trial {} failed: {message}", number(trial));
        }
        (None, score) => {
            let _ = writeln!(text, "{}: {}", objective.name, score.unwrap_or(f64::NAN));
        }
    }
    if let Some(best) = ranked(objective, trials).first() {
        let _ = write!(
            text,
            "\nBest {} So Far: {}\n",
            objective.name,
            best.score.unwrap_or(f64::NAN)
        );
    }
    let total: f64 = trials.iter().map(|t| t.seconds).sum();
    let _ = write!(text, "Total elapsed time: {}", clock(total));
    text
}

/// Writes `results.csv` and `results.md` into `dir`: one row per trial.
pub(crate) fn write_results(
    dir: &Path,
    space: &[HyperParameter],
    trials: &[TrialRecord],
) -> Result<(), TuneError> {
    let rows = table(space, trials);
    let csv: Vec<String> = rows
        .iter()
        .map(|r| r.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","))
        .collect();
    write_atomically(&dir.join("results.csv"), &(csv.join("\n") + "\n"))?;
    let mut md = String::new();
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(md, "| {} |", row.join(" | ").replace('\n', " "));
        if i == 0 {
            let _ = writeln!(md, "|{}", "---|".repeat(row.len()));
        }
    }
    write_atomically(&dir.join("results.md"), &md)
}

/// The results table: a header row, then one row per trial in order.
fn table(space: &[HyperParameter], trials: &[TrialRecord]) -> Vec<Vec<String>> {
    let mut header = vec!["trial".to_string(), "status".to_string()];
    header.extend(space.iter().map(|h| h.name.clone()));
    header.extend(["score", "best_epoch", "epochs", "seconds", "message"].map(String::from));
    let mut rows = vec![header];
    for t in trials {
        let mut row = vec![t.id.clone(), t.status.to_string()];
        row.extend(space.iter().map(|h| {
            t.values
                .get(&h.name)
                .map(ToString::to_string)
                .unwrap_or_default()
        }));
        row.push(t.score.map(|s| s.to_string()).unwrap_or_default());
        row.push(
            t.best_epoch
                .map(|e| (e + 1).to_string())
                .unwrap_or_default(),
        );
        row.push(t.epochs.to_string());
        row.push(format!("{:.1}", t.seconds));
        row.push(t.message.clone().unwrap_or_default());
        rows.push(row);
    }
    rows
}

/// A CSV field, quoted when it must be.
fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Writes `text` to `path` through a temporary file renamed into place, so a reader (or
/// another process writing the same results) never sees half a file.
fn write_atomically(path: &Path, text: &str) -> Result<(), TuneError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| TuneError::file(path, e))
}

/// A trial's number as KerasTuner shows it (from 1).
fn number(trial: &TrialRecord) -> usize {
    trial.id.parse::<usize>().map_or(0, |n| n + 1)
}

/// A value as KerasTuner's table shows it: numbers to 5 significant digits, long text cut.
fn cell(value: &Value) -> String {
    match value {
        Value::Float(x) => significant(*x, 5),
        Value::Str(s) if s.chars().count() > 18 => {
            format!("{}...", s.chars().take(15).collect::<String>())
        }
        other => other.to_string(),
    }
}

/// Python's `format(x, ".{digits}g")`.
fn significant(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return x.to_string();
    }
    let scientific = format!("{x:.*e}", digits.saturating_sub(1));
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    let limit = i32::try_from(digits).unwrap_or(i32::MAX);
    if exponent < -4 || exponent >= limit {
        format!(
            "{}e{}{:02}",
            trim(mantissa),
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        )
    } else {
        let decimals = usize::try_from(limit - 1 - exponent).unwrap_or(0);
        trim(&format!("{x:.decimals$}"))
    }
}

/// Seconds as KerasTuner's `00h 00m 05s`.
fn clock(seconds: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = seconds.max(0.0).round() as u64;
    let days = if s >= 86_400 {
        format!("{}d ", s / 86_400)
    } else {
        String::new()
    };
    format!(
        "{days}{:02}h {:02}m {:02}s",
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_python_formats_them() {
        // format(x, ".5g") in Python 3.11.
        for (x, shown) in [
            (0.00034974444778, "0.00034974"),
            (0.2, "0.2"),
            (123456.0, "1.2346e+05"),
            (0.00001234, "1.234e-05"),
            (12.5, "12.5"),
            (1e-4, "0.0001"),
        ] {
            assert_eq!(significant(x, 5), shown);
        }
        assert_eq!(clock(5.4), "00h 00m 05s");
        assert_eq!(clock(90_061.0), "1d 01h 01m 01s");
    }
}
