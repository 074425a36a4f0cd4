//! Models built at run time from their JSON form (`kiln::from_json`): the same layers,
//! shapes and parameters as the `model!` they came from, checked by kiln-spec's rules,
//! trainable and usable like it.

use std::collections::HashMap;

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::Nested;
use kiln_spec::{Activation, Checked, Epilogue, Layer, ModelSpec, Shape, Use, kinds};

use crate::activation;
use crate::dyn_tensor::{DynTensor, each_rank};
use crate::error::TrainError;
use crate::features::{Features, NoTap, Tap};
use crate::layers::{self, Run, RuntimeLayer};
use crate::model::{Model, TrainForward};
use crate::regularizer;

/// The module of every layer of `spec`, a nested model's layers in its place: one entry
/// per layer that is not itself a model.
/// A frozen layer's (or a frozen model's) weights take no gradient.
fn build_all<B: Backend>(
    spec: &ModelSpec,
    checked: &Checked,
    frozen: bool,
    device: &B::Device,
) -> Result<Vec<Option<RuntimeLayer<B>>>, String> {
    let mut all = Vec::new();
    for (named, info) in spec.layers.iter().zip(&checked.layers) {
        let frozen = frozen || !named.trainable;
        match &named.layer {
            Layer::Model(nested) => {
                let inner = nested.0.check().map_err(|e| e.to_string())?;
                all.extend(build_all(&nested.0, &inner, frozen, device)?);
            }
            layer => {
                let module = layers::build(layer, &info.input, &info.more, device);
                all.push(if frozen {
                    module.map(Module::no_grad)
                } else {
                    module
                });
            }
        }
    }
    Ok(all)
}

/// How many modules [`build_all`] gives `spec`.
fn leaves(spec: &ModelSpec) -> usize {
    spec.layers
        .iter()
        .map(|l| match &l.layer {
            Layer::Model(nested) => leaves(&nested.0),
            _ => 1,
        })
        .sum()
}

/// A model read from JSON, taking `[batch, ...input]` tensors of rank `I` and giving
/// rank `O`, as the `model!` it describes.
#[derive(Module, Debug)]
pub struct JsonModel<B: Backend, const I: usize, const O: usize> {
    graph: JsonGraph<B>,
}

/// The model's check, refusing what runtime models cannot run: examples of more than 3
/// dimensions.
fn runnable(spec: &ModelSpec) -> Result<Checked, String> {
    let checked = spec.check().map_err(|e| e.to_string())?;
    let mut ranks = checked
        .layers
        .iter()
        .flat_map(|l| std::iter::once(&l.output).chain(&l.states))
        .chain(checked.inputs.iter().map(|i| &i.shape))
        .map(Shape::rank);
    if ranks.any(|r| r > 3) {
        return Err("runtime models take examples of at most 3 dimensions".into());
    }
    Ok(checked)
}

/// A model read from JSON with any number of inputs and outputs, run on [`DynTensor`]s;
/// [`JsonModel`] is the typed form of a model with one of each, which the Trainer takes.
#[derive(Module, Debug)]
pub struct JsonGraph<B: Backend> {
    layers: Vec<Option<RuntimeLayer<B>>>,
    #[module(skip)]
    spec: ModelSpec,
    #[module(skip)]
    checked: Checked,
}

impl<B: Backend> JsonGraph<B> {
    /// Builds the model `spec` describes, with fresh weights on `device`.
    ///
    /// # Errors
    /// When the model does not fit kiln-spec's rules or its examples have more than 3
    /// dimensions.
    pub fn new(spec: ModelSpec, device: &B::Device) -> Result<Self, TrainError> {
        let invalid = |reason: String| TrainError::Mismatch {
            path: "the JSON model".into(),
            reason,
        };
        let checked = runnable(&spec).map_err(invalid)?;
        let layers = build_all(&spec, &checked, false, device).map_err(invalid)?;
        Ok(JsonGraph {
            layers,
            spec,
            checked,
        })
    }

