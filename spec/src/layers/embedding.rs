//! `Embedding(input_dim, output_dim)` on token ids `[timesteps]`.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, positive_int};
use crate::rule::{Input, Params, Rule};
use crate::shape::{Dim, Shape};

/// A learned vector for each of `input_dim` token ids: `[timesteps]` ids (whole numbers
/// from 0 to `input_dim - 1`, given as the model's input values) become
/// `[timesteps, output_dim]` vectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// The vocabulary size.
    pub input_dim: usize,
    /// The size of each vector.
    pub output_dim: usize,
}

impl Embedding {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional(
                "input_dim",
                "the vocabulary size: ids run from 0 to input_dim - 1, e.g. Embedding(1000, 64)",
            ),
            Param::positional(
                "output_dim",
                "the size of each token's vector, e.g. Embedding(1000, 64)",
            ),
        ];
        let mut args = Args::new("Embedding", call, &params);
        let input_dim = args.required("input_dim", positive_int);
        let output_dim = args.required("output_dim", positive_int);
        args.finish(|| {
            Some(Embedding {
                input_dim: input_dim?,
                output_dim: output_dim?,
            })
        })
    }
}

impl Rule for Embedding {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        match input.shape.dims() {
            _ if input.from != "the input" => Err(format!(
                "{layer} looks up the model's token ids, so it must be the first layer, not after {}",
                input.from
            )),
            [timesteps] => Ok(Shape::new([*timesteps, Dim::Known(self.output_dim)])),
            _ => Err(format!(
                "{layer} takes token ids [timesteps], got {}; put it first, on an input such as [_] or [100]",
                input.describe()
            )),
        }
    }

    fn params(&self, _input: &Shape) -> Params {
        Params::trainable(self.input_dim * self.output_dim)
    }
}

#[cfg(test)]
mod tests {
    use crate::Params;
    use crate::layers::testing::*;

    #[test]
    fn ids_become_vectors_with_keras_s_count() {
        let l = layer("Embedding", &[i(1000), i(64)], &[]);
        assert_eq!(out(&l, &s(&[None]), "the input"), Ok(s(&[None, Some(64)])));
        assert_eq!(l.params(&s(&[Some(20)])), Params::trainable(64_000));
        assert_eq!(
            out(&l, &s(&[Some(20), Some(8)]), "the input"),
            Err("Embedding takes token ids [timesteps], got [20, 8] from the input; put it first, on an input such as [_] or [100]".into())
        );
        assert_eq!(
            out(&l, &s(&[Some(20)]), "Dense"),
            Err("Embedding looks up the model's token ids, so it must be the first layer, not after Dense".into())
        );
    }
}
