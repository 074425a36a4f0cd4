//! Flatten and Reshape: stateless reshapes that keep the batch dimension.

use kiln_spec::layers::Reshape;
use proc_macro2::Literal;
use quote::quote;

use super::{LayerCode, private};

pub fn flatten() -> LayerCode {
    let kp = private();
    LayerCode::stateless(quote!(#kp::layers::flatten(x)))
}

pub fn reshape(layer: &Reshape) -> LayerCode {
    let kp = private();
    let target = layer
        .target_shape
        .iter()
        .map(|d| Literal::i32_unsuffixed(d.map_or(-1, |n| n as i32)));
    LayerCode::stateless(quote!(#kp::layers::reshape(x, &[#(#target),*])))
}
