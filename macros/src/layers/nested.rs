//! `Model(FeatureExtractor)`: another `model!` model as a field, its regularization
//! penalties added to the outer model's in the training pass (with `training = false`
//! too, as Keras counts a layer's losses whatever its mode).

use kiln_spec::LayerInfo;
use quote::quote;
use syn::Ident;

use super::{LayerCode, dim_tokens, private};

/// The field and forward step of the model `path` names.
pub fn expand(path: &syn::Path, field: &Ident) -> LayerCode {
    let kp = private();
    LayerCode {
        field: Some((quote!(#path<B>), quote!(#path::new(device)))),
        forward: quote!(if penalize {
            let #kp::TrainForward { logits, activation, penalty: inner } = self.#field.__forward_penalized(x, training);
            if let ::core::option::Option::Some(inner) = inner {
                penalty = #kp::regularizer::add(penalty, inner);
            }
            #kp::activation(activation, logits)
        } else {
            self.#field.forward(x)
        }),
    }
}

/// Const assertions that the model `path` names has the shapes its declaration gave
/// `model!`, so a name that stands for another type fails to compile with a message.
pub fn assertions(path: &syn::Path, info: &LayerInfo) -> proc_macro2::TokenStream {
    let kp = private();
    let shown = quote!(#path).to_string().replace(' ', "");
    let check = |what: &str, shape: &kiln_spec::Shape| {
        let konst = quote::format_ident!("{}_SHAPE", what);
        let dims = shape.dims().iter().map(|&d| dim_tokens(d));
        let message = format!(
            "Model({shown}): {shown}::{konst} is not {shape}, the shape its model! declaration gives"
        );
        quote! {
            const _: () = ::core::assert!(
                #kp::shapes_fit(&#path::<#kp::CheckBackend>::#konst, &[#(#dims),*]),
                #message
            );
        }
    };
    let input = check("INPUT", &info.input);
    let output = check("OUTPUT", &info.output);
    quote!(#input #output)
}
