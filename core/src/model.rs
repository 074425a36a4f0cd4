//! What kiln needs of a model: [`Model`], which `model!` implements for every model it
//! generates and a hand-written burn module can implement too.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Activation, ModelSpec, Shape};

use crate::activation;
use crate::dyn_tensor::DynTensor;
use crate::error::TrainError;
use crate::features::Tap;

/// A batch of examples: one tensor `[batch, ...example]`, or a tuple of them for a model
/// with several inputs.
pub trait Batch<B: Backend>: Sized + Clone + Send + std::fmt::Debug {
    /// Gives `[batch, elements]` rows the shape `[batch, ...example]`, one example shape
    /// per tensor (the rows hold each tensor's elements one after the other).
    ///
    /// # Panics
    /// When `examples` does not hold one shape per tensor, each with one dimension less
    /// than its tensor, or their element counts differ from the rows'.
    fn from_rows(rows: Tensor<B, 2>, examples: &[Vec<usize>]) -> Self;

    /// The examples as `[batch, elements]` rows.
    fn into_rows(self) -> Tensor<B, 2>;

    /// The number of examples.
    fn batch_size(&self) -> usize;

    /// Batches joined one after the other.
    ///
    /// # Panics
    /// When `batches` is empty.
    fn cat(batches: Vec<Self>) -> Self;

    /// The first `n` examples (all of them when there are fewer).
    fn head(self, n: usize) -> Self;
}

impl<B: Backend, const D: usize> Batch<B> for Tensor<B, D> {
    fn from_rows(rows: Tensor<B, 2>, examples: &[Vec<usize>]) -> Self {
        let [example] = examples else {
            panic!("a tensor takes one example shape, got {examples:?}");
        };
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

    fn head(self, n: usize) -> Self {
        let n = n.min(self.dims()[0]);
        self.narrow(0, 0, n)
    }
}

/// The columns of `rows` that hold example part `k` of `examples`, as that part's batch.
fn part<B: Backend, T: Batch<B>>(rows: &Tensor<B, 2>, examples: &[Vec<usize>], k: usize) -> T {
    let size = |e: &Vec<usize>| e.iter().product::<usize>();
    let start: usize = examples[..k].iter().map(size).sum();
    let batch = rows.dims()[0];
    let columns = rows
        .clone()
        .slice([0..batch, start..start + size(&examples[k])]);
    T::from_rows(columns, &examples[k..=k])
}

/// Batches for models with several inputs: tuples of tensors.
macro_rules! tuple_batch {
    ($($t:ident $k:tt),+) => {
        impl<B: Backend, $($t: Batch<B>),+> Batch<B> for ($($t,)+) {
            fn from_rows(rows: Tensor<B, 2>, examples: &[Vec<usize>]) -> Self {
                ($(part::<B, $t>(&rows, examples, $k),)+)
            }

            fn into_rows(self) -> Tensor<B, 2> {
                Tensor::cat(vec![$(self.$k.into_rows()),+], 1)
            }

            fn batch_size(&self) -> usize {
                self.0.batch_size()
            }

            fn cat(batches: Vec<Self>) -> Self {
                ($($t::cat(batches.iter().map(|b| b.$k.clone()).collect()),)+)
            }

            fn head(self, n: usize) -> Self {
                ($(self.$k.head(n),)+)
            }
        }
    };
}

tuple_batch!(T0 0, T1 1);
tuple_batch!(T0 0, T1 1, T2 2);
tuple_batch!(T0 0, T1 1, T2 2, T3 3);

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

    /// The shape of one input example (the batch dimension left out); the first input's,
    /// for a model with several.
    fn input_shape(&self) -> Shape;

    /// The shape of one example of each input, in order: one for most models.
    fn input_shapes(&self) -> Vec<Shape> {
        vec![self.input_shape()]
    }

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

    /// The inference forward pass (no dropout, moving statistics) before the last
    /// activation, offering each named layer's output to `tap`, which may look at it,
    /// replace it (Grad-CAM's gradient leaf) or stop the pass. `model!`'s models and models
    /// read from JSON offer every layer; by default none is offered.
    ///
    /// # Errors
    /// What the tap stops the pass with.
    fn forward_tapped<T: Tap<B>>(
        &self,
        input: Self::Input,
        tap: &mut T,
    ) -> Result<TrainForward<B, Self::Output>, T::Stop> {
        let _ = tap;
        Ok(TrainForward {
            logits: self.forward(input),
            activation: Activation::Linear,
            penalty: None,
        })
    }

    /// The output of the layer named `layer` (its activation applied) for a batch, as
    /// Keras's `Model(model.inputs, model.get_layer(layer).output)`; the layers after it
    /// do not run. `model!`'s models and models read from JSON name their layers; a nested
    /// model's own layers are its `features`.
    ///
    /// # Errors
    /// When the model has no layer of that name (the nearest is named), or names none.
    fn features(&self, layer: &str, input: Self::Input) -> Result<DynTensor<B>, TrainError> {
        let _ = input;
        Err(TrainError::Setting(format!(
            "this model names no layers, so it has no features of `{layer}`; declare it with model! to name them"
        )))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestBackend as T;
    use burn::tensor::TensorData;

    #[test]
    fn a_tuple_batch_splits_its_rows_by_part() {
        let device = Default::default();
        // Two examples, each 2 values of the first input then 2×2 of the second.
        let rows = Tensor::<T, 2>::from_data(
            TensorData::from([
                [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0],
                [7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
            ]),
            &device,
        );
        let examples = [vec![2], vec![2, 2]];
        let (a, b) = <(Tensor<T, 2>, Tensor<T, 3>)>::from_rows(rows.clone(), &examples);
        assert_eq!((a.dims(), b.dims()), ([2, 2], [2, 2, 2]));
        assert_eq!(a.to_data().to_vec::<f32>().unwrap(), [1.0, 2.0, 7.0, 8.0]);
        let batch = (a, b);
        assert_eq!(batch.batch_size(), 2);
        let both = <(Tensor<T, 2>, Tensor<T, 3>)>::cat(vec![batch.clone(), batch.clone()]);
        assert_eq!(both.1.dims(), [4, 2, 2]);
        assert_eq!(
            batch.into_rows().to_data().to_vec::<f32>().unwrap(),
            rows.to_data().to_vec::<f32>().unwrap()
        );
    }
}
