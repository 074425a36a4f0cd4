//! The rules `model!` enforces before generating anything. Each rule is one function; the
//! rules themselves live in kiln-spec, these map its verdicts onto the user's tokens.

use std::collections::HashMap;

use kiln_spec::{
    Arg, ArgError, At, Call, Checked, Declared, Definition, Dim, Layer, ModelSpec, NamedLayer,
    NamedShape, Namer, Shape, Site, Value,
};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::Ident;

use crate::ast::{Binding, Body, Graph, InputDecl, LayerCall, ModelDecl, Sequential, Source};
use crate::ctxt::Ctxt;

/// A model that passed every rule.
pub struct Model {
    pub spec: ModelSpec,
    pub checked: Checked,
    /// Each layer's span (its name), for the generated code.
    pub spans: Vec<Span>,
    /// For each layer, the path of the model a `Model(...)` layer names.
    pub paths: Vec<Option<syn::Path>>,
}

/// Runs every rule, collecting each independent error in `cx`.
pub fn check(cx: &Ctxt, decl: &ModelDecl, body: &Body) -> Option<Model> {
    check_no_generics(cx, decl);
    let mut nested = decl.nested.iter();
    match body {
        Body::Sequential(s) => check_sequential(cx, decl, s, &mut nested),
        Body::Functional(g) => check_graph(cx, decl, g, &mut nested),
    }
}

/// The JSON of each resolved `Model(...)`, taken in the order the calls are written.
type Nested<'a> = std::slice::Iter<'a, String>;

/// The layer a call stands for, its errors reported: a nested model from its resolved
/// JSON, any other layer from its arguments.
fn read_call(cx: &Ctxt, call: &LayerCall, nested: &mut Nested) -> Option<Declared> {
    let Some(path) = &call.nested else {
        return read_layer(cx, call, &call.to_call(), |i| i);
    };
    // expand resolves every Model(...) before checking.
    let json = nested.next()?;
    let layer = match ModelSpec::from_json(json) {
        Ok(spec) => Layer::Model(kiln_spec::layers::Nested(Box::new(spec))),
        Err(e) => {
            cx.error_spanned_by(
                path,
                format!(
                    "the declaration of {} could not be read: {e}",
                    path.to_token_stream()
                ),
            );
            return None;
        }
    };
    let only_trainable = |rest: &Call| match rest.args.first() {
        None => Ok(layer),
        Some(_) => Err(vec![ArgError {
            at: At::Arg(0),
            message: format!(
                "Model({}) takes only `trainable` and `training` besides the model",
                path.to_token_stream()
            ),
        }]),
    };
    Declared::with_base(&call.to_call(), only_trainable)
        .map(|(layer, base)| Declared {
            layer,
            trainable: base.trainable,
            training: base.training,
        })
        .map_err(|errors| {
            for e in errors {
                report_arg_error(cx, call, e, |i| i);
            }
        })
        .ok()
}

