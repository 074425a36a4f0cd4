//! Saving and loading: weights in burnpack and safetensors, the architecture and weights
//! together, models rebuilt from JSON, and clear errors when a file does not fit.

use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use kiln::prelude::*;

type B = kiln::backend::CpuBackend;
type Ad = kiln::backend::Cpu;

model! {
    /// A small CNN with every kind of weight: convolution, batch normalization, dense.
    struct Net {
        input: [1, 12, 12],
        Conv2D(4, 3, activation = relu, kernel_regularizer = l2(0.01)),
        BatchNormalization,
        MaxPooling2D(2),
        Flatten,
        Dropout(0.1),
        Dense(8, activation = relu),
        Dense(3, activation = softmax),
    }
}

model! {
    /// The same layers with another width: its weights do not fit Net.
    struct Wider {
        input: [1, 12, 12],
        Conv2D(4, 3, activation = relu),
        BatchNormalization,
        MaxPooling2D(2),
        Flatten,
        Dropout(0.1),
        Dense(16, activation = relu),
        Dense(3, activation = softmax),
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn input() -> Tensor<B, 4> {
    Tensor::random([5, 1, 12, 12], Distribution::Default, &Default::default())
}

fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

#[test]
fn weights_round_trip_in_both_formats() {
    let device = Default::default();
    let model = Net::<B>::new(&device);
    let x = input();
    let want = values(model.forward(x.clone()));
    for file in ["net.bpk", "net.safetensors"] {
        let path = temp(file);
        kiln::save_weights(&model, &path).unwrap();
        let mut fresh = Net::<B>::new(&device);
        assert_ne!(values(fresh.forward(x.clone())), want);
        kiln::load_weights(&mut fresh, &path).unwrap();
        assert_eq!(values(fresh.forward(x.clone())), want, "{file}");
    }
}

#[test]
fn a_model_file_must_be_named_safetensors() {
    let model = Net::<B>::new(&Default::default());
    for name in ["net.keras", "net.bpk", "net"] {
        let path = temp(name);
        let err = kiln::save_model(&model, &path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot save a model as {}: a model file (architecture and weights) is \
                 safetensors, so name it `.safetensors`; or save the weights alone with \
                 save_weights (burnpack under other names)",
                path.display()
            )
        );
        assert!(!path.exists(), "{name} was written");
    }
}

#[test]
fn a_model_file_rebuilds_the_model_without_its_type() {
    let device = Default::default();
    let model = Net::<B>::new(&device);
    let path = temp("net-model.safetensors");
    kiln::save_model(&model, &path).unwrap();
    let loaded: kiln::JsonModel<B, 4, 2> = kiln::load_model(&path, &device).unwrap();
    assert_eq!(loaded.num_params(), model.num_params());
    assert_eq!(Model::output_shape(&loaded), Shape::known([3]));
    let x = input();
    assert_eq!(
        values(Model::forward(&loaded, x.clone())),
        values(model.forward(x.clone()))
    );
    // And back: the rebuilt model's file loads into the generated model.
    let again = temp("net-again.safetensors");
    kiln::save_model(&loaded, &again).unwrap();
    let mut generated = Net::<B>::new(&device);
    kiln::load_weights(&mut generated, &again).unwrap();
    assert_eq!(
        values(generated.forward(x.clone())),
        values(model.forward(x))
    );
}

#[test]
fn json_builds_a_model_with_the_same_shape_and_parameters() {
    let device = Default::default();
    let model = Net::<B>::new(&device);
    let runtime = kiln::from_json::<B, 4, 2>(&model.to_json(), &device).unwrap();
    assert_eq!(runtime.num_params(), model.num_params());
    assert_eq!(runtime.summary().to_string(), model.summary().to_string());
    assert_eq!(Model::forward(&runtime, input()).dims(), [5, 3]);
    let err = kiln::from_json::<B, 3, 2>(&model.to_json(), &device).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the JSON model does not fit this model: it takes [1, 12, 12] and gives [3] per example, so its tensors have ranks 4 and 2, not 3 and 2"
    );
    let broken = model.to_json().replace("\"Flatten\"", "\"Dropout\"");
    let err = kiln::from_json::<B, 4, 2>(&broken, &device).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the JSON model does not fit this model: the model in this JSON is refused: layer `flatten`: Dropout needs `rate` (the fraction of inputs to drop, e.g. Dropout(0.5)); add it"
    );
}

