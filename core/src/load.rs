//! Loading weights into a model: all of them under their own names ([`load_weights`]),
//! or as a [`Load`] says: some layers only, missing weights allowed, the file's names
//! changed to the model's, a PyTorch state dict's layouts converted.

use std::path::Path;

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn_store::{
    ApplyError, ApplyResult, BurnpackStore, ModuleAdapter, ModuleSnapshot, SafetensorsStore,
    TensorSnapshot, TensorSnapshotError,
};

use crate::error::TrainError;
use crate::freeze::{layer_path, under};
use crate::import::{Weight, safetensors_bytes};
use crate::model::Model;
use crate::runtime::JsonModel;
use crate::save::{file_error, is_safetensors, read_architecture, regex_escape};

/// Loads weights saved by [`save_weights`](crate::save_weights) (or
/// [`save_model`](crate::save_model)) into `model`, checking that every layer's weights
/// are there with the right shapes.
///
/// # Errors
/// When the file cannot be read, or does not hold this model's weights: each missing,
/// extra or differently shaped tensor is named.
pub fn load_weights<B: Backend, M: Module<B> + Model<B>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<(), TrainError> {
    load_weights_with(model, path, &Load::new()).map(drop)
}

/// How [`load_weights_with`] reads a file: some layers only, missing weights allowed,
/// the file's names changed to the model's. By default, as [`load_weights`]: every weight
/// of the model, under its own name.
///
/// ```
/// let load = kiln_core::Load::new()
///     .rename("base", "feature_extractor") // the file's `base.conv2d.weight` is the model's `feature_extractor.conv2d.weight`
///     .only("feature_extractor")           // nothing else is read
///     .allow_missing();                    // what the file lacks keeps its weights
/// ```
#[derive(Clone, Debug, Default)]
pub struct Load {
    only: Vec<String>,
    allow_missing: bool,
    renames: Vec<(String, String)>,
    pytorch: bool,
    by_order: bool,
}

impl Load {
    /// Every weight, under its own name.
    pub fn new() -> Self {
        Load::default()
    }

    /// Loads only the weights under `layer` (a layer or nested model of the model, by its
    /// name: `feature_extractor`, `feature_extractor.conv2d`); the model's other weights
    /// keep their values and the file's other tensors are ignored. Several calls add up.
    pub fn only(mut self, layer: impl Into<String>) -> Self {
        self.only.push(layer.into());
        self
    }

    /// Weights of the model that the file lacks keep their values, and are listed in what
    /// [`load_weights_with`] returns, instead of being an error.
    pub fn allow_missing(mut self) -> Self {
        self.allow_missing = true;
        self
    }

    /// Reads the file's tensors under `from` (a name or a dotted prefix: `base`, `features.0`)
    /// as the model's under `to`. Renames apply in the order given, before `only`.
    pub fn rename(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.renames.push((from.into(), to.into()));
        self
    }

    /// The file is a PyTorch state dict, saved by `torch.save(net.state_dict(), "net.pt")`
    /// (`.pt`, `.pth`) or as safetensors (`safetensors.torch.save_file`): linear
    /// weights are transposed (PyTorch's `[out, in]` is burn's `[in, out]`), a batch norm's
    /// `weight` and `bias` are read as `gamma` and `beta`, and `num_batches_tracked` is
    /// ignored; convolutions are laid out alike. Its layers are named PyTorch's way, so
    /// [`Load::rename`] them (`rename("features.0", "conv2d")`) or pair them
    /// [`Load::by_order`]. A recurrent layer's packed gates are cut into burn's, and a
    /// bidirectional one's two directions go to a `Bidirectional`'s two layers.
    pub fn from_pytorch(mut self) -> Self {
        self.pytorch = true;
        self
    }

    /// Pairs the file's layers with the model's layers that have weights, in declaration
    /// order, each one's tensors read as the other's; [`Loaded::renamed`] lists the pairs.
    /// A `torch.save` state dict keeps its modules' order; a safetensors file does not, so
    /// its layers are taken in the natural order of their names (`features.0`,
    /// `features.3`, `features.10`, `fc1`).
    /// The counts must match, and each tensor's shape, as ever.
    pub fn by_order(mut self) -> Self {
        self.by_order = true;
        self
    }

