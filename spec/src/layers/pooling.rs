//! `MaxPooling1D`, `AveragePooling1D`, `MaxPooling2D` and
//! `AveragePooling2D(pool_size, strides, padding)`: one rule in 1 or 2 spatial dimensions.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, sizes};
use crate::rule::{Input, Rule};
use crate::shape::Shape;
use crate::window::{Padding, Window, by, channels_axis, spatial, with_channels};

/// A pooling window over `N` spatial dimensions; the channels are kept.
///
/// # Shapes
/// `[steps, channels]` → `[steps_out, channels]` (1-D, channels last as in Keras),
/// `[channels, height, width]` → `[channels, height_out, width_out]` (2-D).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "[usize; N]: Serialize",
    deserialize = "[usize; N]: Deserialize<'de>"
))]
pub struct Pooling<const N: usize> {
    /// The window's size (2 by default).
    pub pool_size: [usize; N],
    /// The step between windows (the window's size by default).
    pub strides: [usize; N],
    /// Border handling.
    pub padding: Padding,
}

/// The configuration of MaxPooling1D and AveragePooling1D.
pub type Pooling1D = Pooling<1>;
/// The configuration of MaxPooling2D and AveragePooling2D.
pub type Pooling2D = Pooling<2>;

impl<const N: usize> Pooling<N> {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional("pool_size", "the window's size"),
            Param::positional("strides", "the step between windows"),
            Param::keyword("padding"),
        ];
        let mut args = Args::new(&call.name, call, &params);
        let pool_size = args.or("pool_size", [2; N], sizes::<N>);
        let strides = args.or("strides", pool_size, sizes::<N>);
        let padding = args.or("padding", Padding::Valid, Padding::from_value);
        args.finish(|| {
            Some(Pooling {
                pool_size,
                strides,
                padding,
            })
        })
    }

    /// The window along each spatial axis.
    pub fn windows(&self) -> [Window; N] {
        std::array::from_fn(|i| Window {
            kernel: self.pool_size[i],
            stride: self.strides[i],
            dilation: 1,
        })
    }
}

impl<const N: usize> Rule for Pooling<N> {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let sizes = spatial::<N>(layer, input)?;
        let out: Option<Vec<_>> = self
            .windows()
            .iter()
            .zip(sizes)
            .map(|(w, &size)| w.output(size, self.padding))
            .collect();
        let Some(out) = out else {
            return Err(format!(
                "{layer} pool_size {} does not fit its {} input {}, so its output would be empty; \
                 use a smaller pool_size or padding = same",
                by(&self.pool_size),
                by(sizes),
                input.describe()
            ));
        };
        Ok(with_channels(input.shape.dims()[channels_axis(N)], out))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn shapes_match_keras() {
        let cases: Vec<(Layer, _, _)> = vec![
            (
                layer("MaxPooling2D", &[i(2)], &[]),
                s(&[Some(64), Some(24), Some(24)]),
                s(&[Some(64), Some(12), Some(12)]),
            ),
            (
                layer("MaxPooling2D", &[], &[]),
                s(&[Some(32), Some(27), Some(27)]),
                s(&[Some(32), Some(13), Some(13)]),
            ),
            (
                layer("MaxPooling2D", &[i(2)], &[("padding", n("same"))]),
                s(&[Some(32), Some(27), Some(27)]),
                s(&[Some(32), Some(14), Some(14)]),
            ),
            (
                layer("AveragePooling2D", &[i(3), i(1)], &[]),
                s(&[Some(8), Some(5), Some(6)]),
                s(&[Some(8), Some(3), Some(4)]),
            ),
            (
                layer("AveragePooling2D", &[t(&[2, 1])], &[]),
                s(&[None, Some(4), None]),
                s(&[None, Some(2), None]),
            ),
            (
                layer("MaxPooling1D", &[i(2)], &[]),
                s(&[Some(9), Some(16)]),
                s(&[Some(4), Some(16)]),
            ),
            (
                layer("AveragePooling1D", &[i(3)], &[("strides", i(1))]),
                s(&[Some(9), Some(16)]),
                s(&[Some(7), Some(16)]),
            ),
            (
                layer("AveragePooling1D", &[], &[("padding", n("same"))]),
                s(&[Some(9), Some(16)]),
                s(&[Some(5), Some(16)]),
            ),
        ];
        for (l, input, output) in cases {
            assert_eq!(out(&l, &input, "the input"), Ok(output), "{l:?}");
            assert_eq!(l.params(&input), Params::default());
        }
    }

    #[test]
    fn refuses_a_window_larger_than_its_input() {
        let l = layer("MaxPooling2D", &[i(2)], &[]);
        assert_eq!(
            out(&l, &s(&[Some(64), Some(1), Some(1)]), "Conv2D"),
            Err("MaxPooling2D pool_size 2×2 does not fit its 1×1 input [64, 1, 1] from Conv2D, so its output would be empty; use a smaller pool_size or padding = same".to_string())
        );
        assert_eq!(
            out(&l, &s(&[Some(10)]), "Dense"),
            Err("MaxPooling2D expects a 3-D input [channels, height, width], got [10] from Dense; reshape it to [channels, height, width] first".to_string())
        );
    }
}
