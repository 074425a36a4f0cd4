//! Embedding → burn-nn's `Embedding`, looking up the model's input as token ids.

use kiln_spec::layers::Embedding;
use quote::quote;
use syn::Ident;

use super::{LayerCode, private, usize_lit};

pub fn expand(layer: &Embedding, field: &Ident) -> LayerCode {
    let kp = private();
    let (input_dim, output_dim) = (usize_lit(layer.input_dim), usize_lit(layer.output_dim));
    LayerCode {
        field: Some((
            quote!(#kp::burn::nn::Embedding<B>),
            quote!(#kp::layers::embedding::<B>(#input_dim, #output_dim, device)),
        )),
        forward: quote!(#kp::layers::embed(&self.#field, x)),
    }
}
