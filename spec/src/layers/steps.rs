//! `UpSampling1D(size)`, `ZeroPadding1D(padding)` and `Cropping1D(cropping)`: sequences
//! `[steps, channels]` made longer or shorter along their steps, as Keras makes them.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, positive_int};
use crate::rule::{Input, Rule};
use crate::shape::{Dim, Shape};
use crate::window::{spatial, with_channels};

/// Each step repeated `size` times.
///
/// # Shapes
/// `[steps, channels]` → `[steps·size, channels]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpSampling1D {
    /// How many times each step (2 by default).
    pub size: usize,
}

/// Steps of zeros before and after each sequence.
///
/// # Shapes
/// `[steps, channels]` → `[before + steps + after, channels]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZeroPadding1D {
    /// `[before, after]` (1 each by default).
    pub padding: [usize; 2],
}

/// Steps cut off the start and the end of each sequence.
///
/// # Shapes
/// `[steps, channels]` → `[steps - start - end, channels]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cropping1D {
    /// `[start, end]` (1 each by default, as Keras's).
    pub cropping: [usize; 2],
}

/// Keras's two spellings: `n` at both ends, or `(before, after)`.
fn ends(v: &Value) -> Result<[usize; 2], String> {
    let count = |v: &Value| match v {
        Value::Int(n) if *n >= 0 => crate::args::size(*n),
        other => Err(format!(
            "expected a number of steps, 0 or more, got `{other}`"
        )),
    };
    match v {
        Value::Tuple(items) if items.len() == 2 => Ok([count(&items[0])?, count(&items[1])?]),
        Value::Tuple(_) => Err(format!("expected a size or (before, after), got `{v}`")),
        one => count(one).map(|n| [n, n]),
    }
}

/// Reads the one argument of ZeroPadding1D or Cropping1D.
fn read(call: &Call, name: &'static str) -> Result<[usize; 2], Vec<ArgError>> {
    let params = [Param::positional(name, "")];
    let mut args = Args::new(&call.name, call, &params);
    let ends = args.or(name, [1, 1], ends);
    args.finish(|| Some(ends))
}

impl UpSampling1D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional("size", "how many times each step")];
        let mut args = Args::new("UpSampling1D", call, &params);
        let size = args.or("size", 2, positive_int);
        args.finish(|| Some(UpSampling1D { size }))
    }
}

impl ZeroPadding1D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        read(call, "padding").map(|padding| ZeroPadding1D { padding })
    }
}

impl Cropping1D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        read(call, "cropping").map(|cropping| Cropping1D { cropping })
    }
}

/// The sequence `input` with its steps `steps` (unknown ones stay unknown, or are refused
/// with `unknown`'s reason).
fn with_steps(
    layer: &str,
    input: &Input,
    unknown: Option<&str>,
    steps: impl FnOnce(usize) -> Result<usize, String>,
) -> Result<Shape, String> {
    let length = spatial::<1>(layer, input)?.first().copied();
    let channels = input.shape.dims().get(1).copied().unwrap_or(Dim::Unknown);
    let length = match (length.unwrap_or(Dim::Unknown), unknown) {
        (Dim::Known(n), _) => Dim::Known(steps(n)?),
        (Dim::Unknown, None) => Dim::Unknown,
        (Dim::Unknown, Some(why)) => {
            return Err(format!("{layer} {why}, got {}", input.describe()));
        }
    };
    Ok(with_channels(channels, vec![length]))
}

impl Rule for UpSampling1D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        with_steps(layer, input, None, |n| {
            n.checked_mul(self.size)
                .ok_or_else(|| format!("{layer} makes {} too long to count", input.describe()))
        })
    }
}

impl Rule for ZeroPadding1D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let [a, b] = self.padding;
        with_steps(layer, input, None, |n| {
            (n.checked_add(a).and_then(|n| n.checked_add(b)))
                .ok_or_else(|| format!("{layer} makes {} too long to count", input.describe()))
        })
    }
}

impl Rule for Cropping1D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let [a, b] = self.cropping;
        // At run time a shorter sequence than the crop could not be cut: refused here.
        let unknown = Some("needs a known number of steps to cut from");
        with_steps(layer, input, unknown, |n| {
            match n.checked_sub(a.saturating_add(b)) {
                Some(left) if left > 0 => Ok(left),
                _ => Err(format!(
                    "{layer} cuts {a} + {b} off {n} steps in {}, which leaves nothing; crop less",
                    input.describe()
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;

    #[test]
    fn lengthen_and_shorten_the_steps_as_keras() {
        let seq = s(&[Some(10), Some(4)]);
        let cases = [
            (layer("UpSampling1D", &[], &[]), s(&[Some(20), Some(4)])),
            (layer("UpSampling1D", &[i(3)], &[]), s(&[Some(30), Some(4)])),
            (layer("ZeroPadding1D", &[], &[]), s(&[Some(12), Some(4)])),
            (
                layer("ZeroPadding1D", &[t(&[2, 0])], &[]),
                s(&[Some(12), Some(4)]),
            ),
            (layer("Cropping1D", &[], &[]), s(&[Some(8), Some(4)])),
            (
                layer("Cropping1D", &[t(&[0, 3])], &[]),
                s(&[Some(7), Some(4)]),
            ),
        ];
        for (l, want) in cases {
            assert_eq!(out(&l, &seq, "Conv1D"), Ok(want), "{l:?}");
        }
        let any = s(&[None, Some(4)]);
        assert_eq!(
            out(&layer("UpSampling1D", &[], &[]), &any, "the input"),
            Ok(any.clone())
        );
        assert_eq!(
            out(&layer("Cropping1D", &[i(2)], &[]), &any, "the input"),
            Err(
                "Cropping1D needs a known number of steps to cut from, got [_, 4] from the input"
                    .into()
            )
        );
        assert_eq!(
            layer("UpSampling1D", &[], &[]).keras_name(),
            "up_sampling1d"
        );
    }

    #[test]
    fn refuse_what_is_not_a_sequence_or_leaves_nothing() {
        let err = crate::Layer::from_call(&call("ZeroPadding1D", &[i(-1)], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`padding` of ZeroPadding1D: expected a number of steps, 0 or more, got `-1`"
        );
        assert_eq!(
            out(&layer("Cropping1D", &[i(5)], &[]), &s(&[Some(10), Some(4)]), "Conv1D"),
            Err("Cropping1D cuts 5 + 5 off 10 steps in [10, 4] from Conv1D, which leaves nothing; crop less".to_string())
        );
        let err = out(&layer("UpSampling1D", &[], &[]), &s(&[Some(12)]), "Dense").unwrap_err();
        assert!(
            err.starts_with(
                "UpSampling1D expects a 2-D input [steps, channels], got [12] from Dense"
            ),
            "{err}"
        );
    }
}
