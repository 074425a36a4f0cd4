//! Attention and AdditiveAttention: Keras's attention of a query to a value without
//! projections, scored by dot products (Luong) or by `tanh` of sums (Bahdanau).

use burn::module::{Initializer, Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::{Scores, Scoring};
use kiln_spec::{Shape, kinds, layers};

use super::attention::{causal, value_and_key};
use super::{Stateful, dropout, dropout_step};
use crate::dyn_tensor::DynTensor;

/// A scored attention's learned weights: Attention's scalar `scale` (with `use_scale`) and
/// `concat_score_weight` (with `score_mode = concat`), starting at one; AdditiveAttention's
/// `scale`, one per feature, Glorot-uniform as Keras's.
#[derive(Module, Debug)]
pub struct ScoreWeights<B: Backend> {
    /// The scores' scale, when learned.
    pub scale: Option<Param<Tensor<B, 1>>>,
    /// The weight of concatenation scores.
    pub concat_score_weight: Option<Param<Tensor<B, 1>>>,
}

/// The weights of an attention scoring as `s` queries of `features` features.
pub fn score_weights<B: Backend>(
    s: &Scoring,
    features: usize,
    device: &B::Device,
) -> ScoreWeights<B> {
    let scale = s.use_scale.then(|| match s.scores {
        // Keras's Glorot-uniform of a vector: fan in and out are its length.
        Scores::Additive => {
            let limit = (3.0 / features.max(1) as f64).sqrt();
            Initializer::Uniform {
                min: -limit,
                max: limit,
            }
            .init([features], device)
        }
        Scores::Dot | Scores::Concat => Initializer::Ones.init([1], device),
    });
    let concat = (s.scores == Scores::Concat).then(|| Initializer::Ones.init([1], device));
    ScoreWeights {
        scale,
        concat_score_weight: concat,
    }
}

/// The attention of `query` `[batch, steps_q, features]` to the value (the first of
/// `more`, else the query) through the key (the second, else the value): the softmax over
/// the key's steps of the scores weighs the value's steps, as Keras's `Attention` and
/// `AdditiveAttention`.
pub fn score_attention<B: Backend>(
    s: &Scoring,
    m: &ScoreWeights<B>,
    query: Tensor<B, 3>,
    more: Vec<Tensor<B, 3>>,
    training: bool,
) -> Tensor<B, 3> {
    let (value, key) = value_and_key(&query, more);
    let scale = m.scale.as_ref().map(Param::val);
    let mut scores = match s.scores {
        Scores::Dot => {
            let scores = query.matmul(key.swap_dims(1, 2));
            match scale {
                Some(c) => scores * c.reshape([1, 1, 1]),
                None => scores,
            }
        }
        Scores::Concat | Scores::Additive => {
            // [batch, steps_q, 1, features] + [batch, 1, steps_v, features].
            let sum = query.unsqueeze_dim::<4>(2) + key.unsqueeze_dim::<4>(1);
            let features = sum.dims()[3];
            let tanh = match (s.scores, scale) {
                (Scores::Concat, Some(c)) => (sum * c.reshape([1, 1, 1, 1])).tanh(),
                (_, Some(c)) => sum.tanh() * c.reshape([1, 1, 1, features]),
                (_, None) => sum.tanh(),
            };
            let summed = tanh.sum_dim(3).squeeze_dim::<3>(3);
            match &m.concat_score_weight {
                Some(w) => summed * w.val().reshape([1, 1, 1]),
                None => summed,
            }
        }
    };
    if s.use_causal_mask {
        scores = causal(scores);
    }
    let weights = dropout_step(&dropout(s.dropout), softmax(scores, 2), training);
    weights.matmul(value)
}

/// Attention and AdditiveAttention as stateful kinds: their weights for the query's
/// features, and their step on the query and the tensors after it.
macro_rules! scored {
    ($($kind:ident($config:ident)),*) => {$(
        impl<B: Backend> Stateful<B> for kinds::$kind {
            type Module = ScoreWeights<B>;

            fn init(l: &layers::$config, input: &Shape, device: &B::Device) -> ScoreWeights<B> {
                let features = input.dims().last().and_then(|d| d.known()).unwrap_or(0);
                score_weights(&l.scoring(), features, device)
            }

            /// Self-attention: the query is the value and the key.
            fn forward(
                l: &layers::$config,
                m: &ScoreWeights<B>,
                t: DynTensor<B>,
                training: bool,
            ) -> DynTensor<B> {
                Self::forward_with(l, m, t, Vec::new(), training)
            }

            fn forward_with(
                l: &layers::$config,
                m: &ScoreWeights<B>,
                t: DynTensor<B>,
                more: Vec<DynTensor<B>>,
                training: bool,
            ) -> DynTensor<B> {
                let more = more.into_iter().map(DynTensor::get).collect();
                DynTensor::R3(score_attention(&l.scoring(), m, t.get(), more, training))
            }
        }
    )*};
}

scored!(
    Attention(DotAttention),
    AdditiveAttention(AdditiveAttention)
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend as T, assert_close, floats};

    fn scoring(scores: Scores, use_scale: bool) -> Scoring {
        Scoring {
            scores,
            use_scale,
            dropout: 0.0,
            use_causal_mask: false,
        }
    }

    #[test]
    fn scores_weigh_the_value_s_steps_as_keras() {
        let device = Default::default();
        // One query step [1, 0] against keys [1, 0] and [0, 1]; values [10] and [20].
        let query = Tensor::<T, 3>::from_floats([[[1.0, 0.0]]], &device);
        let key = Tensor::<T, 3>::from_floats([[[1.0, 0.0], [0.0, 1.0]]], &device);
        let value = Tensor::<T, 3>::from_floats([[[10.0], [20.0]]], &device);
        let attend = |s: Scoring| {
            let m = score_weights::<T>(&s, 2, &device);
            floats(score_attention(
                &s,
                &m,
                query.clone(),
                vec![value.clone(), key.clone()],
                false,
            ))
        };
        // Dot scores 1 and 0: weights e/(e+1) and 1/(e+1).
        let e = std::f32::consts::E;
        let dot = 10.0 * e / (e + 1.0) + 20.0 / (e + 1.0);
        assert_close(&attend(scoring(Scores::Dot, true)), &[dot], 1e-5, "dot");
        // Concat scores tanh(2) + tanh(0) and tanh(1) + tanh(1), times the weight 1.
        let (a, b) = (2f32.tanh(), 2.0 * 1f32.tanh());
        let (wa, wb) = (a.exp() / (a.exp() + b.exp()), b.exp() / (a.exp() + b.exp()));
        let concat = 10.0 * wa + 20.0 * wb;
        assert_close(
            &attend(scoring(Scores::Concat, false)),
            &[concat],
            1e-5,
            "concat",
        );
        // Additive without a scale: the same sums of tanh.
        assert_close(
            &attend(scoring(Scores::Additive, false)),
            &[concat],
            1e-5,
            "additive",
        );
        // A causal mask keeps the first query step to the first key step.
        let mut causal = scoring(Scores::Dot, false);
        causal.use_causal_mask = true;
        assert_close(&attend(causal), &[10.0], 1e-5, "causal");
    }
}
