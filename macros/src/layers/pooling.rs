//! MaxPooling1D, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D: stateless
//! steps through kiln-core, which pads as Keras does.

use kiln_spec::layers::{MaxPooling1D, Pooling2D};
use quote::quote;

use super::{LayerCode, padding_tokens, private, usize_array, usize_lit};

pub fn max_1d(layer: &MaxPooling1D) -> LayerCode {
    let kp = private();
    let (pool, strides) = (usize_lit(layer.pool_size[0]), usize_lit(layer.strides[0]));
    let padding = padding_tokens(layer.padding);
    LayerCode::stateless(quote!(#kp::layers::max_pooling1d(x, #pool, #strides, #padding)))
}

pub fn max_2d(layer: &Pooling2D) -> LayerCode {
    let kp = private();
    let (pool, strides) = (usize_array(&layer.pool_size), usize_array(&layer.strides));
    let padding = padding_tokens(layer.padding);
    LayerCode::stateless(quote!(#kp::layers::max_pooling2d(x, #pool, #strides, #padding)))
}

pub fn average_2d(layer: &Pooling2D) -> LayerCode {
    let kp = private();
    let (pool, strides) = (usize_array(&layer.pool_size), usize_array(&layer.strides));
    let padding = padding_tokens(layer.padding);
    LayerCode::stateless(quote!(#kp::layers::average_pooling2d(x, #pool, #strides, #padding)))
}

pub fn global_average_2d() -> LayerCode {
    let kp = private();
    LayerCode::stateless(quote!(#kp::layers::global_average_pooling2d(x)))
}
