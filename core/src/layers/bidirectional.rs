//! Bidirectional: a recurrent layer and its copy reading the sequence from the end, their
//! outputs merged, as Keras runs them.

use std::marker::PhantomData;

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::{Shape, kinds, layers};

use super::recurrent::{Recurrent, build, output_of};
use super::{Merge, Run, RuntimeLayer, Stepped, merge, size};
use crate::dyn_tensor::DynTensor;

/// The two layers of a Bidirectional: `forward` reads the sequence from its start,
/// `backward` from its end; each has weights of its own.
#[derive(Module, Debug)]
pub struct Bidirectional<B: Backend, R> {
    /// Reads the sequence from its start.
    pub forward: R,
    /// Reads the sequence from its end.
    pub backward: R,
    backend: PhantomData<B>,
}

/// The Bidirectional of `forward` and `backward`, two layers of one configuration.
pub fn bidirectional<B: Backend, R>(forward: R, backward: R) -> Bidirectional<B, R> {
    Bidirectional {
        forward,
        backward,
        backend: PhantomData,
    }
}

/// Keras's Bidirectional on `x`: the two readings' outputs of rank `D` (every step, `D =
/// 3`, the backward one's put back in the sequence's order; or each one's last, `D = 2`)
/// joined by `merge`, and the forward then the backward layer's final states.
pub fn bidirectional_with_states<B: Backend, R: Recurrent<B>, const D: usize>(
    layer: &Bidirectional<B, R>,
    x: Tensor<B, 3>,
    merge_op: Merge,
) -> (Tensor<B, D>, R::States, R::States) {
    let (steps, forward) = layer.forward.run(x.clone());
    let (reversed, backward) = layer.backward.run(x.flip([1]));
    let back = if D == 3 { reversed.flip([1]) } else { reversed };
    let y = merge(merge_op, output_of(steps), vec![output_of(back)]);
    (y, forward, backward)
}

/// A Bidirectional's output and its final states (those `return_state` names), in a
/// runtime model.
fn with_states<B: Backend, R: Recurrent<B>>(
    l: &layers::Bidirectional,
    module: &Bidirectional<B, R>,
    t: DynTensor<B>,
) -> (DynTensor<B>, Vec<Tensor<B, 2>>) {
    let x = t.get();
    let (y, forward, backward) = if l.layer.return_sequences {
        let (y, f, b) = bidirectional_with_states::<B, R, 3>(module, x, l.merge_mode.op(2));
        (DynTensor::R3(y), f, b)
    } else {
        let (y, f, b) = bidirectional_with_states::<B, R, 2>(module, x, l.merge_mode.op(1));
        (DynTensor::R2(y), f, b)
    };
    let mut states = R::state_list(forward);
    states.extend(R::state_list(backward));
    (y, states)
}

/// A Bidirectional's output and final states, as a runtime model takes them.
fn run_bidirectional<B: Backend>(
    l: &layers::Bidirectional,
    module: Option<&RuntimeLayer<B>>,
    t: DynTensor<B>,
) -> (DynTensor<B>, Vec<Tensor<B, 2>>) {
    match module {
        Some(RuntimeLayer::BidirectionalSimpleRnn(m)) => with_states(l, m, t),
        Some(RuntimeLayer::BidirectionalGru(m)) => with_states(l, m, t),
        Some(RuntimeLayer::BidirectionalLstm(m)) => with_states(l, m, t),
        _ => (t, Vec::new()),
    }
}

