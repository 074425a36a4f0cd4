//! `Conv2DTranspose(filters, kernel_size, strides, padding, dilation_rate, activation,
//! use_bias, kernel_regularizer, bias_regularizer, activity_regularizer)`: Conv2D's
//! arguments, the transposed window arithmetic.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Call};
use crate::rule::{Input, Params, Rule, WeightOptions};
use crate::shape::{Dim, Shape};
use crate::window::{Padding, Window, by, spatial, with_channels};

use super::conv::{Conv, known_channels};

/// A transposed 2-D convolution: each input pixel spreads the kernel over a window of
/// the output, which grows by `strides` (the way back of a Conv2D, as in decoders).
///
/// # Shapes
/// `[channels, height, width]` → `[filters, height·s + max(k - s, 0), ...]` with `valid`
/// padding, `[filters, height·s, width·s]` with `same` (`k` the dilated kernel size).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Conv2DTranspose(pub Conv<2>);

impl Conv2DTranspose {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        Conv::from_call(call).map(Conv2DTranspose)
    }

    /// The output size of one axis for an input of `size`.
    fn grown(window: &Window, size: usize, padding: Padding) -> Option<usize> {
        let strided = size.checked_mul(window.stride)?;
        match padding {
            Padding::Same => Some(strided),
            Padding::Valid => strided.checked_add(window.extent().saturating_sub(window.stride)),
        }
    }
}

impl std::ops::Deref for Conv2DTranspose {
    type Target = Conv<2>;

    fn deref(&self) -> &Conv<2> {
        &self.0
    }
}

impl Rule for Conv2DTranspose {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let sizes = spatial::<2>(layer, input)?;
        known_channels::<2>(layer, input)?;
        let mut out = Vec::new();
        for (window, &size) in self.windows().iter().zip(sizes) {
            out.push(match size {
                Dim::Unknown => Dim::Unknown,
                Dim::Known(n) => match Self::grown(window, n, self.padding) {
                    Some(n) => Dim::Known(n),
                    None => {
                        return Err(format!(
                            "{layer} strides {} make {} too large to count",
                            by(&self.strides),
                            input.describe()
                        ));
                    }
                },
            });
        }
        Ok(with_channels(Dim::Known(self.filters), out))
    }

    fn params(&self, input: &Shape) -> Params {
        // The kernel is [kernel, filters, channels] rather than [kernel, channels,
        // filters]: the count is Conv2D's.
        self.0.params(input)
    }

    fn weights(&self) -> Option<&WeightOptions> {
        Some(&self.weights)
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn grows_as_keras_and_counts_conv2d_s_weights() {
        // keras.layers.Conv2DTranspose(...).compute_output_shape and count_params (Keras
        // is channels-last; the counts do not depend on the layout).
        let cases: Vec<(Layer, _, _, usize)> = vec![
            (
                layer("Conv2DTranspose", &[i(16), i(3)], &[("strides", i(2))]),
                s(&[Some(8), Some(7), Some(7)]),
                s(&[Some(16), Some(15), Some(15)]),
                3 * 3 * 8 * 16 + 16,
            ),
            (
                layer(
                    "Conv2DTranspose",
                    &[i(4), i(3)],
                    &[("strides", i(2)), ("padding", n("same"))],
                ),
                s(&[Some(2), Some(5), None]),
                s(&[Some(4), Some(10), None]),
                3 * 3 * 2 * 4 + 4,
            ),
            (
                layer("Conv2DTranspose", &[i(1), t(&[1, 2])], &[("strides", i(3))]),
                s(&[Some(1), Some(2), Some(2)]),
                s(&[Some(1), Some(6), Some(6)]),
                3,
            ),
            (
                layer("Conv2DTranspose", &[i(2), i(3)], &[("dilation_rate", i(2))]),
                s(&[Some(1), Some(4), Some(4)]),
                s(&[Some(2), Some(8), Some(8)]),
                20,
            ),
        ];
        for (l, input, want, count) in cases {
            assert_eq!(out(&l, &input, "Conv2D"), Ok(want), "{l:?}");
            assert_eq!(l.params(&input), Params::trainable(count), "{l:?}");
        }
    }

    #[test]
    fn refuses_as_conv2d_does() {
        let err = Layer::from_call(&call(
            "Conv2DTranspose",
            &[i(8)],
            &[("strides", i(2)), ("dilation_rate", i(2))],
        ))
        .unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.message).collect();
        assert_eq!(
            messages,
            [
                "Conv2DTranspose needs `kernel_size` (the window's size, e.g. Conv2D(32, 3)); add it",
                "Conv2DTranspose cannot combine strides > 1 with dilation_rate > 1 (as in Keras); use one of them",
            ]
        );
        let l = layer("Conv2DTranspose", &[i(8), i(3)], &[]);
        assert_eq!(
            out(&l, &s(&[None, Some(4), Some(4)]), "Reshape"),
            Err("Conv2DTranspose needs a known number of input channels (the first dimension), got [_, 4, 4] from Reshape".to_string())
        );
    }
}
