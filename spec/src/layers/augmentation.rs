//! Keras's image augmentation layers: `RandomFlip`, `RandomRotation`, `RandomTranslation`,
//! `RandomZoom`, `RandomContrast`, `RandomBrightness` and `RandomGrayscale`. While training
//! each image gets its own random draw; at inference (prediction, evaluation, validation) the images pass
//! through unchanged, as Keras's do.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, finite, number, one_of};
use crate::layers::Interpolation;
use crate::rule::{Input, Rule};
use crate::shape::Shape;
use crate::window::{features, spatial};

/// How points outside the image are read by shifts, rotations and zooms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FillMode {
    /// A constant (`cval`, a layer's `fill_value`): `kkkk|abcd|kkkk`.
    Constant,
    /// The nearest edge pixel: `aaaa|abcd|dddd` (`ImageDataGenerator`'s default).
    #[default]
    Nearest,
    /// Mirrored: `dcba|abcd|dcba` (the augmentation layers' default).
    Reflect,
    /// Tiled: `abcd|abcd|abcd`.
    Wrap,
}

impl FillMode {
    /// Keras's names, in the order of [`FillMode::ALL`].
    const NAMES: [&'static str; 4] = ["constant", "nearest", "reflect", "wrap"];
    const ALL: [FillMode; 4] = [
        FillMode::Constant,
        FillMode::Nearest,
        FillMode::Reflect,
        FillMode::Wrap,
    ];
}

/// Which axes RandomFlip mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipMode {
    /// Left to right.
    Horizontal,
    /// Top to bottom.
    Vertical,
    /// Both at once (one draw per image: a half turn or nothing, as Keras 3's).
    HorizontalAndVertical,
}

/// Mirrors each image with probability ½, as Keras's RandomFlip.
///
/// # Shapes
/// `[channels, height, width]`, unchanged (as for every layer of this file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomFlip {
    /// The axes mirrored.
    pub mode: FlipMode,
}

/// How a geometric augmentation reads its input: the points outside it and between pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Points outside the image (`reflect` by default).
    pub fill_mode: FillMode,
    /// The value outside with `fill_mode = constant` (0 by default).
    pub fill_value: f64,
    /// Bilinear (the default) or nearest.
    pub interpolation: Interpolation,
}

/// Turns each image by a random angle about its centre, as Keras's RandomRotation: a
/// fraction of a full turn drawn from `factor`, counter-clockwise when positive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomRotation {
    /// The range of the fraction of a full turn, within [-1, 1].
    pub factor: [f64; 2],
    /// How the turned image is read.
    #[serde(flatten)]
    pub sampling: Sampling,
}

/// Moves each image by random fractions of its height and width, as Keras's
/// RandomTranslation (positive: down and right).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomTranslation {
    /// The range of the move's fraction of the height, within [-1, 1].
    pub height_factor: [f64; 2],
    /// The range of the move's fraction of the width, within [-1, 1].
    pub width_factor: [f64; 2],
    /// How the moved image is read.
    #[serde(flatten)]
    pub sampling: Sampling,
}

/// Zooms each image about its centre, as Keras's RandomZoom: a factor `f` drawn from a
/// range reads the image at `1 + f` times its scale, so positive factors zoom out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomZoom {
    /// The range of the vertical factor, within (-1, 1].
    pub height_factor: [f64; 2],
    /// The range of the horizontal factor; none: the vertical one's draw, which keeps the
    /// aspect ratio.
    pub width_factor: Option<[f64; 2]>,
    /// How the zoomed image is read.
    #[serde(flatten)]
    pub sampling: Sampling,
}

/// Scales each image's values about each channel's mean by a random factor in
/// `[1 - factor[0], 1 + factor[1]]`, clipped to `value_range`, as Keras's RandomContrast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomContrast {
    /// How far below and above 1 the factor goes, each in [0, 1].
    pub factor: [f64; 2],
    /// The range of the values (`(0, 255)` by default).
    pub value_range: [f64; 2],
}

