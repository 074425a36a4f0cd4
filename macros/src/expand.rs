//! Turns a checked model into a burn module, or, after an error, into a stub that keeps
//! the user's other code type-checking.

use kiln_spec::{Activation, NamedLayer, Regularizer, Summary};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, Visibility};

use crate::ast::{Body, ModelDecl};
use crate::check::{self, Model};
use crate::ctxt::Ctxt;
use crate::layers::{dim_tokens, f64_lit, layer_code, private, usize_lit};

/// The whole expansion of one `model!`.
pub fn model(decl: ModelDecl) -> TokenStream {
    let cx = Ctxt::new();
    let checked = match &decl.body {
        Ok(body) => check::check(&cx, &decl, body).map(|m| (body, m)),
        Err(e) => {
            cx.push(e.clone());
            None
        }
    };
    match (cx.check(), checked) {
        (Ok(()), Some((body, model))) => generate(&decl, body, &model),
        (Err(errors), _) => {
            let mut out = stub(&decl);
            out.extend(errors.to_compile_error());
            out
        }
        (Ok(()), None) => {
            // Every path that refuses a model records why; this is a last resort.
            let mut out = stub(&decl);
            out.extend(quote!(::core::compile_error!("model! could not check this model");));
            out
        }
    }
}

/// `vis` as seen from inside the hidden module one level down.
fn inner_vis(vis: &Visibility) -> TokenStream {
    match vis {
        Visibility::Public(_) => quote!(pub),
        Visibility::Inherited => quote!(pub(super)),
        Visibility::Restricted(r) => {
            let path = &r.path;
            let first = path.segments.first().map(|s| s.ident.to_string());
            match first.as_deref() {
                Some("crate") => quote!(#vis),
                Some("self") if path.segments.len() == 1 => quote!(pub(super)),
                Some("super") if path.segments.len() == 1 => quote!(pub(in super::super)),
                _ => quote!(pub(in super::#path)),
            }
        }
    }
}

fn regularizer_tokens(r: Regularizer) -> TokenStream {
    let kp = private();
    let (l1, l2) = (f64_lit(r.l1), f64_lit(r.l2));
    quote!(#kp::Regularizer { l1: #l1, l2: #l2 })
}

pub(crate) fn activation_tokens(a: Activation) -> TokenStream {
    let kp = private();
    let variant = Ident::new(&format!("{a:?}"), proc_macro2::Span::call_site());
    quote!(#kp::Activation::#variant)
}

/// The step that adds a weight's penalty to the running total.
fn weight_penalties(named: &NamedLayer, field: &Ident) -> TokenStream {
    let kp = private();
    let Some(weights) = named.layer.weights() else {
        return TokenStream::new();
    };
    let mut out = TokenStream::new();
    if let Some(r) = weights.kernel_regularizer {
        let r = regularizer_tokens(r);
        out.extend(quote! {
            if penalties {
                penalty = #kp::regularizer::add(penalty, #kp::regularizer::penalty(#r, self.#field.weight.val()));
            }
        });
    }
    if let Some(r) = weights.bias_regularizer {
        let r = regularizer_tokens(r);
        out.extend(quote! {
            if let (true, Some(bias)) = (penalties, &self.#field.bias) {
                penalty = #kp::regularizer::add(penalty, #kp::regularizer::penalty(#r, bias.val()));
            }
        });
    }
    out
}

fn generate(decl: &ModelDecl, body: &Body, model: &Model) -> TokenStream {
    let kp = private();
    let name = &decl.ident;
    let module = format_ident!("__kiln_model_{}", name);
    let vis = &decl.vis;
    let item_vis = inner_vis(vis);
    let attrs = &decl.attrs;
    let spec = &model.spec;
    let checked = &model.checked;
    let last = spec.layers.len().checked_sub(1);
    let final_activation = spec.final_activation();

    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut steps = Vec::new();
    for (i, ((named, info), call)) in spec
        .layers
        .iter()
        .zip(&checked.layers)
        .zip(&body.layers)
        .enumerate()
    {
        let span = call.name.span();
        let field = Ident::new(&named.name, span);
        let code = layer_code(&named.layer, info, &field);
        if let Some((ty, init)) = code.field {
            fields.push(quote_spanned!(span=> pub #field: #ty));
            inits.push(quote_spanned!(span=> #field: #init));
        }
        let rank = usize_lit(info.output.rank() + 1);
        let forward = code.forward;
        steps.push(quote_spanned!(span=> let x: #kp::burn::tensor::Tensor<B, #rank> = #forward;));
        steps.push(weight_penalties(named, &field));
        let activation = named.layer.activation().unwrap_or(Activation::Linear);
        let is_last = Some(i) == last;
        if activation != Activation::Linear && !is_last {
            let a = activation_tokens(activation);
            steps.push(quote_spanned!(span=> let x = #kp::activation(#a, x);));
        }
        if let Some(r) = named.layer.weights().and_then(|w| w.activity_regularizer) {
            let r = regularizer_tokens(r);
            // The last layer's activation is split off for the loss; its activity penalty
            // is taken on the activated output all the same.
            let output = if is_last {
                let a = activation_tokens(activation);
                quote!(#kp::activation(#a, x.clone()))
            } else {
                quote!(x.clone())
            };
            steps.push(quote_spanned! {span=>
                if penalties {
                    penalty = #kp::regularizer::add(penalty, #kp::regularizer::activity_penalty(#r, #output));
                }
            });
        }
    }

    let in_rank = usize_lit(checked.input.rank() + 1);
    let out_rank = usize_lit(checked.output.rank() + 1);
    let in_len = usize_lit(checked.input.rank());
    let out_len = usize_lit(checked.output.rank());
    let in_dims = checked.input.dims().iter().map(|&d| dim_tokens(d));
    let out_dims = checked.output.dims().iter().map(|&d| dim_tokens(d));
    let final_act = activation_tokens(final_activation);
    let json = spec.to_json();
    let table = Summary(checked.clone()).to_string();
    let shapes_doc = format!(
        " Input `{}` → output `{}` per example; tensors add the batch dimension first.",
        checked.input, checked.output
    );
    let tensor_in = quote!(#kp::burn::tensor::Tensor<B, #in_rank>);
    let tensor_out = quote!(#kp::burn::tensor::Tensor<B, #out_rank>);
    let backend = quote!(#kp::burn::tensor::backend::Backend);
    let has_docs = attrs.iter().any(|a| a.path().is_ident("doc"));
    let doc_gap = has_docs.then(|| quote!(#[doc = ""]));

    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #module {
            use ::kiln::__private::burn;

            #(#attrs)*
            #doc_gap
            #[doc = " # Shapes"]
            #[doc = #shapes_doc]
            #[doc = ""]
            #[doc = " ```text"]
            #[doc = #table]
            #[doc = " ```"]
            #[derive(burn::module::Module, Debug)]
            #item_vis struct #name<B: #backend> {
                #(#fields,)*
                #[doc(hidden)]
                pub __backend: ::core::marker::PhantomData<B>,
            }

            impl<B: #backend> #name<B> {
                /// The shape of one input example (the batch dimension left out).
                pub const INPUT_SHAPE: [#kp::Dim; #in_len] = [#(#in_dims),*];
                /// The shape of one output example (the batch dimension left out).
                pub const OUTPUT_SHAPE: [#kp::Dim; #out_len] = [#(#out_dims),*];

                /// A new model with freshly initialised weights (Keras's initializers) on `device`.
                pub fn new(device: &B::Device) -> Self {
                    #name {
                        #(#inits,)*
                        __backend: ::core::marker::PhantomData,
                    }
                }

                /// The model's output for a batch of inputs.
                pub fn forward(&self, x: #tensor_in) -> #tensor_out {
                    let (x, _) = self.__layers(x, false);
                    #kp::activation(#final_act, x)
                }

                /// The training forward pass: the output before the last activation (logits),
                /// that activation, and the sum of the declared regularization penalties.
                pub fn forward_train(&self, x: #tensor_in) -> #kp::TrainForward<B, #tensor_out> {
                    let (logits, penalty) = self.__layers(x, true);
                    #kp::TrainForward { logits, activation: #final_act, penalty }
                }

                #[allow(unused_mut, unused_variables, clippy::let_and_return)]
                fn __layers(&self, x: #tensor_in, penalties: bool) -> (#tensor_out, ::core::option::Option<#kp::burn::tensor::Tensor<B, 1>>) {
                    let mut penalty = ::core::option::Option::None;
                    #(#steps)*
                    (x, penalty)
                }

                /// The model's declaration, as kiln-spec reads it.
                pub fn spec() -> #kp::ModelSpec {
                    #kp::ModelSpec::from_json(#json).expect("model! embeds a model it has checked")
                }

                /// Keras's summary table: each layer's output shape and parameter count, and the totals.
                pub fn summary(&self) -> #kp::Summary {
                    Self::spec().summary().expect("model! embeds a model it has checked")
                }

                /// The architecture as JSON, which `kiln::from_json` reads back.
                pub fn to_json(&self) -> ::std::string::String {
                    ::std::string::String::from(#json)
                }
            }

            impl<B: #backend> #kp::Model<B> for #name<B> {
                type Input = #tensor_in;
                type Output = #tensor_out;

                fn input_shape(&self) -> #kp::Shape {
                    #kp::Shape::new(#name::<B>::INPUT_SHAPE)
                }

                fn output_shape(&self) -> #kp::Shape {
                    #kp::Shape::new(#name::<B>::OUTPUT_SHAPE)
                }

                fn forward(&self, x: Self::Input) -> Self::Output {
                    #name::forward(self, x)
                }

                fn forward_train(&self, x: Self::Input) -> #kp::TrainForward<B, Self::Output> {
                    #name::forward_train(self, x)
                }

                fn spec(&self) -> ::core::option::Option<#kp::ModelSpec> {
                    ::core::option::Option::Some(#name::<B>::spec())
                }
            }
        }
        #vis use #module::*;
    }
}

/// After an error: a type of the same name with the same methods, whose bodies never run
/// (the build fails first), so the user's code that uses the model reports no more errors.
fn stub(decl: &ModelDecl) -> TokenStream {
    let kp = private();
    let name = &decl.ident;
    let vis = &decl.vis;
    let docs = decl.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let backend = quote!(#kp::burn::tensor::backend::Backend);
    let tensor = quote!(#kp::burn::tensor::Tensor);
    quote! {
        #(#docs)*
        #vis struct #name<B: #backend>(::core::marker::PhantomData<B>);

        #[allow(dead_code, unused_variables)]
        impl<B: #backend> #name<B> {
            pub const INPUT_SHAPE: &'static [#kp::Dim] = &[];
            pub const OUTPUT_SHAPE: &'static [#kp::Dim] = &[];
            pub fn new(device: &B::Device) -> Self {
                ::core::unreachable!()
            }
            pub fn forward<const D: usize, const E: usize>(&self, x: #tensor<B, D>) -> #tensor<B, E> {
                ::core::unreachable!()
            }
            pub fn forward_train<const D: usize, const E: usize>(&self, x: #tensor<B, D>) -> #kp::TrainForward<B, #tensor<B, E>> {
                ::core::unreachable!()
            }
            pub fn spec() -> #kp::ModelSpec {
                ::core::unreachable!()
            }
            pub fn summary(&self) -> #kp::Summary {
                ::core::unreachable!()
            }
            pub fn to_json(&self) -> ::std::string::String {
                ::core::unreachable!()
            }
        }
    }
}
