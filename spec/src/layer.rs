//! The layers kiln knows: the enum of every kind, and what each kind shares.
//!
//! Each kind's rule (its arguments, its output shape, its parameter count) lives in one
//! file of `layers/`; this file only dispatches to them.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::args::{ArgError, At, Call, suggestion};
use crate::layers::*;
use crate::rule::{Input, Params, Rule, WeightOptions};
use crate::shape::Shape;

/// The registry: every layer kind kiln knows, with its configuration type in `layers/`.
/// `registry!(callback)` hands the list to the macro `callback`, so every list of kinds
/// (this crate's [`Layer`] and [`kinds`], kiln-core's runtime dispatch) is generated from
/// this one: a kind added here and not handled there does not compile.
#[macro_export]
macro_rules! registry {
    ($callback:ident) => {
        $callback! {
        /// A fully connected layer.
        Dense(Dense),
        /// An activation function on its own.
        Activation(ActivationLayer),
        /// A rectifier with Keras's cap, slope and threshold: `ReLU(6.)`.
        ReLU(Relu),
        /// A rectifier with a slope below 0: `LeakyReLU(0.2)`.
        LeakyReLU(LeakyRelu),
        /// An exponential linear unit with its own `alpha`.
        ELU(Elu),
        /// A rectifier whose slope below 0 is learned: `PReLU(shared_axes = (2, 3))`.
        PReLU(PRelu),
        /// A softmax along the last axis, as a layer of its own.
        Softmax(SoftmaxLayer),
        /// Zeroes a random fraction of its inputs while training.
        Dropout(Dropout),
        /// Multiplies every value by a factor and adds an offset.
        Rescaling(Rescaling),
        /// Its input, unchanged.
        Identity(Identity),
        /// Its input, with a penalty on it added to the loss while training.
        ActivityRegularization(ActivityRegularization),
        /// Standardizes with a mean and variance, adapted to the data or given.
        Normalization(Normalization),
        /// Normalizes each example's features in groups: `GroupNormalization(8)`.
        GroupNormalization(GroupNormalization),
        /// Divides each example's features by their L2 norm.
        UnitNormalization(UnitNormalization),
        /// Adds Gaussian noise while training.
        GaussianNoise(GaussianNoise),
        /// Multiplies by Gaussian noise of mean 1 while training.
        GaussianDropout(GaussianDropout),
        /// Zeroes whole features of a sequence while training.
        SpatialDropout1D(SpatialDropout1D),
        /// Zeroes whole channels of an image while training.
        SpatialDropout2D(SpatialDropout2D),
        /// Mirrors images at random while training.
        RandomFlip(RandomFlip),
        /// Turns images by random angles while training.
        RandomRotation(RandomRotation),
        /// Moves images by random fractions of their size while training.
        RandomTranslation(RandomTranslation),
        /// Zooms images in or out at random while training.
        RandomZoom(RandomZoom),
        /// Scales images' values about their mean at random while training.
        RandomContrast(RandomContrast),
        /// Shifts images' values at random while training.
        RandomBrightness(RandomBrightness),
        /// Turns images grey at random while training.
        RandomGrayscale(RandomGrayscale),
        /// Flattens every dimension into one.
        Flatten(Flatten),
        /// Gives the same elements another shape.
        Reshape(Reshape),
        /// A 1-D convolution over `[steps, channels]` (channels last, as Keras).
        Conv1D(Conv1D),
        /// A 2-D convolution over `[channels, height, width]`.
        Conv2D(Conv2D),
        /// A transposed 2-D convolution, growing `[channels, height, width]` by its strides.
        Conv2DTranspose(Conv2DTranspose),
        /// A depthwise then a pointwise 2-D convolution over `[channels, height, width]`.
        SeparableConv2D(SeparableConv2D),
        /// Each channel convolved with kernels of its own over `[channels, height, width]`.
        DepthwiseConv2D(DepthwiseConv2D),
        /// Max pooling over `[steps, channels]` (channels last, as Keras).
        MaxPooling1D(Pooling1D),
        /// Average pooling over `[steps, channels]` (channels last, as Keras).
        AveragePooling1D(Pooling1D),
        /// Max pooling over `[channels, height, width]`.
        MaxPooling2D(Pooling2D),
        /// Average pooling over `[channels, height, width]`.
        AveragePooling2D(Pooling2D),
        /// The mean over the steps: `[steps, channels]` to `[channels]`.
        GlobalAveragePooling1D(GlobalPooling1D),
        /// The maximum over the steps: `[steps, channels]` to `[channels]`.
        GlobalMaxPooling1D(GlobalPooling1D),
        /// The mean over height and width: `[channels, height, width]` to `[channels]`.
        GlobalAveragePooling2D(GlobalPooling2D),
        /// The maximum over height and width: `[channels, height, width]` to `[channels]`.
        GlobalMaxPooling2D(GlobalPooling2D),
        /// Repeats each step of a sequence: `[steps, channels]` to `[steps·size, channels]`.
        UpSampling1D(UpSampling1D),
        /// Steps of zeros before and after each sequence.
        ZeroPadding1D(ZeroPadding1D),
        /// Steps cut off the start and the end of each sequence.
        Cropping1D(Cropping1D),
        /// Scales images up by whole factors, repeating or interpolating pixels.
        UpSampling2D(UpSampling2D),
        /// Zeros around each image.
        ZeroPadding2D(ZeroPadding2D),
        /// Rows and columns cut off each image's edges.
        Cropping2D(Cropping2D),
        /// Reorders the dimensions of each example.
        Permute(Permute),
        /// Repeats a vector: `[features]` to `[n, features]`.
        RepeatVector(RepeatVector),
        /// One layer applied to every step of a sequence: `TimeDistributed(Dense(8))`.
        TimeDistributed(TimeDistributed),
        /// Normalizes each feature with batch statistics.
        BatchNormalization(BatchNormalization),
        /// Normalizes each example's features with their own statistics.
        LayerNormalization(LayerNormalization),
        /// A fully recurrent cell over `[timesteps, features]`.
        SimpleRNN(Recurrent),
        /// A gated recurrent unit over `[timesteps, features]`.
        GRU(Recurrent),
        /// A long short-term memory over `[timesteps, features]`.
        LSTM(Recurrent),
        /// A recurrent layer read both ways, the two outputs merged: `Bidirectional(LSTM(32))`.
        Bidirectional(Bidirectional),
        /// A learned vector per token id: `[timesteps]` to `[timesteps, output_dim]`.
        Embedding(Embedding),
        /// Attention of a query sequence to a value sequence, in several heads.
        MultiHeadAttention(MultiHeadAttention),
        /// Luong's attention of a query to a value (dot-product scores), no projections.
        Attention(DotAttention),
        /// Bahdanau's attention of a query to a value (additive scores).
        AdditiveAttention(AdditiveAttention),
        /// The element-wise sum of two or more tensors of one shape.
        Add(Merge),
        /// The element-wise product of two or more tensors of one shape.
        Multiply(Merge),
        /// The element-wise mean of two or more tensors of one shape.
        Average(Merge),
        /// The element-wise maximum of two or more tensors of one shape.
        Maximum(Merge),
        /// The element-wise difference of two tensors of one shape: `a - b`.
        Subtract(Merge),
        /// The element-wise minimum of two or more tensors of one shape.
        Minimum(Merge),
        /// Two or more tensors joined along one axis.
        Concatenate(Concatenate),
        /// The dot product of two tensors along an axis of each.
        Dot(Dot),
        /// A model declared with `model!`, used as one layer: `Model(FeatureExtractor)`.
        Model(Nested),
        }
    };
}

