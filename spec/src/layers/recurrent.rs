//! `SimpleRNN(units, ...)`, `GRU(units, ...)`, `LSTM(units, ...)` on `[timesteps, features]`.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::args::{ArgError, Args, Call, Param, boolean, number, positive_int};
use crate::rule::{Input, Params, Rule};
use crate::shape::{Dim, Shape};

/// Which recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cell {
    /// `h = activation(x·W + h·U + b)`: one weight block.
    SimpleRnn,
    /// Update and reset gates and a candidate: three blocks.
    Gru,
    /// Input, forget, cell and output gates: four blocks.
    Lstm,
}

impl Cell {
    /// The Keras class name.
    pub const fn class_name(self) -> &'static str {
        match self {
            Cell::SimpleRnn => "SimpleRNN",
            Cell::Gru => "GRU",
            Cell::Lstm => "LSTM",
        }
    }

    /// How many weight blocks of `units` columns the cell has.
    pub const fn blocks(self) -> usize {
        match self {
            Cell::SimpleRnn => 1,
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }
}

/// A recurrent layer over `[timesteps, features]` (`timesteps` may be `_`), with Keras's
/// arguments and parameter counts (GRU with Keras's default `reset_after = true`: an input
/// and a recurrent bias per block).
///
/// # Shapes
/// `[timesteps, features]` → `[units]`, or `[timesteps, units]` with
/// `return_sequences = true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recurrent {
    /// Which cell.
    pub cell: Cell,
    /// The size of the hidden state.
    pub units: usize,
    /// Applied to the candidate state (and, in an LSTM, to the cell on output): `tanh`.
    pub activation: Activation,
    /// The gates' activation (GRU, LSTM): `sigmoid`.
    pub recurrent_activation: Activation,
    /// Whether the blocks add biases.
    pub use_bias: bool,
    /// Every step's state, not only the last.
    pub return_sequences: bool,
    /// The final states as more outputs (the functional form only): `h` (and `c` for an
    /// LSTM), each `[units]`, after the output.
    #[serde(default)]
    pub return_state: bool,
    /// Reads the sequence from its end (the outputs come in that order, as in Keras).
    pub go_backwards: bool,
    /// LSTM: the forget gate's bias starts at 1.
    pub unit_forget_bias: bool,
    /// GRU: the reset gate multiplies the recurrent product after its bias (Keras's
    /// default, and cuDNN's), rather than the state before it.
    pub reset_after: bool,
}

/// The activations burn-nn's recurrent cells offer.
const CELL_ACTIVATIONS: [Activation; 7] = [
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Relu,
    Activation::Gelu,
    Activation::Selu,
    Activation::Elu,
    Activation::Softplus,
];

/// Whether burn-nn's cells offer `a`; the error lists those they do.
fn cell_activation(a: Activation) -> Result<(), String> {
    if CELL_ACTIVATIONS.contains(&a) {
        return Ok(());
    }
    let names: Vec<&str> = CELL_ACTIVATIONS.iter().map(|a| a.name()).collect();
    Err(format!(
        "burn's recurrent cells take {}, not {a}",
        names.join(", ")
    ))
}

impl Recurrent {
    /// The arguments a layer of `cell` takes.
    fn params(cell: Cell) -> Vec<Param> {
        let mut params = vec![
            Param::positional("units", "the size of the hidden state, e.g. LSTM(32)"),
            Param::keyword("activation"),
            Param::keyword("use_bias"),
            Param::keyword("return_sequences"),
            Param::keyword("return_state"),
            Param::keyword("go_backwards"),
            Param::keyword("dropout"),
            Param::keyword("recurrent_dropout"),
        ];
        match cell {
            Cell::SimpleRnn => {}
            Cell::Gru => params.extend([
                Param::keyword("recurrent_activation"),
                Param::keyword("reset_after"),
            ]),
            Cell::Lstm => params.extend([
                Param::keyword("recurrent_activation"),
                Param::keyword("unit_forget_bias"),
            ]),
        }
        params
    }

