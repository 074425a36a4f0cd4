//! SimpleRNN, GRU and LSTM: burn-nn's `Rnn`, `Gru` and `Lstm`, built with Keras's
//! initializers and weight layout (so the parameter counts are Keras's), and run on
//! `[batch, timesteps, features]` as Keras runs them.

use burn::module::Initializer;
use burn::nn::activation::ActivationConfig;
use burn::nn::{EluConfig, GateController, Gru, Linear, Lstm, Rnn, SoftplusConfig};
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::{self, Cell};
use kiln_spec::{Activation, Shape, kinds};

use super::{Run, RuntimeLayer, Stepped, size};
use crate::dyn_tensor::DynTensor;

/// burn-nn's form of one of the activations kiln-spec allows in a recurrent cell.
fn cell_activation<B: Backend>(
    a: Activation,
    device: &B::Device,
) -> burn::nn::activation::Activation<B> {
    match a {
        Activation::Sigmoid => ActivationConfig::Sigmoid,
        Activation::Relu => ActivationConfig::Relu,
        Activation::Gelu => ActivationConfig::Gelu,
        Activation::Selu => ActivationConfig::Selu,
        Activation::Elu => ActivationConfig::Elu(EluConfig::new()),
        Activation::Softplus => ActivationConfig::Softplus(SoftplusConfig::new()),
        // Tanh, and those kiln-spec refuses for recurrent layers (its check runs first
        // on every path: `model!` and `from_json` alike).
        _ => ActivationConfig::Tanh,
    }
    .init(device)
}

/// One weight block of `units` columns: a Glorot-uniform input kernel (fanned out over all
/// `blocks`, as Keras's one `[features, blocks·units]` kernel), an orthogonal recurrent
/// kernel, and the biases asked for, the input one at `bias`.
fn block<B: Backend>(
    features: usize,
    units: usize,
    blocks: usize,
    biases: (Option<f64>, bool),
    device: &B::Device,
) -> GateController<B> {
    let (input_bias, recurrent_bias) = biases;
    GateController {
        input_transform: Linear {
            weight: Initializer::XavierUniform { gain: 1.0 }.init_with(
                [features, units],
                Some(features),
                Some(blocks * units),
                device,
            ),
            bias: input_bias.map(|value| Initializer::Constant { value }.init([units], device)),
        },
        hidden_transform: Linear {
            weight: Initializer::Orthogonal { gain: 1.0 }.init([units, units], device),
            bias: recurrent_bias.then(|| Initializer::Zeros.init([units], device)),
        },
    }
}

/// A SimpleRNN of `units` on `features` inputs: `h = activation(x·W + h·U + b)`.
pub fn simple_rnn<B: Backend>(
    features: usize,
    units: usize,
    activation: Activation,
    use_bias: bool,
    device: &B::Device,
) -> Rnn<B> {
    Rnn {
        gate: block(features, units, 1, (use_bias.then_some(0.0), false), device),
        d_hidden: units,
        batch_first: true,
        reverse: false,
        clip: None,
        hidden_activation: cell_activation(activation, device),
    }
}

/// A GRU of `units` on `features` inputs. With `reset_after` (Keras's default) each gate
/// has an input and a recurrent bias, and the reset gate scales the recurrent product.
pub fn gru<B: Backend>(
    features: usize,
    units: usize,
    [activation, recurrent_activation]: [Activation; 2],
    use_bias: bool,
    reset_after: bool,
    device: &B::Device,
) -> Gru<B> {
    let gate = || {
        block(
            features,
            units,
            3,
            (use_bias.then_some(0.0), use_bias && reset_after),
            device,
        )
    };
    Gru {
        update_gate: gate(),
        reset_gate: gate(),
        new_gate: gate(),
        d_hidden: units,
        reset_after,
        gate_activation: cell_activation(recurrent_activation, device),
        hidden_activation: cell_activation(activation, device),
        clip: None,
    }
}

