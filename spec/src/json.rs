//! A JSON model read with `model!`'s argument rules. Each layer's config becomes the call
//! a `model!` would hold (`{"class_name": "Dropout", "config": {"rate": 0.5}}` is
//! `Dropout(rate = 0.5)`) and goes through [`Declared::read`], so a value out of range,
//! of the wrong kind, or a misspelt key is an error naming the layer and the argument, with
//! the nearest valid name, exactly as in `model!`. Keys outside the configs are checked
//! against the JSON form's own.

use serde_json::{Map, Value as Json};

use crate::args::{Arg, Call, Value, suggestion};
use crate::layer::Declared;
use crate::model::{JsonError, ModelSpec};

/// The keys of a model in the JSON form.
const MODEL_KEYS: &[&str] = &["name", "input", "inputs", "layers", "outputs"];
/// The keys of a layer in the JSON form.
const LAYER_KEYS: &[&str] = &[
    "name",
    "class_name",
    "config",
    "inbound",
    "trainable",
    "training",
];
/// The keys of a functional model's input.
const INPUT_KEYS: &[&str] = &["name", "shape"];

impl ModelSpec {
    /// Reads the JSON form and checks it with the same rules as `model!`: each layer's
    /// config is read as the arguments of its call in `model!`, then the shapes are
    /// checked.
    ///
    /// # Errors
    /// [`JsonError`] when the text is not a model, a layer's config breaks an argument
    /// rule or holds an unknown key (named, with the nearest valid one), or the shapes do
    /// not fit.
    pub fn from_json(json: &str) -> Result<ModelSpec, JsonError> {
        let json: serde_json::Value = serde_json::from_str(json)?;
        check_model(&json)?;
        let spec: ModelSpec = serde_json::from_value(json)?;
        for (i, l) in spec.layers.iter().enumerate() {
            if spec.layers[..i].iter().any(|o| o.name == l.name) {
                return Err(JsonError::DuplicateName(l.name.clone()));
            }
        }
        spec.check().map_err(|e| named(e, &spec))?;
        Ok(spec)
    }
}

/// `error` with the name of the layer it sits at, which a JSON model's reader looks for.
fn named(error: crate::CheckError, spec: &ModelSpec) -> crate::CheckError {
    let layer = match error.at {
        crate::Site::Def(i) | crate::Site::Use(i, _) => spec.layers.get(i),
        _ => None,
    };
    match layer {
        Some(layer) => crate::CheckError {
            message: format!("layer `{}`: {}", layer.name, error.message),
            ..error
        },
        None => error,
    }
}

/// Checks `model`, the JSON form of a model (nested models included), as `model!` checks a
/// declaration. What is not a model's shape at all is left to the deserializer, which
/// names it.
pub(crate) fn check_model(model: &Json) -> Result<(), JsonError> {
    let Json::Object(fields) = model else {
        return Ok(());
    };
    known_keys(fields, MODEL_KEYS, "the model")?;
    if let Some(Json::Array(inputs)) = fields.get("inputs") {
        for input in inputs.iter().filter_map(Json::as_object) {
            known_keys(input, INPUT_KEYS, "an input")?;
        }
    }
    let Some(Json::Array(layers)) = fields.get("layers") else {
        return Ok(());
    };
    for layer in layers.iter().filter_map(Json::as_object) {
        check_layer(layer)?;
    }
    Ok(())
}

/// Layer `name`'s config: an object (empty when left out) without `trainable` or
/// `training`, which go beside it.
fn config(layer: &Map<String, Json>, name: &str) -> Result<Map<String, Json>, JsonError> {
    let config = match layer.get("config") {
        Some(Json::Object(config)) => config.clone(),
        // A layer without arguments may leave its config out.
        None | Some(Json::Null) => Map::new(),
        Some(other) => {
            return Err(refused(
                name,
                format!("its config must be an object, got {other}"),
            ));
        }
    };
    for key in [Declared::TRAINABLE, Declared::TRAINING] {
        if config.contains_key(key) {
            return Err(refused(
                name,
                format!("`{key}` goes beside `config`, as `\"{key}\": false`, not inside it"),
            ));
        }
    }
    Ok(config)
}

