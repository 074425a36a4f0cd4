//! Frozen layers, as Keras's `trainable = False`: declared in `model!` and JSON or set at
//! run time by name; their weights take no gradient and do not change in `fit`, the
//! summary counts them as non-trainable, and a frozen BatchNormalization normalizes with
//! its moving statistics.

use burn::module::AutodiffModule;
use burn::tensor::{Distribution, Tensor, TensorData};
use kiln::prelude::*;

type Ad = kiln::backend::Cpu;
type Inner = kiln::backend::CpuBackend;

model! {
    /// A convolutional base frozen where it is declared, and a head that trains.
    struct FrozenBase {
        input: [1, 28, 28],
        Conv2D(4, 3, activation = relu, trainable = false),
        BatchNormalization(trainable = false),
        MaxPooling2D(2),
        Flatten,
        Dense(10, activation = softmax),
    }
}

model! {
    /// A feature extractor, reused below.
    pub struct Base {
        input: [1, 12, 12],
        Conv2D(4, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
    }
}

model! {
    /// The extractor as one layer of a classifier.
    struct Transfer {
        input: [1, 12, 12],
        Model(Base),
        Dense(3, activation = softmax),
    }
}

model! {
    /// The same, with the extractor frozen where it is used.
    struct FrozenTransfer {
        input: [1, 12, 12],
        Model(Base, trainable = false),
        Dense(3, activation = softmax),
    }
}

/// The trainable and non-trainable counts of a summary, as printed.
fn counts(summary: &kiln::Summary) -> (String, String) {
    let text = summary.to_string();
    let line = |what: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(what))
            .unwrap_or_else(|| panic!("no `{what}` in\n{text}"))
            .to_owned()
    };
    (line("Trainable params: "), line("Non-trainable params: "))
}

fn values<const D: usize>(t: Tensor<Ad, D>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

/// `n` examples of [1, 12, 12] in 3 classes: the class is where the bright square sits.
fn squares(n: usize) -> ArrayDataset {
    let mut x = vec![0.0f32; n * 144];
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    for (i, &label) in labels.iter().enumerate() {
        for r in 0..4 {
            for c in 0..4 {
                x[i * 144 + (r + 4 * label) * 12 + c + 4 * label] = 1.0;
            }
        }
    }
    ArrayDataset::classification(x, vec![1, 12, 12], labels, 3).unwrap()
}

#[test]
fn declared_frozen_layers_count_as_non_trainable_and_survive_json() {
    let device = Default::default();
    let model = FrozenBase::<Ad>::new(&device);
    // Keras: conv 1·4·9 + 4 = 40 and BatchNormalization 4 + 4 (+ 8 moving), all frozen;
    // Dense 4·13·13·10 + 10 = 6,770.
    let want = ("6,770".to_string(), "56".to_string());
    assert_eq!(counts(&model.summary()), want);
    assert_eq!(counts(&model.valid().summary()), want);

    let json = model.to_json();
    let spec = kiln::ModelSpec::from_json(&json).unwrap();
    let trainable: Vec<bool> = spec.layers.iter().map(|l| l.trainable).collect();
    assert_eq!(trainable, [false, false, true, true, true]);
    assert_eq!(json.matches("\"trainable\": false").count(), 2, "{json}");
    let runtime = kiln::JsonModel::<Ad, 4, 2>::from_json(&json, &device).unwrap();
    assert_eq!(counts(&runtime.summary()), want);

    let frozen = FrozenTransfer::<Ad>::new(&device);
    assert_eq!(counts(&frozen.summary()), ("303".into(), "40".into()));
    let runtime = kiln::JsonModel::<Ad, 4, 2>::from_json(&frozen.to_json(), &device).unwrap();
    assert_eq!(counts(&runtime.summary()), ("303".into(), "40".into()));
}

model! {
    /// Keras's fine-tuning recipe: the batch normalization kept in inference mode while its
    /// weights train (`base(x, training=False)`), and a dropout off in every pass.
    struct InferenceBase {
        input: [1, 28, 28],
        Conv2D(4, 3, activation = relu),
        BatchNormalization(training = false),
        Dropout(0.5, training = false),
        MaxPooling2D(2),
        Flatten,
        Dense(10, activation = softmax),
    }
}

#[test]
fn a_layer_called_with_training_false_stays_in_inference_mode_while_it_trains() {
    let device = Default::default();
    <Ad as Backend>::seed(&device, 5);
    let model = InferenceBase::<Ad>::new(&device);
    let x = Tensor::<Ad, 4>::random([3, 1, 28, 28], Distribution::Default, &device);
    // The training pass is the inference pass: no dropout, the moving statistics.
    let inference: Vec<f32> = model
        .valid()
        .forward_train(x.clone().inner())
        .logits
        .into_data()
        .to_vec()
        .unwrap();
    let training = values(model.forward_train(x.clone()).logits);
    assert_eq!(training, inference);
    // Its JSON form keeps it, and runs the same.
    let json = model.to_json();
    assert!(json.contains("\"training\": false"), "{json}");
    let runtime: kiln::JsonModel<Ad, 4, 2> = kiln::from_json(&json, &device).unwrap();
    assert_eq!(runtime.to_json(), json);
    let runtime_inference: Vec<f32> =
        kiln::Model::forward_train(&runtime.valid(), x.clone().inner())
            .logits
            .into_data()
            .to_vec()
            .unwrap();
    let runtime_training = values(kiln::Model::forward_train(&runtime, x).logits);
    assert_eq!(runtime_training, runtime_inference);
    let gamma = values(model.batch_normalization.gamma.val());
    let moving = values(model.batch_normalization.running_var.value());
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new().learning_rate(1e-2))
        .loss(Loss::CategoricalCrossentropy);
    let digits = kiln::datasets::synthetic_digits(64, 1);
    let fit = Fit::epochs(2).batch_size(16).verbose(Verbosity::Silent);
    trainer.fit(&digits, fit).unwrap();
    // The weights train; the moving statistics stay.
    let model = trainer.into_model();
    assert_ne!(values(model.batch_normalization.gamma.val()), gamma);
    assert_eq!(
        values(model.batch_normalization.running_var.value()),
        moving
    );
}

