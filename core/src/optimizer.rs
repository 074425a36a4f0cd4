//! Optimizers with Keras's names, arguments and defaults, running burn-optim's algorithms.
//! `learning_rate` takes a number or a schedule ([`crate::learning_rate`]); `decay` is
//! Keras 2's time-based decay: `lr / (1 + decay · iterations)`.

use std::collections::HashMap;
use std::path::Path;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    AdamConfig, AdamState, AdamWConfig, AdamWState, GradientsParams, Optimizer as _, RmsPropConfig,
    SgdConfig, SimpleOptimizer,
};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
#[cfg(feature = "flex")]
use kiln_cpu::AdamStep;

use crate::learning_rate::LearningRate;
use crate::trainer::floats::{weights, weights_len, with_weights};

macro_rules! setters {
    ($ty:ident { $($(#[$doc:meta])* $field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                $(#[$doc])*
                pub fn $field(mut self, $field: $t) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

mod rules;

pub use rules::{Adadelta, Adagrad, Adamax, Lion, Nadam};

/// Stochastic gradient descent, with momentum and Nesterov momentum as Keras's `SGD`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd {
    learning_rate: LearningRate,
    clip: Clip,
    ema: Ema,
    momentum: f64,
    nesterov: bool,
    decay: f64,
}

impl Sgd {
    /// Keras's defaults: learning rate 0.01, no momentum.
    pub fn new() -> Self {
        Sgd {
            learning_rate: LearningRate::Constant(0.01),
            clip: Clip::default(),
            ema: Ema::default(),
            momentum: 0.0,
            nesterov: false,
            decay: 0.0,
        }
    }
}

setters!(Sgd {
    /// The momentum factor, in `[0, 1)`.
    momentum: f64,
    /// Whether to use Nesterov momentum.
    nesterov: bool,
    /// Time-based decay of the learning rate.
    decay: f64,
});

/// RMSprop, as Keras's `RMSprop`.
#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp {
    learning_rate: LearningRate,
    clip: Clip,
    ema: Ema,
    rho: f64,
    epsilon: f64,
    momentum: f64,
    decay: f64,
}

impl RmsProp {
    /// Keras's defaults: learning rate 0.001, rho 0.9, epsilon 1e-7, no momentum.
    pub fn new() -> Self {
        RmsProp {
            learning_rate: LearningRate::Constant(0.001),
            clip: Clip::default(),
            ema: Ema::default(),
            rho: 0.9,
            epsilon: 1e-7,
            momentum: 0.0,
            decay: 0.0,
        }
    }
}

setters!(RmsProp {
    /// The discount of the moving average of squared gradients.
    rho: f64,
    /// Added to the root of that average.
    epsilon: f64,
    /// The momentum factor.
    momentum: f64,
    /// Time-based decay of the learning rate.
    decay: f64,
});

/// Adam, as Keras's `Adam` (epsilon is added as PyTorch and burn add it, to the
/// bias-corrected root).
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    learning_rate: LearningRate,
    clip: Clip,
    ema: Ema,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    amsgrad: bool,
    decay: f64,
}

impl Adam {
    /// Keras's defaults: learning rate 0.001, betas 0.9 and 0.999, epsilon 1e-7.
    pub fn new() -> Self {
        Adam {
            learning_rate: LearningRate::Constant(0.001),
            clip: Clip::default(),
            ema: Ema::default(),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
            decay: 0.0,
        }
    }
}

setters!(Adam {
    /// The decay of the first moment.
    beta_1: f64,
    /// The decay of the second moment.
    beta_2: f64,
    /// Added for numerical stability.
    epsilon: f64,
    /// Whether to use AMSGrad.
    amsgrad: bool,
    /// Time-based decay of the learning rate.
    decay: f64,
});

impl Adam {
    /// This Adam as a burn optimizer, for a training loop of one's own (the learning rate
    /// is given at each step, as burn's optimizers take it; `decay`, the gradient
    /// clipping and the weights' moving average are the trainer's: such a loop applies
    /// them itself).
    ///
    /// ```
    /// use burn::nn::{Linear, LinearConfig};
    /// use burn::optim::{GradientsParams, Optimizer};
    /// use burn::tensor::Tensor;
    /// use kiln_core::{Adam, backend::Cpu};
    ///
    /// let device = Default::default();
    /// let layer: Linear<Cpu> = LinearConfig::new(4, 2).init(&device);
    /// let before = layer.weight.val().into_data().to_vec::<f32>().unwrap();
    /// let mut adam = Adam::new().init();
    /// let loss = layer.forward(Tensor::<Cpu, 2>::ones([1, 4], &device)).sum();
    /// let grads = GradientsParams::from_grads(loss.backward(), &layer);
    /// let layer = adam.step(0.01, layer, grads);
    /// // Adam's first step moves every weight by the learning rate, against its gradient (+1).
    /// let after = layer.weight.val().into_data().to_vec::<f32>().unwrap();
    /// assert!(before.iter().zip(&after).all(|(b, a)| (b - a - 0.01).abs() < 1e-6));
    /// ```
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> OptimizerAdaptor<FusedAdam, M, B> {
        let moments = Moments::new(self.beta_1, self.beta_2, self.epsilon, self.amsgrad);
        OptimizerAdaptor::from(FusedAdam {
            burn: AdamConfig::new()
                .with_beta_1(moments.betas[0])
                .with_beta_2(moments.betas[1])
                .with_epsilon(moments.epsilon)
                .with_amsgrad(self.amsgrad)
                .build(),
            moments,
        })
    }
}

/// What the one-pass update needs of Adam's and AdamW's settings, as burn-optim takes
/// them (f32).
#[derive(Clone)]
// Without kiln's CPU backend every step takes burn-optim's ops: `amsgrad` is not read.
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
struct Moments {
    betas: [f32; 2],
    epsilon: f32,
    amsgrad: bool,
}

impl Moments {
    fn new(beta_1: f64, beta_2: f64, epsilon: f64, amsgrad: bool) -> Self {
        Moments {
            betas: [beta_1 as f32, beta_2 as f32],
            epsilon: epsilon as f32,
            amsgrad,
        }
    }
}

/// burn-optim's `Adam`, with the same state and results, whose update of each weight
/// runs in one pass on kiln's CPU backend (`kiln_cpu::adam_step`, bit for bit the
/// same floats as burn-optim's 13 tensor ops; AMSGrad and other backends take those).
#[derive(Clone)]
pub struct FusedAdam {
    burn: burn::optim::Adam,
    #[cfg_attr(not(feature = "flex"), allow(dead_code))]
    moments: Moments,
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: burn::optim::LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<AdamState<B, D>>,
    ) -> (Tensor<B, D>, Option<AdamState<B, D>>) {
        #[cfg(feature = "flex")]
        if one_pass::applies::<B>(&self.moments) {
            let Moments { betas, epsilon, .. } = self.moments;
            let coefficients = |t| AdamStep::adam(betas[0], betas[1], epsilon, lr, t);
            let burn = |tensor, grad, state| self.burn.step(lr, tensor, grad, state);
            let parts: one_pass::Parts<AdamState<B, D>, B, D> = (|s| s.momentum, AdamState::new);
            return one_pass::step(tensor, grad, state, parts, coefficients, burn);
        }
        self.burn.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: AdamState<B, D>, device: &B::Device) -> AdamState<B, D> {
        <burn::optim::Adam as SimpleOptimizer<B>>::to_device(state, device)
    }
}

/// burn-optim's `AdamW`, as [`FusedAdam`] is its `Adam`: the same state and floats, each
/// weight's update in one pass on kiln's CPU backend.
#[derive(Clone)]
pub struct FusedAdamW {
    burn: burn::optim::AdamW,
    // Without kiln's CPU backend every step takes burn-optim's ops, which `burn` holds.
    #[cfg_attr(not(feature = "flex"), allow(dead_code))]
    moments: Moments,
    #[cfg_attr(not(feature = "flex"), allow(dead_code))]
    weight_decay: f32,
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: burn::optim::LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<AdamWState<B, D>>,
    ) -> (Tensor<B, D>, Option<AdamWState<B, D>>) {
        #[cfg(feature = "flex")]
        if one_pass::applies::<B>(&self.moments) {
            let Moments { betas, epsilon, .. } = self.moments;
            let coefficients = |t| AdamStep::adam_w(betas, epsilon, self.weight_decay, lr, t);
            let burn = |tensor, grad, state| self.burn.step(lr, tensor, grad, state);
            let parts: one_pass::Parts<AdamWState<B, D>, B, D> = (|s| s.momentum, AdamWState::new);
            return one_pass::step(tensor, grad, state, parts, coefficients, burn);
        }
        self.burn.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: AdamWState<B, D>, device: &B::Device) -> AdamWState<B, D> {
        <burn::optim::AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}

/// The one pass on kiln's CPU backend, reached from code generic over `B` by comparing
/// types (burn-flex's own backend, the reference kiln's is measured against, keeps
/// burn-optim's ops).
#[cfg(feature = "flex")]
mod one_pass {
    use std::any::{Any, TypeId};

    use burn::optim::AdaptiveMomentumState;
    use burn::tensor::backend::{Backend, BackendTypes};
    use burn::tensor::{Tensor, TensorPrimitive};
    use kiln_cpu::{AdamStep, KilnCpu, adam_step};

    use super::Moments;

    /// The tensors of kiln's CPU backend.
    type Cpu = <KilnCpu as BackendTypes>::FloatTensorPrimitive;

    /// How an optimizer's state holds Adam's moments: taken out, and put back.
    pub(super) type Parts<S, B, const D: usize> = (
        fn(S) -> AdaptiveMomentumState<B, D>,
        fn(AdaptiveMomentumState<B, D>) -> S,
    );

    /// Whether the one pass runs: on kiln's CPU backend, without AMSGrad.
    pub(super) fn applies<B: Backend>(moments: &Moments) -> bool {
        !moments.amsgrad && TypeId::of::<B>() == TypeId::of::<KilnCpu>()
    }

    fn cpu<B: Backend>(primitive: &mut TensorPrimitive<B>) -> Option<&mut Cpu> {
        match primitive {
            TensorPrimitive::Float(p) => (p as &mut dyn Any).downcast_mut(),
            TensorPrimitive::QFloat(_) => None,
        }
    }

    /// One step of Adam or AdamW (`coefficients` of the step's number, from 1) in one
    /// pass, or `burn`'s step where the tensors do not allow it (from zero moments at time
    /// 0 when there is no state yet, which burn-optim takes as its first step).
    pub(super) fn step<B: Backend, const D: usize, S>(
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<S>,
        (moments, state_of): Parts<S, B, D>,
        coefficients: impl FnOnce(i32) -> AdamStep,
        burn: impl FnOnce(Tensor<B, D>, Tensor<B, D>, Option<S>) -> (Tensor<B, D>, Option<S>),
    ) -> (Tensor<B, D>, Option<S>) {
        let (time, moment_1, moment_2) = match state.map(moments) {
            Some(m) => (m.time, m.moment_1, m.moment_2),
            None => (0, tensor.zeros_like(), tensor.zeros_like()),
        };
        let step = coefficients(i32::try_from(time + 1).unwrap_or(i32::MAX));
        let mut parts = [tensor, grad, moment_1, moment_2].map(Tensor::into_primitive);
        let [w, g, m, v] = &mut parts;
        let done = match (cpu(w), cpu(g), cpu(m), cpu(v)) {
            (Some(w), Some(g), Some(m), Some(v)) => adam_step(w, g, m, v, &step),
            _ => false,
        };
        let [w, g, m, v] = parts.map(Tensor::from_primitive);
        if done {
            (
                w,
                Some(state_of(AdaptiveMomentumState::new(time + 1, m, v))),
            )
        } else {
            burn(w, g, Some(state_of(AdaptiveMomentumState::new(time, m, v))))
        }
    }
}

/// Adam with decoupled weight decay, as Keras's `AdamW`.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamW {
    learning_rate: LearningRate,
    clip: Clip,
    ema: Ema,
    weight_decay: f64,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    amsgrad: bool,
    decay: f64,
}