    /// Reads a model's JSON form (`to_json()` of a `model!`) and builds it.
    ///
    /// # Errors
    /// When the text is not a model, or as [`JsonGraph::new`].
    pub fn from_json(json: &str, device: &B::Device) -> Result<Self, TrainError> {
        let spec = ModelSpec::from_json(json).map_err(|e| TrainError::Mismatch {
            path: "the JSON model".into(),
            reason: e.to_string(),
        })?;
        Self::new(spec, device)
    }

    /// Keras's summary table; its counts follow the weights as they are (see
    /// [`freeze`](crate::freeze)).
    pub fn summary(&self) -> kiln_spec::Summary {
        let mut names = Vec::new();
        self.view().stored_names("", "", &mut 0, &mut names);
        crate::freeze::trainable_summary(self, self.checked.clone(), &names)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        self.spec.to_json()
    }

    fn view(&self) -> Graph<'_, B> {
        Graph {
            spec: &self.spec,
            checked: &self.checked,
            layers: &self.layers,
        }
    }

    /// The outputs for one tensor per input, in the model's order, each `[batch,
    /// ...example]`.
    ///
    /// # Errors
    /// When the number of tensors or an example's shape is not the model's.
    pub fn forward(&self, inputs: Vec<DynTensor<B>>) -> Result<Vec<DynTensor<B>>, TrainError> {
        self.check_inputs(&inputs)?;
        let Ok((outputs, _)) = self
            .view()
            .forward(inputs, Pass::of(false), false, &mut NoTap);
        Ok(outputs)
    }

    /// The output of layer `layer` (its activation applied) for one tensor per input; the
    /// layers after it do not run. A nested model's own layers are its `features`.
    ///
    /// # Errors
    /// When the model has no such layer, or as [`JsonGraph::forward`].
    pub fn features(
        &self,
        layer: &str,
        inputs: Vec<DynTensor<B>>,
    ) -> Result<DynTensor<B>, TrainError> {
        let names: Vec<&str> = self.spec.layers.iter().map(|l| l.name.as_str()).collect();
        if !names.contains(&layer) {
            return Err(crate::features::unknown_layer(layer, &names));
        }
        self.check_inputs(&inputs)?;
        match self
            .view()
            .forward(inputs, Pass::of(false), false, &mut Features::new(layer))
        {
            Err(tapped) => tapped,
            Ok(_) => Err(TrainError::Setting(format!(
                "layer `{layer}` gave no output"
            ))),
        }
    }

    /// An error unless `inputs` are one tensor per input, each of its example shape, which
    /// the model fits at their sizes ([`ModelSpec::check_sizes`]).
    fn check_inputs(&self, inputs: &[DynTensor<B>]) -> Result<(), TrainError> {
        if inputs.len() != self.checked.inputs.len() {
            return Err(TrainError::Setting(format!(
                "the model takes {} inputs, got {} tensors",
                self.checked.inputs.len(),
                inputs.len()
            )));
        }
        for (input, t) in self.checked.inputs.iter().zip(inputs) {
            let dims = t.dims();
            let example = Shape::known(dims[1..].iter().copied());
            if !kiln_spec::shapes_fit(input.shape.dims(), example.dims()) {
                return Err(TrainError::Setting(format!(
                    "input `{}` takes examples of {}, got {example}",
                    input.name, input.shape
                )));
            }
        }
        let examples: Vec<Vec<usize>> = inputs.iter().map(|t| t.dims()[1..].to_vec()).collect();
        self.spec
            .check_sizes(&examples)
            .map_err(|e| TrainError::Setting(format!("the model does not fit {e}")))
    }
}

/// The activity penalty of `t`, whatever its rank.
fn activity<B: Backend>(r: kiln_spec::Regularizer, t: &DynTensor<B>) -> Tensor<B, 1> {
    match t {
        DynTensor::R2(x) => regularizer::activity_penalty(r, x.clone()),
        DynTensor::R3(x) => regularizer::activity_penalty(r, x.clone()),
        DynTensor::R4(x) => regularizer::activity_penalty(r, x.clone()),
    }
}

