//! Data-parallel training (`--features distributed`): two workers in one process, and
//! two processes over 127.0.0.1, reach the weights of one device on the whole batch; a
//! killed process stops the other with an error, and the run resumes from its backup.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use burn::module::{Module, ModuleVisitor, Param};
use kiln::callbacks::{BackupAndRestore, LearningRateScheduler};
use kiln::datasets::{ImageDataset, synthetic_digits};
use kiln::distributed::{DataParallel, Nodes};
use kiln::prelude::*;

mod support;

use support::{Ad, scratch};

model! {
    struct Small {
        input: [1, 28, 28],
        Conv2D(4, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
        Dense(10, activation = softmax),
    }
}

model! {
    struct Normed {
        input: [1, 28, 28],
        Conv2D(4, 3),
        BatchNormalization,
        Activation(relu),
        MaxPooling2D(2),
        Flatten,
        Dense(10, activation = softmax),
    }
}

/// One test at a time: the backend's random generator, which builds the models, is the
/// process's, so a test running beside another would not build the same initial weights.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// 20 steps of 128 (the last epoch's batches in order, no shuffling, so both runs see
/// the same batches).
const EXAMPLES: usize = 20 * 128;

fn data() -> ImageDataset {
    let rows = std::env::var("KILN_DP_ROWS").map_or(EXAMPLES, |r| r.parse().unwrap());
    synthetic_digits(rows, 3)
}

fn fit<'a, M>(epochs: usize) -> Fit<'a, Ad, M> {
    Fit::epochs(epochs)
        .batch_size(128)
        .shuffle(false)
        .verbose(Verbosity::Silent)
}

/// Every float of the model (weights and moving statistics), one after the other.
fn weights<M: Module<Ad>>(model: &M) -> Vec<f32> {
    struct Floats(Vec<f32>);
    impl ModuleVisitor<Ad> for Floats {
        fn visit_float<const D: usize>(&mut self, param: &Param<burn::tensor::Tensor<Ad, D>>) {
            self.0
                .extend(param.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let mut floats = Floats(Vec::new());
    model.visit(&mut floats);
    floats.0
}

/// The largest difference between two runs' weights, relative to the largest weight.
fn difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// One device on batches of 128: the reference every parallel run must reach.
fn one_device(epochs: usize) -> (Vec<f32>, Vec<f64>) {
    let mut trainer = support::trainer(Small::new);
    let history = trainer.fit(&data(), fit(epochs)).unwrap();
    (
        weights(trainer.model()),
        history.get("loss").unwrap().to_vec(),
    )
}

/// Agreement to float rounding: the shards' sums are added in another order than one
/// device's, so the weights after 20 Adam steps differ by a few ulps per step.
const TOLERANCE: f32 = 1e-5;

#[test]
fn two_workers_in_one_process_reach_one_devices_weights() {
    let _serial = serial();
    let (want, want_loss) = one_device(1);
    let device = Default::default();
    let mut trainer = support::trainer(Small::new);
    let parallel = DataParallel::new([device, device]).threads_per_worker(1);
    let history = trainer.fit(&data(), fit(1).distribution(parallel)).unwrap();
    let got = weights(trainer.model());
    let d = difference(&got, &want);
    eprintln!("relative difference {d}");
    assert!(d < TOLERANCE, "weights differ by {d} (relative)");
    assert_ne!(got, weights(&support::trainer(Small::new).into_model()));
    let loss = history.get("loss").unwrap();
    assert!(
        (loss[0] - want_loss[0]).abs() < 1e-5,
        "{loss:?} vs {want_loss:?}"
    );
    assert_eq!(trainer.iterations(), 20);
}

#[test]
fn a_batch_shorter_than_the_workers_and_uneven_shards_still_match() {
    let _serial = serial();
    // 3 workers on batches of 128 (42 + 43 + 43 rows) and a last batch of 2 rows (one
    // worker has none); unweighted, with each example's loss weighted by its class or by
    // its own weight, with the gradients clipped to a global norm (of the whole batch's,
    // not a shard's), with a moving average of the weights put in them every 2 steps, and
    // with Nadam (its state in each worker); the weighted metrics too.
    let small = synthetic_digits(258, 4);
    let own: Vec<f32> = (0..small.len()).map(|i| (i % 5) as f32 * 0.5).collect();
    let weighted = kiln::datasets::Weighted::new(&small, own).unwrap();
    let by_class = vec![(0, 3.0), (7, 0.25), (9, 0.0)];
    let sgd = || Sgd::new().learning_rate(0.1);
    let average = sgd()
        .use_ema(true)
        .ema_momentum(0.9)
        .ema_overwrite_frequency(2);
    let nadam = kiln::Nadam::new().learning_rate(0.01);
    let f1 = Metric::F1Score {
        average: kiln::Average::Weighted,
        threshold: None,
    };
    let cases: [(
        &dyn kiln::datasets::Dataset,
        _,
        Option<kiln::Optimizer>,
        &str,
    ); 6] = [
        (&small, vec![], None, "unweighted"),
        (&small, by_class, None, "class weights"),
        (&weighted, vec![], None, "sample weights"),
        (
            &small,
            vec![],
            Some(sgd().global_clipnorm(0.05).into()),
            "global clipnorm",
        ),
        (&small, vec![], Some(average.into()), "moving average"),
        (&small, vec![], Some(nadam.into()), "nadam"),
    ];
    for (data, class_weight, optimizer, name) in cases {
        let run = |parallel: Option<DataParallel<_>>| {
            let mut trainer = support::trainer(Small::new)
                .metrics([Metric::Accuracy, Metric::PRECISION, Metric::AUC, f1])
                .weighted_metrics([Metric::Accuracy, Metric::AUC]);
            if let Some(optimizer) = optimizer.clone() {
                trainer = trainer.optimizer(optimizer);
            }
            let mut fit = fit(1).class_weight(class_weight.clone());
            if let Some(p) = parallel {
                fit = fit.distribution(p);
            }
            let history = trainer.fit(data, fit).unwrap();
            let last = |name: &str| history.get(name).unwrap()[0];
            (
                weights(trainer.model()),
                [
                    last("accuracy"),
                    last("precision"),
                    last("auc"),
                    last("weighted_accuracy"),
                    last("weighted_auc"),
                    last("f1_score"),
                ],
                last("loss"),
            )
        };
        let (want, want_accuracy, want_loss) = run(None);
        let device = Default::default();
        let (got, accuracy, loss) = run(Some(DataParallel::new([device, device, device])));
        let d = difference(&got, &want);
        eprintln!("{name}: relative difference {d}");
        assert!(d < TOLERANCE, "{name}: weights differ by {d} (relative)");
        assert!(
            accuracy
                .iter()
                .zip(want_accuracy)
                .all(|(a, w)| (a - w).abs() < 1e-6),
            "{name}: {accuracy:?} vs {want_accuracy:?}"
        );
        assert!(
            (loss - want_loss).abs() < 1e-5,
            "{name}: {loss} vs {want_loss}"
        );
    }
}

#[test]
fn the_root_mean_squared_loss_is_refused_across_workers() {
    let _serial = serial();
    let device = Default::default();
    let mut trainer = support::trainer(Small::new).loss(Loss::RootMeanSquaredError);
    let parallel = DataParallel::new([device, device]).threads_per_worker(1);
    let err = trainer
        .fit(&data(), fit(1).distribution(parallel))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the RootMeanSquaredError loss is not the sum of the workers' shares, so data-parallel training would not follow one device's; train with MeanSquaredError (the same minimum) and report RootMeanSquaredError as a metric"
    );
    assert_eq!(trainer.iterations(), 0);
}

#[test]
fn two_workers_in_one_process_share_batch_normalization() {
    let _serial = serial();
    let device = Default::default();
    let mut trainer = support::trainer(Normed::new);
    let before = weights(trainer.model());
    let parallel = DataParallel::new([device, device]);
    let history = trainer.fit(&data(), fit(2).distribution(parallel)).unwrap();
    let loss = history.get("loss").unwrap();
    assert!(loss[1] < loss[0], "{loss:?}");
    let after = weights(trainer.model());
    assert!(after.iter().all(|w| w.is_finite()));
    assert_ne!(before, after);
}

#[test]
fn a_process_rank_outside_the_world_is_refused() {
    let _serial = serial();
    let device = Default::default();
    let nodes = Nodes::new(2, 5, "127.0.0.1:1").unwrap();
    let mut trainer = support::trainer(Small::new);
    let e = trainer
        .fit(
            &data(),
            fit(1).distribution(DataParallel::new([device]).nodes(nodes)),
        )
        .unwrap_err();
    assert!(e.to_string().contains("rank 5"), "{e}");
    // The model is still there and trains.
    trainer.fit(&synthetic_digits(64, 1), fit(1)).unwrap();
}

/// The child half of the multi-process tests: rank `KILN_RANK` of `KILN_WORLD_SIZE`
/// training `KILN_DP_EPOCHS` epochs (of the `Normed` model when `KILN_DP_NORMED` is set),
/// writing its weights to `KILN_DP_OUT`, keeping a backup in `KILN_DP_BACKUP` when set,
/// and with [`scheduled`]'s callbacks when `KILN_DP_SCHEDULE` is.
#[test]
#[ignore = "run by the multi-process tests"]
fn distributed_child() {
    let Some(nodes) = Nodes::from_env().unwrap() else {
        return;
    };
    let out = std::env::var_os("KILN_DP_OUT");
    if std::env::var_os("KILN_DP_NORMED").is_some() {
        let mut trainer = support::trainer(Normed::new);
        trainer.fit(&data(), child_fit(nodes)).unwrap();
        return write_weights(out, &weights(trainer.model()));
    }
    let mut trainer = support::trainer(Small::new);
    let history = trainer.fit(&data(), child_fit(nodes)).unwrap();
    println!("epochs trained: {}", history.epochs().len());
    write_weights(out, &weights(trainer.model()));
}

fn child_fit<M>(nodes: Nodes) -> Fit<'static, Ad, M> {
    let epochs = std::env::var("KILN_DP_EPOCHS").unwrap().parse().unwrap();
    let local = std::env::var("KILN_DP_LOCAL").map_or(1, |n| n.parse().unwrap());
    let parallel = DataParallel::new(vec![Default::default(); local])
        .nodes(nodes)
        .timeout(Duration::from_secs(30));
    let mut fit = Fit::epochs(epochs)
        .batch_size(128)
        .shuffle(false)
        .distribution(parallel)
        .verbose(Verbosity::OneLinePerEpoch);
    if let Some(dir) = std::env::var_os("KILN_DP_BACKUP") {
        fit = fit.callback(BackupAndRestore::new(dir));
    }
    if std::env::var_os("KILN_DP_SCHEDULE").is_some() {
        fit = scheduled(fit);
    }
    if std::env::var_os("KILN_DP_FAIL").is_some() {
        fit = fit.callback(FailAfter(0));
    }
    fit
}

/// Fails at the end of epoch `.0`, as a callback whose disk is full would.
struct FailAfter(usize);

impl<M> kiln::Callback<Ad, M> for FailAfter {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _: &kiln::Logs,
        _: &mut kiln::Control<M>,
    ) -> kiln::CallbackResult {
        match epoch == self.0 {
            true => Err("no space left on device".into()),
            false => Ok(()),
        }
    }
}

/// Stops training at the end of epoch `.0`, as EarlyStopping would.
struct StopAfter(usize);

impl<M> kiln::Callback<Ad, M> for StopAfter {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _: &kiln::Logs,
        control: &mut kiln::Control<M>,
    ) -> kiln::CallbackResult {
        if epoch == self.0 {
            control.stop_training();
        }
        Ok(())
    }
}

