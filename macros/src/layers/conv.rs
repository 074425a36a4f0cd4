//! Conv1D → burn-nn `Conv1d` on channels-last sequences, Conv2D → burn-nn `Conv2d`.

use kiln_spec::{LayerInfo, layers::Conv};
use quote::quote;
use syn::Ident;

use super::{LayerCode, dim_tokens, padding_tokens, private, usize_array, usize_lit};

pub fn expand<const N: usize>(layer: &Conv<N>, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let channels = info
        .input
        .dims()
        .get(kiln_spec::channels_axis(N))
        .and_then(|d| d.known())
        .unwrap_or(0);
    let channels = usize_lit(channels);
    let filters = usize_lit(layer.filters);
    let padding = padding_tokens(layer.padding);
    let bias = layer.weights.use_bias;
    let sizes: Vec<_> = kiln_spec::spatial_dims(&info.input, N)
        .iter()
        .map(|&d| dim_tokens(d))
        .collect();
    if N == 1 {
        let (k, s, d) = (
            usize_lit(layer.kernel_size[0]),
            usize_lit(layer.strides[0]),
            usize_lit(layer.dilation_rate[0]),
        );
        // Channels last, as Keras: the layer runs on `[batch, steps, channels]`.
        return LayerCode {
            field: Some((
                quote!(#kp::burn::nn::conv::Conv1d<B>),
                quote!(#kp::layers::conv1d::<B>(#channels, #filters, #k, #s, #d, #padding, #(#sizes),*, #bias, device)),
            )),
            forward: quote!(#kp::layers::convolve1d(&self.#field, x)),
        };
    }
    let (k, s, d) = (
        usize_array(&layer.kernel_size),
        usize_array(&layer.strides),
        usize_array(&layer.dilation_rate),
    );
    LayerCode::module(
        field,
        quote!(#kp::burn::nn::conv::Conv2d<B>),
        quote!(#kp::layers::conv2d::<B>(#channels, #filters, #k, #s, #d, #padding, [#(#sizes),*], #bias, device)),
    )
}
