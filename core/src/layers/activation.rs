//! Activation and Rescaling, value by value: an Activation's function comes after the
//! step, as every layer's does; Rescaling's factor and offset are its step.

use burn::tensor::backend::Backend;
use kiln_spec::kinds;
use kiln_spec::layers::{ActivationLayer, Rescaling};

use super::{Run, RuntimeLayer};
use crate::dyn_tensor::{DynTensor, each_rank};

impl<B: Backend> Run<B> for kinds::Activation {
    fn step(
        _: &ActivationLayer,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        t
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
    use crate::testing::{TestBackend, floats, grid};

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
