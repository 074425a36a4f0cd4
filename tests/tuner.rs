//! The tuner on real trainings: a search's trials, results and best model; a search
//! killed with SIGKILL that resumes to the same trials as one never interrupted; two
//! processes sharing one search; the errors a search stops with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln::datasets::{ImageDataset, synthetic_digits};
use kiln::prelude::*;
use kiln::tuner::{
    GridSearch, HyperParameters, Hyperband, MedianPruner, RandomSearch, Status, Trial, TrialRecord,
    TuneError, Tuner,
};
use kiln::{JsonModel, Loss, Metric, TrainError};

mod support;

use support::{Ad, scratch};

type Mlp = JsonModel<Ad, 2, 2>;

// The seed's MLP, built at run time as the examples build it.
#[path = "../examples/common/mod.rs"]
mod common;

/// The build function of every search here: units and learning rate, `epochs` epochs,
/// validated on `validation`.
fn build<'a>(
    validation: &'a ImageDataset,
    epochs: usize,
) -> impl FnMut(&mut HyperParameters) -> Result<Trial<'a, Ad, Mlp>, TrainError> + 'a {
    validated_every(validation, epochs, 1)
}

/// The same, validated after every `n`th epoch only.
fn validated_every<'a>(
    validation: &'a ImageDataset,
    epochs: usize,
    n: usize,
) -> impl FnMut(&mut HyperParameters) -> Result<Trial<'a, Ad, Mlp>, TrainError> + 'a {
    move |hp| {
        let units = hp.choice("units", [8_i64, 32, 64]).value();
        let rate = hp
            .float("learning_rate", 1e-3, 1e-2)
            .log()
            .step(10.0)
            .value();
        let units = usize::try_from(units).unwrap();
        let trainer = Trainer::new(Mlp::new(common::mlp(1, units, 0.0)?, &Default::default())?)
            .optimizer(Adam::new().learning_rate(rate))
            .loss(Loss::CategoricalCrossentropy)
            .metrics([Metric::Accuracy]);
        let fit = Fit::epochs(epochs)
            .batch_size(32)
            .validation_data(validation)
            .validation_freq(n)
            .verbose(Verbosity::Silent);
        Ok(Trial::new(trainer, fit))
    }
}

/// A quiet grid search of at most `max_trials` one-epoch trials in `dir`.
fn grid<'a>(dir: &Path, validation: &'a ImageDataset, max_trials: usize) -> Tuner<'a, Ad, Mlp> {
    Tuner::new(
        GridSearch::new().max_trials(max_trials),
        build(validation, 1),
    )
    .directory(dir)
    .verbose(false)
}

fn data() -> (ImageDataset, ImageDataset) {
    (synthetic_digits(2000, 1), synthetic_digits(200, 2))
}