/// Adds to each image a random fraction of its `value_range`, drawn from `factor`,
/// clipped to the range, as Keras's RandomBrightness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomBrightness {
    /// The range of the fraction, within [-1, 1].
    pub factor: [f64; 2],
    /// The range of the values (`(0, 255)` by default).
    pub value_range: [f64; 2],
}

/// Turns each image grey with probability `factor`, as Keras's RandomGrayscale: each of an
/// RGB image's channels becomes its luminance, 0.2989·R + 0.587·G + 0.114·B (an image of one
/// channel is grey already).
///
/// # Shapes
/// `[channels, height, width]` of 1 or 3 channels, unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomGrayscale {
    /// The probability that an image turns grey, in [0, 1] (0.5 by default).
    pub factor: f64,
}

/// The parameter every layer of this file takes to refuse: kiln's draws come from the
/// backend's random numbers, which `Fit::seed` seeds.
const SEED: Param = Param::keyword("seed");

/// Refuses `seed`, naming where kiln's draws come from.
fn no_seed(args: &mut Args, layer: &str) {
    if args.get("seed", |_| Ok(())).is_some() {
        args.error_on(
            "seed",
            format!(
                "{layer} draws from the backend's random numbers, seeded by `Fit::seed`, not from a seed of its own; remove `seed`"
            ),
        );
    }
}

/// A range of factors as Keras reads it: a number `f` (itself `within` the range `bounds`
/// names) as `scalar(|f|)`, or a pair (sorted) of two such numbers.
fn factor(
    v: &Value,
    scalar: fn(f64) -> [f64; 2],
    within: fn(f64) -> bool,
    bounds: &str,
) -> Result<[f64; 2], String> {
    let range = match v {
        Value::Tuple(items) if items.len() == 2 => {
            let (a, b) = (number(&items[0])?, number(&items[1])?);
            [a.min(b), a.max(b)]
        }
        Value::Tuple(_) => Err(format!("expected a number or a pair, got `{v}`"))?,
        _ => scalar(number(v)?.abs()),
    };
    let written = match v {
        Value::Tuple(_) => range.to_vec(),
        _ => vec![number(v)?],
    };
    match written.into_iter().find(|&f| !within(f)) {
        Some(f) => Err(format!("every factor must be in {bounds}, got {f:?}")),
        None => Ok(range),
    }
}

/// A factor read as `(-f, f)`, each in [-1, 1].
fn symmetric(v: &Value) -> Result<[f64; 2], String> {
    factor(v, |f| [-f, f], |f| (-1.0..=1.0).contains(&f), "[-1, 1]")
}

/// A value range: two finite numbers, the first below the second.
fn value_range(v: &Value) -> Result<[f64; 2], String> {
    match v {
        Value::Tuple(items) if items.len() == 2 => match [finite(&items[0])?, finite(&items[1])?] {
            [low, high] if low < high => Ok([low, high]),
            _ => Err(format!(
                "expected (low, high) with low below high, got `{v}`"
            )),
        },
        other => Err(format!(
            "expected a pair (low, high) such as (0, 255), got `{other}`"
        )),
    }
}

/// Reads the sampling keywords of a geometric augmentation.
fn sampling(args: &mut Args) -> Sampling {
    Sampling {
        fill_mode: args.or("fill_mode", FillMode::Reflect, |v| {
            one_of(v, &FillMode::NAMES).map(|i| FillMode::ALL[i])
        }),
        fill_value: args.or("fill_value", 0.0, finite),
        interpolation: args.or("interpolation", Interpolation::Bilinear, |v| {
            one_of(v, &["bilinear", "nearest"])
                .map(|i| [Interpolation::Bilinear, Interpolation::Nearest][i])
        }),
    }
}

/// The sampling keywords with `seed`, after a geometric augmentation's own.
const SAMPLING: [Param; 4] = [
    Param::keyword("fill_mode"),
    Param::keyword("fill_value"),
    Param::keyword("interpolation"),
    SEED,
];