/// `fit` with its learning rate cut to 0.3× after the first epoch and a stop after the
/// second, on rank 0 alone in a parallel run.
fn scheduled<M>(fit: Fit<'static, Ad, M>) -> Fit<'static, Ad, M> {
    fit.callback(LearningRateScheduler::new(|epoch, lr| match epoch {
        0 => lr,
        _ => lr * 0.3,
    }))
    .callback(StopAfter(1))
}

fn write_weights(out: Option<std::ffi::OsString>, weights: &[f32]) {
    if let Some(out) = out {
        let bytes: Vec<u8> = weights.iter().flat_map(|w| w.to_le_bytes()).collect();
        std::fs::write(out, bytes).unwrap();
    }
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn child(rank: u32, port: u16, epochs: usize, dir: &Path) -> Child {
    spawn(rank, port, epochs, dir, "KILN_DP_BACKUP")
}

/// A child with `mode` set (`KILN_DP_BACKUP`: a backup in `dir`, `KILN_DP_NORMED`,
/// `KILN_DP_SCHEDULE`, `KILN_DP_FAIL`, `KILN_DP_ROWS`: 2,432 examples, `KILN_DP_LOCAL`:
/// two devices).
fn spawn(rank: u32, port: u16, epochs: usize, dir: &Path, mode: &str) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "distributed_child", "--ignored", "--nocapture"])
        .env("KILN_WORLD_SIZE", "2")
        .env("KILN_RANK", rank.to_string())
        .env("KILN_COORDINATOR", format!("127.0.0.1:{port}"))
        .env("KILN_DP_EPOCHS", epochs.to_string())
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.env("KILN_DP_OUT", dir.join(format!("weights-{rank}.bin")));
    match mode {
        "KILN_DP_ROWS" => command.env(mode, (EXAMPLES - 128).to_string()),
        "KILN_DP_LOCAL" => command.env(mode, "2"),
        _ => command.env(mode, dir.join("backup")),
    };
    command.spawn().unwrap()
}