impl<B: Backend, const I: usize, const O: usize> JsonModel<B, I, O> {
    /// Builds the model `spec` describes, with fresh weights on `device`.
    ///
    /// # Errors
    /// When the model does not fit kiln-spec's rules, has several inputs or outputs, or
    /// its input and output ranks are not `I - 1` and `O - 1`, or its examples have more
    /// than 3 dimensions.
    pub fn new(spec: ModelSpec, device: &B::Device) -> Result<Self, TrainError> {
        Self::typed(JsonGraph::new(spec, device)?)
    }

    /// Reads a model's JSON form (`to_json()` of a `model!`) and builds it.
    ///
    /// # Errors
    /// When the text is not a model, or as [`JsonModel::new`].
    pub fn from_json(json: &str, device: &B::Device) -> Result<Self, TrainError> {
        Self::typed(JsonGraph::from_json(json, device)?)
    }

    /// `graph` as a model of one input of rank `I` and one output of rank `O`.
    fn typed(graph: JsonGraph<B>) -> Result<Self, TrainError> {
        let invalid = |reason: String| TrainError::Mismatch {
            path: "the JSON model".into(),
            reason,
        };
        let checked = &graph.checked;
        if checked.inputs.len() != 1 || checked.outputs.len() != 1 {
            return Err(invalid(format!(
                "a JsonModel takes one input and gives one output; this one has {} inputs and {} outputs (build it as a JsonGraph)",
                checked.inputs.len(),
                checked.outputs.len()
            )));
        }
        if checked.input().rank() + 1 != I || checked.output().rank() + 1 != O {
            return Err(invalid(format!(
                "it takes {} and gives {} per example, so its tensors have ranks {} and {}, not {I} and {O}",
                checked.input(),
                checked.output(),
                checked.input().rank() + 1,
                checked.output().rank() + 1
            )));
        }
        Ok(JsonModel { graph })
    }

    /// Keras's summary table.
    pub fn summary(&self) -> kiln_spec::Summary {
        self.graph.summary()
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        self.graph.to_json()
    }

    fn layers_forward<T: Tap<B>>(
        &self,
        x: Tensor<B, I>,
        training: bool,
        tap: &mut T,
    ) -> Result<TrainForward<B, Tensor<B, O>>, T::Stop> {
        let (mut y, penalty) =
            self.graph
                .view()
                .forward(vec![DynTensor::of(x)], Pass::of(training), true, tap)?;
        Ok(TrainForward {
            // A JsonModel has one output: `typed` saw to it.
            logits: y.remove(0).get(),
            activation: self.graph.spec.final_activation(),
            penalty,
        })
    }
}

/// A forward pass's outputs and the penalties it added.
type Outputs<B> = (Vec<DynTensor<B>>, Option<Tensor<B, 1>>);

/// How a forward pass runs: its layers in training mode (dropout, batch statistics,
/// augmentation) or not, and whether it counts the penalties (in the training pass, also
/// those of a model nested with `training = false`, as Keras counts a layer's losses
/// whatever its mode).
#[derive(Clone, Copy, Debug)]
struct Pass {
    training: bool,
    penalize: bool,
}

impl Pass {
    /// The training pass while `training`, else inference.
    fn of(training: bool) -> Pass {
        Pass {
            training,
            penalize: training,
        }
    }
}

/// A model's layers and how they connect, borrowed from a [`JsonGraph`]; `layers` holds
/// what [`build_all`] built for `spec`.
struct Graph<'a, B: Backend> {
    spec: &'a ModelSpec,
    checked: &'a Checked,
    layers: &'a [Option<RuntimeLayer<B>>],
}

impl<'a, B: Backend> Graph<'a, B> {
    /// The graph of layer `i` when it is a model used as a layer, whose modules are
    /// `layers`.
    fn nested(&self, i: usize, layers: &'a [Option<RuntimeLayer<B>>]) -> Option<Self> {
        match (&self.spec.layers[i].layer, &self.checked.layers[i].nested) {
            (Layer::Model(nested), Some(checked)) => Some(Graph {
                spec: &nested.0,
                checked,
                layers,
            }),
            _ => None,
        }
    }

