//! Real-data tests on the files in `KILN_DATA` (`../shared/data` in `.ci/run`): the
//! datasets parse to their published counts, and the reference models reach their stated
//! accuracies. Each test is skipped, saying why, when the data is absent, and fails then
//! under `CI=true`.

use kiln::datasets::{cifar10_batch, cifar10_train, mnist};
use kiln::prelude::*;

type B = kiln::backend::Cpu;

// The seed's MLP, Keras's mnist_convnet and the benchmarks' CIFAR CNN.
#[path = "../benches/common/models.rs"]
mod models;
use models::{CifarCnn, MnistConvnet, MnistMlp};

// The seed's MLP built at run time, as the examples build it.
#[path = "../examples/common/mod.rs"]
mod common;

/// The training tests run one at a time: they share the backend's random generator
/// (seeded by `fit`) and the machine's cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The data directory, or `None` (with the reason printed) when the files are absent;
/// under `CI=true`, where the real data must be there, a failure instead.
fn data(needs: &str) -> Option<DataDir> {
    let skipped = |reason: String| {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{reason}, and CI=true needs the real data"
        );
        eprintln!("skipped: {reason}");
        None
    };
    let Some(root) = std::env::var_os("KILN_DATA") else {
        return skipped(
            "KILN_DATA is not set (point it at the real data, e.g. ../shared/data)".into(),
        );
    };
    let dir = DataDir::new(root).offline(true);
    if !dir.dataset(needs).exists() {
        return skipped(format!("{} does not exist", dir.dataset(needs).display()));
    }
    Some(dir)
}

#[test]
fn mnist_has_the_published_counts() {
    let Some(dir) = data("mnist") else { return };
    let (train, test) = mnist(&dir).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.shape(), [1, 28, 28]);
    assert_eq!(
        train.class_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
}

#[test]
fn cifar10_has_the_published_counts() {
    let Some(dir) = data("cifar10") else { return };
    let train = cifar10_train(&dir).unwrap();
    assert_eq!(train.len(), 50_000);
    assert_eq!(train.class_counts(), [5000; 10]);
    // Per-channel statistics published for the training set.
    let (mean, std) = train.channel_stats();
    for (got, want) in mean
        .iter()
        .chain(&std)
        .zip([0.4914, 0.4822, 0.4465, 0.2470, 0.2435, 0.2616])
    {
        assert!((got - want).abs() < 1e-3, "{mean:?} {std:?}");
    }
    // The partial test file: its count is read, not assumed.
    let test = cifar10_batch(dir.dataset("cifar10").join("test_batch_first1000.bin")).unwrap();
    assert_eq!(test.len(), 1000);
    assert_eq!(
        test.class_counts(),
        [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    );
    // The published first pixels of test record 0: [158, 159, 165, ...].
    assert_eq!(&test.image(0)[..3], [158, 159, 165]);
}

#[test]
fn the_mlp_reaches_97_5_percent_on_mnist() {
    let Some(dir) = data("mnist") else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, test) = mnist(&dir).unwrap();
    let device = Default::default();
    <B as Backend>::seed(&device, 7);
    let mut trainer = Trainer::new(MnistMlp::<B>::new(&device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let history = trainer
        .fit(
            &train,
            Fit::epochs(8)
                .batch_size(128)
                .verbose(Verbosity::OneLinePerEpoch),
        )
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses[losses.len() - 1] < losses[0], "{losses:?}");
    let accuracy = trainer.evaluate(&test).unwrap().get("accuracy").unwrap();
    println!("MLP test accuracy: {accuracy:.4}");
    assert!(accuracy >= 0.975, "MLP test accuracy {accuracy}");
}

#[test]
fn a_random_search_of_four_two_epoch_trials_on_50_000_mnist_images_reaches_96_percent() {
    use kiln::tuner::{RandomSearch, Status, Trial, Tuner};
    let Some(dir) = data("mnist") else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, _) = mnist(&dir).unwrap();
    let train = train.take(50_000);
    let project = std::env::temp_dir().join(format!("kiln-real-tuning-{}", std::process::id()));
    let device = Default::default();
    let mut tuner = Tuner::new(RandomSearch::new().max_trials(4), |hp| {
        let units = hp.int("units", 128, 512).step(128).value();
        let rate = hp.float("learning_rate", 5e-4, 2e-3).log().value();
        let spec = common::mlp(2, usize::try_from(units).unwrap(), 0.0)?;
        let trainer = Trainer::new(kiln::JsonModel::<B, 2, 2>::new(spec, &device)?)
            .optimizer(Adam::new().learning_rate(rate))
            .loss(Loss::CategoricalCrossentropy)
            .metrics([Metric::Accuracy]);
        let fit = Fit::epochs(2).batch_size(32).validation_split(0.1);
        Ok(Trial::new(trainer, fit.verbose(Verbosity::Silent)))
    })
    .objective("val_accuracy")
    .directory(&project)
    .overwrite(true)
    .seed(3);
    let trials = tuner.search(&train).unwrap();
    assert_eq!(trials.len(), 4);
    assert!(trials.iter().all(|t| t.status == Status::Completed));
    let best = tuner.best_trials(1).unwrap().remove(0);
    println!("{}", tuner.results_summary(1).unwrap());
    let score = best.score.unwrap();
    assert!(score >= 0.96, "best val_accuracy {score}");
    let csv = std::fs::read_to_string(project.join("untitled_project/results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(project.join("untitled_project/results.md").exists());
}

#[test]
fn the_cnn_reaches_98_8_percent_on_mnist() {
    let Some(dir) = data("mnist") else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, test) = mnist(&dir).unwrap();
    let device = Default::default();
    <B as Backend>::seed(&device, 7);
    let mut trainer = Trainer::new(MnistConvnet::<B>::new(&device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    // Keras's mnist_convnet passes 98.8% after about four epochs of batches of 64.
    trainer
        .fit(
            &train,
            Fit::epochs(5)
                .batch_size(64)
                .verbose(Verbosity::OneLinePerEpoch),
        )
        .unwrap();
    let accuracy = trainer.evaluate(&test).unwrap().get("accuracy").unwrap();
    println!("CNN test accuracy: {accuracy:.4}");
    assert!(accuracy >= 0.988, "CNN test accuracy {accuracy}");
}

#[test]
fn a_few_hundred_augmented_cifar_steps_beat_35_percent() {
    let Some(dir) = data("cifar10") else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let train = cifar10_batch(dir.dataset("cifar10").join("data_batch_1.bin"))
        .unwrap()
        .take(9_600);
    let test = cifar10_batch(dir.dataset("cifar10").join("test_batch_first1000.bin")).unwrap();
    let device = Default::default();
    <B as Backend>::seed(&device, 7);
    let mut trainer = Trainer::new(CifarCnn::<B>::new(&device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let augment = kiln::datasets::Augment::new()
        .width_shift_range(0.1)
        .height_shift_range(0.1)
        .horizontal_flip(true);
    // 2 epochs of 150 batches of 64: 300 steps.
    let history = trainer
        .fit(
            &train,
            Fit::epochs(2)
                .batch_size(64)
                .augment(augment)
                .verbose(Verbosity::OneLinePerEpoch),
        )
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses[1] < losses[0], "{losses:?}");
    let accuracy = trainer.evaluate(&test).unwrap().get("accuracy").unwrap();
    println!("CIFAR CNN test accuracy after 300 augmented steps: {accuracy:.4}");
    assert!(accuracy > 0.35, "CIFAR test accuracy {accuracy}");
}