fn check_sequential(
    cx: &Ctxt,
    decl: &ModelDecl,
    body: &Sequential,
    nested: &mut Nested,
) -> Option<Model> {
    let input = check_input(cx, &body.input);
    let layers = check_layers(cx, &body.layers, nested);
    let spec = ModelSpec::sequential(decl.ident.to_string(), input?, layers);
    let calls: Vec<&TokenStream> = body.layers.iter().map(|c| &c.tokens).collect();
    let checked = check_shapes(cx, &spec, |n| n.to_owned(), &calls, &[&body.input])?;
    if cx.has_errors() || spec.layers.len() < body.layers.len() {
        return None;
    }
    Some(Model {
        spec,
        checked,
        spans: body.layers.iter().map(|c| c.name.span()).collect(),
        paths: body.layers.iter().map(|c| c.nested.clone()).collect(),
    })
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

// An input has at least one dimension, and each known dimension is positive.
fn check_input(cx: &Ctxt, input: &InputDecl) -> Option<Shape> {
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
fn check_layers(cx: &Ctxt, calls: &[LayerCall], nested: &mut Nested) -> Vec<Declared> {
    let mut layers = Vec::new();
    let mut complete = true;
    for call in calls {
        match read_call(cx, call, nested) {
            Some(layer) if complete => layers.push(layer),
            Some(_) => {}
            None => complete = false,
        }
    }
    layers
}

/// The layer `call` describes (read as `read`), or its argument errors reported; `arg`
/// maps an argument of `read` to its index in `call`.
fn read_layer(
    cx: &Ctxt,
    call: &LayerCall,
    read: &Call,
    arg: impl Fn(usize) -> usize,
) -> Option<Declared> {
    Declared::read(read)
        .map_err(|errors| {
            for e in errors {
                report_arg_error(cx, call, e, &arg);
            }
        })
        .ok()
}

fn report_arg_error(cx: &Ctxt, call: &LayerCall, error: ArgError, arg: impl Fn(usize) -> usize) {
    let arg = |i: usize| call.args.get(arg(i));
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

// Each layer accepts the shapes it takes. `layers` and `inputs` are the tokens of the
// spec's layers and inputs, where the errors go.
fn check_shapes(
    cx: &Ctxt,
    spec: &ModelSpec,
    label: impl Fn(&str) -> String,
    layers: &[&TokenStream],
    inputs: &[&InputDecl],
) -> Option<Checked> {
    match spec.check_labeled(label) {
        Ok(checked) => Some(checked),
        Err(e) => {
            let tokens = match e.at {
                Site::Def(i) | Site::Name(i, _) => layers.get(i).map(|t| (*t).clone()),
                Site::Input(i) => inputs.get(i).map(|d| d.tokens.clone()),
                Site::Use(..) | Site::Output(_) => None,
            };
            cx.error_spanned_by(tokens.unwrap_or_default(), e.message);
            None
        }
    }
}

// The functional form: its names first (each defined once, before use, and used), then
// each layer's arguments, then every shape along the graph.
fn check_graph(cx: &Ctxt, decl: &ModelDecl, graph: &Graph, nested: &mut Nested) -> Option<Model> {
    if graph.inputs.is_empty() || graph.outputs.is_empty() {
        cx.error_spanned_by(
            &decl.ident,
            "a functional model needs at least one `input name: [...]` and one `output name`",
        );
        return None;
    }
    if !check_graph_names(cx, graph) {
        return None;
    }
    let shapes: Vec<Option<Shape>> = graph.inputs.iter().map(|i| check_input(cx, i)).collect();
    let layers: Vec<Vec<Option<Declared>>> = graph
        .bindings
        .iter()
        .map(|b| read_binding(cx, b, nested))
        .collect();
    if cx.has_errors() {
        return None;
    }
    let mut lowered = Lowered::new(graph);
    for (binding, layers) in graph.bindings.iter().zip(layers) {
        lowered.binding(cx, binding, layers.into_iter().flatten());
    }
    if cx.has_errors() {
        return None;
    }
    let inputs = graph
        .inputs
        .iter()
        .zip(shapes)
        .map(|(decl, shape)| {
            Some(NamedShape {
                name: input_name(decl),
                shape: shape?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let outputs = graph
        .outputs
        .iter()
        .map(|o| lowered.resolved[&o.to_string()].clone())
        .collect();
    let spec = ModelSpec {
        name: decl.ident.to_string(),
        inputs,
        layers: lowered.layers,
        outputs,
    };
    let input_decls: Vec<&InputDecl> = graph.inputs.iter().collect();
    let labels = lowered.labels;
    let label = |name: &str| labels.get(name).cloned().unwrap_or_else(|| name.to_owned());
    let checked = check_shapes(cx, &spec, label, &lowered.tokens, &input_decls)?;
    Some(Model {
        spec,
        checked,
        spans: lowered.spans,
        paths: lowered.paths,
    })
}

/// An input's name; the parser gives every input of the functional form one.
pub fn input_name(decl: &InputDecl) -> String {
    decl.name
        .as_ref()
        .map_or_else(|| "input".to_owned(), ToString::to_string)
}

// kiln-spec's rules for a graph's names, applied to the user's bindings.
fn check_graph_names(cx: &Ctxt, graph: &Graph) -> bool {
    let inputs: Vec<String> = graph.inputs.iter().map(input_name).collect();
    let uses: Vec<_> = graph.bindings.iter().map(Binding::uses).collect();
    let names: Vec<Vec<&Ident>> = graph
        .bindings
        .iter()
        .map(|b| b.names.iter().flatten().collect())
        .collect();
    let strings: Vec<Vec<String>> = names
        .iter()
        .map(|n| n.iter().map(ToString::to_string).collect())
        .collect();
    let defs: Vec<Definition> = strings
        .iter()
        .zip(&uses)
        .map(|(names, uses)| Definition {
            names: names.iter().map(String::as_str).collect(),
            spare: Vec::new(),
            uses: uses.iter().map(|u| u.name.as_str()).collect(),
        })
        .collect();
    let outputs: Vec<String> = graph.outputs.iter().map(ToString::to_string).collect();
    let input_refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let output_refs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    let faults = kiln_spec::check_names(&input_refs, &defs, &output_refs, "binding");
    for (site, message) in &faults {
        let tokens = match *site {
            Site::Input(i) => graph.inputs[i].name.to_token_stream(),
            Site::Def(i) => graph.bindings[i].pattern.clone(),
            Site::Name(i, j) => names[i][j].to_token_stream(),
            Site::Use(i, k) => uses[i][k].tokens.clone(),
            Site::Output(o) => graph.outputs[o].to_token_stream(),
        };
        cx.error_spanned_by(tokens, message);
    }
    faults.is_empty()
}

// A binding's layers: its merge (if it starts with one) and its chain, each read with its
// arguments' rules; `None` for one whose arguments are reported.
fn read_binding(cx: &Ctxt, binding: &Binding, nested: &mut Nested) -> Vec<Option<Declared>> {
    let mut layers = Vec::new();
    if let Source::Merge(call) = &binding.source {
        layers.push(read_merge(cx, call));
    }
    layers.extend(binding.chain.iter().map(|call| read_call(cx, call, nested)));
    layers
}

// `Add(a, b)`, `Concatenate(a, b, axis = 1)`, `MultiHeadAttention(q, v, num_heads = 2,
// key_dim = 8)`: the names are the graph's, the keywords the layer's.
fn read_merge(cx: &Ctxt, call: &LayerCall) -> Option<Declared> {
    let name = call.name.to_string();
    if !Layer::taking_several().any(|n| n == name) && Layer::NAMES.contains(&name.as_str()) {
        cx.error_spanned_by(
            &call.name,
            format!(
                "{name} is not a merge; a chain starts from a name, e.g. `let y = x -> {name}(...)`, or from a layer of several tensors: {}",
                Layer::taking_several().collect::<Vec<_>>().join(", ")
            ),
        );
        return None;
    }
    let mut keywords = Vec::new();
    let mut ok = true;
    for (i, a) in call.args.iter().enumerate() {
        match (&a.keyword, &a.value.value) {
            (Some(_), _) => keywords.push(i),
            (None, Value::Name(_)) => {}
            (None, other) => {
                let example = match name.as_str() {
                    "MultiHeadAttention" => Some("(q, v, num_heads = 2, key_dim = 16)"),
                    "Dot" => Some("(a, b, axes = 1)"),
                    "Attention" | "AdditiveAttention" => Some("(q, v, use_scale = true)"),
                    _ => None,
                };
                let message = match example {
                    Some(example) => format!(
                        "{name} takes tensors named by their bindings, then its own arguments by keyword, e.g. {name}{example}; got `{other}`"
                    ),
                    None => format!(
                        "{name} merges tensors named by their bindings, e.g. {name}(a, b); got `{other}`"
                    ),
                };
                cx.error_spanned_by(&a.tokens, message);
                ok = false;
            }
        }
    }
    let read = Call {
        name: call.name.to_string(),
        args: keywords
            .iter()
            .map(|&i| Arg {
                keyword: call.args[i].keyword.as_ref().map(ToString::to_string),
                value: call.args[i].value.value.clone(),
            })
            .collect(),
    };
    let layer = read_layer(cx, call, &read, |i| keywords[i])?;
    ok.then_some(layer)
}

/// The graph as kiln-spec's layers: each binding's layers named Keras's way and connected
/// by name.
struct Lowered<'a> {
    namer: Namer,
    layers: Vec<NamedLayer>,
    tokens: Vec<&'a TokenStream>,
    spans: Vec<Span>,
    paths: Vec<Option<syn::Path>>,
    /// The node each binding or input name stands for.
    resolved: HashMap<String, String>,
    /// How messages name a node: "`h`" for the end of a binding, else its class.
    labels: HashMap<String, String>,
}

impl<'a> Lowered<'a> {
    fn new(graph: &Graph) -> Self {
        let inputs: Vec<String> = graph.inputs.iter().map(input_name).collect();
        Lowered {
            namer: Namer::reserving(inputs.iter().cloned()),
            layers: Vec::new(),
            tokens: Vec::new(),
            spans: Vec::new(),
            paths: Vec::new(),
            labels: inputs
                .iter()
                .map(|n| (n.clone(), format!("`{n}`")))
                .collect(),
            resolved: inputs.into_iter().map(|n| (n.clone(), n)).collect(),
        }
    }

    fn push(&mut self, declared: Declared, inbound: Vec<String>, call: &'a LayerCall) -> String {
        let Declared {
            layer,
            trainable,
            training,
        } = declared;
        let name = self.namer.name(&layer);
        self.labels
            .insert(name.clone(), layer.class_name().to_owned());
        self.layers.push(NamedLayer {
            name: name.clone(),
            layer,
            inbound,
            trainable,
            training,
        });
        self.tokens.push(&call.tokens);
        self.spans.push(call.name.span());
        self.paths.push(call.nested.clone());
        name
    }

    /// Lowers one binding: its merge (if it starts with one), then its chain, each layer
    /// fed by the one before; its names are bound to the chain's end.
    fn binding(
        &mut self,
        cx: &Ctxt,
        binding: &'a Binding,
        mut layers: impl Iterator<Item = Declared>,
    ) {
        let Some(mut last) = self.source(binding, &mut layers) else {
            return;
        };
        let mut states = Vec::new();
        for (layer, call) in layers.zip(&binding.chain) {
            if !states.is_empty() {
                cx.error_spanned_by(
                    call.tokens.clone(),
                    format!(
                        "the layer before gives {} tensors (return_state = true); end the chain there and bind them: `let (y, {}) = ...`",
                        states.len() + 1,
                        states.join(", ")
                    ),
                );
            }
            states = layer.layer.state_names();
            last = self.push(layer, vec![last], call);
        }
        check_bound_names(cx, binding, &states);
        self.bind_names(binding, &last);
    }

    /// The node a binding's chain starts from: the tensor it names, or its merge layer
    /// (taken from `layers`); `None` when the merge could not be read.
    fn source(
        &mut self,
        binding: &'a Binding,
        layers: &mut impl Iterator<Item = Declared>,
    ) -> Option<String> {
        match &binding.source {
            Source::Name(name, _) => Some(self.resolved[&name.to_string()].clone()),
            Source::Merge(call) => {
                let inbound = binding
                    .uses()
                    .iter()
                    .map(|u| self.resolved[&u.name].clone())
                    .collect();
                let layer = layers.next()?;
                Some(self.push(layer, inbound, call))
            }
        }
    }

    /// Binds a binding's names to the node `last` (the chain's end) and its states, and
    /// labels them by those names.
    fn bind_names(&mut self, binding: &Binding, last: &str) {
        for (k, name) in binding.names.iter().enumerate() {
            let Some(name) = name else { continue };
            let node = match k {
                0 => last.to_owned(),
                k => format!("{last}[{k}]"),
            };
            if k == 0 && self.layers.iter().any(|l| l.name == last) {
                self.labels.insert(last.to_owned(), format!("`{name}`"));
            }
            self.labels.insert(node.clone(), format!("`{name}`"));
            self.resolved.insert(name.to_string(), node);
        }
    }
}

// A binding binds one name per tensor its chain gives: the output, then each state of a
// recurrent layer with return_state = true (named `states`).
fn check_bound_names(cx: &Ctxt, binding: &Binding, states: &[String]) {
    let count = states.len() + 1;
    if binding.names.len() == count {
        return;
    }
    let named = std::iter::once("y")
        .chain(states.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ");
    cx.error_spanned_by(
        binding.pattern.clone(),
        match binding.names.len() {
            1 => format!(
                "this chain gives {count} tensors (return_state = true); bind each: `let ({named}) = ...` (`_` for one you do not need)"
            ),
            n => format!(
                "{n} names bound, but this chain gives {count} tensor{}; {}",
                if states.is_empty() { "" } else { "s" },
                if states.is_empty() {
                    "bind one name, or end the chain with a recurrent layer with return_state = true".to_owned()
                } else {
                    format!("bind `({named})`")
                }
            ),
        },
    );
}