#[test]
fn a_random_search_records_its_trials_and_rebuilds_the_best_at_its_best_epoch() {
    let dir = scratch("tuner-random");
    let (train, validation) = data();
    let mut tuner = Tuner::new(RandomSearch::new().max_trials(3), build(&validation, 3))
        .objective("val_accuracy")
        .directory(&dir)
        .project_name("mlp")
        .seed(4)
        .tensorboard(dir.join("logs"))
        .verbose(false);
    let summary = tuner.search_space_summary().unwrap();
    assert_eq!(
        summary,
        "Search space summary\nDefault search space size: 2\n\
         units (Choice)\n{'default': 8, 'conditions': [], 'values': [8, 32, 64]}\n\
         learning_rate (Float)\n{'default': 0.001, 'conditions': [], 'min_value': 0.001, 'max_value': 0.01, 'step': 10.0, 'sampling': 'log'}\n"
    );
    let trials = tuner.search(&train).unwrap();
    assert_eq!(trials.len(), 3);
    for t in &trials {
        assert_eq!(t.status, Status::Completed, "{t:?}");
        let best = t.reports.iter().map(|r| r.value).fold(f64::MIN, f64::max);
        assert_eq!(t.score, Some(best), "the score is the best epoch's");
        assert_eq!(t.epochs, 3);
        assert!(best > 0.3, "trial {} learnt nothing: {best}", t.id);
    }
    let ids: Vec<&str> = trials.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["0000", "0001", "0002"]);
    for id in &ids {
        let train_logs = dir.join("logs").join(id).join("execution0/train");
        let events = std::fs::read_dir(&train_logs).unwrap().count();
        assert_eq!(events, 1, "one event file in {}", train_logs.display());
    }
    // TensorBoard's own HParams plugin finds every trial's session and values.
    if let Some(text) = support::tensorboard_script("hparams_reader.py", &dir.join("logs")) {
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"hparam units DATA_TYPE_FLOAT64"), "{text}");
        assert!(
            lines.contains(&"metric validation epoch_accuracy"),
            "{text}"
        );
        for t in &trials {
            let units = t
                .values
                .get("units")
                .and_then(kiln::tuner::Value::as_f64)
                .unwrap();
            let rate = t.values.get("learning_rate").unwrap();
            let row = format!(
                "session {} STATUS_SUCCESS learning_rate={rate} units={units:?}",
                t.id
            );
            assert!(lines.contains(&row.as_str()), "{row}\nnot in\n{text}");
            let last = t.reports.last().unwrap().value;
            let value = format!("value {} validation/epoch_accuracy {last:.5}", t.id);
            assert!(lines.contains(&value.as_str()), "{value}\nnot in\n{text}");
        }
    }

    let best = tuner.best_trials(1).unwrap().remove(0);
    assert!(trials.iter().all(|t| t.score <= best.score));
    let text = tuner.results_summary(2).unwrap();
    let head = format!(
        "Results summary\nResults in {}\nShowing 2 best trials\nObjective(name=\"val_accuracy\", direction=\"max\")\n\nTrial {} summary\nHyperparameters:\nunits: {}\nlearning_rate: {}\nScore: {}\n",
        dir.join("mlp").display(),
        best.id,
        best.values.get("units").unwrap(),
        best.values.get("learning_rate").unwrap(),
        best.score.unwrap()
    );
    assert!(text.starts_with(&head), "{text}\n---\n{head}");

    let csv = std::fs::read_to_string(dir.join("mlp/results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "trial,status,units,learning_rate,score,best_epoch,epochs,seconds,message"
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("0000,COMPLETED,"), "{}", lines[1]);
    let md = std::fs::read_to_string(dir.join("mlp/results.md")).unwrap();
    assert!(
        md.starts_with("| trial | status | units | learning_rate | score |"),
        "{md}"
    );

    match tuner.plot() {
        Ok(files) => {
            let names: Vec<String> = files
                .iter()
                .map(|f| {
                    f.strip_prefix(dir.join("mlp/plots"))
                        .unwrap()
                        .display()
                        .to_string()
                })
                .collect();
            assert_eq!(
                names,
                [
                    "objective.png",
                    "learning_curves.png",
                    "score_vs_units.png",
                    "score_vs_learning_rate.png"
                ]
            );
            for file in files {
                let image = image::open(&file).unwrap();
                assert_eq!(
                    (image.width(), image.height()),
                    (800, 500),
                    "{}",
                    file.display()
                );
            }
        }
        // Charts need a system font: one is there on CI.
        Err(TuneError::Plot(kiln::PlotError::NoFont))
            if std::env::var("CI").as_deref() != Ok("true") =>
        {
            eprintln!("charts skipped: no system font");
        }
        Err(e) => panic!("{e}"),
    }

    // The best model comes back with the weights of its best epoch.
    let model = tuner.get_best_models(1).unwrap().remove(0);
    let logs = Trainer::<Ad, Mlp>::new(model)
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy])
        .evaluate(&validation)
        .unwrap();
    let accuracy = logs.get("accuracy").unwrap();
    assert!(
        (accuracy - best.score.unwrap()).abs() < 1e-6,
        "{accuracy} vs {best:?}"
    );
    let hp = tuner.get_best_hyperparameters(1).unwrap().remove(0);
    assert_eq!(hp.values(), best.values);
}

