//! `TimeDistributed(layer)`: one layer applied to every step of a sequence.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::args::{ArgError, Args, Call, Param};
use crate::layer::Layer;
use crate::rule::{Input, Params, Rule, WeightOptions};
use crate::shape::Shape;

/// Applies `layer`, with one set of weights, to each step of a sequence, as Keras's
/// TimeDistributed: the layer sees examples without the steps.
///
/// # Shapes
/// `[steps, ...]` → `[steps, ...the layer's output for ...]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeDistributed {
    /// The layer applied to each step.
    pub layer: Box<Layer>,
}

impl TimeDistributed {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [Param::positional(
            "layer",
            "the layer applied to each step, e.g. TimeDistributed(Dense(8))",
        )];
        let mut args = Args::new("TimeDistributed", call, &params);
        let layer = args.required("layer", |v| {
            let layer = super::wrapped(v, "Dense(8)")?;
            match &layer {
                Layer::Dense(_)
                | Layer::Dropout(_)
                | Layer::Activation(_)
                | Layer::Flatten(_)
                | Layer::Reshape(_)
                | Layer::Permute(_)
                | Layer::RepeatVector(_)
                | Layer::MaxPooling1D(_)
                | Layer::AveragePooling1D(_)
                | Layer::GlobalAveragePooling1D(_)
                | Layer::GlobalMaxPooling1D(_) => Ok(layer),
                other => Err(format!(
                    "kiln's TimeDistributed takes Dense, Dropout, or a layer without weights of \
                     one tensor (Activation, Flatten, Reshape, Permute, RepeatVector, the 1-D \
                     poolings), not {}",
                    other.class_name()
                )),
            }
        });
        args.finish(|| {
            Some(TimeDistributed {
                layer: Box::new(layer?),
            })
        })
    }

    /// One step of `input`: the example without its first dimension.
    fn step(input: &Shape) -> Shape {
        Shape::new(input.dims().iter().skip(1).copied())
    }
}

impl Rule for TimeDistributed {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let dims = input.shape.dims();
        if dims.len() < 2 {
            return Err(format!(
                "{layer} applies its layer to each step of [steps, ...], got {}; give it sequences",
                input.describe()
            ));
        }
        let step = Self::step(input.shape);
        let inner = self.layer.output(&Input {
            shape: &step,
            from: input.from,
        });
        let inner = inner.map_err(|e| format!("{layer}({}): {e}", self.layer.class_name()))?;
        let out = Shape::new(dims[..1].iter().chain(inner.dims()).copied());
        if out.rank() > 3 {
            return Err(format!(
                "{layer} would give {out} per example; kiln runs examples of at most 3 dimensions"
            ));
        }
        Ok(out)
    }

    fn params(&self, input: &Shape) -> Params {
        self.layer.params(&Self::step(input))
    }

    fn weights(&self) -> Option<&WeightOptions> {
        self.layer.weights()
    }

    fn activation(&self) -> Option<Activation> {
        self.layer.activation()
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Call, Layer, Params, Value};

    fn wrapped(inner: Call) -> Layer {
        layer("TimeDistributed", &[Value::Call(inner)], &[])
    }

    #[test]
    fn applies_its_layer_to_each_step() {
        let dense = wrapped(
            Call::bare("Dense")
                .arg(8)
                .kw("activation", Value::Name("relu".into())),
        );
        let input = s(&[Some(10), Some(16)]);
        assert_eq!(out(&dense, &input, "LSTM"), Ok(s(&[Some(10), Some(8)])));
        // Keras: 16·8 + 8, the Dense's own count.
        assert_eq!(dense.params(&input), Params::trainable(136));
        assert_eq!(dense.activation(), Some(crate::Activation::Relu));
        assert_eq!(dense.keras_name(), "time_distributed");
        let flatten = layer("TimeDistributed", &[n("Flatten")], &[]);
        assert_eq!(
            out(&flatten, &s(&[None, Some(4), Some(5)]), "the input"),
            Ok(s(&[None, Some(20)]))
        );
    }

    #[test]
    fn refuses_what_it_cannot_apply() {
        let cases = [
            (
                Value::Int(8),
                "`layer` of TimeDistributed: expected a layer such as Dense(8), got `8`",
            ),
            (
                Value::Call(Call::bare("Dense")),
                "`layer` of TimeDistributed: Dense needs `units` (the number of outputs, e.g. Dense(128)); add it",
            ),
            (
                Value::Call(Call::bare("Add")),
                "`layer` of TimeDistributed: kiln's TimeDistributed takes Dense, Dropout, or a layer without weights of one tensor (Activation, Flatten, Reshape, Permute, RepeatVector, the 1-D poolings), not Add",
            ),
        ];
        for (inner, want) in cases {
            let err = Layer::from_call(&call("TimeDistributed", &[inner], &[])).unwrap_err();
            assert_eq!(err[0].message, want);
        }
        let dense = wrapped(Call::bare("Dense").arg(8));
        assert_eq!(
            out(&dense, &s(&[Some(10)]), "Dense"),
            Err("TimeDistributed applies its layer to each step of [steps, ...], got [10] from Dense; give it sequences".to_string())
        );
        let pool = wrapped(Call::bare("MaxPooling1D").arg(2));
        assert_eq!(
            out(&pool, &s(&[Some(5), Some(8)]), "the input"),
            Err("TimeDistributed(MaxPooling1D): MaxPooling1D expects a 2-D input [steps, channels], got [8] from the input; add Reshape((8, 1)) before it".to_string())
        );
    }
}
