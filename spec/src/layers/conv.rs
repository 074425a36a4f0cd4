//! `Conv1D` and `Conv2D(filters, kernel_size, strides, padding, dilation_rate, activation,
//! use_bias, kernel_regularizer, bias_regularizer, activity_regularizer)`: one rule in 1 or 2
//! spatial dimensions.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, positive_int, sizes};
use crate::rule::{Input, Params, Rule, WeightOptions};
use crate::shape::{Dim, Shape};
use crate::window::{Padding, Window, by, channels_axis, spatial, with_channels};

/// A convolution over `N` spatial dimensions, channels first.
///
/// # Shapes
/// `[channels, ...N sizes]` → `[filters, ...N output sizes]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "[usize; N]: Serialize",
    deserialize = "[usize; N]: Deserialize<'de>"
))]
pub struct Conv<const N: usize> {
    /// The number of output channels.
    pub filters: usize,
    /// The window's size.
    pub kernel_size: [usize; N],
    /// The step between windows.
    pub strides: [usize; N],
    /// Border handling.
    pub padding: Padding,
    /// Spacing between the window's elements.
    pub dilation_rate: [usize; N],
    /// Activation, bias and regularizers.
    #[serde(flatten)]
    pub weights: WeightOptions,
}

/// A 1-D convolution over `[channels, length]`.
pub type Conv1D = Conv<1>;
/// A 2-D convolution over `[channels, height, width]`.
pub type Conv2D = Conv<2>;

impl<const N: usize> Conv<N> {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = Self::params();
        let mut args = Args::new(&call.name, call, &params);
        let conv = Self::read(&mut args, &call.name);
        args.finish(|| conv)
    }

    /// The parameters a convolution takes.
    pub(crate) fn params() -> Vec<Param> {
        let filters = Param::positional(
            "filters",
            "the number of output channels, e.g. Conv2D(32, 3)",
        );
        [
            vec![filters],
            Self::window_params("the window's size, e.g. Conv2D(32, 3)"),
        ]
        .concat()
    }

    /// The parameters of the window and the weight options: every one but `filters`,
    /// `kernel_help` saying what the kernel size is.
    pub(crate) fn window_params(kernel_help: &'static str) -> Vec<Param> {
        [
            &[
                Param::positional("kernel_size", kernel_help),
                Param::keyword("strides"),
                Param::keyword("padding"),
                Param::keyword("dilation_rate"),
            ][..],
            &WeightOptions::PARAMS,
        ]
        .concat()
    }

    /// Reads a convolution's arguments from `args`, which take [`Conv::params`], its errors
    /// recorded there; `None` when a required one is missing or wrong.
    pub(crate) fn read(args: &mut Args, layer: &str) -> Option<Self> {
        let filters = args.required("filters", positive_int);
        let window = Self::read_window(args, layer);
        Some(Conv {
            filters: filters?,
            ..window?
        })
    }

    /// Reads the window's arguments and the weight options (of
    /// [`Conv::window_params`]), `filters` left 0; `None` when one is missing or wrong.
    pub(crate) fn read_window(args: &mut Args, layer: &str) -> Option<Self> {
        let kernel_size = args.required("kernel_size", sizes::<N>);
        let strides = args.or("strides", [1; N], sizes::<N>);
        let padding = args.or("padding", Padding::Valid, Padding::from_value);
        let dilation_rate = args.or("dilation_rate", [1; N], sizes::<N>);
        let weights = WeightOptions::read(args);
        if strides.iter().any(|&s| s > 1) && dilation_rate.iter().any(|&d| d > 1) {
            args.error_on(
                "strides",
                format!("{layer} cannot combine strides > 1 with dilation_rate > 1 (as in Keras); use one of them"),
            );
        }
        Some(Conv {
            filters: 0,
            kernel_size: kernel_size?,
            strides,
            padding,
            dilation_rate,
            weights,
        })
    }

    /// The window along each spatial axis.
    pub fn windows(&self) -> [Window; N] {
        std::array::from_fn(|i| Window {
            kernel: self.kernel_size[i],
            stride: self.strides[i],
            dilation: self.dilation_rate[i],
        })
    }
}

