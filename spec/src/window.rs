//! Sliding-window arithmetic shared by convolutions and poolings, as Keras computes it.

use serde::{Deserialize, Serialize};

use crate::args::{Value, one_of};
use crate::rule::Input;
use crate::shape::{Dim, Shape};

/// How a window treats the borders of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// No padding: the window stays inside the input, which shrinks.
    Valid,
    /// Pads so the output has `ceil(size / stride)` positions, the extra pad at the end
    /// (bottom/right), as TensorFlow does.
    Same,
}

impl Padding {
    pub(crate) fn from_value(v: &Value) -> Result<Padding, String> {
        one_of(v, &["valid", "same"]).map(|i| [Padding::Valid, Padding::Same][i])
    }
}

/// One spatial axis of a window: its size, stride and dilation.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// The window's size along this axis.
    pub kernel: usize,
    /// The step between windows.
    pub stride: usize,
    /// The spacing between the window's elements.
    pub dilation: usize,
}

impl Window {
    /// The extent the window covers: `dilation · (kernel - 1) + 1`.
    pub const fn extent(&self) -> usize {
        self.dilation * (self.kernel - 1) + 1
    }

    /// The output size along this axis, or `None` when the window does not fit the input
    /// (valid padding and a window wider than the input).
    pub fn output(&self, size: Dim, padding: Padding) -> Option<Dim> {
        let Dim::Known(size) = size else {
            return Some(Dim::Unknown);
        };
        match padding {
            Padding::Same => Some(Dim::Known(size.div_ceil(self.stride))),
            Padding::Valid if self.extent() > size => None,
            Padding::Valid => Some(Dim::Known((size - self.extent()) / self.stride + 1)),
        }
    }

    /// The `(start, end)` padding of `same` for an input of `size`, the odd one at the end.
    pub fn same_padding(&self, size: usize) -> (usize, usize) {
        let out = size.div_ceil(self.stride);
        let total = ((out - 1) * self.stride + self.extent()).saturating_sub(size);
        (total / 2, total - total / 2)
    }
}

/// Where the channels of an example with `spatial` spatial dimensions sit: first for
/// images (`[channels, height, width]`), last for sequences (`[steps, channels]`, as Keras
/// and kiln's recurrent layers and Embedding take them).
pub const fn channels_axis(spatial: usize) -> usize {
    if spatial == 1 { 1 } else { 0 }
}

/// Where the features (channels) of an example of `rank` dimensions sit, for the layers
/// that act per feature (BatchNormalization): the last of a sequence `[steps, features]`,
/// the first of an image, the only one of a vector.
pub const fn feature_axis(rank: usize) -> usize {
    channels_axis(rank.saturating_sub(1))
}

/// The known number of features of `input` (see [`feature_axis`]), or why the layer
/// needs it.
pub(crate) fn features(layer: &str, input: &Input) -> Result<usize, String> {
    let axis = feature_axis(input.shape.rank());
    match input.shape.dims().get(axis) {
        Some(Dim::Known(n)) => Ok(*n),
        _ => Err(format!(
            "{layer} needs a known number of features (the {} dimension), got {}",
            if axis == 0 { "first" } else { "last" },
            input.describe()
        )),
    }
}

/// The spatial dimensions of an example with `spatial` of them (see [`channels_axis`]).
pub fn spatial_dims(shape: &Shape, spatial: usize) -> &[Dim] {
    let dims = shape.dims();
    match channels_axis(spatial) {
        0 => dims.get(1..).unwrap_or_default(),
        _ => dims.get(..spatial).unwrap_or_default(),
    }
}

/// An example shape with `channels` and the `sizes` of its spatial dimensions.
pub(crate) fn with_channels(channels: Dim, sizes: Vec<Dim>) -> Shape {
    if channels_axis(sizes.len()) == 0 {
        Shape::new([channels].into_iter().chain(sizes))
    } else {
        Shape::new(sizes.into_iter().chain([channels]))
    }
}

/// Checks that `input` has `N` spatial dimensions and its channels, as [`channels_axis`]
/// lays them out, and returns the spatial dimensions; else a message with the Reshape that
/// would mend it.
pub(crate) fn spatial<'a, const N: usize>(
    layer: &str,
    input: &Input<'a>,
) -> Result<&'a [Dim], String> {
    let dims = input.shape.dims();
    if dims.len() == N + 1 {
        return Ok(spatial_dims(input.shape, N));
    }
    let wanted = ["[steps, channels]", "[channels, height, width]"][N - 1];
    let fix = match (N, input.shape.elements(), dims.len()) {
        (1, Some(n), 1) => format!("add Reshape(({n}, 1)) before it"),
        (2, Some(n), 1) if n.isqrt() * n.isqrt() == n => {
            format!("add Reshape((1, {0}, {0})) before it", n.isqrt())
        }
        _ => format!("reshape it to {wanted} first"),
    };
    Err(format!(
        "{layer} expects a {}-D input {wanted}, got {}; {fix}",
        N + 1,
        input.describe()
    ))
}

/// `3×3` for a window or input size in messages.
pub(crate) fn by(sizes: &[impl std::fmt::Display]) -> String {
    sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_match_keras() {
        // (size, kernel, stride, dilation, padding, expected), from tf.keras layers'
        // compute_output_shape on the same arguments.
        let cases = [
            (28, 3, 1, 1, Padding::Valid, Some(26)),
            (28, 3, 1, 1, Padding::Same, Some(28)),
            (28, 2, 2, 1, Padding::Valid, Some(14)),
            (27, 2, 2, 1, Padding::Valid, Some(13)),
            (27, 2, 2, 1, Padding::Same, Some(14)),
            (32, 3, 2, 1, Padding::Same, Some(16)),
            (10, 3, 1, 2, Padding::Valid, Some(6)),
            (3, 5, 1, 1, Padding::Valid, None),
            (3, 5, 1, 1, Padding::Same, Some(3)),
        ];
        for (size, kernel, stride, dilation, padding, want) in cases {
            let w = Window {
                kernel,
                stride,
                dilation,
            };
            assert_eq!(
                w.output(Dim::Known(size), padding),
                want.map(Dim::Known),
                "{size} {kernel} {stride} {dilation} {padding:?}"
            );
        }
        let w = Window {
            kernel: 3,
            stride: 1,
            dilation: 1,
        };
        assert_eq!(w.output(Dim::Unknown, Padding::Valid), Some(Dim::Unknown));
    }

    #[test]
    fn same_padding_puts_the_odd_pad_at_the_end() {
        let cases = [
            (28, 3, 1, 1, (1, 1)),
            (28, 2, 1, 1, (0, 1)),
            (32, 3, 2, 1, (0, 1)),
            (10, 3, 1, 2, (2, 2)),
            (5, 2, 2, 1, (0, 1)),
        ];
        for (size, kernel, stride, dilation, want) in cases {
            let w = Window {
                kernel,
                stride,
                dilation,
            };
            assert_eq!(
                w.same_padding(size),
                want,
                "{size} {kernel} {stride} {dilation}"
            );
        }
    }
}
