//! A whole model, Sequential or functional: its inputs, its named layers and how they
//! connect, the check of every shape, the Keras summary and the JSON form.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::graph::{self, Definition, Site};
use crate::layer::{Declared, Layer};
use crate::rule::{Input, MAX_PARAMS, MAX_SIZE, Params};
use crate::shape::{Dim, Shape};

/// A model as declared: a name, its inputs, its layers and, for the functional form, how
/// they connect and which are its outputs.
///
/// A Sequential model has one input and no `outputs`: each layer takes the one before
/// it. A functional model names each layer's `inbound` tensors and its `outputs`.
///
/// ```
/// use kiln_spec::{Call, Layer, ModelSpec, Shape, Value, Arg};
/// let dense = |units| Layer::from_call(&Call {
///     name: "Dense".into(),
///     args: vec![Arg { keyword: None, value: Value::Int(units) }],
/// }).unwrap();
/// let model = ModelSpec::sequential("Tiny", Shape::known([4]), vec![dense(8), dense(2)]);
/// let checked = model.check().unwrap();
/// assert_eq!(checked.output(), &Shape::known([2]));
/// assert_eq!(checked.params().total(), 4 * 8 + 8 + 8 * 2 + 2);
/// assert_eq!(ModelSpec::from_json(&model.to_json()).unwrap(), model);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Repr", into = "Repr")]
pub struct ModelSpec {
    /// The model's name (the Rust type's name for a `model!`).
    pub name: String,
    /// The inputs; a Sequential model has one, named `input`.
    pub inputs: Vec<NamedShape>,
    /// The layers, in an order where each comes after those it takes.
    pub layers: Vec<NamedLayer>,
    /// The names of the functional form's outputs; empty for a Sequential model, whose
    /// output is its last layer's.
    pub outputs: Vec<String>,
}

/// A named shape: a functional model's input or output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedShape {
    /// The input's name, or the name of the layer (or input) an output comes from.
    pub name: String,
    /// The shape of one example.
    pub shape: Shape,
}

/// A layer with its name in the model (`conv2d_1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedLayer {
    /// Unique in its model; Keras's default naming.
    pub name: String,
    /// The layer.
    #[serde(flatten)]
    pub layer: Layer,
    /// The inputs or layers whose outputs it takes, in the functional form; empty in a
    /// Sequential model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound: Vec<String>,
    /// Whether its weights train; `"trainable": false` in JSON freezes them.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub trainable: bool,
    /// Whether it follows the training phase; `"training": false` in JSON keeps it in
    /// inference mode, as Keras's `layer(x, training=False)`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub training: bool,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference.
fn is_true(b: &bool) -> bool {
    *b
}

/// The JSON form: `input` for a Sequential model, `inputs` and `outputs` for a functional one.
#[derive(Serialize, Deserialize)]
struct Repr {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input: Option<Shape>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    inputs: Vec<NamedShape>,
    layers: Vec<NamedLayer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    outputs: Vec<String>,
}

impl TryFrom<Repr> for ModelSpec {
    type Error = String;

    fn try_from(r: Repr) -> Result<Self, String> {
        let inputs = match (r.input, r.inputs.is_empty(), r.outputs.is_empty()) {
            (Some(shape), true, true) => vec![NamedShape {
                name: "input".into(),
                shape,
            }],
            (None, false, false) => r.inputs,
            _ => {
                return Err(
                    "a model has either `input` (Sequential) or both `inputs` and `outputs` (functional)"
                        .into(),
                );
            }
        };
        Ok(ModelSpec {
            name: r.name,
            inputs,
            layers: r.layers,
            outputs: r.outputs,
        })
    }
}

impl From<ModelSpec> for Repr {
    fn from(m: ModelSpec) -> Repr {
        let functional = m.is_functional();
        let mut inputs = m.inputs;
        Repr {
            name: m.name,
            input: (!functional)
                .then(|| inputs.pop().map(|i| i.shape))
                .flatten(),
            inputs: if functional { inputs } else { Vec::new() },
            layers: m.layers,
            outputs: m.outputs,
        }
    }
}

/// A layer that passed the check, with what the summary shows of it.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo {
    /// The layer's name.
    pub name: String,
    /// The layer's Keras class name.
    pub class_name: &'static str,
    /// The shape it takes (a merge's first input).
    pub input: Shape,
    /// The shapes of the tensors it takes after the first (a merge's, an attention's
    /// value and key).
    pub more: Vec<Shape>,
    /// The shape it gives.
    pub output: Shape,
    /// Its weights.
    pub params: Params,
    /// The inputs or layers it takes, in the functional form (Keras's "Connected to").
    pub inbound: Vec<String>,
    /// The shapes of the final states a recurrent layer with `return_state = true` gives
    /// after its output, named `lstm[1]`, `lstm[2]` in the graph.
    pub states: Vec<Shape>,
    /// A model used as a layer, as checked (always there for one): the summary shows its
    /// layers beneath it, and runtime models run it.
    pub nested: Option<Box<Checked>>,
    /// Whether its weights train: a frozen layer's count as non-trainable, as in Keras.
    pub trainable: bool,
}

impl LayerInfo {
    /// The weights as the totals count them: a nested model's as its layers count them,
    /// and a frozen layer's all non-trainable.
    pub fn counted(&self) -> Params {
        let params = match &self.nested {
            Some(nested) => nested.params(),
            None => self.params,
        };
        if self.trainable {
            params
        } else {
            Params {
                trainable: 0,
                non_trainable: params.total(),
            }
        }
    }
}

