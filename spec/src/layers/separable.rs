//! `SeparableConv2D(filters, kernel_size, strides, padding, dilation_rate,
//! depth_multiplier, activation, use_bias, bias_regularizer, activity_regularizer)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, positive_int};
use crate::rule::{Input, Params, Rule, WeightOptions};
use crate::shape::Shape;
use crate::window::channels_axis;

use super::conv::Conv;

/// A depthwise convolution (each input channel through `depth_multiplier` kernels of its
/// own) then a pointwise 1×1 convolution to `filters`, as Keras's SeparableConv2D: a
/// Conv2D's window and output shape for far fewer weights.
///
/// # Shapes
/// `[channels, height, width]` → `[filters, height_out, width_out]`, as Conv2D.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeparableConv2D {
    /// The window, the filters and the options, as Conv2D's.
    #[serde(flatten)]
    pub conv: Conv<2>,
    /// Kernels per input channel in the depthwise step.
    pub depth_multiplier: usize,
}

impl SeparableConv2D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Conv::<2>::params(),
            vec![Param::keyword("depth_multiplier")],
        ]
        .concat();
        let mut args = Args::new("SeparableConv2D", call, &params);
        let conv = Conv::read(&mut args, "SeparableConv2D");
        let depth_multiplier = args.or("depth_multiplier", 1, positive_int);
        if conv
            .as_ref()
            .is_some_and(|c| c.weights.kernel_regularizer.is_some())
        {
            args.error_on(
                "kernel_regularizer",
                "SeparableConv2D has two kernels, and kiln does not regularize them yet (Keras's depthwise_regularizer and pointwise_regularizer); remove it".into(),
            );
        }
        args.finish(|| {
            Some(SeparableConv2D {
                conv: conv?,
                depth_multiplier,
            })
        })
    }
}

impl Rule for SeparableConv2D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        self.conv.output(layer, input)
    }

    fn params(&self, input: &Shape) -> Params {
        let channels = input.dims()[channels_axis(2)].known().unwrap_or(0);
        let depthwise = channels * self.depth_multiplier;
        let filters = self.conv.filters;
        let kernel = crate::product(self.conv.kernel_size.iter().copied().chain([depthwise]));
        Params::trainable(
            kernel
                .saturating_add(crate::product([depthwise, filters]))
                .saturating_add(usize::from(self.conv.weights.use_bias) * filters),
        )
    }

    fn weights(&self) -> Option<&WeightOptions> {
        Some(&self.conv.weights)
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn shapes_as_conv2d_and_counts_as_keras() {
        // keras.layers.SeparableConv2D(...).count_params() on the same input.
        let cases: Vec<(Layer, _, _, usize)> = vec![
            (
                layer("SeparableConv2D", &[i(64), i(3)], &[]),
                s(&[Some(32), Some(10), Some(10)]),
                s(&[Some(64), Some(8), Some(8)]),
                3 * 3 * 32 + 32 * 64 + 64,
            ),
            (
                layer(
                    "SeparableConv2D",
                    &[i(8), i(3)],
                    &[
                        ("depth_multiplier", i(2)),
                        ("padding", n("same")),
                        ("strides", i(2)),
                    ],
                ),
                s(&[Some(3), Some(9), Some(9)]),
                s(&[Some(8), Some(5), Some(5)]),
                3 * 3 * 6 + 6 * 8 + 8,
            ),
        ];
        for (l, input, want, count) in cases {
            assert_eq!(out(&l, &input, "Conv2D"), Ok(want), "{l:?}");
            assert_eq!(l.params(&input), Params::trainable(count), "{l:?}");
        }
    }

    #[test]
    fn refuses_a_kernel_regularizer_and_a_bad_multiplier() {
        let regularizer = crate::Value::Call(crate::Call::bare("l2").arg(0.01));
        let err = Layer::from_call(&call(
            "SeparableConv2D",
            &[i(8), i(3)],
            &[
                ("depth_multiplier", i(0)),
                ("kernel_regularizer", regularizer),
            ],
        ))
        .unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.message).collect();
        assert_eq!(
            messages,
            [
                "`depth_multiplier` of SeparableConv2D: expected a positive integer, got 0",
                "SeparableConv2D has two kernels, and kiln does not regularize them yet (Keras's depthwise_regularizer and pointwise_regularizer); remove it",
            ]
        );
    }
}