    /// Whether a weight named `name` (the model's name) is one to load.
    fn wanted(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|layer| under(name, layer))
    }
}

/// What [`load_weights_with`] did, each weight by the model's name for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The weights read from the file.
    pub applied: Vec<String>,
    /// The weights the file lacks, left as they were ([`Load::allow_missing`]).
    pub missing: Vec<String>,
    /// The file's layers and the model's they were read as, with [`Load::by_order`].
    pub renamed: Vec<(String, String)>,
}

/// Whether the file's tensor `path` is one the PyTorch adapter read under another name: a
/// batch norm's `weight` as `gamma`, `bias` as `beta`.
fn read_by_the_adapter(path: &str, applied: &[String]) -> bool {
    [("weight", "gamma"), ("bias", "beta")]
        .iter()
        .any(|(from, to)| {
            path.strip_suffix(from)
                .is_some_and(|layer| applied.iter().any(|a| *a == format!("{layer}{to}")))
        })
}

/// `features.10` after `features.9`: numbers compared as numbers.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |s: &str| -> Vec<(u64, String)> {
        s.split('.')
            .map(|part| (part.parse().unwrap_or(u64::MAX), part.to_owned()))
            .collect()
    };
    key(a).cmp(&key(b))
}

/// The layers (names before the tensor's own) in the order first met, without repeats.
fn layers_of(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut layers: Vec<String> = Vec::new();
    for name in names {
        let layer = name
            .rsplit_once('.')
            .map_or(name.as_str(), |(l, _)| l)
            .to_owned();
        if !layers.contains(&layer) {
            layers.push(layer);
        }
    }
    layers
}

/// [`Load::by_order`]'s pairs: the file's layers in the state dict's order (natural order
/// for safetensors) with the model's layers with weights in declaration order.
fn pairs_by_order<B: Backend, M: Module<B> + Model<B>>(
    model: &M,
    path: &Path,
    file: &PyTorchFile,
    names: &[(String, String)],
) -> Result<Vec<(String, String)>, TrainError> {
    let mut file_layers = layers_of(file.weights.iter().map(|w| w.name.clone()));
    if !file.ordered {
        file_layers.sort_by(|a, b| natural(a, b));
    }
    let file = file_layers;
    let model_layers = model_layers(model, names);
    if file.len() != model_layers.len() {
        return Err(TrainError::Mismatch {
            path: path.to_path_buf(),
            reason: format!(
                "the file has {} layers with weights ({}) but the model has {} ({}); pair them with rename",
                file.len(),
                file.join(", "),
                model_layers.len(),
                model_layers.join(", ")
            ),
        });
    }
    Ok(file.into_iter().zip(model_layers).collect())
}

/// The model's layers with weights, in declaration order (a nested model's as
/// `outer.inner`): from its declaration, else from its weights' paths.
fn model_layers<B: Backend, M: Module<B> + Model<B>>(
    model: &M,
    names: &[(String, String)],
) -> Vec<String> {
    fn walk(layers: &[kiln_spec::LayerInfo], prefix: &str, out: &mut Vec<String>) {
        for l in layers {
            let path = format!("{prefix}{}", l.name);
            match &l.nested {
                Some(nested) => walk(&nested.layers, &format!("{path}."), out),
                None if l.params.total() > 0 => out.push(path),
                None => {}
            }
        }
    }
    match model.spec().and_then(|s| s.check().ok()) {
        Some(checked) => {
            let mut out = Vec::new();
            walk(&checked.layers, "", &mut out);
            out
        }
        None => layers_of(
            crate::freeze::weights(model, names)
                .into_iter()
                .map(|(p, _)| p),
        ),
    }
}

/// A PyTorch state dict's float tensors, in memory.
struct PyTorchFile {
    weights: Vec<Weight>,
    /// Whether they are in the state dict's order (`torch.save` keeps it; safetensors
    /// does not).
    ordered: bool,
}

impl PyTorchFile {
    fn read(path: &Path) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
        let (weights, ordered) = if is_safetensors(path) {
            (crate::import::safetensors_weights(&bytes), false)
        } else {
            (crate::import::read_state_dict(&bytes), true)
        };
        Ok(PyTorchFile {
            weights: weights.map_err(|e| file_error(path, e))?,
            ordered,
        })
    }
}

