//! Each layer kind's burn module, built with Keras's initializers, and its forward step.
//! One file per layer kind, each implementing [`Run`] for the kinds it holds; `model!`'s
//! generated code and the runtime model read from JSON both build and step their layers
//! here, and the dispatch over kinds is generated from kiln-spec's registry, so a kind
//! without its `Run` does not compile.

mod activation;
mod attention;
mod augmentation;
mod batch_normalization;
mod bidirectional;
mod conv;
mod conv_transpose;
mod dense;
mod dropout;
mod embedding;
mod group_normalization;
mod layer_normalization;
mod merge;
mod normalization;
mod pooling;
mod prelu;
mod recurrent;
mod reshape;
mod resize;
mod score_attention;
mod separable;
mod time_distributed;

use burn::module::Module;
use burn::nn::{Gru, Lstm, Rnn};
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Layer, LayerKind, Shape, kinds};

use crate::dyn_tensor::DynTensor;

pub use attention::{Attention, attention, multi_head_attention};
pub use batch_normalization::{batch_norm, batch_normalization};
pub use bidirectional::{Bidirectional, bidirectional, bidirectional_with_states};
pub use conv::{conv1d, conv2d, convolve1d};
pub use conv_transpose::{conv2d_transpose, conv2d_transpose_step};
pub use dense::dense;
pub use dropout::{dropout, dropout_step};
pub use embedding::{embed, embedding};
pub use group_normalization::{GroupNorm, group_norm, unit_norm};
pub use layer_normalization::{layer_norm, layer_normalization};
pub use merge::{Merge, dot, merge};
pub use normalization::{Normalization, normalization};
pub use pooling::{
    Reduce, average_pooling1d, average_pooling2d, global_pooling1d, global_pooling2d,
    max_pooling1d, max_pooling2d,
};
pub use prelu::{PRelu, prelu};
pub use recurrent::{
    Recurrent, gru, lstm, recurrent_last, recurrent_sequence, recurrent_with_states, simple_rnn,
};
pub use reshape::{flatten, permute, repeat_vector};
pub use resize::{
    cropping1d, cropping2d, up_sampling1d, up_sampling2d, zero_padding1d, zero_padding2d,
};
pub use score_attention::{ScoreWeights, score_attention, score_weights};
pub use separable::{SeparableConv2d, separable_conv2d};

/// A layer kind with weights or state: its burn module, built here for `model!`'s
/// generated struct (whose field has this type) and for runtime models alike, and its
/// forward step on that module.
pub trait Stateful<B: Backend>: LayerKind {
    /// The burn module: `Linear`, `Conv2d`, ...
    type Module: Module<B>;

    /// The module for an input of `input`'s shape (which kiln-spec's rule accepted), with
    /// Keras's initializers.
    fn init(config: &Self::Config, input: &Shape, device: &B::Device) -> Self::Module;

    /// The layer's output for `t` before its activation; `training` turns on dropout and
    /// batch statistics.
    fn forward(
        config: &Self::Config,
        module: &Self::Module,
        t: DynTensor<B>,
        training: bool,
    ) -> DynTensor<B>;

    /// The layer's output for `t` and the `more` tensors after it, for a kind taking
    /// several (an attention's value and key); by default [`Stateful::forward`] on `t`.
    fn forward_with(
        config: &Self::Config,
        module: &Self::Module,
        t: DynTensor<B>,
        more: Vec<DynTensor<B>>,
        training: bool,
    ) -> DynTensor<B> {
        let _ = more;
        Self::forward(config, module, t, training)
    }

    /// The kernel and the bias, flattened, of a kind whose configuration takes
    /// regularizers (kiln-spec's `Layer::weights`); none for the others.
    fn kernel_and_bias(_module: &Self::Module) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        None
    }
}

