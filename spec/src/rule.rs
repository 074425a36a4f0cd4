//! What every layer kind shares: its parameter counts, the input it is checked against,
//! the [`Rule`] it answers, and the options of the layers with a kernel. The kinds in
//! `layers/` use these; `layer.rs` dispatches to the kinds.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::regularizer::Regularizer;
use crate::shape::Shape;

/// The largest size kiln takes, as a dimension or as a size argument (units, filters, a
/// kernel, padding): `i32::MAX`, the most a dimension of burn's `reshape` holds. A larger one
/// is refused where it is declared, before anything is allocated.
pub const MAX_SIZE: usize = i32::MAX as usize;

/// The most parameters a model may hold: 2³², 16 GiB of `f32`. A model declaring more is
/// refused at the layer that crosses the limit, before any weight is allocated.
pub const MAX_PARAMS: usize = 1 << 32;

/// The product of `factors`, saturating at `usize::MAX` (a count past every limit).
pub fn product(factors: impl IntoIterator<Item = usize>) -> usize {
    factors.into_iter().fold(1, usize::saturating_mul)
}

/// A layer's parameter counts, as Keras reports them. Sums saturate: a count past
/// [`MAX_PARAMS`] is refused, never wrapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Weights the optimizer updates.
    pub trainable: usize,
    /// Weights kept but not trained (BatchNormalization's moving mean and variance).
    pub non_trainable: usize,
}

impl Params {
    /// Only trainable weights.
    pub const fn trainable(n: usize) -> Self {
        Params {
            trainable: n,
            non_trainable: 0,
        }
    }

    /// Trainable and non-trainable together.
    pub const fn total(&self) -> usize {
        self.trainable.saturating_add(self.non_trainable)
    }
}

impl std::ops::Add for Params {
    type Output = Params;
    fn add(self, rhs: Params) -> Params {
        Params {
            trainable: self.trainable.saturating_add(rhs.trainable),
            non_trainable: self.non_trainable.saturating_add(rhs.non_trainable),
        }
    }
}

/// The input a layer is checked against: its shape, and where it comes from (for messages).
pub struct Input<'a> {
    /// The shape of one example.
    pub shape: &'a Shape,
    /// What produced it: `the input`, or the producing layer's Keras class (`MaxPooling2D`).
    pub from: &'a str,
}

impl Input<'_> {
    /// `[64, 12, 12] from MaxPooling2D`, for messages.
    pub fn describe(&self) -> String {
        format!("{} from {}", self.shape, self.from)
    }
}

/// What every layer kind answers.
pub(crate) trait Rule {
    /// The output shape for `input`, or why the layer cannot take it; `layer` is the
    /// layer's class name, for messages.
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String>;

    /// The layer's weights for an input of this (already accepted) shape.
    fn params(&self, _input: &Shape) -> Params {
        Params::default()
    }

    /// The layer's weights when it takes `more` tensors after `input` (an attention's
    /// value and key): those of `input` alone but for the layers whose weights depend on
    /// the others.
    fn params_with(&self, input: &Shape, _more: &[Shape]) -> Params {
        self.params(input)
    }

    /// The options of a layer with a kernel: activation, bias, regularizers.
    fn weights(&self) -> Option<&WeightOptions> {
        None
    }

    /// The final states a recurrent layer with `return_state = true` gives after its
    /// output; none for the others.
    fn states(&self) -> Vec<Shape> {
        Vec::new()
    }

    /// What [`Rule::states`] are, for messages: `h`, `c`; one name for each.
    fn state_names(&self) -> Vec<String> {
        (1..=self.states().len()).map(|k| format!("s{k}")).collect()
    }

    /// The penalty on the layer's output while training: its weights' activity
    /// regularizer, if it has any.
    fn activity(&self) -> Option<crate::regularizer::Regularizer> {
        self.weights().and_then(|w| w.activity_regularizer)
    }

    /// The activation applied at the end of the layer: its weights' option, if it has any.
    fn activation(&self) -> Option<Activation> {
        self.weights().map(|w| w.activation)
    }

    /// The output shape for the tensors of a functional node; one, except for merges.
    fn merge(&self, layer: &str, inputs: &[Input]) -> Result<Shape, String> {
        match inputs {
            [input] => self.output(layer, input),
            _ => Err(format!(
                "{layer} takes one tensor, got {}; merge them first, e.g. `Add(a, b) -> {layer}(...)` or `Concatenate(a, b) -> {layer}(...)`",
                inputs.len()
            )),
        }
    }
}

/// What the layers with a kernel (Dense, Conv1D, Conv2D) share: the activation, the bias,
/// and the regularizers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightOptions {
    /// Applied to the layer's output (`linear` by default).
    pub activation: Activation,
    /// Whether the layer adds a bias.
    pub use_bias: bool,
    /// Penalty on the kernel.
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the layer's output, divided by the batch size as Keras does.
    pub activity_regularizer: Option<Regularizer>,
}

impl WeightOptions {
    /// The keyword parameters these options take.
    pub(crate) const PARAMS: [crate::args::Param; 5] = [
        crate::args::Param::keyword("activation"),
        crate::args::Param::keyword("use_bias"),
        crate::args::Param::keyword("kernel_regularizer"),
        crate::args::Param::keyword("bias_regularizer"),
        crate::args::Param::keyword("activity_regularizer"),
    ];

    pub(crate) fn read(args: &mut crate::args::Args) -> Self {
        let options = WeightOptions {
            activation: args.or("activation", Activation::Linear, Activation::from_value),
            use_bias: args.or("use_bias", true, crate::args::boolean),
            kernel_regularizer: args.get("kernel_regularizer", Regularizer::from_value),
            bias_regularizer: args.get("bias_regularizer", Regularizer::from_value),
            activity_regularizer: args.get("activity_regularizer", Regularizer::from_value),
        };
        if !options.use_bias && options.bias_regularizer.is_some() {
            args.error_on(
                "bias_regularizer",
                "bias_regularizer has no bias to act on, since use_bias = false; remove one of them".into(),
            );
        }
        options
    }

    /// Whether any penalty is declared.
    pub fn regularized(&self) -> bool {
        self.kernel_regularizer.is_some()
            || self.bias_regularizer.is_some()
            || self.activity_regularizer.is_some()
    }
}
