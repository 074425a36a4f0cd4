//! `Bidirectional(layer, merge_mode = concat)`: a recurrent layer read both ways.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, Args, Call, Param, one_of};
use crate::layer::Layer;
use crate::rule::{Input, Params, Rule};
use crate::shape::{Dim, Shape};

use super::merge::MergeOp;
use super::recurrent::Recurrent;

/// How Bidirectional joins the two readings, as Keras's `merge_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// Side by side: twice the units (Keras's default).
    Concat,
    /// Their sum.
    Sum,
    /// Their product.
    Mul,
    /// Their mean.
    Ave,
}

impl MergeMode {
    /// Keras's names, in this enum's order.
    const NAMES: [&'static str; 4] = ["concat", "sum", "mul", "ave"];

    /// The merge of the two readings for outputs of `rank` dimensions per example.
    pub fn op(self, rank: usize) -> MergeOp {
        match self {
            // The batch is tensor dimension 0: the example's last is `rank`.
            MergeMode::Concat => MergeOp::Concatenate { dim: rank },
            MergeMode::Sum => MergeOp::Add,
            MergeMode::Mul => MergeOp::Multiply,
            MergeMode::Ave => MergeOp::Average,
        }
    }
}

/// A recurrent layer and a copy of it that reads the sequence from its end, their outputs
/// merged, as Keras's Bidirectional: with `return_sequences` the backward reading's steps
/// are put back in the sequence's order before the merge; with `return_state` the forward
/// layer's final states come after the output, then the backward layer's.
///
/// # Shapes
/// `[timesteps, features]` → `[2·units]` (`[timesteps, 2·units]` with `return_sequences`),
/// or `units` in place of `2·units` for the other merges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Written", into = "Written")]
pub struct Bidirectional {
    /// The forward layer; the backward one is its copy with `go_backwards`.
    pub layer: Recurrent,
    /// How the two outputs are joined.
    pub merge_mode: MergeMode,
}

/// Bidirectional's JSON form: its layer as a layer, `{"class_name": "LSTM", ...}`.
#[derive(Serialize, Deserialize)]
struct Written {
    layer: Box<Layer>,
    merge_mode: MergeMode,
}

impl TryFrom<Written> for Bidirectional {
    type Error = String;

    fn try_from(w: Written) -> Result<Self, String> {
        Ok(Bidirectional {
            layer: recurrent(*w.layer)?,
            merge_mode: w.merge_mode,
        })
    }
}

impl From<Bidirectional> for Written {
    fn from(b: Bidirectional) -> Self {
        Written {
            layer: Box::new(b.layer.into_layer()),
            merge_mode: b.merge_mode,
        }
    }
}

/// The recurrent layer inside `layer`, or why Bidirectional cannot read it both ways.
fn recurrent(layer: Layer) -> Result<Recurrent, String> {
    match layer {
        Layer::SimpleRNN(r) | Layer::GRU(r) | Layer::LSTM(r) if r.go_backwards => Err(format!(
            "Bidirectional reads the sequence both ways itself; remove go_backwards from {}",
            r.cell.class_name()
        )),
        Layer::SimpleRNN(r) | Layer::GRU(r) | Layer::LSTM(r) => Ok(r),
        other => Err(format!(
            "Bidirectional wraps a SimpleRNN, GRU or LSTM, not {}",
            other.class_name()
        )),
    }
}

impl Bidirectional {
    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let params = [
            Param::positional(
                "layer",
                "the recurrent layer read both ways, e.g. Bidirectional(LSTM(32))",
            ),
            Param::keyword("merge_mode"),
        ];
        let mut args = Args::new("Bidirectional", call, &params);
        let layer = args.required("layer", |v| recurrent(super::wrapped(v, "LSTM(32)")?));
        let merge_mode = args.or("merge_mode", MergeMode::Concat, |v| {
            let modes = [
                MergeMode::Concat,
                MergeMode::Sum,
                MergeMode::Mul,
                MergeMode::Ave,
            ];
            match v {
                crate::args::Value::Name(n) if n == "None" => Err(
                    "None (the two outputs apart) is not in kiln; take concat, sum, mul or ave"
                        .into(),
                ),
                v => one_of(v, &MergeMode::NAMES).map(|i| modes[i]),
            }
        });
        args.finish(|| {
            Some(Bidirectional {
                layer: layer?,
                merge_mode,
            })
        })
    }
}

