//! Frozen layers, as Keras's `layer.trainable = False`: a frozen layer's weights take no
//! gradient, so the backward pass skips them and the optimizer neither updates them nor
//! keeps state for them; a frozen BatchNormalization normalizes with its moving
//! statistics and keeps them. `model!` and JSON freeze a layer with `trainable = false`;
//! [`freeze`] and [`unfreeze`] do it at run time, by layer name or nested path.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use kiln_spec::{Checked, LayerInfo, Summary};

use crate::error::TrainError;
use crate::features::no_such_layer;
use crate::model::Model;

/// The moving statistics of a BatchNormalization and the adapted ones of a Normalization:
/// state, never trained, so unfreezing leaves them without gradient.
const MOVING: [&str; 5] = ["running_mean", "running_var", "mean", "variance", "count"];

/// A model given back with why its layers could not be frozen or unfrozen: a name that is
/// not one of its layers.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FreezeError<M> {
    /// The model, unchanged.
    pub model: M,
    /// Names the unknown layer and the nearest one the model has.
    pub message: String,
}

impl<M> From<FreezeError<M>> for TrainError {
    fn from(e: FreezeError<M>) -> Self {
        TrainError::Setting(e.message)
    }
}

/// Freezes `layers` of `model`, each a layer name (`conv2d`) or a nested model's layer
/// (`feature_extractor.conv2d`; `feature_extractor` freezes all of it), as Keras's
/// `layer.trainable = False`.
///
/// ```
/// # use kiln_core::{backend::Cpu, Model};
/// # fn demo<M: Model<Cpu>>(model: M) -> Result<(), kiln_core::TrainError> {
/// let model = kiln_core::freeze(model, &["conv2d", "conv2d_1"])?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// When a name is not one of the model's layers; the model comes back unchanged in the
/// error.
pub fn freeze<B: Backend, M: Model<B>>(model: M, layers: &[&str]) -> Result<M, FreezeError<M>> {
    set_trainable(model, layers, false)
}

/// Makes `layers` of `model` trainable again; see [`freeze`].
///
/// # Errors
/// When a name is not one of the model's layers.
pub fn unfreeze<B: Backend, M: Model<B>>(model: M, layers: &[&str]) -> Result<M, FreezeError<M>> {
    set_trainable(model, layers, true)
}

fn set_trainable<B: Backend, M: Model<B>>(
    model: M,
    layers: &[&str],
    trainable: bool,
) -> Result<M, FreezeError<M>> {
    let names = model.stored_names();
    let known = known_layers(&model, &names);
    if let Some(unknown) = layers.iter().find(|l| !known.iter().any(|k| k == *l)) {
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let message = no_such_layer(unknown, &known);
        return Err(FreezeError { model, message });
    }
    let setter = Setter { layers, trainable };
    Ok(map_by_path(model, &names, setter).0)
}

/// Every layer `freeze` can name: from the declaration when the model has one (nested
/// layers as `outer.inner`), else every module holding weights.
fn known_layers<B: Backend, M: Model<B>>(model: &M, names: &[(String, String)]) -> Vec<String> {
    fn walk(layers: &[LayerInfo], prefix: &str, out: &mut Vec<String>) {
        for l in layers {
            let path = format!("{prefix}{}", l.name);
            if let Some(nested) = &l.nested {
                walk(&nested.layers, &format!("{path}."), out);
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    match model.spec().and_then(|s| s.check().ok()) {
        Some(checked) => walk(&checked.layers, "", &mut out),
        None => {
            for (path, _) in weights(model, names) {
                let mut prefix = path.as_str();
                while let Some((head, _)) = prefix.rsplit_once('.') {
                    out.push(head.to_owned());
                    prefix = head;
                }
            }
            out.sort();
            out.dedup();
        }
    }
    out
}

/// What [`map_by_path`] does to each float of a module, knowing its layer path.
pub(crate) trait MapByPath<B: Backend> {
    /// The float at `path` (`conv2d.weight`, a nested model's `outer.conv2d.weight`).
    fn map<const D: usize>(
        &mut self,
        path: &str,
        param: Param<Tensor<B, D>>,
    ) -> Param<Tensor<B, D>>;
}

/// `module` with each float mapped by `by`, which is given back; `names` as
/// [`Model::stored_names`].
pub(crate) fn map_by_path<B: Backend, M: Module<B>, T: MapByPath<B>>(
    module: M,
    names: &[(String, String)],
    by: T,
) -> (M, T) {
    /// Follows burn's path to each float.
    struct ByPath<'a, T> {
        path: Vec<String>,
        names: &'a [(String, String)],
        by: T,
    }
    impl<B: Backend, T: MapByPath<B>> ModuleMapper<B> for ByPath<'_, T> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_owned());
        }

        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }

        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let path = layer_path(self.names, &self.path.join("."));
            self.by.map(&path, param)
        }
    }
    let mut mapper = ByPath {
        path: Vec::new(),
        names,
        by,
    };
    let module = module.map(&mut mapper);
    (module, mapper.by)
}

/// Sets whether the weights under some layers take a gradient.
struct Setter<'a> {
    layers: &'a [&'a str],
    trainable: bool,
}

