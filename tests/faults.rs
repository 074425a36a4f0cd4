//! Faults while training: checkpoints and backups on a full disk or a read-only one (a
//! small tmpfs, mounted for the test), a run killed with SIGKILL at ten moments that
//! resumes to the same bits as a run never interrupted, and two runs at once in one
//! process.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln::callbacks::{BackupAndRestore, ModelCheckpoint};
use kiln::prelude::*;

mod support;

use support::{Ad, scratch};

model! {
    struct Digits {
        input: [1, 28, 28],
        Conv2D(4, 3, strides = 2, activation = relu),
        Flatten,
        Dense(256, activation = relu),
        Dropout(0.2),
        Dense(10, activation = softmax),
    }
}

fn trainer() -> Trainer<Ad, Digits<Ad>> {
    support::trainer(Digits::new)
}

/// What goes wrong with the disk.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Full,
    ReadOnly,
}

impl Fault {
    /// The operating system's words for it.
    fn reason(self) -> &'static str {
        match self {
            Fault::Full => "No space left on device",
            Fault::ReadOnly => "Read-only file system",
        }
    }
}

/// A tmpfs of `size` mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// The mount, or `None` where this machine cannot mount one (not root): then the
    /// test fails under `CI=true` and is skipped, with a note, elsewhere.
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        let dir = scratch(&format!("faults-{name}"));
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            return Some(Tmpfs(dir));
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cannot mount a tmpfs (the fault tests need root); CI must run them"
        );
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        None
    }

    /// Breaks the disk: fills it to its last byte, or remounts it read-only.
    fn break_by(&self, fault: Fault) {
        use std::io::Write;
        match fault {
            Fault::Full => {
                let mut filler = std::fs::File::create(self.0.join("filler")).unwrap();
                let block = [0u8; 4096];
                while filler.write_all(&block).is_ok() {}
                // The last partial block, byte by byte.
                while filler.write_all(&block[..1]).is_ok() {}
            }
            Fault::ReadOnly => self.remount("ro"),
        }
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remounting {} {mode}", self.0.display());
    }

    /// Room again: the filler removed, the mount writable.
    fn recover(&self) {
        let _ = std::fs::remove_file(self.0.join("filler"));
        self.remount("rw");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn digits() -> ImageDataset {
    kiln::datasets::synthetic_digits(200, 3)
}

/// `epochs` epochs with `callback`, from a fresh trainer.
fn fit(
    epochs: usize,
    callback: impl Callback<Ad, Digits<Ad>>,
) -> Result<History, kiln::TrainError> {
    trainer().fit(
        &digits(),
        Fit::epochs(epochs)
            .batch_size(20)
            .seed(5)
            .verbose(Verbosity::Silent)
            .callback(callback),
    )
}

/// Two fits at once in two threads of one process (as tests run, or a tuner's trials)
/// both finish and learn. When every step went into rayon's pool, two steps could
/// stack on one of its threads, the upper one waiting for autodiff's lock that the
/// lower one held: this process hung. (Their histories differ from a fit's alone: the
/// backend's random generator, which dropout draws from, is one for the process.)
#[test]
fn two_fits_at_once_in_two_threads_both_finish() {
    let run = || {
        let fit = Fit::epochs(2).batch_size(20).seed(5);
        trainer()
            .fit(&digits(), fit.verbose(Verbosity::Silent))
            .expect("a fit")
    };
    let (sender, finished) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let sender = sender.clone();
        std::thread::spawn(move || sender.send(run()));
    }
    for _ in 0..2 {
        let history = finished
            .recv_timeout(Duration::from_secs(300))
            .expect("both fits finish within 5 minutes (each takes about a second alone)");
        let loss = history.get("loss").expect("the loss of each epoch");
        assert!(loss.len() == 2 && loss[1] < loss[0], "{loss:?}");
    }
}

#[test]
fn a_full_or_read_only_disk_fails_the_checkpoint_by_name_and_keeps_the_last_one() {
    for fault in [Fault::Full, Fault::ReadOnly] {
        let Some(disk) = Tmpfs::mount(&format!("checkpoint-{fault:?}"), "8m") else {
            return;
        };
        let path = disk.0.join("model.safetensors");
        let checkpoint = || ModelCheckpoint::new(path.to_string_lossy().into_owned());
        fit(1, checkpoint()).unwrap();
        let before = std::fs::read(&path).unwrap();
        disk.break_by(fault);
        let error = fit(1, checkpoint()).unwrap_err().to_string();
        assert!(
            error.contains(&path.display().to_string()) && error.contains(fault.reason()),
            "{fault:?}: {error}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{fault:?}: the last checkpoint changed"
        );
        let mut model = Digits::<Ad>::new(&Default::default());
        kiln::load_weights(&mut model, &path).unwrap();
    }
}