macro_rules! layers {
    ($($(#[$doc:meta])* $kind:ident($config:ident)),* $(,)?) => {
        /// One layer with its configuration. Its JSON form is Keras's
        /// `{"class_name": "Conv2D", "config": {...}}`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "class_name", content = "config")]
        pub enum Layer {
            $($(#[$doc])* $kind($config),)*
        }

        impl Layer {
            /// Every layer name `model!` accepts.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($kind)),*];

            /// Reads a layer as written in `model!`, collecting every argument error.
            pub fn from_call(call: &Call) -> Result<Layer, Vec<ArgError>> {
                match call.name.as_str() {
                    $(stringify!($kind) => $config::from_call(call).map(Layer::$kind),)*
                    other => Err(vec![ArgError::new(
                        At::Name,
                        format!("unknown layer `{other}`; {}", suggestion(other, Self::NAMES)),
                    )]),
                }
            }

            /// The Keras class name: `Conv2D`.
            pub fn class_name(&self) -> &'static str {
                match self {
                    $(Layer::$kind(_) => stringify!($kind),)*
                }
            }

            fn rule(&self) -> &dyn Rule {
                match self {
                    $(Layer::$kind(layer) => layer,)*
                }
            }
        }

        /// One type per layer kind, naming its configuration: what kiln-core implements
        /// each kind's run on (`kinds::MaxPooling2D` and `kinds::AveragePooling2D` share
        /// [`Pooling2D`](crate::layers::Pooling2D) but not their step).
        pub mod kinds {
            $(
                $(#[$doc])*
                #[derive(Debug)]
                pub struct $kind;

                impl super::LayerKind for $kind {
                    type Config = super::$config;
                }
            )*
        }
    };
}

registry!(layers);

/// A layer kind of the [`registry!`], as a type.
pub trait LayerKind {
    /// Its configuration, the value [`Layer`]'s variant holds.
    type Config;
}

impl Layer {
    /// The output shape for `input`.
    ///
    /// # Errors
    /// When the layer cannot take `input`: the message names both shapes and the fix.
    pub fn output(&self, input: &Input) -> Result<Shape, ShapeError> {
        self.rule()
            .output(self.class_name(), input)
            .map_err(|message| self.refuses(message))
    }

    /// The output shape for the tensors a functional node takes: one for most layers,
    /// two or more for the merges, two or three for MultiHeadAttention.
    ///
    /// # Errors
    /// As [`Layer::output`], and when the layer takes another number of tensors.
    pub fn merge(&self, inputs: &[Input]) -> Result<Shape, ShapeError> {
        self.rule()
            .merge(self.class_name(), inputs)
            .map_err(|message| self.refuses(message))
    }

    fn refuses(&self, message: String) -> ShapeError {
        ShapeError {
            layer: self.class_name(),
            message,
        }
    }

    /// The final states a recurrent layer with `return_state = true` gives after its
    /// output, each `[units]`; none for other layers.
    pub fn states(&self) -> Vec<Shape> {
        self.rule().states()
    }

    /// What [`Layer::states`] are, for messages: `h`, `c` for an LSTM's; a Bidirectional
    /// LSTM's `h`, `c`, `h_back`, `c_back`.
    pub fn state_names(&self) -> Vec<String> {
        self.rule().state_names()
    }

    /// The layer's configuration alone, as JSON: the `config` of its JSON form, which
    /// `model!` embeds for the layers whose step it takes from kiln-core.
    pub fn config_json(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut form)) => {
                form.remove("config").unwrap_or_default().to_string()
            }
            _ => "null".into(),
        }
    }

    /// How the layer merges its tensors, for examples of `rank` dimensions; `None` for
    /// the layers of one tensor.
    pub fn merge_op(&self, rank: usize) -> Option<MergeOp> {
        Some(match self {
            Layer::Add(_) => MergeOp::Add,
            Layer::Multiply(_) => MergeOp::Multiply,
            Layer::Average(_) => MergeOp::Average,
            Layer::Maximum(_) => MergeOp::Maximum,
            Layer::Subtract(_) => MergeOp::Subtract,
            Layer::Minimum(_) => MergeOp::Minimum,
            // The rule refuses an axis outside the examples.
            Layer::Concatenate(c) => MergeOp::Concatenate {
                dim: c.dim_index(rank)? + 1,
            },
            _ => return None,
        })
    }

    /// The layers that merge several tensors.
    pub const MERGES: &'static [&'static str] = &[
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Concatenate",
    ];

    /// The layers besides the merges that the functional form calls on several tensors.
    const ALSO_TAKING_SEVERAL: &'static [&'static str] = &[
        "Dot",
        "MultiHeadAttention",
        "Attention",
        "AdditiveAttention",
    ];

    /// The layers the functional form calls on several tensors, `Add(a, b)`: the merges,
    /// Dot and the attentions.
    pub fn taking_several() -> impl Iterator<Item = &'static str> {
        Self::MERGES
            .iter()
            .chain(Self::ALSO_TAKING_SEVERAL)
            .copied()
    }

    /// Whether the functional form calls the layer on several tensors (see
    /// [`Layer::taking_several`]).
    pub fn takes_several(&self) -> bool {
        Self::taking_several().any(|name| name == self.class_name())
    }

    /// The layer's parameter counts for an input it accepts (a MultiHeadAttention's as
    /// if its value and key were `input` too: see [`Layer::params_with`]).
    pub fn params(&self, input: &Shape) -> Params {
        self.rule().params(input)
    }

    /// The layer's parameter counts when it takes `more` tensors after `input` (an
    /// attention's value and key).
    pub fn params_with(&self, input: &Shape, more: &[Shape]) -> Params {
        self.rule().params_with(input, more)
    }

    /// Keras's default layer name: `Conv2D` → `conv2d`, `MaxPooling2D` → `max_pooling2d`.
    /// A nested model is named after the model: `FeatureExtractor` → `feature_extractor`.
    pub fn keras_name(&self) -> String {
        let class = match self {
            Layer::Model(nested) => &nested.0.name,
            _ => self.class_name(),
        };
        // Keras's `to_snake_case`: a word boundary before a capital that starts a lower-case
        // run (`Conv2D|Transpose`) or follows a lower-case letter (`Simple|RNN`).
        let chars: Vec<char> = class.chars().collect();
        let mut name = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let starts_word = chars.get(i + 1).is_some_and(char::is_ascii_lowercase)
                && previous.is_some_and(|p| p != '_');
            let after_lower = previous.is_some_and(|p| p.is_ascii_lowercase());
            if c.is_ascii_uppercase() && (starts_word || after_lower) {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        }
        name
    }

    /// The activation applied at the end of this layer, if it has one.
    pub fn activation(&self) -> Option<Activation> {
        self.rule().activation()
    }

    /// The penalty on the layer's output while training (an activity regularizer).
    pub fn activity(&self) -> Option<crate::Regularizer> {
        self.rule().activity()
    }

    /// The options of a layer with a kernel (Dense, the convolutions).
    pub fn weights(&self) -> Option<&WeightOptions> {
        self.rule().weights()
    }
}