#[test]
fn a_search_goes_on_where_the_last_one_stopped_and_refuses_another_search() {
    let dir = scratch("tuner-resume");
    let (train, validation) = data();
    let tuner = |max_trials| grid(&dir, &validation, max_trials);
    let first = tuner(2).search(&train).unwrap();
    assert_eq!(first.len(), 2);
    let second = tuner(4).search(&train).unwrap();
    assert_eq!(second.len(), 4);
    assert_eq!(
        second[..2],
        first[..],
        "the first two trials are not run again"
    );

    let error = Tuner::new(RandomSearch::new(), build(&validation, 1))
        .directory(&dir)
        .objective("val_accuracy")
        .search(&train)
        .unwrap_err();
    assert!(matches!(error, TuneError::OtherSearch { .. }));
    assert_eq!(
        error.to_string(),
        format!(
            "{} holds a search with Objective(name=\"val_loss\", direction=\"min\") by grid_search, not Objective(name=\"val_accuracy\", direction=\"max\") by random_search; use another project_name, or overwrite(true) to start afresh",
            dir.join("untitled_project/trials.jsonl").display()
        )
    );
    let fresh = Tuner::new(RandomSearch::new().max_trials(1), build(&validation, 1))
        .directory(&dir)
        .objective("val_accuracy")
        .overwrite(true)
        .verbose(false)
        .search(&train)
        .unwrap();
    assert_eq!(fresh.len(), 1);
}

#[test]
fn trials_that_keep_failing_stop_the_search_with_the_reason() {
    let dir = scratch("tuner-failing");
    let (train, validation) = data();
    let error = Tuner::new(RandomSearch::new().max_trials(10), build(&validation, 1))
        .objective("val_f1")
        .directory(&dir)
        .verbose(false)
        .search(&train)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "3 trials in a row failed; the last, trial 0002: callback Tuner failed: the objective `val_f1` is not logged; the logs hold: loss, accuracy, val_loss, val_accuracy"
    );
    let csv = std::fs::read_to_string(dir.join("untitled_project/results.csv")).unwrap();
    assert_eq!(csv.matches(",FAILED,").count(), 3, "{csv}");
}

#[test]
fn hyperband_continues_the_best_trials_from_their_best_weights() {
    let dir = scratch("tuner-hyperband");
    let (train, validation) = data();
    let trials = Tuner::new(Hyperband::new().max_epochs(3), build(&validation, 100))
        .objective("val_accuracy")
        .directory(&dir)
        .verbose(false)
        .search(&train)
        .unwrap();
    // Bracket 1: 3 trials of 1 epoch, the best continued to 3; bracket 0: 2 trials of 3.
    let budgets: Vec<(usize, usize, usize, Option<&str>)> = trials
        .iter()
        .map(|t| {
            let b = t.budget.as_ref().unwrap();
            (b.bracket, b.initial_epoch, b.epochs, b.parent.as_deref())
        })
        .collect();
    let first = &trials[..3];
    let best = first
        .iter()
        .reduce(|a, b| if b.score > a.score { b } else { a })
        .unwrap();
    assert_eq!(
        budgets,
        [
            (1, 0, 1, None),
            (1, 0, 1, None),
            (1, 0, 1, None),
            (1, 1, 3, Some(best.id.as_str())),
            (0, 0, 3, None),
            (0, 0, 3, None),
        ]
    );
    let continued = &trials[3];
    assert_eq!(continued.values, best.values);
    let epochs: Vec<usize> = continued.reports.iter().map(|r| r.epoch).collect();
    assert_eq!(
        epochs,
        [1, 2],
        "epochs 1 and 2 only, the fit's own 100 replaced"
    );
    let history =
        std::fs::read_to_string(dir.join("untitled_project/trial_0003/history_0.json")).unwrap();
    assert_eq!(kiln::History::from_json(&history).unwrap().epochs(), [1, 2]);
}