#[test]
fn a_full_or_read_only_disk_fails_the_backup_by_name_and_the_run_resumes() {
    for fault in [Fault::Full, Fault::ReadOnly] {
        let Some(disk) = Tmpfs::mount(&format!("backup-{fault:?}"), "8m") else {
            return;
        };
        let backup = disk.0.join("backup");
        let keep = || BackupAndRestore::new(&backup).delete_when_done(false);
        fit(1, keep()).unwrap();
        let state = std::fs::read(backup.join("state.json")).unwrap();
        disk.break_by(fault);
        let error = fit(2, keep()).unwrap_err().to_string();
        assert!(
            error.contains(&backup.display().to_string()) && error.contains(fault.reason()),
            "{fault:?}: {error}"
        );
        assert_eq!(std::fs::read(backup.join("state.json")).unwrap(), state);
        // With room again, the run resumes after its first epoch.
        disk.recover();
        let first = kiln::History::from_json(
            serde_json::from_slice::<serde_json::Value>(&state).unwrap()["history"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let history = fit(2, keep()).unwrap();
        assert_eq!(history.epochs(), [0, 1]);
        assert_eq!(
            history.get("loss").unwrap()[0],
            first.get("loss").unwrap()[0]
        );
    }
}

/// The epochs of the killed run and of its reference (`KILN_KILL_EPOCHS` runs on).
const EPOCHS: usize = 20;

/// The child half of the kill test: a run with a backup and a checkpoint every epoch,
/// resumed from the backup when there is one; it keeps its final backup to compare.
#[test]
#[ignore = "run by sigkill_at_ten_moments_resumes_to_the_same_bits"]
fn kill_child() {
    let Some(dir) = std::env::var_os("KILN_KILL_DIR").map(PathBuf::from) else {
        return;
    };
    let checkpoint = dir
        .join("checkpoint.safetensors")
        .to_string_lossy()
        .into_owned();
    let epochs = std::env::var("KILN_KILL_EPOCHS").map_or(EPOCHS, |e| e.parse().unwrap());
    trainer()
        .fit(
            &kiln::datasets::synthetic_digits(600, 4),
            Fit::epochs(epochs)
                .batch_size(10)
                .seed(9)
                .verbose(Verbosity::Silent)
                .callback(ModelCheckpoint::new(checkpoint))
                .callback(BackupAndRestore::new(dir.join("backup")).delete_when_done(false)),
        )
        .unwrap();
}

fn child(dir: &Path, epochs: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILN_KILL_DIR", dir)
        .env("KILN_KILL_EPOCHS", epochs.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// The bits of every weight in the model file `path`.
fn bits(path: &Path) -> Vec<Vec<u32>> {
    use burn_store::ModuleSnapshot;
    let mut model = Digits::<Ad>::new(&Default::default());
    kiln::load_weights(&mut model, path).unwrap();
    model
        .collect(None, None, false)
        .iter()
        .map(|s| {
            let values = s.to_data().unwrap().to_vec::<f32>().unwrap();
            values.into_iter().map(f32::to_bits).collect()
        })
        .collect()
}

/// What a kill left half-written: temporary and staging files.
fn half_written(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for folder in [dir.to_path_buf(), dir.join("backup")] {
        for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") || name.contains("staging") {
                found.push(name);
            }
        }
    }
    found
}

/// Beside the backup of epoch `e` (and the last checkpoint), the files of a write killed
/// half way: `model-{e+1}.bpk.tmp`, `optimizer-{e+1}-staging.bin`, `state.json.tmp` and
/// `checkpoint.safetensors.tmp` cut in half, and a complete but unused `model-{e+1}.bpk`.
fn plant_half_writes(dir: &Path) {
    let backup = dir.join("backup");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("state.json")).unwrap()).unwrap();
    let e = state["epoch"].as_u64().unwrap();
    let half = |from: PathBuf, to: PathBuf| {
        let bytes = std::fs::read(from).unwrap();
        std::fs::write(to, &bytes[..bytes.len() / 2]).unwrap();
    };
    let model = backup.join(format!("model-{e}.bpk"));
    half(
        model.clone(),
        backup.join(format!("model-{}.bpk.tmp", e + 1)),
    );
    half(
        backup.join(format!("optimizer-{e}.bin")),
        backup.join(format!("optimizer-{}-staging.bin", e + 1)),
    );
    half(backup.join("state.json"), backup.join("state.json.tmp"));
    half(
        dir.join("checkpoint.safetensors"),
        dir.join("checkpoint.safetensors.tmp"),
    );
    std::fs::copy(
        dir.join("checkpoint.safetensors"),
        backup.join(format!("model-{}.bpk", e + 1)),
    )
    .unwrap();
}

