//! Code generation per layer: the field a layer adds to the model struct (for layers with
//! weights or state) and its forward step. Every kind with a module or a step of one
//! tensor takes kiln-core's (`Stateful`, `Run`), the code runtime models run; the
//! recurrent layers (their states) and nested models have files of their own.

pub mod nested;
mod recurrent;

use kiln_spec::{Activation, Dim, Layer, LayerInfo, Regularizer};
use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::Ident;

/// What one layer generates.
pub struct LayerCode {
    /// The struct field (type, initializer using `device`), for layers with state.
    pub field: Option<(TokenStream, TokenStream)>,
    /// The forward step, an expression of the previous output `x`.
    pub forward: TokenStream,
}

impl LayerCode {
    /// A layer without state.
    fn stateless(forward: TokenStream) -> Self {
        LayerCode {
            field: None,
            forward,
        }
    }
}

/// The path every generated item goes through, so users need `kiln` alone.
pub fn private() -> TokenStream {
    quote!(::kiln::__private)
}

/// The code of one layer; `field` is its name in the struct, `path` the model a
/// `Model(...)` layer names.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per group of kinds, exhaustive so that a new kind does not compile until it is expanded"
)]
pub fn layer_code(
    layer: &Layer,
    info: &LayerInfo,
    field: &Ident,
    path: Option<&syn::Path>,
) -> LayerCode {
    match layer {
        Layer::Dense(_)
        | Layer::Conv1D(_)
        | Layer::Conv2D(_)
        | Layer::Conv2DTranspose(_)
        | Layer::SeparableConv2D(_)
        | Layer::DepthwiseConv2D(_)
        | Layer::BatchNormalization(_)
        | Layer::LayerNormalization(_)
        | Layer::Dropout(_)
        | Layer::GaussianNoise(_)
        | Layer::GaussianDropout(_)
        | Layer::SpatialDropout1D(_)
        | Layer::SpatialDropout2D(_)
        | Layer::Embedding(_)
        | Layer::TimeDistributed(_)
        | Layer::PReLU(_)
        | Layer::Normalization(_)
        | Layer::GroupNormalization(_) => stateful(layer, info, field),
        Layer::SimpleRNN(l) | Layer::GRU(l) | Layer::LSTM(l) => recurrent::expand(l, info, field),
        Layer::Bidirectional(l) => recurrent::expand_bidirectional(l, info, field),
        Layer::MultiHeadAttention(_) => attention(layer, info, field),
        Layer::Attention(_) | Layer::AdditiveAttention(_) => stateful_with(layer, info, field),
        Layer::Dot(_) => dot(layer),
        Layer::Flatten(_)
        | Layer::Reshape(_)
        | Layer::Permute(_)
        | Layer::RepeatVector(_)
        | Layer::MaxPooling1D(_)
        | Layer::AveragePooling1D(_)
        | Layer::MaxPooling2D(_)
        | Layer::AveragePooling2D(_)
        | Layer::GlobalAveragePooling1D(_)
        | Layer::GlobalMaxPooling1D(_)
        | Layer::GlobalAveragePooling2D(_)
        | Layer::GlobalMaxPooling2D(_)
        | Layer::UpSampling1D(_)
        | Layer::ZeroPadding1D(_)
        | Layer::Cropping1D(_)
        | Layer::UpSampling2D(_)
        | Layer::ZeroPadding2D(_)
        | Layer::Cropping2D(_)
        | Layer::Rescaling(_)
        | Layer::ReLU(_)
        | Layer::LeakyReLU(_)
        | Layer::ELU(_)
        | Layer::UnitNormalization(_)
        | Layer::Identity(_)
        | Layer::ActivityRegularization(_)
        | Layer::RandomFlip(_)
        | Layer::RandomRotation(_)
        | Layer::RandomTranslation(_)
        | Layer::RandomZoom(_)
        | Layer::RandomContrast(_)
        | Layer::RandomBrightness(_)
        | Layer::RandomGrayscale(_) => stateless(layer),
        // The activation itself is applied by the model's expansion, as for every layer;
        // merges take several tensors, which the functional expansion combines itself.
        Layer::Activation(_)
        | Layer::Softmax(_)
        | Layer::Add(_)
        | Layer::Multiply(_)
        | Layer::Average(_)
        | Layer::Maximum(_)
        | Layer::Subtract(_)
        | Layer::Minimum(_)
        | Layer::Concatenate(_) => LayerCode::stateless(quote!(x)),
        Layer::Model(_) => match path {
            Some(path) => nested::expand(path, field),
            // Only Model(...) calls, which carry their path, read as nested models.
            None => LayerCode::stateless(quote!(::core::compile_error!(
                "model! lost the path of a nested model"
            ))),
        },
    }
}

