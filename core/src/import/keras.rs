//! Keras models (`model.save("net.keras")`): the architecture becomes a kiln [`ModelSpec`]
//! through `model!`'s own argument rules, printable as the `model!` declaration that
//! builds it, and the weights are read from `model.weights.h5` into kiln's layouts:
//! channels-last images become channels-first (`input: [28, 28, 1]` is `[1, 28, 28]`), a
//! Conv2D kernel `(height, width, in, out)` becomes `[out, in, height, width]`, and the
//! Dense after a Flatten of an image gets its rows in kiln's flattening order.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use kiln_spec::layers::{NormAxis, ScoreMode};
use kiln_spec::{Arg, Call, Declared, Layer, ModelSpec, NamedLayer, NamedShape, Shape, Value};
use serde_json::Value as Json;

use burn::tensor::backend::Backend;

use super::hdf5::{Dataset, Hdf5};
use super::zip::Zip;
use super::{Weight, safetensors_bytes};
use crate::error::TrainError;
use crate::runtime::JsonModel;

/// A Keras model read into kiln's terms.
#[derive(Clone, Debug)]
pub struct KerasModel {
    /// The architecture, with kiln's layer names.
    pub spec: ModelSpec,
    part: Part,
    /// Each weight under kiln's name, in kiln's layout.
    pub weights: Vec<Weight>,
}