impl AdamW {
    /// Keras's defaults: learning rate 0.001, weight decay 0.004, betas 0.9 and 0.999,
    /// epsilon 1e-7.
    pub fn new() -> Self {
        AdamW {
            learning_rate: LearningRate::Constant(0.001),
            clip: Clip::default(),
            ema: Ema::default(),
            weight_decay: 0.004,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
            decay: 0.0,
        }
    }
}

impl AdamW {
    /// This AdamW as a burn optimizer, for a training loop of one's own (see
    /// [`Adam::init`]).
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> OptimizerAdaptor<FusedAdamW, M, B> {
        let moments = Moments::new(self.beta_1, self.beta_2, self.epsilon, self.amsgrad);
        OptimizerAdaptor::from(FusedAdamW {
            burn: AdamWConfig::new()
                .with_beta_1(moments.betas[0])
                .with_beta_2(moments.betas[1])
                .with_epsilon(moments.epsilon)
                .with_weight_decay(self.weight_decay as f32)
                .with_amsgrad(self.amsgrad)
                .build(),
            moments,
            weight_decay: self.weight_decay as f32,
        })
    }
}

setters!(AdamW {
    /// The decoupled weight decay factor.
    weight_decay: f64,
    /// The decay of the first moment.
    beta_1: f64,
    /// The decay of the second moment.
    beta_2: f64,
    /// Added for numerical stability.
    epsilon: f64,
    /// Whether to use AMSGrad.
    amsgrad: bool,
    /// Time-based decay of the learning rate.
    decay: f64,
});

