//! BatchNormalization → burn-nn `BatchNorm`, stepped by `kiln::layers::batch_norm`.

use kiln_spec::{LayerInfo, layers::BatchNormalization};
use quote::quote;
use syn::Ident;

use super::{LayerCode, channels, f64_lit, private, usize_lit};

pub fn expand(layer: &BatchNormalization, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let channels = usize_lit(channels(info));
    let (momentum, epsilon) = (f64_lit(layer.momentum), f64_lit(layer.epsilon));
    LayerCode {
        field: Some((
            quote!(#kp::burn::nn::BatchNorm<B>),
            quote!(#kp::layers::batch_normalization::<B>(#channels, #momentum, #epsilon, device)),
        )),
        forward: quote!(#kp::layers::batch_norm(&self.#field, x, training)),
    }
}
