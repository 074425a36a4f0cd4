//! The `Tuner`: runs trials as the oracle proposes them, each a normal kiln training in
//! its own directory, and keeps the journal that makes the search resumable and shared.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use kiln_core::callbacks::{BackupAndRestore, TensorBoard};
use kiln_core::{Callback, CallbackResult, Control, Fit, Logs, Model, TrainError, Trainer};
use kiln_datasets::Dataset;

use crate::error::TuneError;
use crate::hparams;
use crate::hyperparameters::{HyperParameters, describe};
use crate::journal::{Event, Journal, Locked};
use crate::oracle::{Context, Oracle, Proposal, trial_rng};
use crate::pruner::{Epoch, Pruner};
use crate::report;
use crate::trial::{Objective, Report, Status, TrialRecord};
use crate::value::Values;

/// What a build function returns for one trial: the compiled model and how to fit it.
pub struct Trial<'a, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    trainer: Trainer<B, M>,
    fit: Fit<'a, B, M>,
}

impl<'a, B, M> Trial<'a, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// Trains `trainer` with `fit`. The tuner adds its own callbacks and sets the seed
    /// (one per trial and execution).
    pub fn new(trainer: Trainer<B, M>, fit: Fit<'a, B, M>) -> Self {
        Trial { trainer, fit }
    }
}

/// A build function: a trial's model and fit from its hyperparameters.
type Build<'a, B, M> = dyn FnMut(&mut HyperParameters) -> Result<Trial<'a, B, M>, TrainError> + 'a;

/// A hyperparameter search, in KerasTuner's words.
///
/// ```no_run
/// use kiln_core::{Adam, Fit, JsonModel, Loss, Metric, TrainError, Trainer};
/// use kiln_tune::{RandomSearch, Trial, Tuner};
/// type B = kiln_core::backend::Cpu;
/// # fn mlp(units: i64) -> Result<JsonModel<B, 2, 2>, TrainError> {
/// #     use kiln_spec::{Call, ModelSpec, Shape};
/// #     let layers = [Call::bare("Dense").arg(units), Call::bare("Dense").arg(10).kw("activation", "softmax")];
/// #     let spec = ModelSpec::from_calls("Mlp", Shape::known([784]), &layers).map_err(|e| TrainError::Setting(e.to_string()))?;
/// #     JsonModel::new(spec, &Default::default())
/// # }
/// # let train = kiln_datasets::synthetic_digits(100, 1);
/// let mut tuner = Tuner::new(RandomSearch::new().max_trials(8), |hp| {
///     let units = hp.int("units", 32, 512).step(32).value();
///     let rate = hp.float("learning_rate", 1e-4, 1e-2).log().value();
///     let trainer = Trainer::new(mlp(units)?)
///         .optimizer(Adam::new().learning_rate(rate))
///         .loss(Loss::CategoricalCrossentropy)
///         .metrics([Metric::Accuracy]);
///     Ok(Trial::new(trainer, Fit::epochs(3).validation_split(0.1)))
/// })
/// .objective("val_accuracy")
/// .directory("tuning")
/// .project_name("mnist_mlp");
/// tuner.search(&train)?;
/// println!("{}", tuner.results_summary(3)?);
/// # Ok::<(), kiln_tune::TuneError>(())
/// ```
pub struct Tuner<'a, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    oracle: Box<dyn Oracle + 'a>,
    build: Box<Build<'a, B, M>>,
    objective: Objective,
    directory: PathBuf,
    project_name: String,
    executions_per_trial: usize,
    overwrite: bool,
    seed: u64,
    max_consecutive_failed_trials: usize,
    verbose: bool,
    pruner: Option<Rc<dyn Pruner + 'a>>,
    tensorboard: Option<PathBuf>,
}