/// Reads a model saved by [`save_model`](crate::save_model): builds it from its architecture and loads its
/// weights. `I` and `O` are the ranks of its input and output tensors.
///
/// # Errors
/// When the file cannot be read, holds no architecture, or its architecture or weights
/// do not fit.
pub fn load_model<B: Backend, const I: usize, const O: usize>(
    path: impl AsRef<Path>,
    device: &B::Device,
) -> Result<JsonModel<B, I, O>, TrainError> {
    let path = path.as_ref();
    let json = read_architecture(path)?;
    let mut model = JsonModel::<B, I, O>::from_json(&json, device).map_err(|e| match e {
        TrainError::Mismatch { reason, .. } => TrainError::Mismatch {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })?;
    load_weights(&mut model, path)?;
    Ok(model)
}

/// The store's renames: `load`'s and `renamed`'s (file name → model name), then those of
/// a model whose module paths differ from its layers' names.
fn remaps(
    load: &Load,
    renamed: &[(String, String)],
    names: &[(String, String)],
) -> Vec<(String, String)> {
    let mut remaps: Vec<(String, String)> = load
        .renames
        .iter()
        .chain(renamed)
        .map(|(from, to)| {
            (
                format!("^{}(\\.|$)", regex_escape(from)),
                format!("{to}${{1}}"),
            )
        })
        .collect();
    remaps.extend(stored_remaps(names));
    remaps
}

/// `only`, on the module's paths: a layer's own, or those its saved names stand for.
fn filters(load: &Load, names: &[(String, String)]) -> Vec<String> {
    load.only
        .iter()
        .flat_map(|layer| {
            let exact = format!("^{}(\\.|$)", regex_escape(layer));
            let stored = names
                .iter()
                .filter(|(_, saved)| under(saved.trim_end_matches('.'), layer))
                .map(|(module, _)| format!("^{}", regex_escape(module)));
            std::iter::once(exact).chain(stored)
        })
        .collect()
}

/// Loads weights into `model` as `load` says: some layers only, missing weights allowed,
/// names changed; otherwise as [`load_weights`].
///
/// # Errors
/// When the file cannot be read, or a tensor it gives does not fit the model: each is
/// named with both shapes (``dense.weight` is [100, 16] in the file but [100, 8] in the
/// model``), as is each weight the file lacks (unless allowed) and each tensor of the file
/// the model has no place for (among the layers loaded).
pub fn load_weights_with<B: Backend, M: Module<B> + Model<B>>(
    model: &mut M,
    path: impl AsRef<Path>,
    load: &Load,
) -> Result<Loaded, TrainError> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(file_error(path, "no such file"));
    }
    let names = model.stored_names();
    // A torch.save file's float tensors, read here into memory.
    let pytorch = if load.pytorch {
        Some(PyTorchFile::read(path)?)
    } else {
        None
    };
    let renamed = match (&pytorch, load.by_order) {
        (Some(file), true) => pairs_by_order(model, path, file, &names)?,
        (None, true) => {
            return Err(TrainError::Setting(
                "by_order pairs a PyTorch file's layers; add from_pytorch()".into(),
            ));
        }
        (_, false) => Vec::new(),
    };
    let remaps = remaps(load, &renamed, &names);
    let filters = filters(load, &names);
    let result = if pytorch.is_some() || is_safetensors(path) || read_architecture(path).is_ok() {
        let source = match pytorch {
            Some(file) => {
                // Recurrent layers' packed gates, cut into burn's, under the same names.
                let weights = crate::import::torch_recurrent(file.weights)
                    .map_err(|e| file_error(path, e))?;
                SafetensorsStore::from_bytes(Some(safetensors_bytes(&weights)?))
            }
            None => SafetensorsStore::from_file(path),
        };
        let store = safetensors_store(source, &names, &remaps).with_regexes(&filters);
        let mut store = if load.pytorch {
            store.with_from_adapter(burn_store::PyTorchToBurnAdapter.chain(FloatsOnly))
        } else {
            store.with_from_adapter(FloatsOnly)
        };
        model
            .load_from(&mut store)
            .map_err(|e| file_error(path, e))?
    } else {
        let mut store = BurnpackStore::from_file(path)
            .auto_extension(false)
            .validate(false)
            .allow_partial(true)
            .with_from_adapter(FloatsOnly);
        for filter in &filters {
            store = store.with_regex(filter);
        }
        for (from, to) in &remaps {
            store = store.with_remap_pattern(from.as_str(), to.as_str());
        }
        model
            .load_from(&mut store)
            .map_err(|e| file_error(path, e))?
    };
    let loaded = check_applied(path, &result, &names, load)?;
    Ok(Loaded { renamed, ..loaded })
}

