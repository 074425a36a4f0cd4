//! Feature extraction over a dataset: [`Trainer::predict_features`] and
//! [`Trainer::extract_features`], the model cut at a named layer (see [`crate::features`]).

use std::ops::ControlFlow;

use burn::module::AutodiffModule;
use kiln_datasets::{ArrayDataset, Dataset, TargetKind, Targets};

use super::Trainer;
use crate::dyn_tensor::DynTensor;
use crate::error::TrainError;
use crate::model::{Batch, Model};

impl<B, M> Trainer<B, M>
where
    B: burn::tensor::backend::AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// The output of layer `layer` for every example of `data`, in order, computed in
    /// batches as `predict`'s without dropout: Keras's `predict` of the model cut at that
    /// layer.
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
        let loader = self.inference_loader(self.inference_batch());
        loader.for_each(data, 0, |batch| {
            let rows = batch.rows(self.device());
            let x = <<M::InnerModule as Model<B::InnerBackend>>::Input as Batch<
                B::InnerBackend,
            >>::from_rows(rows, &example);
            match model.features(layer, x) {
                Ok(features) => parts.push(features.head(batch.real())),
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
            match (&mut targets, batch.into_real_targets()) {
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