    pub(crate) fn from_call(call: &Call) -> Result<Self, Vec<ArgError>> {
        let cell = match call.name.as_str() {
            "SimpleRNN" => Cell::SimpleRnn,
            "GRU" => Cell::Gru,
            _ => Cell::Lstm,
        };
        let name = cell.class_name();
        let params = Self::params(cell);
        let mut args = Args::new(name, call, &params);
        let units = args.required("units", positive_int);
        let activation = |v: &crate::args::Value| {
            let a = Activation::from_value(v)?;
            cell_activation(a).map(|()| a)
        };
        let layer = Recurrent {
            cell,
            units: 0,
            activation: args.or("activation", Activation::Tanh, activation),
            recurrent_activation: match cell {
                Cell::SimpleRnn => Activation::Sigmoid,
                _ => args.or("recurrent_activation", Activation::Sigmoid, activation),
            },
            use_bias: args.or("use_bias", true, boolean),
            return_sequences: args.or("return_sequences", false, boolean),
            return_state: args.or("return_state", false, boolean),
            go_backwards: args.or("go_backwards", false, boolean),
            unit_forget_bias: cell == Cell::Lstm && args.or("unit_forget_bias", true, boolean),
            reset_after: cell == Cell::Gru && args.or("reset_after", true, boolean),
        };
        for rate in ["dropout", "recurrent_dropout"] {
            if args.or(rate, 0.0, number) != 0.0 {
                args.error_on(
                    rate,
                    format!(
                        "burn's recurrent cells have no {rate}; remove it and put a Dropout \
                         layer before or after {name}"
                    ),
                );
            }
        }
        args.finish(|| {
            Some(Recurrent {
                units: units?,
                ..layer
            })
        })
    }

    /// The layer of this configuration: `Layer::LSTM` for an LSTM's.
    pub fn into_layer(self) -> crate::layer::Layer {
        use crate::layer::Layer;
        match self.cell {
            Cell::SimpleRnn => Layer::SimpleRNN(self),
            Cell::Gru => Layer::GRU(self),
            Cell::Lstm => Layer::LSTM(self),
        }
    }

    /// How many final states `return_state = true` adds: `h`, and `c` for an LSTM.
    pub fn state_count(&self) -> usize {
        match (self.return_state, self.cell) {
            (false, _) => 0,
            (true, Cell::Lstm) => 2,
            (true, _) => 1,
        }
    }

    /// Every block's input kernel, recurrent kernel and biases, as Keras counts them.
    fn count(&self, features: usize) -> usize {
        let u = self.units;
        let biases = match (self.use_bias, self.reset_after) {
            (false, _) => 0,
            (true, true) => 2 * u,
            (true, false) => u,
        };
        crate::product([self.cell.blocks(), u, features.saturating_add(u)])
            .saturating_add(self.cell.blocks() * biases)
    }
}

impl Rule for Recurrent {
    fn states(&self) -> Vec<Shape> {
        vec![Shape::known([self.units]); self.state_count()]
    }