/// An LSTM of `units` on `features` inputs: one bias per gate, the forget gate's at 1 with
/// `unit_forget_bias` (Keras's default).
pub fn lstm<B: Backend>(
    features: usize,
    units: usize,
    [activation, recurrent_activation]: [Activation; 2],
    use_bias: bool,
    unit_forget_bias: bool,
    device: &B::Device,
) -> Lstm<B> {
    let gate = |bias: f64| {
        block(
            features,
            units,
            4,
            (use_bias.then_some(bias), false),
            device,
        )
    };
    Lstm {
        input_gate: gate(0.0),
        forget_gate: gate(if unit_forget_bias { 1.0 } else { 0.0 }),
        output_gate: gate(0.0),
        cell_gate: gate(0.0),
        d_hidden: units,
        batch_first: true,
        reverse: false,
        clip: None,
        input_forget: false,
        gate_activation: cell_activation(recurrent_activation, device),
        cell_activation: cell_activation(activation, device),
        hidden_activation: cell_activation(activation, device),
    }
}

/// A recurrent layer run over a whole sequence.
pub trait Recurrent<B: Backend> {
    /// The final states Keras's `return_state = true` gives: `(h,)`, or `(h, c)` for an
    /// LSTM, each `[batch, units]`.
    type States;

    /// Every step's hidden state, `[batch, timesteps, units]`, and the final states, from
    /// a zero state.
    fn run(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Self::States);

    /// The final states as a list, in Keras's order.
    fn state_list(states: Self::States) -> Vec<Tensor<B, 2>>;
}

impl<B: Backend> Recurrent<B> for Rnn<B> {
    type States = (Tensor<B, 2>,);

    fn run(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Self::States) {
        let (steps, state) = self.forward(x, None);
        (steps, (state.hidden,))
    }

    fn state_list(states: Self::States) -> Vec<Tensor<B, 2>> {
        vec![states.0]
    }
}

impl<B: Backend> Recurrent<B> for Gru<B> {
    type States = (Tensor<B, 2>,);

    fn run(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Self::States) {
        let steps = self.forward(x, None);
        let last = last_step(steps.clone());
        (steps, (last,))
    }

    fn state_list(states: Self::States) -> Vec<Tensor<B, 2>> {
        vec![states.0]
    }
}

impl<B: Backend> Recurrent<B> for Lstm<B> {
    type States = (Tensor<B, 2>, Tensor<B, 2>);

    fn run(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Self::States) {
        let (steps, state) = self.forward(x, None);
        (steps, (state.hidden, state.cell))
    }

    fn state_list(states: Self::States) -> Vec<Tensor<B, 2>> {
        vec![states.0, states.1]
    }
}

/// Every step's state, as Keras's `return_sequences = true`; with `go_backwards` the
/// sequence is read from its end and the states come in that order.
pub fn recurrent_sequence<B: Backend>(
    layer: &impl Recurrent<B>,
    x: Tensor<B, 3>,
    go_backwards: bool,
) -> Tensor<B, 3> {
    layer.run(if go_backwards { x.flip([1]) } else { x }).0
}

/// The last step's state, `[batch, units]`, as Keras's recurrent layers give by default.
pub fn recurrent_last<B: Backend>(
    layer: &impl Recurrent<B>,
    x: Tensor<B, 3>,
    go_backwards: bool,
) -> Tensor<B, 2> {
    last_step(recurrent_sequence(layer, x, go_backwards))
}

/// Keras's `return_state = true`: the output, every step's state (`D = 3`) or the last
/// (`D = 2`), and the final states.
pub fn recurrent_with_states<B: Backend, R: Recurrent<B>, const D: usize>(
    layer: &R,
    x: Tensor<B, 3>,
    go_backwards: bool,
) -> (Tensor<B, D>, R::States) {
    let (steps, states) = layer.run(if go_backwards { x.flip([1]) } else { x });
    (output_of(steps), states)
}

/// Every step's state `[batch, timesteps, units]` as a layer's output of rank `D`: all of
/// them (`D = 3`, `return_sequences`) or the last (`D = 2`).
pub(super) fn output_of<B: Backend, const D: usize>(steps: Tensor<B, 3>) -> Tensor<B, D> {
    if D == 3 {
        let dims = dims_of::<B, 3, D>(&steps);
        steps.reshape(dims)
    } else {
        let last = last_step(steps);
        let dims = dims_of::<B, 2, D>(&last);
        last.reshape(dims)
    }
}

/// The dims of `t`, of rank `S`, as an array of `D` (the same rank, checked by the caller).
pub(super) fn dims_of<B: Backend, const S: usize, const D: usize>(t: &Tensor<B, S>) -> [usize; D] {
    let mut dims = [0; D];
    dims.copy_from_slice(&t.dims()[..D]);
    dims
}

