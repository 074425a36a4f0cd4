//! The execution plan of a checked model: the tensors each layer takes, in order, and
//! whether a use is the tensor's last (it can be moved) or not (it is copied). `model!`'s
//! expansion prints it as code and runtime models follow it, so both take the same
//! tensors the same way.

use crate::activation::Activation;
use crate::model::{ModelSpec, NamedShape};
use crate::regularizer::Regularizer;

/// One use of a named tensor: an input, a layer's output, or a layer's state `lstm[1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    /// The tensor's name.
    pub name: String,
    /// Whether nothing after this use takes the tensor.
    pub last: bool,
}

/// The plan: for each layer, in order, the tensors it takes; then the model's outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Layer `i`'s inputs: its inbound names, or in a Sequential model the layer before it
    /// (the input for the first).
    pub steps: Vec<Vec<Use>>,
    /// The tensors the model gives, in order.
    pub outputs: Vec<Use>,
}

/// What follows a layer's step in a forward pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epilogue {
    /// The activation applied to the step's output now (`Linear`: none).
    pub now: Activation,
    /// The activation left for the end of the pass: the logits layer's, which a model's
    /// own forward applies last (the training forward gives it to the loss instead).
    pub pending: Activation,
    /// The activity regularizer, on the output with both activations applied.
    pub activity: Option<Regularizer>,
}

impl ModelSpec {
    /// Layer `i`'s epilogue; `split` when the pass leaves the logits layer's activation
    /// for its end (a model's own forward pass, not a nested model's).
    pub fn epilogue(&self, i: usize, split: bool) -> Epilogue {
        let layer = &self.layers[i].layer;
        let activation = layer.activation().unwrap_or(Activation::Linear);
        let (now, pending) = if split && self.logits_layer() == Some(i) {
            (Activation::Linear, activation)
        } else {
            (activation, Activation::Linear)
        };
        Epilogue {
            now,
            pending,
            activity: layer.activity(),
        }
    }

    /// The plan of this model, whose check found these outputs: [`Checked::plan`].
    pub(crate) fn plan(&self, outputs: &[NamedShape]) -> Plan {
        let names: Vec<Vec<&str>> = (0..self.layers.len()).map(|i| self.inbound(i)).collect();
        let outputs: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
        // Walk the uses backwards: the first one met is each tensor's last.
        let mut seen = std::collections::HashSet::new();
        let mut mark = |name: &str| Use {
            name: name.to_string(),
            last: seen.insert(name.to_string()),
        };
        let outputs: Vec<Use> = outputs.iter().rev().map(|n| mark(n)).collect();
        let steps: Vec<Vec<Use>> = names
            .iter()
            .rev()
            .map(|uses| {
                let mut uses: Vec<Use> = uses.iter().rev().map(|n| mark(n)).collect();
                uses.reverse();
                uses
            })
            .collect();
        Plan {
            steps: steps.into_iter().rev().collect(),
            outputs: outputs.into_iter().rev().collect(),
        }
    }

    /// The names of the tensors layer `i` takes: its inbound names, or in a Sequential
    /// model the layer before it (the input for the first).
    fn inbound(&self, i: usize) -> Vec<&str> {
        if self.is_functional() {
            return self.layers[i].inbound.iter().map(String::as_str).collect();
        }
        vec![match i.checked_sub(1) {
            Some(p) => &self.layers[p].name,
            None => &self.inputs[0].name,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::*;

    fn uses(items: &[(&str, bool)]) -> Vec<Use> {
        items
            .iter()
            .map(|&(name, last)| Use {
                name: name.into(),
                last,
            })
            .collect()
    }

    #[test]
    fn the_logits_layer_leaves_its_activation_for_the_end() {
        let chain = ModelSpec::sequential(
            "Chain",
            s(&[Some(3)]),
            vec![
                layer(
                    "Dense",
                    &[i(2)],
                    &[
                        ("activation", n("relu")),
                        (
                            "activity_regularizer",
                            crate::Value::Call(crate::Call::bare("l2").arg(0.5)),
                        ),
                    ],
                ),
                layer("Dense", &[i(2)], &[("activation", n("softmax"))]),
            ],
        );
        let relu = chain.epilogue(0, true);
        assert_eq!(
            (relu.now, relu.pending),
            (Activation::Relu, Activation::Linear)
        );
        assert!(relu.activity.is_some());
        let logits = chain.epilogue(1, true);
        assert_eq!(
            (logits.now, logits.pending),
            (Activation::Linear, Activation::Softmax)
        );
        // Inside a model used as a layer nothing waits: its forward ends activated.
        let nested = chain.epilogue(1, false);
        assert_eq!(
            (nested.now, nested.pending),
            (Activation::Softmax, Activation::Linear)
        );
    }

    #[test]
    fn a_tensor_is_moved_at_its_last_use_only() {
        // x → dense → (dense, act) → add; add and dense are outputs.
        let json = r#"{"name": "Skip", "inputs": [{"name": "x", "shape": [4]}],
            "layers": [
                {"name": "dense", "class_name": "Dense", "config": {"units": 4, "activation": "linear", "use_bias": true}, "inbound": ["x"]},
                {"name": "act", "class_name": "Activation", "config": {"activation": "relu"}, "inbound": ["dense"]},
                {"name": "add", "class_name": "Add", "config": {}, "inbound": ["dense", "act"]}
            ],
            "outputs": ["add", "dense"]}"#;
        let spec = ModelSpec::from_json(json).unwrap();
        let plan = spec.check().unwrap().plan;
        assert_eq!(
            plan.steps,
            [
                uses(&[("x", true)]),
                uses(&[("dense", false)]),
                uses(&[("dense", false), ("act", true)]),
            ]
        );
        assert_eq!(plan.outputs, uses(&[("add", true), ("dense", true)]));
        // A Sequential model is a chain, every tensor moved.
        let chain = ModelSpec::sequential(
            "Chain",
            s(&[Some(3)]),
            vec![layer("Dense", &[i(2)], &[]), layer("Dense", &[i(1)], &[])],
        );
        let plan = chain.check().unwrap().plan;
        assert_eq!(
            plan.steps,
            [uses(&[("input", true)]), uses(&[("dense", true)])]
        );
        assert_eq!(plan.outputs, uses(&[("dense_1", true)]));
    }
}
