//! Dropout → burn-nn `Dropout`.

use kiln_spec::layers::Dropout;
use quote::quote;
use syn::Ident;

use super::{LayerCode, f64_lit, private};

pub fn expand(layer: &Dropout, field: &Ident) -> LayerCode {
    let kp = private();
    let rate = f64_lit(layer.rate);
    LayerCode::module(
        field,
        quote!(#kp::burn::nn::Dropout),
        quote!(#kp::layers::dropout(#rate)),
    )
}