macro_rules! defaults {
    ($($ty:ident),*) => {$(
        impl Default for $ty {
            fn default() -> Self {
                $ty::new()
            }
        }
        impl From<$ty> for Optimizer {
            fn from(o: $ty) -> Self {
                Optimizer::$ty(o)
            }
        }
        impl $ty {
            /// The step size: a number, or a schedule of one per update
            /// ([`crate::learning_rate`], Keras's `keras.optimizers.schedules`).
            pub fn learning_rate(mut self, learning_rate: impl Into<LearningRate>) -> Self {
                self.learning_rate = learning_rate.into();
                self
            }

            /// Clips each weight's gradient to a norm of at most `clipnorm` before each
            /// update (`g · clipnorm / max(‖g‖, clipnorm)`), as Keras's `clipnorm`.
            pub fn clipnorm(mut self, clipnorm: f64) -> Self {
                self.clip.norm = Some(clipnorm);
                self
            }

            /// Clips each gradient value to `[-clipvalue, clipvalue]` before each update,
            /// as Keras's `clipvalue`.
            pub fn clipvalue(mut self, clipvalue: f64) -> Self {
                self.clip.value = Some(clipvalue);
                self
            }

            /// Scales every gradient by `global_clipnorm / max(‖all‖, global_clipnorm)`
            /// before each update, `‖all‖` the norm of all of them together, as Keras's
            /// `global_clipnorm`.
            pub fn global_clipnorm(mut self, global_clipnorm: f64) -> Self {
                self.clip.global_norm = Some(global_clipnorm);
                self
            }

            /// Keeps a moving average of the weights, `average = m · average + (1 - m) ·
            /// weights` after each update (the first update's weights to start), and puts
            /// it in the model's weights when `fit` ends, as Keras's `use_ema`.
            /// Validation and callbacks see the weights being trained, as in Keras.
            pub fn use_ema(mut self, on: bool) -> Self {
                self.ema.on = on;
                self
            }

            /// The moving average's momentum `m`, in [0, 1] (Keras's `ema_momentum`,
            /// 0.99).
            pub fn ema_momentum(mut self, momentum: f64) -> Self {
                self.ema.momentum = momentum;
                self
            }

            /// Also puts the moving average in the model's weights every `updates`
            /// updates, from where training goes on, as Keras's
            /// `ema_overwrite_frequency`.
            pub fn ema_overwrite_frequency(mut self, updates: u64) -> Self {
                self.ema.overwrite = Some(updates);
                self
            }
        }
    )*};
}

