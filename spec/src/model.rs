//! A whole Sequential model: its input, its named layers, the check of every shape, the
//! Keras summary and the JSON form.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::layer::{Input, Layer, Params};
use crate::shape::{Dim, Shape};

/// A model as declared: a name, the shape of one input example and its layers in order.
///
/// ```
/// use kiln_spec::{Call, Layer, ModelSpec, Shape, Value, Arg};
/// let dense = |units| Layer::from_call(&Call {
///     name: "Dense".into(),
///     args: vec![Arg { keyword: None, value: Value::Int(units) }],
/// }).unwrap();
/// let model = ModelSpec::sequential("Tiny", Shape::known([4]), vec![dense(8), dense(2)]);
/// let checked = model.check().unwrap();
/// assert_eq!(checked.output, Shape::known([2]));
/// assert_eq!(checked.params().total(), 4 * 8 + 8 + 8 * 2 + 2);
/// assert_eq!(ModelSpec::from_json(&model.to_json()).unwrap(), model);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The model's name (the Rust type's name for a `model!`).
    pub name: String,
    /// The shape of one input example.
    pub input: Shape,
    /// The layers, applied in order.
    pub layers: Vec<NamedLayer>,
}

/// A layer with its name in the model (`conv2d_1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedLayer {
    /// Unique in its model; Keras's default naming.
    pub name: String,
    /// The layer.
    #[serde(flatten)]
    pub layer: Layer,
}

/// A layer that passed the check, with what the summary shows of it.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo {
    /// The layer's name.
    pub name: String,
    /// The layer's Keras class name.
    pub class_name: &'static str,
    /// The shape it takes.
    pub input: Shape,
    /// The shape it gives.
    pub output: Shape,
    /// Its weights.
    pub params: Params,
}

/// A model whose every shape fits.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// The model's name.
    pub name: String,
    /// Each layer, in order.
    pub layers: Vec<LayerInfo>,
    /// The shape of one input example.
    pub input: Shape,
    /// The shape of one output example.
    pub output: Shape,
}

impl Checked {
    /// The parameter counts of the whole model.
    pub fn params(&self) -> Params {
        self.layers
            .iter()
            .map(|l| l.params)
            .fold(Params::default(), |a, b| a + b)
    }
}

/// The first layer whose input does not fit, or an input shape that cannot be.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct CheckError {
    /// The index of the layer at fault; `None` for the input shape itself.
    pub layer: Option<usize>,
    /// Names what was got, what was needed and the fix.
    pub message: String,
}

