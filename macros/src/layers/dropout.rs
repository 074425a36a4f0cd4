//! Dropout → burn-nn `Dropout`, applied only by the training forward pass.

use kiln_spec::layers::Dropout;
use quote::quote;
use syn::Ident;

use super::{LayerCode, f64_lit, private};

pub fn expand(layer: &Dropout, field: &Ident) -> LayerCode {
    let kp = private();
    let rate = f64_lit(layer.rate);
    LayerCode {
        forward: quote!(#kp::layers::dropout_step(&self.#field, x, training)),
        ..LayerCode::module(
            field,
            quote!(#kp::burn::nn::Dropout),
            quote!(#kp::layers::dropout(#rate)),
        )
    }
}