impl<B: Backend> Run<B> for kinds::Bidirectional {
    fn build(
        l: &layers::Bidirectional,
        input: &Shape,
        _more: &[Shape],
        device: &B::Device,
    ) -> Option<RuntimeLayer<B>> {
        let features = size(input, input.rank().saturating_sub(1));
        let one = || build::<B>(&l.layer, features, device);
        match (one(), one()) {
            (RuntimeLayer::SimpleRnn(f), RuntimeLayer::SimpleRnn(b)) => {
                Some(RuntimeLayer::BidirectionalSimpleRnn(bidirectional(f, b)))
            }
            (RuntimeLayer::Gru(f), RuntimeLayer::Gru(b)) => {
                Some(RuntimeLayer::BidirectionalGru(bidirectional(f, b)))
            }
            (RuntimeLayer::Lstm(f), RuntimeLayer::Lstm(b)) => {
                Some(RuntimeLayer::BidirectionalLstm(bidirectional(f, b)))
            }
            // `build` makes the module of the layer's one cell, twice.
            _ => None,
        }
    }

    fn step(
        l: &layers::Bidirectional,
        module: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        run_bidirectional(l, module, t).0
    }

    fn step_with(
        l: &layers::Bidirectional,
        module: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: Vec<DynTensor<B>>,
        _: bool,
    ) -> Stepped<B> {
        run_bidirectional(l, module, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::simple_rnn;
    use crate::testing::{TestBackend as T, assert_close, floats};
    use burn::module::Param;
    use burn::nn::Rnn;
    use kiln_spec::Activation;

    /// A SimpleRNN of one unit on one feature: `h = tanh(w·x + u·h)`.
    fn rnn(w: f32, u: f32) -> Rnn<T> {
        let device = Default::default();
        let mut r = simple_rnn::<T>(1, 1, Activation::Tanh, false, &device);
        r.gate.input_transform.weight = Param::from_tensor(Tensor::full([1, 1], w, &device));
        r.gate.hidden_transform.weight = Param::from_tensor(Tensor::full([1, 1], u, &device));
        r
    }

    /// Every state of `h = tanh(w·x + u·h)` over `xs`, from 0.
    fn states(w: f32, u: f32, xs: &[f32]) -> Vec<f32> {
        let mut h = 0.0f32;
        xs.iter()
            .map(|x| {
                h = (w * x + u * h).tanh();
                h
            })
            .collect()
    }

    #[test]
    fn reads_both_ways_and_merges_as_keras() {
        let both = bidirectional(rnn(0.5, 0.3), rnn(-0.7, 0.2));
        let x = Tensor::<T, 3>::from_floats([[[1.0], [-2.0], [0.5]]], &Default::default());
        let forward = states(0.5, 0.3, &[1.0, -2.0, 0.5]);
        // The backward layer reads 0.5, -2, 1; its states are put back in the sequence's
        // order for every step, and its last is the state after the first element.
        let mut backward = states(-0.7, 0.2, &[0.5, -2.0, 1.0]);
        let last = [forward[2], backward[2]];
        backward.reverse();
        let concat: Vec<f32> = (0..3).flat_map(|t| [forward[t], backward[t]]).collect();
        let (y, f, b) =
            bidirectional_with_states::<T, _, 3>(&both, x.clone(), Merge::Concatenate { dim: 2 });
        assert_eq!(y.dims(), [1, 3, 2]);
        assert_close(&floats(y), &concat, 1e-6, "concat");
        assert_close(&floats(f.0), &last[..1], 1e-6, "forward state");
        assert_close(&floats(b.0), &last[1..], 1e-6, "backward state");
        let sum: Vec<f32> = (0..3).map(|t| forward[t] + backward[t]).collect();
        let (y, ..) = bidirectional_with_states::<T, _, 3>(&both, x.clone(), Merge::Add);
        assert_close(&floats(y), &sum, 1e-6, "sum");
        let (y, ..) = bidirectional_with_states::<T, _, 2>(&both, x.clone(), Merge::Multiply);
        assert_close(&floats(y), &[last[0] * last[1]], 1e-6, "mul of the last");
        let (y, ..) = bidirectional_with_states::<T, _, 2>(&both, x, Merge::Average);
        assert_close(&floats(y), &[(last[0] + last[1]) / 2.0], 1e-6, "ave");
    }
}