fn check_layer(layer: &Map<String, Json>) -> Result<(), JsonError> {
    let name = layer.get("name").and_then(Json::as_str).unwrap_or("?");
    known_keys(layer, LAYER_KEYS, &format!("layer `{name}`"))?;
    let Some(class) = layer.get("class_name").and_then(Json::as_str) else {
        return Ok(());
    };
    let config = config(layer, name)?;
    let mut args: Vec<Arg> = [Declared::TRAINABLE, Declared::TRAINING]
        .into_iter()
        .filter_map(|key| {
            layer.get(key).map(|value| Arg {
                keyword: Some(key.into()),
                value: argument(value),
            })
        })
        .collect();
    if class == "Model" {
        check_model(&Json::Object(config))?;
        let call = Call {
            name: class.to_string(),
            args,
        };
        return Declared::with_base(&call, |_| Ok(()))
            .map(drop)
            .map_err(|errors| refused(name, joined(errors)));
    }
    for (key, value) in config {
        match (key.as_str(), value) {
            // Keras's `axis=None` is one mean over all values, kiln's default one per
            // feature: a `null` there is not read as the default.
            ("axis", Json::Null) if class == "Normalization" => {
                return Err(refused(name, crate::layers::NormAxis::NULL.into()));
            }
            // An option left at its default (a regularizer not set).
            (_, Json::Null) => {}
            (key, value) => match fixed(class, key) {
                Some(fixed) if value == fixed => {}
                Some(fixed) => {
                    return Err(refused(
                        name,
                        format!("`{key}` of {class} can only be {fixed}, got {value}"),
                    ));
                }
                None => args.push(Arg {
                    keyword: Some(key.to_string()),
                    value: argument(&value),
                }),
            },
        }
    }
    let call = Call {
        name: class.to_string(),
        args,
    };
    Declared::read(&call)
        .map(drop)
        .map_err(|errors| refused(name, joined(errors)))
}

fn joined(errors: Vec<crate::ArgError>) -> String {
    let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
    messages.join("; ")
}

/// `config`'s value as the argument `model!` would read: a regularizer's
/// `{"l1": x, "l2": y}` is `l1_l2(l1 = x, l2 = y)`, and a `null` inside a shape is the
/// size left open, `-1` in `Reshape((2, -1))`.
fn argument(value: &Json) -> Value {
    match value {
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Name(s.clone()),
        Json::Array(items) => Value::Tuple(items.iter().map(argument).collect()),
        // A layer inside a layer's config: TimeDistributed's `layer`.
        Json::Object(fields) if fields.contains_key("class_name") => layer_argument(fields),
        Json::Object(fields) => Value::Call(Call {
            name: "l1_l2".into(),
            args: fields
                .iter()
                .map(|(key, value)| Arg {
                    keyword: Some(key.clone()),
                    value: argument(value),
                })
                .collect(),
        }),
        Json::Null => Value::Int(-1),
    }
}

/// A layer's JSON form as the call `model!` would hold, its fixed keys left out when they
/// hold their fixed value (any other value is an unknown argument of the call).
fn layer_argument(fields: &Map<String, Json>) -> Value {
    let class = fields
        .get("class_name")
        .and_then(Json::as_str)
        .unwrap_or("?");
    let config = fields.get("config").and_then(Json::as_object);
    let args = config
        .into_iter()
        .flatten()
        .filter(|(key, value)| !value.is_null() && fixed(class, key).as_ref() != Some(*value))
        .map(|(key, value)| Arg {
            keyword: Some(key.clone()),
            value: argument(value),
        })
        .collect();
    Value::Call(Call {
        name: class.to_string(),
        args,
    })
}

/// What a recurrent layer's JSON holds beyond the arguments its call takes: its cell,
/// which its class names, and the other cells' options at the values its own has.
fn fixed(class: &str, key: &str) -> Option<Json> {
    let value = match (class, key) {
        ("SimpleRNN", "cell") => "SimpleRnn".into(),
        ("GRU", "cell") => "Gru".into(),
        ("LSTM", "cell") => "Lstm".into(),
        ("SimpleRNN", "recurrent_activation") => "sigmoid".into(),
        ("SimpleRNN" | "GRU", "unit_forget_bias") | ("SimpleRNN" | "LSTM", "reset_after") => {
            Json::Bool(false)
        }
        _ => return None,
    };
    Some(value)
}

/// An error unless every key of `fields` is one of `known`.
fn known_keys(fields: &Map<String, Json>, known: &[&str], what: &str) -> Result<(), JsonError> {
    match fields.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(JsonError::Config(format!(
            "unknown key `{key}` in {what}; {}",
            suggestion(key, known)
        ))),
        None => Ok(()),
    }
}

