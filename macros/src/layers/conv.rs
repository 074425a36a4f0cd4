//! Conv1D → burn-nn `Conv1d`, Conv2D → burn-nn `Conv2d`.

use kiln_spec::{LayerInfo, layers::Conv};
use quote::quote;
use syn::Ident;

use super::{LayerCode, channels, dim_tokens, padding_tokens, private, usize_array, usize_lit};

pub fn expand<const N: usize>(layer: &Conv<N>, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let channels = usize_lit(channels(info));
    let filters = usize_lit(layer.filters);
    let padding = padding_tokens(layer.padding);
    let bias = layer.weights.use_bias;
    let sizes: Vec<_> = info.input.dims()[1..]
        .iter()
        .map(|&d| dim_tokens(d))
        .collect();
    let (ty, init) = if N == 1 {
        let (k, s, d) = (
            usize_lit(layer.kernel_size[0]),
            usize_lit(layer.strides[0]),
            usize_lit(layer.dilation_rate[0]),
        );
        (
            quote!(#kp::burn::nn::conv::Conv1d<B>),
            quote!(#kp::layers::conv1d::<B>(#channels, #filters, #k, #s, #d, #padding, #(#sizes),*, #bias, device)),
        )
    } else {
        let (k, s, d) = (
            usize_array(&layer.kernel_size),
            usize_array(&layer.strides),
            usize_array(&layer.dilation_rate),
        );
        (
            quote!(#kp::burn::nn::conv::Conv2d<B>),
            quote!(#kp::layers::conv2d::<B>(#channels, #filters, #k, #s, #d, #padding, [#(#sizes),*], #bias, device)),
        )
    };
    LayerCode::module(field, ty, init)
}
