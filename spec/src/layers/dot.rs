//! `Dot(a, b, axes = 1, normalize = false)`: Keras's dot product of two tensors along an
//! axis of each, in the functional form.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, Value, boolean};
use crate::rule::{Input, Rule};
use crate::shape::{Dim, Shape};

/// The axes a Dot sums over: one for both tensors, or one each (Keras's `axes`, counting
/// the batch as 0; negative ones from the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Axes {
    /// The same axis of both.
    Both(i64),
    /// The first tensor's axis, then the second's.
    Each([i64; 2]),
}

impl std::fmt::Display for Axes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Axes::Both(a) => write!(f, "{a}"),
            Axes::Each([a, b]) => write!(f, "({a}, {b})"),
        }
    }
}

/// Keras's Dot: the products of two tensors' values summed along an axis of each, for
/// every pair of their other positions; with `normalize`, each tensor is first divided by
/// its L2 norm along that axis, so that two vectors give their cosine similarity.
///
/// # Shapes
/// `[d]` and `[d]` → `[1]`; `[m, k]` and `[n, k]` with `axes = 2` → `[m, n]` (each
/// tensor's other dimension, the first's first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dot {
    /// The axes summed over.
    pub axes: Axes,
    /// Whether each tensor is L2-normalized along its axis first.
    #[serde(default)]
    pub normalize: bool,
}

impl Dot {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::required_keyword("axes", "the axis summed over, e.g. axes = 1"),
            Param::keyword("normalize"),
        ];
        let mut args = Args::new("Dot", call, &params);
        let axes = args.required("axes", |v| match v {
            Value::Int(0) => Err(
                "axis 0 is the batch dimension; give an axis of the examples, e.g. axes = 1".into(),
            ),
            Value::Int(a) => Ok(Axes::Both(*a)),
            Value::Tuple(items) => match items.as_slice() {
                [Value::Int(a), Value::Int(b)] if *a != 0 && *b != 0 => Ok(Axes::Each([*a, *b])),
                _ => Err(format!(
                    "expected an axis of each tensor, e.g. axes = (1, 2), got `{v}`"
                )),
            },
            other => Err(format!("expected an axis, e.g. axes = 1, got `{other}`")),
        });
        let normalize = args.or("normalize", false, boolean);
        args.finish(|| {
            Some(Dot {
                axes: axes?,
                normalize,
            })
        })
    }

    /// The dimensions summed over, counted from 0 over each tensor's example dimensions
    /// of `ranks`, if they are in them.
    pub fn dims(&self, ranks: [usize; 2]) -> Option<[usize; 2]> {
        let [a, b] = match self.axes {
            Axes::Both(a) => [a, a],
            Axes::Each(pair) => pair,
        };
        let resolve = |axis: i64, rank: usize| {
            let rank = rank as i64;
            let index = if axis < 0 { rank + axis } else { axis - 1 };
            (0..rank).contains(&index).then_some(index as usize)
        };
        Some([resolve(a, ranks[0])?, resolve(b, ranks[1])?])
    }
}

impl Rule for Dot {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        self.merge(layer, std::slice::from_ref(input))
    }

    fn merge(&self, layer: &str, inputs: &[Input]) -> Result<Shape, String> {
        let [first, second] = inputs else {
            return Err(format!(
                "{layer} takes two tensors, got {}; name them: `let d = {layer}(a, b, axes = 1);`",
                inputs.len()
            ));
        };
        let ranks = [first.shape.rank(), second.shape.rank()];
        if ranks[0] != ranks[1] || !(1..=2).contains(&ranks[0]) {
            return Err(format!(
                "kiln's {layer} takes two vectors or two sequences, got {} and {}",
                first.describe(),
                second.describe()
            ));
        }
        let Some([a, b]) = self.dims(ranks) else {
            return Err(format!(
                "{layer}'s axes {} are outside examples of {rank} dimensions (axes 1 to {rank}, or -1 to -{rank}; 0 is the batch)",
                self.axes,
                rank = ranks[0]
            ));
        };
        let (x, y) = (first.shape.dims(), second.shape.dims());
        if !x[a].fits(y[b]) {
            return Err(format!(
                "{layer} sums {} along axis {} against {} along axis {}: their sizes differ",
                first.describe(),
                a + 1,
                second.describe(),
                b + 1
            ));
        }
        let rest = |dims: &[Dim], skip: usize| -> Vec<Dim> {
            dims.iter()
                .enumerate()
                .filter(|&(i, _)| i != skip)
                .map(|(_, d)| *d)
                .collect()
        };
        let out: Vec<Dim> = rest(x, a).into_iter().chain(rest(y, b)).collect();
        Ok(if out.is_empty() {
            Shape::known([1])
        } else {
            Shape::new(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Layer;
    use crate::layers::testing::*;

    #[test]
    fn shapes_match_keras() {
        let vectors = layer("Dot", &[], &[("axes", i(1))]);
        let v = s(&[Some(3)]);
        assert_eq!(taking(&vectors, &[v.clone(), v.clone()]), Ok(s(&[Some(1)])));
        assert_eq!(vectors.keras_name(), "dot");
        // Keras: Dot(axes=2) of (2, 3) and (4, 3) is (2, 4); Dot(axes=1) of (2, 3) and
        // (2, 4) is (3, 4).
        let last = layer("Dot", &[], &[("axes", i(-1))]);
        let (a, b) = (s(&[Some(2), Some(3)]), s(&[None, Some(3)]));
        assert_eq!(taking(&last, &[a.clone(), b]), Ok(s(&[Some(2), None])));
        let first = layer("Dot", &[], &[("axes", i(1))]);
        assert_eq!(
            taking(&first, &[a.clone(), s(&[Some(2), Some(4)])]),
            Ok(s(&[Some(3), Some(4)]))
        );
        let each = layer("Dot", &[], &[("axes", t(&[2, 1]))]);
        assert_eq!(
            taking(&each, &[a.clone(), s(&[Some(3), Some(5)])]),
            Ok(s(&[Some(2), Some(5)]))
        );
        assert_eq!(each.params(&a).total(), 0);
    }

    #[test]
    fn refuses_what_it_cannot_multiply() {
        let l = layer("Dot", &[], &[("axes", i(1))]);
        let (v, seq) = (s(&[Some(3)]), s(&[Some(2), Some(3)]));
        let cases = [
            (
                vec![v.clone()],
                "Dot takes two tensors, got 1; name them: `let d = Dot(a, b, axes = 1);`",
            ),
            (
                vec![v.clone(), seq.clone()],
                "kiln's Dot takes two vectors or two sequences, got [3] from the input and [2, 3] from the input",
            ),
            (
                vec![v.clone(), s(&[Some(4)])],
                "Dot sums [3] from the input along axis 1 against [4] from the input along axis 1: their sizes differ",
            ),
        ];
        for (shapes, want) in cases {
            assert_eq!(taking(&l, &shapes), Err(want.to_string()));
        }
        let far = layer("Dot", &[], &[("axes", i(3))]);
        assert_eq!(
            taking(&far, &[seq.clone(), seq]),
            Err("Dot's axes 3 are outside examples of 2 dimensions (axes 1 to 2, or -1 to -2; 0 is the batch)".into())
        );
        let err = Layer::from_call(&call("Dot", &[], &[("axes", i(0))])).unwrap_err();
        assert_eq!(
            err[0].message,
            "`axes` of Dot: axis 0 is the batch dimension; give an axis of the examples, e.g. axes = 1"
        );
    }
}
