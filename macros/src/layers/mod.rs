//! Code generation per layer kind: the field a layer adds to the model struct (for layers
//! with weights or state) and its forward step. One file per kind.

mod batch_normalization;
mod conv;
mod dense;
mod dropout;
mod embedding;
pub mod nested;
mod recurrent;

use kiln_spec::{Activation, Dim, Layer, LayerInfo, Padding, Regularizer};
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

    /// A layer whose burn module does the forward step.
    fn module(field: &Ident, ty: TokenStream, init: TokenStream) -> Self {
        LayerCode {
            field: Some((ty, init)),
            forward: quote!(self.#field.forward(x)),
        }
    }
}

/// The path every generated item goes through, so users need `kiln` alone.
pub fn private() -> TokenStream {
    quote!(::kiln::__private)
}

/// The code of one layer; `field` is its name in the struct, `path` the model a
/// `Model(...)` layer names.
pub fn layer_code(
    layer: &Layer,
    info: &LayerInfo,
    field: &Ident,
    path: Option<&syn::Path>,
) -> LayerCode {
    match layer {
        Layer::Dense(l) => dense::expand(l, info, field),
        Layer::Conv1D(l) => conv::expand(l, info, field),
        Layer::Conv2D(l) => conv::expand(l, info, field),
        Layer::BatchNormalization(l) => batch_normalization::expand(l, info, field),
        Layer::Dropout(l) => dropout::expand(l, field),
        Layer::SimpleRNN(l) | Layer::GRU(l) | Layer::LSTM(l) => recurrent::expand(l, info, field),
        Layer::Embedding(l) => embedding::expand(l, field),
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
        | Layer::UpSampling2D(_)
        | Layer::ZeroPadding2D(_)
        | Layer::Cropping2D(_) => stateless(layer),
        // The activation itself is applied by the model's expansion, as for every layer.
        Layer::Activation(_) => LayerCode::stateless(quote!(x)),
        // Merges take several tensors, which the functional expansion combines itself.
        Layer::Add(_)
        | Layer::Multiply(_)
        | Layer::Average(_)
        | Layer::Maximum(_)
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

/// A layer without weights or state: kiln-core's step, the one runtime models take, on
/// the configuration `model!` checked (parsed once, on the first forward pass).
fn stateless(layer: &Layer) -> LayerCode {
    let kp = private();
    let kind = Ident::new(layer.class_name(), proc_macro2::Span::call_site());
    let json = layer.config_json();
    LayerCode::stateless(quote!({
        static CONFIG: ::std::sync::LazyLock<<#kp::kinds::#kind as #kp::LayerKind>::Config> =
            ::std::sync::LazyLock::new(|| {
                #kp::layers::config(#json).expect("model! embeds a layer it has checked")
            });
        #kp::layers::stateless(#kp::kinds::#kind, &*CONFIG, x)
    }))
}

pub fn usize_lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

pub fn f64_lit(x: f64) -> Literal {
    Literal::f64_suffixed(x)
}

/// `[a, b]` of usize literals.
pub fn usize_array(items: &[usize]) -> TokenStream {
    let items = items.iter().map(|&n| usize_lit(n));
    quote!([#(#items),*])
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

pub fn padding_tokens(p: Padding) -> TokenStream {
    let kp = private();
    match p {
        Padding::Valid => quote!(#kp::Padding::Valid),
        Padding::Same => quote!(#kp::Padding::Same),
    }
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

/// The known first dimension (channels or features) of a layer's input; kiln-spec
/// refuses an unknown one for every layer that asks.
fn channels(info: &LayerInfo) -> usize {
    info.input
        .dims()
        .get(kiln_spec::feature_axis(info.input.rank()))
        .and_then(|d| d.known())
        .unwrap_or(0)
}