model! {
    /// A base with a regularized kernel and a dropout.
    pub struct Regularized {
        input: [4],
        Dense(3, kernel_regularizer = l2(0.5)),
        Dropout(0.5),
    }
}

model! {
    /// The base called in inference mode.
    struct CalledInInference {
        input: [4],
        Model(Regularized, training = false),
        Dense(2, activation = softmax),
    }
}

#[test]
fn a_model_nested_with_training_false_runs_in_inference_mode_and_keeps_its_penalties() {
    let device = Default::default();
    let model = CalledInInference::<Ad>::new(&device);
    let x = Tensor::<Ad, 2>::random([8, 4], Distribution::Default, &device);
    let kernel = values(model.regularized.dense.weight.val());
    let want = 0.5 * kernel.iter().map(|w| w * w).sum::<f32>();
    let inference = values(model.forward(x.clone()));
    let path = std::env::temp_dir().join(format!("kiln-nested-{}.safetensors", std::process::id()));
    kiln::save_model(&model, &path).unwrap();
    let runtime: kiln::JsonModel<Ad, 2, 2> = kiln::load_model(&path, &device).unwrap();
    std::fs::remove_file(&path).unwrap();
    for pass in [
        model.forward_train(x.clone()),
        kiln::Model::forward_train(&runtime, x.clone()),
    ] {
        // No dropout: the inference pass's outputs, and Keras's penalty of the kernel.
        let outputs = values(burn::tensor::activation::softmax(pass.logits, 1));
        for (a, b) in outputs.iter().zip(&inference) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let penalty = pass.penalty.expect("the base's penalty").into_scalar();
        assert!((penalty - want).abs() < 1e-5, "{penalty} vs {want}");
    }
}

#[test]
fn a_frozen_layer_takes_no_gradient() {
    let device = Default::default();
    let model = FrozenBase::<Ad>::new(&device);
    let x = Tensor::<Ad, 4>::random([2, 1, 28, 28], Distribution::Default, &device);
    let grads = model.forward(x).sum().backward();
    assert!(model.conv2d.weight.grad(&grads).is_none());
    assert!(model.conv2d.bias.as_ref().unwrap().grad(&grads).is_none());
    assert!(model.batch_normalization.gamma.grad(&grads).is_none());
    assert!(model.dense.weight.grad(&grads).is_some());
}

