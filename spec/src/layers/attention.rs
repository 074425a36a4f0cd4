//! `MultiHeadAttention(query, value, [key], num_heads = 2, key_dim = 16, ...)`: Keras's
//! attention of the functional form, over sequences `[steps, features]`.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, boolean, positive_int, rate};
use crate::rule::{Input, Params, Rule};
use crate::shape::{Dim, Shape};

/// Keras's MultiHeadAttention: each of `num_heads` heads projects the query and the key
/// to `key_dim` features and the value to `value_dim`, weighs the value's steps by the
/// softmax of the scaled dot products of the query's and the key's, and the heads'
/// results are projected together to `output_shape` features.
///
/// # Shapes
/// The query `[steps_q, features_q]`, the value `[steps_v, features_v]` and the key (the
/// value unless given) `[steps_v, features_k]` → `[steps_q, output_shape]`, where
/// `output_shape` is `features_q` unless given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultiHeadAttention {
    /// How many heads.
    pub num_heads: usize,
    /// The features of each head's query and key.
    pub key_dim: usize,
    /// The features of each head's value: `key_dim` when `None`.
    pub value_dim: Option<usize>,
    /// The fraction of the attention weights dropped while training.
    pub dropout: f64,
    /// Whether the projections add biases.
    pub use_bias: bool,
    /// The output's features: the query's when `None`.
    pub output_shape: Option<usize>,
    /// Each query step attends to the key's steps up to its own only (Keras's call
    /// argument, here the layer's).
    #[serde(default)]
    pub use_causal_mask: bool,
}

/// What an attention's three inputs are called, in the order the graph gives them.
const ROLES: [&str; 3] = ["query", "value", "key"];

/// An error unless `inputs` (two or more) are an attention's query, value and key: three
/// at most, each a sequence `[steps, features]` of known features, the key's steps the
/// value's (when both are known).
pub(crate) fn attended(layer: &str, inputs: &[Input]) -> Result<(), String> {
    if inputs.len() > 3 {
        return Err(format!(
            "{layer} takes a query, a value and a key, got {} tensors",
            inputs.len()
        ));
    }
    for (role, input) in ROLES.iter().zip(inputs) {
        if !matches!(input.shape.dims(), [_, Dim::Known(_)]) {
            return Err(format!(
                "{layer}'s {role} must be a sequence [steps, features] of known features, got {}",
                input.describe()
            ));
        }
    }
    if let [_, value, key] = inputs {
        let (v, k) = (value.shape.dims()[0], key.shape.dims()[0]);
        if let (Dim::Known(v), Dim::Known(k)) = (v, k)
            && v != k
        {
            return Err(format!(
                "{layer}'s key has {k} steps but its value {v}; they pair step by step"
            ));
        }
    }
    Ok(())
}

impl MultiHeadAttention {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            // By keyword: in the functional form the tensors come first.
            Param::required_keyword("num_heads", "how many heads, e.g. num_heads = 4"),
            Param::required_keyword(
                "key_dim",
                "each head's query and key size, e.g. key_dim = 16",
            ),
            Param::keyword("value_dim"),
            Param::keyword("dropout"),
            Param::keyword("use_bias"),
            Param::keyword("output_shape"),
            Param::keyword("use_causal_mask"),
        ];
        let mut args = Args::new("MultiHeadAttention", call, &params);
        let num_heads = args.required("num_heads", positive_int);
        let key_dim = args.required("key_dim", positive_int);
        let layer = MultiHeadAttention {
            num_heads: 0,
            key_dim: 0,
            value_dim: args.get("value_dim", positive_int),
            dropout: args.or("dropout", 0.0, rate),
            use_bias: args.or("use_bias", true, boolean),
            output_shape: args.get("output_shape", positive_int),
            use_causal_mask: args.or("use_causal_mask", false, boolean),
        };
        args.finish(|| {
            Some(MultiHeadAttention {
                num_heads: num_heads?,
                key_dim: key_dim?,
                ..layer
            })
        })
    }

    /// Each head's value features.
    pub fn value_size(&self) -> usize {
        self.value_dim.unwrap_or(self.key_dim)
    }

    /// The features of each input the layer takes: the query's, the value's, the key's.
    pub fn features(inputs: &[&Shape]) -> [usize; 3] {
        let last = |s: &Shape| s.dims().last().and_then(|d| d.known()).unwrap_or(0);
        let query = inputs.first().map_or(0, |s| last(s));
        let value = inputs.get(1).map_or(query, |s| last(s));
        let key = inputs.get(2).map_or(value, |s| last(s));
        [query, value, key]
    }

    /// Keras's count: the query, key and value kernels `[features, heads, size]` with a
    /// bias `[heads, size]` each, and the output kernel `[heads, value_dim, output]` with
    /// its bias.
    fn count(&self, [query, value, key]: [usize; 3]) -> usize {
        let (h, k, v) = (self.num_heads, self.key_dim, self.value_size());
        let out = self.output_shape.unwrap_or(query);
        let bias = usize::from(self.use_bias);
        let projections = [(query, h * k), (key, h * k), (value, h * v), (h * v, out)];
        projections
            .iter()
            .map(|&(from, to)| crate::product([from, to]).saturating_add(bias * to))
            .fold(0, usize::saturating_add)
    }
}

