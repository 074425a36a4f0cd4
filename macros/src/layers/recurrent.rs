//! SimpleRNN, GRU, LSTM → burn-nn's `Rnn`, `Gru`, `Lstm`, run as Keras runs them, alone
//! or two of them in a Bidirectional.

use kiln_spec::LayerInfo;
use kiln_spec::layers::{Bidirectional, Cell, Recurrent};
use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use super::{LayerCode, activation_tokens, features, private, usize_lit};
use crate::expand::merge_op_tokens;

/// The module type of `layer`'s cell and its initializer on `device`.
fn cell(layer: &Recurrent, info: &LayerInfo) -> (TokenStream, TokenStream) {
    let kp = private();
    let features = usize_lit(features(info));
    let units = usize_lit(layer.units);
    let activation = activation_tokens(layer.activation);
    let activations = {
        let gates = activation_tokens(layer.recurrent_activation);
        quote!([#activation, #gates])
    };
    let bias = layer.use_bias;
    let (ty, init) = match layer.cell {
        Cell::SimpleRnn => (
            quote!(#kp::burn::nn::Rnn<B>),
            quote!(#kp::layers::simple_rnn::<B>(#features, #units, #activation, #bias, device)),
        ),
        Cell::Gru => {
            let reset_after = layer.reset_after;
            (
                quote!(#kp::burn::nn::Gru<B>),
                quote!(#kp::layers::gru::<B>(#features, #units, #activations, #bias, #reset_after, device)),
            )
        }
        Cell::Lstm => {
            let forget = layer.unit_forget_bias;
            (
                quote!(#kp::burn::nn::Lstm<B>),
                quote!(#kp::layers::lstm::<B>(#features, #units, #activations, #bias, #forget, device)),
            )
        }
    };
    (ty, init)
}

/// The names a layer's final states are bound to (`(h, c)` for an LSTM), `tag` after each.
fn state_names(layer: &Recurrent, tag: &str) -> Vec<Ident> {
    let names: &[&str] = match layer.cell {
        Cell::Lstm => &["h", "c"],
        _ => &["h"],
    };
    names
        .iter()
        .map(|n| Ident::new(&format!("{n}{tag}"), proc_macro2::Span::call_site()))
        .collect()
}

pub fn expand(layer: &Recurrent, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let (ty, init) = cell(layer, info);
    let backwards = layer.go_backwards;
    let forward = if layer.return_state {
        // The output and the final states, as a tuple the functional form binds.
        let rank = usize_lit(info.output.rank() + 1);
        let states = state_names(layer, "");
        quote!({
            let (y, (#(#states,)*)) = #kp::layers::recurrent_with_states::<B, _, #rank>(&self.#field, x, #backwards);
            (y, #(#states),*)
        })
    } else if layer.return_sequences {
        quote!(#kp::layers::recurrent_sequence(&self.#field, x, #backwards))
    } else {
        quote!(#kp::layers::recurrent_last(&self.#field, x, #backwards))
    };
    LayerCode {
        field: Some((ty, init)),
        forward,
    }
}

/// A Bidirectional: two modules of its layer's cell, and their outputs merged (with the
/// forward then the backward final states, as a tuple, for `return_state`).
pub fn expand_bidirectional(layer: &Bidirectional, info: &LayerInfo, field: &Ident) -> LayerCode {
    let kp = private();
    let (ty, init) = cell(&layer.layer, info);
    let rank = info.output.rank();
    let merge = merge_op_tokens(layer.merge_mode.op(rank));
    let rank = usize_lit(rank + 1);
    let run =
        quote!(#kp::layers::bidirectional_with_states::<B, _, #rank>(&self.#field, x, #merge));
    let forward = if layer.layer.return_state {
        let (f, b) = (
            state_names(&layer.layer, "_f"),
            state_names(&layer.layer, "_b"),
        );
        quote!({
            let (y, (#(#f,)*), (#(#b,)*)) = #run;
            (y, #(#f,)* #(#b),*)
        })
    } else {
        quote!(#run.0)
    };
    LayerCode {
        field: Some((
            quote!(#kp::layers::Bidirectional<B, #ty>),
            quote!(#kp::layers::bidirectional(#init, #init)),
        )),
        forward,
    }
}
