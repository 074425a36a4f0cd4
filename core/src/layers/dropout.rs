//! Dropout (burn-nn's `Dropout`), and the other layers that act only while training:
//! GaussianNoise, GaussianDropout, SpatialDropout1D and SpatialDropout2D.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use kiln_spec::{Shape, kinds, layers};

use super::Stateful;
use crate::dyn_tensor::{DynTensor, each_rank};

/// A Dropout layer dropping `rate` of its inputs while training (on an autodiff backend)
/// and passing them through unchanged at inference.
///
/// # Panics
/// When `rate` is outside `[0, 1]`; kiln-spec refuses such a rate first.
pub fn dropout(rate: f64) -> Dropout {
    DropoutConfig::new(rate).init()
}

/// Dropout's step: drops while `training` (the training forward pass, on an autodiff
/// backend) and passes `x` through otherwise, as Keras's `model(x)` does.
pub fn dropout_step<B: Backend, const D: usize>(
    dropout: &Dropout,
    x: Tensor<B, D>,
    training: bool,
) -> Tensor<B, D> {
    if training { dropout.forward(x) } else { x }
}

impl<B: Backend> Stateful<B> for kinds::Dropout {
    type Module = Dropout;

    fn init(l: &layers::Dropout, _: &Shape, _: &B::Device) -> Dropout {
        dropout(l.rate)
    }

    fn forward(_: &layers::Dropout, d: &Dropout, t: DynTensor<B>, training: bool) -> DynTensor<B> {
        each_rank!(t, |x| dropout_step(d, x, training))
    }
}

/// The module of a layer that acts only while training and holds no weights: its one
/// setting (GaussianNoise's standard deviation, the dropout rates), read by its step.
#[derive(Module, Clone, Debug)]
pub struct WhileTraining {
    /// The setting.
    pub value: f64,
}

/// `x` plus Gaussian noise of `stddev` (on an autodiff backend: a model's inner one,
/// which validation and `evaluate` run, passes `x` through, as burn's Dropout does).
fn gaussian_noise<B: Backend, const D: usize>(x: Tensor<B, D>, stddev: f64) -> Tensor<B, D> {
    if !B::ad_enabled(&x.device()) {
        return x;
    }
    let noise = Tensor::random(x.shape(), Distribution::Normal(0.0, stddev), &x.device());
    x + noise
}

/// `x` times Gaussian noise of mean 1 and standard deviation `√(rate / (1 - rate))` (on
/// an autodiff backend).
fn gaussian_dropout<B: Backend, const D: usize>(x: Tensor<B, D>, rate: f64) -> Tensor<B, D> {
    if !B::ad_enabled(&x.device()) {
        return x;
    }
    let spread = (rate / (1.0 - rate)).sqrt();
    let noise = Tensor::random(x.shape(), Distribution::Normal(1.0, spread), &x.device());
    x * noise
}

/// `x` with whole channels zeroed at `rate` and the rest scaled by `1 / (1 - rate)` (on an
/// autodiff backend): one draw per example and channel, shared along the dimensions
/// where `shared` is 1.
fn spatial_dropout<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    rate: f64,
    shared: [usize; D],
) -> Tensor<B, D> {
    if !B::ad_enabled(&x.device()) {
        return x;
    }
    let dims = x.dims();
    let draws: [usize; D] = std::array::from_fn(|i| if shared[i] == 1 { 1 } else { dims[i] });
    let mask = Tensor::<B, D>::random(draws, Distribution::Bernoulli(1.0 - rate), &x.device());
    x * mask.div_scalar(1.0 - rate).expand(dims)
}

/// The [`Stateful`] of each layer that acts only while training: its module holds its
/// `setting`, and its `step` runs on the tensor `t` and the setting `v` in the training
/// forward pass when the setting is not 0 (as Keras's), the values passing through
/// otherwise.
macro_rules! while_training {
    ($($kind:ident: $setting:ident => |$t:ident, $v:ident| $step:expr;)*) => {$(
        impl<B: Backend> Stateful<B> for kinds::$kind {
            type Module = WhileTraining;

            fn init(l: &layers::$kind, _: &Shape, _: &B::Device) -> WhileTraining {
                WhileTraining { value: l.$setting }
            }

            fn forward(
                _: &layers::$kind,
                m: &WhileTraining,
                $t: DynTensor<B>,
                training: bool,
            ) -> DynTensor<B> {
                let $v = m.value;
                if training && $v > 0.0 { $step } else { $t }
            }
        }
    )*};
}

