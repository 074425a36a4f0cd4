//! Dense → burn-nn `Linear`.

use kiln_spec::{LayerInfo, layers::Dense};
use quote::quote;
use syn::Ident;

use super::{LayerCode, features, private, usize_lit};

pub fn expand(layer: &Dense, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let features = usize_lit(features(info));
    let units = usize_lit(layer.units);
    let bias = layer.weights.use_bias;
    LayerCode::module(
        field,
        quote!(#kp::burn::nn::Linear<B>),
        quote!(#kp::layers::dense::<B>(#features, #units, #bias, device)),
    )
}