defaults!(
    Sgd, RmsProp, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Lion
);

/// One of the optimizers, as the trainer is compiled with it.
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// [`Sgd`].
    Sgd(Sgd),
    /// [`RmsProp`].
    RmsProp(RmsProp),
    /// [`Adam`].
    Adam(Adam),
    /// [`AdamW`].
    AdamW(AdamW),
    /// [`Adagrad`].
    Adagrad(Adagrad),
    /// [`Adadelta`].
    Adadelta(Adadelta),
    /// [`Adamax`].
    Adamax(Adamax),
    /// [`Nadam`].
    Nadam(Nadam),
    /// [`Lion`].
    Lion(Lion),
}

impl Default for Optimizer {
    /// Keras's `model.compile()` default: RMSprop.
    fn default() -> Self {
        Optimizer::RmsProp(RmsProp::new())
    }
}

/// `$body` with `$o` bound to the settings of `$optimizer`, whichever kind it is (each
/// has the learning rate, the decay and the clipping).
macro_rules! setting {
    ($optimizer:expr, $o:ident => $body:expr) => {
        match $optimizer {
            Optimizer::Sgd($o) => $body,
            Optimizer::RmsProp($o) => $body,
            Optimizer::Adam($o) => $body,
            Optimizer::AdamW($o) => $body,
            Optimizer::Adagrad($o) => $body,
            Optimizer::Adadelta($o) => $body,
            Optimizer::Adamax($o) => $body,
            Optimizer::Nadam($o) => $body,
            Optimizer::Lion($o) => $body,
        }
    };
}