    fn state_names(&self) -> Vec<String> {
        ["h", "c"][..self.state_count()]
            .iter()
            .map(|&n| n.to_owned())
            .collect()
    }

    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        // `model!` checks these on the arguments; a JSON form is checked here.
        if self.cell.class_name() != layer {
            return Err(format!(
                "{layer} is configured as a {} cell",
                self.cell.class_name()
            ));
        }
        for a in [self.activation, self.recurrent_activation] {
            cell_activation(a).map_err(|why| format!("{layer}: {why}"))?;
        }
        match input.shape.dims() {
            [_, Dim::Unknown] => Err(format!(
                "{layer} needs a known number of features per step (the last dimension), got {}",
                input.describe()
            )),
            [timesteps, Dim::Known(_)] => Ok(if self.return_sequences {
                Shape::new([*timesteps, Dim::Known(self.units)])
            } else {
                Shape::new([Dim::Known(self.units)])
            }),
            _ => Err(format!(
                "{layer} expects sequences [timesteps, features], got {}; {}",
                input.describe(),
                match input.shape.rank() {
                    1 =>
                        "add Reshape((-1, 1)) for one feature per step, or use \
                          return_sequences = true on the recurrent layer before",
                    _ => "add Reshape to [timesteps, features] before it",
                }
            )),
        }
    }

    fn params(&self, input: &Shape) -> Params {
        let features = input.dims().last().and_then(|d| d.known()).unwrap_or(0);
        Params::trainable(self.count(features))
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::testing::*;
    use crate::{Layer, Params};

    #[test]
    fn shapes_and_params_match_keras() {
        // (layer, keywords, input, output, params); params from Keras 3's count_params().
        let b = |x| crate::args::Value::Bool(x);
        let cases = [
            (
                "LSTM",
                vec![],
                s(&[Some(10), Some(16)]),
                s(&[Some(32)]),
                6_272,
            ),
            (
                "GRU",
                vec![],
                s(&[Some(10), Some(16)]),
                s(&[Some(32)]),
                4_800,
            ),
            (
                "GRU",
                vec![("reset_after", b(false))],
                s(&[Some(10), Some(16)]),
                s(&[Some(32)]),
                4_704,
            ),
            (
                "SimpleRNN",
                vec![],
                s(&[Some(10), Some(16)]),
                s(&[Some(32)]),
                1_568,
            ),
            (
                "LSTM",
                vec![("return_sequences", b(true))],
                s(&[None, Some(8)]),
                s(&[None, Some(32)]),
                5_248,
            ),
            (
                "LSTM",
                vec![("use_bias", b(false))],
                s(&[None, Some(16)]),
                s(&[Some(32)]),
                6_144,
            ),
        ];
        for (name, kw, input, output, params) in cases {
            let l = layer(name, &[i(32)], &kw);
            assert_eq!(out(&l, &input, "the input"), Ok(output), "{name} {kw:?}");
            assert_eq!(l.params(&input), Params::trainable(params), "{name} {kw:?}");
        }
    }

    #[test]
    fn refuses_what_burn_cannot_do() {
        let cases = [
            (
                "GRU",
                vec![("dropout", f(0.2))],
                "burn's recurrent cells have no dropout",
            ),
            (
                "SimpleRNN",
                vec![("activation", n("softmax"))],
                "`activation` of SimpleRNN: burn's recurrent cells take tanh, sigmoid, relu, gelu, selu, elu, softplus, not softmax",
            ),
            (
                "SimpleRNN",
                vec![("recurrent_activation", n("sigmoid"))],
                "unknown argument `recurrent_activation`",
            ),
        ];
        for (name, kw, want) in cases {
            let err = Layer::from_call(&call(name, &[i(8)], &kw)).unwrap_err();
            assert!(err[0].message.starts_with(want), "{}", err[0].message);
        }
    }

    #[test]
    fn a_json_form_is_held_to_the_same_rules() {
        let Layer::LSTM(mut l) = layer("LSTM", &[i(4)], &[]) else {
            panic!("an LSTM")
        };
        l.activation = crate::Activation::Softmax;
        assert_eq!(
            out(&Layer::LSTM(l.clone()), &s(&[Some(3), Some(2)]), "the input"),
            Err("LSTM: burn's recurrent cells take tanh, sigmoid, relu, gelu, selu, elu, softplus, not softmax".into())
        );
        l.activation = crate::Activation::Tanh;
        assert_eq!(
            out(&Layer::GRU(l), &s(&[Some(3), Some(2)]), "the input"),
            Err("GRU is configured as a LSTM cell".into())
        );
    }

    #[test]
    fn needs_sequences_of_known_features() {
        let l = layer("LSTM", &[i(4)], &[]);
        assert_eq!(
            out(&l, &s(&[Some(10), None]), "the input"),
            Err("LSTM needs a known number of features per step (the last dimension), got [10, _] from the input".into())
        );
        let err = out(&l, &s(&[Some(3), Some(32), Some(32)]), "Conv2D").unwrap_err();
        assert!(
            err.starts_with(
                "LSTM expects sequences [timesteps, features], got [3, 32, 32] from Conv2D"
            ),
            "{err}"
        );
    }
}
