//! MultiHeadAttention: Keras's attention of a query sequence to a value sequence, its
//! projections burn-nn's `Linear`s holding Keras's kernels flattened (`[features, heads,
//! size]` as `[features, heads·size]`).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor, backend::Backend};
use kiln_spec::{Shape, kinds, layers};

use super::{Run, RuntimeLayer, Stepped, dense, dropout, dropout_step};
use crate::dyn_tensor::DynTensor;

/// A MultiHeadAttention's four projections.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// The query's, to every head's `key_dim` features.
    pub query: Linear<B>,
    /// The key's, to every head's `key_dim` features.
    pub key: Linear<B>,
    /// The value's, to every head's `value_dim` features.
    pub value: Linear<B>,
    /// The heads' results, side by side, to the output's features.
    pub output: Linear<B>,
}

/// The projections of a MultiHeadAttention taking a query, a value and a key of
/// `features` each, with Keras's initializers (Glorot-uniform kernels over each
/// projection's inputs and outputs, zero biases).
pub fn multi_head_attention<B: Backend>(
    l: &layers::MultiHeadAttention,
    [query, value, key]: [usize; 3],
    device: &B::Device,
) -> Attention<B> {
    let (heads, bias) = (l.num_heads, l.use_bias);
    let values = heads * l.value_size();
    Attention {
        query: dense(query, heads * l.key_dim, bias, device),
        key: dense(key, heads * l.key_dim, bias, device),
        value: dense(value, values, bias, device),
        output: dense(values, l.output_shape.unwrap_or(query), bias, device),
    }
}

/// Keras's MultiHeadAttention of `query` `[batch, steps_q, features]` to the value (the
/// first of `more`; the query itself when there is none), the key being the second of
/// `more` or the value: `[batch, steps_q, output]`. The attention weights are dropped
/// at the layer's rate while `training`.
pub fn attention<B: Backend>(
    l: &layers::MultiHeadAttention,
    m: &Attention<B>,
    query: Tensor<B, 3>,
    more: Vec<Tensor<B, 3>>,
    training: bool,
) -> Tensor<B, 3> {
    let (value, key) = value_and_key(&query, more);
    let [batch, steps, _] = query.dims();
    let heads = l.num_heads;
    // [batch, t, heads · size] → [batch, heads, t, size].
    let split = |x: Tensor<B, 3>, size: usize| {
        let t = x.dims()[1];
        x.reshape([batch, t, heads, size]).swap_dims(1, 2)
    };
    let scale = 1.0 / (l.key_dim as f64).sqrt();
    let q = split(m.query.forward(query), l.key_dim).mul_scalar(scale);
    let k = split(m.key.forward(key), l.key_dim);
    let v = split(m.value.forward(value), l.value_size());
    let mut scores = q.matmul(k.swap_dims(2, 3));
    if l.use_causal_mask {
        scores = causal(scores);
    }
    let weights = dropout_step(&dropout(l.dropout), softmax(scores, 3), training);
    let joined = weights
        .matmul(v)
        .swap_dims(1, 2)
        .reshape([batch, steps, heads * l.value_size()]);
    m.output.forward(joined)
}

/// The value (the first of `more`, else the query) and the key (the second, else the
/// value) an attention of `query` takes.
pub(crate) fn value_and_key<B: Backend>(
    query: &Tensor<B, 3>,
    more: Vec<Tensor<B, 3>>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let mut more = more.into_iter();
    let value = more.next().unwrap_or_else(|| query.clone());
    let key = more.next().unwrap_or_else(|| value.clone());
    (value, key)
}

/// `scores` `[..., steps_q, steps_k]` with each query step's later key steps at -1e9, so
/// that the softmax gives them nothing (Keras's causal mask).
pub(crate) fn causal<B: Backend, const D: usize>(scores: Tensor<B, D>) -> Tensor<B, D> {
    let dims = scores.dims();
    // True past each query step's own: the key steps it may not see.
    let later = Tensor::<B, 2, Bool>::tril_mask([dims[D - 2], dims[D - 1]], 0, &scores.device());
    scores.mask_fill(later.unsqueeze::<D>().expand(dims), -1e9)
}

/// A MultiHeadAttention's step in a runtime model, on its query `t` and the `more`
/// tensors the graph gives it.
fn run_attention<B: Backend>(
    l: &layers::MultiHeadAttention,
    module: Option<&RuntimeLayer<B>>,
    t: DynTensor<B>,
    more: Vec<DynTensor<B>>,
    training: bool,
) -> DynTensor<B> {
    match module {
        Some(RuntimeLayer::MultiHeadAttention(m)) => {
            let more = more.into_iter().map(DynTensor::get).collect();
            DynTensor::R3(attention(l, m, t.get(), more, training))
        }
        // `build` gave every attention its module.
        _ => t,
    }
}