impl RandomFlip {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional("mode", ""), SEED];
        let mut args = Args::new("RandomFlip", call, &params);
        let modes = ["horizontal_and_vertical", "horizontal", "vertical"];
        let mode = args.or("mode", FlipMode::HorizontalAndVertical, |v| {
            one_of(v, &modes).map(|i| {
                [
                    FlipMode::HorizontalAndVertical,
                    FlipMode::Horizontal,
                    FlipMode::Vertical,
                ][i]
            })
        });
        no_seed(&mut args, "RandomFlip");
        args.finish(|| Some(RandomFlip { mode }))
    }
}

impl RandomRotation {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional(
                "factor",
                "the range of the fraction of a full turn, e.g. RandomRotation(0.1)",
            ),
            SAMPLING[0],
            SAMPLING[1],
            SAMPLING[2],
            SAMPLING[3],
        ];
        let mut args = Args::new("RandomRotation", call, &params);
        let factor = args.required("factor", symmetric);
        let sampling = sampling(&mut args);
        no_seed(&mut args, "RandomRotation");
        args.finish(|| {
            Some(RandomRotation {
                factor: factor?,
                sampling,
            })
        })
    }
}

impl RandomTranslation {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional(
                "height_factor",
                "the range of the vertical move as a fraction of the height, e.g. 0.1",
            ),
            Param::positional(
                "width_factor",
                "the range of the horizontal move as a fraction of the width, e.g. 0.1",
            ),
            SAMPLING[0],
            SAMPLING[1],
            SAMPLING[2],
            SAMPLING[3],
        ];
        let mut args = Args::new("RandomTranslation", call, &params);
        let height_factor = args.required("height_factor", symmetric);
        let width_factor = args.required("width_factor", symmetric);
        let sampling = sampling(&mut args);
        no_seed(&mut args, "RandomTranslation");
        args.finish(|| {
            Some(RandomTranslation {
                height_factor: height_factor?,
                width_factor: width_factor?,
                sampling,
            })
        })
    }
}

impl RandomZoom {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional(
                "height_factor",
                "the range of the zoom factor, positive to zoom out, e.g. 0.2",
            ),
            Param::positional("width_factor", ""),
            SAMPLING[0],
            SAMPLING[1],
            SAMPLING[2],
            SAMPLING[3],
        ];
        let zoom = |v: &Value| factor(v, |f| [-f, f], |f| f > -1.0 && f <= 1.0, "(-1, 1]");
        let mut args = Args::new("RandomZoom", call, &params);
        let height_factor = args.required("height_factor", zoom);
        let width_factor = args.get("width_factor", zoom);
        let sampling = sampling(&mut args);
        no_seed(&mut args, "RandomZoom");
        args.finish(|| {
            Some(RandomZoom {
                height_factor: height_factor?,
                width_factor,
                sampling,
            })
        })
    }
}

impl RandomGrayscale {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional("factor", ""), SEED];
        let mut args = Args::new("RandomGrayscale", call, &params);
        let factor = args.or("factor", 0.5, |v| match number(v)? {
            f if (0.0..=1.0).contains(&f) => Ok(f),
            f => Err(format!("expected a probability in [0, 1], got {f:?}")),
        });
        no_seed(&mut args, "RandomGrayscale");
        args.finish(|| Some(RandomGrayscale { factor }))
    }
}

impl Rule for RandomGrayscale {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        spatial::<2>(layer, input)?;
        match features(layer, input)? {
            1 | 3 => Ok(input.shape.clone()),
            n => Err(format!(
                "{layer} takes RGB images (3 channels) or grey ones (1), got {n} channels in {}; give it 3 (Conv2D(3, 1) before it) or remove it",
                input.describe()
            )),
        }
    }
}

