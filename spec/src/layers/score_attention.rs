//! `Attention(query, value, [key], use_scale, score_mode, dropout, use_causal_mask)` and
//! `AdditiveAttention(...)`: Keras's attention layers without projections (Luong's dot
//! product and Bahdanau's additive scores), in the functional form.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, boolean, one_of, rate};
use crate::rule::{Input, Params, Rule};
use crate::shape::Shape;

/// How Keras's Attention scores a query step against a key step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreMode {
    /// Their dot product (Keras's default).
    Dot,
    /// The sum over the features of `tanh` of their sum, times a learned weight.
    Concat,
}

/// Keras's Attention: the softmax over the key's steps of each query step's scores
/// (`query · key`, times a learned `scale` with `use_scale`; or `score_mode = concat`)
/// weighs the value's steps.
///
/// # Shapes
/// The query `[steps_q, features]`, the value `[steps_v, features_v]` and the key (the
/// value unless given) `[steps_v, features]` → `[steps_q, features_v]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DotAttention {
    /// Whether the scores are multiplied by a learned scalar.
    pub use_scale: bool,
    /// How a query step and a key step are scored.
    pub score_mode: ScoreMode,
    /// The fraction of the attention weights dropped while training.
    pub dropout: f64,
    /// Each query step attends to the key's steps up to its own only (Keras's call
    /// argument, here the layer's).
    #[serde(default)]
    pub use_causal_mask: bool,
}

/// Keras's AdditiveAttention (Bahdanau's): the scores are the sum over the features of
/// `tanh(query + key)`, each feature weighed by a learned `scale` with `use_scale` (the
/// default); otherwise as [`DotAttention`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdditiveAttention {
    /// Whether each feature's `tanh` is weighed by a learned scale.
    pub use_scale: bool,
    /// The fraction of the attention weights dropped while training.
    pub dropout: f64,
    /// Each query step attends to the key's steps up to its own only.
    #[serde(default)]
    pub use_causal_mask: bool,
}

/// How the scores of one of the two layers are computed: what kiln-core runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scores {
    /// `query · key`, times `scale` when learned.
    Dot,
    /// `weight · Σ tanh(scale · (query + key))`, `scale` when learned.
    Concat,
    /// `Σ scale · tanh(query + key)`, `scale` (one per feature) when learned.
    Additive,
}

/// A scored attention's settings, as kiln-core reads them from either layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scoring {
    /// How the scores are computed.
    pub scores: Scores,
    /// Whether a scale is learned.
    pub use_scale: bool,
    /// The fraction of the attention weights dropped while training.
    pub dropout: f64,
    /// Whether each query step sees the key's steps up to its own only.
    pub use_causal_mask: bool,
}

/// The keyword arguments both layers share, after `use_scale` (and `score_mode`).
fn shared(args: &mut Args) -> (f64, bool) {
    (
        args.or("dropout", 0.0, rate),
        args.or("use_causal_mask", false, boolean),
    )
}

impl DotAttention {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::keyword("use_scale"),
            Param::keyword("score_mode"),
            Param::keyword("dropout"),
            Param::keyword("use_causal_mask"),
        ];
        let mut args = Args::new("Attention", call, &params);
        let use_scale = args.or("use_scale", false, boolean);
        let score_mode = args.or("score_mode", ScoreMode::Dot, |v| {
            one_of(v, &["dot", "concat"]).map(|i| [ScoreMode::Dot, ScoreMode::Concat][i])
        });
        let (dropout, use_causal_mask) = shared(&mut args);
        args.finish(|| {
            Some(DotAttention {
                use_scale,
                score_mode,
                dropout,
                use_causal_mask,
            })
        })
    }

    /// Its settings, as kiln-core runs them.
    pub fn scoring(&self) -> Scoring {
        Scoring {
            scores: match self.score_mode {
                ScoreMode::Dot => Scores::Dot,
                ScoreMode::Concat => Scores::Concat,
            },
            use_scale: self.use_scale,
            dropout: self.dropout,
            use_causal_mask: self.use_causal_mask,
        }
    }
}

impl AdditiveAttention {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::keyword("use_scale"),
            Param::keyword("dropout"),
            Param::keyword("use_causal_mask"),
        ];
        let mut args = Args::new("AdditiveAttention", call, &params);
        let use_scale = args.or("use_scale", true, boolean);
        let (dropout, use_causal_mask) = shared(&mut args);
        args.finish(|| {
            Some(AdditiveAttention {
                use_scale,
                dropout,
                use_causal_mask,
            })
        })
    }

    /// Its settings, as kiln-core runs them.
    pub fn scoring(&self) -> Scoring {
        Scoring {
            scores: Scores::Additive,
            use_scale: self.use_scale,
            dropout: self.dropout,
            use_causal_mask: self.use_causal_mask,
        }
    }
}