/// Reads a Keras model saved as `.keras` (Keras 3: a zip of `config.json` and
/// `model.weights.h5`).
///
/// # Errors
/// When the file cannot be read, is not a Keras model, or holds a layer or an option kiln
/// does not have: the error names the layer and what it has.
pub fn keras(path: impl AsRef<Path>) -> Result<KerasModel, TrainError> {
    let path = path.as_ref();
    let fail = |reason: String| TrainError::File {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    KerasModel::read(&bytes).map_err(fail)
}

/// Loads Keras weights saved alone (`model.save_weights("net.weights.h5")`) into `model`,
/// whose declaration matches the Keras model's (as [`KerasModel::declaration`] prints it):
/// each layer's weights are read from the Keras layer of the same name, in kiln's layouts.
///
/// # Errors
/// When the file cannot be read, the model has no declaration, or a weight is missing or
/// does not fit.
pub fn keras_weights<B: Backend, M: crate::Model<B>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<crate::Loaded, TrainError> {
    let path = path.as_ref();
    let fail = |reason: String| TrainError::File {
        path: path.to_path_buf(),
        reason,
    };
    let spec = model.spec().ok_or_else(|| {
        TrainError::Setting(
            "Keras weights load into a model with a declaration (model! or JSON)".into(),
        )
    })?;
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let datasets = Hdf5::new(&bytes)
        .and_then(|h5| h5.datasets("layers"))
        .map_err(fail)?;
    let (weights, _) = weights(&spec, &datasets, "layers/", "").map_err(fail)?;
    crate::load::load_safetensors_bytes(model, safetensors_bytes(&weights)?)
}

impl KerasModel {
    /// Reads a `.keras` file's bytes; see [`keras`].
    ///
    /// # Errors
    /// [`TrainError::Unreadable`] saying why they are not a Keras model kiln can build,
    /// naming the part at fault.
    pub fn from_bytes(bytes: &[u8]) -> Result<KerasModel, TrainError> {
        Self::read(bytes).map_err(|reason| TrainError::Unreadable {
            what: "this Keras model file",
            reason,
        })
    }

    /// [`KerasModel::from_bytes`], its failure said plainly.
    fn read(bytes: &[u8]) -> Result<KerasModel, String> {
        let zip = Zip::new(bytes)?;
        let config = zip.read("config.json")?;
        let config: Json =
            serde_json::from_slice(&config).map_err(|e| format!("config.json is not JSON: {e}"))?;
        let weights = zip.read("model.weights.h5")?;
        let datasets = Hdf5::new(&weights)
            .and_then(|h5| h5.datasets("layers"))
            .map_err(|e| format!("model.weights.h5: {e}"))?;
        convert(&config, datasets)
    }

    /// The `model!` declaration of this model, named `name`, after those of the models it
    /// uses as layers: paste it into your code and the compiler checks it as any other.
    pub fn declaration(&self, name: &str) -> String {
        let mut text = String::new();
        self.part.declare(name, &mut text);
        text
    }

    /// The weights as a safetensors file under kiln's names, which
    /// [`load_weights`](crate::load_weights) reads into the declared model.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let path = path.as_ref();
        std::fs::write(path, safetensors_bytes(&self.weights)?).map_err(|e| TrainError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// The model, built at run time (a [`JsonModel`] taking tensors of rank `I` and giving
    /// rank `O`), with the Keras weights.
    ///
    /// # Errors
    /// When the ranks are not the model's.
    pub fn model<B: Backend, const I: usize, const O: usize>(
        &self,
        device: &B::Device,
    ) -> Result<JsonModel<B, I, O>, TrainError> {
        let mut model = JsonModel::new(self.spec.clone(), device)?;
        crate::load::load_safetensors_bytes(&mut model, safetensors_bytes(&self.weights)?)?;
        Ok(model)
    }
}

/// A model's declaration: its spec, the calls that declare its layers, and the models it
/// uses as layers.
#[derive(Clone, Debug)]
struct Part {
    spec: ModelSpec,
    calls: Vec<Call>,
    nested: Vec<Part>,
}

impl Part {
    /// Appends the declarations of the models it uses as layers, then its own, named
    /// `name`.
    fn declare(&self, name: &str, text: &mut String) {
        for nested in &self.nested {
            nested.declare(&nested.spec.name, text);
        }
        let _ = write!(text, "model! {{\n    pub struct {name} {{\n");
        if self.spec.is_functional() {
            self.graph_lines(text);
            text.push_str("    }\n}\n");
            return;
        }
        let dims: Vec<String> = self.spec.inputs[0]
            .shape
            .dims()
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(text, "        input: [{}],", dims.join(", "));
        for call in &self.calls {
            let call = if call.args.is_empty() {
                call.name.clone()
            } else {
                call.to_string()
            };
            let _ = writeln!(text, "        {call},");
        }
        text.push_str("    }\n}\n");
    }

    /// The functional form's lines: each input, one binding per layer, the outputs.
    fn graph_lines(&self, text: &mut String) {
        for input in &self.spec.inputs {
            let dims: Vec<String> = input.shape.dims().iter().map(ToString::to_string).collect();
            let _ = writeln!(text, "        input {}: [{}],", input.name, dims.join(", "));
        }
        // A recurrent layer's final states, `lstm[1]` in the graph, are bound as `lstm_h`.
        let mut states = HashMap::new();
        for layer in &self.spec.layers {
            for (k, state) in layer.layer.state_names().iter().enumerate() {
                let bound = format!("{}_{state}", layer.name);
                states.insert(format!("{}[{}]", layer.name, k + 1), bound);
            }
        }
        let named = |n: &String| states.get(n).unwrap_or(n).clone();
        // Every tensor the graph takes, by its name there (`lstm[1]` for a state).
        let used: HashSet<&str> = (self.spec.layers.iter().flat_map(|l| &l.inbound))
            .chain(&self.spec.outputs)
            .map(String::as_str)
            .collect();
        for (layer, call) in self.spec.layers.iter().zip(&self.calls) {
            let inbound: Vec<String> = layer.inbound.iter().map(named).collect();
            let step = if layer.layer.takes_several() {
                let mut merged = Call::bare(call.name.clone());
                merged.args = inbound
                    .into_iter()
                    .map(|n| Arg {
                        keyword: None,
                        value: Value::Name(n),
                    })
                    .chain(call.args.iter().cloned())
                    .collect();
                merged.to_string()
            } else if call.args.is_empty() {
                format!("{} -> {}", inbound.join(", "), call.name)
            } else {
                format!("{} -> {call}", inbound.join(", "))
            };
            let _ = writeln!(text, "        let {} = {step};", binding(layer, &used));
        }
        let outputs: Vec<String> = self.spec.outputs.iter().map(named).collect();
        let _ = writeln!(text, "        output {},", outputs.join(", "));
    }
}

/// What a functional layer's step binds: its name, or with final states a tuple of its
/// output and states (`(lstm, lstm_h, lstm_c)`), `_` for those the graph does not take.
fn binding(layer: &NamedLayer, used: &HashSet<&str>) -> String {
    let states = layer.layer.state_names();
    if states.is_empty() {
        return layer.name.clone();
    }
    let tensors = std::iter::once((layer.name.clone(), layer.name.clone())).chain(
        (states.iter().enumerate()).map(|(k, s)| {
            (
                format!("{}[{}]", layer.name, k + 1),
                format!("{}_{s}", layer.name),
            )
        }),
    );
    let names: Vec<String> = tensors
        .map(|(tensor, bound)| {
            if used.contains(tensor.as_str()) {
                bound
            } else {
                "_".into()
            }
        })
        .collect();
    format!("({})", names.join(", "))
}

/// `base` as `Base`, `sequential_1` as `Sequential1`: a model's Rust name.
fn camel(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The model's calls and weights from its Keras config and its HDF5 datasets.
fn convert(config: &Json, datasets: Vec<(String, Dataset)>) -> Result<KerasModel, String> {
    let name = config["config"]["name"].as_str().unwrap_or("Imported");
    let part = part(config, &camel(name))?;
    let (weights, _) = weights(&part.spec, &datasets, "layers/", "")?;
    Ok(KerasModel {
        spec: part.spec.clone(),
        part,
        weights,
    })
}

/// The declaration of a Keras model (the whole file's, or one used as a layer), named
/// `name`.
fn part(model: &Json, name: &str) -> Result<Part, String> {
    let layers = model["config"]["layers"]
        .as_array()
        .ok_or("config.json has no layers")?;
    match model["class_name"].as_str().unwrap_or("?") {
        "Sequential" => sequential(name, layers),
        "Functional" => functional(name, &model["config"], layers),
        other => Err(format!(
            "a Keras {other} model; kiln imports Sequential and functional models"
        )),
    }
}

/// A layer of a Keras model: kiln's layer, the call that declares it, and its own
/// declaration when it is a model used as a layer (`Model(Base)`); `rank` is its (first)
/// input's example rank, where known.
fn layer_of(
    class: &str,
    layer: &Json,
    rank: Option<usize>,
) -> Result<(Declared, Call, Option<Part>), String> {
    let name = layer["config"]["name"].as_str().unwrap_or("?");
    if class == "Sequential" || class == "Functional" {
        let model = camel(layer["config"]["name"].as_str().unwrap_or("Nested"));
        let nested = part(layer, &model)?;
        let call = Call::bare("Model").arg(Value::Name(model));
        // The call options a nested model takes are checked, none kept.
        with_call_options(call.clone(), layer)
            .map_err(|e| format!("layer `{name}` ({class}): {e}"))?;
        let one = Layer::Model(kiln_spec::layers::Nested(Box::new(nested.spec.clone())));
        return Ok((Declared::from(one), call, Some(nested)));
    }
    let call = layer_call(class, layer, rank)?;
    let declared = Declared::read(&call).map_err(|e| {
        let messages: Vec<String> = e.into_iter().map(|e| e.message).collect();
        format!("layer `{name}` ({class}): {}", messages.join("; "))
    })?;
    Ok((declared, call, None))
}

/// A Sequential model's declaration.
fn sequential(name: &str, layers: &[Json]) -> Result<Part, String> {
    let mut input = None;
    let (mut kiln, mut calls, mut nested) = (Vec::new(), Vec::new(), Vec::new());
    for layer in layers {
        let class = layer["class_name"].as_str().unwrap_or("?");
        let config = &layer["config"];
        if class == "InputLayer" {
            input = Some(shape(&config["batch_shape"])?);
            continue;
        }
        if input.is_none() {
            input = Some(shape(&layer["build_config"]["input_shape"])?);
        }
        // The input's rank, for an axis counted from the batch.
        let rank = match (&input, config.get("axis")) {
            (Some(input), Some(_)) => {
                let so_far = ModelSpec::sequential(name, channels_first(input), kiln.clone());
                let checked = so_far.check().map_err(|e| e.to_string())?;
                let last = checked.layers.last();
                Some(last.map_or(input.len(), |l| l.output.dims().len()))
            }
            _ => None,
        };
        let (one, call, part) = layer_of(class, layer, rank)?;
        kiln.push(one);
        calls.push(call);
        nested.extend(part);
    }
    let input = input.ok_or("the model declares no input shape")?;
    let spec = ModelSpec::sequential(name, channels_first(&input), kiln);
    spec.check().map_err(|e| e.to_string())?;
    Ok(Part {
        spec,
        calls,
        nested,
    })
}

/// A layer's call, its errors naming it; `rank` is its (first) input's example rank, where
/// known.
fn layer_call(class: &str, layer: &Json, rank: Option<usize>) -> Result<Call, String> {
    let name = layer["config"]["name"].as_str().unwrap_or("?");
    let call = if Layer::MERGES.contains(&class) {
        merge(class, &layer["config"], rank.unwrap_or(1))
    } else if class == "PReLU" {
        prelu(layer)
    } else {
        call(class, &last_axis(&layer["config"], rank)).and_then(|c| with_call_options(c, layer))
    };
    call.map_err(|e| format!("layer `{name}` ({class}): {e}"))
}

/// `config` with an `axis` counted from the batch that names the last axis of its input
/// (of examples of `rank` dimensions, where known) written as Keras's -1, the one kiln reads:
/// `Normalization(axis=3)` on images is per channel, `LayerNormalization(axis=1)` on
/// vectors per feature.
fn last_axis(config: &Json, rank: Option<usize>) -> Json {
    let mut config = config.clone();
    let last = |axis: &mut Json| {
        if rank.is_some_and(|rank| axis.as_u64() == u64::try_from(rank).ok()) {
            *axis = Json::from(-1);
        }
    };
    match config.get_mut("axis") {
        // Several axes stay as written, for the error.
        Some(Json::Array(axes)) if axes.len() == 1 => last(&mut axes[0]),
        Some(Json::Array(_)) | None => {}
        Some(axis) => last(axis),
    }
    config
}

/// A merge's call: its keyword arguments (the tensors are the graph's); Keras's
/// Concatenate axis of channels-last images in kiln's channels-first order.
fn merge(class: &str, config: &Json, rank: usize) -> Result<Call, String> {
    let mut out = Call::bare(class);
    if class == "Concatenate" {
        let axis = config["axis"].as_i64().unwrap_or(-1);
        let rank = i64::try_from(rank).map_err(|_| "a rank too large")?;
        let positive = if axis < 0 { axis + rank + 1 } else { axis };
        // Keras's image axes (batch 0) 1, 2, 3 are height, width, channels: kiln's 2, 3, 1.
        let kiln = match (rank, positive) {
            (3, 1) => 2,
            (3, 2) => 3,
            (3, 3) => 1,
            (_, a) => a,
        };
        out.args.push(Arg {
            keyword: Some("axis".into()),
            value: Value::Int(kiln),
        });
    }
    Ok(out)
}

/// `call` with the options Keras takes when the layer is called rather than built: the
/// attentions' `use_causal_mask`. A recorded `training=False` is left out, as Keras 3's
/// functional models give every layer `fit`'s phase over it (keras-team/keras#20285; an
/// RNN records it by default). Masks, returned attention scores and `training=True` are
/// refused.
fn with_call_options(mut call: Call, layer: &Json) -> Result<Call, String> {
    let kwargs = &layer["inbound_nodes"][0]["kwargs"];
    let Json::Object(options) = kwargs else {
        return Ok(call);
    };
    for (key, value) in options {
        match (key.as_str(), value) {
            ("use_causal_mask", Json::Bool(true)) => call.args.push(Arg {
                keyword: Some(key.clone()),
                value: Value::Bool(true),
            }),
            // The tensors (read by `inbound`), and options left at what kiln does.
            ("query" | "value" | "key", _) | (_, Json::Null | Json::Bool(false)) => {}
            (key, _) => return Err(format!("calling it with `{key}` is not in kiln")),
        }
    }
    Ok(call)
}

/// The Keras tensors a functional layer takes: `(layer name, tensor index, example rank)`
/// of each (the rank where the file gives the tensor's shape).
fn inbound(layer: &Json) -> Result<Vec<(String, usize, Option<usize>)>, String> {
    let nodes = layer["inbound_nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [node] = nodes else {
        return Err(format!(
            "layer `{}` is called {} times; kiln imports layers called once",
            layer["name"].as_str().unwrap_or("?"),
            nodes.len()
        ));
    };
    // A merge's list of tensors, or each tensor given (an attention's query and value),
    // then those given by name (an attention's key).
    let arg = &node["args"][0];
    let mut tensors: Vec<&Json> = match arg.as_array() {
        Some(list) => list.iter().collect(),
        None => node["args"].as_array().into_iter().flatten().collect(),
    };
    let named = ["query", "value", "key"].map(|key| &node["kwargs"][key]);
    tensors.extend(named.into_iter().filter(|t| t.is_object()));
    if tensors.is_empty() {
        return Err(format!(
            "layer `{}`'s call names no tensor kiln can read (Keras 3 files list them in `args`)",
            layer["name"].as_str().unwrap_or("?")
        ));
    }
    tensors
        .into_iter()
        .map(|t| {
            let history = &t["config"]["keras_history"];
            let name = history[0]
                .as_str()
                .ok_or("an inbound tensor without its layer")?;
            let rank = t["config"]["shape"]
                .as_array()
                .map(|s| s.len().saturating_sub(1));
            Ok((name.to_owned(), index(&history[2]), rank))
        })
        .collect()
}

/// A functional model's spec and calls: each layer named as kiln names it, taking the
/// layers its Keras node takes.
fn functional(name: &str, config: &Json, layers: &[Json]) -> Result<Part, String> {
    let mut inputs = Vec::new();
    let mut named: Vec<NamedLayer> = Vec::new();
    let (mut calls, mut nested) = (Vec::new(), Vec::new());
    // Keras's layer names to kiln's node names.
    let mut nodes: HashMap<String, String> = HashMap::new();
    let mut namer = kiln_spec::Namer::default();
    for layer in layers {
        let class = layer["class_name"].as_str().unwrap_or("?");
        let keras = layer["name"].as_str().unwrap_or("?").to_owned();
        if class == "InputLayer" {
            inputs.push(NamedShape {
                name: keras.clone(),
                shape: channels_first(&shape(&layer["config"]["batch_shape"])?),
            });
            nodes.insert(keras.clone(), keras);
            continue;
        }
        let takes = inbound(layer)?;
        let rank = takes.first().and_then(|t| t.2);
        let (one, call, part) = layer_of(class, layer, rank)?;
        nested.extend(part);
        let inbound = takes
            .iter()
            .map(|(t, k, _)| {
                nodes
                    .get(t)
                    .map(|node| tensor_of(node, *k))
                    .ok_or_else(|| format!("layer `{keras}` takes `{t}`, which comes later"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let kiln = namer.name(&one.layer);
        nodes.insert(keras, kiln.clone());
        named.push(NamedLayer {
            name: kiln,
            layer: one.layer,
            inbound,
            trainable: true,
            training: one.training,
        });
        calls.push(call);
    }
    let spec = ModelSpec {
        name: name.into(),
        inputs,
        layers: named,
        outputs: outputs(config, &nodes)?,
    };
    spec.check().map_err(|e| e.to_string())?;
    Ok(Part {
        spec,
        calls,
        nested,
    })
}

/// A functional model's outputs, as kiln names their nodes; `nodes` maps Keras's layer
/// names to kiln's.
fn outputs(config: &Json, nodes: &HashMap<String, String>) -> Result<Vec<String>, String> {
    let outputs = config["output_layers"]
        .as_array()
        .ok_or("the model names no outputs")?;
    // One output is `["dense", 0, 0]`; several, a list of those.
    let outputs: Vec<&Json> = if outputs.first().is_some_and(Json::is_string) {
        vec![&config["output_layers"]]
    } else {
        outputs.iter().collect()
    };
    outputs
        .into_iter()
        .map(|o| {
            let keras = o[0].as_str().unwrap_or("?");
            nodes
                .get(keras)
                .map(|node| tensor_of(node, index(&o[2])))
                .ok_or_else(|| format!("the output `{keras}` is not a layer"))
        })
        .collect()
}

/// The index of a Keras layer's output tensor (`keras_history`'s last entry): 0 for its
/// output, `k` for a recurrent layer's `k`-th final state.
fn index(value: &Json) -> usize {
    value
        .as_u64()
        .and_then(|k| usize::try_from(k).ok())
        .unwrap_or(0)
}

/// Kiln's name of tensor `k` of the node `node`: the node's own for its output, `lstm[1]`
/// for its first final state.
fn tensor_of(node: &str, k: usize) -> String {
    match k {
        0 => node.to_owned(),
        k => format!("{node}[{k}]"),
    }
}

/// A Keras batch shape `[null, 28, 28, 1]` as the example's dimensions.
fn shape(value: &Json) -> Result<Vec<usize>, String> {
    let dims = value.as_array().ok_or("the input shape is missing")?;
    dims.iter()
        .skip(1)
        .map(|d| {
            d.as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .ok_or_else(|| format!("input dimension {d} is not a known size"))
        })
        .collect()
}

/// Keras's channels-last example shape in kiln's order: an image `[h, w, c]` is
/// `[c, h, w]`; other ranks are alike.
fn channels_first(keras: &[usize]) -> Shape {
    match keras {
        &[h, w, c] => Shape::known([c, h, w]),
        other => Shape::known(other.iter().copied()),
    }
}

/// The `model!` call of a Keras layer, with only what differs from the defaults.
fn call(class: &str, config: &Json) -> Result<Call, String> {
    let mut out = Call::bare(class);
    match class {
        "Dense" => {
            out.args.push(positional(&config["units"])?);
            weight_options(&mut out, config)?;
        }
        "Conv1D" | "Conv2D" | "Conv2DTranspose" => conv(&mut out, config)?,
        "DepthwiseConv2D" => depthwise(&mut out, config)?,
        "SeparableConv2D" => separable(&mut out, config)?,
        "MaxPooling1D" | "MaxPooling2D" | "AveragePooling1D" | "AveragePooling2D" => {
            pooling(&mut out, config)?;
        }
        "GlobalAveragePooling2D"
        | "GlobalMaxPooling2D"
        | "GlobalAveragePooling1D"
        | "GlobalMaxPooling1D" => global_pooling(config)?,
        "ZeroPadding2D" | "UpSampling1D" | "ZeroPadding1D" | "Cropping1D" | "Cropping2D"
        | "UpSampling2D" => resizing(&mut out, class, config)?,
        "RepeatVector" => out.args.push(positional(&config["n"])?),
        "Permute" => out.args.push(Arg {
            keyword: None,
            value: permutation(&config["dims"])?,
        }),
        "Flatten" => channels_last(config)?,
        "Embedding" => embedding(&mut out, config)?,
        "SimpleRNN" | "GRU" | "LSTM" => recurrent(&mut out, class, config)?,
        "Bidirectional" => bidirectional(&mut out, config)?,
        "Dot" => dot(&mut out, config)?,
        "MultiHeadAttention" => attention(&mut out, config)?,
        "Attention" | "AdditiveAttention" => score_attention(&mut out, class, config)?,
        "Dropout" | "GaussianDropout" | "SpatialDropout1D" => {
            out.args.push(positional(&config["rate"])?);
        }
        "SpatialDropout2D" => {
            channels_last(config)?;
            out.args.push(positional(&config["rate"])?);
        }
        "GaussianNoise" => out.args.push(positional(&config["stddev"])?),
        "Rescaling" => rescaling(&mut out, config)?,
        "Reshape" => reshape(&mut out, config)?,
        "Activation" => out.args.push(positional(&config["activation"])?),
        "ReLU" | "LeakyReLU" | "ELU" | "Softmax" => activation_layer(&mut out, class, config)?,
        "BatchNormalization" => batch_norm(&mut out, config)?,
        "LayerNormalization" => layer_norm(&mut out, config)?,
        "Normalization" => normalization(&mut out, config)?,
        "GroupNormalization" => group_norm(&mut out, config)?,
        "UnitNormalization" => layer_norm_axis(&mut out, config)?,
        "Identity" => {}
        "RandomFlip" | "RandomRotation" | "RandomTranslation" | "RandomZoom" | "RandomContrast"
        | "RandomBrightness" | "RandomGrayscale" => augmentation(&mut out, class, config)?,
        "ActivityRegularization" => {
            for key in ["l1", "l2"] {
                keyword_unless(&mut out, key, number(&config[key])?, &Value::Float(0.0));
            }
        }
        other => return Err(not_imported(other)),
    }
    Ok(out)
}

/// The error for a layer class the import does not know.
fn not_imported(other: &str) -> String {
    format!(
        "kiln imports Dense, Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D, the global poolings, ZeroPadding2D, Cropping2D, UpSampling2D, RepeatVector, Flatten, Reshape, Dropout, GaussianNoise, GaussianDropout, SpatialDropout1D, SpatialDropout2D, Rescaling, Activation, BatchNormalization, LayerNormalization, Embedding, SimpleRNN, GRU, LSTM, Bidirectional, MultiHeadAttention, Attention, AdditiveAttention, Permute, ReLU, LeakyReLU, PReLU, ELU, Softmax, Dot, UpSampling1D, ZeroPadding1D, Cropping1D, Normalization, GroupNormalization, UnitNormalization, Identity, ActivityRegularization, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast, RandomBrightness, RandomGrayscale and the merges; not {other} yet"
    )
}

/// The arguments of a layer that pads, crops or repeats the steps or pixels of its input.
fn resizing(out: &mut Call, class: &str, config: &Json) -> Result<(), String> {
    match class {
        "ZeroPadding2D" => borders(out, config, "padding"),
        "UpSampling1D" => {
            keyword_unless(out, "size", scalar(&config["size"])?, &Value::Int(2));
            Ok(())
        }
        "ZeroPadding1D" => {
            channels_last(config)?;
            out.args.push(ends(&config["padding"])?);
            Ok(())
        }
        "Cropping1D" => {
            out.args.push(ends(&config["cropping"])?);
            Ok(())
        }
        "Cropping2D" => borders(out, config, "cropping"),
        _ => up_sampling(out, config),
    }
}

/// An augmentation layer's factors, and its other arguments unless Keras's defaults; its
/// seed is left out, as kiln's draws come from the backend's random numbers (`Fit::seed`).
fn augmentation(out: &mut Call, class: &str, config: &Json) -> Result<(), String> {
    channels_last(config)?;
    let read = |key: &str| factor(&config[key]).map_err(|e| format!("its {key}: {e}"));
    let positional = |key: &str| -> Result<Arg, String> {
        Ok(Arg {
            keyword: None,
            value: read(key)?,
        })
    };
    match class {
        "RandomFlip" => {
            let mode = name(&config["mode"])?;
            if mode != Value::Name("horizontal_and_vertical".into()) {
                out.args.push(Arg {
                    keyword: None,
                    value: mode,
                });
            }
            return Ok(());
        }
        "RandomContrast" | "RandomBrightness" => {
            out.args.push(positional("factor")?);
            let range = factor(&config["value_range"])?;
            let keras = Value::Tuple(vec![Value::Float(0.0), Value::Float(255.0)]);
            keyword_unless(out, "value_range", range, &keras);
            return Ok(());
        }
        "RandomGrayscale" => {
            out.args.push(positional("factor")?);
            return Ok(());
        }
        "RandomRotation" => out.args.push(positional("factor")?),
        "RandomTranslation" => {
            out.args.push(positional("height_factor")?);
            out.args.push(positional("width_factor")?);
        }
        _ => {
            out.args.push(positional("height_factor")?);
            if !config["width_factor"].is_null() {
                out.args.push(Arg {
                    keyword: Some("width_factor".into()),
                    value: read("width_factor")?,
                });
            }
        }
    }
    let defaults = [
        ("fill_mode", Value::Name("reflect".into())),
        ("fill_value", Value::Float(0.0)),
        ("interpolation", Value::Name("bilinear".into())),
    ];
    for (key, default) in defaults {
        keyword_unless(out, key, scalar(&config[key])?, &default);
    }
    Ok(())
}

/// An augmentation's factor or value range: a number, or a pair `(low, high)`.
fn factor(value: &Json) -> Result<Value, String> {
    match value.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok(Value::Tuple(vec![number(a)?, number(b)?])),
        _ => number(value),
    }
}

/// A LayerNormalization's epsilon and centring unless Keras's defaults; an axis other
/// than the last, no scaling, and RMS scaling go to `model!`'s rules or are refused.
fn layer_norm(out: &mut Call, config: &Json) -> Result<(), String> {
    if config["rms_scaling"].as_bool() == Some(true) {
        return Err("rms_scaling = true is not in kiln".into());
    }
    per_feature_norm(out, config)
}

/// A GroupNormalization's groups, then its other arguments (see `per_feature_norm`).
fn group_norm(out: &mut Call, config: &Json) -> Result<(), String> {
    let groups = scalar(&config["groups"])?;
    if groups != Value::Int(32) {
        out.args.push(Arg {
            keyword: None,
            value: groups,
        });
    }
    per_feature_norm(out, config)
}

/// A LayerNormalization's or GroupNormalization's axis, epsilon, centring and scaling
/// unless Keras's defaults; regularizers and constraints of its weights are refused.
fn per_feature_norm(out: &mut Call, config: &Json) -> Result<(), String> {
    unset(
        config,
        &[
            "beta_regularizer",
            "gamma_regularizer",
            "beta_constraint",
            "gamma_constraint",
        ],
        "kiln's normalizations",
    )?;
    layer_norm_axis(out, config)?;
    keyword_unless(
        out,
        "epsilon",
        number(&config["epsilon"])?,
        &Value::Float(1e-3),
    );
    for key in ["center", "scale"] {
        keyword_unless(out, key, scalar(&config[key])?, &Value::Bool(true));
    }
    Ok(())
}

/// The axis of a normalization of the features, `-1` (or `[-1]`), which is kiln's default;
/// another goes to `model!`'s rule, which names it.
fn layer_norm_axis(out: &mut Call, config: &Json) -> Result<(), String> {
    let axis = match &config["axis"] {
        Json::Array(items) if items.len() == 1 => scalar(&items[0]),
        other => scalar(other),
    };
    let axis = axis.map_err(|e| format!("its axis: {e}; kiln normalizes the last axis only"))?;
    keyword_unless(out, "axis", axis, &Value::Int(-1));
    Ok(())
}

/// A Normalization's axis (Keras's `[-1]`, or `[]` for `axis = None`), its given mean
/// and variance (a number or one per feature), and `invert`.
fn normalization(out: &mut Call, config: &Json) -> Result<(), String> {
    let axis = match &config["axis"] {
        Json::Array(items) if items.is_empty() => Value::Name("None".into()),
        Json::Null => Value::Name("None".into()),
        Json::Array(items) if items.len() == 1 => scalar(&items[0])?,
        other => scalar(other)?,
    };
    if axis != Value::Int(-1) && axis != Value::Name("None".into()) {
        return Err(format!(
            "its axis {}; kiln normalizes per feature (-1) or over all values (None)",
            config["axis"]
        ));
    }
    keyword_unless(out, "axis", axis, &Value::Int(-1));
    for key in ["mean", "variance"] {
        let given = match &config[key] {
            Json::Null => continue,
            Json::Array(items) => items
                .iter()
                .map(number)
                .collect::<Result<_, _>>()
                .map(Value::Tuple),
            one => number(one),
        };
        out.args.push(Arg {
            keyword: Some(key.into()),
            value: given.map_err(|e| format!("its {key}: {e}"))?,
        });
    }
    keyword_unless(
        out,
        "invert",
        scalar(&config["invert"]).unwrap_or(Value::Bool(false)),
        &Value::Bool(false),
    );
    Ok(())
}

/// Refuses any of `keys` that `config` sets: `{key} is not in {what}`.
fn unset(config: &Json, keys: &[&str], what: &str) -> Result<(), String> {
    match keys.iter().find(|key| !config[**key].is_null()) {
        Some(key) => Err(format!("{key} is not in {what}")),
        None => Ok(()),
    }
}

/// Refuses a global pooling that keeps its dimensions, or of channels-first data.
fn global_pooling(config: &Json) -> Result<(), String> {
    channels_last(config)?;
    match config["keepdims"].as_bool() {
        Some(true) => Err("keepdims = true is not in kiln".into()),
        _ => Ok(()),
    }
}

/// An UpSampling2D's factors, and its interpolation unless Keras's default.
fn up_sampling(out: &mut Call, config: &Json) -> Result<(), String> {
    channels_last(config)?;
    out.args.push(Arg {
        keyword: None,
        value: pair(&config["size"])?,
    });
    let interpolation = name(&config["interpolation"])?;
    keyword_unless(
        out,
        "interpolation",
        interpolation,
        &Value::Name("nearest".into()),
    );
    Ok(())
}

/// A Rescaling's one factor, and its offset unless 0 (a factor per channel is refused).
fn rescaling(out: &mut Call, config: &Json) -> Result<(), String> {
    out.args.push(Arg {
        keyword: None,
        value: number(&config["scale"]).map_err(|e| format!("its scale: {e}"))?,
    });
    if !config["offset"].is_null() {
        let offset = number(&config["offset"]).map_err(|e| format!("its offset: {e}"))?;
        keyword_unless(out, "offset", offset, &Value::Float(0.0));
    }
    Ok(())
}

/// A ZeroPadding2D's or Cropping2D's `((top, bottom), (left, right))`, from its config's
/// `key`.
fn borders(out: &mut Call, config: &Json, key: &str) -> Result<(), String> {
    channels_last(config)?;
    let sides = config[key]
        .as_array()
        .filter(|s| s.len() == 2)
        .ok_or_else(|| format!("its {key} is not two pairs: {}", config[key]))?;
    let sides = sides
        .iter()
        .map(|side| match side.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok(Value::Tuple(vec![scalar(a)?, scalar(b)?])),
            _ => Err(format!("its {key} is not two pairs: {}", config[key])),
        });
    out.args.push(Arg {
        keyword: None,
        value: Value::Tuple(sides.collect::<Result<_, String>>()?),
    });
    Ok(())
}

/// A ZeroPadding1D's or Cropping1D's steps at each end: `n` or `(before, after)`.
fn ends(value: &Json) -> Result<Arg, String> {
    let value = match value.as_array().map(Vec::as_slice) {
        Some([a, b]) => Value::Tuple(vec![scalar(a)?, scalar(b)?]),
        _ => scalar(value)?,
    };
    Ok(Arg {
        keyword: None,
        value,
    })
}

/// Refuses a layer whose `data_format` is not Keras's default, channels last.
fn channels_last(config: &Json) -> Result<(), String> {
    match config["data_format"].as_str() {
        None | Some("channels_last") => Ok(()),
        Some(other) => Err(format!(
            "data_format {other}; kiln reads channels_last models"
        )),
    }
}

/// A Conv1D's, Conv2D's or Conv2DTranspose's arguments: filters, kernel size, strides,
/// padding, dilation and the weight options (a transposed one without `output_padding`).
fn conv(out: &mut Call, config: &Json) -> Result<(), String> {
    channels_last(config)?;
    // A Conv2DTranspose's.
    if !config["output_padding"].is_null() {
        return Err("output_padding is not in kiln".into());
    }
    if config["groups"].as_u64().unwrap_or(1) != 1 {
        return Err("grouped convolutions are not in kiln".into());
    }
    out.args.push(positional(&config["filters"])?);
    window(out, config)
}

/// A DepthwiseConv2D's arguments: its window, multiplier and weight options (its kernel's
/// regularizer Keras's `depthwise_regularizer`).
fn depthwise(out: &mut Call, config: &Json) -> Result<(), String> {
    channels_last(config)?;
    if !config["depthwise_constraint"].is_null() {
        return Err("depthwise_constraint is not in kiln".into());
    }
    window(out, config)?;
    let multiplier = scalar(&config["depth_multiplier"])?;
    keyword_unless(out, "depth_multiplier", multiplier, &Value::Int(1));
    if let Some(r) = regularizer(&config["depthwise_regularizer"])? {
        out.args.push(Arg {
            keyword: Some("depthwise_regularizer".into()),
            value: r,
        });
    }
    Ok(())
}

/// A SeparableConv2D's arguments: a Conv2D's and its multiplier; its two kernels'
/// regularizers and constraints are refused (kiln has none for them yet).
fn separable(out: &mut Call, config: &Json) -> Result<(), String> {
    conv(out, config)?;
    let multiplier = scalar(&config["depth_multiplier"])?;
    keyword_unless(out, "depth_multiplier", multiplier, &Value::Int(1));
    let kernels = [
        "depthwise_regularizer",
        "pointwise_regularizer",
        "depthwise_constraint",
        "pointwise_constraint",
    ];
    unset(config, &kernels, "kiln yet")
}

/// A convolution's kernel size, strides, padding, dilation and weight options.
fn window(out: &mut Call, config: &Json) -> Result<(), String> {
    out.args.push(Arg {
        keyword: None,
        value: pair(&config["kernel_size"])?,
    });
    keyword_unless(out, "strides", pair(&config["strides"])?, &Value::Int(1));
    keyword_unless(
        out,
        "padding",
        name(&config["padding"])?,
        &Value::Name("valid".into()),
    );
    keyword_unless(
        out,
        "dilation_rate",
        pair(&config["dilation_rate"])?,
        &Value::Int(1),
    );
    weight_options(out, config)
}

/// A pooling layer's arguments: its window, and its strides and padding when they differ
/// from Keras's defaults (strides as the window, valid padding).
fn pooling(out: &mut Call, config: &Json) -> Result<(), String> {
    channels_last(config)?;
    let size = pair(&config["pool_size"])?;
    let strides = match &config["strides"] {
        Json::Null => size.clone(),
        other => pair(other)?,
    };
    out.args.push(Arg {
        keyword: None,
        value: size.clone(),
    });
    keyword_unless(out, "strides", strides, &size);
    keyword_unless(
        out,
        "padding",
        name(&config["padding"])?,
        &Value::Name("valid".into()),
    );
    Ok(())
}

/// An Embedding's arguments: its vocabulary and width; masks, regularizers and
/// constraints are refused.
fn embedding(out: &mut Call, config: &Json) -> Result<(), String> {
    out.args.push(positional(&config["input_dim"])?);
    out.args.push(positional(&config["output_dim"])?);
    if config["mask_zero"] == Json::Bool(true) {
        return Err("mask_zero = true is not in kiln".into());
    }
    unset(
        config,
        &["embeddings_regularizer", "embeddings_constraint"],
        "kiln",
    )?;
    Ok(())
}

/// A Reshape's target shape, an image's in kiln's channels-first order.
fn reshape(out: &mut Call, config: &Json) -> Result<(), String> {
    let target = config["target_shape"]
        .as_array()
        .ok_or("its target_shape is missing")?
        .iter()
        .map(|d| {
            d.as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .ok_or_else(|| format!("target dimension {d} is not a known size"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dims = channels_first(&target)
        .dims()
        .iter()
        .map(|d| Value::Int(d.known().unwrap_or(0) as i64))
        .collect();
    out.args.push(Arg {
        keyword: None,
        value: Value::Tuple(dims),
    });
    Ok(())
}

/// A BatchNormalization's momentum and epsilon when they differ from Keras's defaults;
/// other axes than the channels', and turning off its centring or scaling, are refused.
fn batch_norm(out: &mut Call, config: &Json) -> Result<(), String> {
    let axis = config["axis"].as_i64().unwrap_or(-1);
    if axis != -1 {
        return Err(format!(
            "axis {axis}; kiln normalizes the channels (Keras's axis -1)"
        ));
    }
    if config["center"] == Json::Bool(false) || config["scale"] == Json::Bool(false) {
        return Err("center = false or scale = false is not in kiln".into());
    }
    keyword_unless(
        out,
        "momentum",
        number(&config["momentum"])?,
        &Value::Float(0.99),
    );
    keyword_unless(
        out,
        "epsilon",
        number(&config["epsilon"])?,
        &Value::Float(1e-3),
    );
    Ok(())
}

/// A recurrent layer's arguments: those kiln has, when they differ from Keras's defaults.
fn recurrent(out: &mut Call, class: &str, config: &Json) -> Result<(), String> {
    recurrent_refusals(class, config)?;
    out.args.push(positional(&config["units"])?);
    keyword_unless(
        out,
        "activation",
        name(&config["activation"])?,
        &Value::Name("tanh".into()),
    );
    if class != "SimpleRNN" {
        let recurrent = name(&config["recurrent_activation"])?;
        keyword_unless(
            out,
            "recurrent_activation",
            recurrent,
            &Value::Name("sigmoid".into()),
        );
    }
    keyword_unless(
        out,
        "use_bias",
        scalar(&config["use_bias"])?,
        &Value::Bool(true),
    );
    let flags = [
        ("return_sequences", false),
        ("return_state", false),
        ("go_backwards", false),
        ("unit_forget_bias", true),
        ("reset_after", true),
    ];
    for (key, default) in flags {
        let applies = match key {
            "unit_forget_bias" => class == "LSTM",
            "reset_after" => class == "GRU",
            _ => true,
        };
        if applies && !config[key].is_null() {
            keyword_unless(out, key, scalar(&config[key])?, &Value::Bool(default));
        }
    }
    for key in ["dropout", "recurrent_dropout"] {
        if let Some(rate) = config[key].as_f64().filter(|&r| r != 0.0) {
            out.args.push(Arg {
                keyword: Some(key.into()),
                value: Value::Float(rate),
            });
        }
    }
    Ok(())
}

/// A Bidirectional's layer and merge; a backward layer other than the forward one's copy
/// reading from the end (Keras's default) is refused.
fn bidirectional(out: &mut Call, config: &Json) -> Result<(), String> {
    let layer = &config["layer"];
    let class = layer["class_name"]
        .as_str()
        .ok_or("Bidirectional's layer has no class_name")?;
    let inner = call(class, &layer["config"])?;
    let backward = &config["backward_layer"];
    if !backward.is_null() && !mirrors(&inner, backward)? {
        return Err(
            "a backward_layer other than the layer's copy with go_backwards is not in kiln".into(),
        );
    }
    out.args.push(Arg {
        keyword: None,
        value: Value::Call(inner),
    });
    // None, two outputs apart, is refused by name by kiln-spec's rules.
    let mode = match &config["merge_mode"] {
        Json::Null => Value::Name("None".into()),
        other => name(other)?,
    };
    keyword_unless(out, "merge_mode", mode, &Value::Name("concat".into()));
    Ok(())
}

/// A PReLU's shared axes in kiln's order (an image's `(h, w, c)` axes 1, 2, 3 are kiln's
/// 2, 3, 1), from its input's rank in `build_config`; its regularizer and constraint are
/// refused.
fn prelu(layer: &Json) -> Result<Call, String> {
    let config = &layer["config"];
    unset(
        config,
        &["alpha_regularizer", "alpha_constraint"],
        "kiln's PReLU",
    )?;
    let mut out = Call::bare("PReLU");
    let Json::Array(axes) = &config["shared_axes"] else {
        return Ok(out);
    };
    let input = layer["build_config"]["input_shape"].as_array();
    let image = input.is_some_and(|dims| dims.len() == 4);
    let kiln = axes.iter().map(|a| match a.as_i64() {
        Some(k @ 1..=3) if image => Ok(Value::Int(k % 3 + 1)),
        Some(k) if k > 0 => Ok(Value::Int(k)),
        _ => Err(format!("shared axis {a} is not an axis of the examples")),
    });
    out.args.push(Arg {
        keyword: Some("shared_axes".into()),
        value: Value::Tuple(kiln.collect::<Result<_, _>>()?),
    });
    Ok(out)
}

/// A Dot's axes (one, or one per tensor) and its normalization.
fn dot(out: &mut Call, config: &Json) -> Result<(), String> {
    let axes = match &config["axes"] {
        Json::Array(items) => Value::Tuple(items.iter().map(scalar).collect::<Result<_, _>>()?),
        other => scalar(other)?,
    };
    out.args.push(Arg {
        keyword: Some("axes".into()),
        value: axes,
    });
    let normalize = scalar(&config["normalize"])?;
    keyword_unless(out, "normalize", normalize, &Value::Bool(false));
    Ok(())
}

/// The arguments of Keras's activation layers (ReLU, LeakyReLU, ELU, Softmax) that differ
/// from their defaults.
fn activation_layer(out: &mut Call, class: &str, config: &Json) -> Result<(), String> {
    match class {
        "ReLU" => {
            if !config["max_value"].is_null() {
                out.args.push(Arg {
                    keyword: Some("max_value".into()),
                    value: number(&config["max_value"])?,
                });
            }
            for key in ["negative_slope", "threshold"] {
                keyword_unless(out, key, number(&config[key])?, &Value::Float(0.0));
            }
        }
        "LeakyReLU" => {
            let slope = number(&config["negative_slope"])?;
            keyword_unless(out, "negative_slope", slope, &Value::Float(0.3));
        }
        "ELU" => keyword_unless(out, "alpha", number(&config["alpha"])?, &Value::Float(1.0)),
        _ => {
            let axis = match &config["axis"] {
                Json::Array(items) if items.len() == 1 => scalar(&items[0])?,
                other => scalar(other)?,
            };
            keyword_unless(out, "axis", axis, &Value::Int(-1));
        }
    }
    Ok(())
}

/// Keras's Permute `dims` (of channels-last axes, from 1) as kiln's: the same for
/// sequences; for images, whose axes `(h, w, c)` kiln holds as `[c, h, w]`, each Keras
/// tensor `(a, b, c)` held as `[c, a, b]` before and after.
fn permutation(dims: &Json) -> Result<Value, String> {
    let keras: Vec<usize> = dims
        .as_array()
        .ok_or("Permute's dims are missing")?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("Permute's dims {dims} are not positive integers"))?;
    let mut sorted = keras.clone();
    sorted.sort_unstable();
    if sorted != (1..=keras.len()).collect::<Vec<_>>() {
        return Err(format!(
            "Permute's dims {dims} are not each axis once, from 1"
        ));
    }
    let kiln = match keras[..] {
        // Kiln's axis j is Keras's (j + 2) % 3; Keras's axis k is kiln's (k + 1) % 3 (both
        // from 0; from 1, Keras's k is kiln's k % 3 + 1).
        [_, _, _] => (0..3).map(|j| keras[(j + 2) % 3] % 3 + 1).collect(),
        _ => keras,
    };
    let items = kiln.into_iter().map(|d| Value::Int(d as i64)).collect();
    Ok(Value::Tuple(items))
}

/// An Attention's or AdditiveAttention's arguments unless Keras's defaults.
fn score_attention(out: &mut Call, class: &str, config: &Json) -> Result<(), String> {
    let scaled = Value::Bool(class == "AdditiveAttention");
    keyword_unless(out, "use_scale", scalar(&config["use_scale"])?, &scaled);
    if class == "Attention" {
        let mode = scalar(&config["score_mode"])?;
        keyword_unless(out, "score_mode", mode, &Value::Name("dot".into()));
    }
    keyword_unless(
        out,
        "dropout",
        number(&config["dropout"])?,
        &Value::Float(0.0),
    );
    Ok(())
}

/// A MultiHeadAttention's arguments (all by keyword: in the functional form the tensors
/// come first); attention over other axes than the steps, a gate, a sliding window,
/// regularizers and constraints are refused.
fn attention(out: &mut Call, config: &Json) -> Result<(), String> {
    match &config["attention_axes"] {
        Json::Null => {}
        Json::Array(axes) if axes.len() == 1 && (axes[0] == 1 || axes[0] == -2) => {}
        other => {
            return Err(format!(
                "attention_axes {other} is not in kiln, which attends over the steps"
            ));
        }
    }
    if config["use_gate"] == Json::Bool(true) {
        return Err("use_gate = true is not in kiln".into());
    }
    let options = [
        "sliding_window",
        "kernel_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "bias_constraint",
    ];
    unset(config, &options, "kiln's MultiHeadAttention")?;
    let key_dim = scalar(&config["key_dim"])?;
    for (key, value) in [
        ("num_heads", scalar(&config["num_heads"])?),
        ("key_dim", key_dim.clone()),
    ] {
        out.args.push(Arg {
            keyword: Some(key.into()),
            value,
        });
    }
    if !config["value_dim"].is_null() {
        keyword_unless(out, "value_dim", scalar(&config["value_dim"])?, &key_dim);
    }
    keyword_unless(
        out,
        "dropout",
        number(&config["dropout"])?,
        &Value::Float(0.0),
    );
    keyword_unless(
        out,
        "use_bias",
        scalar(&config["use_bias"])?,
        &Value::Bool(true),
    );
    let output = match &config["output_shape"] {
        Json::Null => None,
        Json::Array(items) if items.len() == 1 => Some(scalar(&items[0])?),
        other => Some(scalar(other)?),
    };
    if let Some(value) = output {
        out.args.push(Arg {
            keyword: Some("output_shape".into()),
            value,
        });
    }
    Ok(())
}

/// Whether the Keras layer `backward` reads as `forward` does (its call in kiln) but from
/// the end: the backward layer Keras makes by default.
fn mirrors(forward: &Call, backward: &Json) -> Result<bool, String> {
    let mut config = backward["config"].clone();
    if config["go_backwards"] != Json::Bool(true) {
        return Ok(false);
    }
    config["go_backwards"] = Json::Bool(false);
    let class = backward["class_name"]
        .as_str()
        .ok_or("the backward_layer has no class_name")?;
    Ok(call(class, &config)? == *forward)
}

/// Refuses what kiln's recurrent layers do not have: state kept between batches,
/// unrolling, regularizers and constraints.
fn recurrent_refusals(class: &str, config: &Json) -> Result<(), String> {
    if config["stateful"] == Json::Bool(true) || config["unroll"] == Json::Bool(true) {
        return Err("stateful or unrolled layers are not in kiln".into());
    }
    let options = [
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
    ];
    unset(config, &options, &format!("kiln's {class}"))?;
    Ok(())
}

fn positional(value: &Json) -> Result<Arg, String> {
    Ok(Arg {
        keyword: None,
        value: scalar(value)?,
    })
}

fn scalar(value: &Json) -> Result<Value, String> {
    match value {
        Json::Number(n) => Ok(n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int)),
        Json::String(s) => Ok(Value::Name(s.clone())),
        Json::Bool(b) => Ok(Value::Bool(*b)),
        other => Err(format!("expected a number or a name, got {other}")),
    }
}

fn number(value: &Json) -> Result<Value, String> {
    value
        .as_f64()
        .map(Value::Float)
        .ok_or_else(|| format!("expected a number, got {value}"))
}

fn name(value: &Json) -> Result<Value, String> {
    value
        .as_str()
        .map(|s| Value::Name(s.to_owned()))
        .ok_or_else(|| format!("expected a name, got {value}"))
}

/// `[3, 3]` and `[3]` as `3`, `[3, 5]` as `(3, 5)`.
fn pair(value: &Json) -> Result<Value, String> {
    match value.as_array().map(Vec::as_slice) {
        Some([a, b]) if a == b => scalar(a),
        Some([a]) => scalar(a),
        Some(items) => Ok(Value::Tuple(
            items.iter().map(scalar).collect::<Result<_, _>>()?,
        )),
        None => scalar(value),
    }
}

fn keyword_unless(call: &mut Call, keyword: &str, value: Value, default: &Value) {
    if &value != default {
        call.args.push(Arg {
            keyword: Some(keyword.into()),
            value,
        });
    }
}

/// Dense's and Conv2D's activation, bias and regularizers.
fn weight_options(call: &mut Call, config: &Json) -> Result<(), String> {
    keyword_unless(
        call,
        "activation",
        name(&config["activation"])?,
        &Value::Name("linear".into()),
    );
    keyword_unless(
        call,
        "use_bias",
        scalar(&config["use_bias"])?,
        &Value::Bool(true),
    );
    for key in [
        "kernel_regularizer",
        "bias_regularizer",
        "activity_regularizer",
    ] {
        if let Some(r) = regularizer(&config[key])? {
            call.args.push(Arg {
                keyword: Some(key.into()),
                value: r,
            });
        }
    }
    unset(config, &["kernel_constraint", "bias_constraint"], "kiln")?;
    Ok(())
}

/// A Keras regularizer (`{"class_name": "L2", "config": {"l2": 0.01}}`) as kiln's call.
fn regularizer(value: &Json) -> Result<Option<Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let factor = |key: &str| value["config"][key].as_f64().unwrap_or(0.0);
    let (name, args) = match value["class_name"].as_str() {
        Some("L1") => ("l1", vec![(None, factor("l1"))]),
        Some("L2") => ("l2", vec![(None, factor("l2"))]),
        Some("L1L2") => (
            "l1_l2",
            vec![(Some("l1"), factor("l1")), (Some("l2"), factor("l2"))],
        ),
        other => return Err(format!("regularizer {other:?} is not in kiln")),
    };
    Ok(Some(Value::Call(Call {
        name: name.into(),
        args: args
            .into_iter()
            .map(|(k, x)| Arg {
                keyword: k.map(Into::into),
                value: Value::Float(x),
            })
            .collect(),
    })))
}

/// Each kiln weight from the HDF5 datasets `layers/{name}/vars/{i}` (a recurrent layer's
/// under `cell/vars`), in kiln's layouts.
fn weights(
    spec: &ModelSpec,
    datasets: &[(String, Dataset)],
    h5: &str,
    prefix: &str,
) -> Result<(Vec<Weight>, Option<[usize; 3]>), String> {
    let checked = spec.check().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    // Keras files a model's layers by class, numbered per class as kiln names them
    // (`dense_1`); a model used as a layer by its own class (`sequential`).
    let mut groups = kiln_spec::Namer::default();
    // For each node, the Keras image `[h, w, c]` its values are a Flatten of, if any, up to
    // the Dense that takes them.
    let mut flat: HashMap<&str, [usize; 3]> = HashMap::new();
    let mut previous = spec.inputs[0].name.as_str();
    for (named, info) in spec.layers.iter().zip(&checked.layers) {
        // The Flatten of an image any of its tensors is (a merge's second included).
        let flattened = match named.inbound.as_slice() {
            [] => flat.get(previous).copied(),
            inbound => inbound.iter().find_map(|n| flat.get(n.as_str()).copied()),
        };
        previous = &named.name;
        let keras = match &named.layer {
            Layer::Model(nested) if nested.0.is_functional() => groups.name_as("functional"),
            Layer::Model(_) => groups.name_as("sequential"),
            layer => groups.name(layer),
        };
        let kiln = format!("{prefix}{}", named.name);
        let (layer, image) = if let Layer::Model(nested) = &named.layer {
            let inner = format!("{h5}{keras}/layers/");
            weights(&nested.0, datasets, &inner, &format!("{kiln}."))?
        } else {
            let source = Source {
                vars: format!("{h5}{keras}/{}", vars_group(&named.layer)),
                keras,
                kiln,
                datasets,
            };
            layer_weights(&named.layer, info, &source, flattened)?
        };
        out.extend(layer);
        if let Some(image) = image {
            flat.insert(&named.name, image);
        }
    }
    let last = checked.outputs.first().map(|o| o.name.as_str());
    Ok((out, last.and_then(|o| flat.get(o).copied())))
}

/// The HDF5 group under a layer's own that holds its variables: a recurrent layer keeps
/// its weights in its cell, a Bidirectional and a MultiHeadAttention in their sublayers'
/// groups, under their own.
fn vars_group(layer: &Layer) -> &'static str {
    match layer {
        Layer::SimpleRNN(_) | Layer::GRU(_) | Layer::LSTM(_) => "cell/vars",
        Layer::Bidirectional(_) | Layer::MultiHeadAttention(_) => "",
        _ => "vars",
    }
}

/// Where one layer's weights come from in the HDF5 file, and the name they take in kiln.
struct Source<'a> {
    /// The Keras layer's name in the file (`dense_1`).
    keras: String,
    /// The kiln layer's name, after the models it is in (`base.dense`).
    kiln: String,
    /// The path of the group of its variables (`layers/dense_1/vars`).
    vars: String,
    /// The file's datasets, by path.
    datasets: &'a [(String, Dataset)],
}

impl<'a> Source<'a> {
    /// The source of a sublayer's variables: those in the group `group` under the layer's
    /// (`forward_layer/cell/vars`), named `{kiln}.{field}` in kiln.
    fn sublayer(&self, group: &str, field: &str) -> Source<'a> {
        Source {
            vars: format!("{}{group}", self.vars),
            kiln: format!("{}.{field}", self.kiln),
            keras: self.keras.clone(),
            datasets: self.datasets,
        }
    }

    /// The layer's variable `i`.
    fn var(&self, i: usize) -> Result<Dataset, String> {
        let path = format!("{}/{i}", self.vars);
        self.datasets
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| format!("model.weights.h5 has no `{path}`"))
    }

    /// The kiln weight `{kiln}.{field}`.
    fn weight(&self, field: &str, shape: Vec<usize>, values: Vec<f32>) -> Weight {
        Weight::new(format!("{}.{field}", self.kiln), shape, values)
    }
}

/// The layers without weights that act value by value, or along the features in whatever
/// order they come: the flattened image they take, they pass on.
const PASS_ON: [&str; 12] = [
    "Dropout",
    "GaussianNoise",
    "GaussianDropout",
    "Activation",
    "Rescaling",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "UnitNormalization",
    "Identity",
    "ActivityRegularization",
];

/// Refuses a layer that takes the flattened features of an image of several channels,
/// which are in Keras's order, channels last, unless it is a Dense (whose rows are put in
/// kiln's order) or acts value by value (and passes them on).
fn takes_in_order(
    layer: &Layer,
    source: &Source,
    flattened: Option<[usize; 3]>,
) -> Result<(), String> {
    let in_order = PASS_ON.contains(&layer.class_name())
        || matches!(
            layer.class_name(),
            "Dense"
                | "BatchNormalization"
                | "LayerNormalization"
                | "Normalization"
                | "GroupNormalization"
        );
    match flattened {
        Some([_, _, channels]) if channels > 1 && !in_order => Err(format!(
            "`{}` takes the flattened features of an image of {channels} channels, which Keras \
             orders channels last and kiln channels first; not imported yet",
            source.keras
        )),
        _ => Ok(()),
    }
}

/// One layer's kiln weights (a model used as a layer aside), and the Keras image its
/// values are a Flatten of, if any; `flattened` is that of the values it takes.
fn layer_weights(
    layer: &Layer,
    info: &kiln_spec::LayerInfo,
    source: &Source,
    flattened: Option<[usize; 3]>,
) -> Result<(Vec<Weight>, Option<[usize; 3]>), String> {
    takes_in_order(layer, source, flattened)?;
    let weights = match layer.class_name() {
        "Conv2D" | "Conv1D" | "Dense" | "DepthwiseConv2D" | "Conv2DTranspose" => {
            kernel_and_bias(layer, source, flattened)?
        }
        "SeparableConv2D" => separable_weights(layer, source)?,
        "BatchNormalization" | "LayerNormalization" | "Normalization" | "GroupNormalization" => {
            return normalization_weights(layer, source, flattened);
        }
        "Flatten" => return Ok((Vec::new(), flattened_image(&info.input))),
        "Reshape" => {
            reshape_keeps_order(&source.keras, info)?;
            Vec::new()
        }
        name if PASS_ON.contains(&name) => return Ok((Vec::new(), flattened)),
        "Embedding" => {
            let table = source.var(0)?;
            vec![source.weight("weight", table.shape, table.values)]
        }
        "PReLU" => match layer {
            Layer::PReLU(p) => prelu_weights(p, &info.input, source)?,
            _ => Vec::new(),
        },
        "SimpleRNN" | "GRU" | "LSTM" => match layer {
            Layer::SimpleRNN(r) | Layer::GRU(r) | Layer::LSTM(r) => cell_weights(r, source)?,
            _ => Vec::new(),
        },
        "Bidirectional" => match layer {
            Layer::Bidirectional(b) => {
                let halves = [("forward_layer", "forward"), ("backward_layer", "backward")];
                let halves = halves.iter().map(|(keras, kiln)| {
                    cell_weights(
                        &b.layer,
                        &source.sublayer(&format!("{keras}/cell/vars"), kiln),
                    )
                });
                halves.collect::<Result<Vec<_>, _>>()?.concat()
            }
            _ => Vec::new(),
        },
        "MultiHeadAttention" => match layer {
            Layer::MultiHeadAttention(a) => attention_weights(a, source)?,
            _ => Vec::new(),
        },
        "Attention" | "AdditiveAttention" => norm_weights(layer, source)?,
        _ => Vec::new(),
    };
    Ok((weights, None))
}

/// A normalization's weights (see [`norm_weights`]), the flattened image it takes passed
/// on: the features of an image of one channel are in Keras's order, and a Normalization
/// of one mean for all values takes them in any; others are refused.
fn normalization_weights(
    layer: &Layer,
    source: &Source,
    flattened: Option<[usize; 3]>,
) -> Result<(Vec<Weight>, Option<[usize; 3]>), String> {
    let any_order = matches!(layer, Layer::Normalization(n)
        if n.axis == NormAxis::All || n.mean.as_ref().is_some_and(|m| m.len() == 1));
    if !any_order && flattened.is_some_and(|[_, _, channels]| channels > 1) {
        return Err(format!(
            "`{}` normalizes flattened image features; not imported yet",
            source.keras
        ));
    }
    Ok((norm_weights(layer, source)?, flattened))
}

/// A PReLU's slopes, Keras's `(h, w, c)` of an image in kiln's `[c, h, w]` order,
/// flattened; their shape in the file must be the one its shared axes give `input`.
fn prelu_weights(
    p: &kiln_spec::layers::PRelu,
    input: &Shape,
    source: &Source,
) -> Result<Vec<Weight>, String> {
    let alpha = source.var(0)?;
    let kiln: Vec<usize> = p
        .alpha_shape(input)
        .iter()
        .map(|d| d.known().unwrap_or(0))
        .collect();
    let keras = match kiln[..] {
        [c, h, w] => vec![h, w, c],
        _ => kiln,
    };
    if alpha.shape != keras {
        return Err(format!(
            "`{}`'s slopes are {:?}, not the {keras:?} its shared axes give",
            source.keras, alpha.shape
        ));
    }
    let values = match alpha.shape[..] {
        [h, w, c] if alpha.values.len() == h * w * c => (0..c * h * w)
            .map(|i| alpha.values[(i / w % h * w + i % w) * c + i / (h * w)])
            .collect(),
        _ => alpha.values,
    };
    Ok(vec![source.weight("alpha", vec![values.len()], values)])
}

/// A MultiHeadAttention's four projections: each kernel `[features, heads, size]` (the
/// output's `[heads, size, features]`) is the Linear's `[features, heads·size]` (`[heads·size,
/// features]`), its values in the same order, and each bias flattened alike.
fn attention_weights(
    a: &kiln_spec::layers::MultiHeadAttention,
    source: &Source,
) -> Result<Vec<Weight>, String> {
    let mut all = Vec::new();
    for part in ["query", "key", "value", "output"] {
        let projection = source.sublayer(&format!("{part}_dense/vars"), part);
        let kernel = projection.var(0)?;
        let size = if matches!(part, "query" | "key") {
            a.key_dim
        } else {
            a.value_size()
        };
        let shape = match (part, &kernel.shape[..]) {
            ("output", &[heads, s, features]) if (heads, s) == (a.num_heads, size) => {
                vec![heads * s, features]
            }
            (_, &[features, heads, s]) if part != "output" && (heads, s) == (a.num_heads, size) => {
                vec![features, heads * s]
            }
            (_, other) => {
                return Err(format!(
                    "`{}`'s {part} kernel is {other:?}, not of {} heads of {size}",
                    source.keras, a.num_heads
                ));
            }
        };
        all.push(projection.weight("weight", shape, kernel.values));
        if a.use_bias {
            let bias = projection.var(1)?;
            all.push(projection.weight("bias", vec![bias.values.len()], bias.values));
        }
    }
    Ok(all)
}

/// A recurrent layer's kernels and bias (see [`recurrent_weights`]) from `source`.
fn cell_weights(r: &kiln_spec::layers::Recurrent, source: &Source) -> Result<Vec<Weight>, String> {
    let bias = if r.use_bias {
        Some(source.var(2)?)
    } else {
        None
    };
    recurrent_weights(
        &source.kiln,
        r,
        &source.var(0)?,
        &source.var(1)?,
        bias.as_ref(),
    )
}

/// A SeparableConv2D's depthwise and pointwise kernels in burn's layout, and its bias if
/// it has one.
fn separable_weights(layer: &Layer, source: &Source) -> Result<Vec<Weight>, String> {
    let (shape, values) = conv2d_kernel(&source.keras, &source.var(0)?, true)?;
    let mut out = vec![source.weight("depthwise.weight", shape, values)];
    let (shape, values) = conv2d_kernel(&source.keras, &source.var(1)?, false)?;
    out.push(source.weight("pointwise.weight", shape, values));
    if layer.weights().is_some_and(|o| o.use_bias) {
        let bias = source.var(2)?;
        out.push(source.weight("pointwise.bias", bias.shape, bias.values));
    }
    Ok(out)
}

/// The weights Keras lists one by one, each under kiln's field name, in Keras's order: a
/// BatchNormalization's gamma, beta and moving statistics, a LayerNormalization's or
/// GroupNormalization's gamma and beta (those it has), an adapted Normalization's mean,
/// variance and count, an Attention's scale and concatenation weight (those it has).
fn norm_weights(layer: &Layer, source: &Source) -> Result<Vec<Weight>, String> {
    let fields: &[&str] = match layer {
        Layer::Attention(a) => match (a.use_scale, a.score_mode) {
            (true, ScoreMode::Concat) => &["scale", "concat_score_weight"],
            (false, ScoreMode::Concat) => &["concat_score_weight"],
            (true, ScoreMode::Dot) => &["scale"],
            (false, ScoreMode::Dot) => &[],
        },
        Layer::AdditiveAttention(a) if a.use_scale => &["scale"],
        Layer::AdditiveAttention(_) => &[],
        Layer::LayerNormalization(l) if !l.center => &["gamma"],
        Layer::LayerNormalization(_) => &["gamma", "beta"],
        Layer::Normalization(l) if l.adapts() => &["mean", "variance", "count"],
        Layer::GroupNormalization(l) => match (l.scale, l.center) {
            (true, true) => &["gamma", "beta"],
            (true, false) => &["gamma"],
            (false, true) => &["beta"],
            (false, false) => &[],
        },
        Layer::Normalization(_) => &[],
        _ => &["gamma", "beta", "running_mean", "running_var"],
    };
    let vars = fields.iter().enumerate().map(|(i, field)| {
        let v = source.var(i)?;
        // A Keras scalar (`count`, an Attention's `scale`) is kiln's tensor of one value.
        let shape = if v.shape.is_empty() { vec![1] } else { v.shape };
        Ok(source.weight(field, shape, v.values))
    });
    vars.collect()
}

/// A Dense's, Conv1D's, Conv2D's, Conv2DTranspose's or DepthwiseConv2D's kernel in burn's
/// layout, and its bias if it has one;
/// `flattened` is the Keras image a Dense's input is a Flatten of.
fn kernel_and_bias(
    layer: &Layer,
    source: &Source,
    flattened: Option<[usize; 3]>,
) -> Result<Vec<Weight>, String> {
    let kernel = source.var(0)?;
    let (shape, values) = match (layer.class_name(), flattened) {
        // A transposed kernel `(height, width, out, in)` becomes burn's `[in, out, h, w]`
        // as a Conv2D's `(h, w, in, out)` becomes `[out, in, h, w]`: the same move.
        ("Conv2D" | "Conv2DTranspose", _) => conv2d_kernel(&source.keras, &kernel, false)?,
        ("DepthwiseConv2D", _) => conv2d_kernel(&source.keras, &kernel, true)?,
        ("Conv1D", _) => conv1d_kernel(&source.keras, &kernel)?,
        (_, Some(image)) => {
            let values = unflatten_rows(&kernel, image)?;
            (kernel.shape, values)
        }
        (_, None) => (kernel.shape, kernel.values),
    };
    let mut out = vec![source.weight("weight", shape, values)];
    if layer.weights().is_some_and(|o| o.use_bias) {
        let bias = source.var(1)?;
        out.push(source.weight("bias", bias.shape, bias.values));
    }
    Ok(out)
}

/// Keras's Conv2D kernel `(height, width, in, out)` as burn's `[out, in, height, width]`,
/// or, `depthwise`, its DepthwiseConv2D kernel `(height, width, in, multiplier)` as
/// burn's grouped `[in · multiplier, 1, height, width]` (each input channel's kernels
/// together): its shape and values; `keras` names the layer in errors.
fn conv2d_kernel(
    keras: &str,
    kernel: &Dataset,
    depthwise: bool,
) -> Result<(Vec<usize>, Vec<f32>), String> {
    let [h, w, i, o] = kernel.shape[..] else {
        return Err(format!("`{keras}`'s kernel is {:?}, not 4-D", kernel.shape));
    };
    let mut values = vec![0.0; kernel.values.len()];
    for (at, v) in kernel.values.iter().enumerate() {
        let (y, x, c, f) = (at / (w * i * o), at / (i * o) % w, at / o % i, at % o);
        let plane = if depthwise { c * o + f } else { f * i + c };
        values[(plane * h + y) * w + x] = *v;
    }
    let shape = if depthwise {
        vec![i * o, 1, h, w]
    } else {
        vec![o, i, h, w]
    };
    Ok((shape, values))
}

/// Keras's Conv1D kernel `(steps, in, out)` as burn's `[out, in, steps]`: its shape and
/// values; `keras` names the layer in errors.
fn conv1d_kernel(keras: &str, kernel: &Dataset) -> Result<(Vec<usize>, Vec<f32>), String> {
    let [k, i, o] = kernel.shape[..] else {
        return Err(format!("`{keras}`'s kernel is {:?}, not 3-D", kernel.shape));
    };
    let mut values = vec![0.0; kernel.values.len()];
    for (at, v) in kernel.values.iter().enumerate() {
        let (step, c, f) = (at / (i * o), at / o % i, at % o);
        values[(f * i + c) * k + step] = *v;
    }
    Ok((vec![o, i, k], values))
}

/// The Keras image `[h, w, c]` that a Flatten taking kiln's `[c, h, w]` flattens, when
/// it takes an image.
fn flattened_image(input: &Shape) -> Option<[usize; 3]> {
    let [c, h, w] = input.dims() else {
        return None;
    };
    let known = |d: &kiln_spec::Dim| d.known().unwrap_or(0);
    Some([known(h), known(w), known(c)])
}

/// Refuses a Reshape (`keras` in the file) from or to images of several channels.
fn reshape_keeps_order(keras: &str, info: &kiln_spec::LayerInfo) -> Result<(), String> {
    // Channels-last images of several channels hold their values in another
    // order than kiln's channels-first ones: no reshape maps one to the other.
    let interleaved =
        |shape: &Shape| matches!(shape.dims(), [c, _, _] if c.known().is_none_or(|c| c > 1));
    if interleaved(&info.input) || interleaved(&info.output) {
        return Err(format!(
            "`{keras}` reshapes images of several channels, whose values Keras orders channels last and kiln channels first; not imported"
        ));
    }
    Ok(())
}

/// A recurrent layer's weights: Keras's kernels `[features, blocks·units]` and
/// `[units, blocks·units]` and bias `[blocks·units]` (or `[2, 3·units]`, a GRU's with
/// `reset_after`), cut into burn's one block per gate, in Keras's gate order.
fn recurrent_weights(
    kiln: &str,
    r: &kiln_spec::layers::Recurrent,
    kernel: &Dataset,
    recurrent: &Dataset,
    bias: Option<&Dataset>,
) -> Result<Vec<Weight>, String> {
    use kiln_spec::layers::Cell;
    let gates: &[&str] = match r.cell {
        Cell::SimpleRnn => &["gate"],
        Cell::Gru => &["update_gate", "reset_gate", "new_gate"],
        Cell::Lstm => &["input_gate", "forget_gate", "cell_gate", "output_gate"],
    };
    let units = r.units;
    let width = units * gates.len();
    // Columns `[k·units, (k+1)·units)` of a matrix `[rows, width]`.
    let block = |m: &Dataset, k: usize| -> Result<Vec<f32>, String> {
        let rows = m.values.len() / width.max(1);
        if m.shape.last() != Some(&width) || rows * width != m.values.len() {
            return Err(format!(
                "a {:?} weight where {width} columns were expected",
                m.shape
            ));
        }
        Ok((0..rows)
            .flat_map(|row| {
                m.values[row * width + k * units..row * width + (k + 1) * units]
                    .iter()
                    .copied()
            })
            .collect())
    };
    let mut out = Vec::new();
    for (k, gate) in gates.iter().enumerate() {
        let path = format!("{kiln}.{gate}");
        out.push(Weight::new(
            format!("{path}.input_transform.weight"),
            vec![kernel.shape[0], units],
            block(kernel, k)?,
        ));
        out.push(Weight::new(
            format!("{path}.hidden_transform.weight"),
            vec![units, units],
            block(recurrent, k)?,
        ));
        if let Some(bias) = bias {
            let both = block(bias, k)?;
            out.push(Weight::new(
                format!("{path}.input_transform.bias"),
                vec![units],
                both[..units].to_vec(),
            ));
            if both.len() == 2 * units {
                out.push(Weight::new(
                    format!("{path}.hidden_transform.bias"),
                    vec![units],
                    both[units..].to_vec(),
                ));
            }
        }
    }
    Ok(out)
}

/// A Dense kernel whose rows follow Keras's flattening of `[h, w, c]`, reordered to follow
/// kiln's flattening of `[c, h, w]`.
fn unflatten_rows(kernel: &Dataset, [h, w, c]: [usize; 3]) -> Result<Vec<f32>, String> {
    let (rows, units) = match kernel.shape[..] {
        [rows, units] if rows == h * w * c => (rows, units),
        _ => {
            return Err(format!(
                "a Dense kernel {:?} after a Flatten of {h}×{w}×{c}",
                kernel.shape
            ));
        }
    };
    let mut values = vec![0.0; rows * units];
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                let keras = (y * w + x) * c + ch;
                let kiln = (ch * h + y) * w + x;
                values[kiln * units..(kiln + 1) * units]
                    .copy_from_slice(&kernel.values[keras * units..(keras + 1) * units]);
            }
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Sequential config of `layers` on 4 inputs.
    fn sequential(layers: Json) -> Json {
        let mut all = vec![serde_json::json!({
            "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "input_layer"}
        })];
        all.extend(layers.as_array().cloned().unwrap_or_default());
        serde_json::json!({"class_name": "Sequential", "config": {"name": "net", "layers": all}})
    }

    fn refused(config: Json) -> String {
        convert(&config, Vec::new()).unwrap_err()
    }

    #[test]
    fn subtract_minimum_and_dot_import_as_merges() {
        let tensor = |name: &str| {
            serde_json::json!({"class_name": "__keras_tensor__",
            "config": {"shape": [null, 3], "keras_history": [name, 0, 0]}})
        };
        let merge = |class: &str, name: &str, a: &str, b: &str| {
            serde_json::json!({
            "class_name": class, "name": name, "config": {"name": name},
            "inbound_nodes": [{"args": [[tensor(a), tensor(b)]], "kwargs": {}}]})
        };
        let input = |name: &str| {
            serde_json::json!({"class_name": "InputLayer", "name": name,
            "config": {"batch_shape": [null, 3], "name": name}})
        };
        let mut dot = merge("Dot", "dot", "minimum", "a");
        dot["config"]["axes"] = serde_json::json!([1, -1]);
        dot["config"]["normalize"] = true.into();
        let config = serde_json::json!({"class_name": "Functional", "config": {"name": "net",
            "layers": [input("a"), input("b"), merge("Subtract", "subtract", "a", "b"),
                       merge("Minimum", "minimum", "subtract", "b"), dot],
            "output_layers": [["dot", 0, 0]]}});
        let model = convert(&config, Vec::new()).unwrap();
        assert_eq!(
            model.declaration("Net"),
            "model! {\n    pub struct Net {\n        input a: [3],\n        input b: [3],\n        let subtract = Subtract(a, b);\n        let minimum = Minimum(subtract, b);\n        let dot = Dot(minimum, a, axes = (1, -1), normalize = true);\n        output dot,\n    }\n}\n"
        );
    }

    #[test]
    fn a_functional_layer_s_axis_counted_from_the_batch_reads_by_its_input_s_rank() {
        // UnitNormalization over sequences [4, 2]: axis 2 is the last, axis 1 the steps.
        let graph = |axis: i64, shape: Json| {
            let tensor = serde_json::json!({"class_name": "__keras_tensor__",
                "config": {"shape": shape, "keras_history": ["x", 0, 0]}});
            serde_json::json!({"class_name": "Functional", "config": {"name": "net",
                "layers": [
                    {"class_name": "InputLayer", "name": "x",
                     "config": {"batch_shape": [null, 4, 2], "name": "x"}},
                    {"class_name": "UnitNormalization", "name": "norm",
                     "config": {"name": "norm", "axis": axis},
                     "inbound_nodes": [{"args": [tensor], "kwargs": {}}]}],
                "output_layers": [["norm", 0, 0]]}})
        };
        let last = convert(&graph(2, serde_json::json!([null, 4, 2])), Vec::new()).unwrap();
        assert_eq!(
            last.declaration("Net"),
            "model! {\n    pub struct Net {\n        input x: [4, 2],\n        let unit_normalization = x -> UnitNormalization;\n        output unit_normalization,\n    }\n}\n"
        );
        let refusal = "layer `norm` (UnitNormalization): `axis` of UnitNormalization: kiln normalizes the features, axis = -1 (Keras's default), got `1`";
        assert_eq!(refused(graph(1, serde_json::json!([null, 4, 2]))), refusal);
        // Without the tensor's shape, the axis stays as written.
        let unknown = refused(graph(2, Json::Null));
        assert!(unknown.contains("got `2`"), "{unknown}");
    }

    #[test]
    fn attention_over_other_axes_or_with_masks_is_refused() {
        let attention = |config: Json, kwargs: Json| {
            let mut config = config;
            for (key, value) in [
                ("name", "att".into()),
                ("num_heads", 2.into()),
                ("key_dim", 3.into()),
                ("dropout", 0.0.into()),
                ("use_bias", true.into()),
            ] {
                config[key] = value;
            }
            let tensor = |name: &str| {
                serde_json::json!({"class_name": "__keras_tensor__",
                "config": {"shape": [null, 4, 2], "keras_history": [name, 0, 0]}})
            };
            serde_json::json!({"class_name": "Functional", "config": {"name": "net",
                "layers": [
                    {"class_name": "InputLayer", "name": "x",
                     "config": {"batch_shape": [null, 4, 2], "name": "x"}},
                    {"class_name": "MultiHeadAttention", "name": "att", "config": config,
                     "inbound_nodes": [{"args": [tensor("x"), tensor("x")], "kwargs": kwargs}]}],
                "output_layers": [["att", 0, 0]]}})
        };
        let cases = [
            (
                serde_json::json!({"attention_axes": [1, 2]}),
                serde_json::json!({}),
                "layer `att` (MultiHeadAttention): attention_axes [1,2] is not in kiln, which attends over the steps",
            ),
            (
                serde_json::json!({"use_gate": true}),
                serde_json::json!({}),
                "layer `att` (MultiHeadAttention): use_gate = true is not in kiln",
            ),
            (
                serde_json::json!({"sliding_window": 2}),
                serde_json::json!({}),
                "layer `att` (MultiHeadAttention): sliding_window is not in kiln's MultiHeadAttention",
            ),
            (
                serde_json::json!({}),
                serde_json::json!({"return_attention_scores": true}),
                "layer `att` (MultiHeadAttention): calling it with `return_attention_scores` is not in kiln",
            ),
            (
                serde_json::json!({}),
                serde_json::json!({"training": true}),
                "layer `att` (MultiHeadAttention): calling it with `training` is not in kiln",
            ),
        ];
        for (config, kwargs, want) in cases {
            assert_eq!(refused(attention(config, kwargs)), want);
        }
        // Keras's defaults pass: the error is the file's missing weights.
        let plain = attention(
            serde_json::json!({"attention_axes": [1]}),
            serde_json::json!({"use_causal_mask": false, "training": null}),
        );
        assert_eq!(
            refused(plain),
            "model.weights.h5 has no `layers/multi_head_attention/query_dense/vars/0`"
        );
    }

    #[test]
    fn a_bidirectional_reads_only_keras_s_own_backward_layer() {
        let lstm = |go_backwards: bool, units: u32| {
            serde_json::json!({"class_name": "LSTM", "config": {"name": "lstm", "units": units,
                "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true,
                "go_backwards": go_backwards}})
        };
        let both = |backward: Json, merge_mode: Json| {
            sequential(serde_json::json!([{"class_name": "Reshape", "config": {
                "name": "reshape", "target_shape": [2, 2]}},
                {"class_name": "Bidirectional", "config": {"name": "both",
                "layer": lstm(false, 3), "backward_layer": backward, "merge_mode": merge_mode}}]))
        };
        let other = "layer `both` (Bidirectional): a backward_layer other than the layer's copy with go_backwards is not in kiln";
        assert_eq!(refused(both(lstm(true, 4), "concat".into())), other);
        assert_eq!(refused(both(lstm(false, 3), "sum".into())), other);
        assert_eq!(
            refused(both(lstm(true, 3), Json::Null)),
            "layer `both` (Bidirectional): `merge_mode` of Bidirectional: None (the two outputs apart) is not in kiln; take concat, sum, mul or ave"
        );
        // Keras's own backward layer passes: the error is the file's missing weights.
        assert_eq!(
            refused(both(lstm(true, 3), "mul".into())),
            "model.weights.h5 has no `layers/bidirectional/forward_layer/cell/vars/2`"
        );
    }

    #[test]
    fn what_kiln_does_not_have_is_named() {
        let recurrent = sequential(serde_json::json!([{"class_name": "ConvLSTM2D",
            "config": {"name": "frames", "filters": 2}}]));
        let message = refused(recurrent);
        assert!(
            message.starts_with("layer `frames` (ConvLSTM2D): kiln imports")
                && message.ends_with("not ConvLSTM2D yet"),
            "{message}"
        );
        let rms = sequential(serde_json::json!([{"class_name": "LayerNormalization",
            "config": {"name": "norm", "axis": -1, "epsilon": 0.001, "center": true,
                       "scale": true, "rms_scaling": true}}]));
        assert_eq!(
            refused(rms),
            "layer `norm` (LayerNormalization): rms_scaling = true is not in kiln"
        );
        let unscaled = sequential(serde_json::json!([{"class_name": "LayerNormalization",
            "config": {"name": "norm", "axis": [-1], "epsilon": 0.001, "center": true,
                       "scale": false}}]));
        assert_eq!(
            refused(unscaled),
            "layer `norm` (LayerNormalization): `scale` of LayerNormalization: burn's LayerNorm always scales by gamma; remove `scale = false`"
        );
        let subclassed = serde_json::json!({"class_name": "MyModel", "config": {"layers": []}});
        assert_eq!(
            refused(subclassed),
            "a Keras MyModel model; kiln imports Sequential and functional models"
        );
        let constrained = sequential(serde_json::json!([{"class_name": "Dense", "config": {
            "name": "dense", "units": 2, "activation": "linear", "use_bias": true,
            "kernel_constraint": {"class_name": "MaxNorm"}}}]));
        assert_eq!(
            refused(constrained),
            "layer `dense` (Dense): kernel_constraint is not in kiln"
        );
        let bad_units = sequential(serde_json::json!([{"class_name": "Dense", "config": {
            "name": "dense", "units": 0, "activation": "linear", "use_bias": true}}]));
        assert_eq!(
            refused(bad_units),
            "layer `dense` (Dense): `units` of Dense: expected a positive integer, got 0"
        );
        let no_weights = sequential(serde_json::json!([{"class_name": "Dense", "config": {
            "name": "dense", "units": 2, "activation": "linear", "use_bias": true}}]));
        assert_eq!(
            refused(no_weights),
            "model.weights.h5 has no `layers/dense/vars/0`"
        );
    }

    /// After a Flatten of an image of several channels, only a Dense takes the features in
    /// Keras's order; another layer with weights after them would take them wrongly.
    #[test]
    fn flattened_features_reach_only_layers_that_order_them() {
        let config = serde_json::json!({"class_name": "Sequential", "config": {"name": "net", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 2], "name": "input_layer"}},
            {"class_name": "Flatten", "config": {"name": "flatten"}},
            {"class_name": "RepeatVector", "config": {"name": "repeat", "n": 3}},
            {"class_name": "GlobalMaxPooling1D", "config": {"name": "pool"}}
        ]}});
        assert_eq!(
            refused(config),
            "`repeat_vector` takes the flattened features of an image of 2 channels, which Keras orders channels last and kiln channels first; not imported yet"
        );
        let listed = sequential(serde_json::json!([{"class_name": "LayerNormalization",
            "config": {"name": "norm", "axis": [1, 2], "epsilon": 0.001, "center": true,
                       "scale": true}}]));
        assert_eq!(
            refused(listed),
            "layer `norm` (LayerNormalization): its axis: expected a number or a name, got [1,2]; kiln normalizes the last axis only"
        );
    }

    #[test]
    fn a_reshape_of_images_of_several_channels_is_refused() {
        let config = serde_json::json!({"class_name": "Sequential", "config": {"name": "net", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 2], "name": "input_layer"}},
            {"class_name": "Reshape", "config": {"name": "reshape", "target_shape": [32]}}
        ]}});
        assert_eq!(
            refused(config),
            "`reshape` reshapes images of several channels, whose values Keras orders channels last and kiln channels first; not imported"
        );
    }

    #[test]
    fn a_dense_after_a_flatten_reads_its_rows_in_kiln_s_order() {
        // Keras flattens [h, w, c] = [1, 2, 2] as (x0 c0, x0 c1, x1 c0, x1 c1); kiln
        // flattens [c, h, w] as (c0 x0, c0 x1, c1 x0, c1 x1).
        let kernel = Dataset {
            shape: vec![4, 1],
            values: vec![10.0, 11.0, 20.0, 21.0],
        };
        assert_eq!(
            unflatten_rows(&kernel, [1, 2, 2]).unwrap(),
            [10.0, 20.0, 11.0, 21.0]
        );
    }
}
