//! [`Trainer::adapt`]: Keras's `Normalization.adapt`, the mean and variance of the data
//! as each Normalization layer sees it, read in one pass per layer.

use std::ops::ControlFlow;

use burn::module::{AutodiffModule, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use kiln_datasets::Dataset;
use kiln_spec::layers::NormAxis;
use kiln_spec::{Layer, ModelSpec};

use super::{Trainer, fit};
use crate::dyn_tensor::DynTensor;
use crate::error::TrainError;
use crate::freeze::{MapByPath, map_by_path};
use crate::model::{Batch, Model};

/// The mean, variance and count of the values one Normalization layer sees: per feature,
/// or one of each for all values.
#[derive(Clone, Debug, PartialEq)]
struct Moments {
    mean: Vec<f64>,
    variance: Vec<f64>,
    /// How many values each mean is over.
    count: f64,
    /// How many examples were read.
    examples: usize,
}

impl Moments {
    /// Nothing read: a mean of 0 and a variance of 1 (the identity), as Keras's state
    /// before `adapt`.
    fn identity(size: usize) -> Self {
        Moments {
            mean: vec![0.0; size],
            variance: vec![1.0; size],
            count: 0.0,
            examples: 0,
        }
    }

    /// `self` and `batch` together (Chan's pairwise update, in f64, as Keras's `adapt`
    /// combines its batches).
    fn join(&mut self, batch: Moments) {
        let total = self.count + batch.count;
        if total == 0.0 {
            return;
        }
        let (old, new) = (self.count / total, batch.count / total);
        for k in 0..self.mean.len() {
            let mean = self.mean[k] * old + batch.mean[k] * new;
            let spread = |m: f64, v: f64| v + (m - mean).powi(2);
            self.variance[k] = spread(self.mean[k], self.variance[k]) * old
                + spread(batch.mean[k], batch.variance[k]) * new;
            self.mean[k] = mean;
        }
        self.count = total;
        self.examples += batch.examples;
    }
}

/// The path (`outer.normalization`) of the first Normalization to adapt inside a model
/// that `spec` uses as a layer.
fn nested_normalization(spec: &ModelSpec, prefix: &str) -> Option<String> {
    spec.layers.iter().find_map(|l| match &l.layer {
        Layer::Model(nested) => {
            let path = format!("{prefix}{}.", l.name);
            let inner = nested.0.layers.iter().find_map(|n| match &n.layer {
                Layer::Normalization(norm) if norm.adapts() => Some(format!("{path}{}", n.name)),
                _ => None,
            });
            inner.or_else(|| nested_normalization(&nested.0, &path))
        }
        _ => None,
    })
}

/// The moments of one batch of a layer's input, `x` of `rows` examples, over `axis`.
fn moments<B: Backend>(x: DynTensor<B>, axis: NormAxis) -> Result<Moments, TrainError> {
    let examples = x.dims()[0];
    // Each row one position, each column one feature: kiln's features come first in an
    // image and last elsewhere.
    let rows: Tensor<B, 2> = match (axis, x) {
        (NormAxis::All, x) => x.reshape(&[-1, 1]).get(),
        (NormAxis::Features, DynTensor::R4(x)) => {
            let channels = x.dims()[1];
            x.swap_dims(1, 3).reshape([-1, channels as i32])
        }
        (NormAxis::Features, x) => {
            let features = *x.dims().last().unwrap_or(&1);
            x.reshape(&[-1, features as i32]).get()
        }
    };
    let count = rows.dims()[0] as f64;
    let mean = rows.clone().mean_dim(0);
    let variance = (rows - mean.clone()).square().mean_dim(0);
    let read = |t: Tensor<B, 2>| -> Result<Vec<f64>, TrainError> {
        let values = DynTensor::R2(t).into_values()?;
        Ok(values.into_iter().map(f64::from).collect())
    };
    Ok(Moments {
        mean: read(mean)?,
        variance: read(variance)?,
        count,
        examples,
    })
}

impl<B, M> Trainer<B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    /// Keras's `Normalization.adapt`: every Normalization layer declared without `mean`
    /// and `variance` takes those of `data` as it reaches that layer (per feature, or over
    /// all values with `axis = None`; the population variance, as Keras's), read in
    /// batches without dropout, one pass per such layer. Call it before `fit`, on the
    /// training data; the values are state, saved with the weights and never trained.
    ///
    /// # Errors
    /// When the model has no Normalization layer to adapt, or the examples do not fit its
    /// input.
    pub fn adapt<D: Dataset + ?Sized>(&mut self, data: &D) -> Result<(), TrainError> {
        let example = self.example_shapes(data, "adaptation")?;
        let mut layers: Vec<(String, NormAxis, usize)> = Vec::new();
        if let Some(spec) = self.model().spec()
            && let Ok(checked) = spec.check()
        {
            if let Some(path) = nested_normalization(&spec, "") {
                return Err(TrainError::Setting(format!(
                    "Normalization layer `{path}` is inside a model used as a layer, which adapt does not reach; give it its mean and variance, or move it to the outer model"
                )));
            }
            for (l, info) in spec.layers.iter().zip(&checked.layers) {
                if let Layer::Normalization(n) = &l.layer
                    && n.adapts()
                {
                    layers.push((l.name.clone(), n.axis, n.size(&info.input)));
                }
            }
        }
        if layers.is_empty() {
            return Err(TrainError::Setting(
                "the model has no Normalization layer to adapt (one declared without `mean` and `variance`)".into(),
            ));
        }
        // A failure leaves the model as it was.
        let before = self.model().clone();
        for (layer, axis, size) in layers {
            // At the identity, the layer's output is what it takes.
            let moments = self
                .set_moments(&layer, &Moments::identity(size))
                .and_then(|()| self.moments_of(data, &example, &layer, axis, size))
                .and_then(|moments| self.set_moments(&layer, &moments));
            if let Err(e) = moments {
                self.model = Some(before);
                return Err(e);
            }
        }
        Ok(())
    }

    /// The moments of the output of `layer` over `data`.
    fn moments_of<D: Dataset + ?Sized>(
        &self,
        data: &D,
        example: &[Vec<usize>],
        layer: &str,
        axis: NormAxis,
        size: usize,
    ) -> Result<Moments, TrainError> {
        let model = self.model().valid();
        let mut total = Moments::identity(size);
        let mut failure = None;
        let loader = self.inference_loader(self.inference_batch());
        loader.for_each(data, 0, |batch| {
            let real = batch.real();
            let rows = batch.rows(self.device());
            let x = <<M::InnerModule as Model<B::InnerBackend>>::Input as Batch<
                B::InnerBackend,
            >>::from_rows(rows, example);
            let seen = model
                .features(layer, x)
                .and_then(|features| moments(features.head(real), axis));
            match seen {
                Ok(seen) => {
                    total.join(seen);
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        });
        failure.map_or(Ok(total), Err)
    }

    /// Writes `moments` into the state of Normalization layer `layer`.
    fn set_moments(&mut self, layer: &str, moments: &Moments) -> Result<(), TrainError> {
        let model = self.model.take().ok_or_else(fit::lost)?;
        let names = model.stored_names();
        let setter = SetMoments {
            layer,
            moments,
            set: 0,
        };
        let (model, setter) = map_by_path(model, &names, setter);
        self.model = Some(model);
        match setter.set {
            3 => Ok(()),
            set => Err(TrainError::Setting(format!(
                "Normalization layer `{layer}` holds {set} of its mean, variance and count in this model; it cannot be adapted"
            ))),
        }
    }
}

/// Replaces the mean, variance and count of one Normalization layer.
struct SetMoments<'a> {
    layer: &'a str,
    moments: &'a Moments,
    /// How many of the three were found and set.
    set: usize,
}

impl<B: Backend> MapByPath<B> for SetMoments<'_> {
    fn map<const D: usize>(
        &mut self,
        path: &str,
        param: Param<Tensor<B, D>>,
    ) -> Param<Tensor<B, D>> {
        let Some(field) = path
            .strip_prefix(self.layer)
            .and_then(|rest| rest.strip_prefix('.'))
        else {
            return param;
        };
        let values: Vec<f32> = match field {
            "mean" => self.moments.mean.iter().map(|&v| v as f32).collect(),
            "variance" => self.moments.variance.iter().map(|&v| v as f32).collect(),
            "count" => vec![self.moments.examples as f32],
            _ => return param,
        };
        self.set += 1;
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let value = Tensor::from_data(TensorData::new(values, shape), &tensor.device());
        Param::from_mapped_value(id, value, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_join_to_the_moments_of_the_whole() {
        // [1, 2, 3, 4, 10] in batches of 2, 2 and 1: mean 4, population variance 10.
        let of = |values: &[f64]| {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            Moments {
                mean: vec![mean],
                variance: vec![variance],
                count: n,
                examples: values.len(),
            }
        };
        let mut total = Moments::identity(1);
        for batch in [&[1.0, 2.0][..], &[3.0, 4.0], &[10.0]] {
            total.join(of(batch));
        }
        assert!((total.mean[0] - 4.0).abs() < 1e-12, "{total:?}");
        assert!((total.variance[0] - 10.0).abs() < 1e-12, "{total:?}");
        assert_eq!((total.count, total.examples), (5.0, 5));
    }
}