/// Why a layer cannot take its input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ShapeError {
    /// The layer's Keras class: `Conv2D`.
    pub layer: &'static str,
    /// What it got, what it needs, and the fix.
    pub message: String,
}

/// A layer as declared: the layer, and what every layer takes besides its own
/// arguments, as Keras's base `Layer` does.
#[derive(Clone, Debug, PartialEq)]
pub struct Declared {
    /// The layer.
    pub layer: Layer,
    /// Whether its weights train (`trainable = false` freezes them).
    pub trainable: bool,
    /// Whether it follows the training phase; `training = false` keeps it in inference
    /// mode (no dropout, batch normalization on its moving statistics), as Keras's
    /// `layer(x, training=False)`.
    pub training: bool,
}

impl From<Layer> for Declared {
    fn from(layer: Layer) -> Self {
        Declared {
            layer,
            trainable: true,
            training: true,
        }
    }
}

/// What every layer takes besides its own arguments: `trainable` and `training`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Base {
    /// `trainable`: whether its weights train.
    pub trainable: bool,
    /// `training`: whether it follows the training phase (only `false` is written).
    pub training: bool,
}

impl Declared {
    /// The keyword every layer takes.
    pub const TRAINABLE: &'static str = "trainable";
    /// The keyword that keeps a layer in inference mode: `training = false`.
    pub const TRAINING: &'static str = "training";