/// Waits for `child` at most `limit`, killing it past that.
fn finish(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "a child ran past {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read_weights(path: &PathBuf) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn two_processes_over_loopback_reach_one_devices_weights() {
    let _serial = serial();
    let (want, _) = one_device(1);
    // One device per process, then two (four workers: two lanes between the processes).
    for mode in ["KILN_DP_BACKUP", "KILN_DP_LOCAL"] {
        let dir = scratch("dp-two");
        let port = free_port();
        let ranks = [spawn(0, port, 1, &dir, mode), spawn(1, port, 1, &dir, mode)];
        for out in ranks.map(|c| finish(c, Duration::from_secs(300))) {
            assert!(out.status.success(), "{}", text(&out));
        }
        let got = read_weights(&dir.join("weights-0.bin"));
        let d = difference(&got, &want);
        eprintln!("{mode}: relative difference {d}");
        assert!(d < TOLERANCE, "{mode}: weights differ by {d} (relative)");
        assert_eq!(got, read_weights(&dir.join("weights-1.bin")));
    }
}

#[test]
fn a_killed_process_stops_the_other_with_an_error_and_the_run_resumes() {
    let _serial = serial();
    let dir = scratch("dp-kill");
    let port = free_port();
    let leader = child(0, port, 40, &dir);
    let mut follower = child(1, port, 40, &dir);
    // Wait for the leader's first backup, then kill the other process.
    let started = Instant::now();
    while !dir.join("backup").join("state.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(300), "no backup");
        std::thread::sleep(Duration::from_millis(50));
    }
    follower.kill().unwrap();
    let _ = follower.wait();
    let out = finish(leader, Duration::from_secs(120));
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("rank 1 closed its connection"), "{said}");
    // Both again: the leader resumes from its backup, the other adopts its weights.
    let port = free_port();
    let ranks = [child(0, port, 6, &dir), child(1, port, 6, &dir)];
    let outs = ranks.map(|c| finish(c, Duration::from_secs(300)));
    for out in &outs {
        assert!(out.status.success(), "{}", text(out));
    }
    let said = text(&outs[0]);
    assert!(said.contains("Resuming after epoch"), "{said}");
    // ... to the weights of a run never interrupted.
    let (want, _) = one_device(6);
    let got = read_weights(&dir.join("weights-0.bin"));
    let d = difference(&got, &want);
    eprintln!("resumed: relative difference {d}");
    assert!(d < TOLERANCE, "weights differ by {d} (relative)");
}

