//! SimpleRNN, GRU, LSTM → burn-nn's `Rnn`, `Gru`, `Lstm`, run as Keras runs them.

use kiln_spec::{LayerInfo, layers::Cell, layers::Recurrent};
use quote::quote;
use syn::Ident;

use super::{LayerCode, activation_tokens, features, private, usize_lit};

pub fn expand(layer: &Recurrent, info: &LayerInfo, field: &Ident) -> LayerCode {
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
    let backwards = layer.go_backwards;
    let forward = if layer.return_state {
        // The output and the final states, as a tuple the functional form binds.
        let rank = usize_lit(info.output.rank() + 1);
        let (states, outputs) = match layer.cell {
            Cell::Lstm => (quote!((h, c)), quote!((y, h, c))),
            _ => (quote!((h,)), quote!((y, h))),
        };
        quote!({
            let (y, #states) = #kp::layers::recurrent_with_states::<B, _, #rank>(&self.#field, x, #backwards);
            #outputs
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
