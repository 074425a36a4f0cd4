//! One file per layer kind: its arguments, output shape and parameter count.

mod activation;
mod activation_layers;
mod attention;
mod augmentation;
mod batch_normalization;
mod bidirectional;
mod borders;
mod conv;
mod conv_transpose;
mod dense;
mod depthwise;
mod dot;
mod dropout;
mod embedding;
mod flatten;
mod global_pooling;
mod group_normalization;
mod layer_normalization;
mod merge;
mod nested;
mod noise;
mod normalization;
mod passthrough;
mod permute;
mod pooling;
mod prelu;
mod recurrent;
mod rescaling;
mod reshape;
mod score_attention;
mod separable;
mod steps;
mod time_distributed;
mod upsampling;

pub use activation::ActivationLayer;
pub use activation_layers::{Elu, LeakyRelu, Relu, SoftmaxLayer};
pub use attention::MultiHeadAttention;
pub use augmentation::{
    FillMode, FlipMode, RandomBrightness, RandomContrast, RandomFlip, RandomGrayscale,
    RandomRotation, RandomTranslation, RandomZoom, Sampling,
};
pub use batch_normalization::BatchNormalization;
pub use bidirectional::{Bidirectional, MergeMode};
pub use borders::{Borders, Cropping2D, ZeroPadding2D};
pub use conv::{Conv, Conv1D, Conv2D};
pub use conv_transpose::Conv2DTranspose;
pub use dense::Dense;
pub use depthwise::DepthwiseConv2D;
pub use dot::{Axes, Dot};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use global_pooling::{GlobalPooling, GlobalPooling1D, GlobalPooling2D};
pub use group_normalization::{GroupNormalization, UnitNormalization};
pub use layer_normalization::LayerNormalization;
pub use merge::{Concatenate, Merge, MergeOp};
pub use nested::Nested;
pub use noise::{
    GaussianDropout, GaussianNoise, SpatialDropout, SpatialDropout1D, SpatialDropout2D,
};
pub use normalization::{NormAxis, Normalization};
pub use passthrough::{ActivityRegularization, Identity};
pub use permute::{Permute, RepeatVector};
pub use pooling::{Pooling, Pooling1D, Pooling2D};
pub use prelu::PRelu;
pub use recurrent::{Cell, Recurrent};
pub use rescaling::Rescaling;
pub use reshape::Reshape;
pub use score_attention::{AdditiveAttention, DotAttention, ScoreMode, Scores, Scoring};
pub use separable::SeparableConv2D;
pub use steps::{Cropping1D, UpSampling1D, ZeroPadding1D};
pub use time_distributed::TimeDistributed;
pub use upsampling::{Interpolation, UpSampling2D};

/// The layer a wrapper (TimeDistributed, Bidirectional) takes as its argument: a call, or
/// the bare name of a layer without arguments (`TimeDistributed(Flatten)`); `example` is
/// one it takes, for the error.
fn wrapped(v: &crate::args::Value, example: &str) -> Result<crate::layer::Layer, String> {
    use crate::args::{Call, Value};
    let inner = match v {
        Value::Call(inner) => inner.clone(),
        Value::Name(name) => Call::bare(name.clone()),
        other => return Err(format!("expected a layer such as {example}, got `{other}`")),
    };
    crate::layer::Layer::from_call(&inner).map_err(|errors| {
        let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
        messages.join("; ")
    })
}

/// Test helpers shared by the layer files.
#[cfg(test)]
pub(crate) mod testing {
    use crate::args::{Arg, Call, Value};
    use crate::layer::Layer;
    use crate::rule::Input;
    use crate::shape::{Dim, Shape};

    /// Parses a layer from a `model!`-like spelling: `("Conv2D", &[i(32), i(3)], &[("padding", n("same"))])`.
    pub fn layer(name: &str, pos: &[Value], kw: &[(&str, Value)]) -> Layer {
        Layer::from_call(&call(name, pos, kw)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    pub fn call(name: &str, pos: &[Value], kw: &[(&str, Value)]) -> Call {
        let mut args: Vec<Arg> = pos
            .iter()
            .map(|v| Arg {
                keyword: None,
                value: v.clone(),
            })
            .collect();
        args.extend(kw.iter().map(|(k, v)| Arg {
            keyword: Some(k.to_string()),
            value: v.clone(),
        }));
        Call {
            name: name.into(),
            args,
        }
    }

    pub fn i(n: i64) -> Value {
        Value::Int(n)
    }

    pub fn f(x: f64) -> Value {
        Value::Float(x)
    }

    pub fn n(s: &str) -> Value {
        Value::Name(s.into())
    }

    pub fn t(items: &[i64]) -> Value {
        Value::Tuple(items.iter().map(|&x| Value::Int(x)).collect())
    }

    /// A shape from `Some(n)` / `None` dimensions.
    pub fn s(dims: &[Option<usize>]) -> Shape {
        Shape::new(dims.iter().map(|&d| Dim::from(d)))
    }

    /// The output (or error) of `layer` (a merge, an attention) on tensors of `shapes`.
    pub fn taking(l: &Layer, shapes: &[Shape]) -> Result<Shape, String> {
        let inputs: Vec<Input> = shapes
            .iter()
            .map(|shape| Input {
                shape,
                from: "the input",
            })
            .collect();
        l.merge(&inputs).map_err(|e| e.message)
    }

    /// The output (or error) of `layer` on `input` coming from `from`.
    pub fn out(layer: &Layer, input: &Shape, from: &str) -> Result<Shape, String> {
        layer
            .output(&Input { shape: input, from })
            .map_err(|e| e.message)
    }
}