#[test]
fn a_frozen_batch_normalization_uses_and_keeps_its_moving_statistics() {
    let device = Default::default();
    let mut model = FrozenBase::<Ad>::new(&device);
    let bn = &mut model.batch_normalization;
    bn.running_mean =
        burn::module::RunningState::new(Tensor::from_floats([0.5, -1.0, 2.0, 0.0], &device));
    bn.running_var =
        burn::module::RunningState::new(Tensor::from_floats([4.0, 1.0, 0.25, 9.0], &device));
    let x = Tensor::<Ad, 4>::random([3, 1, 28, 28], Distribution::Default, &device);
    // In training (autodiff) as in inference: the moving statistics, not the batch's.
    let training = values(model.forward(x.clone()));
    let inference: Vec<f32> = model
        .valid()
        .forward(x.inner())
        .into_data()
        .to_vec()
        .unwrap();
    for (a, b) in training.iter().zip(&inference) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert_eq!(
        values(model.batch_normalization.running_mean.value()),
        [0.5, -1.0, 2.0, 0.0]
    );
}

#[test]
fn fit_leaves_frozen_weights_bit_identical_and_trains_the_rest() {
    let device = Default::default();
    <Ad as Backend>::seed(&device, 3);
    let model = FrozenBase::<Ad>::new(&device);
    let conv = values(model.conv2d.weight.val());
    let gamma = values(model.batch_normalization.gamma.val());
    let moving = values(model.batch_normalization.running_var.value());
    let dense = values(model.dense.weight.val());
    let mut trainer = Trainer::new(model)
        .optimizer(Adam::new().learning_rate(1e-2))
        .loss(Loss::CategoricalCrossentropy);
    let digits = kiln::datasets::synthetic_digits(64, 1);
    trainer
        .fit(
            &digits,
            Fit::epochs(2).batch_size(16).verbose(Verbosity::Silent),
        )
        .unwrap();
    let model = trainer.into_model();
    assert_eq!(values(model.conv2d.weight.val()), conv);
    assert_eq!(values(model.batch_normalization.gamma.val()), gamma);
    assert_eq!(
        values(model.batch_normalization.running_var.value()),
        moving
    );
    assert_ne!(values(model.dense.weight.val()), dense);
}

