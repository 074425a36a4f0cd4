//! The rules `model!` enforces before generating anything. Each rule is one function; the
//! rules themselves live in kiln-spec, these map its verdicts onto the user's tokens.

use kiln_spec::{ArgError, At, Checked, Dim, Layer, ModelSpec, Shape};
use quote::ToTokens;

use crate::ast::{Body, LayerCall, ModelDecl};
use crate::ctxt::Ctxt;

/// A model that passed every rule.
pub struct Model {
    pub spec: ModelSpec,
    pub checked: Checked,
}

/// Runs every rule, collecting each independent error in `cx`.
pub fn check(cx: &Ctxt, decl: &ModelDecl, body: &Body) -> Option<Model> {
    check_no_generics(cx, decl);
    let input = check_input(cx, body);
    let layers = check_layers(cx, &body.layers);
    let spec = ModelSpec::sequential(decl.ident.to_string(), input?, layers);
    let checked = check_shapes(cx, &spec, &body.layers)?;
    if cx.has_errors() || spec.layers.len() < body.layers.len() {
        return None;
    }
    Some(Model { spec, checked })
}

// The struct takes no generics: model! adds the backend parameter `B` itself.
fn check_no_generics(cx: &Ctxt, decl: &ModelDecl) {
    if !decl.generics.params.is_empty() || decl.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &decl.generics,
            "model! adds the backend parameter `B` itself; remove these generics",
        );
    }
}

// The input has at least one dimension, and each known dimension is positive.
fn check_input(cx: &Ctxt, body: &Body) -> Option<Shape> {
    let input = &body.input;
    if input.dims.is_empty() {
        cx.error_spanned_by(
            &input.tokens,
            "the input needs at least one dimension, e.g. input: [784]",
        );
        return None;
    }
    let mut ok = true;
    for d in &input.dims {
        if d.dim == Dim::Known(0) {
            cx.error_spanned_by(
                &d.tokens,
                "an input dimension must be positive (or `_` when only known at run time), got 0",
            );
            ok = false;
        }
    }
    ok.then(|| Shape::new(input.dims.iter().map(|d| d.dim)))
}

// Every layer is one kiln knows, with arguments it takes. All layers are read, so every
// argument error shows in one build; the layers that could be read, up to the first that
// could not, are returned for the shape check.
fn check_layers(cx: &Ctxt, calls: &[LayerCall]) -> Vec<Layer> {
    let mut layers = Vec::new();
    let mut complete = true;
    for call in calls {
        match Layer::from_call(&call.to_call()) {
            Ok(layer) if complete => layers.push(layer),
            Ok(_) => {}
            Err(errors) => {
                complete = false;
                for e in errors {
                    report_arg_error(cx, call, e);
                }
            }
        }
    }
    layers
}

fn report_arg_error(cx: &Ctxt, call: &LayerCall, error: ArgError) {
    let arg = |i: usize| call.args.get(i);
    match error.at {
        At::Layer => cx.error_spanned_by(&call.tokens, error.message),
        At::Name => cx.error_spanned_by(&call.name, error.message),
        At::Arg(i) => match arg(i) {
            Some(a) => cx.error_spanned_by(&a.tokens, error.message),
            None => cx.error_spanned_by(&call.tokens, error.message),
        },
        At::Value(i) => match arg(i) {
            Some(a) => cx.error_spanned_by(&a.value.tokens, error.message),
            None => cx.error_spanned_by(&call.tokens, error.message),
        },
    }
}

// Each layer accepts the shape the one before it gives.
fn check_shapes(cx: &Ctxt, spec: &ModelSpec, calls: &[LayerCall]) -> Option<Checked> {
    match spec.check() {
        Ok(checked) => Some(checked),
        Err(e) => {
            match e.layer.and_then(|i| calls.get(i)) {
                Some(call) => cx.error_spanned_by(&call.tokens, e.message),
                None => cx.error_spanned_by(
                    proc_macro2::TokenStream::new().into_token_stream(),
                    e.message,
                ),
            }
            None
        }
    }
}
