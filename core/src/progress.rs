//! Keras's progress display: `Epoch 3/10`, then a bar with the step count, ETA and
//! running logs, then one summary line per epoch. Without a terminal, only the lines.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::logs::Logs;

/// How much `fit` prints, as Keras's `verbose`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing.
    Silent,
    /// A progress bar per epoch (plain lines when the output is not a terminal).
    #[default]
    ProgressBar,
    /// One line per epoch.
    OneLinePerEpoch,
}

/// How often the bar's running logs are refreshed (reading them waits for the device).
const REFRESH: Duration = Duration::from_millis(250);

pub(crate) struct Progress {
    verbosity: Verbosity,
    bar: Option<ProgressBar>,
    started: Instant,
    last_refresh: Instant,
    steps: usize,
}

impl Progress {
    pub fn new(verbosity: Verbosity) -> Self {
        Progress {
            verbosity,
            bar: None,
            started: Instant::now(),
            last_refresh: Instant::now(),
            steps: 0,
        }
    }

    pub fn begin_epoch(&mut self, epoch: usize, epochs: usize, steps: usize) {
        self.started = Instant::now();
        self.last_refresh = self.started;
        self.steps = steps;
        if self.verbosity == Verbosity::Silent {
            return;
        }
        println!("Epoch {}/{epochs}", epoch + 1);
        if self.verbosity == Verbosity::ProgressBar && std::io::stdout().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{pos:>5}/{len} [{bar:30}] - ETA: {eta} - {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            self.bar = Some(bar);
        }
    }

    /// Whether the running logs are due for display.
    pub fn wants_logs(&self) -> bool {
        self.bar.is_some() && self.last_refresh.elapsed() >= REFRESH
    }

    pub fn step(&mut self, done: usize, logs: Option<&Logs>) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            if let Some(logs) = logs {
                bar.set_message(logs.to_string());
                self.last_refresh = Instant::now();
            }
        }
    }

    pub fn end_epoch(&mut self, logs: &Logs) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.verbosity == Verbosity::Silent {
            return;
        }
        let elapsed = self.started.elapsed();
        let per_step = elapsed.as_secs_f64() * 1e3 / self.steps.max(1) as f64;
        println!(
            "{0}/{0} - {1:.0}s - {per_step:.0}ms/step - {logs}",
            self.steps,
            elapsed.as_secs_f64()
        );
        let _ = std::io::stdout().flush();
    }
}