#[test]
fn two_processes_keep_the_same_weights_and_average_batch_normalization() {
    let _serial = serial();
    let dir = scratch("dp-normed");
    let port = free_port();
    let ranks = [
        spawn(0, port, 2, &dir, "KILN_DP_NORMED"),
        spawn(1, port, 2, &dir, "KILN_DP_NORMED"),
    ];
    for out in ranks.map(|c| finish(c, Duration::from_secs(300))) {
        assert!(out.status.success(), "{}", text(&out));
    }
    // Each process normalized its own half of every batch, so only the averaging at each
    // epoch's end makes the moving statistics the same: every float is, to the bit.
    let (zero, one) = (
        read_weights(&dir.join("weights-0.bin")),
        read_weights(&dir.join("weights-1.bin")),
    );
    assert_eq!(zero, one);
    let fresh = weights(&support::trainer(Normed::new).into_model());
    assert_eq!(zero.len(), fresh.len());
    assert_ne!(zero, fresh);
}

#[test]
fn the_other_process_follows_the_leaders_learning_rate_and_stop() {
    let _serial = serial();
    // The leader stops after epoch 1 of 5, then after the last of 2 (when the other has
    // nothing left to stop).
    for epochs in [5, 2] {
        let dir = scratch("dp-schedule");
        let port = free_port();
        let mode = "KILN_DP_SCHEDULE";
        let ranks = [
            spawn(0, port, epochs, &dir, mode),
            spawn(1, port, epochs, &dir, mode),
        ];
        let outs = ranks.map(|c| finish(c, Duration::from_secs(300)));
        for out in &outs {
            assert!(out.status.success(), "{}", text(out));
            assert!(text(out).contains("epochs trained: 2"), "{}", text(out));
        }
        let zero = read_weights(&dir.join("weights-0.bin"));
        assert_eq!(zero, read_weights(&dir.join("weights-1.bin")));
        let mut trainer = support::trainer(Small::new);
        trainer.fit(&data(), scheduled(fit(epochs))).unwrap();
        let d = difference(&zero, &weights(trainer.model()));
        assert!(d < TOLERANCE, "weights differ by {d} (relative)");
    }
}

