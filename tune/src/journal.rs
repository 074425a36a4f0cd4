//! The search's single source of truth: `trials.jsonl`, an append-only journal of JSON
//! lines, one per event, each written whole under an exclusive file lock. Replaying it
//! gives the space and every trial, so a search resumes after a crash (or `kill -9`) and
//! several processes pointed at one directory share one search.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TuneError;
use crate::space::HyperParameter;
use crate::trial::{Budget, Objective, Report, Status, TrialRecord};
use crate::value::Values;

/// The journal's format version, on every line.
const VERSION: u32 = 1;

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    /// The search's settings, first: a resumed search must have the same.
    Study {
        objective: Objective,
        oracle: String,
    },
    /// A hyperparameter joins the space.
    Space { hp: HyperParameter },
    /// A trial starts with these values and seed.
    Start {
        trial: String,
        values: Values,
        seed: u64,
        worker: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget: Option<Budget>,
    },
    /// The values a trial's build used: its proposal, with the defaults of what the
    /// build declared for the first time.
    Values { trial: String, values: Values },
    /// A process takes over a trial whose process died.
    Resume { trial: String, worker: String },
    /// A trial's objective after one of its epochs.
    Report {
        trial: String,
        #[serde(flatten)]
        report: Report,
    },
    /// A trial ends.
    End {
        trial: String,
        status: Status,
        score: Option<f64>,
        best_epoch: Option<usize>,
        epochs: usize,
        seconds: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct Line {
    v: u32,
    #[serde(flatten)]
    event: Event,
}

/// What the journal says: the settings, the space and the trials.
#[derive(Clone, Debug, Default)]
pub(crate) struct Study {
    pub settings: Option<(Objective, String)>,
    pub space: Vec<HyperParameter>,
    pub trials: Vec<TrialRecord>,
}

impl Study {
    /// The study after `event`.
    fn apply(&mut self, event: Event) {
        match event {
            Event::Study { objective, oracle } => self.settings = Some((objective, oracle)),
            Event::Space { hp } => {
                if !self.space.iter().any(|h| h.name == hp.name) {
                    self.space.push(hp);
                }
            }
            Event::Start {
                trial,
                values,
                seed,
                budget,
                ..
            } => {
                self.trials.retain(|t| t.id != trial);
                self.trials
                    .push(TrialRecord::started(trial, values, seed, budget));
            }
            Event::Values { trial, values } => {
                if let Some(t) = self.trial_mut(&trial) {
                    t.values = values;
                }
            }
            Event::Resume { trial, .. } => {
                if let Some(t) = self.trial_mut(&trial) {
                    t.attempts += 1;
                }
            }
            Event::Report { trial, report } => {
                if let Some(t) = self.trial_mut(&trial) {
                    // A resumed trial repeats the epochs after its last backup.
                    t.reports
                        .retain(|r| (r.execution, r.epoch) != (report.execution, report.epoch));
                    t.reports.push(report);
                }
            }
            Event::End {
                trial,
                status,
                score,
                best_epoch,
                epochs,
                seconds,
                message,
            } => {
                if let Some(t) = self.trial_mut(&trial) {
                    t.status = status;
                    t.score = score;
                    t.best_epoch = best_epoch;
                    t.epochs = epochs;
                    t.seconds = seconds;
                    t.message = message;
                }
            }
        }
    }

    fn trial_mut(&mut self, id: &str) -> Option<&mut TrialRecord> {
        self.trials.iter_mut().find(|t| t.id == id)
    }
}

/// The journal file of a search directory.
#[derive(Clone, Debug)]
pub(crate) struct Journal {
    path: PathBuf,
}

/// The journal, locked for this process: read it, then append to it.
pub(crate) struct Locked {
    file: File,
    path: PathBuf,
    pub study: Study,
}

impl Journal {
    /// The journal `trials.jsonl` in `dir` (created with it when needed).
    pub fn new(dir: &Path) -> Self {
        Journal {
            path: dir.join("trials.jsonl"),
        }
    }

    #[cfg(test)]
    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Locks the journal against every other writer, reads it, and hands it to `work`;
    /// unlocked when `work` returns.
    pub fn locked<R>(
        &self,
        work: impl FnOnce(&mut Locked) -> Result<R, TuneError>,
    ) -> Result<R, TuneError> {
        let io = |e: std::io::Error| TuneError::file(&self.path, e);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| TuneError::file(dir, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        let mut locked = Locked {
            file,
            path: self.path.clone(),
            study: Study::default(),
        };
        locked.replay()?;
        let result = work(&mut locked);
        let unlocked = locked.file.unlock().map_err(io);
        result.and_then(|r| unlocked.map(|()| r))
    }

    /// The journal as it stands (locked while read).
    pub fn read(&self) -> Result<Study, TuneError> {
        self.locked(|l| Ok(l.study.clone()))
    }

    /// The journal of a search that exists: an error naming the folder otherwise (a
    /// misspelt project), where [`Journal::read`] would start one.
    pub fn read_existing(&self) -> Result<Study, TuneError> {
        if !self.path.exists() {
            return Err(TuneError::NoSearch(self.path.clone()));
        }
        self.read()
    }
}

impl Locked {
    /// Reads every line. A last line cut short by a crash (no newline) is dropped from the
    /// file; any other line that is not an event is an error naming its number.
    fn replay(&mut self) -> Result<(), TuneError> {
        let mut text = String::new();
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.read_to_string(&mut text))
            .map_err(|e| TuneError::file(&self.path, e))?;
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        if whole < text.len() {
            self.file
                .set_len(whole as u64)
                .map_err(|e| TuneError::file(&self.path, e))?;
        }
        for (number, line) in text[..whole].lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line = serde_json::from_str(line).map_err(|e| TuneError::Journal {
                path: self.path.clone(),
                line: number + 1,
                reason: e.to_string(),
            })?;
            if parsed.v != VERSION {
                return Err(TuneError::Journal {
                    path: self.path.clone(),
                    line: number + 1,
                    reason: format!("format version {} is not {VERSION}", parsed.v),
                });
            }
            self.study.apply(parsed.event);
        }
        Ok(())
    }

    /// Where the journal is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empties the journal: a new search.
    pub fn clear(&mut self) -> Result<(), TuneError> {
        self.file
            .set_len(0)
            .map_err(|e| TuneError::file(&self.path, e))?;
        self.study = Study::default();
        Ok(())
    }

    /// Appends `event` as one line, on disk before this returns, and applies it.
    pub fn append(&mut self, event: Event) -> Result<(), TuneError> {
        let line = Line { v: VERSION, event };
        let mut text = serde_json::to_string(&line).map_err(|e| TuneError::file(&self.path, e))?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| TuneError::file(&self.path, e))?;
        self.study.apply(line.event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn start(id: &str, units: i64) -> Event {
        Event::Start {
            trial: id.into(),
            values: [("units", Value::Int(units))].into_iter().collect(),
            seed: 7,
            worker: "test".into(),
            budget: None,
        }
    }

    fn report(epoch: usize, value: f64) -> Event {
        Event::Report {
            trial: "0000".into(),
            report: Report {
                execution: 0,
                epoch,
                value,
            },
        }
    }

    #[test]
    fn replay_gives_back_what_was_appended() {
        let dir = tempdir("replay");
        let journal = Journal::new(&dir);
        journal
            .locked(|j| {
                j.append(start("0000", 32))?;
                j.append(report(0, 0.5))?;
                j.append(report(1, 0.7))?;
                // A resumed trial reports epoch 1 again.
                j.append(report(1, 0.7))?;
                j.append(Event::End {
                    trial: "0000".into(),
                    status: Status::Completed,
                    score: Some(0.7),
                    best_epoch: Some(1),
                    epochs: 2,
                    seconds: 1.5,
                    message: None,
                })?;
                j.append(start("0001", 64))
            })
            .unwrap();
        let study = journal.read().unwrap();
        assert_eq!(study.trials.len(), 2);
        let first = &study.trials[0];
        assert_eq!(
            (first.status, first.score, first.best_epoch),
            (Status::Completed, Some(0.7), Some(1))
        );
        let reports: Vec<(usize, f64)> = first.reports.iter().map(|r| (r.epoch, r.value)).collect();
        assert_eq!(reports, [(0, 0.5), (1, 0.7)]);
        assert_eq!(study.trials[1].status, Status::Running);
        assert_eq!(study.trials[1].values.get("units"), Some(&Value::Int(64)));
    }

    #[test]
    fn a_diverged_objective_is_written_as_null_and_read_back_as_nan() {
        let dir = tempdir("nan");
        let journal = Journal::new(&dir);
        journal
            .locked(|j| {
                j.append(start("0000", 32))?;
                j.append(report(0, f64::NAN))?;
                j.append(report(1, f64::INFINITY))
            })
            .unwrap();
        let text = std::fs::read_to_string(journal.path()).unwrap();
        assert!(text.contains(r#""epoch":0,"value":null"#), "{text}");
        let study = journal.read().unwrap();
        let values: Vec<f64> = study.trials[0].reports.iter().map(|r| r.value).collect();
        assert!(
            values.len() == 2 && values.iter().all(|v| v.is_nan()),
            "{values:?}"
        );
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_bad_line_elsewhere_is_named() {
        let dir = tempdir("torn");
        let journal = Journal::new(&dir);
        journal.locked(|j| j.append(start("0000", 32))).unwrap();
        let whole = std::fs::read_to_string(journal.path()).unwrap();
        std::fs::write(journal.path(), format!("{whole}{{\"v\":1,\"event\":\"sta")).unwrap();
        let study = journal.read().unwrap();
        assert_eq!(study.trials.len(), 1);
        assert_eq!(std::fs::read_to_string(journal.path()).unwrap(), whole);

        std::fs::write(journal.path(), format!("not json\n{whole}")).unwrap();
        let error = journal.read().unwrap_err().to_string();
        assert!(
            error.contains("trials.jsonl") && error.contains("line 1"),
            "{error}"
        );
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kiln-tune-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