/// A model whose every shape fits.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// The model's name.
    pub name: String,
    /// Each layer, in order.
    pub layers: Vec<LayerInfo>,
    /// Each input and the shape of one of its examples.
    pub inputs: Vec<NamedShape>,
    /// Each output: the name of the node it comes from and the shape of one example.
    pub outputs: Vec<NamedShape>,
    /// Whether the model is in the functional form (its summary shows the connections).
    pub functional: bool,
    /// The tensors each layer takes, worked out once for every forward pass.
    pub plan: crate::plan::Plan,
}

impl Checked {
    /// The parameter counts of the whole model.
    pub fn params(&self) -> Params {
        self.layers
            .iter()
            .map(LayerInfo::counted)
            .fold(Params::default(), |a, b| a + b)
    }

    /// The shape of one example of the first input (the only one of a Sequential model).
    pub fn input(&self) -> &Shape {
        &self.inputs[0].shape
    }

    /// The shape of one example of the first output (the only one of a Sequential model).
    pub fn output(&self) -> &Shape {
        &self.outputs[0].shape
    }
}

/// The first fault found: a layer whose input does not fit, an input shape that cannot
/// be, or (in the functional form) a name that is undefined, unused or defined twice.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct CheckError {
    /// Where the fault sits; `Site::Def(i)` is the layer at index `i`, `Site::Use(i, k)`
    /// its `k`-th inbound name.
    pub at: Site,
    /// Names what was got, what was needed and the fix.
    pub message: String,
}

/// Why a model does not fit its examples' sizes ([`ModelSpec::check_sizes`]): reads
/// `examples of [5, 4] and [7, 4]: Add needs inputs of one shape, ...`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("examples of {}: {error}", shown(examples))]
pub struct SizesError {
    /// The examples' shapes, one per input.
    pub examples: Vec<Vec<usize>>,
    /// The first layer that does not fit at those sizes.
    pub error: CheckError,
}

/// `[5, 4] and [7, 4]`.
fn shown(examples: &[Vec<usize>]) -> String {
    let shown: Vec<String> = examples.iter().map(|s| format!("{s:?}")).collect();
    shown.join(" and ")
}