/// [`RuntimeLayer`], one variant per stateful kind (its [`Stateful::Module`]) and one per
/// recurrent cell, and the [`Run`] of each stateful kind through its [`Stateful`].
macro_rules! stateful {
    ($($kind:ident),* ; $($(#[$doc:meta])* $cell:ident($module:ty)),* $(,)?) => {
        /// The burn module of a layer with weights or state, in a runtime model.
        #[derive(Module, Debug)]
        pub enum RuntimeLayer<B: Backend> {
            $(
                #[doc = concat!("A ", stringify!($kind), "'s module.")]
                $kind(<kinds::$kind as Stateful<B>>::Module),
            )*
            $($(#[$doc])* $cell($module),)*
        }

        /// The kernel and bias of `module` (see [`Stateful::kernel_and_bias`]).
        pub(crate) fn kernel_and_bias<B: Backend>(
            module: &RuntimeLayer<B>,
        ) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
            match module {
                $(RuntimeLayer::$kind(m) => <kinds::$kind as Stateful<B>>::kernel_and_bias(m),)*
                $(RuntimeLayer::$cell(_))|* => None,
            }
        }

        $(
            impl<B: Backend> Run<B> for kinds::$kind {
                fn build(
                    config: &Self::Config,
                    input: &Shape,
                    _more: &[Shape],
                    device: &B::Device,
                ) -> Option<RuntimeLayer<B>> {
                    Some(RuntimeLayer::$kind(<Self as Stateful<B>>::init(config, input, device)))
                }

                fn step(
                    config: &Self::Config,
                    module: Option<&RuntimeLayer<B>>,
                    t: DynTensor<B>,
                    training: bool,
                ) -> DynTensor<B> {
                    match module {
                        Some(RuntimeLayer::$kind(m)) => {
                            <Self as Stateful<B>>::forward(config, m, t, training)
                        }
                        // `build` gave every layer of this kind its module.
                        _ => t,
                    }
                }

                fn step_with(
                    config: &Self::Config,
                    module: Option<&RuntimeLayer<B>>,
                    t: DynTensor<B>,
                    more: Vec<DynTensor<B>>,
                    training: bool,
                ) -> Stepped<B> {
                    let out = match module {
                        Some(RuntimeLayer::$kind(m)) => {
                            <Self as Stateful<B>>::forward_with(config, m, t, more, training)
                        }
                        // `build` gave every layer of this kind its module.
                        _ => t,
                    };
                    (out, Vec::new())
                }
            }
        )*
    };
}

// A model holds a handful of these, and burn's Module derive (whose record enum the
// allowance must reach too) does not reach through a Box.
#[allow(clippy::large_enum_variant)]
mod modules {
    use super::*;

    stateful! {
        Dense, Conv1D, Conv2D, Conv2DTranspose, SeparableConv2D, DepthwiseConv2D,
        BatchNormalization, LayerNormalization, Dropout, GaussianNoise, GaussianDropout,
        SpatialDropout1D, SpatialDropout2D, Embedding, TimeDistributed, PReLU, Normalization,
        GroupNormalization, Attention, AdditiveAttention;
        /// A SimpleRNN's cell.
        SimpleRnn(Rnn<B>),
        /// A GRU's cell.
        Gru(Gru<B>),
        /// An LSTM's cell.
        Lstm(Lstm<B>),
        /// A Bidirectional SimpleRNN's two cells.
        BidirectionalSimpleRnn(Bidirectional<B, Rnn<B>>),
        /// A Bidirectional GRU's two cells.
        BidirectionalGru(Bidirectional<B, Gru<B>>),
        /// A Bidirectional LSTM's two cells.
        BidirectionalLstm(Bidirectional<B, Lstm<B>>),
        /// A MultiHeadAttention's projections.
        MultiHeadAttention(Attention<B>),
    }
}
pub use modules::RuntimeLayer;
pub(crate) use modules::kernel_and_bias;

/// How one layer kind of kiln-spec's registry runs: its module and its forward step.
pub trait Run<B: Backend>: LayerKind {
    /// The module of a layer with weights or state, for an input of `input`'s shape (which
    /// kiln-spec's rule accepted) and, for a layer taking several, `more` after it; none
    /// for a layer without (the default).
    fn build(
        _config: &Self::Config,
        _input: &Shape,
        _more: &[Shape],
        _device: &B::Device,
    ) -> Option<RuntimeLayer<B>> {
        None
    }

    /// The layer's output for `t` before its activation; `module` is what `build` gave,
    /// and `training` turns on dropout and batch statistics. A layer taking several
    /// tensors given one alone: a merge's is that tensor, an attention's attends to itself.
    fn step(
        config: &Self::Config,
        module: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        training: bool,
    ) -> DynTensor<B>;

    /// The layer's output for `t` and the `more` tensors the graph gives it after `t` (a
    /// merge's, a Dot's or an attention's others), with the final states of a layer that
    /// gives them (a recurrent layer's, for `return_state`): the runtime graph's step. By
    /// default [`Run::step`] on `t`, without states.
    fn step_with(
        config: &Self::Config,
        module: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        more: Vec<DynTensor<B>>,
        training: bool,
    ) -> Stepped<B> {
        let _ = more;
        (Self::step(config, module, t, training), Vec::new())
    }
}

/// A layer's output, and the final states it gives (a recurrent layer's `return_state`:
/// `[batch, units]` each), none for most.
pub type Stepped<B> = (DynTensor<B>, Vec<Tensor<B, 2>>);

macro_rules! dispatch {
    ($($(#[$doc:meta])* $kind:ident($config:ident)),* $(,)?) => {
        /// The module of `layer` for an input of `input`'s shape (and `more` after it);
        /// none for a layer without weights or state.
        pub(crate) fn build<B: Backend>(
            layer: &Layer,
            input: &Shape,
            more: &[Shape],
            device: &B::Device,
        ) -> Option<RuntimeLayer<B>> {
            match layer {
                $(Layer::$kind(config) => <kinds::$kind as Run<B>>::build(config, input, more, device),)*
            }
        }

        /// `layer`'s step on one tensor (see [`Run::step`]).
        pub(crate) fn step<B: Backend>(
            layer: &Layer,
            module: Option<&RuntimeLayer<B>>,
            t: DynTensor<B>,
            training: bool,
        ) -> DynTensor<B> {
            match layer {
                $(Layer::$kind(config) => <kinds::$kind as Run<B>>::step(config, module, t, training),)*
            }
        }

        /// `layer`'s step in a graph (see [`Run::step_with`]).
        pub(crate) fn step_with<B: Backend>(
            layer: &Layer,
            module: Option<&RuntimeLayer<B>>,
            t: DynTensor<B>,
            more: Vec<DynTensor<B>>,
            training: bool,
        ) -> Stepped<B> {
            match layer {
                $(Layer::$kind(config) => {
                    <kinds::$kind as Run<B>>::step_with(config, module, t, more, training)
                })*
            }
        }
    };
}
kiln_spec::registry!(dispatch);

/// The forward step of a layer without weights or state, as `model!`'s generated code
/// takes it: the runtime's own step, so both run one code; `training` turns on the
/// augmentations.
pub fn stateless<K: Run<B>, B: Backend, const I: usize, const O: usize>(
    _kind: K,
    config: &K::Config,
    x: Tensor<B, I>,
    training: bool,
) -> Tensor<B, O> {
    K::step(config, None, DynTensor::of(x), training).get()
}

/// The forward step of a layer with weights or state, as `model!`'s generated code takes
/// it on its field: the runtime's own step.
pub fn stateful<K: Stateful<B>, B: Backend, const I: usize, const O: usize>(
    _kind: K,
    config: &K::Config,
    module: &K::Module,
    x: Tensor<B, I>,
    training: bool,
) -> Tensor<B, O> {
    K::forward(config, module, DynTensor::of(x), training).get()
}

/// The forward step of a layer with weights taking several tensors (an attention), as
/// `model!`'s generated code takes it on its field and the tensors after `x`.
pub fn stateful_with<K: Stateful<B>, B: Backend, const I: usize, const O: usize>(
    _kind: K,
    config: &K::Config,
    module: &K::Module,
    x: Tensor<B, I>,
    more: Vec<Tensor<B, I>>,
    training: bool,
) -> Tensor<B, O> {
    let more = more.into_iter().map(DynTensor::of).collect();
    K::forward_with(config, module, DynTensor::of(x), more, training).get()
}

/// A layer's configuration from the JSON `model!` embeds for it.
///
/// # Errors
/// When `json` is not a configuration of this kind.
pub fn config<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(json)
}

/// The known size of dimension `axis` of `input`; kiln-spec's rules refuse an unknown one
/// for every layer whose module needs it.
fn size(input: &Shape, axis: usize) -> usize {
    input.dims().get(axis).and_then(|d| d.known()).unwrap_or(0)
}
