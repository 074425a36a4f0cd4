//! `Model(FeatureExtractor)`: a whole model used as one layer of another.

use serde::{Deserialize, Serialize};

use crate::args::{ArgError, At, Call};
use crate::model::ModelSpec;
use crate::rule::{Input, Params, Rule};
use crate::shape::{Shape, shapes_fit};

/// A model with one input and one output, used as a layer; its JSON form is the nested
/// model's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nested(pub Box<ModelSpec>);

impl Nested {
    /// Only `model!` knows the model a name stands for: it resolves `Model(X)` itself.
    pub(crate) fn from_call(_call: &Call) -> Result<Self, Vec<ArgError>> {
        Err(vec![ArgError::new(
            At::Layer,
            "Model(X) takes a model declared with model!, which only model! can resolve; build the model and use its spec",
        )])
    }

    /// The nested model's input and output shapes, or why it cannot be a layer.
    fn shapes(&self) -> Result<(Shape, Shape), String> {
        let checked = self
            .0
            .check()
            .map_err(|e| format!("the model {} does not fit: {e}", self.0.name))?;
        if checked.inputs.len() != 1 || checked.outputs.len() != 1 {
            return Err(format!(
                "Model({}) has {} inputs and {} outputs; a model used as a layer has one of each",
                self.0.name,
                checked.inputs.len(),
                checked.outputs.len()
            ));
        }
        Ok((checked.input().clone(), checked.output().clone()))
    }
}

impl Rule for Nested {
    fn output(&self, layer: &str, input: &Input) -> Result<Shape, String> {
        let (takes, gives) = self.shapes()?;
        if !shapes_fit(takes.dims(), input.shape.dims()) {
            return Err(format!(
                "{layer}({}) takes {takes}, got {}; make the layers before it give {takes}",
                self.0.name,
                input.describe()
            ));
        }
        // Given sizes it left open, its layers are checked again at them (so a model's
        // `check_sizes` reaches inside), and its output is theirs.
        if let (Some(dims), None) = (input.shape.all_known(), takes.all_known()) {
            let checked = self.0.at_sizes(&[dims]).check().map_err(|e| {
                format!(
                    "{layer}({}) does not fit {}: {e}",
                    self.0.name,
                    input.describe()
                )
            })?;
            return Ok(checked.output().clone());
        }
        Ok(gives)
    }

    fn params(&self, _input: &Shape) -> Params {
        self.0.check().map(|c| c.params()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Layer;
    use crate::layers::testing::*;

    fn extractor() -> Layer {
        Layer::Model(Nested(Box::new(ModelSpec::sequential(
            "FeatureExtractor",
            s(&[Some(1), Some(28), Some(28)]),
            vec![
                layer("Conv2D", &[i(8), i(3)], &[]),
                layer("GlobalAveragePooling2D", &[], &[]),
            ],
        ))))
    }

    #[test]
    fn a_nested_model_is_one_layer() {
        let l = extractor();
        let input = s(&[Some(1), Some(28), Some(28)]);
        assert_eq!(out(&l, &input, "the input"), Ok(s(&[Some(8)])));
        assert_eq!(l.params(&input), Params::trainable(80));
        assert_eq!(l.keras_name(), "feature_extractor");
        assert_eq!(
            out(&l, &s(&[Some(3), Some(32), Some(32)]), "the input"),
            Err("Model(FeatureExtractor) takes [1, 28, 28], got [3, 32, 32] from the input; make the layers before it give [1, 28, 28]".into())
        );
    }

    #[test]
    fn sizes_it_leaves_open_are_checked_at_its_input_s() {
        let steps = Layer::Model(Nested(Box::new(ModelSpec::sequential(
            "Steps",
            s(&[None, Some(4)]),
            vec![layer("Conv1D", &[i(8), i(5)], &[])],
        ))));
        assert_eq!(
            out(&steps, &s(&[None, Some(4)]), "the input"),
            Ok(s(&[None, Some(8)]))
        );
        assert_eq!(
            out(&steps, &s(&[Some(9), Some(4)]), "the input"),
            Ok(s(&[Some(5), Some(8)]))
        );
        let short = out(&steps, &s(&[Some(3), Some(4)]), "the input").unwrap_err();
        assert!(
            short.starts_with("Model(Steps) does not fit [3, 4] from the input: Conv1D"),
            "{short}"
        );
    }

    #[test]
    fn only_model_resolves_a_name() {
        let err = Layer::from_call(&call("Model", &[n("FeatureExtractor")], &[])).unwrap_err();
        assert!(
            err[0]
                .message
                .starts_with("Model(X) takes a model declared with model!")
        );
    }
}