impl Optimizer {
    /// The name, Keras's lower-cased: `sgd`, `rmsprop`, `adam`, `adamw`, `adagrad`,
    /// `adadelta`, `adamax`, `nadam`, `lion`.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => "sgd",
            Optimizer::RmsProp(_) => "rmsprop",
            Optimizer::Adam(_) => "adam",
            Optimizer::AdamW(_) => "adamw",
            Optimizer::Adagrad(_) => "adagrad",
            Optimizer::Adadelta(_) => "adadelta",
            Optimizer::Adamax(_) => "adamax",
            Optimizer::Nadam(_) => "nadam",
            Optimizer::Lion(_) => "lion",
        }
    }

    /// Why this optimizer cannot run, if it cannot: its learning rate or schedule
    /// ([`LearningRate::check`]), its gradient clipping (more than one kind, or a bound
    /// that is not positive), its moving average, or the settings of Adagrad, Adadelta,
    /// Adamax, Nadam and Lion (a decay outside [0, 1), say).
    pub fn check(&self) -> Result<(), String> {
        self.learning_rate().check()?;
        self.clip().check()?;
        setting!(self, o => o.ema).check()?;
        let own = match self {
            Optimizer::Adagrad(o) => o.check(),
            Optimizer::Adadelta(o) => o.check(),
            Optimizer::Adamax(o) => o.check(),
            Optimizer::Nadam(o) => o.check(),
            Optimizer::Lion(o) => o.check(),
            Optimizer::Sgd(_)
            | Optimizer::RmsProp(_)
            | Optimizer::Adam(_)
            | Optimizer::AdamW(_) => Ok(()),
        };
        own.map_err(|e| format!("{}'s {e}", self.name()))
    }

    fn clip(&self) -> Clip {
        setting!(self, o => o.clip)
    }

    /// The learning rate, or its schedule.
    pub fn learning_rate(&self) -> &LearningRate {
        setting!(self, o => &o.learning_rate)
    }

    /// The base learning rate, the one callbacks read and set: the rate, or its
    /// schedule's highest ([`LearningRate::reference`]).
    pub fn base_learning_rate(&self) -> f64 {
        self.learning_rate().reference()
    }

    fn decay(&self) -> f64 {
        setting!(self, o => o.decay)
    }

    /// The learning rate of the update after `iterations` updates: the
    /// [scheduled](Self::scheduled) rate with Keras 2's time-based decay,
    /// `/ (1 + decay · iterations)`.
    pub fn decayed(&self, base: f64, iterations: u64) -> f64 {
        self.scheduled(base, iterations) / (1.0 + self.decay() * iterations as f64)
    }

    /// The schedule's rate after `iterations` updates, scaled by `base` against the
    /// schedule's own base (a callback's change); `base` itself for a constant rate.
    pub fn scheduled(&self, base: f64, iterations: u64) -> f64 {
        let rate = self.learning_rate();
        match rate {
            LearningRate::Constant(_) => base,
            _ if rate.reference() == 0.0 => rate.at(iterations),
            _ => rate.at(iterations) * base / rate.reference(),
        }
    }

    /// The burn optimizer for a module of type `M`, with the gradient clipping.
    pub(crate) fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> Stepper<B, M> {
        let kind = match self {
            Optimizer::Sgd(o) => {
                let momentum = (o.momentum > 0.0).then_some(MomentumConfig {
                    momentum: o.momentum,
                    dampening: 0.0,
                    nesterov: o.nesterov,
                });
                Kind::Sgd(SgdConfig::new().with_momentum(momentum).init())
            }
            Optimizer::RmsProp(o) => Kind::RmsProp(
                RmsPropConfig::new()
                    .with_alpha(o.rho as f32)
                    .with_epsilon(o.epsilon as f32)
                    .with_momentum(o.momentum as f32)
                    .init(),
            ),
            Optimizer::Adam(o) => Kind::Adam(o.init()),
            Optimizer::AdamW(o) => Kind::AdamW(o.init()),
            Optimizer::Adagrad(o) => Kind::Rule(o.rule().into()),
            Optimizer::Adadelta(o) => Kind::Rule(o.rule().into()),
            Optimizer::Adamax(o) => Kind::Rule(o.rule().into()),
            Optimizer::Nadam(o) => Kind::Rule(o.rule().into()),
            Optimizer::Lion(o) => Kind::Rule(o.rule().into()),
        };
        Stepper {
            kind,
            clip: self.clip(),
            ema: Average::new(setting!(self, o => o.ema)),
        }
    }
}

/// The ids of `model`'s float weights, in the module's order.
fn param_ids<B: Backend, M: Module<B>>(model: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl<B: Backend> ModuleVisitor<B> for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    ids.0
}

/// The ids a saved state is keyed by: the weights' positions.
fn positions(n: usize) -> Vec<ParamId> {
    (0..n as u64).map(ParamId::from).collect()
}

/// `record` (burn's map of states by weight id), each weight's state keyed by `to[i]`
/// where it was keyed by `from[i]`.
fn rekey<V, Map>(record: Map, from: &[ParamId], to: &[ParamId]) -> Result<Map, String>
where
    Map: IntoIterator<Item = (ParamId, V)> + FromIterator<(ParamId, V)>,
{
    let to: HashMap<ParamId, ParamId> = from.iter().copied().zip(to.iter().copied()).collect();
    record
        .into_iter()
        .map(|(id, state)| match to.get(&id) {
            Some(&id) => Ok((id, state)),
            None => Err(format!(
                "the optimizer state holds a weight the model does not have (weight {}; the model has {})",
                id.val(),
                to.len()
            )),
        })
        .collect()
}

/// A burn optimizer of one of the kinds, for module `M`, and the clipping of the
/// gradients it is given.
pub(crate) struct Stepper<B: AutodiffBackend, M: AutodiffModule<B>> {
    kind: Kind<B, M>,
    clip: Clip,
    ema: Average<B>,
}

/// The burn optimizers of the kinds.
enum Kind<B: AutodiffBackend, M: AutodiffModule<B>> {
    Sgd(OptimizerAdaptor<burn::optim::Sgd<B::InnerBackend>, M, B>),
    RmsProp(OptimizerAdaptor<burn::optim::RmsProp, M, B>),
    Adam(OptimizerAdaptor<FusedAdam, M, B>),
    AdamW(OptimizerAdaptor<FusedAdamW, M, B>),
    /// Adagrad, Adadelta, Adamax, Nadam or Lion.
    Rule(OptimizerAdaptor<rules::Rule, M, B>),
}

