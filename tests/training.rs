//! The Keras workflow on `model!` models: fit with validation, history, predictions,
//! callbacks, and the regularization penalty's exact gradient.

use burn::module::{AutodiffModule, Param};
use burn::tensor::Tensor;
use kiln::prelude::*;

type Ad = kiln::backend::Cpu;

// Keras's mnist_convnet, as the benchmarks and the other tests declare it.
#[path = "../benches/common/models.rs"]
mod models;
use models::MnistConvnet;

model! {
    struct Classifier {
        input: [1, 28, 28],
        Conv2D(8, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
        Dense(10, activation = softmax),
    }
}

model! {
    /// A small residual network in the functional form.
    struct Residual {
        input x: [1, 28, 28],
        let h = x -> Conv2D(8, 3, activation = relu) -> MaxPooling2D(2);
        let r = h -> Conv2D(8, 3, padding = same, activation = relu);
        let y = Add(h, r) -> Flatten -> Dense(10, activation = softmax);
        output y,
    }
}

model! {
    /// The Classifier with Keras's augmentation layers in front.
    struct AugmentedClassifier {
        input: [1, 28, 28],
        RandomRotation(0.03, fill_mode = constant),
        RandomTranslation(0.05, 0.05, fill_mode = constant),
        RandomZoom(0.05, fill_mode = constant),
        Conv2D(8, 3, activation = relu),
        MaxPooling2D(2),
        Flatten,
        Dense(10, activation = softmax),
    }
}

fn trainer() -> Trainer<Ad, Classifier<Ad>> {
    let device = Default::default();
    <Ad as Backend>::seed(&device, 5);
    Trainer::new(Classifier::<Ad>::new(&device))
        .optimizer(Adam::new().learning_rate(3e-3))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy, Metric::TOP_5])
}

/// The seed's LossHistory callback: the running loss after every batch.
#[derive(Default)]
struct LossHistory {
    losses: Vec<f64>,
    epochs_seen: Vec<usize>,
}

impl<B: burn::tensor::backend::AutodiffBackend, M> Callback<B, M> for LossHistory {
    fn on_train_batch_end(
        &mut self,
        _batch: usize,
        logs: &kiln::BatchLogs,
        _control: &mut kiln::Control<M>,
    ) -> kiln::CallbackResult {
        self.losses.extend(logs.get().get("loss"));
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _logs: &Logs,
        _control: &mut kiln::Control<M>,
    ) -> kiln::CallbackResult {
        self.epochs_seen.push(epoch);
        Ok(())
    }
}

#[test]
fn fit_reports_every_metric_and_learns_the_digits() {
    let digits = kiln::datasets::synthetic_digits(600, 1);
    let mut trainer = trainer();
    let mut losses = LossHistory::default();
    let history = trainer
        .fit(
            &digits,
            Fit::epochs(3)
                .batch_size(50)
                .validation_split(0.2)
                .verbose(Verbosity::Silent)
                .callback(&mut losses),
        )
        .unwrap();
    assert_eq!(
        history.names().collect::<Vec<_>>(),
        [
            "loss",
            "accuracy",
            "top_k_categorical_accuracy",
            "val_loss",
            "val_accuracy",
            "val_top_k_categorical_accuracy"
        ]
    );
    assert_eq!(history.epochs(), [0, 1, 2]);
    let val = history.get("val_accuracy").unwrap();
    assert!(val[2] > 0.8, "validation accuracy {val:?}");
    // 480 training images in batches of 50: 10 batches per epoch, each logged.
    assert_eq!(losses.losses.len(), 30);
    assert_eq!(losses.epochs_seen, [0, 1, 2]);
    assert_eq!(trainer.iterations(), 30);

    let test = kiln::datasets::synthetic_digits(50, 9);
    let probabilities = trainer.predict_proba(&test).unwrap();
    assert_eq!(probabilities.dims(), [50, 10]);
    let sums = probabilities
        .clone()
        .sum_dim(1)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-4));
    let classes = trainer.predict_classes(&test).unwrap();
    let right = classes
        .iter()
        .zip(test.labels())
        .filter(|(c, l)| **c == usize::from(**l))
        .count();
    let logs = trainer.evaluate(&test).unwrap();
    let accuracy = logs.get("accuracy").unwrap();
    assert!(
        (accuracy - right as f64 / 50.0).abs() < 1e-9,
        "{accuracy} vs {right}/50"
    );
    // Top-5: the label among the five most probable classes, counted by hand.
    let rows = probabilities.into_data().to_vec::<f32>().unwrap();
    let in_top_5 = rows
        .chunks(10)
        .zip(test.labels())
        .filter(|(row, label)| {
            let p = row[usize::from(**label)];
            row.iter().filter(|&&q| q > p).count() < 5
        })
        .count();
    let top_5 = logs.get("top_k_categorical_accuracy").unwrap();
    assert!(
        (top_5 - in_top_5 as f64 / 50.0).abs() < 1e-9,
        "{top_5} vs {in_top_5}/50"
    );
    assert!(top_5 >= accuracy);
    assert_eq!(trainer.predict(&test).unwrap().dims(), [50, 10]);
}