    /// Reads a layer as written in `model!`, `trainable = ...` included, collecting every
    /// argument error; the errors point at the arguments of `call` as written.
    ///
    /// ```
    /// use kiln_spec::{Call, Declared};
    /// let frozen = Declared::read(&Call::bare("Dense").arg(8).kw("trainable", false)).unwrap();
    /// assert!(!frozen.trainable);
    /// let err = Declared::read(&Call::bare("Dense").arg(8).kw("trainable", 0)).unwrap_err();
    /// assert_eq!(err[0].message, "`trainable` of Dense: expected `true` or `false`, got `0`");
    /// ```
    ///
    /// # Errors
    /// Every argument that does not fit the layer.
    pub fn read(call: &Call) -> Result<Declared, Vec<ArgError>> {
        let (layer, base) = Self::with_base(call, Layer::from_call)?;
        Ok(Declared {
            layer,
            trainable: base.trainable,
            training: base.training,
        })
    }

    /// Reads `trainable` and `training` from `call` and hands the other arguments to
    /// `read`; the errors of all, in the indices of `call`.
    ///
    /// # Errors
    /// A `trainable` or `training` that is not `true` or `false` or is given twice, a
    /// `training = true` (kiln keeps no layer in training mode at inference), and `read`'s
    /// errors.
    pub fn with_base<T>(
        call: &Call,
        read: impl FnOnce(&Call) -> Result<T, Vec<ArgError>>,
    ) -> Result<(T, Base), Vec<ArgError>> {
        let mut errors = Vec::new();
        let keys = [Self::TRAINABLE, Self::TRAINING];
        let mut given = [None; 2];
        let mut kept = Vec::new();
        for (i, arg) in call.args.iter().enumerate() {
            let Some(k) = keys.iter().position(|k| arg.keyword.as_deref() == Some(k)) else {
                kept.push(i);
                continue;
            };
            let (key, name) = (keys[k], &call.name);
            if given[k].is_some() {
                errors.push(ArgError::new(
                    At::Arg(i),
                    format!("`{key}` is given twice to {name}; remove one"),
                ));
                continue;
            }
            let value = match crate::args::boolean(&arg.value) {
                Ok(true) if key == Self::TRAINING => Err(format!(
                    "`training = true` (training mode at inference too) is not in kiln; leave it out of {name}, or write `training = false` for inference mode always"
                )),
                other => other.map_err(|why| format!("`{key}` of {name}: {why}")),
            };
            given[k] = Some(value.unwrap_or_else(|why| {
                errors.push(ArgError::new(At::Value(i), why));
                true
            }));
        }
        let rest = Call {
            name: call.name.clone(),
            args: kept.iter().map(|&i| call.args[i].clone()).collect(),
        };
        let at = |at: At| match at {
            At::Arg(j) => At::Arg(kept[j]),
            At::Value(j) => At::Value(kept[j]),
            other => other,
        };
        let base = Base {
            trainable: given[0].unwrap_or(true),
            training: given[1].unwrap_or(true),
        };
        match read(&rest) {
            Ok(layer) if errors.is_empty() => Ok((layer, base)),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more.into_iter().map(|e| ArgError { at: at(e.at), ..e }));
                Err(errors)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Value;

    #[test]
    fn keras_names() {
        let cases = [
            ("Conv2D", "conv2d"),
            ("MaxPooling2D", "max_pooling2d"),
            ("BatchNormalization", "batch_normalization"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("Flatten", "flatten"),
            ("Conv2DTranspose", "conv2d_transpose"),
            ("UpSampling2D", "up_sampling2d"),
            ("SimpleRNN", "simple_rnn"),
            ("LSTM", "lstm"),
        ];
        for (class, want) in cases {
            // Conv2D's filters and kernel size, the recurrent layers' units.
            let required = match class {
                "Conv2D" | "Conv2DTranspose" => 2,
                "SimpleRNN" | "LSTM" => 1,
                _ => 0,
            };
            let call = (0..required).fold(Call::bare(class), |call, _| call.arg(1));
            assert_eq!(Layer::from_call(&call).unwrap().keras_name(), want);
        }
    }

    #[test]
    fn the_config_alone_reads_back() {
        let call = Call::bare("UpSampling2D")
            .arg(Value::Tuple(vec![Value::Int(2), Value::Int(3)]))
            .kw("interpolation", Value::Name("bilinear".into()));
        let Layer::UpSampling2D(config) = Layer::from_call(&call).unwrap() else {
            panic!("not an UpSampling2D");
        };
        let json = Layer::UpSampling2D(config.clone()).config_json();
        assert_eq!(json, r#"{"size":[2,3],"interpolation":"bilinear"}"#);
        assert_eq!(serde_json::from_str::<UpSampling2D>(&json).unwrap(), config);
    }

    #[test]
    fn unknown_layers_get_the_nearest_name() {
        let cases = [
            ("Conv2d", "unknown layer `Conv2d`; did you mean `Conv2D`?"),
            (
                "MaxPool2D",
                "unknown layer `MaxPool2D`; did you mean `MaxPooling2D`?",
            ),
            ("Dens", "unknown layer `Dens`; did you mean `Dense`?"),
        ];
        for (name, want) in cases {
            let err = Layer::from_call(&Call::bare(name)).unwrap_err();
            assert_eq!(err, vec![ArgError::new(At::Name, want)]);
        }
    }
}