/// Why a model could not be read from JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not the JSON form of a model.
    #[error("not a kiln model: {0}")]
    Syntax(#[from] serde_json::Error),
    /// Well-formed, but its shapes do not fit.
    #[error("the model in this JSON does not fit: {0}")]
    Check(#[from] CheckError),
    /// Two layers share a name.
    #[error("two layers are named `{0}`; layer names must be unique")]
    DuplicateName(String),
}

impl ModelSpec {
    /// A Sequential model whose layers get Keras's default names (`dense`, `dense_1`, ...).
    pub fn sequential(name: impl Into<String>, input: Shape, layers: Vec<Layer>) -> Self {
        let mut seen: Vec<String> = Vec::new();
        let layers = layers
            .into_iter()
            .map(|layer| {
                let base = layer.keras_name();
                let count = seen.iter().filter(|n| **n == base).count();
                seen.push(base.clone());
                let name = if count == 0 {
                    base
                } else {
                    format!("{base}_{count}")
                };
                NamedLayer { name, layer }
            })
            .collect();
        ModelSpec {
            name: name.into(),
            input,
            layers,
        }
    }

    /// A Sequential model from layer calls written at run time, each read with the same
    /// rules as in `model!`:
    ///
    /// ```
    /// use kiln_spec::{Call, ModelSpec, Shape};
    /// let layers = [
    ///     Call::bare("Dense").arg(64).kw("activation", "relu"),
    ///     Call::bare("Dense").arg(10).kw("activation", "softmax"),
    /// ];
    /// let spec = ModelSpec::from_calls("Mlp", Shape::known([784]), &layers).unwrap();
    /// assert_eq!(spec.check().unwrap().params().total(), 784 * 64 + 64 + 64 * 10 + 10);
    /// let err = ModelSpec::from_calls("Bad", Shape::known([784]), &[Call::bare("Dense")]).unwrap_err();
    /// assert_eq!(err.to_string(), "layer 1: Dense needs `units` (the number of outputs, e.g. Dense(128)); add it");
    /// ```
    ///
    /// # Errors
    /// [`CheckError`] for the first layer whose arguments or input shape do not fit.
    pub fn from_calls(
        name: impl Into<String>,
        input: Shape,
        calls: &[crate::Call],
    ) -> Result<ModelSpec, CheckError> {
        let layers = calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                Layer::from_call(call).map_err(|errors| CheckError {
                    layer: Some(i),
                    message: format!(
                        "layer {}: {}",
                        i + 1,
                        errors
                            .into_iter()
                            .map(|e| e.message)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let spec = ModelSpec::sequential(name, input, layers);
        spec.check()?;
        Ok(spec)
    }

    /// Checks every layer's input shape in order, stopping at the first that does not
    /// fit (the shapes after it are unknown).
    pub fn check(&self) -> Result<Checked, CheckError> {
        check_input(&self.input)?;
        let mut shape = self.input.clone();
        let mut from = "the input";
        let mut layers = Vec::with_capacity(self.layers.len());
        for (i, named) in self.layers.iter().enumerate() {
            let output = named
                .layer
                .output(&Input {
                    shape: &shape,
                    from,
                })
                .map_err(|message| CheckError {
                    layer: Some(i),
                    message,
                })?;
            layers.push(LayerInfo {
                name: named.name.clone(),
                class_name: named.layer.class_name(),
                params: named.layer.params(&shape),
                input: std::mem::replace(&mut shape, output.clone()),
                output,
            });
            from = named.layer.class_name();
        }
        Ok(Checked {
            name: self.name.clone(),
            layers,
            input: self.input.clone(),
            output: shape,
        })
    }

    /// The activation the model ends with: that of its last layer when it has one
    /// (softmax for a classifier), else linear. Losses use it to work on logits.
    pub fn final_activation(&self) -> Activation {
        self.layers
            .last()
            .and_then(|l| l.layer.activation())
            .unwrap_or(Activation::Linear)
    }

    /// The JSON form, Keras-like: `{"name", "input", "layers": [{"name", "class_name", "config"}]}`.
    pub fn to_json(&self) -> String {
        // Serializing plain data to a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads the JSON form and checks it with the same rules as `model!`.
    ///
    /// # Errors
    /// [`JsonError`] when the text is not a model, or its shapes do not fit.
    pub fn from_json(json: &str) -> Result<ModelSpec, JsonError> {
        let spec: ModelSpec = serde_json::from_str(json)?;
        for (i, l) in spec.layers.iter().enumerate() {
            if spec.layers[..i].iter().any(|o| o.name == l.name) {
                return Err(JsonError::DuplicateName(l.name.clone()));
            }
        }
        spec.check()?;
        Ok(spec)
    }

    /// Keras's `model.summary()` table.
    ///
    /// # Errors
    /// [`CheckError`] when the shapes do not fit (never for a model made by `model!`).
    pub fn summary(&self) -> Result<Summary, CheckError> {
        self.check().map(Summary)
    }
}

fn check_input(input: &Shape) -> Result<(), CheckError> {
    let error = |message: String| {
        Err(CheckError {
            layer: None,
            message,
        })
    };
    if input.rank() == 0 {
        return error("the input needs at least one dimension, e.g. input: [784]".into());
    }
    if input.dims().contains(&Dim::Known(0)) {
        return error(format!(
            "the input shape {input} has a zero dimension; every size must be positive"
        ));
    }
    Ok(())
}

/// Keras's summary table of a checked model; print it with `{}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary(pub Checked);

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checked = &self.0;
        let rows: Vec<[String; 3]> = checked
            .layers
            .iter()
            .map(|l| {
                [
                    format!("{} ({})", l.name, l.class_name),
                    l.output.keras(),
                    thousands(l.params.total()),
                ]
            })
            .collect();
        let head = ["Layer (type)", "Output Shape", "Param #"];
        let width = |col: usize| {
            rows.iter()
                .map(|r| r[col].chars().count())
                .chain([head[col].len()])
                .max()
                .unwrap_or(0)
                + 4
        };
        let (w0, w1, w2) = (width(0), width(1), width(2));
        let line = |c: char| c.to_string().repeat(w0 + w1 + w2 + 1);
        writeln!(f, "Model: \"{}\"", checked.name)?;
        writeln!(f, "{}", line('_'))?;
        writeln!(f, " {:<w0$}{:<w1$}{:>w2$}", head[0], head[1], head[2])?;
        writeln!(f, "{}", line('='))?;
        for (i, [name, shape, params]) in rows.iter().enumerate() {
            writeln!(f, " {name:<w0$}{shape:<w1$}{params:>w2$}")?;
            if i + 1 < rows.len() {
                writeln!(f)?;
            }
        }
        writeln!(f, "{}", line('='))?;
        let p = checked.params();
        writeln!(f, "Total params: {}", thousands(p.total()))?;
        writeln!(f, "Trainable params: {}", thousands(p.trainable))?;
        writeln!(f, "Non-trainable params: {}", thousands(p.non_trainable))?;
        write!(f, "{}", line('_'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::*;

    /// The seed's MLP: 784 → Dense 128 relu → Dropout → Dense 128 relu → Dropout → Dense 10 softmax.
    fn mlp() -> ModelSpec {
        ModelSpec::sequential(
            "Mlp",
            s(&[Some(784)]),
            vec![
                layer("Dense", &[i(128)], &[("activation", n("relu"))]),
                layer("Dropout", &[f(0.2)], &[]),
                layer("Dense", &[i(128)], &[("activation", n("relu"))]),
                layer("Dropout", &[f(0.2)], &[]),
                layer("Dense", &[i(10)], &[("activation", n("softmax"))]),
            ],
        )
    }

    /// Keras's mnist_convnet example.
    fn convnet() -> ModelSpec {
        ModelSpec::sequential(
            "MnistConvnet",
            s(&[Some(1), Some(28), Some(28)]),
            vec![
                layer("Conv2D", &[i(32), i(3)], &[("activation", n("relu"))]),
                layer("MaxPooling2D", &[i(2)], &[]),
                layer("Conv2D", &[i(64), i(3)], &[("activation", n("relu"))]),
                layer("MaxPooling2D", &[i(2)], &[]),
                layer("Flatten", &[], &[]),
                layer("Dropout", &[f(0.5)], &[]),
                layer("Dense", &[i(10)], &[("activation", n("softmax"))]),
            ],
        )
    }

    #[test]
    fn parameter_totals_match_keras() {
        // Totals printed by Keras's model.summary() for the same models.
        assert_eq!(mlp().check().unwrap().params(), Params::trainable(118_282));
        assert_eq!(
            convnet().check().unwrap().params(),
            Params::trainable(34_826)
        );
    }

    #[test]
    fn names_follow_keras() {
        let names: Vec<String> = convnet().layers.into_iter().map(|l| l.name).collect();
        assert_eq!(
            names,
            [
                "conv2d",
                "max_pooling2d",
                "conv2d_1",
                "max_pooling2d_1",
                "flatten",
                "dropout",
                "dense"
            ]
        );
    }

    #[test]
    fn summary_is_keras_table() {
        let want = r#"Model: "MnistConvnet"
____________________________________________________________________
 Layer (type)                      Output Shape              Param #
====================================================================
 conv2d (Conv2D)                   (None, 32, 26, 26)            320

 max_pooling2d (MaxPooling2D)      (None, 32, 13, 13)              0

 conv2d_1 (Conv2D)                 (None, 64, 11, 11)         18,496

 max_pooling2d_1 (MaxPooling2D)    (None, 64, 5, 5)                0

 flatten (Flatten)                 (None, 1600)                    0

 dropout (Dropout)                 (None, 1600)                    0

 dense (Dense)                     (None, 10)                 16,010
====================================================================
Total params: 34,826
Trainable params: 34,826
Non-trainable params: 0
____________________________________________________________________"#;
        assert_eq!(convnet().summary().unwrap().to_string(), want);
    }

    #[test]
    fn the_check_names_the_layer_at_fault() {
        let mut bad = convnet();
        bad.layers.remove(4); // Flatten
        let err = bad.check().unwrap_err();
        assert_eq!(err.layer, Some(5));
        assert_eq!(
            err.message,
            "Dense expects a 1-D input [features], got [64, 5, 5] from Dropout; add Flatten before it"
        );
    }

    #[test]
    fn refuses_impossible_inputs() {
        let cases = [
            (
                s(&[]),
                "the input needs at least one dimension, e.g. input: [784]",
            ),
            (
                s(&[Some(0), Some(3)]),
                "the input shape [0, 3] has a zero dimension; every size must be positive",
            ),
        ];
        for (input, want) in cases {
            let m = ModelSpec::sequential("M", input, vec![]);
            assert_eq!(
                m.check(),
                Err(CheckError {
                    layer: None,
                    message: want.into()
                })
            );
        }
    }

    #[test]
    fn final_activation_is_the_last_layers() {
        assert_eq!(mlp().final_activation(), Activation::Softmax);
        let mut m = mlp();
        m.layers.push(NamedLayer {
            name: "flatten".into(),
            layer: layer("Flatten", &[], &[]),
        });
        assert_eq!(m.final_activation(), Activation::Linear);
    }

    #[test]
    fn json_round_trips_exactly() {
        let mut m = convnet();
        m.layers.insert(
            0,
            NamedLayer {
                name: "batch_normalization".into(),
                layer: layer("BatchNormalization", &[], &[("momentum", f(0.9))]),
            },
        );
        m.layers.push(NamedLayer {
            name: "dense_1".into(),
            layer: layer(
                "Dense",
                &[i(3)],
                &[
                    (
                        "kernel_regularizer",
                        crate::Value::Call(call(
                            "l1_l2",
                            &[],
                            &[("l1", f(1e-5)), ("l2", f(0.1 + 0.2))],
                        )),
                    ),
                    ("use_bias", crate::Value::Bool(false)),
                ],
            ),
        });
        let json = m.to_json();
        assert_eq!(ModelSpec::from_json(&json).unwrap(), m);
        assert!(json.contains(r#""class_name": "Conv2D""#), "{json}");
        assert!(json.contains(r#""kernel_size": ["#), "{json}");
    }

    #[test]
    fn json_that_does_not_fit_is_refused() {
        let mut m = convnet();
        m.layers.remove(4);
        let err = ModelSpec::from_json(&m.to_json()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model in this JSON does not fit: Dense expects a 1-D input [features], got [64, 5, 5] from Dropout; add Flatten before it"
        );
        let mut m = convnet();
        m.layers[1].name = "conv2d".into();
        assert_eq!(
            ModelSpec::from_json(&m.to_json()).unwrap_err().to_string(),
            "two layers are named `conv2d`; layer names must be unique"
        );
        let err = ModelSpec::from_json(r#"{"name": "x", "input": [3], "layers": [{"name": "a", "class_name": "Dens", "config": {}}]}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("not a kiln model: unknown variant `Dens`"),
            "{err}"
        );
    }
}