fn refused(layer: &str, message: String) -> JsonError {
    JsonError::Config(format!("layer `{layer}`: {message}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::ModelSpec;

    /// A model with one layer of each kind the hostile inputs below aim at.
    fn base() -> serde_json::Value {
        json!({
            "name": "Hostile",
            "input": [1, 28, 28],
            "layers": [
                {"name": "conv2d", "class_name": "Conv2D", "config": {
                    "filters": 8, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
                    "dilation_rate": [1, 1], "activation": "relu", "use_bias": true,
                    "kernel_regularizer": null, "bias_regularizer": null,
                    "activity_regularizer": null}},
                {"name": "batch_normalization", "class_name": "BatchNormalization",
                 "config": {"momentum": 0.99, "epsilon": 0.001}},
                {"name": "max_pooling2d", "class_name": "MaxPooling2D",
                 "config": {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid"}},
                {"name": "dropout", "class_name": "Dropout", "config": {"rate": 0.25}},
                {"name": "flatten", "class_name": "Flatten", "config": {}},
                {"name": "dense", "class_name": "Dense", "config": {
                    "units": 10, "activation": "softmax", "use_bias": true,
                    "kernel_regularizer": {"l1": 0.0, "l2": 0.001}}}
            ]
        })
    }

    fn refused(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut model = base();
        edit(&mut model);
        match ModelSpec::from_json(&model.to_string()) {
            Ok(_) => format!("accepted: {model}"),
            Err(e) => e.to_string(),
        }
    }

    fn set(pointer: &str, value: serde_json::Value) -> impl FnOnce(&mut serde_json::Value) {
        move |model| match model.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => panic!("no {pointer} in the base model"),
        }
    }

    #[test]
    fn the_base_model_reads_and_round_trips() {
        let spec = ModelSpec::from_json(&base().to_string()).unwrap();
        assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec);
    }

    #[test]
    fn every_bad_value_is_an_error_naming_the_layer_and_the_argument() {
        let conv = "/layers/0/config";
        let bn = "/layers/1/config";
        let pool = "/layers/2/config";
        let cases = [
            (
                format!("{conv}/kernel_size"),
                json!([0, 0]),
                "layer `conv2d`: `kernel_size` of Conv2D: expected a positive integer, got 0",
            ),
            (
                format!("{conv}/strides"),
                json!([0, 0]),
                "layer `conv2d`: `strides` of Conv2D: expected a positive integer, got 0",
            ),
            (
                format!("{conv}/filters"),
                json!("32"),
                "layer `conv2d`: `filters` of Conv2D: expected a positive integer, got `32`",
            ),
            (
                format!("{conv}/use_bias"),
                json!(1),
                "layer `conv2d`: `use_bias` of Conv2D: expected `true` or `false`, got `1`",
            ),
            (
                format!("{conv}/padding"),
                json!("sme"),
                "layer `conv2d`: `padding` of Conv2D: unknown value `sme`",
            ),
            (
                format!("{pool}/pool_size"),
                json!([0, 0]),
                "layer `max_pooling2d`: `pool_size` of MaxPooling2D: expected a positive integer, got 0",
            ),
            (
                format!("{pool}/strides"),
                json!([0, 0]),
                "layer `max_pooling2d`: `strides` of MaxPooling2D: expected a positive integer, got 0",
            ),
            (
                format!("{bn}/momentum"),
                json!(-1.0),
                "layer `batch_normalization`: `momentum` of BatchNormalization: the momentum must be in [0, 1], got -1.0",
            ),
            (
                format!("{bn}/momentum"),
                json!(1e300),
                "layer `batch_normalization`: `momentum` of BatchNormalization: the momentum must be in [0, 1], got 1e300",
            ),
            (
                format!("{bn}/epsilon"),
                json!(-1.0),
                "layer `batch_normalization`: `epsilon` of BatchNormalization: epsilon must be positive, got -1.0",
            ),
            (
                "/layers/5/config/kernel_regularizer".into(),
                json!({"l3": 0.1}),
                "layer `dense`: `kernel_regularizer` of Dense: ",
            ),
        ];
        for rate in [json!(-1.0), json!(3.0), json!(1e300), json!(f64::MAX)] {
            let got = refused(set("/layers/3/config/rate", rate.clone()));
            assert!(
                got.starts_with("the model in this JSON is refused: layer `dropout`: `rate` of Dropout: the rate must be in [0, 1), got "),
                "rate {rate}: {got}"
            );
        }
        for (pointer, value, want) in cases {
            let got = refused(set(&pointer, value.clone()));
            assert!(
                got.starts_with(&format!("the model in this JSON is refused: {want}")),
                "{pointer} = {value}: {got}"
            );
        }
    }

    #[test]
    fn sizes_past_the_limits_are_refused_before_allocating() {
        let conv = "/layers/0/config";
        assert_eq!(
            refused(set(&format!("{conv}/filters"), json!(1_000_000_000_000u64))),
            "the model in this JSON is refused: layer `conv2d`: `filters` of Conv2D: 1000000000000 is larger than kiln's largest size, 2147483647"
        );
        // Each size within the limit, the layers past them: found by the check.
        type Edit = fn(&mut serde_json::Value);
        let cases: [(Edit, &str); 4] = [
            (
                |m| m["layers"][0]["config"]["filters"] = json!(i32::MAX),
                "layer `conv2d`: Conv2D would hold 21474836470 parameters, more than kiln's limit of 4294967296 (16 GiB of f32)",
            ),
            (
                |m| m["input"] = json!([1, 2_000_000_000, 2_000_000_000]),
                "layer `flatten`: Flatten gives [7999999984000000008], a dimension of 7999999984000000008, larger than kiln's largest size, 2147483647",
            ),
            (
                |m| m["input"] = json!([1, 28, 1u64 << 40]),
                "the input shape [1, 28, 1099511627776] has a dimension of 1099511627776, larger than kiln's largest size, 2147483647",
            ),
            (
                |m| {
                    let layers = m["layers"].as_array_mut().unwrap();
                    for k in 0..4 {
                        let mut dense = layers[5].clone();
                        dense["name"] = json!(format!("dense_{k}"));
                        dense["config"]["units"] = json!(40_000);
                        layers.push(dense);
                    }
                },
                "layer `dense_3`: with Dense the model would hold more than 4294967296 parameters (16 GiB of f32), kiln's limit",
            ),
        ];
        for (edit, want) in cases {
            assert_eq!(
                refused(edit),
                format!("the model in this JSON does not fit: {want}")
            );
        }
    }

    #[test]
    fn trainable_sits_beside_the_config() {
        let put = |pointer: &'static str, value: serde_json::Value| {
            move |model: &mut serde_json::Value| {
                if let Some(serde_json::Value::Object(fields)) = model.pointer_mut(pointer) {
                    fields.insert("trainable".into(), value);
                }
            }
        };
        let mut model = base();
        put("/layers/0", json!(false))(&mut model);
        let spec = ModelSpec::from_json(&model.to_string()).unwrap();
        let trainable: Vec<bool> = spec.layers.iter().map(|l| l.trainable).collect();
        assert_eq!(trainable, [false, true, true, true, true, true]);
        // The frozen conv's 8·9 + 8 weights join the 16 moving statistics.
        assert_eq!(spec.check().unwrap().params().non_trainable, 80 + 16);
        assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec);
        assert_eq!(
            refused(put("/layers/0", json!("no"))),
            "the model in this JSON is refused: layer `conv2d`: `trainable` of Conv2D: expected `true` or `false`, got `no`"
        );
        assert_eq!(
            refused(put("/layers/0/config", json!(false))),
            "the model in this JSON is refused: layer `conv2d`: `trainable` goes beside `config`, as `\"trainable\": false`, not inside it"
        );
        // `training` alike: beside the config, false only.
        let inference = |pointer: &'static str, value: serde_json::Value| {
            move |model: &mut serde_json::Value| {
                if let Some(serde_json::Value::Object(fields)) = model.pointer_mut(pointer) {
                    fields.insert("training".into(), value);
                }
            }
        };
        let mut model = base();
        inference("/layers/0", json!(false))(&mut model);
        let spec = ModelSpec::from_json(&model.to_string()).unwrap();
        assert!(!spec.layers[0].training && spec.layers[1].training);
        assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec);
        assert_eq!(
            refused(inference("/layers/0/config", json!(false))),
            "the model in this JSON is refused: layer `conv2d`: `training` goes beside `config`, as `\"training\": false`, not inside it"
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_the_nearest_name() {
        let insert = |pointer: &'static str, key: &'static str| {
            move |model: &mut serde_json::Value| {
                if let Some(serde_json::Value::Object(fields)) = model.pointer_mut(pointer) {
                    fields.insert(key.into(), json!(1));
                }
            }
        };
        let cases = [
            (
                insert("/layers/0/config", "kernel_sise"),
                "layer `conv2d`: unknown argument `kernel_sise` for Conv2D; did you mean `kernel_size`?",
            ),
            (
                insert("/layers/3/config", "rates"),
                "layer `dropout`: unknown argument `rates` for Dropout; did you mean `rate`?",
            ),
            (
                insert("/layers/4/config", "data_format"),
                "layer `flatten`: Flatten takes no arguments, got `data_format`",
            ),
            (
                insert("/layers/1", "inbund"),
                "unknown key `inbund` in layer `batch_normalization`; did you mean `inbound`?",
            ),
            (
                insert("", "output"),
                "unknown key `output` in the model; did you mean `outputs`?",
            ),
        ];
        for (edit, want) in cases {
            assert_eq!(
                refused(edit),
                format!("the model in this JSON is refused: {want}")
            );
        }
    }

    #[test]
    fn new_layers_read_with_model_s_rules() {
        let model = json!({
            "name": "Decoder", "input": [2, 10, 8],
            "layers": [
                {"name": "up", "class_name": "UpSampling2D",
                 "config": {"size": [2, 1], "interpolation": "bilinear"}},
                {"name": "pad", "class_name": "ZeroPadding2D", "config": {"padding": [[1, 1], [0, 2]]}},
                {"name": "crop", "class_name": "Cropping2D", "config": {"cropping": [[0, 0], [1, 1]]}},
                {"name": "permute", "class_name": "Permute", "config": {"dims": [2, 3, 1]}},
                {"name": "pool", "class_name": "GlobalMaxPooling2D", "config": {}},
                {"name": "repeat", "class_name": "RepeatVector", "config": {"n": 4}},
                {"name": "avg", "class_name": "AveragePooling1D",
                 "config": {"pool_size": [2], "strides": [2], "padding": "valid"}},
                {"name": "mean", "class_name": "GlobalAveragePooling1D", "config": {}}
            ]
        });
        let spec = ModelSpec::from_json(&model.to_string()).unwrap();
        assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec);
        // [2, 10, 8] → [2, 20, 8] → [2, 22, 10] → [2, 22, 8] → [22, 8, 2] (22 channels now)
        // → [22] → [4, 22] → [2, 22] → [22].
        let checked = spec.check().unwrap();
        let shapes: Vec<String> = checked
            .layers
            .iter()
            .map(|l| l.output.to_string())
            .collect();
        assert_eq!(
            shapes,
            [
                "[2, 20, 8]",
                "[2, 22, 10]",
                "[2, 22, 8]",
                "[22, 8, 2]",
                "[22]",
                "[4, 22]",
                "[2, 22]",
                "[22]"
            ]
        );
        let bad = |pointer: &str, value: serde_json::Value| {
            let mut model = model.clone();
            *model.pointer_mut(pointer).unwrap() = value;
            ModelSpec::from_json(&model.to_string())
                .unwrap_err()
                .to_string()
        };
        let cases = [
            (
                bad("/layers/0/config/size", json!([0, 2])),
                "the model in this JSON is refused: layer `up`: `size` of UpSampling2D: expected a positive integer, got 0",
            ),
            (
                bad("/layers/0/config/interpolation", json!("cubic")),
                "the model in this JSON is refused: layer `up`: `interpolation` of UpSampling2D: unknown value `cubic`; expected one of: nearest, bilinear",
            ),
            (
                bad("/layers/1/config", json!({"paddin": 1})),
                "the model in this JSON is refused: layer `pad`: unknown argument `paddin` for ZeroPadding2D; did you mean `padding`?",
            ),
            (
                bad("/layers/2/config/cropping", json!([[0, 0], [5, 5]])),
                "the model in this JSON does not fit: layer `crop`: Cropping2D cuts 5 + 5 off a width of 10 in [2, 22, 10] from ZeroPadding2D, which leaves nothing; crop less",
            ),
            (
                bad("/layers/3/config/dims", json!([1, 1, 2])),
                "the model in this JSON is refused: layer `permute`: `dims` of Permute: expected each of 1 to 3 once, got `(1, 1, 2)`",
            ),
            (
                bad("/layers/5/config/n", json!(-4)),
                "the model in this JSON is refused: layer `repeat`: `n` of RepeatVector: expected a positive integer, got -4",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_layer_inside_a_layer_reads_with_its_rules() {
        let model = |inner: serde_json::Value| {
            // Steps of 5 x 4 for the pooling, of 4 for the others.
            let input = if inner["class_name"] == "MaxPooling1D" {
                json!([6, 5, 4])
            } else {
                json!([6, 4])
            };
            json!({
                "name": "Steps", "input": input,
                "layers": [{"name": "td", "class_name": "TimeDistributed",
                            "config": {"layer": inner}}]
            })
            .to_string()
        };
        let pool = json!({"class_name": "MaxPooling1D", "config": {
            "pool_size": [2], "strides": [2], "padding": "valid"}});
        let dense = json!({"class_name": "Dense", "config": {"units": 2, "activation": "relu", "use_bias": true}});
        for (inner, want) in [(dense, "[6, 2]"), (pool, "[6, 2, 4]")] {
            let spec = ModelSpec::from_json(&model(inner)).unwrap();
            assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec);
            assert_eq!(spec.check().unwrap().output().to_string(), want);
        }
        let cases = [
            (
                json!({"class_name": "Dense", "config": {"unit": 2}}),
                "the model in this JSON is refused: layer `td`: `layer` of TimeDistributed: unknown argument `unit` for Dense; did you mean `units`?; Dense needs `units` (the number of outputs, e.g. Dense(128)); add it",
            ),
            (
                json!({"class_name": "LSTM", "config": {"units": 3, "cell": "Gru"}}),
                "the model in this JSON is refused: layer `td`: `layer` of TimeDistributed: unknown argument `cell` for LSTM; expected one of: units, activation, use_bias, return_sequences, return_state, go_backwards, dropout, recurrent_dropout, recurrent_activation, unit_forget_bias",
            ),
            (
                json!({"class_name": "Conv1D", "config": {"filters": 2, "kernel_size": [3]}}),
                "the model in this JSON is refused: layer `td`: `layer` of TimeDistributed: kiln's TimeDistributed takes Dense, Dropout, or a layer without weights of one tensor (Activation, Flatten, Reshape, Permute, RepeatVector, the 1-D poolings), not Conv1D",
            ),
        ];
        for (inner, want) in cases {
            assert_eq!(
                ModelSpec::from_json(&model(inner)).unwrap_err().to_string(),
                want
            );
        }
    }

    #[test]
    fn huge_sizes_are_refused_by_the_shape_rules() {
        for (pointer, value) in [
            (
                "/layers/0/config/kernel_size",
                json!([1_000_000_000_000u64, 1_000_000_000_000u64]),
            ),
            (
                "/layers/0/config/dilation_rate",
                json!([1_000_000_000_000u64, 1_000_000_000_000u64]),
            ),
        ] {
            let got = refused(set(pointer, value));
            assert!(
                got.starts_with("the model in this JSON does not fit: ")
                    || got.starts_with("the model in this JSON is refused: "),
                "{pointer}: {got}"
            );
        }
    }

    #[test]
    fn a_recurrent_layer_holds_its_own_cell_and_options() {
        let lstm = |cell: &str| {
            json!({
                "name": "Seq", "input": [5, 3],
                "layers": [{"name": "lstm", "class_name": "LSTM", "config": {
                    "cell": cell, "units": 4, "activation": "tanh",
                    "recurrent_activation": "sigmoid", "use_bias": true,
                    "return_sequences": false, "go_backwards": false,
                    "unit_forget_bias": true, "reset_after": false}}]
            })
            .to_string()
        };
        ModelSpec::from_json(&lstm("Lstm")).unwrap();
        let gru_option = lstm("Lstm").replace(r#""reset_after":false"#, r#""reset_after":true"#);
        assert_eq!(
            ModelSpec::from_json(&gru_option).unwrap_err().to_string(),
            "the model in this JSON is refused: layer `lstm`: `reset_after` of LSTM can only be false, got true"
        );
        assert_eq!(
            ModelSpec::from_json(&lstm("Gru")).unwrap_err().to_string(),
            "the model in this JSON is refused: layer `lstm`: `cell` of LSTM can only be \"Lstm\", got \"Gru\""
        );
    }
}