#[test]
fn a_median_pruner_stops_trials_that_learn_nothing_after_one_epoch() {
    let dir = scratch("tuner-pruned");
    let (train, validation) = data();
    let build = |hp: &mut HyperParameters| {
        // 1e-7 learns nothing in three epochs: those trials trail every completed one.
        let rate = hp.choice("learning_rate", [3e-3, 1e-7]).value();
        let units = hp.choice("units", [8_usize, 32, 64]).value();
        let trainer = Trainer::new(Mlp::new(common::mlp(1, units, 0.0)?, &Default::default())?)
            .optimizer(Adam::new().learning_rate(rate))
            .loss(Loss::CategoricalCrossentropy)
            .metrics([Metric::Accuracy]);
        let fit = Fit::epochs(3)
            .batch_size(32)
            .validation_data(&validation)
            .verbose(Verbosity::Silent);
        Ok(Trial::new(trainer, fit))
    };
    let mut tuner = Tuner::new(GridSearch::new(), build)
        .objective("val_accuracy")
        .pruner(MedianPruner::new().startup_trials(3))
        .directory(&dir)
        .verbose(false);
    let trials = tuner.search(&train).unwrap();
    let outcome: Vec<(Status, usize)> = trials.iter().map(|t| (t.status, t.epochs)).collect();
    use Status::{Completed, Pruned};
    assert_eq!(
        outcome,
        [
            (Completed, 3),
            (Completed, 3),
            (Completed, 3),
            (Pruned, 1),
            (Pruned, 1),
            (Pruned, 1)
        ]
    );
    assert!(
        trials[3..]
            .iter()
            .all(|t| t.reports.len() == 1 && t.score.is_some())
    );
    let best = tuner.best_trials(6).unwrap();
    assert_eq!(best.len(), 3, "pruned trials never rank");
    let csv = std::fs::read_to_string(dir.join("untitled_project/results.csv")).unwrap();
    assert_eq!(csv.matches(",PRUNED,").count(), 3, "{csv}");
}

#[test]
fn a_trial_whose_process_died_three_times_is_given_up() {
    let dir = scratch("tuner-attempts");
    let (train, validation) = data();
    let tuner = |max_trials| grid(&dir, &validation, max_trials);
    tuner(1).search(&train).unwrap();
    // Trial 0001 started by a process that died, then taken over by two that died too.
    let journal = dir.join("untitled_project/trials.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str(r#"{"v":1,"event":"start","trial":"0001","values":{"units":64,"learning_rate":0.01},"seed":5,"worker":"pid 1"}"#);
    text.push('\n');
    for _ in 0..2 {
        text.push_str("{\"v\":1,\"event\":\"resume\",\"trial\":\"0001\",\"worker\":\"pid 2\"}\n");
    }
    std::fs::write(&journal, text).unwrap();
    let trials = tuner(3).search(&train).unwrap();
    let statuses: Vec<Status> = trials.iter().map(|t| t.status).collect();
    assert_eq!(
        statuses,
        [Status::Completed, Status::Failed, Status::Completed]
    );
    assert_eq!(
        trials[1].message.as_deref(),
        Some(
            "the process running it died 3 times (out of memory, killed, or a panic); kiln gave it up"
        )
    );
}

/// A trial validated after every 2nd epoch reports those epochs only, scored on them.
#[test]
fn a_trial_validated_every_other_epoch_reports_its_validated_epochs() {
    let dir = scratch("tuner-validation-freq");
    let (train, validation) = data();
    let trials = Tuner::new(
        GridSearch::new().max_trials(1),
        validated_every(&validation, 4, 2),
    )
    .objective("val_accuracy")
    .directory(&dir)
    .verbose(false)
    .search(&train)
    .unwrap();
    let [trial] = trials.as_slice() else {
        panic!("{trials:?}")
    };
    assert_eq!(trial.status, Status::Completed, "{trial:?}");
    let epochs: Vec<usize> = trial.reports.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, [1, 3]);
    assert!(trial.best_epoch.is_some_and(|e| epochs.contains(&e)));
    // A trial none of whose epochs is validated has no score: it fails, saying why.
    let dir = scratch("tuner-validation-freq-never");
    let trials = Tuner::new(
        GridSearch::new().max_trials(1),
        validated_every(&validation, 1, 2),
    )
    .objective("val_accuracy")
    .directory(&dir)
    .verbose(false)
    .search(&train);
    let message = match trials {
        Ok(trials) => trials[0].message.clone(),
        Err(e) => Some(e.to_string()),
    };
    assert!(
        message.as_deref().is_some_and(|m| m.contains(
            "no epoch of the trial logged the objective `val_accuracy`: its validation_freq skips every epoch it trains"
        )),
        "{message:?}"
    );
}