/// `$body` with `$o` bound to the optimizer inside `$stepper`, whichever kind it is
/// (each kind has its own type, so the body is written once and compiled four times),
/// borrowed mutably with `mut`;
/// with `wrap` (a kind, owned or borrowed, a clipping and a moving average), the result
/// goes back into a `Stepper` of the same kind with those.
macro_rules! each_kind {
    ($stepper:expr, $o:ident => $body:expr) => {
        match &$stepper.kind {
            Kind::Sgd($o) => $body,
            Kind::RmsProp($o) => $body,
            Kind::Adam($o) => $body,
            Kind::AdamW($o) => $body,
            Kind::Rule($o) => $body,
        }
    };
    (mut $stepper:expr, $o:ident => $body:expr) => {
        match &mut $stepper.kind {
            Kind::Sgd($o) => $body,
            Kind::RmsProp($o) => $body,
            Kind::Adam($o) => $body,
            Kind::AdamW($o) => $body,
            Kind::Rule($o) => $body,
        }
    };
    (wrap $kind:expr, $clip:expr, $ema:expr, $o:ident => $body:expr) => {
        Stepper {
            clip: $clip,
            ema: $ema,
            kind: match $kind {
                Kind::Sgd($o) => Kind::Sgd($body),
                Kind::RmsProp($o) => Kind::RmsProp($body),
                Kind::Adam($o) => Kind::Adam($body),
                Kind::AdamW($o) => Kind::AdamW($body),
                Kind::Rule($o) => Kind::Rule($body),
            },
        }
    };
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Stepper<B, M> {
    /// Saves the optimizer's state (moments, step counts) of `model`'s weights to `path`
    /// plus `.bin`, each weight's state under its position in the module (burn keys it by
    /// the weight's id, which every process draws anew).
    pub fn save(&self, model: &M, path: &Path) -> Result<(), String> {
        let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
        let path = path.to_path_buf();
        let ids = param_ids(model);
        let (from, to) = (&ids[..], &positions(ids.len())[..]);
        each_kind!(self, o => {
            Recorder::<B>::record(&recorder, rekey(o.to_record(), from, to)?, path)
        })
        .map_err(|e| e.to_string())
    }

    /// The same optimizer with the state saved at `path` (plus `.bin`) for `model`'s
    /// weights, by their positions in the module.
    pub fn load(self, model: &M, path: &Path, device: &B::Device) -> Result<Self, String> {
        let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
        let path = path.to_path_buf();
        let ids = param_ids(model);
        let (from, to) = (&positions(ids.len())[..], &ids[..]);
        let err = |e: burn::record::RecorderError| e.to_string();
        Ok(each_kind!(wrap self.kind, self.clip, self.ema, o => {
            o.load_record(rekey(recorder.load(path, device).map_err(err)?, from, to)?)
        }))
    }

    /// The floats the moving average of the weights holds, if it is kept.
    #[cfg(test)]
    pub fn average_len(&self) -> Option<usize> {
        self.ema.average.as_ref().map(|a| a.dims()[0])
    }

    /// The weights Adam keeps moments for.
    #[cfg(test)]
    pub fn adam_state(&self) -> Vec<burn::module::ParamId> {
        match &self.kind {
            Kind::Adam(o) => o.to_record().into_keys().collect(),
            _ => Vec::new(),
        }
    }

    /// The same optimizer and state on `device`: a data-parallel worker's.
    #[cfg(feature = "distributed")]
    pub fn replica(&self, device: &B::Device) -> Self {
        use burn::record::Record;
        each_kind!(wrap &self.kind, self.clip, self.ema.replica(device), o => {
            let item = o.to_record().into_item::<FullPrecisionSettings>();
            o.clone().load_record(Record::from_item::<FullPrecisionSettings>(item, device))
        })
    }

    /// One update of `module` with `grads` at `lr`, clipped first, then the moving
    /// average of the weights, if kept.
    pub fn step(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        let grads = self.clip.apply::<B, M>(&module, grads);
        let module = each_kind!(mut self, o => o.step(lr, module, grads));
        self.ema.update(module)
    }

    /// Tells the optimizer how many updates the training has made (when `fit` starts, a
    /// resumed one's too): the moving average's first update and overwrites count from it.
    pub fn set_iterations(&mut self, iterations: u64) {
        self.ema.iterations = iterations;
    }

    /// `module` with the moving average in its weights, if one is kept (when `fit` ends,
    /// as Keras's `finalize_variable_values`).
    pub fn finalize(&self, module: M) -> M {
        self.average(&module).unwrap_or(module)
    }

    /// The moving average of the weights, laid out in `model`'s weights, if one is kept
    /// for a model of its size (for a backup, and when `fit` ends).
    pub fn average(&self, model: &M) -> Option<M> {
        let average = self.ema.average.as_ref().filter(|_| self.ema.settings.on)?;
        let fits = weights_len::<B, M>(model) == average.dims()[0];
        fits.then(|| with_weights::<B, M>(model.clone(), average.clone()))
    }

    /// Puts back the moving average from `model`'s weights (a backup's).
    pub fn set_average(&mut self, model: &M) {
        if self.ema.settings.on {
            self.ema.average = weights::<B, M>(model);
        }
    }

    /// Forgets the moving average (for another model).
    pub fn forget_average(&mut self) {
        self.ema.average = None;
    }
}

/// Keras's moving average of the weights (`use_ema`, `ema_momentum`,
/// `ema_overwrite_frequency`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ema {
    on: bool,
    momentum: f64,
    overwrite: Option<u64>,
}

