//! Turns a checked model into a burn module, or, after an error, into a stub that keeps
//! the user's other code type-checking.

use kiln_spec::{Activation, NamedLayer, Summary};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, Visibility};

use crate::ast::{Body, ModelDecl};
use crate::check::{self, Model};
use crate::ctxt::Ctxt;
use crate::layers::{
    activation_tokens, dim_tokens, layer_code, nested, private, regularizer_tokens, usize_lit,
};

/// The whole expansion of one `model!`, whose input was `tokens`.
pub fn model(decl: ModelDecl, tokens: TokenStream) -> TokenStream {
    // A model used as a layer is read first: its companion macro gives its declaration
    // back to model!, with these tokens, as `@nested "json"`.
    if let Ok(body) = &decl.body {
        let paths: Vec<&syn::Path> = body
            .calls()
            .into_iter()
            .filter_map(|c| c.nested.as_ref())
            .collect();
        if let Some(path) = paths.get(decl.nested.len()) {
            return quote!(#path! { @kiln #tokens });
        }
    }
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

/// The step that adds the layer's kernel and bias penalties to the running total, on the
/// weights kiln-core's `Stateful::kernel_and_bias` gives, as runtime models take them.
fn weight_penalties(named: &NamedLayer, field: &Ident) -> TokenStream {
    let kp = private();
    let Some(weights) = named.layer.weights() else {
        return TokenStream::new();
    };
    let add = |r, t: TokenStream| {
        let r = regularizer_tokens(r);
        quote!(penalty = #kp::regularizer::add(penalty, #kp::regularizer::penalty(#r, #t));)
    };
    let (kernel, on_kernel) = match weights.kernel_regularizer {
        Some(r) => (quote!(kernel), add(r, quote!(kernel))),
        None => (quote!(_), TokenStream::new()),
    };
    let (bias, on_bias) = match weights.bias_regularizer {
        Some(r) => {
            let add = add(r, quote!(bias));
            (quote!(bias), quote!(if let Some(bias) = bias { #add }))
        }
        None => (quote!(_), TokenStream::new()),
    };
    if on_kernel.is_empty() && on_bias.is_empty() {
        return TokenStream::new();
    }
    let kind = Ident::new(named.layer.class_name(), Span::call_site());
    quote! {
        if penalize {
            if let Some((#kernel, #bias)) =
                <#kp::kinds::#kind as #kp::layers::Stateful<B>>::kernel_and_bias(&self.#field)
            {
                #on_kernel
                #on_bias
            }
        }
    }
}

/// The parts of the generated module that differ between the Sequential and the
/// functional form.
struct Parts {
    /// Struct fields and their initializers.
    fields: Vec<TokenStream>,
    /// Const assertions on the models used as layers.
    assertions: Vec<TokenStream>,
    inits: Vec<TokenStream>,
    /// The body of `__layers`, which ends with the outputs in `result`.
    steps: Vec<TokenStream>,
    /// Each input: its name in `forward`, its variable in `__layers`, its tensor type.
    inputs: Vec<(Ident, Ident, TokenStream)>,
    /// Each output's tensor type.
    outputs: Vec<TokenStream>,
    result: TokenStream,
}

impl Parts {
    /// Parts with these inputs and outputs, and no layer yet.
    fn new(inputs: Vec<(Ident, Ident, TokenStream)>, outputs: Vec<TokenStream>) -> Self {
        Parts {
            fields: Vec::new(),
            assertions: Vec::new(),
            inits: Vec::new(),
            steps: Vec::new(),
            inputs,
            outputs,
            result: TokenStream::new(),
        }
    }
}

fn tensor(rank: usize) -> TokenStream {
    let kp = private();
    let rank = usize_lit(rank + 1);
    quote!(#kp::burn::tensor::Tensor<B, #rank>)
}

/// The one item, or the tuple of them all.
fn tuple(items: &[TokenStream]) -> TokenStream {
    match items {
        [one] => one.clone(),
        many => quote!((#(#many),*)),
    }
}

/// The path of burn's `Backend` trait.
fn backend() -> TokenStream {
    let kp = private();
    quote!(#kp::burn::tensor::backend::Backend)
}

/// Each layer of the model, with its index and what the check found of it.
fn layers(model: &Model) -> impl Iterator<Item = (usize, &NamedLayer, &kiln_spec::LayerInfo)> {
    model
        .spec
        .layers
        .iter()
        .zip(&model.checked.layers)
        .enumerate()
        .map(|(i, (named, info))| (i, named, info))
}

/// Layer `i`'s field and initializer (into `parts`), its field name and forward step.
fn layer_state(model: &Model, i: usize, parts: &mut Parts) -> (Ident, TokenStream) {
    let (named, info) = (&model.spec.layers[i], &model.checked.layers[i]);
    let (span, path) = (model.spans[i], model.paths[i].as_ref());
    let field = Ident::new(&named.name, span);
    let code = layer_code(&named.layer, info, &field, path);
    if let Some(path) = path {
        parts.assertions.push(nested::assertions(path, info));
    }
    if let Some((ty, init)) = code.field {
        // A frozen layer's weights take no gradient, so the optimizer leaves them be.
        let kp = private();
        let init = if named.trainable {
            init
        } else {
            quote!(#kp::burn::module::Module::no_grad(#init))
        };
        parts.fields.push(quote_spanned!(span=> pub #field: #ty));
        parts.inits.push(quote_spanned!(span=> #field: #init));
    }
    // `training = false`: inference mode in every pass, as Keras's `layer(x, training=False)`.
    let forward = code.forward;
    let forward = if named.training {
        forward
    } else {
        quote!({
            #[allow(unused_variables)]
            let training = false;
            #forward
        })
    };
    (field, forward)
}

/// The steps after layer `i`'s forward step, on its output `x`: the weight penalties, then
/// its epilogue (kiln-spec's, as runtime models take it).
fn after_step(model: &Model, i: usize, field: &Ident) -> TokenStream {
    let kp = private();
    let mut out = weight_penalties(&model.spec.layers[i], field);
    let epilogue = model.spec.epilogue(i, true);
    if epilogue.now != Activation::Linear {
        let a = activation_tokens(epilogue.now);
        out.extend(quote!(let x = #kp::activation(#a, x);));
    }
    if let Some(r) = epilogue.activity {
        let r = regularizer_tokens(r);
        let pending = activation_tokens(epilogue.pending);
        out.extend(quote! {
            if penalize {
                let output = #kp::activation(#pending, x.clone());
                penalty = #kp::regularizer::add(penalty, #kp::regularizer::activity_penalty(#r, output));
            }
        });
    }
    out
}

fn sequential_parts(model: &Model) -> Parts {
    let checked = &model.checked;
    let x = Ident::new("x", Span::call_site());
    let mut parts = Parts::new(
        vec![(x.clone(), x.clone(), tensor(checked.input().rank()))],
        vec![tensor(checked.output().rank())],
    );
    parts.result = quote!(x);
    for (i, _, info) in layers(model) {
        let (field, forward) = layer_state(model, i, &mut parts);
        let ty = tensor(info.output.rank());
        parts.steps.push(quote!(let x: #ty = #forward;));
        parts.steps.push(after_step(model, i, &field));
        parts.steps.push(tap_step(model, i, &x));
    }
    parts
}

/// Offers layer `i`'s output `x` to the forward pass's tap (features, Grad-CAM), with the
/// activation the pass applies only at its end when the layer is the logits layer.
fn tap_step(model: &Model, i: usize, x: &Ident) -> TokenStream {
    let name = &model.spec.layers[i].name;
    let pending = activation_tokens(model.spec.epilogue(i, true).pending);
    quote!(let #x = tap.at(#name, #x, #pending)?;)
}

/// The variable of the tensor `name` in the functional `__layers`: `t_lstm` for a layer's
/// output or an input, `s1_lstm` for `lstm[1]` (its first state), so that no binding's name
/// (`lstm__1`, say) meets a state's.
fn tensor_var(name: &str) -> Ident {
    match kiln_spec::reference(name) {
        (layer, 0) => format_ident!("t_{layer}"),
        (layer, k) => format_ident!("s{k}_{layer}"),
    }
}

/// The tensor of `u`: its variable, moved at its last use (kiln-spec's plan), else cloned.
fn take(u: &kiln_spec::Use) -> TokenStream {
    let v = tensor_var(&u.name);
    if u.last {
        quote!(#v)
    } else {
        quote!(#v.clone())
    }
}

fn functional_parts(model: &Model) -> Parts {
    let checked = &model.checked;
    let inputs = checked
        .inputs
        .iter()
        .map(|i| {
            let name = Ident::new(&i.name, Span::call_site());
            (name, tensor_var(&i.name), tensor(i.shape.rank()))
        })
        .collect();
    let outputs = checked
        .outputs
        .iter()
        .map(|o| tensor(o.shape.rank()))
        .collect();
    let mut parts = Parts::new(inputs, outputs);
    let plan = &checked.plan;
    for (i, uses) in plan.steps.iter().enumerate() {
        let inbound: Vec<TokenStream> = uses.iter().map(take).collect();
        functional_step(model, i, &inbound, &mut parts);
    }
    let outputs: Vec<TokenStream> = plan.outputs.iter().map(take).collect();
    parts.result = tuple(&outputs);
    parts
}

/// Layer `i`'s field (into `parts`) and its steps in the functional `__layers`, fed by
/// the tensors `inbound`: its output (and a recurrent layer's states) bound to its
/// variables, then offered to the tap.
fn functional_step(model: &Model, i: usize, inbound: &[TokenStream], parts: &mut Parts) {
    let (named, info) = (&model.spec.layers[i], &model.checked.layers[i]);
    let (field, forward) = layer_state(model, i, parts);
    let ty = tensor(info.output.rank());
    let forward = inbound_forward(named, info, inbound, forward);
    let out = tensor_var(&named.name);
    if info.states.is_empty() {
        let after = after_step(model, i, &field);
        parts.steps.push(quote! {
            let #out: #ty = {
                let x: #ty = #forward;
                #after
                x
            };
        });
    } else {
        // A recurrent layer with return_state: its output and final states (it has no
        // activation or penalty of its own to add).
        let names = (1..=info.states.len()).map(|k| tensor_var(&format!("{}[{k}]", named.name)));
        let types = info.states.iter().map(|s| tensor(s.rank()));
        parts.steps.push(quote! {
            let (#out, #(#names),*): (#ty, #(#types),*) = #forward;
        });
    }
    parts.steps.push(tap_step(model, i, &out));
}

/// A layer's forward expression on the tensors `inbound`: a merge layer's merge of them
/// all, any other layer's `forward` with the first as `x`.
fn inbound_forward(
    named: &NamedLayer,
    info: &kiln_spec::LayerInfo,
    inbound: &[TokenStream],
    forward: TokenStream,
) -> TokenStream {
    let kp = private();
    match (merge_tokens(&named.layer, info.output.rank()), inbound) {
        (Some(merge), [first, rest @ ..]) => {
            quote!(#kp::layers::merge(#merge, #first, ::std::vec![#(#rest),*]))
        }
        (None, [first, rest @ ..]) if named.layer.takes_several() => {
            quote!({ let x = #first; let more = ::std::vec![#(#rest),*]; #forward })
        }
        (None, [first, ..]) => quote!({ let x = #first; #forward }),
        // The lowering feeds every layer at least one tensor.
        (_, []) => quote!(::core::compile_error!("model! found a layer with no input")),
    }
}

/// `Merge::Add` and the like, for a merge layer whose examples have `rank` dimensions.
fn merge_tokens(layer: &kiln_spec::Layer, rank: usize) -> Option<TokenStream> {
    layer.merge_op(rank).map(merge_op_tokens)
}

/// `Merge::Add` and the like: `op` as kiln-core's merge.
pub fn merge_op_tokens(op: kiln_spec::layers::MergeOp) -> TokenStream {
    use kiln_spec::layers::MergeOp;
    let kp = private();
    match op {
        MergeOp::Add => quote!(#kp::layers::Merge::Add),
        MergeOp::Multiply => quote!(#kp::layers::Merge::Multiply),
        MergeOp::Average => quote!(#kp::layers::Merge::Average),
        MergeOp::Maximum => quote!(#kp::layers::Merge::Maximum),
        MergeOp::Subtract => quote!(#kp::layers::Merge::Subtract),
        MergeOp::Minimum => quote!(#kp::layers::Merge::Minimum),
        MergeOp::Concatenate { dim } => {
            let dim = usize_lit(dim);
            quote!(#kp::layers::Merge::Concatenate { dim: #dim })
        }
    }
}

/// `[Dim::Known(3), ...]` of a shape.
fn dims_tokens(shape: &kiln_spec::Shape) -> TokenStream {
    let dims = shape.dims().iter().map(|&d| dim_tokens(d));
    quote!([#(#dims),*])
}

/// The module generated for a checked model, and the `use` that brings it into scope.
fn generate(decl: &ModelDecl, body: &Body, model: &Model) -> TokenStream {
    let name = &decl.ident;
    let vis = &decl.vis;
    let module = format_ident!("__kiln_model_{}", name);
    let parts = match body {
        Body::Sequential(_) => sequential_parts(model),
        Body::Functional(_) => functional_parts(model),
    };
    let json = model.spec.to_json();
    let assertions = &parts.assertions;
    let structure = struct_item(decl, &model.checked, &parts.fields);
    let methods = inherent_impl(name, model, &parts, &json);
    let model_impl = model_impl(name, model, &parts);
    let companion = companion(name, &json);
    let companion_use = companion_use(decl, &module);
    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #module {
            #[allow(unused_imports)]
            use super::*;
            use ::kiln::__private::burn;

            #(#assertions)*

            #structure

            #methods

            #model_impl

            #companion
        }
        #vis use #module::*;
        #companion_use
    }
}

/// The line of the struct's docs that gives its input and output shapes.
fn shapes_doc(checked: &kiln_spec::Checked) -> String {
    let shown = |shapes: &[kiln_spec::NamedShape]| {
        shapes
            .iter()
            .map(|s| format!("`{}`", s.shape))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        " Input {} → output {} per example; tensors add the batch dimension first.",
        shown(&checked.inputs),
        shown(&checked.outputs)
    )
}

/// The model's struct with `fields`, documented with its shapes and summary table after
/// the user's own docs.
fn struct_item(
    decl: &ModelDecl,
    checked: &kiln_spec::Checked,
    fields: &[TokenStream],
) -> TokenStream {
    let name = &decl.ident;
    let attrs = &decl.attrs;
    let item_vis = inner_vis(&decl.vis);
    let backend = backend();
    let has_docs = attrs.iter().any(|a| a.path().is_ident("doc"));
    let doc_gap = has_docs.then(|| quote!(#[doc = ""]));
    let shapes_doc = shapes_doc(checked);
    let table = Summary(checked.clone()).to_string();
    quote! {
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
    }
}

/// `INPUT_SHAPE` (or `INPUT_SHAPES` for several), when `what` is `"INPUT"`: the const
/// with the shape of one example of each of `shapes`.
fn shape_consts(what: &str, shapes: &[kiln_spec::NamedShape]) -> TokenStream {
    let kp = private();
    let one = format_ident!("{}_SHAPE", what);
    let all = format_ident!("{}_SHAPES", what);
    let lower = what.to_lowercase();
    match shapes {
        [single] => {
            let len = usize_lit(single.shape.rank());
            let dims = dims_tokens(&single.shape);
            let doc = format!(" The shape of one {lower} example (the batch dimension left out).");
            quote! {
                #[doc = #doc]
                pub const #one: [#kp::Dim; #len] = #dims;
            }
        }
        many => {
            let n = usize_lit(many.len());
            let dims = many.iter().map(|s| dims_tokens(&s.shape));
            let doc = format!(
                " The shape of one example of each {lower}, in order (the batch dimension left out)."
            );
            quote! {
                #[doc = #doc]
                pub const #all: [&'static [#kp::Dim]; #n] = [#(&#dims),*];
            }
        }
    }
}

/// The model's inherent impl: its shapes, `new`, its forward passes and its declaration
/// (`json`).
fn inherent_impl(name: &Ident, model: &Model, parts: &Parts, json: &str) -> TokenStream {
    let backend = backend();
    let input_consts = shape_consts("INPUT", &model.checked.inputs);
    let output_consts = shape_consts("OUTPUT", &model.checked.outputs);
    let inits = &parts.inits;
    let forward = forward_methods(model, parts);
    let declaration = declaration_methods(json);
    quote! {
        impl<B: #backend> #name<B> {
            #input_consts
            #output_consts

            /// A new model with freshly initialised weights (Keras's initializers) on `device`.
            pub fn new(device: &B::Device) -> Self {
                #name {
                    #(#inits,)*
                    __backend: ::core::marker::PhantomData,
                }
            }

            #forward

            #declaration
        }
    }
}

/// `forward`, `forward_train` and `features`, each a run of `__layers`, and `__layers`.
fn forward_methods(model: &Model, parts: &Parts) -> TokenStream {
    let kp = private();
    let final_act = activation_tokens(model.spec.final_activation());
    let names = model.spec.layers.iter().map(|l| &l.name);
    let params: Vec<TokenStream> = parts
        .inputs
        .iter()
        .map(|(name, _, ty)| quote!(#name: #ty))
        .collect();
    let args: Vec<&Ident> = parts.inputs.iter().map(|(name, _, _)| name).collect();
    // `layer`, or `layer_`... where an input has that name.
    let mut layer = String::from("layer");
    while args.iter().any(|a| *a == layer.as_str()) {
        layer.push('_');
    }
    let layer = Ident::new(&layer, Span::call_site());
    let output_ty = tuple(&parts.outputs);
    // The forward applies the activation the training forward splits off; a model with
    // several outputs splits none.
    let output = if parts.outputs.len() == 1 {
        quote!(#kp::activation(#final_act, y))
    } else {
        quote!(y)
    };
    let layers = layers_method(parts, &output_ty);
    quote! {
        /// The model's output for a batch of inputs.
        pub fn forward(&self, #(#params),*) -> #output_ty {
            let ::core::result::Result::Ok((y, _)) = self.__layers(#(#args,)* false, false, &mut #kp::features::NoTap);
            #output
        }

        /// The training forward pass: the output before the last activation (logits),
        /// that activation, and the sum of the declared regularization penalties.
        pub fn forward_train(&self, #(#params),*) -> #kp::TrainForward<B, #output_ty> {
            self.__forward_penalized(#(#args,)* true)
        }

        /// The training forward pass with the layers in the training mode `training`
        /// (a nested model's with `training = false`), the penalties counted either way.
        #[doc(hidden)]
        pub fn __forward_penalized(&self, #(#params,)* __kiln_training: bool) -> #kp::TrainForward<B, #output_ty> {
            let ::core::result::Result::Ok((logits, penalty)) = self.__layers(#(#args,)* __kiln_training, true, &mut #kp::features::NoTap);
            #kp::TrainForward { logits, activation: #final_act, penalty }
        }

        /// The output of the layer named `layer` (`"conv2d_1"`, its activation applied),
        /// as Keras's `Model(model.inputs, model.get_layer(layer).output)`; the layers
        /// after it do not run.
        ///
        /// # Errors
        /// When the model has no layer of that name; the nearest is named.
        pub fn features(&self, #layer: &str, #(#params),*) -> ::core::result::Result<#kp::DynTensor<B>, #kp::TrainError> {
            match self.__layers(#(#args,)* false, false, &mut #kp::features::Features::new(#layer)) {
                ::core::result::Result::Err(tapped) => tapped,
                ::core::result::Result::Ok(_) => ::core::result::Result::Err(#kp::features::unknown_layer(#layer, &[#(#names),*])),
            }
        }

        #layers
    }
}

/// `__layers`, which runs the steps (in training mode while `training`) and gives the
/// outputs (of type `output_ty`) with the penalty (counted while `penalize`), or stops
/// where the tap says.
fn layers_method(parts: &Parts, output_ty: &TokenStream) -> TokenStream {
    let kp = private();
    let vars = parts.inputs.iter().map(|(_, var, ty)| quote!(#var: #ty));
    let (steps, result) = (&parts.steps, &parts.result);
    quote! {
        #[allow(unused_mut, unused_variables, clippy::let_and_return)]
        fn __layers<T: #kp::features::Tap<B>>(&self, #(#vars,)* training: bool, penalize: bool, tap: &mut T) -> ::core::result::Result<(#output_ty, ::core::option::Option<#kp::burn::tensor::Tensor<B, 1>>), T::Stop> {
            let mut penalty = ::core::option::Option::None;
            #(#steps)*
            ::core::result::Result::Ok((#result, penalty))
        }
    }
}

/// `spec`, `summary` and `to_json`, which read the declaration `json`.
fn declaration_methods(json: &str) -> TokenStream {
    let kp = private();
    quote! {
        /// The model's declaration, as kiln-spec reads it.
        pub fn spec() -> #kp::ModelSpec {
            #kp::ModelSpec::from_json(#json).expect("model! embeds a model it has checked")
        }

        /// Keras's summary table: each layer's output shape and parameter count, and the totals.
        /// The counts follow the weights as they are: a layer frozen at run time counts as
        /// non-trainable on an autodiff backend.
        pub fn summary(&self) -> #kp::Summary {
            let checked = Self::spec().check().expect("model! embeds a model it has checked");
            #kp::trainable_summary(self, checked, &[])
        }

        /// The architecture as JSON, which `kiln::from_json` reads back.
        pub fn to_json(&self) -> ::std::string::String {
            ::std::string::String::from(#json)
        }
    }
}

/// How the `Model` impl takes its input `x`: the one input, or the tuple of the inputs
/// bound to their `__layers` variables (never the name of a method's own argument).
struct ModelInput {
    /// `Model::Input`.
    ty: TokenStream,
    /// The body of `input_shape`.
    shape: TokenStream,
    /// The body of `input_shapes`.
    shapes: TokenStream,
    /// The statement that binds the inputs' names from `x`.
    bind: TokenStream,
    /// The inputs, as the inherent methods take them.
    pass: TokenStream,
}

/// How model `name`'s `Model` impl takes `inputs`.
fn model_input(name: &Ident, inputs: &[(Ident, Ident, TokenStream)]) -> ModelInput {
    let kp = private();
    match inputs {
        [(_, _, ty)] => ModelInput {
            ty: ty.clone(),
            shape: quote!(#kp::Shape::new(#name::<B>::INPUT_SHAPE)),
            shapes: quote!(::std::vec![self.input_shape()]),
            bind: TokenStream::new(),
            pass: quote!(x),
        },
        many => {
            let types = many.iter().map(|(_, _, ty)| ty);
            let vars: Vec<&Ident> = many.iter().map(|(_, var, _)| var).collect();
            ModelInput {
                ty: quote!((#(#types),*)),
                shape: quote!(#kp::Shape::new(#name::<B>::INPUT_SHAPES[0].iter().copied())),
                shapes: quote!(#name::<B>::INPUT_SHAPES.iter().map(|s| #kp::Shape::new(s.iter().copied())).collect()),
                bind: quote!(let (#(#vars),*) = x;),
                pass: quote!(#(#vars),*),
            }
        }
    }
}

/// The impl of kiln's `Model`, which the Trainer takes, for a model with one output and
/// up to four inputs (a tuple of tensors); `None` for any other.
fn model_impl(name: &Ident, model: &Model, parts: &Parts) -> Option<TokenStream> {
    let [tensor_out] = parts.outputs.as_slice() else {
        return None;
    };
    if parts.inputs.len() > 4 {
        return None;
    }
    let kp = private();
    let backend = backend();
    let final_act = activation_tokens(model.spec.final_activation());
    let ModelInput {
        ty: input_ty,
        shape: input_shape,
        shapes: input_shapes,
        bind,
        pass,
    } = model_input(name, &parts.inputs);
    Some(quote! {
        impl<B: #backend> #kp::Model<B> for #name<B> {
            type Input = #input_ty;
            type Output = #tensor_out;

            fn input_shape(&self) -> #kp::Shape {
                #input_shape
            }

            fn input_shapes(&self) -> ::std::vec::Vec<#kp::Shape> {
                #input_shapes
            }

            fn output_shape(&self) -> #kp::Shape {
                #kp::Shape::new(#name::<B>::OUTPUT_SHAPE)
            }

            fn forward(&self, x: Self::Input) -> Self::Output {
                #bind
                #name::forward(self, #pass)
            }

            fn forward_train(&self, x: Self::Input) -> #kp::TrainForward<B, Self::Output> {
                #bind
                #name::forward_train(self, #pass)
            }

            fn features(&self, layer: &str, x: Self::Input) -> ::core::result::Result<#kp::DynTensor<B>, #kp::TrainError> {
                #bind
                #name::features(self, layer, #pass)
            }

            fn forward_tapped<T: #kp::features::Tap<B>>(&self, x: Self::Input, tap: &mut T) -> ::core::result::Result<#kp::TrainForward<B, Self::Output>, T::Stop> {
                #bind
                let (logits, _) = self.__layers(#pass, false, false, tap)?;
                ::core::result::Result::Ok(#kp::TrainForward { logits, activation: #final_act, penalty: ::core::option::Option::None })
            }

            fn spec(&self) -> ::core::option::Option<#kp::ModelSpec> {
                ::core::option::Option::Some(#name::<B>::spec())
            }
        }
    })
}

/// The companion macro, named as the model, with which another model! reads this one's
/// declaration (`json`) when it uses it as a layer: `Model(#name)`.
fn companion(name: &Ident, json: &str) -> TokenStream {
    quote! {
        #[doc(hidden)]
        pub mod __kiln_companion {
            #[doc(hidden)]
            #[allow(unused_macros)]
            macro_rules! #name {
                (@kiln $($rest:tt)*) => { ::kiln::model! { @nested #json $($rest)* } };
            }
            #[allow(unused_imports)]
            pub(crate) use #name;
        }
    }
}

/// The `use` that brings the companion macro out of the hidden `module`, as far as the
/// crate for a model not private to its module.
fn companion_use(decl: &ModelDecl, module: &Ident) -> TokenStream {
    let name = &decl.ident;
    let companion_vis = match decl.vis {
        Visibility::Inherited => TokenStream::new(),
        _ => quote!(pub(crate)),
    };
    quote! {
        #[allow(unused_imports)]
        #companion_vis use #module::__kiln_companion::#name;
    }
}

/// After an error: a type of the same name with the same methods, whose bodies never run
/// (the build fails first), so the user's code that uses the model reports no more errors.
fn stub(decl: &ModelDecl) -> TokenStream {
    let kp = private();
    let name = &decl.ident;
    let vis = &decl.vis;
    let docs = decl.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let backend = backend();
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
            pub fn features<const D: usize>(&self, layer: &str, x: #tensor<B, D>) -> ::core::result::Result<#kp::DynTensor<B>, #kp::TrainError> {
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