/// The last epoch the backup in `dir` holds, if any.
fn backed_up(dir: &Path) -> Option<u64> {
    let state = std::fs::read(dir.join("backup/state.json")).ok()?;
    serde_json::from_slice::<serde_json::Value>(&state).ok()?["epoch"].as_u64()
}

/// A tiny deterministic generator for the kill moments (xorshift).
struct Moments(u64);

impl Moments {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn sigkill_at_ten_moments_resumes_to_the_same_bits() {
    // The reference: the same run, never interrupted.
    let reference = scratch("faults-kill-reference");
    let started = Instant::now();
    assert!(child(&reference, EPOCHS).wait().unwrap().success());
    let whole = started.elapsed();

    // Ten kills: five at random moments within an epoch's share of a run, five the moment
    // a checkpoint or backup file is seen half written once the run has backed up one
    // epoch of its own. Each run gets about one epoch further: ten leave some to finish.
    let killed = scratch("faults-kill-resumed");
    let mut moments = Moments(0x9e37_79b9_7f4a_7c15);
    let mut mid_write = 0;
    for kill in 0..10 {
        let at_start = half_written(&killed);
        let mut run = child(&killed, EPOCHS);
        let started = Instant::now();
        let running = |run: &mut Child| run.try_wait().unwrap().is_none();
        if kill % 2 == 0 {
            let share = whole.as_millis() as u64 / EPOCHS as u64;
            let at = Duration::from_millis(moments.below(share));
            while started.elapsed() < at && running(&mut run) {
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            let first = backed_up(&killed);
            while backed_up(&killed) == first && running(&mut run) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let seen = half_written(&killed);
            while half_written(&killed).iter().all(|f| seen.contains(f)) && running(&mut run) {
                std::hint::spin_loop();
            }
        }
        run.kill().unwrap(); // SIGKILL, at once
        let status = run.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "the run ended before kill {kill}; a whole run takes {whole:?}"
        );
        // Landed mid-write: a file half written that was not there when the run started.
        mid_write += usize::from(half_written(&killed).iter().any(|f| !at_start.contains(f)));
    }
    // What a kill in the middle of each write would leave, whether or not a kill above
    // landed there: every temporary file half written, the next epoch's weights complete
    // but its state not yet in place.
    plant_half_writes(&killed);
    assert!(
        child(&killed, EPOCHS).wait().unwrap().success(),
        "the last resume"
    );
    eprintln!("10 kills, {mid_write} of them mid-write; a whole run took {whole:?}");

    // The history (in the backup's state) byte for byte; the final weights bit for bit.
    // (The files' own bytes differ between any two runs: burn-store writes its metadata
    // map in hash order.)
    let state = |dir: &Path| std::fs::read(dir.join("backup/state.json")).unwrap();
    assert!(state(&reference) == state(&killed), "the histories differ");
    let last = EPOCHS - 1;
    for file in [
        format!("backup/model-{last}.bpk"),
        "checkpoint.safetensors".into(),
    ] {
        assert!(
            bits(&reference.join(&file)) == bits(&killed.join(&file)),
            "{file}: the weights differ from the uninterrupted run's"
        );
    }
    // The optimizer state: one more epoch from each backup gives the same weights again.
    for dir in [&reference, &killed] {
        assert!(child(dir, EPOCHS + 1).wait().unwrap().success());
    }
    assert!(
        bits(&reference.join("checkpoint.safetensors"))
            == bits(&killed.join("checkpoint.safetensors")),
        "one more epoch from each backup: the optimizer states differ"
    );
}