impl<'a, B, M> Tuner<'a, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// A search by `oracle` over the hyperparameters `build` declares. Keras's defaults:
    /// objective `val_loss`, directory `.`, project `untitled_project`, one execution per
    /// trial, resuming what the directory holds.
    pub fn new(
        oracle: impl Oracle + 'a,
        build: impl FnMut(&mut HyperParameters) -> Result<Trial<'a, B, M>, TrainError> + 'a,
    ) -> Self {
        Tuner {
            oracle: Box::new(oracle),
            build: Box::new(build),
            objective: Objective::min("val_loss"),
            directory: PathBuf::from("."),
            project_name: "untitled_project".into(),
            executions_per_trial: 1,
            overwrite: false,
            seed: 0,
            max_consecutive_failed_trials: 3,
            verbose: true,
            pruner: None,
            tensorboard: None,
        }
    }

    /// What to optimise: a logged name (`"val_accuracy"`, direction inferred) or an
    /// [`Objective`].
    pub fn objective(mut self, objective: impl Into<Objective>) -> Self {
        self.objective = objective.into();
        self
    }

    /// The folder that holds the project's folder.
    pub fn directory(mut self, directory: impl Into<PathBuf>) -> Self {
        self.directory = directory.into();
        self
    }

    /// The project's folder name: its journal, trials and results.
    pub fn project_name(mut self, name: &str) -> Self {
        self.project_name = name.to_string();
        self
    }

    /// How many times each trial trains from scratch (its score is the mean of their
    /// best epochs), to average out the noise of initialisation.
    pub fn executions_per_trial(mut self, executions: usize) -> Self {
        self.executions_per_trial = executions.max(1);
        self
    }

    /// Whether to delete what the project's folder holds and start afresh (false: resume
    /// from its journal).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The seed of the oracle and of every trial's training.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Stops the search with an error after this many failed trials in a row (3).
    pub fn max_consecutive_failed_trials(mut self, count: usize) -> Self {
        self.max_consecutive_failed_trials = count.max(1);
        self
    }

    /// Stops hopeless trials early: a [`MedianPruner`](crate::MedianPruner) or
    /// [`Asha`](crate::Asha), asked after every epoch of each trial's first execution; a
    /// pruned trial keeps its best score so far but never ranks among the best.
    pub fn pruner(mut self, pruner: impl Pruner + 'a) -> Self {
        self.pruner = Some(Rc::new(pruner));
        self
    }

    /// Writes each trial's TensorBoard logs to `log_dir/<trial>/execution<k>`, as
    /// KerasTuner does with a TensorBoard callback: `tensorboard --logdir log_dir` shows
    /// every trial's curves side by side, and its HParams dashboard the table of every
    /// trial's hyperparameters and metrics.
    pub fn tensorboard(mut self, log_dir: impl Into<PathBuf>) -> Self {
        self.tensorboard = Some(log_dir.into());
        self
    }

    /// Whether to print each trial's values and results (trials print as their `Fit`
    /// says).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// The project's folder.
    pub fn project_dir(&self) -> PathBuf {
        self.directory.join(&self.project_name)
    }

    /// Runs trials on `data` until the oracle has no more (another process may share
    /// the search: each runs trials the others do not), and writes `results.csv` and
    /// `results.md`; returns every trial of the search.
    ///
    /// # Errors
    /// When the project holds another search, its files cannot be written, the build
    /// fails with its default values, or trials fail one after another.
    pub fn search<D: Dataset + ?Sized>(&mut self, data: &D) -> Result<Vec<TrialRecord>, TuneError> {
        let journal = self.open()?;
        let mut failures = 0;
        loop {
            match self.claim(&journal)? {
                Claim::Done => break,
                Claim::Wait => std::thread::sleep(std::time::Duration::from_millis(500)),
                Claim::Run(record, lock) => {
                    let end = self.run_trial(&journal, data, &record)?;
                    drop(lock);
                    failures = if end.status == Status::Failed {
                        failures + 1
                    } else {
                        0
                    };
                    if failures >= self.max_consecutive_failed_trials {
                        return Err(TuneError::Failed {
                            count: failures,
                            trial: record.id,
                            message: end.message.unwrap_or_default(),
                        });
                    }
                }
            }
        }
        let study = journal.read()?;
        report::write_results(&self.project_dir(), &study.space, &study.trials)?;
        Ok(study.trials)
    }

    /// KerasTuner's `search_space_summary`: every hyperparameter declared so far (after
    /// one build with defaults when the search has not started).
    ///
    /// # Errors
    /// As [`Tuner::search`] before its first trial.
    pub fn search_space_summary(&mut self) -> Result<String, TuneError> {
        let journal = self.open()?;
        let space = journal.locked(|j| {
            self.settle(j)?;
            Ok(j.study.space.clone())
        })?;
        Ok(report::space_summary(&space))
    }

    /// KerasTuner's `results_summary`: the `n` best trials, best first.
    ///
    /// # Errors
    /// When the journal cannot be read.
    pub fn results_summary(&self, n: usize) -> Result<String, TuneError> {
        let study = Journal::new(&self.project_dir()).read_existing()?;
        Ok(report::results_summary(
            &self.project_dir(),
            &self.objective,
            &study.trials,
            n,
        ))
    }

    /// Draws the search's charts into the project's `plots` folder: the objective trial
    /// by trial with the best so far (`objective.png`), every trial's learning curve
    /// with the best in colour (`learning_curves.png`), and the score against each
    /// hyperparameter (`score_vs_<name>.png`); returns the files.
    ///
    /// # Errors
    /// When the journal cannot be read, no trial has completed, there is no font, or a
    /// file cannot be written.
    pub fn plot(&self) -> Result<Vec<PathBuf>, TuneError> {
        let study = Journal::new(&self.project_dir()).read_existing()?;
        let dir = self.project_dir().join("plots");
        Ok(crate::plots::write(
            &dir,
            &self.objective,
            &study.space,
            &study.trials,
        )?)
    }

    /// The `n` best completed trials, best first.
    ///
    /// # Errors
    /// When the journal cannot be read.
    pub fn best_trials(&self, n: usize) -> Result<Vec<TrialRecord>, TuneError> {
        let study = Journal::new(&self.project_dir()).read_existing()?;
        Ok(report::ranked(&self.objective, &study.trials)
            .into_iter()
            .take(n)
            .cloned()
            .collect())
    }

    /// The hyperparameters of the `n` best trials, best first.
    ///
    /// # Errors
    /// When the journal cannot be read.
    pub fn get_best_hyperparameters(&self, n: usize) -> Result<Vec<HyperParameters>, TuneError> {
        let study = Journal::new(&self.project_dir()).read_existing()?;
        let best = report::ranked(&self.objective, &study.trials);
        Ok(best
            .into_iter()
            .take(n)
            .map(|t| HyperParameters::with_values(&study.space, t.values.clone()))
            .collect())
    }

    /// The models of the `n` best trials, best first: each built again from its
    /// hyperparameters, with the weights of its best epoch.
    ///
    /// # Errors
    /// When the journal or a checkpoint cannot be read, or the build fails.
    pub fn get_best_models(&mut self, n: usize) -> Result<Vec<M>, TuneError> {
        let study = Journal::new(&self.project_dir()).read_existing()?;
        let best: Vec<TrialRecord> = report::ranked(&self.objective, &study.trials)
            .into_iter()
            .take(n)
            .cloned()
            .collect();
        best.iter()
            .map(|t| {
                let mut hp = HyperParameters::with_values(&study.space, t.values.clone());
                let mut model = (self.build)(&mut hp)?.trainer.into_model();
                kiln_core::load_weights(&mut model, self.trial_dir(&t.id).join(CHECKPOINT))?;
                Ok(model)
            })
            .collect()
    }

    /// The journal, emptied first when asked to, checked against the build's space.
    fn open(&mut self) -> Result<Journal, TuneError> {
        let journal = Journal::new(&self.project_dir());
        if std::mem::take(&mut self.overwrite) {
            journal.locked(|j| self.start_afresh(j))?;
        }
        journal.locked(|j| {
            let fresh = j.study.space.is_empty();
            self.settle(j)?;
            if fresh { Ok(()) } else { self.check_space(j) }
        })?;
        Ok(journal)
    }

    /// Empties the project under its journal's lock: every trial's folder and file, and
    /// the journal; refused while another process runs one of its trials.
    fn start_afresh(&self, journal: &mut Locked) -> Result<(), TuneError> {
        for trial in journal
            .study
            .trials
            .iter()
            .filter(|t| t.status == Status::Running)
        {
            if try_lock(&self.trial_dir(&trial.id))?.is_none() {
                return Err(TuneError::Setting(format!(
                    "overwrite(true) cannot start {} afresh: another process is running its trial {}",
                    self.project_dir().display(),
                    trial.id
                )));
            }
        }
        let dir = self.project_dir();
        for entry in std::fs::read_dir(&dir).map_err(|e| TuneError::file(&dir, e))? {
            let path = entry.map_err(|e| TuneError::file(&dir, e))?.path();
            if path == journal.path() {
                continue;
            }
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| TuneError::file(&path, e))?;
        }
        journal.clear()
    }

    /// Refuses a build whose hyperparameters differ from the journal's (an edited range
    /// would fail every trial): one build with every hyperparameter at its default.
    fn check_space(&mut self, journal: &Locked) -> Result<(), TuneError> {
        let mut hp = HyperParameters::new();
        (self.build)(&mut hp).map_err(|e| {
            TuneError::Space(format!(
                "the build function fails with every hyperparameter at its default: {e}"
            ))
        })?;
        for declared in hp.space() {
            let Some(kept) = journal.study.space.iter().find(|h| h.name == declared.name) else {
                continue;
            };
            if kept != declared {
                return Err(TuneError::Space(format!(
                    "the search space changed since {} was started: `{}` was {}, it is now {}; use another project_name, or overwrite(true) to start afresh",
                    journal.path().display(),
                    declared.name,
                    describe(kept),
                    describe(declared)
                )));
            }
        }
        Ok(())
    }

    fn trial_dir(&self, id: &str) -> PathBuf {
        self.project_dir().join(format!("trial_{id}"))
    }

    /// Records the search's settings and its space (from one build with defaults) when
    /// the journal is new; checks them against the journal's otherwise.
    fn settle(&mut self, journal: &mut Locked) -> Result<(), TuneError> {
        let wanted = (self.objective.clone(), self.oracle.name().to_string());
        match &journal.study.settings {
            Some(found) if *found != wanted => {
                return Err(TuneError::OtherSearch {
                    path: self.project_dir().join("trials.jsonl"),
                    found: format!("{} by {}", found.0, found.1),
                    wanted: format!("{} by {}", wanted.0, wanted.1),
                });
            }
            Some(_) => {}
            None => journal.append(Event::Study {
                objective: wanted.0,
                oracle: wanted.1,
            })?,
        }
        if journal.study.space.is_empty() {
            let mut hp = HyperParameters::new();
            (self.build)(&mut hp).map_err(|e| {
                TuneError::Space(format!(
                    "the build function fails with every hyperparameter at its default: {e}"
                ))
            })?;
            if let Some(problem) = hp.problems().first() {
                return Err(TuneError::Space(problem.clone()));
            }
            record_space(journal, hp.space())?;
        }
        Ok(())
    }

    /// The next trial for this process: an interrupted one no process is running, or the
    /// oracle's proposal; locked for this process while it runs.
    fn claim(&mut self, journal: &Journal) -> Result<Claim, TuneError> {
        journal.locked(|j| {
            self.settle(j)?;
            let running: Vec<TrialRecord> = j
                .study
                .trials
                .iter()
                .filter(|t| t.status == Status::Running)
                .cloned()
                .collect();
            for trial in running {
                let Some(lock) = try_lock(&self.trial_dir(&trial.id))? else {
                    continue;
                };
                if let Some(claim) = self.take_over(j, trial, lock)? {
                    return Ok(claim);
                }
            }
            let number = j.study.trials.len();
            let context = Context {
                space: &j.study.space,
                trials: &j.study.trials,
                objective: &self.objective,
            };
            let (values, budget) = match self
                .oracle
                .propose(&context, &mut trial_rng(self.seed, number))?
            {
                Proposal::Run(values) => (values, None),
                Proposal::RunFor(values, budget) => (values, Some(budget)),
                Proposal::Wait => return Ok(Claim::Wait),
                Proposal::Done => return Ok(Claim::Done),
            };
            let id = format!("{number:04}");
            let seed = trial_rng(self.seed ^ 0x5EED, number).next_u64_seed();
            let dir = self.trial_dir(&id);
            let Some(lock) = try_lock(&dir)? else {
                return Err(TuneError::file(
                    &dir,
                    "is locked by another process, yet not in the journal",
                ));
            };
            let worker = format!("pid {}", std::process::id());
            j.append(Event::Start {
                trial: id.clone(),
                values: values.clone(),
                seed,
                worker,
                budget: budget.clone(),
            })?;
            let record = TrialRecord::started(id, values, seed, budget);
            Ok(Claim::Run(Box::new(record), lock))
        })
    }

    /// Resumes `trial`, whose process died, unless processes died running it
    /// [`MAX_ATTEMPTS`] times already: it is then recorded as failed (a trial that
    /// crashes its process would otherwise stop the search for good).
    fn take_over(
        &self,
        journal: &mut Locked,
        trial: TrialRecord,
        lock: File,
    ) -> Result<Option<Claim>, TuneError> {
        if trial.attempts >= MAX_ATTEMPTS {
            let end = End {
                status: Status::Failed,
                message: Some(format!(
                    "the process running it died {} times (out of memory, killed, or a panic); kiln gave it up",
                    trial.attempts
                )),
                ..End::default()
            };
            journal.append(end.event(&trial.id))?;
            return Ok(None);
        }
        let worker = format!("pid {}", std::process::id());
        journal.append(Event::Resume {
            trial: trial.id.clone(),
            worker,
        })?;
        Ok(Some(Claim::Run(Box::new(trial), lock)))
    }

    /// Trains trial `record` (every execution) and records its end.
    fn run_trial<D: Dataset + ?Sized>(
        &mut self,
        journal: &Journal,
        data: &D,
        record: &TrialRecord,
    ) -> Result<End, TuneError> {
        let started = Instant::now();
        if self.verbose {
            let study = journal.read()?;
            println!(
                "{}",
                report::trial_header(&self.objective, &study.trials, record)
            );
        }
        let mut reporter = Reporter {
            journal: journal.clone(),
            trial: record.id.clone(),
            execution: 0,
            objective: self.objective.clone(),
            checkpoint: self.trial_dir(&record.id).join(CHECKPOINT),
            reports: record.reports.clone(),
            best: None,
            pruner: self.pruner.clone(),
            pruned: false,
        };
        let mut end = End::default();
        for execution in 0..self.executions_per_trial {
            reporter.execution = execution;
            // An execution that finished before a crash is not trained again.
            if let Some(epochs) = self.finished(&record.id, execution) {
                end.epochs += epochs;
                continue;
            }
            match self.execute(journal, data, record, &mut reporter) {
                Ok(epochs) if reporter.pruned => {
                    end.epochs += epochs;
                    end.status = Status::Pruned;
                    break;
                }
                Ok(epochs) => end.epochs += epochs,
                Err(message) => {
                    end.status = Status::Failed;
                    end.message = Some(message);
                    break;
                }
            }
        }
        end.seconds = started.elapsed().as_secs_f64();
        if end.status != Status::Failed {
            if end.status != Status::Pruned {
                end.status = Status::Completed;
            }
            (end.score, end.best_epoch) = reporter.score(self.executions_per_trial);
            if end.score.is_none() {
                // Only epochs without validation (`Fit::validation_freq`): nothing to rank.
                end.status = Status::Failed;
                end.message = Some(format!(
                    "no epoch of the trial logged the objective `{}`: its validation_freq skips \
                     every epoch it trains",
                    self.objective.name
                ));
            }
        }
        self.finish(journal, record, end)
    }

    /// The epochs of execution `execution` of trial `id` when it finished (its history
    /// is written).
    fn finished(&self, id: &str, execution: usize) -> Option<usize> {
        let path = self.trial_dir(id).join(format!("history_{execution}.json"));
        let text = std::fs::read_to_string(path).ok()?;
        kiln_core::History::from_json(&text)
            .ok()
            .map(|h| h.epochs().len())
    }

    /// Records the end of trial `record`, removes its backups, prints its summary and
    /// writes the results.
    fn finish(&self, journal: &Journal, record: &TrialRecord, end: End) -> Result<End, TuneError> {
        let study = journal.locked(|j| {
            j.append(end.event(&record.id))?;
            Ok(j.study.clone())
        })?;
        for execution in 0..self.executions_per_trial {
            let backup = self
                .trial_dir(&record.id)
                .join(format!("backup_{execution}"));
            if backup.exists() {
                std::fs::remove_dir_all(&backup).map_err(|e| TuneError::file(&backup, e))?;
            }
        }
        if let Some(ended) = study
            .trials
            .iter()
            .find(|t| t.id == record.id && self.verbose)
        {
            println!(
                "{}",
                report::trial_footer(&self.objective, &study.trials, ended)
            );
        }
        report::write_results(&self.project_dir(), &study.space, &study.trials)?;
        Ok(end)
    }

    /// One execution of a trial: its epochs, or why it failed.
    fn execute<D: Dataset + ?Sized>(
        &mut self,
        journal: &Journal,
        data: &D,
        record: &TrialRecord,
        reporter: &mut Reporter,
    ) -> Result<usize, String> {
        let space = journal.read().map_err(|e| e.to_string())?.space;
        let mut hp = HyperParameters::with_values(&space, record.values.clone());
        // The initial weights too are the trial's: a resumed search builds the same.
        let seed = record.seed.wrapping_add(reporter.execution as u64);
        B::seed(&B::Device::default(), seed);
        let trial = (self.build)(&mut hp).map_err(|e| e.to_string())?;
        if !hp.problems().is_empty() {
            return Err(hp.problems().join("; "));
        }
        let used = hp.values();
        journal
            .locked(|j| {
                record_space(j, hp.space())?;
                // The values the build used, defaults of new declarations included, so
                // that no oracle proposes them again.
                if !used.same_as(&record.values) {
                    j.append(Event::Values {
                        trial: record.id.clone(),
                        values: used.clone(),
                    })?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        let Trial {
            mut trainer,
            mut fit,
        } = trial;
        if let Some(budget) = &record.budget {
            fit = fit
                .with_epochs(budget.epochs)
                .initial_epoch(budget.initial_epoch);
            if let Some(parent) = &budget.parent {
                let mut model = trainer.model().clone();
                let checkpoint = self.trial_dir(parent).join(CHECKPOINT);
                kiln_core::load_weights(&mut model, checkpoint).map_err(|e| e.to_string())?;
                trainer.set_model(model);
            }
        }
        let execution = reporter.execution;
        let backup = self
            .trial_dir(&record.id)
            .join(format!("backup_{execution}"));
        let mut fit = fit
            .seed(seed)
            .callback(&mut *reporter)
            .callback(BackupAndRestore::new(backup).delete_when_done(false));
        let session = self.session(record, execution, &used)?;
        if let Some(logs) = &session {
            fit = fit.callback(TensorBoard::new(logs));
        }
        let fitted = trainer.fit(data, fit);
        if let Some(logs) = &session {
            hparams::end(logs, fitted.is_ok())
                .map_err(|e| format!("cannot write {}: {e}", logs.display()))?;
        }
        let history = fitted.map_err(|e| e.to_string())?;
        let path = self
            .trial_dir(&record.id)
            .join(format!("history_{execution}.json"));
        std::fs::write(&path, history.to_json())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(history.epochs().len())
    }
}

impl<'a, B, M> Tuner<'a, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// The TensorBoard folder of execution `execution` of trial `record`, when the tuner
    /// writes TensorBoard logs, with the HParams session's start written there.
    fn session(
        &self,
        record: &TrialRecord,
        execution: usize,
        values: &Values,
    ) -> Result<Option<PathBuf>, String> {
        let Some(dir) = &self.tensorboard else {
            return Ok(None);
        };
        let logs = dir.join(&record.id).join(format!("execution{execution}"));
        hparams::start(&logs, &record.id, values)
            .map_err(|e| format!("cannot write {}: {e}", logs.display()))?;
        Ok(Some(logs))
    }
}

/// How many processes may die running one trial before it is recorded as failed.
const MAX_ATTEMPTS: usize = 3;

/// The file each trial keeps its best epoch's weights in.
const CHECKPOINT: &str = "checkpoint.bpk";

/// Adds to the journal's space the hyperparameters it lacks.
fn record_space(journal: &mut Locked, space: &[crate::HyperParameter]) -> Result<(), TuneError> {
    for hp in space {
        if !journal.study.space.iter().any(|h| h.name == hp.name) {
            journal.append(Event::Space { hp: hp.clone() })?;
        }
    }
    Ok(())
}

/// Locks trial folder `dir` for this process (its `lock` file, released when the
/// process ends, even by `kill -9`); `None` when another process holds it.
fn try_lock(dir: &Path) -> Result<Option<File>, TuneError> {
    std::fs::create_dir_all(dir).map_err(|e| TuneError::file(dir, e))?;
    let path = dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| TuneError::file(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(TuneError::file(&path, e)),
    }
}

/// What `claim` gives this process to do.
enum Claim {
    Run(Box<TrialRecord>, File),
    Wait,
    Done,
}

/// How a trial ended.
#[derive(Clone, Debug)]
pub(crate) struct End {
    status: Status,
    score: Option<f64>,
    best_epoch: Option<usize>,
    epochs: usize,
    seconds: f64,
    message: Option<String>,
}

impl Default for End {
    fn default() -> Self {
        End {
            status: Status::Running,
            score: None,
            best_epoch: None,
            epochs: 0,
            seconds: 0.0,
            message: None,
        }
    }
}

impl End {
    fn event(&self, trial: &str) -> Event {
        Event::End {
            trial: trial.to_string(),
            status: self.status,
            score: self.score,
            best_epoch: self.best_epoch,
            epochs: self.epochs,
            seconds: self.seconds,
            message: self.message.clone(),
        }
    }
}

/// The tuner's callback in every trial: journals the objective after each epoch and
/// keeps the best epoch's weights (saved before the report, so a journaled best always
/// has its checkpoint).
struct Reporter<'a> {
    journal: Journal,
    trial: String,
    execution: usize,
    objective: Objective,
    checkpoint: PathBuf,
    /// The trial's reports so far (from the journal when it resumes).
    reports: Vec<Report>,
    /// The best report over all executions, whose weights the checkpoint holds.
    best: Option<Report>,
    /// What stops hopeless trials (asked during the first execution).
    pruner: Option<Rc<dyn Pruner + 'a>>,
    /// Whether it stopped this trial.
    pruned: bool,
}

