//! What kiln needs of a model: [`Model`], which `model!` implements for every model it
//! generates and a hand-written burn module can implement too.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Activation, ModelSpec, Shape};

use crate::activation;

/// A batch of examples as one tensor, `[batch, ...example]`.
pub trait Batch<B: Backend>: Sized + Clone + Send + std::fmt::Debug {
    /// Gives `[batch, elements]` rows the shape `[batch, ...example]`.
    ///
    /// # Panics
    /// When `example` does not have one dimension less than `Self`, or its element count
    /// differs from the rows'.
    fn from_rows(rows: Tensor<B, 2>, example: &[usize]) -> Self;

    /// The examples as `[batch, elements]` rows.
    fn into_rows(self) -> Tensor<B, 2>;

    /// The number of examples.
    fn batch_size(&self) -> usize;

    /// Batches joined one after the other.
    ///
    /// # Panics
    /// When `batches` is empty.
    fn cat(batches: Vec<Self>) -> Self;
}

impl<B: Backend, const D: usize> Batch<B> for Tensor<B, D> {
    fn from_rows(rows: Tensor<B, 2>, example: &[usize]) -> Self {
        assert_eq!(
            example.len() + 1,
            D,
            "an example of {example:?} does not make a rank-{D} batch"
        );
        let mut shape = [0usize; D];
        shape[0] = rows.dims()[0];
        shape[1..].copy_from_slice(example);
        rows.reshape(shape)
    }

    fn into_rows(self) -> Tensor<B, 2> {
        self.reshape([0, -1])
    }

    fn batch_size(&self) -> usize {
        self.dims()[0]
    }

    fn cat(batches: Vec<Self>) -> Self {
        Tensor::cat(batches, 0)
    }
}

/// The training forward pass: the output before the model's last activation, that
/// activation, and the regularization penalty. Losses on softmax or sigmoid outputs use
/// `logits` directly, which is stabler than taking the log of the activated output.
#[derive(Debug)]
pub struct TrainForward<B: Backend, O> {
    /// The output before the last layer's activation.
    pub logits: O,
    /// The last layer's activation (linear when it has none).
    pub activation: Activation,
    /// The sum of every declared penalty (kernel, bias, activity), one element; `None`
    /// when the model declares none.
    pub penalty: Option<Tensor<B, 1>>,
}

impl<B: Backend, const D: usize> TrainForward<B, Tensor<B, D>> {
    /// The model's output: `activation(logits)`.
    pub fn output(&self) -> Tensor<B, D> {
        activation::apply(self.activation, self.logits.clone())
    }
}

/// A model kiln can train: a burn module with a known input and output shape.
///
/// `model!` implements it; for a hand-written burn module, implement `forward` and the
/// shapes (and `forward_train` to expose logits or penalties). `model!` also gives its
/// models the shapes as constants (`INPUT_SHAPE`), for checks at compile time.
pub trait Model<B: Backend>: Module<B> {
    /// The input batch, `Tensor<B, D>` with `D` one more than the example's rank.
    type Input: Batch<B>;
    /// The output batch.
    type Output: Batch<B>;

    /// The shape of one input example (the batch dimension left out).
    fn input_shape(&self) -> Shape;

    /// The shape of one output example.
    fn output_shape(&self) -> Shape;

    /// The model's output for a batch.
    fn forward(&self, input: Self::Input) -> Self::Output;

    /// The training forward pass; by default the output with no activation split off and
    /// no penalty.
    fn forward_train(&self, input: Self::Input) -> TrainForward<B, Self::Output> {
        TrainForward {
            logits: self.forward(input),
            activation: Activation::Linear,
            penalty: None,
        }
    }

    /// The model's declaration, when it has one (`model!`'s models and models read from
    /// JSON do).
    fn spec(&self) -> Option<ModelSpec> {
        None
    }

    /// `(module path prefix, saved name prefix)` pairs for a model whose burn module paths
    /// differ from its layers' names (a model read from JSON), so that its saved weights
    /// carry the same names as those of the `model!` it describes. Empty by default.
    fn stored_names(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
