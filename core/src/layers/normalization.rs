//! Normalization: Keras's standardizing preprocessing layer, with its mean and variance
//! held as state for [`Trainer::adapt`](crate::Trainer::adapt) to set, or given.

use burn::module::{Module, RunningState};
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::NormAxis;
use kiln_spec::{Shape, feature_axis, kinds, layers};

use super::Stateful;
use crate::dyn_tensor::{DynTensor, each_rank};

/// Keras's floor under the standard deviation (`keras.backend.epsilon()`).
const EPSILON: f32 = 1e-7;

/// A Normalization's state: its mean, variance and (as Keras keeps one) the number of
/// examples `adapt` read, all none when the declaration gives the mean and variance,
/// which are then `given`. State, never trained: the optimizer and `unfreeze` leave it as
/// it is.
#[derive(Module, Debug)]
pub struct Normalization<B: Backend> {
    /// One mean per feature, or one (`axis = None`); 0 until adapted.
    pub mean: Option<RunningState<Tensor<B, 1>>>,
    /// One variance per mean; 1 until adapted.
    pub variance: Option<RunningState<Tensor<B, 1>>>,
    /// How many examples `adapt` read; 0 until adapted.
    pub count: Option<RunningState<Tensor<B, 1>>>,
    /// The declared mean and variance: constants, on the device once, neither saved nor
    /// counted as parameters (Keras's have none either).
    pub given: Option<(Tensor<B, 1>, Tensor<B, 1>)>,
}

/// `(x - mean) / max(sqrt(variance), 1e-7)`, or with `invert` `mean + x · max(...)`, the
/// mean and variance broadcast along `l`'s axis.
pub fn normalization<B: Backend, const D: usize>(
    l: &layers::Normalization,
    m: &Normalization<B>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    let device = x.device();
    let (mean, variance) = match (&m.mean, &m.variance, &m.given) {
        (Some(mean), Some(variance), _) => (mean.value(), variance.value()),
        (_, _, Some((mean, variance))) => (mean.clone(), variance.clone()),
        // `init` gives every Normalization its state or its constants.
        _ => return x,
    };
    let mut shape = [1; D];
    let size = mean.dims()[0];
    if l.axis == NormAxis::Features && size > 1 {
        shape[1 + feature_axis(D - 1)] = size;
    }
    let mean = mean.to_device(&device).reshape(shape);
    let scale = variance
        .to_device(&device)
        .sqrt()
        .clamp_min(EPSILON)
        .reshape(shape);
    if l.invert {
        x * scale + mean
    } else {
        (x - mean) / scale
    }
}

impl<B: Backend> Stateful<B> for kinds::Normalization {
    type Module = Normalization<B>;

    fn init(l: &layers::Normalization, input: &Shape, device: &B::Device) -> Normalization<B> {
        let state = |t: Tensor<B, 1>| l.adapts().then(|| RunningState::new(t));
        let constant = |values: &[f64]| {
            let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            Tensor::from_floats(values.as_slice(), device)
        };
        let size = l.size(input);
        Normalization {
            mean: state(Tensor::zeros([size], device)),
            variance: state(Tensor::ones([size], device)),
            count: state(Tensor::zeros([1], device)),
            given: l
                .mean
                .as_deref()
                .zip(l.variance.as_deref())
                .map(|(m, v)| (constant(m), constant(v))),
        }
    }

    fn forward(
        l: &layers::Normalization,
        m: &Normalization<B>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        each_rank!(t, |x| normalization(l, m, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend as T, floats};

    fn config(axis: NormAxis, given: Option<(Vec<f64>, Vec<f64>)>) -> layers::Normalization {
        let (mean, variance) = given.unzip();
        layers::Normalization {
            axis,
            mean,
            variance,
            invert: false,
        }
    }

    #[test]
    fn standardizes_per_feature_or_over_all_and_inverts() {
        let device = Default::default();
        // Keras 3.15: Normalization(mean=[1, -2], variance=[4, 0]) of [[3, -2], [0, 1]]
        // is [[1, 0], [-0.5, 3e7]]: a variance of 0 divides by 1e-7.
        let per_feature = config(NormAxis::Features, Some((vec![1.0, -2.0], vec![4.0, 0.0])));
        let module = |l: &layers::Normalization, input: &[usize]| {
            <kinds::Normalization as Stateful<T>>::init(
                l,
                &Shape::known(input.iter().copied()),
                &device,
            )
        };
        let none = module(&per_feature, &[2]);
        assert!(none.mean.is_none() && none.count.is_none());
        assert_eq!(none.num_params(), 0);
        let x = Tensor::<T, 2>::from_floats([[3.0, -2.0], [0.0, 1.0]], &device);
        assert_eq!(
            floats(normalization(&per_feature, &none, x.clone())),
            [1.0, 0.0, -0.5, 3e7]
        );
        let mut inverse = per_feature.clone();
        inverse.invert = true;
        let y = normalization(&per_feature, &none, x.clone());
        let back = floats(normalization(&inverse, &none, y));
        assert_eq!(back, floats(x));
        // Channels of [2, 1, 2] images, first in kiln's order; one value for all.
        let images = Tensor::<T, 4>::from_floats([[[[2.0, 4.0]], [[10.0, 20.0]]]], &device);
        let channels = config(
            NormAxis::Features,
            Some((vec![2.0, 10.0], vec![4.0, 100.0])),
        );
        assert_eq!(
            floats(normalization(
                &channels,
                &module(&channels, &[2, 1, 2]),
                images.clone()
            )),
            [0.0, 1.0, 0.0, 1.0]
        );
        let all = config(NormAxis::All, Some((vec![4.0], vec![16.0])));
        assert_eq!(
            floats(normalization(&all, &module(&all, &[2, 1, 2]), images)),
            [-0.5, 0.0, 1.5, 4.0]
        );
    }

    #[test]
    fn adapted_state_starts_as_the_identity() {
        let device = Default::default();
        let adapted = config(NormAxis::Features, None);
        let m = <kinds::Normalization as Stateful<T>>::init(
            &adapted,
            &Shape::new([kiln_spec::Dim::Unknown, kiln_spec::Dim::Known(3)]),
            &device,
        );
        assert_eq!(m.num_params(), 7);
        let x = Tensor::<T, 3>::from_floats([[[1.0, -2.0, 3.5]]], &device);
        assert_eq!(floats(normalization(&adapted, &m, x)), [1.0, -2.0, 3.5]);
    }
}