impl Default for Ema {
    fn default() -> Self {
        Ema {
            on: false,
            momentum: 0.99,
            overwrite: None,
        }
    }
}

impl Ema {
    fn check(&self) -> Result<(), String> {
        if !self.on {
            return Ok(());
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(format!(
                "the optimizer's ema_momentum must be in [0, 1], got {}",
                self.momentum
            ));
        }
        match self.overwrite {
            Some(0) => Err("the optimizer's ema_overwrite_frequency must be positive".into()),
            _ => Ok(()),
        }
    }
}

/// The moving average an optimizer keeps of the weights, flattened
/// ([`crate::trainer::floats::weights`]), and the updates made.
struct Average<B: AutodiffBackend> {
    settings: Ema,
    average: Option<Tensor<B::InnerBackend, 1>>,
    iterations: u64,
}

impl<B: AutodiffBackend> Average<B> {
    fn new(settings: Ema) -> Self {
        Average {
            settings,
            average: None,
            iterations: 0,
        }
    }

    /// The same on `device`: a data-parallel worker's.
    #[cfg(feature = "distributed")]
    fn replica(&self, device: &B::Device) -> Self {
        Average {
            settings: self.settings,
            average: self.average.clone().map(|a| a.to_device(device)),
            iterations: self.iterations,
        }
    }

    /// After an update of `module`: the average moved towards its weights (set to them
    /// at the first update, as Keras's, or when there is none yet), and put in them when
    /// an overwrite is due.
    fn update<M: AutodiffModule<B>>(&mut self, module: M) -> M {
        let first = self.iterations == 0;
        self.iterations += 1;
        let Ema {
            on,
            momentum,
            overwrite,
        } = self.settings;
        if !on {
            return module;
        }
        let Some(current) = weights::<B, M>(&module) else {
            return module;
        };
        // From the weights at the first update, or when the average is of another model.
        let average = match self.average.take() {
            Some(average) if !first && average.dims() == current.dims() => {
                average.mul_scalar(momentum) + current.mul_scalar(1.0 - momentum)
            }
            _ => current,
        };
        self.average = Some(average.clone());
        match overwrite {
            Some(n) if self.iterations.is_multiple_of(n) => with_weights::<B, M>(module, average),
            _ => module,
        }
    }
}

/// Keras's gradient clipping before each update (`clipvalue`, `clipnorm`,
/// `global_clipnorm`): at most one is set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Clip {
    value: Option<f64>,
    norm: Option<f64>,
    global_norm: Option<f64>,
}

impl Clip {
    /// The one set, by its Keras name, and its bound, if any.
    fn set(&self) -> Vec<(&'static str, f64)> {
        [
            ("clipnorm", self.norm),
            ("clipvalue", self.value),
            ("global_clipnorm", self.global_norm),
        ]
        .into_iter()
        .filter_map(|(name, bound)| Some((name, bound?)))
        .collect()
    }

    fn check(&self) -> Result<(), String> {
        match self.set()[..] {
            [] => Ok(()),
            [(name, bound)] if !(bound > 0.0 && bound.is_finite()) => Err(format!(
                "the optimizer's {name} must be positive, got {bound}"
            )),
            [_] => Ok(()),
            [(a, _), (b, _), ..] => Err(format!(
                "only one of clipnorm, clipvalue and global_clipnorm can be set (as in Keras), got {a} and {b}"
            )),
        }
    }

    /// `grads` of `module`'s weights, clipped.
    fn apply<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        module: &M,
        mut grads: GradientsParams,
    ) -> GradientsParams {
        let mut clip = |op: ClipOp<B::InnerBackend>| {
            let mut clipper = Clipper::<B> {
                grads: &mut grads,
                op,
            };
            module.visit(&mut clipper);
            clipper.op
        };
        if let Some(v) = self.value {
            clip(ClipOp::Value(v as f32));
        } else if let Some(c) = self.norm {
            clip(ClipOp::Norm(c as f32));
        } else if let Some(c) = self.global_norm {
            // The norm of all the gradients together, then each scaled by the one factor,
            // on the device (no read).
            if let ClipOp::Squares(Some(squares)) = clip(ClipOp::Squares(None)) {
                clip(ClipOp::Scale(bound(squares.sqrt(), c as f32)));
            }
        }
        grads
    }
}

/// `bound / max(norm, bound)`: the factor that brings a gradient of this norm to at most
/// `bound`.
fn bound<B: Backend>(norm: Tensor<B, 1>, bound: f32) -> Tensor<B, 1> {
    norm.clamp_min(bound).recip().mul_scalar(bound)
}

/// What [`Clipper`] does to each gradient.
enum ClipOp<B: Backend> {
    /// Clamps its values.
    Value(f32),
    /// Brings its norm to at most this.
    Norm(f32),
    /// Adds up the squares of every gradient (leaving them as they are).
    Squares(Option<Tensor<B, 1>>),
    /// Multiplies it by this factor.
    Scale(Tensor<B, 1>),
}