impl Reporter<'_> {
    /// The best report of `execution` so far.
    fn best_of(&self, execution: usize) -> Option<Report> {
        self.reports
            .iter()
            .filter(|r| r.execution == execution)
            .copied()
            .reduce(|a, b| self.pick(a, b))
    }

    /// Whether `value` beats every epoch so far, of every execution (the checkpoint's):
    /// any first value does, and any number beats a NaN.
    fn improves(&mut self, value: f64) -> bool {
        if self.best.is_none() {
            self.best = self.reports.iter().copied().reduce(|a, b| self.pick(a, b));
        }
        self.best.is_none_or(|b| {
            value.is_finite() && (!b.value.is_finite() || self.objective.better(value, b.value))
        })
    }

    /// The better of two reports: the earlier on ties, a number over a NaN.
    fn pick(&self, a: Report, b: Report) -> Report {
        let better = b.value.is_finite()
            && (!a.value.is_finite() || self.objective.better(b.value, a.value));
        if better { b } else { a }
    }

    /// The trial's score (the mean over executions of each one's best) and best epoch.
    fn score(&self, executions: usize) -> (Option<f64>, Option<usize>) {
        let bests: Vec<Report> = (0..executions).filter_map(|e| self.best_of(e)).collect();
        if bests.is_empty() {
            return (None, None);
        }
        #[allow(clippy::cast_precision_loss)] // a handful of executions
        let mean = bests.iter().map(|r| r.value).sum::<f64>() / bests.len() as f64;
        let best = self.best.or_else(|| bests.first().copied());
        (Some(mean), best.map(|r| r.epoch))
    }
}

