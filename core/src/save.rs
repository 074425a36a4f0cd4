//! Saving: weights (burnpack, or safetensors for interchange), and the architecture and
//! weights together in one safetensors file whose metadata holds the model's JSON form,
//! which [`load_model`] reads back.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn_store::{BurnpackStore, ModuleSnapshot, SafetensorsStore};

use crate::error::TrainError;
use crate::model::Model;

/// The metadata key of the architecture in a model file.
const ARCHITECTURE: &str = "kiln.model";

pub(crate) fn is_safetensors(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "safetensors")
}

pub(crate) fn file_error(path: &Path, reason: impl std::fmt::Display) -> TrainError {
    TrainError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Writes to `path` through a temporary file renamed into place, so a crash mid-write
/// never leaves a half-written file where a good one was.
fn atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let result =
        write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| file_error(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Saves `model`'s weights to `path`: safetensors when it ends in `.safetensors` (for
/// interchange), burnpack otherwise. Layers are named as in the `model!` (`conv2d_1`).
///
/// # Errors
/// When the file cannot be written.
pub fn save_weights<B: Backend, M: Module<B> + Model<B>>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<(), TrainError> {
    save(model, path.as_ref(), None)
}

/// Saves `model`'s architecture (its JSON form) and weights together in one safetensors
/// file, which [`load_model`] reads back without the model's Rust type. The path must end
/// in `.safetensors`, as Keras's `model.save` wants `.keras`: a model file under another
/// name would pass for something it is not.
///
/// # Errors
/// When the path does not end in `.safetensors`, the model has no declaration (a
/// hand-written module) or the file cannot be written.
pub fn save_model<B: Backend, M: Module<B> + Model<B>>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<(), TrainError> {
    let path = path.as_ref();
    model_file(path)?;
    let spec = model.spec().ok_or_else(|| TrainError::Setting("only a model with a declaration (model! or JSON) can be saved with its architecture; use save_weights".into()))?;
    save(model, path, Some(spec.to_json()))
}

/// Refuses a path for [`save_model`] that does not end in `.safetensors`.
pub(crate) fn model_file(path: &Path) -> Result<(), TrainError> {
    if is_safetensors(path) {
        return Ok(());
    }
    Err(TrainError::Setting(format!(
        "cannot save a model as {}: a model file (architecture and weights) is safetensors, \
         so name it `.safetensors`; or save the weights alone with save_weights (burnpack \
         under other names)",
        path.display()
    )))
}

fn save<B: Backend, M: Module<B> + Model<B>>(
    model: &M,
    path: &Path,
    architecture: Option<String>,
) -> Result<(), TrainError> {
    let names = model.stored_names();
    atomically(path, |tmp| {
        if is_safetensors(path) || architecture.is_some() {
            let mut store = SafetensorsStore::from_file(tmp).skip_enum_variants(!names.is_empty());
            for (module, saved) in &names {
                store =
                    store.with_key_remapping(format!("^{}", regex_escape(module)), saved.clone());
            }
            if let Some(json) = &architecture {
                store = store.metadata(ARCHITECTURE, json.clone());
            }
            model.save_into(&mut store).map_err(|e| file_error(path, e))
        } else {
            let mut store = BurnpackStore::from_file(tmp)
                .auto_extension(false)
                .overwrite(true);
            for (module, saved) in &names {
                store =
                    store.with_remap_pattern(format!("^{}", regex_escape(module)), saved.clone());
            }
            model.save_into(&mut store).map_err(|e| file_error(path, e))
        }
    })
}

/// The architecture JSON stored in a model file.
pub(crate) fn read_architecture(path: &Path) -> Result<String, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| file_error(path, format!("not a safetensors file: {e}")))?;
    metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(ARCHITECTURE).cloned())
        .ok_or_else(|| {
            file_error(
                path,
                "holds weights but no architecture; load it into a model with load_weights",
            )
        })
}

/// `s` with regex metacharacters escaped.
pub(crate) fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The weights of a model held in memory (burnpack bytes), to put back later.
pub(crate) struct Snapshot(burn::tensor::Bytes);

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Snapshot({} bytes)", self.0.len())
    }
}

/// The model's weights, copied into memory.
pub(crate) fn snapshot<B: Backend, M: Module<B>>(model: &M) -> Result<Snapshot, String> {
    let mut store = BurnpackStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| e.to_string())?;
    store.get_bytes().map(Snapshot).map_err(|e| e.to_string())
}

/// Puts weights copied by [`snapshot`] back into `model`.
pub(crate) fn restore<B: Backend, M: Module<B>>(
    model: &mut M,
    snapshot: &Snapshot,
) -> Result<(), String> {
    let mut store = BurnpackStore::from_bytes(Some(snapshot.0.clone()));
    let result = model.load_from(&mut store).map_err(|e| e.to_string())?;
    if result.errors.is_empty() && result.missing.is_empty() {
        Ok(())
    } else {
        Err("the saved weights no longer fit the model".into())
    }
}