/// Visits a module's weights and clips the gradient of each that has one.
struct Clipper<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    op: ClipOp<B::InnerBackend>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Clipper<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) else {
            return; // a frozen weight
        };
        let scaled = |g: Tensor<B::InnerBackend, D>, factor: Tensor<B::InnerBackend, 1>| {
            g * factor.reshape([1; D])
        };
        let g = match &mut self.op {
            ClipOp::Value(v) => g.clamp(-*v, *v),
            ClipOp::Norm(c) => {
                let norm = g.clone().square().sum().sqrt();
                scaled(g, bound(norm, *c))
            }
            ClipOp::Squares(total) => {
                let squares = g.clone().square().sum();
                *total = Some(match total.take() {
                    Some(t) => t + squares,
                    None => squares,
                });
                g
            }
            ClipOp::Scale(factor) => scaled(g, factor.clone()),
        };
        self.grads.register(param.id, g);
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::Optimizer as _;
    use burn::tensor::{Distribution, TensorData};

    use super::*;
    use crate::backend::Cpu;

    /// A layer of 153,600 weights (updated on every core) and 300 biases (on one).
    fn layer() -> Linear<Cpu> {
        LinearConfig::new(512, 300).init(&Default::default())
    }

    fn values(layer: &Linear<Cpu>) -> Vec<TensorData> {
        let bias = layer.bias.as_ref().map(|b| b.val().into_data());
        [Some(layer.weight.val().into_data()), bias]
            .into_iter()
            .flatten()
            .collect()
    }

    /// Four steps on the same random batches with `ours` and with `theirs` from the same
    /// layer: the weights after each, equal to the bit.
    fn same_steps<O1, O2>(mut ours: O1, mut theirs: O2)
    where
        O1: burn::optim::Optimizer<Linear<Cpu>, Cpu>,
        O2: burn::optim::Optimizer<Linear<Cpu>, Cpu>,
    {
        let mut a = layer();
        let _ = values(&a); // draws the lazily initialized weights, which the clone then shares
        let mut b = a.clone();
        for step in 1..=4 {
            let x = Tensor::<Cpu, 2>::random([8, 512], Distribution::Default, &a.devices()[0]);
            let grads = |m: &Linear<Cpu>| {
                let loss = m.forward(x.clone()).powi_scalar(2).mean();
                GradientsParams::from_grads(loss.backward(), m)
            };
            let (ga, gb) = (grads(&a), grads(&b));
            a = ours.step(0.01, a, ga);
            b = theirs.step(0.01, b, gb);
            assert_eq!(values(&a), values(&b), "step {step}");
        }
    }

    #[test]
    fn fused_adam_is_burn_optims_adam_bit_for_bit() {
        let adam = Adam::new().beta_1(0.8).epsilon(1e-6);
        assert!(one_pass::applies::<kiln_cpu::KilnCpu>(&Moments::new(
            0.8, 0.999, 1e-6, false
        )));
        let config = AdamConfig::new().with_beta_1(0.8).with_epsilon(1e-6);
        same_steps(adam.init(), config.init());
    }

    #[test]
    fn fused_adamw_is_burn_optims_adamw_bit_for_bit() {
        let adam = AdamW::new().beta_2(0.99).weight_decay(0.05);
        let config = AdamWConfig::new()
            .with_beta_2(0.99)
            .with_epsilon(1e-7)
            .with_weight_decay(0.05);
        same_steps(adam.init(), config.init());
        // Without decay the weight is not scaled (burn-optim skips the product).
        let config = AdamWConfig::new().with_epsilon(1e-7).with_weight_decay(0.0);
        same_steps(AdamW::new().weight_decay(0.0).init(), config.init());
    }

    #[test]
    fn fused_adam_state_is_burn_optims_on_disk() {
        use burn::record::{BinBytesRecorder, Recorder};
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::new();
        let mut ours: OptimizerAdaptor<FusedAdam, Linear<Cpu>, Cpu> = Adam::new().init();
        let a = layer();
        let x = Tensor::<Cpu, 2>::ones([2, 512], &a.devices()[0]);
        let grads = GradientsParams::from_grads(a.forward(x).sum().backward(), &a);
        let _ = ours.step(0.01, a, grads);
        let saved = Recorder::<Cpu>::record(&recorder, ours.to_record(), ()).unwrap();
        // burn-optim's Adam reads kiln's state, and writes the same bytes back.
        let theirs: OptimizerAdaptor<burn::optim::Adam, Linear<Cpu>, Cpu> = AdamConfig::new()
            .init()
            .load_record(recorder.load(saved.clone(), &Default::default()).unwrap());
        let again = Recorder::<Cpu>::record(&recorder, theirs.to_record(), ()).unwrap();
        assert_eq!(saved.len(), again.len());
        assert!(
            saved.len() > 4 * 2 * 512 * 300,
            "both moments of the weight are saved"
        );
    }
}
