//! What the examples share: their command-line flags, the device choice, building the
//! seed's MLP from flags at run time, and the history charts.
#![allow(dead_code)] // each example uses its own part

use kiln::prelude::*;
use kiln::spec::{Call, ModelSpec};
use kiln::{Optimizer, TrainError};

/// `--name value` flags.
pub struct Flags(Vec<String>);

impl Flags {
    pub fn parse() -> Self {
        Flags(std::env::args().skip(1).collect())
    }

    /// The value after `--name`, parsed, or `default`; a value that does not parse is an
    /// error naming the flag.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        let flag = format!("--{name}");
        match self.0.iter().position(|a| *a == flag) {
            None => Ok(default),
            Some(i) => {
                let value = self
                    .0
                    .get(i + 1)
                    .ok_or_else(|| format!("{flag} needs a value"))?;
                value
                    .parse()
                    .map_err(|_| format!("{flag}: cannot read `{value}`"))
            }
        }
    }
}

/// The optimizer called `name` (`sgd`, `rmsprop`, `adam`, `adamw`) at `learning_rate`.
pub fn optimizer(name: &str, learning_rate: f64) -> Result<Optimizer, String> {
    Ok(match name {
        "sgd" => Sgd::new().learning_rate(learning_rate).into(),
        "rmsprop" => RmsProp::new().learning_rate(learning_rate).into(),
        "adam" => Adam::new().learning_rate(learning_rate).into(),
        "adamw" => AdamW::new().learning_rate(learning_rate).into(),
        other => {
            return Err(format!(
                "unknown optimizer `{other}`: use sgd, rmsprop, adam or adamw"
            ));
        }
    })
}

/// The seed's MLP on flat 28×28 images: `hidden` Dense layers of `units` with ReLU, each
/// followed by Dropout(`dropout`) when positive, then Dense(10, softmax).
pub fn mlp(hidden: usize, units: usize, dropout: f64) -> Result<ModelSpec, TrainError> {
    let mut layers = Vec::new();
    for _ in 0..hidden {
        layers.push(Call::bare("Dense").arg(units).kw("activation", "relu"));
        if dropout > 0.0 {
            layers.push(Call::bare("Dropout").arg(dropout));
        }
    }
    layers.push(Call::bare("Dense").arg(10).kw("activation", "softmax"));
    ModelSpec::from_calls("Mlp", Shape::known([784]), &layers)
        .map_err(|e| TrainError::Setting(e.to_string()))
}

/// Runs `$run::<Backend>(args...)` on the device named by `--device` (`cpu`, or `cuda`
/// when built with `--features cuda`).
#[macro_export]
macro_rules! on_device {
    ($flags:expr, $run:ident($($arg:expr),*)) => {{
        match $flags.get("device", String::from("cpu"))?.as_str() {
            "cpu" => Ok($run::<kiln::backend::Cpu>(Default::default(), $($arg),*)?),
            #[cfg(feature = "cuda")]
            "cuda" => Ok($run::<kiln::backend::Cuda>(Default::default(), $($arg),*)?),
            other => Err(format!("unknown device `{other}`: use cpu{}", if cfg!(feature = "cuda") { " or cuda" } else { " (build with --features cuda for cuda)" }).into()),
        }
    }};
}

/// What an example's `main` returns on failure: shown as its message (`Error: MNIST's
/// train-images-idx3-ubyte.gz is truncated ...`), where a boxed error would show its
/// structure.
pub struct Failure(Box<dyn std::error::Error>);

impl<E: Into<Box<dyn std::error::Error>>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.into())
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Writes the history charts (`{path}` and one per metric) and says where, or why not.
pub fn plot_history(history: &History, path: impl AsRef<std::path::Path>) {
    match history.plot(path) {
        Ok(files) => println!(
            "History charts: {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => println!("No history charts: {e}"),
    }
}