    /// Each layer with its modules: one for most layers, all of a nested model's.
    fn modules(
        &self,
    ) -> impl Iterator<Item = (&'a kiln_spec::NamedLayer, &'a [Option<RuntimeLayer<B>>])> {
        let mut rest = self.layers;
        self.spec.layers.iter().map(move |named| {
            let n = match &named.layer {
                Layer::Model(nested) => leaves(&nested.0),
                _ => 1,
            };
            let (mine, after) = rest.split_at(n);
            rest = after;
            (named, mine)
        })
    }

    /// The outputs for `inputs`, in the model's order (the only output before its last
    /// activation when `split`, which the training forward takes off for the loss), and
    /// the penalties the `pass` counts; each layer's output goes through `tap`.
    fn forward<T: Tap<B>>(
        &self,
        inputs: Vec<DynTensor<B>>,
        pass: Pass,
        split: bool,
        tap: &mut T,
    ) -> Result<Outputs<B>, T::Stop> {
        let plan = &self.checked.plan;
        let mut values: HashMap<String, DynTensor<B>> = self
            .spec
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .zip(inputs)
            .collect();
        let mut penalty = None;
        for (i, (named, modules)) in self.modules().enumerate() {
            let module = modules.first().and_then(Option::as_ref);
            let inputs: Vec<DynTensor<B>> =
                plan.steps[i].iter().map(|u| take(u, &mut values)).collect();
            // `training = false`: inference mode in every pass.
            let phase = Pass {
                training: pass.training && named.training,
                ..pass
            };
            let (t, states) = self.layer(i, modules, inputs, phase, &mut penalty);
            // The states named in the graph: those return_state gives.
            for (k, state) in states.into_iter().enumerate() {
                values.insert(format!("{}[{}]", named.name, k + 1), DynTensor::R2(state));
            }
            if pass.penalize {
                penalty = weight_penalties(&named.layer, module, penalty);
            }
            let epilogue = self.spec.epilogue(i, split);
            let (t, pending) = finish(epilogue, t, pass.penalize, &mut penalty);
            let t = tapped(t, tap, &named.name, pending)?;
            values.insert(named.name.clone(), t);
        }
        let outputs = plan.outputs.iter().map(|u| take(u, &mut values)).collect();
        Ok((outputs, penalty))
    }

    /// Layer `i`'s output for `inputs` before its activation, and the final states a
    /// recurrent layer's `return_state` names; a nested model's penalty joins `penalty`.
    fn layer(
        &self,
        i: usize,
        modules: &'a [Option<RuntimeLayer<B>>],
        mut inputs: Vec<DynTensor<B>>,
        pass: Pass,
        penalty: &mut Option<Tensor<B, 1>>,
    ) -> (DynTensor<B>, Vec<Tensor<B, 2>>) {
        let layer = &self.spec.layers[i].layer;
        let module = modules.first().and_then(Option::as_ref);
        // Every layer takes at least one tensor: kiln-spec's check saw to it.
        let first = inputs.remove(0);
        match self.nested(i, modules) {
            Some(nested) => {
                let Ok((mut t, inner)) = nested.forward(vec![first], pass, false, &mut NoTap);
                if let Some(inner) = inner {
                    *penalty = regularizer::add(penalty.take(), inner);
                }
                // A nested model has one output: kiln-spec's check saw to it.
                (t.remove(0), Vec::new())
            }
            None => {
                let (t, mut states) =
                    layers::step_with(layer, module, first, inputs, pass.training);
                states.truncate(layer.states().len());
                (t, states)
            }
        }
    }

    /// `(module path prefix, saved name prefix)` of every layer with weights, a nested
    /// model's under its name; `index` counts the modules before this graph's.
    fn stored_names(
        &self,
        module: &str,
        saved: &str,
        index: &mut usize,
        out: &mut Vec<(String, String)>,
    ) {
        for (i, (named, modules)) in self.modules().enumerate() {
            let saved = format!("{saved}{}.", named.name);
            match self.nested(i, modules) {
                Some(nested) => nested.stored_names(module, &saved, index, out),
                None => {
                    if modules.first().is_some_and(Option::is_some) {
                        out.push((format!("{module}layers.{index}."), saved));
                    }
                    *index += 1;
                }
            }
        }
    }
}