/// Why a model could not be read from JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not the JSON form of a model.
    #[error("not a kiln model: {0}")]
    Syntax(#[from] serde_json::Error),
    /// Well-formed, but its shapes do not fit.
    #[error("the model in this JSON does not fit: {0}")]
    Check(#[from] CheckError),
    /// Two layers share a name.
    #[error("two layers are named `{0}`; layer names must be unique")]
    DuplicateName(String),
    /// A layer's config breaks an argument rule of `model!`, or a key is unknown.
    #[error("the model in this JSON is refused: {0}")]
    Config(String),
}

impl ModelSpec {
    /// A Sequential model whose layers get Keras's default names (`dense`, `dense_1`, ...).
    pub fn sequential(
        name: impl Into<String>,
        input: Shape,
        layers: impl IntoIterator<Item = impl Into<Declared>>,
    ) -> Self {
        let mut namer = Namer::default();
        let layers = layers
            .into_iter()
            .map(|declared| {
                let Declared {
                    layer,
                    trainable,
                    training,
                } = declared.into();
                NamedLayer {
                    training,
                    name: namer.name(&layer),
                    layer,
                    inbound: Vec::new(),
                    trainable,
                }
            })
            .collect();
        ModelSpec {
            name: name.into(),
            inputs: vec![NamedShape {
                name: "input".into(),
                shape: input,
            }],
            layers,
            outputs: Vec::new(),
        }
    }

    /// A Sequential model from layer calls written at run time, each read with the same
    /// rules as in `model!`:
    ///
    /// ```
    /// use kiln_spec::{Call, ModelSpec, Shape};
    /// let layers = [
    ///     Call::bare("Dense").arg(64).kw("activation", "relu"),
    ///     Call::bare("Dense").arg(10).kw("activation", "softmax"),
    /// ];
    /// let spec = ModelSpec::from_calls("Mlp", Shape::known([784]), &layers).unwrap();
    /// assert_eq!(spec.check().unwrap().params().total(), 784 * 64 + 64 + 64 * 10 + 10);
    /// let err = ModelSpec::from_calls("Bad", Shape::known([784]), &[Call::bare("Dense")]).unwrap_err();
    /// assert_eq!(err.to_string(), "layer 1: Dense needs `units` (the number of outputs, e.g. Dense(128)); add it");
    /// ```
    ///
    /// # Errors
    /// [`CheckError`] for the first layer whose arguments or input shape do not fit.
    pub fn from_calls(
        name: impl Into<String>,
        input: Shape,
        calls: &[crate::Call],
    ) -> Result<ModelSpec, CheckError> {
        let layers = calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                Declared::read(call).map_err(|errors| CheckError {
                    at: Site::Def(i),
                    message: format!(
                        "layer {}: {}",
                        i + 1,
                        errors
                            .into_iter()
                            .map(|e| e.message)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let spec = ModelSpec::sequential(name, input, layers);
        spec.check()?;
        Ok(spec)
    }

    /// Whether the model is in the functional form.
    pub fn is_functional(&self) -> bool {
        !self.outputs.is_empty()
    }

    /// Checks every layer's input shape in order, stopping at the first fault (the shapes
    /// after it are unknown). Messages name a functional model's nodes by their names.
    pub fn check(&self) -> Result<Checked, CheckError> {
        self.check_labeled(|name| format!("`{name}`"))
    }

    /// Checks the model again at the sizes of actual examples, one shape per input, where
    /// its inputs leave sizes to run time (`[_, 4]`): two sequences of unequal lengths
    /// merged, say, fit the declaration but not each other. A model whose inputs are all
    /// known was checked in full by [`ModelSpec::check`], and passes.
    ///
    /// # Errors
    /// The first layer that does not fit at those sizes, as [`ModelSpec::check`] names it,
    /// with the examples' shapes.
    pub fn check_sizes(&self, examples: &[Vec<usize>]) -> Result<(), SizesError> {
        if self.inputs.iter().all(|i| i.shape.all_known().is_some()) {
            return Ok(());
        }
        self.at_sizes(examples)
            .check()
            .map(drop)
            .map_err(|error| SizesError {
                examples: examples.to_vec(),
                error,
            })
    }

    /// The model with its inputs of the sizes of `examples`, one shape per input.
    pub(crate) fn at_sizes(&self, examples: &[Vec<usize>]) -> ModelSpec {
        let mut sized = self.clone();
        for (input, dims) in sized.inputs.iter_mut().zip(examples) {
            input.shape = Shape::known(dims.iter().copied());
        }
        sized
    }

    /// [`ModelSpec::check`], with `label` naming a functional model's nodes in messages
    /// (`model!` names them by the user's bindings).
    pub fn check_labeled(&self, label: impl Fn(&str) -> String) -> Result<Checked, CheckError> {
        self.check_form()?;
        let mut shapes: HashMap<String, (Shape, String)> = HashMap::new();
        for input in &self.inputs {
            let from = if self.is_functional() {
                format!("input {}", label(&input.name))
            } else {
                "the input".into()
            };
            shapes.insert(input.name.clone(), (input.shape.clone(), from));
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut previous = self.inputs[0].name.clone();
        let mut params = Params::default();
        for (i, named) in self.layers.iter().enumerate() {
            let (inbound, from) = if self.is_functional() {
                (named.inbound.clone(), label(&named.name))
            } else {
                (vec![previous], named.layer.class_name().into())
            };
            let layer = self.check_layer(i, &inbound, from, &mut shapes)?;
            params = params + layer.counted();
            if params.total() > MAX_PARAMS {
                return Err(CheckError {
                    at: Site::Def(i),
                    message: format!(
                        "with {} the model would hold more than {MAX_PARAMS} parameters (16 GiB of f32), kiln's limit",
                        named.layer.class_name()
                    ),
                });
            }
            layers.push(layer);
            previous = named.name.clone();
        }
        let outputs = if self.is_functional() {
            self.outputs.clone()
        } else {
            vec![previous]
        };
        let outputs: Vec<NamedShape> = outputs
            .into_iter()
            .map(|name| NamedShape {
                shape: shapes[&name].0.clone(),
                name,
            })
            .collect();
        Ok(Checked {
            name: self.name.clone(),
            layers,
            inputs: self.inputs.clone(),
            plan: self.plan(&outputs),
            outputs,
            functional: self.is_functional(),
        })
    }

    /// The inputs' shapes, and the form: a graph's names, or a Sequential model's one
    /// input and no inbound names.
    fn check_form(&self) -> Result<(), CheckError> {
        for (i, input) in self.inputs.iter().enumerate() {
            check_input(&input.shape).map_err(|message| CheckError {
                at: Site::Input(i),
                message,
            })?;
        }
        if self.is_functional() {
            self.check_names()
        } else if self.inputs.len() != 1 || self.layers.iter().any(|l| !l.inbound.is_empty()) {
            Err(CheckError {
                at: Site::Input(0),
                message: "a Sequential model has one input and no inbound names; give a graph its `outputs`".into(),
            })
        } else {
            Ok(())
        }
    }

    /// Layer `i` taking the tensors `inbound` names from `shapes`: what it is; its output
    /// (and states) join `shapes`, said to come `from` it.
    fn check_layer(
        &self,
        i: usize,
        inbound: &[String],
        from: String,
        shapes: &mut HashMap<String, (Shape, String)>,
    ) -> Result<LayerInfo, CheckError> {
        let named = &self.layers[i];
        // Every name is defined above: check_names saw to it.
        let taken: Vec<&(Shape, String)> = inbound.iter().map(|r| &shapes[r]).collect();
        let inputs: Vec<Input> = taken
            .iter()
            .map(|(shape, from)| Input { shape, from })
            .collect();
        let output = named.layer.merge(&inputs).map_err(|e| CheckError {
            at: Site::Def(i),
            message: e.message,
        })?;
        softmax_of_images(&named.layer, &output).map_err(|message| CheckError {
            at: Site::Def(i),
            message,
        })?;
        let input = taken[0].0.clone();
        let more: Vec<Shape> = taken[1..].iter().map(|(shape, _)| shape.clone()).collect();
        let states = named.layer.states();
        if !states.is_empty() && !self.is_functional() {
            return Err(CheckError {
                at: Site::Def(i),
                message: format!(
                    "{} with return_state = true gives {} tensors, which a Sequential model cannot pass on; use the functional form: `let (y, {}) = x -> {}(...);`",
                    named.layer.class_name(),
                    states.len() + 1,
                    named.layer.state_names().join(", "),
                    named.layer.class_name()
                ),
            });
        }
        let params = named.layer.params_with(&input, &more);
        within_limits(named.layer.class_name(), &output, params).map_err(|message| CheckError {
            at: Site::Def(i),
            message,
        })?;
        for (k, state) in states.iter().enumerate() {
            let name = format!("{}[{}]", named.name, k + 1);
            shapes.insert(name, (state.clone(), from.clone()));
        }
        shapes.insert(named.name.clone(), (output.clone(), from));
        Ok(LayerInfo {
            name: named.name.clone(),
            class_name: named.layer.class_name(),
            params,
            input,
            more,
            output,
            inbound: named.inbound.clone(),
            states,
            nested: match &named.layer {
                Layer::Model(n) => Some(Box::new(n.0.check()?)),
                _ => None,
            },
            trainable: named.trainable,
        })
    }

    /// The functional form's names: each defined once, before its use, and used.
    fn check_names(&self) -> Result<(), CheckError> {
        let inputs: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        let states: Vec<Vec<String>> = self
            .layers
            .iter()
            .map(|l| {
                (1..=l.layer.states().len())
                    .map(|k| format!("{}[{k}]", l.name))
                    .collect()
            })
            .collect();
        let defs: Vec<Definition> = self
            .layers
            .iter()
            .zip(&states)
            .map(|(l, states)| Definition {
                names: vec![&l.name],
                spare: states.iter().map(String::as_str).collect(),
                uses: l.inbound.iter().map(String::as_str).collect(),
            })
            .collect();
        let outputs: Vec<&str> = self.outputs.iter().map(String::as_str).collect();
        if let Some((i, l)) = self
            .layers
            .iter()
            .enumerate()
            .find(|(_, l)| l.inbound.is_empty())
        {
            return Err(CheckError {
                at: Site::Def(i),
                message: format!(
                    "layer `{}` takes no tensor; name its inbound inputs or layers",
                    l.name
                ),
            });
        }
        match graph::check_names(&inputs, &defs, &outputs, "layer")
            .into_iter()
            .next()
        {
            Some((at, message)) => Err(CheckError { at, message }),
            None => Ok(()),
        }
    }

    /// The index of the layer whose activation the training forward splits off (the
    /// loss works on its logits): the last layer of a Sequential model; the layer giving a
    /// functional model's only output, when nothing else takes it.
    pub fn logits_layer(&self) -> Option<usize> {
        if !self.is_functional() {
            return self.layers.len().checked_sub(1);
        }
        let [output] = self.outputs.as_slice() else {
            return None;
        };
        let index = self.layers.iter().position(|l| &l.name == output)?;
        let taken = self.layers.iter().any(|l| l.inbound.contains(output));
        (!taken).then_some(index)
    }

    /// The activation the model ends with: that of its logits layer (softmax for a
    /// classifier), else linear. Losses use it to work on logits.
    pub fn final_activation(&self) -> Activation {
        self.logits_layer()
            .and_then(|i| self.layers[i].layer.activation())
            .unwrap_or(Activation::Linear)
    }

    /// The JSON form, Keras-like: `{"name", "input", "layers": [{"name", "class_name",
    /// "config"}]}`; a functional model has `inputs`, each layer's `inbound` and `outputs`.
    pub fn to_json(&self) -> String {
        // Serializing plain data to a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Keras's `model.summary()` table.
    ///
    /// # Errors
    /// [`CheckError`] when the shapes do not fit (never for a model made by `model!`).
    pub fn summary(&self) -> Result<Summary, CheckError> {
        self.check().map(Summary)
    }
}

/// A tensor's name in a graph: `lstm` (a layer's output, or an input) or `lstm[1]` (its
/// first state), as the layer's name and the output's index.
pub fn reference(name: &str) -> (&str, usize) {
    name.strip_suffix(']')
        .and_then(|r| r.rsplit_once('['))
        .and_then(|(base, k)| Some((base, k.parse().ok()?)))
        .unwrap_or((name, 0))
}

/// Gives layers Keras's default names: `dense`, `dense_1`, ...
#[derive(Default)]
pub struct Namer {
    seen: Vec<String>,
}

impl Namer {
    /// A namer that never gives `taken` (a functional model's input names).
    pub fn reserving(taken: impl IntoIterator<Item = String>) -> Self {
        Namer {
            seen: taken.into_iter().collect(),
        }
    }

    /// The next name for `layer`.
    pub fn name(&mut self, layer: &Layer) -> String {
        self.name_as(&layer.keras_name())
    }

    /// The next name from `base`: `base`, then `base_1`, `base_2`, ...
    pub fn name_as(&mut self, base: &str) -> String {
        let name = (0..)
            .map(|k| match k {
                0 => base.to_owned(),
                k => format!("{base}_{k}"),
            })
            .find(|n| !self.seen.contains(n))
            .unwrap_or_default();
        self.seen.push(name.clone());
        name
    }
}

/// A dimension of `shape` larger than [`MAX_SIZE`], if any.
fn past_max_size(shape: &Shape) -> Option<usize> {
    shape
        .dims()
        .iter()
        .filter_map(|d| d.known())
        .find(|&d| d > MAX_SIZE)
}

/// Refuses a softmax of images: Keras's runs along their channels, which kiln holds
/// first, so the last axis (the width) would not be what a Keras model means.
fn softmax_of_images(layer: &Layer, output: &Shape) -> Result<(), String> {
    // A TimeDistributed layer's softmax runs along its own layer's outputs, as Keras's.
    let frames = matches!(layer, Layer::TimeDistributed(_));
    if layer.activation() == Some(Activation::Softmax) && output.rank() == 3 && !frames {
        return Err(format!(
            "{} gives images {output} to a softmax, which Keras takes over each pixel's channels and kiln holds first; not in kiln yet: pool or flatten first (GlobalAveragePooling2D, Flatten)",
            layer.class_name()
        ));
    }
    Ok(())
}

/// A layer's output and weights within [`MAX_SIZE`] and [`MAX_PARAMS`].
fn within_limits(class_name: &str, output: &Shape, params: Params) -> Result<(), String> {
    if let Some(d) = past_max_size(output) {
        return Err(format!(
            "{class_name} gives {output}, a dimension of {d}, larger than kiln's largest size, {MAX_SIZE}"
        ));
    }
    if params.total() > MAX_PARAMS {
        return Err(format!(
            "{class_name} would hold {} parameters, more than kiln's limit of {MAX_PARAMS} (16 GiB of f32)",
            params.total()
        ));
    }
    Ok(())
}

fn check_input(input: &Shape) -> Result<(), String> {
    if let Some(d) = past_max_size(input) {
        return Err(format!(
            "the input shape {input} has a dimension of {d}, larger than kiln's largest size, {MAX_SIZE}"
        ));
    }
    if input.rank() == 0 {
        return Err("the input needs at least one dimension, e.g. input: [784]".into());
    }
    if input.dims().contains(&Dim::Known(0)) {
        return Err(format!(
            "the input shape {input} has a zero dimension; every size must be positive"
        ));
    }
    Ok(())
}

/// Keras's summary table of a checked model; print it with `{}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary(pub Checked);

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One row of the summary: layer (type), output shape, parameters, and in the
/// functional form one line per connection.
type Row = ([String; 3], Vec<String>);

/// The column titles.
const HEAD: [&str; 4] = ["Layer (type)", "Output Shape", "Param #", "Connected to"];

/// Keras's `['conv2d[0][0]', ...]` for the tensors a layer takes, one line each.
fn connections(names: &[String]) -> Vec<String> {
    if names.is_empty() {
        return vec!["[]".into()];
    }
    let last = names.len() - 1;
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let open = if i == 0 { "[" } else { " " };
            let close = if i == last { "]" } else { "," };
            let (base, k) = reference(n);
            format!("{open}'{base}[0][{k}]'{close}")
        })
        .collect()
}

/// The rows of `layers`, a nested model's layers following its row, indented.
fn layer_rows(layers: &[LayerInfo], depth: usize, rows: &mut Vec<Row>) {
    for l in layers {
        let shape = if l.states.is_empty() {
            l.output.keras()
        } else {
            let all: Vec<String> = std::iter::once(&l.output)
                .chain(&l.states)
                .map(Shape::keras)
                .collect();
            format!("[{}]", all.join(", "))
        };
        let indent = "  ".repeat(depth);
        rows.push((
            [
                format!("{indent}{} ({})", l.name, l.class_name),
                shape,
                thousands(l.params.total()),
            ],
            connections(&l.inbound),
        ));
        if let Some(nested) = &l.nested {
            layer_rows(&nested.layers, depth + 1, rows);
        }
    }
}

impl Summary {
    /// Every row: the inputs' (in the functional form), then the layers'.
    fn rows(&self) -> Vec<Row> {
        let checked = &self.0;
        let mut rows: Vec<Row> = checked
            .inputs
            .iter()
            .filter(|_| checked.functional)
            .map(|i| {
                let cells = [
                    format!("{} (InputLayer)", i.name),
                    format!("[{}]", i.shape.keras()),
                    "0".into(),
                ];
                (cells, connections(&[]))
            })
            .collect();
        layer_rows(&checked.layers, 0, &mut rows);
        rows
    }

    /// Each column's width; the connections' only in the functional form.
    fn widths(&self, rows: &[Row]) -> [usize; 4] {
        let width = |col: usize| {
            rows.iter()
                .map(|r| r.0[col].chars().count())
                .chain([HEAD[col].len()])
                .max()
                .unwrap_or(0)
                + 4
        };
        let connected = if self.0.functional {
            rows.iter()
                .flat_map(|r| r.1.iter().map(|c| c.chars().count()))
                .chain([HEAD[3].len()])
                .max()
                .unwrap_or(0)
                + 3
        } else {
            0
        };
        [width(0), width(1), width(2), connected]
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checked = &self.0;
        let rows = self.rows();
        let [w0, w1, w2, w3] = self.widths(&rows);
        let line = |c: char| c.to_string().repeat(w0 + w1 + w2 + w3 + 1);
        writeln!(f, "Model: \"{}\"", checked.name)?;
        writeln!(f, "{}", line('_'))?;
        write!(f, " {:<w0$}{:<w1$}{:>w2$}", HEAD[0], HEAD[1], HEAD[2])?;
        if checked.functional {
            write!(f, "   {}", HEAD[3])?;
        }
        writeln!(f)?;
        writeln!(f, "{}", line('='))?;
        for (i, ([name, shape, params], connected)) in rows.iter().enumerate() {
            write!(f, " {name:<w0$}{shape:<w1$}{params:>w2$}")?;
            if checked.functional {
                let pad = " ".repeat(1 + w0 + w1 + w2);
                for (k, c) in connected.iter().enumerate() {
                    if k > 0 {
                        write!(f, "\n{pad}")?;
                    }
                    write!(f, "   {c}")?;
                }
            }
            writeln!(f)?;
            if i + 1 < rows.len() {
                writeln!(f)?;
            }
        }
        writeln!(f, "{}", line('='))?;
        let p = checked.params();
        writeln!(f, "Total params: {}", thousands(p.total()))?;
        writeln!(f, "Trainable params: {}", thousands(p.trainable))?;
        writeln!(f, "Non-trainable params: {}", thousands(p.non_trainable))?;
        write!(f, "{}", line('_'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::*;

    /// The seed's MLP: 784 → Dense 128 relu → Dropout → Dense 128 relu → Dropout → Dense 10 softmax.
    fn mlp() -> ModelSpec {
        ModelSpec::sequential(
            "Mlp",
            s(&[Some(784)]),
            vec![
                layer("Dense", &[i(128)], &[("activation", n("relu"))]),
                layer("Dropout", &[f(0.2)], &[]),
                layer("Dense", &[i(128)], &[("activation", n("relu"))]),
                layer("Dropout", &[f(0.2)], &[]),
                layer("Dense", &[i(10)], &[("activation", n("softmax"))]),
            ],
        )
    }

    /// Keras's mnist_convnet example.
    fn convnet() -> ModelSpec {
        ModelSpec::sequential(
            "MnistConvnet",
            s(&[Some(1), Some(28), Some(28)]),
            vec![
                layer("Conv2D", &[i(32), i(3)], &[("activation", n("relu"))]),
                layer("MaxPooling2D", &[i(2)], &[]),
                layer("Conv2D", &[i(64), i(3)], &[("activation", n("relu"))]),
                layer("MaxPooling2D", &[i(2)], &[]),
                layer("Flatten", &[], &[]),
                layer("Dropout", &[f(0.5)], &[]),
                layer("Dense", &[i(10)], &[("activation", n("softmax"))]),
            ],
        )
    }

    #[test]
    fn parameter_totals_match_keras() {
        // Totals printed by Keras's model.summary() for the same models.
        assert_eq!(mlp().check().unwrap().params(), Params::trainable(118_282));
        assert_eq!(
            convnet().check().unwrap().params(),
            Params::trainable(34_826)
        );
    }

    #[test]
    fn sizes_left_to_run_time_are_checked_at_the_examples_sizes() {
        let conv = ModelSpec::sequential(
            "Steps",
            s(&[None, Some(4)]),
            vec![
                layer("Conv1D", &[i(8), i(5)], &[]),
                layer("GlobalAveragePooling1D", &[], &[]),
            ],
        );
        conv.check().unwrap();
        conv.check_sizes(&[vec![5, 4]]).unwrap();
        let short = conv.check_sizes(&[vec![3, 4]]).unwrap_err();
        assert_eq!(short.error.at, Site::Def(0));
        assert!(
            short.to_string().starts_with("examples of [3, 4]: Conv1D"),
            "{short}"
        );
        // A model whose sizes are all known was checked in full already.
        mlp().check_sizes(&[vec![784]]).unwrap();
    }

    #[test]
    fn names_follow_keras() {
        let names: Vec<String> = convnet().layers.into_iter().map(|l| l.name).collect();
        assert_eq!(
            names,
            [
                "conv2d",
                "max_pooling2d",
                "conv2d_1",
                "max_pooling2d_1",
                "flatten",
                "dropout",
                "dense"
            ]
        );
    }

    #[test]
    fn summary_is_keras_table() {
        let want = r#"Model: "MnistConvnet"
____________________________________________________________________
 Layer (type)                      Output Shape              Param #
====================================================================
 conv2d (Conv2D)                   (None, 32, 26, 26)            320

 max_pooling2d (MaxPooling2D)      (None, 32, 13, 13)              0

 conv2d_1 (Conv2D)                 (None, 64, 11, 11)         18,496

 max_pooling2d_1 (MaxPooling2D)    (None, 64, 5, 5)                0

 flatten (Flatten)                 (None, 1600)                    0

 dropout (Dropout)                 (None, 1600)                    0

 dense (Dense)                     (None, 10)                 16,010
====================================================================
Total params: 34,826
Trainable params: 34,826
Non-trainable params: 0
____________________________________________________________________"#;
        assert_eq!(convnet().summary().unwrap().to_string(), want);
    }

    #[test]
    fn the_check_names_the_layer_at_fault() {
        let mut bad = convnet();
        bad.layers.remove(4); // Flatten
        let err = bad.check().unwrap_err();
        assert_eq!(err.at, Site::Def(5));
        assert_eq!(
            err.message,
            "Dense expects a 1-D input [features], got [64, 5, 5] from Dropout; add Flatten before it"
        );
    }

    #[test]
    fn a_softmax_of_images_is_refused_but_not_of_each_frame_s_outputs() {
        use crate::{Call, Value};
        let call = |text: Call| Layer::from_call(&text).unwrap();
        let softmax = || Value::Name("softmax".into());
        let frames = ModelSpec::sequential(
            "Frames",
            Shape::known([4, 3, 5]),
            [call(Call::bare("TimeDistributed").arg(Value::Call(
                Call::bare("Dense").arg(2).kw("activation", softmax()),
            )))],
        );
        assert!(frames.check().is_ok());
        let image = ModelSpec::sequential(
            "Image",
            Shape::known([4, 3, 5]),
            [call(
                Call::bare("Conv2D")
                    .arg(2)
                    .arg(1)
                    .kw("activation", softmax()),
            )],
        );
        let err = image.check().unwrap_err();
        assert!(
            err.message
                .starts_with("Conv2D gives images [2, 3, 5] to a softmax"),
            "{}",
            err.message
        );
    }

    #[test]
    fn refuses_impossible_inputs() {
        let cases = [
            (
                s(&[]),
                "the input needs at least one dimension, e.g. input: [784]",
            ),
            (
                s(&[Some(0), Some(3)]),
                "the input shape [0, 3] has a zero dimension; every size must be positive",
            ),
        ];
        for (input, want) in cases {
            let m = ModelSpec::sequential("M", input, Vec::<Layer>::new());
            assert_eq!(
                m.check(),
                Err(CheckError {
                    at: Site::Input(0),
                    message: want.into()
                })
            );
        }
    }

    #[test]
    fn final_activation_is_the_last_layers() {
        assert_eq!(mlp().final_activation(), Activation::Softmax);
        let mut m = mlp();
        m.layers.push(NamedLayer {
            name: "flatten".into(),
            layer: layer("Flatten", &[], &[]),
            inbound: vec![],
            trainable: true,
            training: true,
        });
        assert_eq!(m.final_activation(), Activation::Linear);
    }

    #[test]
    fn json_round_trips_exactly() {
        let mut m = convnet();
        m.layers.insert(
            0,
            NamedLayer {
                name: "batch_normalization".into(),
                layer: layer("BatchNormalization", &[], &[("momentum", f(0.9))]),
                inbound: vec![],
                trainable: true,
                training: true,
            },
        );
        m.layers.push(NamedLayer {
            name: "dense_1".into(),
            layer: layer(
                "Dense",
                &[i(3)],
                &[
                    (
                        "kernel_regularizer",
                        crate::Value::Call(call(
                            "l1_l2",
                            &[],
                            &[("l1", f(1e-5)), ("l2", f(0.1 + 0.2))],
                        )),
                    ),
                    ("use_bias", crate::Value::Bool(false)),
                ],
            ),
            inbound: vec![],
            trainable: true,
            training: true,
        });
        let json = m.to_json();
        assert_eq!(ModelSpec::from_json(&json).unwrap(), m);
        assert!(json.contains(r#""class_name": "Conv2D""#), "{json}");
        assert!(json.contains(r#""kernel_size": ["#), "{json}");
    }

    #[test]
    fn json_that_does_not_fit_is_refused() {
        let mut m = convnet();
        m.layers.remove(4);
        let err = ModelSpec::from_json(&m.to_json()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model in this JSON does not fit: layer `dense`: Dense expects a 1-D input [features], got [64, 5, 5] from Dropout; add Flatten before it"
        );
        let mut m = convnet();
        m.layers[1].name = "conv2d".into();
        assert_eq!(
            ModelSpec::from_json(&m.to_json()).unwrap_err().to_string(),
            "two layers are named `conv2d`; layer names must be unique"
        );
        let err = ModelSpec::from_json(r#"{"name": "x", "input": [3], "layers": [{"name": "a", "class_name": "Dens", "config": {}}]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model in this JSON is refused: layer `a`: unknown layer `Dens`; did you mean `Dense`?"
        );
    }

    /// DESIGN.md's SkipNet, as `model!` lowers it.
    fn skipnet() -> ModelSpec {
        let node = |name: &str, l: Layer, inbound: &[&str]| NamedLayer {
            name: name.into(),
            layer: l,
            inbound: inbound.iter().map(|s| s.to_string()).collect(),
            trainable: true,
            training: true,
        };
        let conv = || layer("Conv2D", &[i(32), i(3)], &[("padding", n("same"))]);
        ModelSpec {
            name: "SkipNet".into(),
            inputs: vec![NamedShape {
                name: "x".into(),
                shape: s(&[Some(3), Some(32), Some(32)]),
            }],
            layers: vec![
                node("conv2d", conv(), &["x"]),
                node(
                    "batch_normalization",
                    layer("BatchNormalization", &[], &[]),
                    &["conv2d"],
                ),
                node(
                    "activation",
                    layer("Activation", &[n("relu")], &[]),
                    &["batch_normalization"],
                ),
                node("conv2d_1", conv(), &["activation"]),
                node("add", layer("Add", &[], &[]), &["activation", "conv2d_1"]),
                node(
                    "activation_1",
                    layer("Activation", &[n("relu")], &[]),
                    &["add"],
                ),
                node(
                    "global_average_pooling2d",
                    layer("GlobalAveragePooling2D", &[], &[]),
                    &["activation_1"],
                ),
                node(
                    "dense",
                    layer("Dense", &[i(10)], &[("activation", n("softmax"))]),
                    &["global_average_pooling2d"],
                ),
            ],
            outputs: vec!["dense".into()],
        }
    }

    #[test]
    fn a_functional_model_checks_its_graph() {
        let checked = skipnet().check().unwrap();
        assert_eq!(checked.output(), &s(&[Some(10)]));
        // Keras: 896 + 128 (64 non-trainable) + 9,248 + 330.
        assert_eq!(
            checked.params(),
            Params {
                trainable: 896 + 64 + 9_248 + 330,
                non_trainable: 64
            }
        );
        assert_eq!(skipnet().logits_layer(), Some(7));
        assert_eq!(skipnet().final_activation(), Activation::Softmax);
        let mut two = skipnet();
        two.outputs.push("activation_1".into());
        assert_eq!(two.logits_layer(), None);
        let mut taken = skipnet();
        taken.outputs = vec!["conv2d_1".into()];
        taken.layers.truncate(5);
        taken.layers[4].inbound = vec!["conv2d_1".into(), "activation".into()];
        taken.outputs = vec!["add".into()];
        assert_eq!(taken.logits_layer(), Some(4));
    }

    #[test]
    fn functional_json_round_trips_and_is_checked() {
        let m = skipnet();
        let json = m.to_json();
        assert!(json.contains(r#""inbound": ["#), "{json}");
        assert!(!json.contains(r#""input":"#), "{json}");
        assert_eq!(ModelSpec::from_json(&json).unwrap(), m);
        let refused = |edit: &dyn Fn(&mut ModelSpec)| {
            let mut m = skipnet();
            edit(&mut m);
            ModelSpec::from_json(&m.to_json()).unwrap_err().to_string()
        };
        type Edit<'a> = &'a dyn Fn(&mut ModelSpec);
        let cases: [(Edit, &str); 4] = [
            (
                &|m| m.layers[4].inbound[1] = "conv2d_9".into(),
                "layer `add`: `conv2d_9` is not defined: no input or layer has that name; did you mean `conv2d_1`?",
            ),
            (
                &|m| m.layers[3].layer = layer("Conv2D", &[i(16), i(3)], &[("padding", n("same"))]),
                "layer `add`: Add needs inputs of one shape, got [32, 32, 32] from `activation` and [16, 32, 32] from `conv2d_1`; make them agree (a Conv2D or Dense to match the channels, or Concatenate to join them)",
            ),
            (
                &|m| m.outputs = vec!["activation_1".into()],
                "`dense` is computed but never used; use it, make it an output, or remove it",
            ),
            (
                &|m| m.outputs.clear(),
                "a Sequential model has one input and no inbound names; give a graph its `outputs`",
            ),
        ];
        for (edit, want) in cases {
            assert_eq!(
                refused(edit),
                format!("the model in this JSON does not fit: {want}")
            );
        }
        let both = r#"{"name": "M", "input": [3], "inputs": [{"name": "x", "shape": [3]}], "layers": [], "outputs": ["x"]}"#;
        assert!(
            ModelSpec::from_json(both).unwrap_err().to_string().starts_with(
                "not a kiln model: a model has either `input` (Sequential) or both `inputs` and `outputs` (functional)"
            )
        );
    }

    #[test]
    fn a_functional_summary_shows_the_connections() {
        let want = r#"Model: "SkipNet"
_____________________________________________________________________________________________________________________________
 Layer (type)                                         Output Shape               Param #   Connected to
=============================================================================================================================
 x (InputLayer)                                       [(None, 3, 32, 32)]              0   []

 conv2d (Conv2D)                                      (None, 32, 32, 32)             896   ['x[0][0]']

 batch_normalization (BatchNormalization)             (None, 32, 32, 32)             128   ['conv2d[0][0]']

 activation (Activation)                              (None, 32, 32, 32)               0   ['batch_normalization[0][0]']

 conv2d_1 (Conv2D)                                    (None, 32, 32, 32)           9,248   ['activation[0][0]']

 add (Add)                                            (None, 32, 32, 32)               0   ['activation[0][0]',
                                                                                            'conv2d_1[0][0]']

 activation_1 (Activation)                            (None, 32, 32, 32)               0   ['add[0][0]']

 global_average_pooling2d (GlobalAveragePooling2D)    (None, 32)                       0   ['activation_1[0][0]']

 dense (Dense)                                        (None, 10)                     330   ['global_average_pooling2d[0][0]']
=============================================================================================================================
Total params: 10,602
Trainable params: 10,538
Non-trainable params: 64
_____________________________________________________________________________________________________________________________"#;
        assert_eq!(skipnet().summary().unwrap().to_string(), want);
    }

    #[test]
    fn final_states_are_named_after_their_layer() {
        let node = |name: &str, l: Layer, inbound: &[&str]| NamedLayer {
            name: name.into(),
            layer: l,
            inbound: inbound.iter().map(|s| s.to_string()).collect(),
            trainable: true,
            training: true,
        };
        let spec = |state: &str| ModelSpec {
            name: "States".into(),
            inputs: vec![NamedShape {
                name: "x".into(),
                shape: s(&[None, Some(3)]),
            }],
            layers: vec![
                node(
                    "lstm",
                    layer(
                        "LSTM",
                        &[i(4)],
                        &[("return_state", crate::Value::Bool(true))],
                    ),
                    &["x"],
                ),
                node(
                    "concatenate",
                    layer("Concatenate", &[], &[]),
                    &["lstm", state],
                ),
            ],
            outputs: vec!["concatenate".into()],
        };
        let checked = spec("lstm[2]").check().unwrap();
        assert_eq!(checked.output(), &s(&[Some(8)]));
        assert_eq!(checked.layers[0].states, vec![s(&[Some(4)]), s(&[Some(4)])]);
        assert_eq!(
            spec("lstm[3]").check().unwrap_err().message,
            "`lstm[3]` is not defined: no input or layer has that name; did you mean `lstm[1]`?"
        );
        let sequential = ModelSpec::sequential(
            "Seq",
            s(&[None, Some(3)]),
            vec![layer(
                "GRU",
                &[i(4)],
                &[("return_state", crate::Value::Bool(true))],
            )],
        );
        assert_eq!(
            sequential.check().unwrap_err().message,
            "GRU with return_state = true gives 2 tensors, which a Sequential model cannot pass on; use the functional form: `let (y, h) = x -> GRU(...);`"
        );
    }
}
