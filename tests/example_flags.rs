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