#[test]
fn a_json_model_breaking_an_argument_rule_is_an_error_not_a_panic() {
    let device = Default::default();
    let json = Net::<B>::new(&device).to_json();
    // Values that reached burn's panics, or were kept, before JSON took model!'s rules.
    for (from, to, want) in [
        (
            r#""rate": 0.1"#,
            r#""rate": 3.0"#,
            "layer `dropout`: `rate` of Dropout: the rate must be in [0, 1), got 3.0",
        ),
        (
            r#""pool_size": [
          2,
          2
        ]"#,
            r#""pool_size": [0, 0]"#,
            "layer `max_pooling2d`: `pool_size` of MaxPooling2D: expected a positive integer, got 0",
        ),
        (
            r#""momentum": 0.99"#,
            r#""momentum": -1"#,
            "layer `batch_normalization`: `momentum` of BatchNormalization: the momentum must be in [0, 1], got -1.0",
        ),
        (
            r#""units": 8"#,
            r#""units": 8, "unit": 8"#,
            "layer `dense`: unknown argument `unit` for Dense; did you mean `units`?",
        ),
    ] {
        assert!(json.contains(from), "{from} not in {json}");
        let err = kiln::from_json::<B, 4, 2>(&json.replace(from, to), &device).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the JSON model does not fit this model: the model in this JSON is refused: {want}"
            )
        );
    }
}

#[test]
fn weights_of_another_model_are_refused_by_name_and_shape() {
    let device = Default::default();
    let path = temp("wider.bpk");
    kiln::save_weights(&Wider::<B>::new(&device), &path).unwrap();
    let mut net = Net::<B>::new(&device);
    let err = kiln::load_weights(&mut net, &path).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "wider.bpk does not fit this model: `dense.weight` is [100, 16] in the file but [100, 8] in the model; \
             `dense.bias` is [16] in the file but [8] in the model; \
             `dense_1.weight` is [16, 3] in the file but [8, 3] in the model"
        ),
        "{err}"
    );
    let err = kiln::load_weights(&mut net, temp("missing.bpk"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such file"), "{err}");
    let weights_only = temp("net-weights.safetensors");
    kiln::save_weights(&net, &weights_only).unwrap();
    let err = kiln::load_model::<B, 4, 2>(&weights_only, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds weights but no architecture"), "{err}");
}

#[test]
fn a_json_model_trains_like_the_generated_one() {
    let device = Default::default();
    <Ad as Backend>::seed(&device, 3);
    let model = kiln::from_json::<Ad, 4, 2>(&Net::<Ad>::new(&device).to_json(), &device).unwrap();
    let digits = kiln::datasets::synthetic_digits(60, 1);
    let x: Vec<f32> = digits
        .images()
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    // 12x12 crops of the digits' centres, three classes.
    let crops: Vec<f32> = x
        .chunks(784)
        .flat_map(|img| (8..20).flat_map(move |r| img[r * 28 + 8..r * 28 + 20].to_vec()))
        .collect();
    let labels: Vec<usize> = digits
        .labels()
        .iter()
        .map(|&l| usize::from(l) % 3)
        .collect();
    let data = ArrayDataset::classification(crops, vec![1, 12, 12], labels, 3).unwrap();
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new().learning_rate(0.01))
        .loss(Loss::SparseCategoricalCrossentropy);
    let history = trainer
        .fit(
            &data,
            Fit::epochs(10).batch_size(20).verbose(Verbosity::Silent),
        )
        .unwrap();
    let loss = history.get("loss").unwrap();
    assert!(loss[9] < loss[0] * 0.7, "{loss:?}");
}