/// The tensor of `u`, moved out at its last use (kiln-spec's plan), else a copy.
fn take<B: Backend>(u: &Use, values: &mut HashMap<String, DynTensor<B>>) -> DynTensor<B> {
    let taken = if u.last {
        values.remove(&u.name)
    } else {
        values.get(&u.name).map(|t| each_rank!(t, |x| x.clone()))
    };
    // kiln-spec's check saw to it that every tensor is defined before its use.
    taken.unwrap_or_else(|| unreachable!("`{}` is used before it is defined", u.name))
}

/// `t` after `tap` took it as layer `layer`'s output.
fn tapped<B: Backend, T: Tap<B>>(
    t: DynTensor<B>,
    tap: &mut T,
    layer: &str,
    pending: Activation,
) -> Result<DynTensor<B>, T::Stop> {
    Ok(each_rank!(t, |x| tap.at(layer, x, pending)?))
}

/// A layer's output `t` after its epilogue (kiln-spec's, as `model!`'s code takes it): the
/// activation it applies now, and while `penalize` its activity penalty added to
/// `penalty`; with the activation left pending, which the tap is told of.
fn finish<B: Backend>(
    epilogue: Epilogue,
    t: DynTensor<B>,
    penalize: bool,
    penalty: &mut Option<Tensor<B, 1>>,
) -> (DynTensor<B>, Activation) {
    let t = each_rank!(t, |x| activation::apply(epilogue.now, x));
    if let (true, Some(r)) = (penalize, epilogue.activity) {
        let output = each_rank!(&t, |x| activation::apply(epilogue.pending, x.clone()));
        *penalty = regularizer::add(penalty.take(), activity(r, &output));
    }
    (t, epilogue.pending)
}

/// Adds the kernel and bias penalties of `layer` to `total`.
fn weight_penalties<B: Backend>(
    layer: &Layer,
    module: Option<&RuntimeLayer<B>>,
    mut total: Option<Tensor<B, 1>>,
) -> Option<Tensor<B, 1>> {
    let Some(options) = layer.weights() else {
        return total;
    };
    let Some((kernel, bias)) = module.and_then(layers::kernel_and_bias) else {
        return total;
    };
    if let Some(r) = options.kernel_regularizer {
        total = regularizer::add(total, regularizer::penalty(r, kernel));
    }
    if let (Some(r), Some(b)) = (options.bias_regularizer, bias) {
        total = regularizer::add(total, regularizer::penalty(r, b));
    }
    total
}

/// A nested model's own layers run in its place, each with its module ([`Graph::nested`]);
/// the graph never takes this step.
impl<B: Backend> Run<B> for kinds::Model {
    fn step(_: &Nested, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        t
    }
}

impl<B: Backend, const I: usize, const O: usize> Model<B> for JsonModel<B, I, O> {
    type Input = Tensor<B, I>;
    type Output = Tensor<B, O>;

    fn input_shape(&self) -> Shape {
        self.graph.checked.input().clone()
    }

    fn output_shape(&self) -> Shape {
        self.graph.checked.output().clone()
    }

    fn forward(&self, x: Tensor<B, I>) -> Tensor<B, O> {
        let Ok(y) = self.layers_forward(x, false, &mut NoTap);
        activation::apply(y.activation, y.logits)
    }

    fn forward_train(&self, x: Tensor<B, I>) -> TrainForward<B, Tensor<B, O>> {
        let Ok(y) = self.layers_forward(x, true, &mut NoTap);
        y
    }

    fn forward_tapped<T: Tap<B>>(
        &self,
        x: Tensor<B, I>,
        tap: &mut T,
    ) -> Result<TrainForward<B, Tensor<B, O>>, T::Stop> {
        self.layers_forward(x, false, tap)
    }

    fn features(&self, layer: &str, x: Tensor<B, I>) -> Result<DynTensor<B>, TrainError> {
        self.graph.features(layer, vec![DynTensor::new(x)?])
    }

    fn spec(&self) -> Option<ModelSpec> {
        Some(self.graph.spec.clone())
    }

    fn stored_names(&self) -> Vec<(String, String)> {
        let mut names = Vec::new();
        self.graph
            .view()
            .stored_names("graph.", "", &mut 0, &mut names);
        names
    }
}