while_training! {
    GaussianNoise: stddev => |t, v| each_rank!(t, |x| gaussian_noise(x, v));
    GaussianDropout: rate => |t, v| each_rank!(t, |x| gaussian_dropout(x, v));
    // [batch, steps, channels]: one draw per example and channel, for every step.
    SpatialDropout1D: rate => |t, v| DynTensor::R3(spatial_dropout(t.get(), v, [0, 1, 0]));
    // [batch, channels, height, width]: one draw per example and channel.
    SpatialDropout2D: rate => |t, v| DynTensor::R4(spatial_dropout(t.get(), v, [0, 0, 1, 1]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestAutodiff as B, TestBackend as Inner, floats};

    fn step<K: Stateful<B, Module = WhileTraining>>(
        config: &K::Config,
        value: f64,
        x: DynTensor<B>,
        training: bool,
    ) -> Vec<f32> {
        match K::forward(config, &WhileTraining { value }, x, training) {
            DynTensor::R2(t) => floats(t),
            DynTensor::R3(t) => floats(t),
            DynTensor::R4(t) => floats(t),
        }
    }

    /// The mean and standard deviation of `values`.
    fn moments(values: &[f32]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    }

    #[test]
    fn gaussian_noise_and_dropout_act_while_training_only() {
        let device = Default::default();
        let ones = || DynTensor::R2(Tensor::<B, 2>::ones([100, 100], &device));
        let noise = layers::GaussianNoise { stddev: 0.5 };
        assert_eq!(
            step::<kinds::GaussianNoise>(&noise, 0.5, ones(), false),
            vec![1.0; 10_000]
        );
        let (mean, spread) = moments(&step::<kinds::GaussianNoise>(&noise, 0.5, ones(), true));
        assert!(
            (mean - 1.0).abs() < 0.03 && (spread - 0.5).abs() < 0.025,
            "{mean}, {spread}"
        );
        // A rate of 0.2 stands for noise of standard deviation √(0.2 / 0.8) = 0.5.
        let dropout = layers::GaussianDropout { rate: 0.2 };
        assert_eq!(
            step::<kinds::GaussianDropout>(&dropout, 0.2, ones(), false),
            vec![1.0; 10_000]
        );
        let (mean, spread) = moments(&step::<kinds::GaussianDropout>(&dropout, 0.2, ones(), true));
        assert!(
            (mean - 1.0).abs() < 0.03 && (spread - 0.5).abs() < 0.025,
            "{mean}, {spread}"
        );
    }

    /// A model's inner backend (validation, `evaluate`) passes the values through, as
    /// burn's Dropout does; so does a setting of 0.
    #[test]
    fn they_pass_values_through_without_autodiff_or_at_zero() {
        let device = Default::default();
        let ones = Tensor::<Inner, 2>::ones([10, 10], &device);
        let noise = layers::GaussianNoise { stddev: 0.5 };
        let m = WhileTraining { value: 0.5 };
        let out = <kinds::GaussianNoise as Stateful<Inner>>::forward(
            &noise,
            &m,
            DynTensor::R2(ones),
            true,
        );
        assert_eq!(floats(out.get::<2>()), vec![1.0; 100]);
        let ones = || DynTensor::R2(Tensor::<B, 2>::ones([10, 10], &device));
        let zero = layers::GaussianNoise { stddev: 0.0 };
        assert_eq!(
            step::<kinds::GaussianNoise>(&zero, 0.0, ones(), true),
            vec![1.0; 100]
        );
    }

    #[test]
    fn spatial_dropout_drops_whole_channels() {
        let device = Default::default();
        // 50 images of 40 channels of 3×3 ones: each channel all 0 or all 2 at rate 0.5.
        let images = DynTensor::R4(Tensor::<B, 4>::ones([50, 40, 3, 3], &device));
        let config = layers::SpatialDropout2D { rate: 0.5 };
        let out = step::<kinds::SpatialDropout2D>(&config, 0.5, images.clone(), true);
        let planes: Vec<&[f32]> = out.chunks(9).collect();
        assert!(
            planes
                .iter()
                .all(|p| p.iter().all(|&v| v == p[0]) && (p[0] == 0.0 || p[0] == 2.0))
        );
        let dropped = planes.iter().filter(|p| p[0] == 0.0).count();
        assert!(
            (800..1200).contains(&dropped),
            "{dropped} of 2000 channels dropped"
        );
        assert_eq!(
            step::<kinds::SpatialDropout2D>(&config, 0.5, images, false),
            vec![1.0; 18_000]
        );
        // Sequences [steps, features]: a feature is dropped at every step of its example.
        let sequences = DynTensor::R3(Tensor::<B, 3>::ones([20, 5, 30], &device));
        let config = layers::SpatialDropout1D { rate: 0.5 };
        let out = step::<kinds::SpatialDropout1D>(&config, 0.5, sequences, true);
        for example in out.chunks(5 * 30) {
            let first = &example[..30];
            assert!(example.chunks(30).all(|s| s == first));
        }
    }
}