impl<B: Backend> MapByPath<B> for Setter<'_> {
    fn map<const D: usize>(
        &mut self,
        path: &str,
        param: Param<Tensor<B, D>>,
    ) -> Param<Tensor<B, D>> {
        let moving = path
            .rsplit('.')
            .next()
            .is_some_and(|leaf| MOVING.contains(&leaf));
        if !moving && self.layers.iter().any(|l| under(path, l)) {
            param.set_require_grad(self.trainable)
        } else {
            param
        }
    }
}

/// Each float tensor of `module`, by its layer path, and whether it takes a gradient.
pub(crate) fn weights<B: Backend, M: Module<B>>(
    module: &M,
    names: &[(String, String)],
) -> Vec<(String, bool)> {
    tensors(module, names)
        .into_iter()
        .map(|w| (w.path, w.trainable))
        .collect()
}

/// One float tensor of a module.
pub(crate) struct Weight<B: Backend> {
    /// Its layer path (`conv2d.weight`).
    pub path: String,
    /// Whether it takes a gradient.
    pub trainable: bool,
    /// Its shape.
    pub dims: Vec<usize>,
    /// Its values, flattened.
    pub flat: Tensor<B, 1>,
}

/// Each float tensor of `module`, by its layer path.
pub(crate) fn tensors<B: Backend, M: Module<B>>(
    module: &M,
    names: &[(String, String)],
) -> Vec<Weight<B>> {
    struct Collect<'a, B: Backend> {
        path: Vec<String>,
        names: &'a [(String, String)],
        out: Vec<Weight<B>>,
    }
    impl<B: Backend> ModuleVisitor<B> for Collect<'_, B> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_owned());
        }

        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }

        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let value = param.val();
            let dims = value.dims().to_vec();
            self.out.push(Weight {
                path: layer_path(self.names, &self.path.join(".")),
                trainable: value.is_require_grad(),
                flat: value.reshape([dims.iter().product::<usize>()]),
                dims,
            });
        }
    }
    let mut collect = Collect {
        path: Vec::new(),
        names,
        out: Vec::new(),
    };
    module.visit(&mut collect);
    collect.out
}

/// Keras's summary of `module`, declared as `checked`, with its trainable and
/// non-trainable counts as the module is now: on an autodiff backend, a layer none of
/// whose weights takes a gradient counts as frozen, however it was declared.
pub fn trainable_summary<B: Backend, M: Module<B>>(
    module: &M,
    mut checked: Checked,
    names: &[(String, String)],
) -> Summary {
    fn follow(layers: &mut [LayerInfo], prefix: &str, weights: &[(String, bool)]) {
        for l in layers {
            let path = format!("{prefix}{}", l.name);
            let mut mine = weights.iter().filter(|(p, _)| under(p, &path)).peekable();
            if mine.peek().is_none() {
                continue;
            }
            l.trainable = mine.any(|&(_, grad)| grad);
            if let (true, Some(nested)) = (l.trainable, &mut l.nested) {
                follow(&mut nested.layers, &format!("{path}."), weights);
            }
        }
    }
    let tracked = module
        .devices()
        .first()
        .is_some_and(|device| B::ad_enabled(device));
    if tracked {
        follow(&mut checked.layers, "", &weights(module, names));
    }
    Summary(checked)
}

/// Whether `name` (`conv2d.weight`) lies under `prefix` (`conv2d`).
pub(crate) fn under(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// A tensor's module path as its layer's name gives it (`conv2d.weight`), through the
/// [`Model::stored_names`] pairs of a model whose module paths differ from its names.
pub(crate) fn layer_path(names: &[(String, String)], module_path: &str) -> String {
    names
        .iter()
        .find_map(|(module, saved)| {
            module_path.strip_prefix(module.as_str()).map(|rest| {
                // The enum variant (`Conv2D`) between the module and its tensor.
                let rest = rest.split_once('.').map_or(rest, |(_, r)| r);
                format!("{saved}{rest}")
            })
        })
        .unwrap_or_else(|| module_path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestAutodiff, Two};

    fn two() -> Two<TestAutodiff> {
        Two::new(&Default::default())
    }

    fn grads(model: &Two<TestAutodiff>) -> Vec<(String, bool)> {
        weights(model, &[])
    }

    #[test]
    fn a_hand_written_module_freezes_by_field_name() {
        let model = freeze(two(), &["dense"]).unwrap();
        assert_eq!(
            grads(&model),
            [
                ("dense.weight".to_string(), false),
                ("dense.bias".to_string(), false),
                ("head.weight".to_string(), true),
                ("head.bias".to_string(), true),
            ]
        );
        let model = unfreeze(model, &["dense"]).unwrap();
        assert!(grads(&model).iter().all(|(_, grad)| *grad));
    }

    #[test]
    fn an_unknown_layer_is_named_with_the_nearest() {
        let err = freeze(two(), &["dens"]).unwrap_err();
        assert_eq!(
            err.message,
            "no layer `dens` in this model; did you mean `dense`?"
        );
        // The model comes back untouched.
        assert!(grads(&err.model).iter().all(|(_, grad)| *grad));
    }
}