impl<B, M> Callback<B, M> for Reporter<'_>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
{
    fn name(&self) -> String {
        "Tuner".into()
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        control: &mut Control<M>,
    ) -> CallbackResult {
        let value = control.watched(logs, &self.objective.name);
        let Some(value) = value.map_err(|e| format!("the objective {e}"))? else {
            return Ok(()); // an epoch without validation (`Fit::validation_freq`)
        };
        let report = Report {
            execution: self.execution,
            epoch,
            value,
        };
        if self.improves(value) {
            kiln_core::save_weights(control.model(), &self.checkpoint)?;
            self.best = Some(report);
        }
        let pruner = self.pruner.as_ref().filter(|_| self.execution == 0);
        let prune = self.journal.locked(|j| {
            j.append(Event::Report {
                trial: self.trial.clone(),
                report,
            })?;
            let epoch = Epoch {
                trial: &self.trial,
                epoch,
                value,
                objective: &self.objective,
                trials: &j.study.trials,
            };
            Ok(pruner.is_some_and(|p| p.should_prune(&epoch)))
        })?;
        if prune {
            self.pruned = true;
            control.stop_training();
        }
        self.reports
            .retain(|r| (r.execution, r.epoch) != (report.execution, report.epoch));
        self.reports.push(report);
        Ok(())
    }
}

/// A trial's seed from its generator.
trait NextSeed {
    fn next_u64_seed(self) -> u64;
}

impl NextSeed for rand::rngs::StdRng {
    fn next_u64_seed(mut self) -> u64 {
        rand::RngExt::random(&mut self)
    }
}