/// The arguments of RandomContrast and RandomBrightness: `factor` read by `read`, and
/// `value_range`.
fn colour(
    layer: &'static str,
    call: &Call,
    help: &'static str,
    read: fn(&Value) -> Result<[f64; 2], String>,
) -> Result<([f64; 2], [f64; 2]), Vec<ArgError>> {
    let params = [
        Param::positional("factor", help),
        Param::keyword("value_range"),
        SEED,
    ];
    let mut args = Args::new(layer, call, &params);
    let factor = args.required("factor", read);
    let range = args.or("value_range", [0.0, 255.0], value_range);
    no_seed(&mut args, layer);
    args.finish(|| Some((factor?, range)))
}

impl RandomContrast {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        // A number `f` is Keras 3's `(0, f)`: factors in [1, 1 + f].
        let read = |v: &Value| factor(v, |f| [0.0, f], |f| (0.0..=1.0).contains(&f), "[0, 1]");
        let (factor, value_range) = colour(
            "RandomContrast",
            call,
            "how far the contrast factor goes from 1, e.g. RandomContrast(0.2)",
            read,
        )?;
        Ok(RandomContrast {
            factor,
            value_range,
        })
    }
}

impl RandomBrightness {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let (factor, value_range) = colour(
            "RandomBrightness",
            call,
            "the range of the change as a fraction of the value range, e.g. 0.2",
            symmetric,
        )?;
        Ok(RandomBrightness {
            factor,
            value_range,
        })
    }
}

/// The [`Rule`] of each layer of this file: an image in, the same shape out.
macro_rules! on_images {
    ($($layer:ident),*) => {$(
        impl Rule for $layer {
            fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
                spatial::<2>(layer, input)?;
                Ok(input.shape.clone())
            }
        }
    )*};
}