impl Rule for MultiHeadAttention {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        Err(format!(
            "{layer} takes a query and a value sequence (and a key), got one tensor, {}; in the functional form write `{layer}(x, x, num_heads = {}, key_dim = {})` for self-attention",
            input.describe(),
            self.num_heads,
            self.key_dim
        ))
    }

    fn merge(&self, layer: &str, inputs: &[Input]) -> Result<Shape, String> {
        let [query, rest @ ..] = inputs else {
            return Err(format!("{layer} takes a query and a value"));
        };
        if rest.is_empty() {
            return self.output(layer, query);
        }
        attended(layer, inputs)?;
        let [features, ..] = Self::features(&[query.shape]);
        let out = self.output_shape.unwrap_or(features);
        Ok(Shape::new([query.shape.dims()[0], Dim::Known(out)]))
    }

    fn params(&self, input: &Shape) -> Params {
        self.params_with(input, &[])
    }

    fn params_with(&self, input: &Shape, more: &[Shape]) -> Params {
        let shapes: Vec<&Shape> = std::iter::once(input).chain(more).collect();
        Params::trainable(self.count(Self::features(&shapes)))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    fn attention(kw: &[(&str, crate::Value)]) -> Layer {
        let mut all = vec![("num_heads", i(2))];
        all.extend_from_slice(kw);
        layer("MultiHeadAttention", &[], &all)
    }

    #[test]
    fn shapes_and_params_match_keras() {
        // Keras 3.15: MultiHeadAttention(2, 3, value_dim=2) on (5, 6) and (4, 3): 112
        // weights, (5, 6); MultiHeadAttention(2, 4, output_shape=7) on (5, 6) twice: 231.
        let cross = attention(&[("key_dim", i(3)), ("value_dim", i(2))]);
        let (query, value) = (s(&[Some(5), Some(6)]), s(&[Some(4), Some(3)]));
        assert_eq!(
            taking(&cross, &[query.clone(), value.clone()]),
            Ok(query.clone())
        );
        assert_eq!(cross.params_with(&query, &[value]), Params::trainable(112));
        assert_eq!(cross.keras_name(), "multi_head_attention");
        let own = attention(&[("key_dim", i(4)), ("output_shape", i(7))]);
        let seq = s(&[None, Some(6)]);
        assert_eq!(
            taking(&own, &[seq.clone(), seq.clone()]),
            Ok(s(&[None, Some(7)]))
        );
        assert_eq!(
            own.params_with(&seq, std::slice::from_ref(&seq)),
            Params::trainable(231)
        );
        assert_eq!(own.params(&seq), Params::trainable(231));
        // Without biases, and a key of its own: 6·2·4 + 5·2·4 + 3·2·4 + 8·6.
        let bare = attention(&[("key_dim", i(4)), ("use_bias", crate::Value::Bool(false))]);
        let key = s(&[Some(4), Some(5)]);
        assert_eq!(
            bare.params_with(&query, &[s(&[Some(4), Some(3)]), key]),
            Params::trainable(48 + 40 + 24 + 48)
        );
    }

    #[test]
    fn refuses_what_it_cannot_attend_to() {
        let l = attention(&[("key_dim", i(4))]);
        let seq = s(&[Some(5), Some(6)]);
        assert_eq!(
            taking(&l, std::slice::from_ref(&seq)),
            Err("MultiHeadAttention takes a query and a value sequence (and a key), got one tensor, [5, 6] from the input; in the functional form write `MultiHeadAttention(x, x, num_heads = 2, key_dim = 4)` for self-attention".into())
        );
        assert_eq!(
            taking(&l, &[seq.clone(), s(&[Some(6)])]),
            Err("MultiHeadAttention's value must be a sequence [steps, features] of known features, got [6] from the input".into())
        );
        assert_eq!(
            taking(&l, &[seq.clone(), seq.clone(), s(&[Some(4), Some(6)])]),
            Err(
                "MultiHeadAttention's key has 4 steps but its value 5; they pair step by step"
                    .into()
            )
        );
        assert_eq!(
            taking(&l, &[seq.clone(), seq.clone(), seq.clone(), seq]),
            Err("MultiHeadAttention takes a query, a value and a key, got 4 tensors".into())
        );
        let cases = [
            (
                vec![("num_heads", i(2))],
                "MultiHeadAttention needs `key_dim` (each head's query and key size, e.g. key_dim = 16); add it",
            ),
            (
                vec![("num_heads", i(2)), ("key_dim", i(4)), ("dropout", f(1.0))],
                "`dropout` of MultiHeadAttention: the rate must be in [0, 1), got 1.0",
            ),
            (
                vec![("num_heads", i(0)), ("key_dim", i(4))],
                "`num_heads` of MultiHeadAttention: expected a positive integer, got 0",
            ),
        ];
        for (kw, want) in cases {
            let err = Layer::from_call(&call("MultiHeadAttention", &[], &kw)).unwrap_err();
            assert_eq!(err[0].message, want);
        }
    }
}