impl<B: Backend> Run<B> for kinds::MultiHeadAttention {
    fn build(
        l: &layers::MultiHeadAttention,
        input: &Shape,
        more: &[Shape],
        device: &B::Device,
    ) -> Option<RuntimeLayer<B>> {
        let shapes: Vec<&Shape> = std::iter::once(input).chain(more).collect();
        let features = layers::MultiHeadAttention::features(&shapes);
        Some(RuntimeLayer::MultiHeadAttention(multi_head_attention(
            l, features, device,
        )))
    }

    /// Self-attention on `t`: the value and the key are `t` too.
    fn step(
        l: &layers::MultiHeadAttention,
        module: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        training: bool,
    ) -> DynTensor<B> {
        run_attention(l, module, t, Vec::new(), training)
    }

    /// Attention of `t` (the query) to the value and key in `more`.
    fn step_with(
        l: &layers::MultiHeadAttention,
        module: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        more: Vec<DynTensor<B>>,
        training: bool,
    ) -> Stepped<B> {
        (run_attention(l, module, t, more, training), Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend as T, assert_close, floats};
    use burn::module::Param;
    use kiln_spec::{Call, Layer};

    fn config(kw: &[(&str, kiln_spec::Value)]) -> layers::MultiHeadAttention {
        let call = kw
            .iter()
            .fold(Call::bare("MultiHeadAttention"), |c, (k, v)| {
                c.kw(*k, v.clone())
            });
        let Ok(Layer::MultiHeadAttention(l)) = Layer::from_call(&call) else {
            panic!("a MultiHeadAttention");
        };
        l
    }

    /// A projection of one feature to one: `y = w·x`, no bias.
    fn scalar(w: f32) -> Linear<T> {
        let device = Default::default();
        Linear {
            weight: Param::from_tensor(Tensor::full([1, 1], w, &device)),
            bias: None,
        }
    }

    #[test]
    fn one_head_weighs_the_value_by_the_softmax_of_scaled_products() {
        let l = config(&[
            ("num_heads", 1.into()),
            ("key_dim", 1.into()),
            ("use_bias", false.into()),
        ]);
        let m = Attention {
            query: scalar(2.0),
            key: scalar(0.5),
            value: scalar(3.0),
            output: scalar(-1.0),
        };
        let device = Default::default();
        let query = Tensor::<T, 3>::from_floats([[[1.0], [-1.0]]], &device);
        let value = Tensor::<T, 3>::from_floats([[[0.5], [2.0], [-1.0]]], &device);
        let by_hand = |causal: bool| -> Vec<f32> {
            [1.0f32, -1.0]
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    let seen = if causal { i + 1 } else { 3 };
                    let values = &[0.5f32, 2.0, -1.0][..seen];
                    let scores: Vec<f32> = values.iter().map(|v| 2.0 * q * 0.5 * v).collect();
                    let total: f32 = scores.iter().map(|s| s.exp()).sum();
                    let mixed: f32 = scores
                        .iter()
                        .zip(values)
                        .map(|(s, v)| s.exp() / total * 3.0 * v)
                        .sum();
                    -mixed
                })
                .collect()
        };
        let y = attention(&l, &m, query.clone(), vec![value.clone()], false);
        assert_eq!(y.dims(), [1, 2, 1]);
        assert_close(&floats(y), &by_hand(false), 1e-6, "attention");
        let causal = config(&[
            ("num_heads", 1.into()),
            ("key_dim", 1.into()),
            ("use_bias", false.into()),
            ("use_causal_mask", true.into()),
        ]);
        let y = attention(&causal, &m, query, vec![value], false);
        assert_close(&floats(y), &by_hand(true), 1e-6, "causal");
    }

    #[test]
    fn heads_split_and_join_their_features() {
        let l = config(&[
            ("num_heads", 2.into()),
            ("key_dim", 3.into()),
            ("value_dim", 2.into()),
            ("output_shape", 5.into()),
        ]);
        let device = Default::default();
        let m = multi_head_attention::<T>(&l, [6, 4, 3], &device);
        let query = Tensor::<T, 3>::ones([2, 7, 6], &device);
        let value = Tensor::<T, 3>::ones([2, 9, 4], &device);
        let key = Tensor::<T, 3>::ones([2, 9, 3], &device);
        let y = attention(&l, &m, query, vec![value, key], false);
        assert_eq!(y.dims(), [2, 7, 5]);
        // Keras's count: 6·6 + 6, 3·6 + 6, 4·4 + 4, 4·5 + 5.
        assert_eq!(m.num_params(), 42 + 24 + 20 + 25);
    }
}