#[test]
fn layers_freeze_at_run_time_by_name_and_nested_path() {
    let device = Default::default();
    let model = kiln::freeze(Transfer::<Ad>::new(&device), &["base.conv2d"]).unwrap();
    assert_eq!(counts(&model.summary()), ("303".into(), "40".into()));
    let model = kiln::unfreeze(model, &["base"]).unwrap();
    assert_eq!(counts(&model.summary()), ("343".into(), "0".into()));

    let err = kiln::freeze(model, &["base.conv"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no layer `base.conv` in this model; did you mean `base.conv2d`?"
    );
    // The model comes back as it was.
    assert_eq!(counts(&err.model.summary()), ("343".into(), "0".into()));
}

#[test]
fn a_trainer_freezes_a_base_and_fit_leaves_it_unchanged() {
    let device = Default::default();
    <Ad as Backend>::seed(&device, 4);
    let mut trainer = Trainer::new(Transfer::<Ad>::new(&device))
        .optimizer(Adam::new().learning_rate(1e-2))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let err = trainer.freeze(&["bse"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no layer `bse` in this model; did you mean `base`?"
    );
    trainer.freeze(&["base"]).unwrap();
    let conv = values(trainer.model().base.conv2d.weight.val());
    let dense = values(trainer.model().dense.weight.val());
    let data = squares(60);
    let fit = || Fit::epochs(3).batch_size(10).verbose(Verbosity::Silent);
    trainer.fit(&data, fit()).unwrap();
    assert_eq!(values(trainer.model().base.conv2d.weight.val()), conv);
    assert_ne!(values(trainer.model().dense.weight.val()), dense);
    // Unfrozen, the base trains too.
    trainer.unfreeze(&["base"]).unwrap();
    trainer.fit(&data, fit()).unwrap();
    assert_ne!(values(trainer.model().base.conv2d.weight.val()), conv);
}

#[test]
fn freezing_survives_loading_weights() {
    let device = Default::default();
    let dir = std::env::temp_dir().join(format!("kiln-transfer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("transfer.safetensors");
    let trained = Transfer::<Ad>::new(&device);
    kiln::save_weights(&trained, &path).unwrap();
    let mut model = kiln::freeze(Transfer::<Ad>::new(&device), &["base"]).unwrap();
    kiln::load_weights(&mut model, &path).unwrap();
    assert_eq!(
        values(model.base.conv2d.weight.val()),
        values(trained.base.conv2d.weight.val())
    );
    assert_eq!(counts(&model.summary()), ("303".into(), "40".into()));
    let x = Tensor::<Ad, 4>::from_data(TensorData::new(vec![0.5f32; 144], [1, 1, 12, 12]), &device);
    let grads = model.forward(x).sum().backward();
    assert!(model.base.conv2d.weight.grad(&grads).is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trainable_in_json_is_read_with_model_s_rules() {
    let device = Default::default();
    let json = Transfer::<Inner>::new(&device).to_json();
    let frozen = json.replacen(
        "\"name\": \"dense\"",
        "\"name\": \"dense\", \"trainable\": false",
        1,
    );
    assert_ne!(frozen, json);
    let model = kiln::JsonModel::<Inner, 4, 2>::from_json(&frozen, &device).unwrap();
    assert_eq!(counts(&model.summary()), ("40".into(), "303".into()));
    let bad = json.replacen(
        "\"name\": \"dense\"",
        "\"name\": \"dense\", \"trainable\": 0",
        1,
    );
    let err = kiln::JsonModel::<Inner, 4, 2>::from_json(&bad, &device).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("`trainable` of Dense: expected `true` or `false`, got `0`"),
        "{err}"
    );
}

model! {
    /// Two branches merged: features of a merge.
    struct Branches {
        input x: [4],
        let a = x -> Dense(3, activation = relu);
        let b = x -> Dense(3);
        let y = Add(a, b) -> Dense(2, activation = softmax);
        output y,
    }
}

model! {
    /// A head on extracted features.
    struct Head {
        input: [100],
        Dense(3, activation = softmax),
    }
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

fn dyn_values(t: kiln::DynTensor<Inner>) -> Vec<f32> {
    t.into_values().unwrap()
}

#[test]
fn features_are_each_layer_s_output_with_its_activation() {
    let device = Default::default();
    let model = FrozenBase::<Inner>::new(&device);
    let x = Tensor::<Inner, 4>::random([2, 1, 28, 28], Distribution::Default, &device);
    let conv = model.features("conv2d", x.clone()).unwrap();
    assert_eq!(conv.dims(), [2, 4, 26, 26]);
    let relu = burn::tensor::activation::relu(model.conv2d.forward(x.clone()));
    close(
        &dyn_values(conv),
        &relu.into_data().to_vec::<f32>().unwrap(),
    );
    let flat = model.features("flatten", x.clone()).unwrap();
    assert_eq!(flat.dims(), [2, 676]);
    let logits = model.dense.forward(flat.tensor::<2>().unwrap());
    let softmax = burn::tensor::activation::softmax(logits, 1);
    let last = model.features("dense", x.clone()).unwrap();
    close(
        &dyn_values(last.clone()),
        &softmax.into_data().to_vec::<f32>().unwrap(),
    );
    close(
        &dyn_values(last),
        &model
            .forward(x.clone())
            .into_data()
            .to_vec::<f32>()
            .unwrap(),
    );
    let err = model.features("conv2", x).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no layer `conv2` in this model; did you mean `conv2d`?"
    );
}

#[test]
fn features_of_a_graph_a_json_model_and_a_nested_model() {
    let device = Default::default();
    let model = Branches::<Inner>::new(&device);
    let x = Tensor::<Inner, 2>::random([5, 4], Distribution::Default, &device);
    let a = burn::tensor::activation::relu(model.dense.forward(x.clone()));
    let b = model.dense_1.forward(x.clone());
    let add = model.features("add", x.clone()).unwrap();
    close(
        &dyn_values(add),
        &(a + b).into_data().to_vec::<f32>().unwrap(),
    );

    let frozen = FrozenBase::<Inner>::new(&device);
    let runtime = kiln::JsonModel::<Inner, 4, 2>::from_json(&frozen.to_json(), &device).unwrap();
    let images = Tensor::<Inner, 4>::random([3, 1, 28, 28], Distribution::Default, &device);
    assert_eq!(
        runtime.features("flatten", images.clone()).unwrap().dims(),
        [3, 676]
    );
    let last = runtime.features("dense", images.clone()).unwrap();
    close(
        &dyn_values(last),
        &runtime
            .forward(images.clone())
            .into_data()
            .to_vec::<f32>()
            .unwrap(),
    );
    let err = runtime.features("flaten", images).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no layer `flaten` in this model; did you mean `flatten`?"
    );

    let transfer = Transfer::<Inner>::new(&device);
    let small = Tensor::<Inner, 4>::random([2, 1, 12, 12], Distribution::Default, &device);
    let err = transfer.features("base.conv2d", small.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no layer `base.conv2d` in this model; its layers are base, dense; a nested model gives its own layers' features: `model.base.features(\"conv2d\", x)`"
    );
    let base = transfer.features("base", small.clone()).unwrap();
    close(
        &dyn_values(base),
        &dyn_values(transfer.base.features("flatten", small).unwrap()),
    );
}

#[test]
fn extracted_features_train_a_small_head() {
    let device = Default::default();
    <Ad as Backend>::seed(&device, 6);
    let base = Trainer::new(Base::<Ad>::new(&device));
    let data = squares(90);
    let features = base.predict_features(&data, "flatten").unwrap();
    assert_eq!(features.dims(), [90, 100]);
    let extracted = base.extract_features(&data, "flatten").unwrap();
    assert_eq!(extracted.len(), 90);
    let mut head = Trainer::new(Head::<Ad>::new(&device))
        .optimizer(Adam::new().learning_rate(1e-2))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    head.fit(
        &extracted,
        Fit::epochs(30).batch_size(10).verbose(Verbosity::Silent),
    )
    .unwrap();
    let accuracy = head.evaluate(&extracted).unwrap().get("accuracy").unwrap();
    assert!(accuracy >= 0.95, "{accuracy}");
    let err = base.predict_features(&data, "dense").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no layer `dense` in this model; its layers are conv2d, max_pooling2d, flatten"
    );
}

model! {
    /// Base with twice the filters: its weights do not fit Base's file.
    struct WideBase {
        input: [1, 12, 12],
        Conv2D(8, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
    }
}

/// A path in a fresh temporary directory, removed with it when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kiln-partial-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempFile(dir.join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn a_base_s_weights_load_into_a_composed_model_by_renaming() {
    let device = Default::default();
    let file = TempFile::new("base.safetensors");
    let base = Base::<Ad>::new(&device);
    kiln::save_weights(&base, &file.0).unwrap();
    let mut transfer = Transfer::<Ad>::new(&device);
    let dense = values(transfer.dense.weight.val());

    // The file lacks the head: an error naming each missing weight...
    let rename = kiln::Load::new().rename("conv2d", "base.conv2d");
    let err = kiln::load_weights_with(&mut transfer, &file.0, &rename).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("the file has no `dense.bias`; the file has no `dense.weight`"),
        "{err}"
    );
    // ...unless allowed, when they keep their values and are listed.
    let loaded = kiln::load_weights_with(&mut transfer, &file.0, &rename.allow_missing()).unwrap();
    assert_eq!(loaded.missing, ["dense.bias", "dense.weight"]);
    let mut applied = loaded.applied;
    applied.sort();
    assert_eq!(applied, ["base.conv2d.bias", "base.conv2d.weight"]);
    assert_eq!(
        values(transfer.base.conv2d.weight.val()),
        values(base.conv2d.weight.val())
    );
    assert_eq!(values(transfer.dense.weight.val()), dense);
}

#[test]
fn only_loads_the_layers_named_and_mismatches_name_both_shapes() {
    let device = Default::default();
    let file = TempFile::new("transfer.safetensors");
    let trained = Transfer::<Ad>::new(&device);
    kiln::save_weights(&trained, &file.0).unwrap();

    let mut generated = Transfer::<Ad>::new(&device);
    let dense = values(generated.dense.weight.val());
    let only = kiln::Load::new().only("base");
    kiln::load_weights_with(&mut generated, &file.0, &only).unwrap();
    assert_eq!(
        values(generated.base.conv2d.weight.val()),
        values(trained.base.conv2d.weight.val())
    );
    assert_eq!(values(generated.dense.weight.val()), dense);

    // A runtime model names its weights the same way.
    let mut runtime = kiln::JsonModel::<Ad, 4, 2>::from_json(&trained.to_json(), &device).unwrap();
    let loaded = kiln::load_weights_with(&mut runtime, &file.0, &only).unwrap();
    let mut applied = loaded.applied;
    applied.sort();
    assert_eq!(applied, ["base.conv2d.bias", "base.conv2d.weight"]);

    let base_file = TempFile::new("base.safetensors");
    kiln::save_weights(&Base::<Ad>::new(&device), &base_file.0).unwrap();
    let mut wide = WideBase::<Ad>::new(&device);
    let err = kiln::load_weights_with(&mut wide, &base_file.0, &kiln::Load::new()).unwrap_err();
    let reason = err.to_string();
    assert!(
        reason
            .contains("`conv2d.weight` is [4, 1, 3, 3] in the file but [8, 1, 3, 3] in the model")
            && reason.contains("`conv2d.bias` is [4] in the file but [8] in the model"),
        "{reason}"
    );
}

#[test]
fn a_run_resumed_by_backup_and_restore_keeps_its_base_frozen() {
    let device = Default::default();
    let backup = TempFile::new("backup");
    let data = squares(30);
    let run = |epochs: usize, seed: u64| {
        <Ad as Backend>::seed(&device, seed);
        let mut trainer = Trainer::new(Transfer::<Ad>::new(&device))
            .optimizer(Adam::new().learning_rate(1e-2))
            .loss(Loss::CategoricalCrossentropy);
        trainer.freeze(&["base"]).unwrap();
        let initial = values(trainer.model().base.conv2d.weight.val());
        let fit = Fit::epochs(epochs)
            .batch_size(10)
            .verbose(Verbosity::Silent)
            .callback(kiln::callbacks::BackupAndRestore::new(&backup.0).delete_when_done(false));
        trainer.fit(&data, fit).unwrap();
        (initial, trainer)
    };
    // Two epochs, kept in the backup; then a run of four, from other initial weights,
    // resumes after them with the first run's weights, its base still frozen.
    let (first, _) = run(2, 8);
    let (second, resumed) = run(4, 9);
    assert_ne!(first, second);
    assert_eq!(values(resumed.model().base.conv2d.weight.val()), first);
    assert_eq!(
        counts(&resumed.model().summary()),
        ("303".into(), "40".into())
    );
}

model! {
    /// The functional form freezes a layer of a chain and a merge's input alike.
    struct FrozenGraph {
        input x: [4],
        let a = x -> Dense(3, trainable = false);
        let b = x -> Model(Base4, trainable = false);
        let y = Add(a, b) -> Dense(2);
        output y,
    }
}

model! {
    /// A small model to nest.
    pub struct Base4 {
        input: [4],
        Dense(3),
    }
}

#[test]
fn the_functional_form_freezes_layers_and_models_alike() {
    let device = Default::default();
    let model = FrozenGraph::<Ad>::new(&device);
    // Dense(3) on 4: 15 frozen; Base4's Dense(3): 15 frozen; Dense(2) on 3: 8 trainable.
    assert_eq!(counts(&model.summary()), ("8".into(), "30".into()));
    let x = Tensor::<Ad, 2>::ones([1, 4], &device);
    let grads = model.forward(x).sum().backward();
    assert!(model.dense.weight.grad(&grads).is_none());
    assert!(model.base4.dense.weight.grad(&grads).is_none());
    assert!(model.dense_1.weight.grad(&grads).is_some());
}