impl Rule for Bidirectional {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        // `model!` and the JSON form check this on the arguments; a configuration built
        // in Rust from its fields is checked here.
        recurrent(self.layer.clone().into_layer())?;
        let inner = self.layer.cell.class_name();
        let out = self
            .layer
            .output(inner, input)
            .map_err(|e| format!("{layer}({inner}): {e}"))?;
        Ok(match self.merge_mode {
            MergeMode::Concat => {
                let dims = out.dims();
                let (last, lead) = dims.split_last().unwrap_or((&Dim::Unknown, &[]));
                let doubled = last.known().map_or(Dim::Unknown, |n| Dim::Known(2 * n));
                Shape::new(lead.iter().copied().chain([doubled]))
            }
            _ => out,
        })
    }

    fn params(&self, input: &Shape) -> Params {
        let one = self.layer.params(input);
        one + one
    }

    fn states(&self) -> Vec<Shape> {
        let one = self.layer.states();
        one.iter().chain(&one).cloned().collect()
    }

    fn state_names(&self) -> Vec<String> {
        let forward = self.layer.state_names();
        let backward = forward.iter().map(|n| format!("{n}_back"));
        forward.iter().cloned().chain(backward).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Call, Layer, Params, Value};

    fn wrapped(inner: Call, kw: &[(&str, Value)]) -> Layer {
        layer("Bidirectional", &[Value::Call(inner)], kw)
    }

    #[test]
    fn shapes_and_params_match_keras() {
        let sequences = Call::bare("LSTM").arg(4).kw("return_sequences", true);
        let input = s(&[Some(5), Some(3)]);
        // Keras 3.15: Bidirectional(LSTM(4, return_sequences=True)) on (5, 3), 2·(4·(3·4 + 4·4 + 4)).
        let concat = wrapped(sequences.clone(), &[]);
        assert_eq!(
            out(&concat, &input, "the input"),
            Ok(s(&[Some(5), Some(8)]))
        );
        assert_eq!(concat.params(&input), Params::trainable(256));
        assert_eq!(concat.keras_name(), "bidirectional");
        let sum = wrapped(sequences, &[("merge_mode", n("sum"))]);
        assert_eq!(out(&sum, &input, "the input"), Ok(s(&[Some(5), Some(4)])));
        // Bidirectional(GRU(2)) on (5, 4): 2·(3·(4·2 + 2·2 + 2·2)) = 96, the last steps.
        let gru = wrapped(Call::bare("GRU").arg(2), &[("merge_mode", n("ave"))]);
        let input = s(&[None, Some(4)]);
        assert_eq!(out(&gru, &input, "the input"), Ok(s(&[Some(2)])));
        assert_eq!(gru.params(&input), Params::trainable(96));
        let states = wrapped(Call::bare("LSTM").arg(3).kw("return_state", true), &[]);
        assert_eq!(states.states(), vec![s(&[Some(3)]); 4]);
        assert_eq!(states.state_names(), ["h", "c", "h_back", "c_back"]);
        assert_eq!(out(&states, &input, "the input"), Ok(s(&[Some(6)])));
    }

    #[test]
    fn refuses_what_it_cannot_read_both_ways() {
        let cases = [
            (
                vec![Value::Call(Call::bare("Dense").arg(8))],
                vec![],
                "`layer` of Bidirectional: Bidirectional wraps a SimpleRNN, GRU or LSTM, not Dense",
            ),
            (
                vec![Value::Call(
                    Call::bare("GRU").arg(8).kw("go_backwards", true),
                )],
                vec![],
                "`layer` of Bidirectional: Bidirectional reads the sequence both ways itself; remove go_backwards from GRU",
            ),
            (
                vec![i(4)],
                vec![],
                "`layer` of Bidirectional: expected a layer such as LSTM(32), got `4`",
            ),
            (
                vec![n("LSTM")],
                vec![],
                "`layer` of Bidirectional: LSTM needs `units` (the size of the hidden state, e.g. LSTM(32)); add it",
            ),
            (
                vec![Value::Call(Call::bare("LSTM").arg(8))],
                vec![("merge_mode", n("None"))],
                "`merge_mode` of Bidirectional: None (the two outputs apart) is not in kiln; take concat, sum, mul or ave",
            ),
            (
                vec![Value::Call(Call::bare("LSTM").arg(8))],
                vec![("merge_mode", n("avg"))],
                "`merge_mode` of Bidirectional: unknown value `avg`; did you mean `ave`?",
            ),
            (
                vec![],
                vec![],
                "Bidirectional needs `layer` (the recurrent layer read both ways, e.g. Bidirectional(LSTM(32))); add it",
            ),
        ];
        for (pos, kw, want) in cases {
            let err = Layer::from_call(&call("Bidirectional", &pos, &kw)).unwrap_err();
            assert_eq!(err[0].message, want);
        }
        let lstm = wrapped(Call::bare("LSTM").arg(4), &[]);
        assert_eq!(
            out(&lstm, &s(&[Some(4)]), "Dense"),
            Err("Bidirectional(LSTM): LSTM expects sequences [timesteps, features], got [4] from Dense; add Reshape((-1, 1)) for one feature per step, or use return_sequences = true on the recurrent layer before".into())
        );
    }

    #[test]
    fn its_json_form_holds_the_layer_as_a_layer() {
        let l = wrapped(Call::bare("GRU").arg(2), &[("merge_mode", n("mul"))]);
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json["config"]["merge_mode"], "mul");
        assert_eq!(json["config"]["layer"]["class_name"], "GRU");
        assert_eq!(serde_json::from_value::<Layer>(json.clone()).unwrap(), l);
        let mut dense = json;
        dense["config"]["layer"] = serde_json::json!({"class_name": "Flatten", "config": {}});
        let err = serde_json::from_value::<Layer>(dense).unwrap_err();
        assert!(
            err.to_string()
                .contains("Bidirectional wraps a SimpleRNN, GRU or LSTM, not Flatten"),
            "{err}"
        );
    }
}
