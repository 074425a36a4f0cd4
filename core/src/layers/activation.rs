//! Activation, Softmax, ReLU, LeakyReLU, ELU and Rescaling, value by value (Softmax
//! along the last axis): an Activation's or a Softmax's function comes after the step, as
//! every layer's does; the others' arguments make their step.

use burn::tensor::activation as act;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::kinds;
use kiln_spec::layers::{ActivationLayer, Elu, LeakyRelu, Relu, Rescaling, SoftmaxLayer};

use super::{Run, RuntimeLayer};
use crate::dyn_tensor::{DynTensor, each_rank};

/// Keras's ReLU layer on `x`: `x` above the threshold, capped at `max_value`, and the
/// negative slope times `x - threshold` below it.
fn relu_layer<B: Backend, const D: usize>(r: &Relu, x: Tensor<B, D>) -> Tensor<B, D> {
    let above = if r.threshold == 0.0 {
        act::relu(x.clone())
    } else {
        let at_or_below = x.clone().lower_equal_elem(r.threshold);
        x.clone().mask_fill(at_or_below, 0.0)
    };
    let capped = match r.max_value {
        Some(max) => above.clamp(0.0, max),
        None => above,
    };
    if r.negative_slope == 0.0 {
        return capped;
    }
    let below = act::relu(x.neg().add_scalar(r.threshold));
    capped - below.mul_scalar(r.negative_slope)
}

/// The layers whose function is the model's activation after the step.
macro_rules! applied_after {
    ($($kind:ident($config:ident)),*) => {$(
        impl<B: Backend> Run<B> for kinds::$kind {
            fn step(_: &$config, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
                t
            }
        }
    )*};
}

applied_after!(Activation(ActivationLayer), Softmax(SoftmaxLayer));

impl<B: Backend> Run<B> for kinds::ReLU {
    fn step(r: &Relu, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        each_rank!(t, |x| relu_layer(r, x))
    }
}

impl<B: Backend> Run<B> for kinds::LeakyReLU {
    fn step(l: &LeakyRelu, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        each_rank!(t, |x| act::leaky_relu(x, l.negative_slope))
    }
}

impl<B: Backend> Run<B> for kinds::ELU {
    fn step(e: &Elu, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        each_rank!(t, |x| act::elu(x, e.alpha))
    }
}

impl<B: Backend> Run<B> for kinds::Rescaling {
    fn step(r: &Rescaling, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        each_rank!(t, |x| x.mul_scalar(r.scale).add_scalar(r.offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, assert_close, floats, grid};

    #[test]
    fn the_rectifier_layers_compute_as_keras_s() {
        // Keras 3.15's layers on [-3, -1, 0, 0.5, 2, 7].
        let x = || {
            let values = [-3.0, -1.0, 0.0, 0.5, 2.0, 7.0];
            DynTensor::R2(Tensor::<TestBackend, 2>::from_floats(
                [values],
                &Default::default(),
            ))
        };
        let relu = |max_value, negative_slope, threshold| {
            let r = Relu {
                max_value,
                negative_slope,
                threshold,
            };
            floats(<kinds::ReLU as Run<TestBackend>>::step(&r, None, x(), false).get::<2>())
        };
        assert_eq!(relu(None, 0.0, 0.0), [0.0, 0.0, 0.0, 0.5, 2.0, 7.0]);
        assert_eq!(relu(Some(6.0), 0.0, 0.0), [0.0, 0.0, 0.0, 0.5, 2.0, 6.0]);
        let sloped = relu(None, 0.1, 1.0);
        assert_close(&sloped, &[-0.4, -0.2, -0.1, -0.05, 2.0, 7.0], 1e-6, "slope");
        let all = relu(Some(4.0), 0.5, 1.0);
        assert_close(
            &all,
            &[-2.0, -1.0, -0.5, -0.25, 2.0, 4.0],
            1e-6,
            "all three",
        );
        let leaky = LeakyRelu {
            negative_slope: 0.3,
        };
        let y = <kinds::LeakyReLU as Run<TestBackend>>::step(&leaky, None, x(), false);
        assert_close(
            &floats(y.get::<2>()),
            &[-0.9, -0.3, 0.0, 0.5, 2.0, 7.0],
            1e-6,
            "leaky",
        );
        let elu = Elu { alpha: 0.5 };
        let y = <kinds::ELU as Run<TestBackend>>::step(&elu, None, x(), false);
        let want = [-0.475_106_5, -0.316_060_3, 0.0, 0.5, 2.0, 7.0];
        assert_close(&floats(y.get::<2>()), &want, 1e-6, "elu");
    }

    #[test]
    fn rescaling_multiplies_then_adds() {
        let r = Rescaling {
            scale: 0.5,
            offset: -1.0,
        };
        let y = <kinds::Rescaling as Run<TestBackend>>::step(
            &r,
            None,
            DynTensor::R4(grid(2, 2)),
            false,
        );
        assert_eq!(floats(y.get::<4>()), [-0.5, 0.0, 0.5, 1.0]);
    }
}
