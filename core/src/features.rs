//! Feature extraction: the output of one named layer, as Keras's
//! `Model(inputs, model.get_layer(name).output)`. A model's forward pass offers each
//! layer's output to a [`Tap`]; the training forward's tap takes none (and costs nothing),
//! [`Features`] takes the one asked for and stops the pass there.

use std::convert::Infallible;
use std::ops::ControlFlow;

use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use kiln_datasets::{ArrayDataset, Dataset, Loader, TargetKind, Targets};

use crate::error::TrainError;
use crate::model::{Batch, Model};
use crate::runtime::DynTensor;

/// What a forward pass offers each layer's output to: it may stop the pass with a value.
pub trait Tap<B: Backend> {
    /// What stopping gives.
    type Stop;

    /// Called after layer `layer` with its output (computed only if the tap takes it).
    ///
    /// # Errors
    /// `Err` stops the forward pass with that value.
    fn at<const D: usize>(
        &mut self,
        layer: &str,
        output: impl FnOnce() -> Tensor<B, D>,
    ) -> Result<(), Self::Stop>;
}

/// The tap of the ordinary forward pass: takes nothing, never stops.
pub struct NoTap;

impl<B: Backend> Tap<B> for NoTap {
    type Stop = Infallible;

    #[inline(always)]
    fn at<const D: usize>(
        &mut self,
        _layer: &str,
        _output: impl FnOnce() -> Tensor<B, D>,
    ) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Stops the forward pass at one layer with its output.
pub struct Features<'a> {
    layer: &'a str,
}

impl<'a> Features<'a> {
    /// Stops at `layer`.
    pub fn new(layer: &'a str) -> Self {
        Features { layer }
    }
}

impl<B: Backend> Tap<B> for Features<'_> {
    type Stop = Result<DynTensor<B>, TrainError>;

    fn at<const D: usize>(
        &mut self,
        layer: &str,
        output: impl FnOnce() -> Tensor<B, D>,
    ) -> Result<(), Self::Stop> {
        if layer == self.layer {
            Err(DynTensor::new(output()))
        } else {
            Ok(())
        }
    }
}

/// The error for a layer name a model does not have, with the nearest it has.
pub fn unknown_layer(layer: &str, layers: &[&str]) -> TrainError {
    let nested = match layer.split_once('.') {
        Some((outer, inner)) if layers.contains(&outer) => format!(
            "; a nested model gives its own layers' features: `model.{outer}.features(\"{inner}\", x)`"
        ),
        _ => String::new(),
    };
    TrainError::Setting(format!("{}{nested}", no_such_layer(layer, layers)))
}

/// `no layer `conv` in this model; did you mean `conv2d`?`
pub(crate) fn no_such_layer(layer: &str, layers: &[&str]) -> String {
    let hint = match kiln_spec::nearest(layer, layers.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("its layers are {}", layers.join(", ")),
    };
    format!("no layer `{layer}` in this model; {hint}")
}

impl<B, M> crate::Trainer<B, M>
where
    B: burn::tensor::backend::AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// The output of layer `layer` for every example of `data`, in order, computed in
    /// batches of 32 without dropout: Keras's `predict` of the model cut at that layer.
    ///
    /// # Errors
    /// When the model has no such layer, or the examples do not fit its input.
    pub fn predict_features<D: Dataset + ?Sized>(
        &self,
        data: &D,
        layer: &str,
    ) -> Result<DynTensor<B::InnerBackend>, TrainError> {
        Ok(self.features_of(data, layer)?.0)
    }

    /// The features of layer `layer` for every example of `data`, with the examples'
    /// targets: a dataset to train a small model on, as Keras's bottleneck features are
    /// (the base runs once, not every epoch).
    ///
    /// # Errors
    /// As [`Trainer::predict_features`].
    pub fn extract_features<D: Dataset + ?Sized>(
        &self,
        data: &D,
        layer: &str,
    ) -> Result<ArrayDataset, TrainError> {
        let (features, targets) = self.features_of(data, layer)?;
        let dims = features.dims();
        let x = features.into_values()?;
        let invalid = |e: kiln_datasets::DataError| TrainError::Setting(e.to_string());
        match (data.target_kind(), targets) {
            (TargetKind::Classes(classes), Targets::Classes(labels)) => {
                let labels = labels.into_iter().map(|c| c as usize).collect();
                ArrayDataset::classification(x, dims[1..].to_vec(), labels, classes)
            }
            (TargetKind::Values(width), Targets::Values(y)) => {
                ArrayDataset::regression(x, dims[1..].to_vec(), y, width)
            }
            (kind, _) => {
                return Err(TrainError::Targets(format!(
                    "the dataset's batches do not hold the targets its kind ({kind:?}) says"
                )));
            }
        }
        .map_err(invalid)
    }

    /// The features of every example and their targets, joined.
    fn features_of<D: Dataset + ?Sized>(
        &self,
        data: &D,
        layer: &str,
    ) -> Result<(DynTensor<B::InnerBackend>, Targets), TrainError> {
        let example = self.example_shapes(data, "prediction")?;
        let model = self.model().valid();
        let mut parts = Vec::new();
        let mut targets = match data.target_kind() {
            TargetKind::Classes(_) => Targets::Classes(Vec::new()),
            TargetKind::Values(_) => Targets::Values(Vec::new()),
        };
        let mut failure = None;
        Loader::new(32).for_each(data, 0, |batch| {
            let rows = batch.rows(self.device());
            let x = <<M::InnerModule as Model<B::InnerBackend>>::Input as Batch<
                B::InnerBackend,
            >>::from_rows(rows, &example);
            match model.features(layer, x) {
                Ok(features) => parts.push(features),
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
            match (&mut targets, batch.targets) {
                (Targets::Classes(all), Targets::Classes(some)) => all.extend(some),
                (Targets::Values(all), Targets::Values(some)) => all.extend(some),
                _ => {}
            }
            ControlFlow::Continue(())
        });
        match failure {
            Some(e) => Err(e),
            None => Ok((DynTensor::cat(parts)?, targets)),
        }
    }
}