#[test]
fn a_process_with_other_data_is_refused_with_the_difference() {
    let _serial = serial();
    let dir = scratch("dp-rows");
    let port = free_port();
    let leader = child(0, port, 1, &dir);
    let other = spawn(1, port, 1, &dir, "KILN_DP_ROWS");
    let outs = [leader, other].map(|c| finish(c, Duration::from_secs(300)));
    assert!(outs.iter().all(|o| !o.status.success()));
    let said = text(&outs[1]);
    assert!(
        said.contains("training examples 2432 where rank 0 has 2560"),
        "{said}"
    );
    assert!(text(&outs[0]).contains("rank 1 closed its connection"));
}

#[test]
fn a_failure_of_the_leader_stops_the_other_with_an_error() {
    let _serial = serial();
    let dir = scratch("dp-fail");
    let port = free_port();
    let mode = "KILN_DP_FAIL";
    let ranks = [spawn(0, port, 3, &dir, mode), spawn(1, port, 3, &dir, mode)];
    let outs = ranks.map(|c| finish(c, Duration::from_secs(300)));
    assert!(outs.iter().all(|o| !o.status.success()));
    assert!(
        text(&outs[0]).contains("no space left on device"),
        "{}",
        text(&outs[0])
    );
    let said = text(&outs[1]);
    assert!(said.contains("rank 0 failed"), "{said}");
}
