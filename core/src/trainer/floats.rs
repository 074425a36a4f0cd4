//! A model's floats as one flat tensor and back, in the model's order (the same in every
//! process): its gradients, its floats, its weights, or BatchNormalization's moving
//! statistics. A data-parallel worker sums them with the others in one exchange; an
//! optimizer's moving average of the weights (`use_ema`) is kept as one.
//!
//! The values are gathered first and written back after the sum, never summed while a
//! module is being visited: burn's `RunningState` holds its lock meanwhile, and the
//! replicas of one process share it.

#[cfg(feature = "distributed")]
use burn::module::ParamId;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
#[cfg(feature = "distributed")]
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

/// Which floats of a model: all of them, BatchNormalization's moving statistics, or the
/// weights an optimizer updates (the others, less the frozen ones).
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "distributed"), allow(dead_code))]
pub(crate) enum Floats {
    All,
    Statistics,
    Weights,
}

/// `model`'s trainable weights (every float but BatchNormalization's moving statistics
/// and the frozen weights), flattened one after the other; `None` for a model without
/// any.
pub(crate) fn weights<B: AutodiffBackend, M: Module<B>>(
    model: &M,
) -> Option<Tensor<B::InnerBackend, 1>> {
    let mut gather = Gather::<B>::new(Floats::Weights, false);
    model.visit(&mut gather);
    (!gather.parts.is_empty()).then(|| Tensor::cat(gather.parts, 0))
}

/// How many floats [`weights`] lays out for `model`, without laying them out.
pub(crate) fn weights_len<B: AutodiffBackend, M: Module<B>>(model: &M) -> usize {
    let mut gather = Gather::<B>::new(Floats::Weights, false);
    model.visit(&mut gather);
    gather.parts.iter().map(|p| p.dims()[0]).sum()
}

/// `model` with its weights from `flat`, laid out as [`weights`] lays them out.
pub(crate) fn with_weights<B: AutodiffBackend, M: Module<B>>(
    model: M,
    flat: Tensor<B::InnerBackend, 1>,
) -> M {
    model.map(&mut Scatter::<B>::new(Floats::Weights, flat, 1.0))
}

/// The fields being visited, as burn's derive names them on the way in.
#[derive(Default)]
struct Place(Vec<(String, String)>);

impl Place {
    fn enter(&mut self, name: &str, container: &str) {
        self.0.push((name.to_string(), container.to_string()));
    }

    fn exit(&mut self) {
        self.0.pop();
    }

    /// Whether the float visited now is one of `which` (`trainable` says whether it is
    /// not frozen).
    fn takes(&self, which: Floats, trainable: impl FnOnce() -> bool) -> bool {
        let statistic = matches!(self.0.last(), Some((name, container))
            if container == "Struct:BatchNorm" && (name == "running_mean" || name == "running_var"));
        match which {
            Floats::All => true,
            Floats::Statistics => statistic,
            Floats::Weights => !statistic && trainable(),
        }
    }
}

/// Gathers `which` floats, each flattened (zeros instead when `zeros`).
pub(crate) struct Gather<B: AutodiffBackend> {
    which: Floats,
    zeros: bool,
    place: Place,
    pub parts: Vec<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> Gather<B> {
    pub fn new(which: Floats, zeros: bool) -> Self {
        Gather {
            which,
            zeros,
            place: Place::default(),
            parts: Vec::new(),
        }
    }
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Gather<B> {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.place.enter(name, container);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.place.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if self
            .place
            .takes(self.which, || param.val().is_require_grad())
        {
            let value = param.val().inner().flatten::<1>(0, D - 1);
            self.parts.push(match self.zeros {
                true => value.zeros_like(),
                false => value,
            });
        }
    }
}

/// Writes `which` floats back from `summed`, divided by `divisor`.
pub(crate) struct Scatter<B: AutodiffBackend> {
    which: Floats,
    place: Place,
    summed: Tensor<B::InnerBackend, 1>,
    offset: usize,
    divisor: f64,
}

impl<B: AutodiffBackend> Scatter<B> {
    pub fn new(which: Floats, summed: Tensor<B::InnerBackend, 1>, divisor: f64) -> Self {
        Scatter {
            which,
            place: Place::default(),
            summed,
            offset: 0,
            divisor,
        }
    }
}

impl<B: AutodiffBackend> ModuleMapper<B> for Scatter<B> {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.place.enter(name, container);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.place.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if !self
            .place
            .takes(self.which, || param.val().is_require_grad())
        {
            return param;
        }
        let (id, tensor, mapper) = param.consume();
        let (grad, shape) = (tensor.is_require_grad(), tensor.shape());
        let n = shape.num_elements();
        let mut part = self.summed.clone().narrow(0, self.offset, n);
        self.offset += n;
        if self.divisor != 1.0 {
            part = part.div_scalar(self.divisor);
        }
        let value = Tensor::from_inner(part.reshape(shape)).set_require_grad(grad);
        Param::from_mapped_value(id, value, mapper)
    }
}

/// Takes a model's gradients out of `grads` in the model's order, each flattened.
#[cfg(feature = "distributed")]
pub(super) struct Flatten<'g, B: AutodiffBackend> {
    grads: &'g mut GradientsParams,
    pub places: Vec<(ParamId, Vec<usize>)>,
    pub parts: Vec<Tensor<B::InnerBackend, 1>>,
}

#[cfg(feature = "distributed")]
impl<'g, B: AutodiffBackend> Flatten<'g, B> {
    pub fn new(grads: &'g mut GradientsParams) -> Self {
        Flatten {
            grads,
            places: Vec::new(),
            parts: Vec::new(),
        }
    }
}

#[cfg(feature = "distributed")]
impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.places.push((param.id, g.dims().to_vec()));
            self.parts.push(g.flatten::<1>(0, D - 1));
        }
    }
}

/// Puts summed gradients back in the model's order, each in its shape.
#[cfg(feature = "distributed")]
pub(super) struct Restore<'g, B: AutodiffBackend> {
    grads: &'g mut GradientsParams,
    places: std::iter::Peekable<std::vec::IntoIter<(ParamId, Vec<usize>)>>,
    summed: Tensor<B::InnerBackend, 1>,
    offset: usize,
}

#[cfg(feature = "distributed")]
impl<'g, B: AutodiffBackend> Restore<'g, B> {
    pub fn new(
        grads: &'g mut GradientsParams,
        places: Vec<(ParamId, Vec<usize>)>,
        summed: Tensor<B::InnerBackend, 1>,
    ) -> Self {
        Restore {
            grads,
            places: places.into_iter().peekable(),
            summed,
            offset: 0,
        }
    }
}

#[cfg(feature = "distributed")]
impl<B: AutodiffBackend> ModuleVisitor<B> for Restore<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let Some((_, dims)) = self.places.next_if(|(id, _)| *id == param.id) else {
            return;
        };
        let Ok(shape) = <[usize; D]>::try_from(dims.as_slice()) else {
            return;
        };
        let n = dims.iter().product::<usize>();
        let part = self.summed.clone().narrow(0, self.offset, n);
        self.offset += n;
        self.grads
            .register::<B::InnerBackend, D>(param.id, part.reshape(shape));
    }
}