/// The last step of `[batch, timesteps, units]`, as `[batch, units]`.
fn last_step<B: Backend>(steps: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, timesteps, units] = steps.dims();
    steps
        .slice([0..batch, timesteps.saturating_sub(1)..timesteps, 0..units])
        .reshape([batch, units])
}

/// The module of a recurrent layer taking `features` per step.
pub(super) fn build<B: Backend>(
    l: &layers::Recurrent,
    features: usize,
    device: &B::Device,
) -> RuntimeLayer<B> {
    let activations = [l.activation, l.recurrent_activation];
    match l.cell {
        Cell::SimpleRnn => RuntimeLayer::SimpleRnn(simple_rnn(
            features,
            l.units,
            l.activation,
            l.use_bias,
            device,
        )),
        Cell::Gru => RuntimeLayer::Gru(gru(
            features,
            l.units,
            activations,
            l.use_bias,
            l.reset_after,
            device,
        )),
        Cell::Lstm => RuntimeLayer::Lstm(lstm(
            features,
            l.units,
            activations,
            l.use_bias,
            l.unit_forget_bias,
            device,
        )),
    }
}

/// A recurrent layer's output (the whole sequence or its last state, as `layer` asks) and
/// its final states, run by `module`.
fn with_states<B: Backend, R: Recurrent<B>>(
    layer: &layers::Recurrent,
    module: &R,
    t: DynTensor<B>,
) -> (DynTensor<B>, Vec<Tensor<B, 2>>) {
    let (x, back) = (t.get(), layer.go_backwards);
    if layer.return_sequences {
        let (y, states) = recurrent_with_states::<B, R, 3>(module, x, back);
        (DynTensor::R3(y), R::state_list(states))
    } else {
        let (y, states) = recurrent_with_states::<B, R, 2>(module, x, back);
        (DynTensor::R2(y), R::state_list(states))
    }
}

/// A recurrent layer's output and final states, as a runtime model takes them (the states
/// that `return_state` names).
fn run_recurrent<B: Backend>(
    layer: &layers::Recurrent,
    module: Option<&RuntimeLayer<B>>,
    t: DynTensor<B>,
) -> (DynTensor<B>, Vec<Tensor<B, 2>>) {
    match module {
        Some(RuntimeLayer::SimpleRnn(m)) => with_states(layer, m, t),
        Some(RuntimeLayer::Gru(m)) => with_states(layer, m, t),
        Some(RuntimeLayer::Lstm(m)) => with_states(layer, m, t),
        _ => (t, Vec::new()),
    }
}

/// The three kinds share one configuration, whose cell says which they are.
macro_rules! recurrent_kinds {
    ($($kind:ident),*) => {$(
        impl<B: Backend> Run<B> for kinds::$kind {
            fn build(
                l: &layers::Recurrent,
                input: &Shape,
                _more: &[Shape],
                device: &B::Device,
            ) -> Option<RuntimeLayer<B>> {
                Some(build(l, size(input, input.rank().saturating_sub(1)), device))
            }

            fn step(
                l: &layers::Recurrent,
                module: Option<&RuntimeLayer<B>>,
                t: DynTensor<B>,
                _: bool,
            ) -> DynTensor<B> {
                run_recurrent(l, module, t).0
            }

            fn step_with(
                l: &layers::Recurrent,
                module: Option<&RuntimeLayer<B>>,
                t: DynTensor<B>,
                _: Vec<DynTensor<B>>,
                _: bool,
            ) -> Stepped<B> {
                run_recurrent(l, module, t)
            }
        }
    )*};
}