/// The output of an attention of `inputs` (query, value and key): the query's steps and
/// the value's features; the query's and key's features must agree, and the key's and
/// value's steps.
fn attend(layer: &str, inputs: &[Input]) -> Result<Shape, String> {
    let [query, value, rest @ ..] = inputs else {
        let one = inputs
            .first()
            .map_or_else(String::new, |i| format!(", {}", i.describe()));
        return Err(format!(
            "{layer} takes a query and a value sequence (and a key), got one tensor{one}; in the functional form write `{layer}(x, x)` for self-attention"
        ));
    };
    super::attention::attended(layer, inputs)?;
    let key = rest.first().unwrap_or(value);
    let (q, k) = (query.shape.dims()[1], key.shape.dims()[1]);
    if q != k {
        return Err(format!(
            "{layer} scores the query, {q}, against the key, {k}: their features must be as many (a Dense on one of them makes them agree)",
            q = query.describe(),
            k = key.describe()
        ));
    }
    Ok(Shape::new([query.shape.dims()[0], value.shape.dims()[1]]))
}

/// The known features of the query `input`, 0 when unknown.
fn features(input: &Shape) -> usize {
    input.dims().last().and_then(|d| d.known()).unwrap_or(0)
}

impl Rule for DotAttention {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        attend(layer, std::slice::from_ref(input))
    }

    fn merge(&self, layer: &str, inputs: &[Input]) -> Result<Shape, String> {
        attend(layer, inputs)
    }

    fn params(&self, _input: &Shape) -> Params {
        let concat = self.score_mode == ScoreMode::Concat;
        Params::trainable(usize::from(self.use_scale) + usize::from(concat))
    }
}

impl Rule for AdditiveAttention {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        attend(layer, std::slice::from_ref(input))
    }

    fn merge(&self, layer: &str, inputs: &[Input]) -> Result<Shape, String> {
        attend(layer, inputs)
    }

    fn params(&self, input: &Shape) -> Params {
        Params::trainable(usize::from(self.use_scale) * features(input))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params, Value};

    #[test]
    fn attends_with_keras_s_shapes_and_weights() {
        // Keras 3.15: Attention(use_scale=True, score_mode="concat") has 2 weights;
        // AdditiveAttention on (5, 6) queries 6; both give (5, 3) for a (4, 3) value.
        let dot = layer(
            "Attention",
            &[],
            &[
                ("use_scale", Value::Bool(true)),
                ("score_mode", n("concat")),
            ],
        );
        let (query, value) = (s(&[Some(5), Some(6)]), s(&[Some(4), Some(3)]));
        let key = s(&[Some(4), Some(6)]);
        assert_eq!(
            taking(&dot, &[query.clone(), value.clone(), key.clone()]),
            Ok(s(&[Some(5), Some(3)]))
        );
        assert_eq!(dot.params(&query), Params::trainable(2));
        assert_eq!(dot.keras_name(), "attention");
        assert_eq!(
            layer("Attention", &[], &[]).params(&query),
            Params::default()
        );
        let additive = layer("AdditiveAttention", &[], &[]);
        assert_eq!(additive.keras_name(), "additive_attention");
        assert_eq!(
            taking(&additive, &[query.clone(), value, key]),
            Ok(s(&[Some(5), Some(3)]))
        );
        assert_eq!(additive.params(&query), Params::trainable(6));
        let steps = s(&[None, Some(6)]);
        assert_eq!(
            taking(&additive, &[steps.clone(), steps.clone()]),
            Ok(steps)
        );
    }

    #[test]
    fn refuses_what_does_not_pair() {
        let dot = layer("Attention", &[], &[]);
        let (query, value) = (s(&[Some(5), Some(6)]), s(&[Some(4), Some(3)]));
        assert_eq!(
            taking(&dot, &[query.clone(), value.clone()]),
            Err("Attention scores the query, [5, 6] from the input, against the key, [4, 3] from the input: their features must be as many (a Dense on one of them makes them agree)".into())
        );
        assert_eq!(
            taking(
                &dot,
                &[query.clone(), value.clone(), s(&[Some(3), Some(6)])]
            ),
            Err("Attention's key has 3 steps but its value 4; they pair step by step".into())
        );
        assert_eq!(
            out(&dot, &query, "the input"),
            Err("Attention takes a query and a value sequence (and a key), got one tensor, [5, 6] from the input; in the functional form write `Attention(x, x)` for self-attention".into())
        );
        let error = Layer::from_call(&call("Attention", &[], &[("score_mode", n("add"))]))
            .unwrap_err()[0]
            .message
            .clone();
        assert!(error.starts_with("`score_mode` of Attention:"), "{error}");
    }
}