#[test]
fn the_values_a_build_used_are_recorded_and_never_proposed_again() {
    let dir = scratch("tuner-used");
    let (train, validation) = data();
    let mut inner = build(&validation, 1);
    // `batch_norm` is declared by the trials with 32 units only, and not in a
    // conditional scope: the first trial runs without it.
    let build = move |hp: &mut HyperParameters| {
        let trial = inner(hp)?;
        if hp.get("units") == Some(&kiln::tuner::Value::Int(32)) {
            hp.boolean("batch_norm").value();
        }
        Ok(trial)
    };
    let trials = Tuner::new(GridSearch::new(), build)
        .directory(&dir)
        .verbose(false)
        .search(&train)
        .unwrap();
    let used: Vec<String> = trials.iter().map(|t| t.values.to_string()).collect();
    assert!(
        used.contains(&"units=32, learning_rate=0.001, batch_norm=false".to_string()),
        "{used:?}"
    );
    let mut distinct = used.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), used.len(), "a trial ran twice: {used:?}");
}

#[test]
fn a_changed_space_and_a_misspelt_project_are_refused() {
    let dir = scratch("tuner-changed");
    let (train, validation) = data();
    Tuner::new(RandomSearch::new().max_trials(1), build(&validation, 1))
        .directory(&dir)
        .verbose(false)
        .search(&train)
        .unwrap();
    let narrower = |hp: &mut HyperParameters| {
        let units = hp.choice("units", [8_usize, 32]).value();
        let trainer = Trainer::new(Mlp::new(common::mlp(1, units, 0.0)?, &Default::default())?)
            .loss(Loss::CategoricalCrossentropy);
        Ok(Trial::new(
            trainer,
            Fit::epochs(1).validation_data(&validation),
        ))
    };
    let error = Tuner::new(RandomSearch::new().max_trials(2), narrower)
        .directory(&dir)
        .search(&train)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the search space changed since {} was started: `units` was choice [8, 32, 64], it is now choice [8, 32]; use another project_name, or overwrite(true) to start afresh",
            dir.join("untitled_project/trials.jsonl").display()
        )
    );
    let misspelt = Tuner::new(RandomSearch::new(), build(&validation, 1))
        .directory(&dir)
        .project_name("untitled_projetc");
    assert_eq!(
        misspelt.results_summary(3).unwrap_err().to_string(),
        format!(
            "no search is kept in {}: its journal is missing (is the directory or project_name misspelt?)",
            dir.join("untitled_projetc").display()
        )
    );
    assert!(
        !dir.join("untitled_projetc").exists(),
        "reading creates nothing"
    );
}

model! {
    /// A `model!` model: its structure is fixed at compile time.
    struct Small {
        input: [1, 28, 28],
        Flatten,
        Dense(16, activation = relu),
        Dense(10, activation = softmax),
    }
}

#[test]
fn a_model_macro_model_is_tuned_on_its_training_settings() {
    let dir = scratch("tuner-macro");
    let (train, validation) = data();
    let build = |hp: &mut HyperParameters| {
        let rate = hp.choice("learning_rate", [1e-3, 1e-2]).value();
        let batch_size = hp.choice("batch_size", [16_usize, 64]).value();
        let trainer = Trainer::new(Small::<Ad>::new(&Default::default()))
            .optimizer(Adam::new().learning_rate(rate))
            .loss(Loss::CategoricalCrossentropy)
            .metrics([Metric::Accuracy]);
        let fit = Fit::epochs(2)
            .batch_size(batch_size)
            .validation_data(&validation)
            .verbose(Verbosity::Silent);
        Ok(Trial::new(trainer, fit))
    };
    let mut tuner = Tuner::new(GridSearch::new(), build)
        .objective("val_accuracy")
        .directory(&dir)
        .verbose(false);
    let trials = tuner.search(&train).unwrap();
    assert_eq!(trials.len(), 4);
    assert!(trials.iter().all(|t| t.status == Status::Completed));
    let best = tuner.best_trials(1).unwrap().remove(0);
    let model: Small<Ad> = tuner.get_best_models(1).unwrap().remove(0);
    let accuracy = Trainer::new(model)
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy])
        .evaluate(&validation)
        .unwrap()
        .get("accuracy")
        .unwrap();
    assert!(
        (accuracy - best.score.unwrap()).abs() < 1e-6,
        "{accuracy} vs {best:?}"
    );
}

/// The child half of the kill and sharing tests: a grid search of 6 trials of 4 epochs
/// in `KILN_TUNE_DIR`.
#[test]
#[ignore = "run by the kill and sharing tests"]
fn tuner_child() {
    let Some(dir) = std::env::var_os("KILN_TUNE_DIR").map(PathBuf::from) else {
        return;
    };
    search(&dir);
}

