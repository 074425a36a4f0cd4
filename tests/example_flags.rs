//! The examples' command lines (clap): defaults, values, and the errors a mistyped flag or
//! value gets, on the flags the CIFAR-10 examples share and the device and optimizer
//! choices every example takes.

#[path = "../examples/common/mod.rs"]
mod common;

#[path = "../examples/common/cifar.rs"]
mod cifar;

use cifar::{CifarFlags, Place, Switch};
use clap::Parser;
use clap::error::ErrorKind;
use common::{Device, OptimizerName};

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    cifar: CifarFlags,
}

fn parse(args: &[&str]) -> Result<CifarFlags, clap::Error> {
    Flags::try_parse_from(["cifar10"].iter().chain(args)).map(|f| f.cifar)
}

#[test]
fn defaults_and_given_values() {
    let f = parse(&[]).unwrap();
    assert_eq!((f.epochs, f.batch_size, f.train_batches), (50, 32, 5));
    assert!(f.optimizer == OptimizerName::Rmsprop && f.augment == Switch::On);
    assert!(f.device == Device::Cpu && f.augment_on.is_none() && f.load.is_none());
    assert_eq!(
        (f.learning_rate, f.train_limit, f.lr_drop_epoch),
        (None, None, 0)
    );
    let f = parse(&[
        "--epochs",
        "3",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.01",
        "--augment",
        "off",
        "--augment-on",
        "device",
        "--train-limit",
        "900",
        "--load",
        "w.safetensors",
    ])
    .unwrap();
    assert_eq!(
        (f.epochs, f.learning_rate, f.train_limit),
        (3, Some(0.01), Some(900))
    );
    assert!(f.optimizer == OptimizerName::Adam && f.augment == Switch::Off);
    assert!(f.augment_on == Some(Place::Device));
    assert_eq!(f.load.unwrap().to_str(), Some("w.safetensors"));
}

#[test]
fn a_mistyped_flag_or_value_is_an_error_with_the_fix() {
    let cases: [(&[&str], ErrorKind, &str); 4] = [
        (
            &["--epoch", "3"],
            ErrorKind::UnknownArgument,
            "a similar argument exists: '--epochs'",
        ),
        (
            &["--augment", "anything"],
            ErrorKind::InvalidValue,
            "[possible values: on, off]",
        ),
        (
            &["--optimizer", "adm"],
            ErrorKind::InvalidValue,
            "[possible values: sgd, rmsprop, adam, adamw]",
        ),
        (
            &["--epochs", "three"],
            ErrorKind::ValueValidation,
            "invalid value 'three'",
        ),
    ];
    for (args, kind, says) in cases {
        let err = parse(args)
            .err()
            .unwrap_or_else(|| panic!("{args:?} was accepted"));
        assert_eq!(err.kind(), kind, "{args:?}");
        let text = err.render().to_string();
        assert!(text.contains(says), "{args:?}: {text}");
        assert!(text.contains("--help"), "{args:?}: {text}");
    }
}

#[test]
fn a_run_on_the_synthetic_digits_marks_every_output() {
    let synthetic = kiln::datasets::synthetic_digits(10, 1);
    for (path, want) in [
        (
            "mnist_cnn.safetensors",
            "synthetic_digits_mnist_cnn.safetensors",
        ),
        ("checkpoints", "synthetic_digits_checkpoints"),
        ("training.csv", "synthetic_digits_training.csv"),
        ("experiments", "synthetic_digits_experiments"),
    ] {
        assert_eq!(common::output(&synthetic, path), want);
    }
    // Real data keep their paths.
    let cifar = kiln::datasets::ImageDataset::new(
        "CIFAR-10",
        [3, 1, 1],
        vec![0; 3],
        vec![0],
        vec!["airplane".into()],
    )
    .unwrap();
    assert_eq!(
        common::output(&cifar, "cifar10_best.safetensors"),
        "cifar10_best.safetensors"
    );
}

/// `--schedule cosine` with `--warmup-epochs`: a straight line up from 0 over the warm-up
/// epochs' updates, then Keras's cosine down to 0 by the last; a warm-up without the
/// cosine, or as long as the training, is refused with the fix; label smoothing parses.
#[test]
fn the_cosine_schedule_spans_the_training() {
    let f = parse(&[]).unwrap();
    assert!(f.schedule == cifar::Schedule::Constant && f.warmup_epochs == 0);
    assert_eq!(f.label_smoothing, 0.0);
    assert_eq!(cifar::schedule(&f, 0.01, 32).unwrap(), 0.01.into());

    // 10 updates an epoch: 20 of warm-up, 80 of decay.
    let f = parse(&[
        "--epochs",
        "10",
        "--batch-size",
        "100",
        "--schedule",
        "cosine",
        "--warmup-epochs",
        "2",
        "--label-smoothing",
        "0.2",
    ])
    .unwrap();
    assert_eq!(f.label_smoothing, 0.2);
    let rate = cifar::schedule(&f, 0.4, 10).unwrap();
    for (step, want) in [(0, 0.0), (10, 0.2), (20, 0.4), (60, 0.2), (100, 0.0)] {
        assert!(
            (rate.at(step) - want).abs() < 1e-12,
            "{step}: {}",
            rate.at(step)
        );
    }
    let f = parse(&["--epochs", "10", "--schedule", "cosine"]).unwrap();
    let rate = cifar::schedule(&f, 0.4, 10).unwrap();
    assert_eq!((rate.at(0), rate.at(100)), (0.4, 0.0));

    let refused = |args: &[&str]| {
        cifar::schedule(&parse(args).unwrap(), 0.1, 10)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refused(&["--warmup-epochs", "2"]),
        "--warmup-epochs is the cosine schedule's: add --schedule cosine"
    );
    assert_eq!(
        refused(&[
            "--epochs",
            "3",
            "--schedule",
            "cosine",
            "--warmup-epochs",
            "3"
        ]),
        "--warmup-epochs 3 leaves no epoch of the 3 to decay in"
    );
    let error = parse(&["--schedule", "linear"]).err().unwrap();
    assert_eq!(error.kind(), ErrorKind::InvalidValue);
}