/// An error unless the input channels of `input`, with `N` spatial dimensions, are known.
pub(crate) fn known_channels<const N: usize>(layer: &str, input: &Input) -> Result<(), String> {
    if input.shape.dims()[channels_axis(N)] != Dim::Unknown {
        return Ok(());
    }
    let which = ["last", "first"][usize::from(channels_axis(N) == 0)];
    Err(format!(
        "{layer} needs a known number of input channels (the {which} dimension), got {}",
        input.describe()
    ))
}

impl<const N: usize> Rule for Conv<N> {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let sizes = spatial::<N>(layer, input)?;
        known_channels::<N>(layer, input)?;
        if self.padding == Padding::Same
            && self.dilation_rate.iter().any(|&d| d > 1)
            && sizes.contains(&Dim::Unknown)
        {
            return Err(format!(
                "{layer} with padding = same and dilation_rate > 1 needs known input sizes, got {}",
                input.describe()
            ));
        }
        let out: Option<Vec<Dim>> = self
            .windows()
            .iter()
            .zip(sizes)
            .map(|(w, &size)| w.output(size, self.padding))
            .collect();
        let Some(out) = out else {
            let dilated = if self.dilation_rate.iter().any(|&d| d > 1) {
                let extents: Vec<usize> = self.windows().iter().map(Window::extent).collect();
                format!(" (dilated to {})", by(&extents))
            } else {
                String::new()
            };
            return Err(format!(
                "{layer} kernel_size {}{dilated} does not fit its {} input {}, so its output would be empty; \
                 use a smaller kernel_size or padding = same",
                by(&self.kernel_size),
                by(sizes),
                input.describe()
            ));
        };
        Ok(with_channels(Dim::Known(self.filters), out))
    }

    fn weights(&self) -> Option<&WeightOptions> {
        Some(&self.weights)
    }

    fn params(&self, input: &Shape) -> Params {
        let channels = input.dims()[channels_axis(N)].known().unwrap_or(0);
        let kernel = crate::product(
            self.kernel_size
                .iter()
                .copied()
                .chain([channels, self.filters]),
        );
        Params::trainable(kernel.saturating_add(usize::from(self.weights.use_bias) * self.filters))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn shapes_and_params_match_keras() {
        // Params from keras.layers.Conv2D/Conv1D(...).count_params() on the same input
        // (Keras is channels-last; the counts do not depend on the layout).
        let cases: Vec<(Layer, _, _, usize)> = vec![
            (
                layer("Conv2D", &[i(32), i(3)], &[]),
                s(&[Some(1), Some(28), Some(28)]),
                s(&[Some(32), Some(26), Some(26)]),
                320,
            ),
            (
                layer("Conv2D", &[i(64), i(3)], &[]),
                s(&[Some(32), Some(26), Some(26)]),
                s(&[Some(64), Some(24), Some(24)]),
                18_496,
            ),
            (
                layer("Conv2D", &[i(32), i(3)], &[("padding", n("same"))]),
                s(&[Some(3), Some(32), Some(32)]),
                s(&[Some(32), Some(32), Some(32)]),
                896,
            ),
            (
                layer(
                    "Conv2D",
                    &[i(8), t(&[3, 5])],
                    &[
                        ("strides", i(2)),
                        ("use_bias", crate::args::Value::Bool(false)),
                    ],
                ),
                s(&[Some(2), Some(9), Some(9)]),
                s(&[Some(8), Some(4), Some(3)]),
                240,
            ),
            (
                layer("Conv2D", &[i(4), i(3)], &[("dilation_rate", i(2))]),
                s(&[Some(1), Some(10), None]),
                s(&[Some(4), Some(6), None]),
                40,
            ),
            (
                layer("Conv1D", &[i(16), i(5)], &[]),
                s(&[Some(100), Some(4)]),
                s(&[Some(96), Some(16)]),
                336,
            ),
            (
                layer(
                    "Conv1D",
                    &[i(16), i(3)],
                    &[("strides", i(2)), ("padding", n("same"))],
                ),
                s(&[Some(9), Some(4)]),
                s(&[Some(5), Some(16)]),
                208,
            ),
        ];
        for (l, input, output, params) in cases {
            assert_eq!(out(&l, &input, "the input"), Ok(output), "{l:?}");
            assert_eq!(l.params(&input), Params::trainable(params), "{l:?}");
        }
    }

    #[test]
    fn refuses_inputs_it_cannot_take() {
        let conv = layer("Conv2D", &[i(32), i(5)], &[]);
        let dilated = layer("Conv2D", &[i(32), i(3)], &[("dilation_rate", i(3))]);
        let conv1 = layer("Conv1D", &[i(8), i(3)], &[]);
        let cases = [
            (
                &conv,
                s(&[Some(784)]),
                "Conv2D expects a 3-D input [channels, height, width], got [784] from the input; add Reshape((1, 28, 28)) before it",
            ),
            (
                &conv,
                s(&[Some(10)]),
                "Conv2D expects a 3-D input [channels, height, width], got [10] from the input; reshape it to [channels, height, width] first",
            ),
            (
                &conv1,
                s(&[Some(100)]),
                "Conv1D expects a 2-D input [steps, channels], got [100] from the input; add Reshape((100, 1)) before it",
            ),
            (
                &conv,
                s(&[Some(64), Some(3), Some(3)]),
                "Conv2D kernel_size 5×5 does not fit its 3×3 input [64, 3, 3] from the input, so its output would be empty; use a smaller kernel_size or padding = same",
            ),
            (
                &dilated,
                s(&[Some(1), Some(6), Some(6)]),
                "Conv2D kernel_size 3×3 (dilated to 7×7) does not fit its 6×6 input [1, 6, 6] from the input, so its output would be empty; use a smaller kernel_size or padding = same",
            ),
            (
                &layer(
                    "Conv2D",
                    &[i(4), i(3)],
                    &[("dilation_rate", i(2)), ("padding", n("same"))],
                ),
                s(&[Some(1), None, Some(8)]),
                "Conv2D with padding = same and dilation_rate > 1 needs known input sizes, got [1, _, 8] from the input",
            ),
            (
                &conv,
                s(&[None, Some(28), Some(28)]),
                "Conv2D needs a known number of input channels (the first dimension), got [_, 28, 28] from the input",
            ),
        ];
        for (l, input, want) in cases {
            assert_eq!(out(l, &input, "the input"), Err(want.to_string()));
        }
    }

    #[test]
    fn refuses_bad_arguments() {
        let cases = [
            (
                call("Conv2D", &[i(32)], &[]),
                vec!["Conv2D needs `kernel_size` (the window's size, e.g. Conv2D(32, 3)); add it"],
            ),
            (
                call("Conv2D", &[i(0), t(&[3, 3, 3])], &[]),
                vec![
                    "`filters` of Conv2D: expected a positive integer, got 0",
                    "`kernel_size` of Conv2D: expected a positive integer or a tuple of 2, got `(3, 3, 3)`",
                ],
            ),
            (
                call("Conv2D", &[i(3), i(3)], &[("padding", n("sane"))]),
                vec!["`padding` of Conv2D: unknown value `sane`; did you mean `same`?"],
            ),
            (
                call(
                    "Conv2D",
                    &[i(3), i(3)],
                    &[("strides", i(2)), ("dilation_rate", i(2))],
                ),
                vec![
                    "Conv2D cannot combine strides > 1 with dilation_rate > 1 (as in Keras); use one of them",
                ],
            ),
            (
                call("Conv2D", &[i(3), i(3)], &[("filter", i(2))]),
                vec!["unknown argument `filter` for Conv2D; did you mean `filters`?"],
            ),
        ];
        for (c, want) in cases {
            let got: Vec<String> = Layer::from_call(&c)
                .unwrap_err()
                .into_iter()
                .map(|e| e.message)
                .collect();
            assert_eq!(got, want);
        }
    }
}