recurrent_kinds!(SimpleRNN, GRU, LSTM);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend as T, assert_close, floats};
    use burn::module::{Module, Param};

    /// Sets a block's weights (tests): input kernel, recurrent kernel, input and recurrent bias.
    fn set<B: Backend>(
        gate: &mut GateController<B>,
        w: f32,
        u: f32,
        b: Option<f32>,
        rb: Option<f32>,
    ) {
        let device = gate.input_transform.weight.device();
        let scalar = |v: f32, n: usize| Tensor::<B, 1>::full([n], v, &device);
        let [features, units] = gate.input_transform.weight.dims();
        gate.input_transform.weight =
            Param::from_tensor(Tensor::full([features, units], w, &device));
        gate.hidden_transform.weight = Param::from_tensor(Tensor::full([units, units], u, &device));
        gate.input_transform.bias = b.map(|v| Param::from_tensor(scalar(v, units)));
        gate.hidden_transform.bias = rb.map(|v| Param::from_tensor(scalar(v, units)));
    }

    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    /// One example of two steps with one feature: 1, then -2.
    fn input() -> Tensor<T, 3> {
        Tensor::from_floats([[[1.0], [-2.0]]], &Default::default())
    }

    #[test]
    fn parameter_counts_are_keras_s() {
        let device = Default::default();
        let [t, s] = [Activation::Tanh, Activation::Sigmoid];
        let count = |n: usize, want: usize| assert_eq!(n, want);
        count(
            lstm::<T>(16, 32, [t, s], true, true, &device).num_params(),
            6_272,
        );
        count(
            gru::<T>(16, 32, [t, s], true, true, &device).num_params(),
            4_800,
        );
        count(
            gru::<T>(16, 32, [t, s], true, false, &device).num_params(),
            4_704,
        );
        count(
            simple_rnn::<T>(16, 32, t, true, &device).num_params(),
            1_568,
        );
        count(
            lstm::<T>(16, 32, [t, s], false, true, &device).num_params(),
            6_144,
        );
    }

    #[test]
    fn an_lstm_step_is_keras_s_equations() {
        let device = Default::default();
        let mut l = lstm::<T>(
            1,
            1,
            [Activation::Tanh, Activation::Sigmoid],
            true,
            true,
            &device,
        );
        // input, forget, cell, output gates: W, U, b.
        set(&mut l.input_gate, 0.5, 0.1, Some(0.0), None);
        set(&mut l.forget_gate, -0.3, 0.2, Some(1.0), None);
        set(&mut l.cell_gate, 0.8, -0.4, Some(0.1), None);
        set(&mut l.output_gate, 0.2, 0.3, Some(-0.1), None);
        let (mut h, mut c) = (0.0f32, 0.0f32);
        let mut want = Vec::new();
        for x in [1.0f32, -2.0] {
            let i = sigmoid(0.5 * x + 0.1 * h);
            let f = sigmoid(-0.3 * x + 0.2 * h + 1.0);
            let g = (0.8 * x - 0.4 * h + 0.1).tanh();
            let o = sigmoid(0.2 * x + 0.3 * h - 0.1);
            c = f * c + i * g;
            h = o * c.tanh();
            want.push(h);
        }
        assert_close(
            &floats(recurrent_sequence(&l, input(), false)),
            &want,
            1e-6,
            "h",
        );
        assert_close(
            &floats(recurrent_last(&l, input(), false)),
            &want[1..],
            1e-6,
            "last",
        );
    }

    #[test]
    fn a_gru_step_is_keras_s_reset_after_equations() {
        let device = Default::default();
        let mut g = gru::<T>(
            1,
            1,
            [Activation::Tanh, Activation::Sigmoid],
            true,
            true,
            &device,
        );
        set(&mut g.update_gate, 0.4, 0.3, Some(0.1), Some(-0.2));
        set(&mut g.reset_gate, -0.5, 0.6, Some(0.0), Some(0.3));
        set(&mut g.new_gate, 0.9, -0.7, Some(0.2), Some(0.5));
        let mut h = 0.0f32;
        let mut want = Vec::new();
        for x in [1.0f32, -2.0] {
            let z = sigmoid(0.4 * x + 0.1 + 0.3 * h - 0.2);
            let r = sigmoid(-0.5 * x + 0.6 * h + 0.3);
            let n = (0.9 * x + 0.2 + r * (-0.7 * h + 0.5)).tanh();
            h = z * h + (1.0 - z) * n;
            want.push(h);
        }
        assert_close(
            &floats(recurrent_sequence(&g, input(), false)),
            &want,
            1e-6,
            "h",
        );
    }

    #[test]
    fn go_backwards_reads_from_the_end() {
        let device = Default::default();
        let mut r = simple_rnn::<T>(1, 1, Activation::Tanh, true, &device);
        set(&mut r.gate, 0.5, 0.5, Some(0.0), None);
        let first = (0.5f32 * -2.0).tanh();
        let second = (0.5 * 1.0 + 0.5 * first).tanh();
        assert_close(
            &floats(recurrent_sequence(&r, input(), true)),
            &[first, second],
            1e-6,
            "backwards",
        );
    }
}