/// Refuses a tensor stored as integers or booleans where a weight (always floats in kiln)
/// goes: its data reads as an error naming the type, which the load reports with the
/// tensor's name (burn-store would panic converting it).
#[derive(Clone)]
struct FloatsOnly;

impl ModuleAdapter for FloatsOnly {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        if snapshot.dtype.is_float() {
            return snapshot.clone();
        }
        let dtype = snapshot.dtype;
        TensorSnapshot::from_closure(
            std::rc::Rc::new(move || {
                Err(TensorSnapshotError::DataError(format!(
                    "stored as {dtype:?}, where a weight of floats goes"
                )))
            }),
            dtype,
            snapshot.shape.clone(),
            snapshot.path_stack.clone().unwrap_or_default(),
            snapshot.container_stack.clone().unwrap_or_default(),
            snapshot.tensor_id.unwrap_or_default(),
        )
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// `store` reading tensors under kiln's names (`remaps`, file to module) into a model whose
/// module paths `names` gives, without failing on the first mismatch (all are listed).
fn safetensors_store(
    store: SafetensorsStore,
    names: &[(String, String)],
    remaps: &[(String, String)],
) -> SafetensorsStore {
    let mut store = store
        .validate(false)
        .allow_partial(true)
        .skip_enum_variants(!names.is_empty());
    for (from, to) in remaps {
        store = store.with_key_remapping(from.as_str(), to.as_str());
    }
    store
}

/// Loads safetensors `bytes` holding every weight of `model` under kiln's names.
pub(crate) fn load_safetensors_bytes<B: Backend, M: Module<B> + Model<B>>(
    model: &mut M,
    bytes: Vec<u8>,
) -> Result<Loaded, TrainError> {
    let names = model.stored_names();
    let remaps = stored_remaps(&names);
    let mut store = safetensors_store(SafetensorsStore::from_bytes(Some(bytes)), &names, &remaps)
        .with_from_adapter(FloatsOnly);
    let where_from = Path::new("the imported weights");
    let result = model
        .load_from(&mut store)
        .map_err(|e| file_error(where_from, e))?;
    check_applied(where_from, &result, &names, &Load::new())
}

/// The remappings from the saved names of a model's layers to its module paths.
fn stored_remaps(names: &[(String, String)]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|(module, saved)| (format!("^{}", regex_escape(saved)), module.clone()))
        .collect()
}

/// Turns what loading found into what was loaded, or an error naming each tensor that
/// does not fit.
fn check_applied(
    path: &Path,
    result: &ApplyResult,
    names: &[(String, String)],
    load: &Load,
) -> Result<Loaded, TrainError> {
    // Report module paths with the layer names users know.
    let shown = |p: &str| layer_path(names, p);
    let mut problems: Vec<String> = result
        .errors
        .iter()
        .map(|e| match e {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => {
                format!(
                    "`{}` is {:?} in the file but {:?} in the model",
                    shown(path),
                    found.as_slice(),
                    expected.as_slice()
                )
            }
            ApplyError::LoadError { path, message } => format!("`{}`: {message}", shown(path)),
            other => other.to_string(),
        })
        .collect();
    let missing: Vec<String> = result.missing.iter().map(|(p, _)| shown(p)).collect();
    if !load.allow_missing {
        problems.extend(missing.iter().map(|p| format!("the file has no `{p}`")));
    }
    problems.extend(
        result
            .unused
            .iter()
            .filter(|p| !(load.pytorch && read_by_the_adapter(p, &result.applied)))
            .map(|p| shown(p))
            .filter(|p| load.wanted(p))
            .map(|p| format!("the model has no `{p}`")),
    );
    if problems.is_empty() {
        Ok(Loaded {
            applied: result.applied.iter().map(|p| shown(p)).collect(),
            missing,
            renamed: Vec::new(),
        })
    } else {
        Err(TrainError::Mismatch {
            path: path.to_path_buf(),
            reason: problems.join("; "),
        })
    }
}