#[test]
fn a_callback_can_stop_training() {
    struct StopAfterOne;
    impl<B: burn::tensor::backend::AutodiffBackend, M> Callback<B, M> for StopAfterOne {
        fn on_epoch_end(
            &mut self,
            _epoch: usize,
            _logs: &Logs,
            control: &mut kiln::Control<M>,
        ) -> kiln::CallbackResult {
            control.stop_training();
            Ok(())
        }
    }
    let digits = kiln::datasets::synthetic_digits(40, 1);
    let history = trainer()
        .fit(
            &digits,
            Fit::epochs(5)
                .batch_size(20)
                .verbose(Verbosity::Silent)
                .callback(StopAfterOne),
        )
        .unwrap();
    assert_eq!(history.epochs(), [0]);
}

model! {
    struct Linear1 {
        input: [3],
        Dense(1, use_bias = false),
    }
}

model! {
    struct Linear1L2 {
        input: [3],
        Dense(1, use_bias = false, kernel_regularizer = l2(0.25)),
    }
}

#[test]
fn l2_adds_exactly_two_lambda_w_to_the_gradient() {
    let device = Default::default();
    let w = Tensor::<Ad, 2>::from_floats([[0.5], [-1.0], [2.0]], &device);
    let x = Tensor::<Ad, 2>::from_floats([[1.0, 2.0, 3.0]], &device);
    let mut plain = Linear1::<Ad>::new(&device);
    plain.dense.weight = Param::from_tensor(w.clone());
    let mut regularized = Linear1L2::<Ad>::new(&device);
    regularized.dense.weight = Param::from_tensor(w.clone());

    let gradient = |out: kiln::TrainForward<Ad, Tensor<Ad, 2>>, weight: &Param<Tensor<Ad, 2>>| {
        let loss = out.logits.sum() + out.penalty.unwrap_or_else(|| Tensor::zeros([1], &device));
        let grads = loss.backward();
        weight
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    let g_plain = gradient(plain.forward_train(x.clone()), &plain.dense.weight);
    let g_l2 = gradient(regularized.forward_train(x), &regularized.dense.weight);
    let w = w.inner().into_data().to_vec::<f32>().unwrap();
    for ((a, b), w) in g_plain.iter().zip(&g_l2).zip(&w) {
        assert!(
            (b - a - 2.0 * 0.25 * w).abs() < 1e-6,
            "{b} - {a} != 2·0.25·{w}"
        );
    }
    // The generated model's penalty is what the trainer adds: 0.25 · sum(w²).
    let penalty = regularized
        .valid()
        .forward_train(Tensor::zeros([1, 3], &device))
        .penalty
        .unwrap()
        .into_scalar();
    assert!((penalty - 0.25 * (0.25 + 1.0 + 4.0)).abs() < 1e-6);
}

/// Test accuracy of the model `build` makes on backend `B` (after seeding it with
/// `seed`), after `epochs` of Adam at `learning_rate` in batches of `batch_size`.
fn accuracy_on<B, M>(
    (seed, build): (u64, fn(&B::Device) -> M),
    learning_rate: f64,
    (epochs, batch_size): (usize, usize),
    train: &impl kiln::datasets::Dataset,
    test: &impl kiln::datasets::Dataset,
) -> f64
where
    B: burn::tensor::backend::AutodiffBackend,
    M: AutodiffModule<B> + Model<B>,
    M::InnerModule: Model<B::InnerBackend>,
{
    let device = Default::default();
    B::seed(&device, seed);
    let mut trainer = Trainer::new(build(&device))
        .optimizer(Adam::new().learning_rate(learning_rate))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    trainer
        .fit(
            train,
            Fit::epochs(epochs)
                .batch_size(batch_size)
                .verbose(Verbosity::Silent),
        )
        .unwrap();
    trainer.evaluate(test).unwrap().get("accuracy").unwrap()
}

/// kiln's CPU backend (its own convolutions, pooling and random draws) trains the
/// mnist_convnet as well as burn-flex's own backend does, from the same seed.
#[test]
fn kiln_cpu_and_flex_train_a_cnn_to_the_same_accuracy() {
    type Flex = kiln::backend::Flex;
    let (train, test) = (
        kiln::datasets::synthetic_digits(3_000, 1),
        kiln::datasets::synthetic_digits(500, 2),
    );
    let ours = accuracy_on::<Ad, _>((3, MnistConvnet::<Ad>::new), 1e-3, (3, 32), &train, &test);
    let flex = accuracy_on::<Flex, _>((3, MnistConvnet::<Flex>::new), 1e-3, (3, 32), &train, &test);
    assert!(
        ours >= 0.95 && flex >= 0.95 && (ours - flex).abs() <= 0.02,
        "kiln-cpu {ours}, flex {flex}"
    );
}

#[test]
fn the_mnist_cnn_learns_the_synthetic_digits_to_95_percent() {
    let accuracy = accuracy_on::<Ad, _>(
        (3, MnistConvnet::<Ad>::new),
        1e-3,
        (3, 32),
        &kiln::datasets::synthetic_digits(3_000, 1),
        &kiln::datasets::synthetic_digits(500, 2),
    );
    assert!(
        accuracy >= 0.95,
        "synthetic digits test accuracy {accuracy}"
    );
}

#[test]
fn a_cnn_with_augmentation_layers_learns_the_synthetic_digits() {
    let accuracy = accuracy_on::<Ad, _>(
        (3, AugmentedClassifier::<Ad>::new),
        3e-3,
        (3, 32),
        &kiln::datasets::synthetic_digits(2_000, 1),
        &kiln::datasets::synthetic_digits(500, 2),
    );
    assert!(accuracy >= 0.9, "accuracy {accuracy}");
}

#[test]
fn a_residual_graph_learns_the_synthetic_digits_to_95_percent() {
    let accuracy = accuracy_on::<Ad, _>(
        (3, Residual::<Ad>::new),
        3e-3,
        (3, 32),
        &kiln::datasets::synthetic_digits(2_000, 1),
        &kiln::datasets::synthetic_digits(500, 2),
    );
    assert!(accuracy >= 0.95, "accuracy {accuracy}");
}

model! {
    /// Two inputs: which of them has the larger sum.
    struct Compare {
        input a: [4],
        input b: [4],
        let y = Concatenate(a, b) -> Dense(16, activation = relu) -> Dense(2, activation = softmax);
        output y,
    }
}

/// Numbers in [0, 1) drawn from `seed` (a linear congruential generator).
fn uniform(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// `n` examples of two inputs of 4 values each, labelled 1 when the first sums higher.
fn comparisons(n: usize, seed: u64) -> kiln::datasets::ArrayDataset {
    let mut next = uniform(seed);
    let a: Vec<f32> = (0..n * 4).map(|_| next()).collect();
    let b: Vec<f32> = (0..n * 4).map(|_| next()).collect();
    let labels = (0..n)
        .map(|i| {
            let sum = |x: &[f32]| x[i * 4..i * 4 + 4].iter().sum::<f32>();
            usize::from(sum(&a) > sum(&b))
        })
        .collect();
    kiln::datasets::ArrayDataset::classification(a, vec![4], labels, 2)
        .unwrap()
        .and_input(b, vec![4])
        .unwrap()
}

#[test]
fn a_model_with_two_inputs_trains_on_two_part_examples() {
    let accuracy = accuracy_on::<Ad, _>(
        (4, Compare::<Ad>::new),
        1e-2,
        (15, 32),
        &comparisons(2_000, 1),
        &comparisons(500, 2),
    );
    assert!(accuracy >= 0.95, "accuracy {accuracy}");
    // predict takes the same two-part examples; one part is refused with the shapes.
    let device = Default::default();
    let trainer = Trainer::new(Compare::<Ad>::new(&device));
    assert_eq!(trainer.predict(&comparisons(7, 3)).unwrap().dims(), [7, 2]);
    let one_part =
        kiln::datasets::ArrayDataset::classification(vec![0.0; 8], vec![8], vec![0], 2).unwrap();
    assert_eq!(
        trainer.predict(&one_part).unwrap_err().to_string(),
        "the model takes 2 inputs, [4] and [4], but the prediction examples are [8]; give one part per input with ArrayDataset::and_input"
    );
}

model! {
    /// Keras's tabular regression: features of very different scales standardized first.
    struct Standardized {
        input: [3],
        Normalization,
        Dense(1),
    }
}

model! {
    /// A Normalization alone, to be used as a layer.
    struct Scaler {
        input: [3],
        Normalization,
    }
}

model! {
    /// A model holding a Normalization inside another model.
    struct Wrapped {
        input: [3],
        Model(Scaler),
        Dense(1),
    }
}

/// `n` rows of three features on scales a thousand, a hundredth and ten wide, and the
/// target `0.003·x₀ + 200·x₁ - 0.5·x₂ + 1`.
fn tabular(n: usize, seed: u64) -> (Vec<f32>, kiln::datasets::ArrayDataset) {
    let mut next = uniform(seed);
    let x: Vec<f32> = (0..n)
        .flat_map(|_| [1000.0 * next(), 0.01 * next(), 10.0 * next() - 5.0])
        .collect();
    let y = x
        .chunks(3)
        .map(|r| 0.003 * r[0] + 200.0 * r[1] - 0.5 * r[2] + 1.0)
        .collect();
    let data = kiln::datasets::ArrayDataset::regression(x.clone(), vec![3], y, 1).unwrap();
    (x, data)
}

#[test]
fn adapt_standardizes_each_feature_and_the_state_is_kept() {
    let device = Default::default();
    let (x, train) = tabular(1_000, 5);
    let mut trainer = Trainer::new(Standardized::<Ad>::new(&device))
        .optimizer(Adam::new().learning_rate(0.05))
        .loss(Loss::MeanSquaredError);
    // Keras 3.15's summary of the same model: 7 non-trainable (mean, variance, count).
    let summary = trainer.model().summary().to_string();
    assert!(
        summary.contains("Trainable params: 4\nNon-trainable params: 7"),
        "{summary}"
    );
    trainer.adapt(&train).unwrap();
    // Keras's adapt: each feature's mean and population variance, and the count.
    let floats = |t: Tensor<Ad, 1>| t.into_data().to_vec::<f32>().unwrap();
    let layer = &trainer.model().normalization;
    let (mean, variance) = (
        floats(layer.mean.as_ref().unwrap().value()),
        floats(layer.variance.as_ref().unwrap().value()),
    );
    for k in 0..3 {
        let column: Vec<f64> = x.iter().skip(k).step_by(3).map(|&v| f64::from(v)).collect();
        let m = column.iter().sum::<f64>() / 1_000.0;
        let v = column.iter().map(|c| (c - m).powi(2)).sum::<f64>() / 1_000.0;
        assert!(
            (f64::from(mean[k]) - m).abs() <= 1e-5 * m.abs().max(1.0),
            "{k}: {mean:?} {m}"
        );
        assert!(
            (f64::from(variance[k]) - v).abs() <= 1e-4 * v,
            "{k}: {variance:?} {v}"
        );
    }
    assert_eq!(floats(layer.count.as_ref().unwrap().value()), [1000.0]);
    // The standardized features train a linear fit in a few epochs; unfreezing the
    // layer leaves its state out of training.
    trainer.unfreeze(&["normalization"]).unwrap();
    trainer
        .fit(
            &train,
            Fit::epochs(20).batch_size(32).verbose(Verbosity::Silent),
        )
        .unwrap();
    let loss = trainer
        .evaluate(&tabular(200, 6).1)
        .unwrap()
        .get("loss")
        .unwrap();
    assert!(loss < 0.01, "loss {loss}");
    // The mean and variance are state: not trained, and saved with the weights.
    assert_eq!(
        floats(trainer.model().normalization.mean.as_ref().unwrap().value()),
        mean
    );
    let path = std::env::temp_dir().join(format!("kiln-adapted-{}.bpk", std::process::id()));
    kiln::save_weights(trainer.model(), &path).unwrap();
    let mut loaded = Standardized::<Ad>::new(&device);
    kiln::load_weights(&mut loaded, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        floats(loaded.normalization.variance.as_ref().unwrap().value()),
        variance
    );
    // A model read from JSON adapts as well; one without the layer says so.
    let json = Standardized::<Ad>::new(&device).to_json();
    let runtime: kiln::JsonModel<Ad, 2, 2> = kiln::from_json(&json, &device).unwrap();
    let mut runtime = Trainer::new(runtime);
    runtime.adapt(&train).unwrap();
    // Its output on the data it adapted to: each feature of mean 0 and variance 1.
    let standardized = runtime.predict_features(&train, "normalization").unwrap();
    let values = standardized.into_values().unwrap();
    for k in 0..3 {
        let column: Vec<f64> = values
            .iter()
            .skip(k)
            .step_by(3)
            .map(|&v| f64::from(v))
            .collect();
        let m = column.iter().sum::<f64>() / 1_000.0;
        let v = column.iter().map(|c| (c - m).powi(2)).sum::<f64>() / 1_000.0;
        assert!(m.abs() < 1e-4 && (v - 1.0).abs() < 1e-4, "{k}: {m} {v}");
    }
    let err = Trainer::new(Wrapped::<Ad>::new(&device)).adapt(&train);
    assert_eq!(
        err.unwrap_err().to_string(),
        "Normalization layer `scaler.normalization` is inside a model used as a layer, which adapt does not reach; give it its mean and variance, or move it to the outer model"
    );
    let err = Trainer::new(Compare::<Ad>::new(&device)).adapt(&comparisons(4, 1));
    assert_eq!(
        err.unwrap_err().to_string(),
        "the model has no Normalization layer to adapt (one declared without `mean` and `variance`)"
    );
}

#[test]
fn every_hook_runs_in_order() {
    #[derive(Default)]
    struct Hooks(Vec<String>);
    impl<B: burn::tensor::backend::AutodiffBackend, M> Callback<B, M> for Hooks {
        fn on_train_begin(&mut self, _c: &mut kiln::Control<M>) -> kiln::CallbackResult {
            self.0.push("train_begin".into());
            Ok(())
        }
        fn on_epoch_begin(&mut self, e: usize, _c: &mut kiln::Control<M>) -> kiln::CallbackResult {
            self.0.push(format!("epoch_begin {e}"));
            Ok(())
        }
        fn on_train_batch_begin(
            &mut self,
            b: usize,
            _c: &mut kiln::Control<M>,
        ) -> kiln::CallbackResult {
            self.0.push(format!("batch_begin {b}"));
            Ok(())
        }
        fn on_train_batch_end(
            &mut self,
            b: usize,
            _l: &kiln::BatchLogs,
            _c: &mut kiln::Control<M>,
        ) -> kiln::CallbackResult {
            self.0.push(format!("batch_end {b}"));
            Ok(())
        }
        fn on_test_begin(&mut self, _c: &mut kiln::Control<M>) -> kiln::CallbackResult {
            self.0.push("test_begin".into());
            Ok(())
        }
        fn on_test_end(&mut self, logs: &Logs, _c: &mut kiln::Control<M>) -> kiln::CallbackResult {
            self.0.push(format!(
                "test_end {}",
                logs.iter().map(|(n, _)| n).collect::<Vec<_>>().join(",")
            ));
            Ok(())
        }
        fn on_epoch_end(
            &mut self,
            e: usize,
            _l: &Logs,
            _c: &mut kiln::Control<M>,
        ) -> kiln::CallbackResult {
            self.0.push(format!("epoch_end {e}"));
            Ok(())
        }
        fn on_train_end(&mut self, _l: &Logs, _c: &mut kiln::Control<M>) -> kiln::CallbackResult {
            self.0.push("train_end".into());
            Ok(())
        }
        fn on_predict_begin(&mut self, _c: &mut kiln::Control<M>) -> kiln::CallbackResult {
            self.0.push("predict_begin".into());
            Ok(())
        }
        fn on_predict_end(&mut self, n: usize, _c: &mut kiln::Control<M>) -> kiln::CallbackResult {
            self.0.push(format!("predict_end {n}"));
            Ok(())
        }
    }
    let digits = kiln::datasets::synthetic_digits(30, 1);
    let mut hooks = Hooks::default();
    let mut trainer = trainer();
    trainer
        .fit(
            &digits,
            Fit::epochs(1)
                .batch_size(10)
                .validation_split(1.0 / 3.0)
                .verbose(Verbosity::Silent)
                .callback(&mut hooks),
        )
        .unwrap();
    trainer.predict_with(&digits, &mut [&mut hooks]).unwrap();
    assert_eq!(
        hooks.0,
        [
            "train_begin",
            "epoch_begin 0",
            "batch_begin 0",
            "batch_end 0",
            "batch_begin 1",
            "batch_end 1",
            "test_begin",
            "test_end loss,accuracy,top_k_categorical_accuracy",
            "epoch_end 0",
            "train_end",
            "predict_begin",
            "predict_end 30",
        ]
    );
}

#[test]
fn fit_augments_on_the_device() {
    let digits = kiln::datasets::synthetic_digits(600, 1);
    let augment = kiln::datasets::Augment::new()
        .width_shift_range(0.05)
        .height_shift_range(0.05)
        .rotation_range(5.0)
        .on_device(true);
    let history = trainer()
        .fit(
            &digits,
            Fit::epochs(3)
                .batch_size(50)
                .validation_split(0.2)
                .augment(augment)
                .verbose(Verbosity::Silent),
        )
        .unwrap();
    let val = history.get("val_accuracy").unwrap();
    assert!(val[2] > 0.7, "validation accuracy {val:?}");
}

#[test]
fn examples_kept_on_the_device_train_as_batches_sent_there() {
    // The same seeded run, shuffled and augmented on the device, with every example put on
    // the device first or each batch sent when used: the same logs, the same weights.
    let digits = kiln::datasets::synthetic_digits(300, 1);
    let run = |on_device: bool| {
        let mut trainer = trainer();
        let augment = kiln::datasets::Augment::new()
            .width_shift_range(0.1)
            .rotation_range(10.0)
            .on_device(true);
        let fit = Fit::epochs(2)
            .batch_size(64)
            .validation_split(0.2)
            .augment(augment)
            .data_on_device(on_device)
            .verbose(Verbosity::Silent);
        let history = trainer.fit(&digits, fit).unwrap();
        let outputs = trainer.predict(&digits).unwrap().into_data();
        (history.to_json(), outputs.to_vec::<f32>().unwrap())
    };
    let (on, sent) = (run(true), run(false));
    assert!(on.0.contains("val_accuracy"), "{}", on.0);
    assert_eq!(on, sent);
}

model! {
    /// A classifier whose activity penalty is a mean over each batch's rows.
    struct Active {
        input: [4],
        Dense(3, activation = softmax, activity_regularizer = l2(1.0)),
    }
}

#[test]
fn a_padded_batch_leaves_its_padding_out_of_the_activity_penalty() {
    // 8 examples in batches of 3: the last holds 2, padded with a repeat of the first. The
    // penalty is a mean over a batch's rows: over the 2, not the 3.
    let x: Vec<f32> = (0..32).map(|i| ((i * 7) % 11) as f32 / 3.0 - 1.5).collect();
    let data =
        kiln::datasets::ArrayDataset::classification(x, vec![4], vec![0, 1, 2, 0, 1, 2, 0, 1], 3)
            .unwrap();
    let device = Default::default();
    let model = Active::<Ad>::new(&device);
    // burn initializes weights at their first use, each clone its own: first use them.
    let _ = model.forward(Tensor::zeros([1, 4], &device));
    let logs = |fixed| {
        Trainer::new(model.clone())
            .loss(Loss::SparseCategoricalCrossentropy)
            .fixed_batch_shape(fixed)
            .evaluate_batched(&data, 3)
            .unwrap()
            .get("loss")
            .unwrap()
    };
    let (padded, short) = (logs(true), logs(false));
    assert!((padded - short).abs() < 1e-6, "{padded} against {short}");
}

model! {
    /// The sequence_classifier example's LSTM.
    struct MotifLstm {
        input: [_, 8],
        LSTM(32),
        Dense(2, activation = softmax),
    }
}

#[test]
fn an_lstm_learns_whether_a_motif_occurs() {
    let accuracy = accuracy_on::<Ad, _>(
        (2, MotifLstm::<Ad>::new),
        3e-3,
        (6, 64),
        &kiln::datasets::motif_sequences(4_000, 1),
        &kiln::datasets::motif_sequences(500, 2),
    );
    assert!(accuracy >= 0.95, "motif test accuracy {accuracy}");
}

model! {
    /// An LSTM reading the motif task's sequences both ways.
    struct MotifBothWays {
        input: [_, 8],
        Bidirectional(LSTM(8)),
        Dense(2, activation = softmax),
    }
}

#[test]
fn a_bidirectional_lstm_learns_whether_a_motif_occurs() {
    let accuracy = accuracy_on::<Ad, _>(
        (3, MotifBothWays::<Ad>::new),
        1e-2,
        (4, 64),
        &kiln::datasets::motif_sequences(4_000, 1),
        &kiln::datasets::motif_sequences(500, 2),
    );
    assert!(accuracy >= 0.95, "motif test accuracy {accuracy}");
}

model! {
    /// The motif task through attention: trigrams found by a Conv1D, every step then
    /// mixed by self-attention, which all the gradients pass through.
    struct MotifAttention {
        input tokens: [20, 8],
        let grams = tokens -> Conv1D(16, 3, activation = relu);
        let y = MultiHeadAttention(grams, grams, num_heads = 2, key_dim = 8) -> GlobalMaxPooling1D -> Dense(2, activation = softmax);
        output y,
    }
}

#[test]
fn self_attention_learns_whether_a_motif_occurs() {
    let accuracy = accuracy_on::<Ad, _>(
        (4, MotifAttention::<Ad>::new),
        3e-3,
        (4, 64),
        &kiln::datasets::motif_sequences(4_000, 1),
        &kiln::datasets::motif_sequences(500, 2),
    );
    assert!(accuracy >= 0.95, "motif test accuracy {accuracy}");
}

model! {
    /// The motif task through Bahdanau's attention: each trigram step attends to every
    /// other, with a learned scale per feature.
    struct MotifAdditive {
        input tokens: [20, 8],
        let grams = tokens -> Conv1D(16, 3, activation = relu);
        let y = AdditiveAttention(grams, grams) -> GlobalMaxPooling1D -> Dense(2, activation = softmax);
        output y,
    }
}

#[test]
fn additive_attention_learns_whether_a_motif_occurs() {
    let accuracy = accuracy_on::<Ad, _>(
        (4, MotifAdditive::<Ad>::new),
        3e-3,
        (8, 64),
        &kiln::datasets::motif_sequences(4_000, 1),
        &kiln::datasets::motif_sequences(500, 2),
    );
    assert!(accuracy >= 0.95, "motif test accuracy {accuracy}");
}

model! {
    /// Ids of the motif task looked up, then an LSTM.
    struct MotifIds {
        input: [_],
        Embedding(8, 4),
        LSTM(8),
        Dense(2, activation = softmax),
    }
}

#[test]
fn ids_an_embedding_lacks_are_refused_before_training() {
    let device = Default::default();
    let mut trainer = Trainer::new(MotifIds::<Ad>::new(&device))
        .optimizer(Adam::new())
        .loss(Loss::CategoricalCrossentropy);
    let good = kiln::datasets::motif_token_ids(8, 1);
    assert!(trainer.evaluate(&good).is_ok());
    for (value, shown) in [(8.0, "8"), (2.5, "2.5"), (-1.0, "-1")] {
        let mut x = vec![0.0; 3 * 20];
        x[20 + 7] = value;
        let bad =
            kiln::datasets::ArrayDataset::classification(x, vec![20], vec![0, 1, 0], 2).unwrap();
        let error = trainer
            .fit(&bad, Fit::epochs(1).verbose(Verbosity::Silent))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "training example 1 holds {shown} at step 7, but the Embedding's token ids are whole numbers from 0 to 7 (input_dim = 8)"
            )
        );
    }
}
