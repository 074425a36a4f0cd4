//! `DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier, dilation_rate,
//! activation, use_bias, depthwise_regularizer, bias_regularizer, activity_regularizer)`

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, positive_int};
use crate::regularizer::Regularizer;
use crate::rule::{Input, Params, Rule, WeightOptions};
use crate::shape::Shape;
use crate::window::{Padding, channels_axis};

use super::conv::{Conv, known_channels};

/// Each input channel through `depth_multiplier` kernels of its own, as Keras's
/// DepthwiseConv2D: a Conv2D's window, with the input's channels times
/// `depth_multiplier` out and no mixing between channels.
///
/// # Shapes
/// `[channels, height, width]` → `[channels · depth_multiplier, height_out, width_out]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Written")]
pub struct DepthwiseConv2D {
    /// The window's size.
    pub kernel_size: [usize; 2],
    /// The step between windows.
    pub strides: [usize; 2],
    /// Border handling.
    pub padding: Padding,
    /// Kernels per input channel.
    pub depth_multiplier: usize,
    /// Spacing between the window's elements.
    pub dilation_rate: [usize; 2],
    /// Activation, bias and regularizers (`kernel_regularizer` is Keras's
    /// `depthwise_regularizer`).
    #[serde(flatten)]
    pub weights: WeightOptions,
}

/// A DepthwiseConv2D as JSON may write it: its kernel's regularizer under Keras's name
/// `depthwise_regularizer` too (one of the two, which the argument rules check first).
#[derive(Deserialize)]
struct Written {
    kernel_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
    depth_multiplier: usize,
    dilation_rate: [usize; 2],
    #[serde(default)]
    depthwise_regularizer: Option<Regularizer>,
    #[serde(flatten)]
    weights: WeightOptions,
}

impl From<Written> for DepthwiseConv2D {
    fn from(w: Written) -> Self {
        let mut weights = w.weights;
        weights.kernel_regularizer = weights.kernel_regularizer.or(w.depthwise_regularizer);
        DepthwiseConv2D {
            kernel_size: w.kernel_size,
            strides: w.strides,
            padding: w.padding,
            depth_multiplier: w.depth_multiplier,
            dilation_rate: w.dilation_rate,
            weights,
        }
    }
}

impl DepthwiseConv2D {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Conv::<2>::window_params("the window's size, e.g. DepthwiseConv2D(3)"),
            vec![
                Param::keyword("depth_multiplier"),
                Param::keyword("depthwise_regularizer"),
            ],
        ]
        .concat();
        let mut args = Args::new("DepthwiseConv2D", call, &params);
        let window = Conv::<2>::read_window(&mut args, "DepthwiseConv2D");
        let depth_multiplier = args.or("depth_multiplier", 1, positive_int);
        let depthwise = args.get("depthwise_regularizer", Regularizer::from_value);
        let mut weights = window.as_ref().map(|w| w.weights.clone());
        if let (Some(weights), Some(depthwise)) = (weights.as_mut(), depthwise) {
            if weights.kernel_regularizer.is_some() {
                args.error_on(
                    "depthwise_regularizer",
                    "depthwise_regularizer and kernel_regularizer both name the one kernel; keep one".into(),
                );
            }
            weights.kernel_regularizer = Some(depthwise);
        }
        args.finish(|| {
            let window = window?;
            Some(DepthwiseConv2D {
                kernel_size: window.kernel_size,
                strides: window.strides,
                padding: window.padding,
                depth_multiplier,
                dilation_rate: window.dilation_rate,
                weights: weights?,
            })
        })
    }

    /// The convolution it is on `channels` input channels, its filters the channels times
    /// the multiplier (for its shapes).
    pub fn as_conv(&self, channels: usize) -> Conv<2> {
        Conv {
            filters: channels.saturating_mul(self.depth_multiplier),
            kernel_size: self.kernel_size,
            strides: self.strides,
            padding: self.padding,
            dilation_rate: self.dilation_rate,
            weights: self.weights.clone(),
        }
    }
}

impl Rule for DepthwiseConv2D {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        known_channels::<2>(layer, input)?;
        let channels = input.shape.dims()[channels_axis(2)].known().unwrap_or(0);
        self.as_conv(channels).output(layer, input)
    }

    fn params(&self, input: &Shape) -> Params {
        let channels = input.dims()[channels_axis(2)].known().unwrap_or(0);
        let out = channels.saturating_mul(self.depth_multiplier);
        let kernel = crate::product(self.kernel_size.iter().copied().chain([out]));
        Params::trainable(kernel.saturating_add(usize::from(self.weights.use_bias) * out))
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
    fn shapes_as_conv2d_and_counts_as_keras() {
        // keras.layers.DepthwiseConv2D(...).count_params() on the same input.
        let cases: Vec<(Layer, _, _, usize)> = vec![
            (
                layer("DepthwiseConv2D", &[i(3)], &[]),
                s(&[Some(32), Some(10), Some(10)]),
                s(&[Some(32), Some(8), Some(8)]),
                3 * 3 * 32 + 32,
            ),
            (
                layer(
                    "DepthwiseConv2D",
                    &[t(&[3, 5])],
                    &[
                        ("depth_multiplier", i(2)),
                        ("padding", n("same")),
                        ("strides", i(2)),
                        ("use_bias", crate::args::Value::Bool(false)),
                    ],
                ),
                s(&[Some(3), Some(9), Some(9)]),
                s(&[Some(6), Some(5), Some(5)]),
                3 * 5 * 6,
            ),
        ];
        for (l, input, want, count) in cases {
            assert_eq!(out(&l, &input, "the input"), Ok(want), "{l:?}");
            assert_eq!(l.params(&input), Params::trainable(count), "{l:?}");
        }
    }

    #[test]
    fn takes_keras_s_depthwise_regularizer_once() {
        let l2 = || crate::Value::Call(crate::Call::bare("l2").arg(0.01));
        let l = layer(
            "DepthwiseConv2D",
            &[i(3)],
            &[("depthwise_regularizer", l2())],
        );
        assert!(l.weights().is_some_and(|w| w.kernel_regularizer.is_some()));
        let err = Layer::from_call(&call(
            "DepthwiseConv2D",
            &[i(3)],
            &[
                ("depthwise_regularizer", l2()),
                ("kernel_regularizer", l2()),
                ("depth_multiplier", i(0)),
            ],
        ))
        .unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.message).collect();
        assert_eq!(
            messages,
            [
                "`depth_multiplier` of DepthwiseConv2D: expected a positive integer, got 0",
                "depthwise_regularizer and kernel_regularizer both name the one kernel; keep one",
            ]
        );
        // In JSON, as Keras names it: the kernel's penalty.
        let json = r#"{"class_name": "DepthwiseConv2D", "config": {"kernel_size": [3, 3],
            "strides": [1, 1], "padding": "valid", "depth_multiplier": 1,
            "dilation_rate": [1, 1], "activation": "linear", "use_bias": true,
            "depthwise_regularizer": {"l1": 0.0, "l2": 0.01}}}"#;
        let read: Layer = serde_json::from_str(json).unwrap();
        let penalty = read.weights().and_then(|w| w.kernel_regularizer);
        assert_eq!(penalty, Some(crate::Regularizer::l2(0.01)));
        let err = Layer::from_call(&call("DepthwiseConv2D", &[], &[])).unwrap_err();
        assert_eq!(
            err[0].message,
            "DepthwiseConv2D needs `kernel_size` (the window's size, e.g. DepthwiseConv2D(3)); add it"
        );
    }
}