on_images!(
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    RandomContrast,
    RandomBrightness
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Layer;
    use crate::layers::testing::*;

    fn ft(items: &[f64]) -> Value {
        Value::Tuple(items.iter().map(|&x| Value::Float(x)).collect())
    }

    #[test]
    fn take_images_and_keep_their_shape() {
        let image = s(&[Some(3), None, Some(8)]);
        for l in [
            layer("RandomFlip", &[n("horizontal")], &[]),
            layer("RandomRotation", &[f(0.1)], &[]),
            layer("RandomTranslation", &[f(0.1), f(0.2)], &[]),
            layer("RandomZoom", &[f(0.2)], &[]),
            layer("RandomContrast", &[f(0.2)], &[]),
            layer("RandomBrightness", &[f(0.2)], &[]),
            layer("RandomGrayscale", &[], &[]),
        ] {
            assert_eq!(out(&l, &image, "the input"), Ok(image.clone()), "{l:?}");
            assert_eq!(l.params(&image).total(), 0);
        }
        let grey = layer("RandomGrayscale", &[f(0.2)], &[]);
        let one = s(&[Some(1), Some(4), Some(4)]);
        assert_eq!(out(&grey, &one, "the input"), Ok(one.clone()));
        assert_eq!(
            out(&grey, &s(&[Some(4), Some(8), Some(8)]), "Conv2D"),
            Err("RandomGrayscale takes RGB images (3 channels) or grey ones (1), got 4 channels in [4, 8, 8] from Conv2D; give it 3 (Conv2D(3, 1) before it) or remove it".into())
        );
        assert_eq!(
            out(&layer("RandomFlip", &[], &[]), &s(&[Some(10)]), "Dense"),
            Err("RandomFlip expects a 3-D input [channels, height, width], got [10] from Dense; reshape it to [channels, height, width] first".into())
        );
    }

    #[test]
    fn read_keras_s_factors_and_defaults() {
        let Layer::RandomRotation(r) = layer("RandomRotation", &[f(0.1)], &[]) else {
            panic!()
        };
        assert_eq!(r.factor, [-0.1, 0.1]);
        assert_eq!(
            r.sampling,
            Sampling {
                fill_mode: FillMode::Reflect,
                fill_value: 0.0,
                interpolation: Interpolation::Bilinear,
            }
        );
        let Layer::RandomZoom(z) = layer(
            "RandomZoom",
            &[ft(&[0.3, -0.2])],
            &[
                ("fill_mode", n("constant")),
                ("fill_value", f(-1.0)),
                ("interpolation", n("nearest")),
            ],
        ) else {
            panic!()
        };
        assert_eq!((z.height_factor, z.width_factor), ([-0.2, 0.3], None));
        assert_eq!(z.sampling.fill_mode, FillMode::Constant);
        assert_eq!(z.sampling.fill_value, -1.0);
        assert_eq!(z.sampling.interpolation, Interpolation::Nearest);
        // Keras 3 reads a contrast factor f as (0, f): factors in [1, 1 + f].
        let Layer::RandomContrast(c) = layer("RandomContrast", &[f(0.2)], &[]) else {
            panic!()
        };
        assert_eq!((c.factor, c.value_range), ([0.0, 0.2], [0.0, 255.0]));
        let Layer::RandomBrightness(b) = layer(
            "RandomBrightness",
            &[f(0.2)],
            &[("value_range", ft(&[0.0, 1.0]))],
        ) else {
            panic!()
        };
        assert_eq!((b.factor, b.value_range), ([-0.2, 0.2], [0.0, 1.0]));
        let Layer::RandomFlip(flip) = layer("RandomFlip", &[], &[]) else {
            panic!()
        };
        assert_eq!(flip.mode, FlipMode::HorizontalAndVertical);
        let Layer::RandomGrayscale(grey) = layer("RandomGrayscale", &[], &[]) else {
            panic!()
        };
        assert_eq!(grey.factor, 0.5);
    }

    #[test]
    fn refuse_factors_out_of_range_unknown_modes_and_a_seed() {
        for (name, pos, kw, message) in [
            (
                "RandomRotation",
                vec![f(1.5)],
                vec![],
                "`factor` of RandomRotation: every factor must be in [-1, 1], got 1.5",
            ),
            (
                "RandomZoom",
                vec![ft(&[-1.0, 0.5])],
                vec![],
                "`height_factor` of RandomZoom: every factor must be in (-1, 1], got -1.0",
            ),
            (
                "RandomContrast",
                vec![ft(&[-0.5, 0.5])],
                vec![],
                "`factor` of RandomContrast: every factor must be in [0, 1], got -0.5",
            ),
            (
                "RandomBrightness",
                vec![f(0.1)],
                vec![("value_range", ft(&[1.0, 0.0]))],
                "`value_range` of RandomBrightness: expected (low, high) with low below high, got `(1.0, 0.0)`",
            ),
            (
                "RandomFlip",
                vec![n("sideways")],
                vec![],
                "`mode` of RandomFlip: unknown value `sideways`; expected one of: horizontal_and_vertical, horizontal, vertical",
            ),
            (
                "RandomTranslation",
                vec![f(0.1), f(0.1)],
                vec![("fill_mode", n("mirror"))],
                "`fill_mode` of RandomTranslation: unknown value `mirror`; expected one of: constant, nearest, reflect, wrap",
            ),
            (
                "RandomGrayscale",
                vec![f(1.5)],
                vec![],
                "`factor` of RandomGrayscale: expected a probability in [0, 1], got 1.5",
            ),
            (
                "RandomFlip",
                vec![n("horizontal")],
                vec![("seed", i(42))],
                "RandomFlip draws from the backend's random numbers, seeded by `Fit::seed`, not from a seed of its own; remove `seed`",
            ),
        ] {
            let err = Layer::from_call(&call(name, &pos, &kw)).unwrap_err();
            assert_eq!(err[0].message, message, "{name}");
        }
        let err = Layer::from_call(&call("RandomTranslation", &[f(0.1)], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "RandomTranslation needs `width_factor` (the range of the horizontal move as a fraction of the width, e.g. 0.1); add it"
        );
    }
}