/// The kind of `layer` as a type, `kiln::__private::kinds::Conv2D`, and a block that
/// declares `CONFIG`, the configuration `model!` checked (embedded as JSON, parsed once).
fn kind_and_config(layer: &Layer) -> (TokenStream, TokenStream) {
    let kp = private();
    let kind = Ident::new(layer.class_name(), proc_macro2::Span::call_site());
    let json = layer.config_json();
    let config = quote! {
        static CONFIG: ::std::sync::LazyLock<<#kp::kinds::#kind as #kp::LayerKind>::Config> =
            ::std::sync::LazyLock::new(|| {
                #kp::layers::config(#json).expect("model! embeds a layer it has checked")
            });
    };
    (quote!(#kp::kinds::#kind), config)
}

/// A layer without weights or state: kiln-core's step, the one runtime models take.
fn stateless(layer: &Layer) -> LayerCode {
    let kp = private();
    let (kind, config) = kind_and_config(layer);
    LayerCode::stateless(quote!({
        #config
        #kp::layers::stateless(#kind, &*CONFIG, x, training)
    }))
}

/// A layer with weights or state: its field is kiln-core's module for the kind, built
/// and stepped as runtime models build and step it.
fn stateful(layer: &Layer, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let (kind, config) = kind_and_config(layer);
    let input = info.input.dims().iter().map(|&d| dim_tokens(d));
    let stateful = quote!(<#kind as #kp::layers::Stateful<B>>);
    LayerCode {
        field: Some((
            quote!(#stateful::Module),
            quote!({
                #config
                #stateful::init(&*CONFIG, &#kp::Shape::new([#(#input),*]), device)
            }),
        )),
        forward: quote!({
            #config
            #kp::layers::stateful(#kind, &*CONFIG, &self.#field, x, training)
        }),
    }
}

/// A layer with weights taking several tensors (Attention, AdditiveAttention): as
/// [`stateful`], its step on `x` and the `more` the functional expansion binds.
fn stateful_with(layer: &Layer, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let (kind, config) = kind_and_config(layer);
    LayerCode {
        forward: quote!({
            #config
            #kp::layers::stateful_with(#kind, &*CONFIG, &self.#field, x, more, training)
        }),
        ..stateful(layer, info, field)
    }
}

/// A Dot: kiln-core's, on `x` and the `more` the functional expansion binds.
fn dot(layer: &Layer) -> LayerCode {
    let kp = private();
    let (_, config) = kind_and_config(layer);
    LayerCode::stateless(quote!({
        #config
        #kp::layers::dot(&*CONFIG, x, more)
    }))
}

/// A MultiHeadAttention: kiln-core's projections for the tensors it takes, and its step on
/// the query `x` and the `more` the functional expansion binds.
fn attention(layer: &Layer, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let (_, config) = kind_and_config(layer);
    let shapes: Vec<&kiln_spec::Shape> = std::iter::once(&info.input).chain(&info.more).collect();
    let features = kiln_spec::layers::MultiHeadAttention::features(&shapes).map(usize_lit);
    LayerCode {
        field: Some((
            quote!(#kp::layers::Attention<B>),
            quote!({
                #config
                #kp::layers::multi_head_attention::<B>(&*CONFIG, [#(#features),*], device)
            }),
        )),
        forward: quote!({
            #config
            #kp::layers::attention(&*CONFIG, &self.#field, x, more, training)
        }),
    }
}

pub fn usize_lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

pub fn f64_lit(x: f64) -> Literal {
    Literal::f64_suffixed(x)
}

pub fn dim_tokens(d: Dim) -> TokenStream {
    let kp = private();
    match d {
        Dim::Known(n) => {
            let n = usize_lit(n);
            quote!(#kp::Dim::Known(#n))
        }
        Dim::Unknown => quote!(#kp::Dim::Unknown),
    }
}

/// `kiln::Regularizer { l1, l2 }`.
pub fn regularizer_tokens(r: Regularizer) -> TokenStream {
    let kp = private();
    let (l1, l2) = (f64_lit(r.l1), f64_lit(r.l2));
    quote!(#kp::Regularizer { l1: #l1, l2: #l2 })
}

/// `kiln::Activation::Relu` and the like.
pub fn activation_tokens(a: Activation) -> TokenStream {
    let kp = private();
    let variant = Ident::new(&format!("{a:?}"), proc_macro2::Span::call_site());
    quote!(#kp::Activation::#variant)
}

/// The known last dimension (features) of a layer's input; kiln-spec refuses an unknown
/// one for every layer that asks.
fn features(info: &LayerInfo) -> usize {
    info.input
        .dims()
        .last()
        .and_then(|d| d.known())
        .unwrap_or(0)
}
