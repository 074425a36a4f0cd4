//! GroupNormalization and UnitNormalization: each example's features normalized in
//! groups, or divided by their L2 norm, as Keras computes them.

use burn::module::{Initializer, Module, Param};
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Shape, feature_axis, kinds, layers};

use super::{Run, RuntimeLayer, Stateful, size};
use crate::dyn_tensor::{DynTensor, each_rank};

/// A GroupNormalization's weights, one per feature: `gamma` at one (when it scales),
/// `beta` at zero (when centred), as Keras starts them.
#[derive(Module, Debug)]
pub struct GroupNorm<B: Backend> {
    /// The scale of each feature.
    pub gamma: Option<Param<Tensor<B, 1>>>,
    /// The shift of each feature.
    pub beta: Option<Param<Tensor<B, 1>>>,
}

/// `x` with its features at dimension 1, `[batch, features, ...]`: a sequence's are moved
/// there from the last (and back by the same swap).
fn features_second<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    match 1 + feature_axis(D - 1) {
        1 => x,
        axis => x.swap_dims(1, axis),
    }
}

/// Each example's features in `groups` groups of consecutive ones, each group normalized
/// over its features and positions, then scaled and shifted per feature.
pub fn group_norm<B: Backend, const D: usize>(
    l: &layers::GroupNormalization,
    m: &GroupNorm<B>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    let x = features_second(x);
    let dims = x.dims();
    let features = dims[1];
    let groups = l.group_count(features);
    let grouped: Tensor<B, 3> = x.reshape([dims[0] as i32, groups as i32, -1]);
    let mean = grouped.clone().mean_dim(2);
    let centred = grouped - mean;
    let variance = centred.clone().square().mean_dim(2);
    let normalized: Tensor<B, D> = (centred / variance.add_scalar(l.epsilon).sqrt()).reshape(dims);
    let mut per_feature = [1; D];
    per_feature[1] = features;
    let mut y = normalized;
    if let Some(gamma) = &m.gamma {
        y = y * gamma.val().reshape(per_feature);
    }
    if let Some(beta) = &m.beta {
        y = y + beta.val().reshape(per_feature);
    }
    features_second(y)
}

impl<B: Backend> Stateful<B> for kinds::GroupNormalization {
    type Module = GroupNorm<B>;

    fn init(l: &layers::GroupNormalization, input: &Shape, device: &B::Device) -> GroupNorm<B> {
        let features = size(input, feature_axis(input.rank()));
        let weight = |on: bool, init: Initializer| on.then(|| init.init([features], device));
        GroupNorm {
            gamma: weight(l.scale, Initializer::Ones),
            beta: weight(l.center, Initializer::Zeros),
        }
    }

    fn forward(
        l: &layers::GroupNormalization,
        m: &GroupNorm<B>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        each_rank!(t, |x| group_norm(l, m, x))
    }
}

/// Each example's features (at each position) divided by their L2 norm, kept above
/// Keras's 1e-12 (the squares clamped before the root, whose slope at 0 is infinite, so
/// features all 0 have a gradient of 0 where Keras's is NaN).
pub fn unit_norm<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let axis = 1 + feature_axis(D - 1);
    let norm = x.clone().square().sum_dim(axis).clamp_min(1e-24).sqrt();
    x / norm
}

impl<B: Backend> Run<B> for kinds::UnitNormalization {
    fn step(
        _: &layers::UnitNormalization,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        each_rank!(t, |x| unit_norm(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestAutodiff, TestBackend as T, assert_close, floats};

    fn config(groups: i64) -> layers::GroupNormalization {
        layers::GroupNormalization {
            groups,
            epsilon: 1e-3,
            center: true,
            scale: true,
        }
    }

    #[test]
    fn groups_of_features_normalize_over_their_positions() {
        let device = Default::default();
        // An image of 4 channels of 1x2 pixels in 2 groups: channels (0, 1) hold
        // 1, 3, 5, 7 (mean 4, variance 5) and (2, 3) hold 0, 0, 2, 2 (mean 1, variance 1).
        let image = Tensor::<T, 4>::from_floats(
            [[[[1.0, 3.0]], [[5.0, 7.0]], [[0.0, 0.0]], [[2.0, 2.0]]]],
            &device,
        );
        let two = config(2);
        let m = <kinds::GroupNormalization as Stateful<T>>::init(
            &two,
            &Shape::known([4, 1, 2]),
            &device,
        );
        let (a, b) = (1.0 / (5.0f32 + 1e-3).sqrt(), 1.0 / (1.0f32 + 1e-3).sqrt());
        let want = [-3.0 * a, -a, a, 3.0 * a, -b, -b, b, b];
        assert_close(&floats(group_norm(&two, &m, image)), &want, 1e-5, "image");
        // A sequence's features are its last axis: 2 steps of 2 features, one group each.
        let steps = Tensor::<T, 3>::from_floats([[[1.0, 10.0], [3.0, 30.0]]], &device);
        let each = config(-1);
        let m =
            <kinds::GroupNormalization as Stateful<T>>::init(&each, &Shape::known([2, 2]), &device);
        let c = 1.0 / (1.0f32 + 1e-3).sqrt();
        let d = 10.0 / (100.0f32 + 1e-3).sqrt();
        assert_close(
            &floats(group_norm(&each, &m, steps)),
            &[-c, -d, c, d],
            1e-5,
            "steps",
        );
    }

    #[test]
    fn unit_norm_divides_each_position_s_features_by_their_length() {
        let device = Default::default();
        let v = Tensor::<T, 2>::from_floats([[3.0, -4.0], [0.0, 0.0]], &device);
        assert_eq!(floats(unit_norm(v)), [0.6, -0.8, 0.0, 0.0]);
        // Channels first: each pixel's (3, 4) becomes (0.6, 0.8).
        let image = Tensor::<T, 4>::from_floats([[[[3.0, 0.0]], [[4.0, 2.0]]]], &device);
        assert_eq!(floats(unit_norm(image)), [0.6, 0.0, 0.8, 1.0]);
        // Features all 0 (after a ReLU, say) pass a finite gradient back.
        let zeros = Tensor::<TestAutodiff, 2>::zeros([1, 3], &device).require_grad();
        let grads = unit_norm(zeros.clone()).sum().backward();
        let slope = zeros
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert!(slope.iter().all(|g| g.is_finite()), "{slope:?}");
    }
}