fn search(dir: &Path) -> Vec<TrialRecord> {
    let (train, validation) = data();
    Tuner::new(GridSearch::new().max_trials(6), build(&validation, 4))
        .objective("val_accuracy")
        .directory(dir)
        .project_name("grid")
        .verbose(false)
        .search(&train)
        .unwrap()
}

fn child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tuner_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILN_TUNE_DIR", dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// The journal's lines that say `event` (of trial `trial` when given).
fn events(dir: &Path, event: &str, trial: Option<&str>) -> usize {
    let text = std::fs::read_to_string(dir.join("grid/trials.jsonl")).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
        .filter(|l| trial.is_none_or(|t| l.contains(&format!("\"trial\":\"{t}\""))))
        .count()
}

/// What a trial gave, but not how long it took.
fn outcomes(trials: &[TrialRecord]) -> Vec<String> {
    trials
        .iter()
        .map(|t| {
            format!(
                "{} {} {} {:?} {:?} {:?} {}",
                t.id, t.values, t.status, t.score, t.best_epoch, t.reports, t.epochs
            )
        })
        .collect()
}

#[test]
fn a_search_killed_mid_trial_resumes_to_the_trials_of_one_never_interrupted() {
    // Both runs train in child processes: the backend's random generator is one per
    // process, and the tests of this file run in parallel threads.
    let reference = scratch("tuner-reference");
    assert!(child(&reference).wait().unwrap().success());
    let dir = scratch("tuner-killed");
    let mut process = child(&dir);
    let deadline = Instant::now() + Duration::from_secs(300);
    // Killed once trial 0002 has finished an epoch, in the middle of its training.
    while events(&dir, "report", Some("0002")) < 1 {
        assert!(Instant::now() < deadline, "trial 0002 never reported");
        assert!(
            process.try_wait().unwrap().is_none(),
            "the search ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    process.kill().unwrap();
    process.wait().unwrap();
    assert_eq!(
        events(&dir, "end", Some("0002")),
        0,
        "killed before trial 0002 ended"
    );

    // Where trial 0002 stands: `reported` epochs journaled, its backup after `backed_up`.
    let reported = events(&dir, "report", Some("0002"));
    let state = std::fs::read_to_string(dir.join("grid/trial_0002/backup_0/state.json"));
    let backed_up: Option<usize> = state.ok().map(|text| {
        let state: serde_json::Value = serde_json::from_str(&text).unwrap();
        usize::try_from(state["epoch"].as_u64().unwrap()).unwrap()
    });

    assert!(child(&dir).wait().unwrap().success());
    // Nothing is left to train: these only read the journals.
    let (resumed, reference) = (search(&dir), search(&reference));
    assert_eq!(
        outcomes(&resumed),
        outcomes(&reference),
        "the same trials, values and scores"
    );
    assert_eq!(events(&dir, "start", None), 6, "no trial started twice");
    assert_eq!(
        events(&dir, "resume", Some("0002")),
        1,
        "trial 0002 was taken over"
    );
    // It went on after its backup's epoch: only the epochs after it were trained (and
    // reported) again, not all 4.
    let again = 4 - backed_up.map_or(0, |e| e + 1);
    assert_eq!(
        events(&dir, "report", Some("0002")),
        reported + again,
        "{reported} epochs reported before the kill, the backup after epoch {backed_up:?}"
    );
}

#[test]
fn two_processes_share_one_search() {
    let dir = scratch("tuner-shared");
    let mut workers = [child(&dir), child(&dir)];
    for worker in &mut workers {
        assert!(worker.wait().unwrap().success());
    }
    let trials = search(&dir);
    assert_eq!(trials.len(), 6);
    assert_eq!(events(&dir, "start", None), 6, "each trial ran once");
    assert!(trials.iter().all(|t| t.status == Status::Completed));
    let text = std::fs::read_to_string(dir.join("grid/trials.jsonl")).unwrap();
    let workers: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split("\"worker\":\"").nth(1))
        .filter_map(|w| w.split('"').next())
        .collect();
    assert_eq!(workers.len(), 2, "both processes ran trials: {workers:?}");
}
