//! Every layer and argument `model!` accepts, in models that build and run: the tensors
//! they produce have the shapes the macro declared, and the generated code computes what
//! the layers mean.

use burn::module::{AutodiffModule, Param};
use burn::tensor::{Distribution, Tensor};
use kiln::prelude::*;

type B = kiln::backend::Cpu;
type Inner = kiln::backend::CpuBackend;

fn dims(shape: &[Dim]) -> Vec<usize> {
    shape
        .iter()
        .map(|d| d.known().expect("a known dimension"))
        .collect()
}

/// Each layer's output shape and parameter count (Keras's `count_params()`), as the
/// check of `spec` gives them, against `want`.
fn assert_counts(spec: kiln::spec::ModelSpec, want: &[(&str, usize)]) {
    let checked = spec.check().unwrap();
    let rows: Vec<(String, usize)> = checked
        .layers
        .iter()
        .map(|l| (l.output.to_string(), l.params.total()))
        .collect();
    let want: Vec<(String, usize)> = want.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(rows, want);
}

/// `model` saved with its architecture and read back as its JSON form, weights included.
fn json_form<Bk: Backend, M, const I: usize, const O: usize>(
    model: &M,
    name: &str,
) -> kiln::JsonModel<Bk, I, O>
where
    M: burn::module::Module<Bk> + kiln::Model<Bk>,
{
    let path = std::env::temp_dir().join(format!("kiln-{name}-{}.safetensors", std::process::id()));
    kiln::save_model(model, &path).unwrap();
    let loaded = kiln::load_model(&path, &Default::default()).unwrap();
    std::fs::remove_file(&path).unwrap();
    loaded
}

/// `model`'s JSON form, saved and read back with the weights, gives `y` on `x`, as
/// `model` does.
fn agrees_with_json_form<M, const I: usize>(
    model: &M,
    x: Tensor<Inner, I>,
    y: Tensor<Inner, 2>,
    name: &str,
) where
    M: burn::module::Module<Inner> + kiln::Model<Inner>,
{
    let runtime: kiln::JsonModel<Inner, I, 2> = json_form(model, name);
    assert_eq!(kiln::Model::forward(&runtime, x).into_data(), y.into_data());
}

model! {
    /// Every 2-D layer and argument in one network.
    struct Everything2D {
        input: [3, 17, 17],
        Conv2D(8, 3, strides = 2, padding = same, activation = relu, use_bias = false,
               kernel_regularizer = l1(0.01), activity_regularizer = l2(0.001)),
        BatchNormalization(momentum = 0.9, epsilon = 0.001),
        Activation(elu),
        Conv2D(filters = 8, kernel_size = (3, 1), dilation_rate = (1, 2), padding = "same"),
        MaxPooling2D(pool_size = 2, strides = 1),
        AveragePooling2D((2, 3), padding = same),
        Conv2D(4, [2, 2], activation = selu, bias_regularizer = l1_l2(l1 = 0.1, l2 = 0.2)),
        GlobalAveragePooling2D,
        Dropout(rate = 0.1),
        Dense(units = 6, activation = gelu),
        Dense(5, activation = leaky_relu),
        Dense(4, activation = softplus),
        Dense(4, activation = swish),
        Dense(4, activation = tanh),
        Dense(4, activation = linear),
        Reshape((2, -1)),
        Flatten,
        Dense(3, activation = sigmoid),
    }
}

model! {
    /// The 1-D layers, and unknown lengths flowing through them.
    struct Everything1D {
        input: [_, 4],
        Conv1D(8, 3, padding = same, activation = relu),
        Conv1D(8, 2, strides = 2),
        MaxPooling1D(2, padding = same),
        Conv1D(6, 1, dilation_rate = 1),
    }
}

model! {
    /// Dense over the last axis of a sequence, as Keras applies it.
    struct PerStep {
        input: [_, 16],
        Dense(8, activation = relu),
        Dense(2),
    }
}

#[test]
fn every_2d_layer_runs_with_the_declared_shapes() {
    let device = Default::default();
    let model = Everything2D::<B>::new(&device);
    let checked = Everything2D::<B>::spec().check().unwrap();
    let shapes: Vec<String> = checked
        .layers
        .iter()
        .map(|l| l.output.to_string())
        .collect();
    assert_eq!(
        shapes,
        [
            "[8, 9, 9]",
            "[8, 9, 9]",
            "[8, 9, 9]",
            "[8, 9, 9]",
            "[8, 8, 8]",
            "[8, 4, 3]",
            "[4, 3, 2]",
            "[4]",
            "[4]",
            "[6]",
            "[5]",
            "[4]",
            "[4]",
            "[4]",
            "[4]",
            "[2, 2]",
            "[4]",
            "[3]",
        ]
    );
    let x = Tensor::<B, 4>::random([5, 3, 17, 17], Distribution::Default, &device);
    let out = model.forward_train(x.clone());
    assert_eq!(out.logits.dims(), [5, 3]);
    assert_eq!(out.activation, Activation::Sigmoid);
    // The penalties (the first kernel's L1 and its output's L2, a later bias's L1 + L2)
    // are the ones the JSON form of the model adds on the same weights.
    let loaded: kiln::JsonModel<B, 4, 2> = json_form(&model, "everything");
    let penalty = |p: Option<Tensor<B, 1>>| p.expect("a penalty").into_scalar();
    let generated = penalty(out.penalty);
    let runtime = penalty(kiln::Model::forward_train(&loaded, x.clone()).penalty);
    assert!(generated > 0.0);
    assert!(
        (generated - runtime).abs() <= 1e-5 * generated,
        "{generated} vs {runtime}"
    );
    let y = model.valid().forward(x.inner());
    let mut want = vec![5];
    want.extend(dims(&Everything2D::<B>::OUTPUT_SHAPE));
    assert_eq!(y.dims().to_vec(), want);
    let values = y.into_data().to_vec::<f32>().unwrap();
    assert!(
        values.iter().all(|v| (0.0..=1.0).contains(v)),
        "sigmoid outputs: {values:?}"
    );
}

#[test]
fn unknown_lengths_flow_through_1d_layers() {
    let device = Default::default();
    let model = Everything1D::<Inner>::new(&device);
    assert_eq!(
        Everything1D::<Inner>::OUTPUT_SHAPE,
        [Dim::Unknown, Dim::Known(6)]
    );
    for (length, want) in [(10, 3), (16, 4), (7, 2)] {
        let y = model.forward(Tensor::zeros([2, length, 4], &device));
        assert_eq!(y.dims(), [2, want, 6], "length {length}");
    }
}

model! {
    /// Keras's text stack: token ids, their vectors, a convolution and pooling over the
    /// steps, an LSTM, a classifier. Every sequence layer takes `[steps, features]`.
    struct TextStack {
        input: [20],
        Embedding(8, 8),
        Conv1D(16, 3, activation = relu),
        MaxPooling1D(2),
        LSTM(8),
        Dense(2, activation = softmax),
    }
}

#[test]
fn conv1d_slides_over_the_steps_with_channels_last() {
    // Two steps of two channels, [[1, 10], [2, 20]], and a kernel of 2 steps whose weights
    // are 1 for channel 0 and 0 for channel 1: Keras gives 1 + 2 = 3.
    model! {
        struct Slide {
            input: [2, 2],
            Conv1D(1, 2, use_bias = false),
        }
    }
    let device = Default::default();
    let mut model = Slide::<Inner>::new(&device);
    // burn's kernel is [filters, channels, steps].
    model.conv1d.weight =
        Param::from_tensor(Tensor::from_floats([[[1.0, 1.0], [0.0, 0.0]]], &device));
    let x = Tensor::<Inner, 3>::from_floats([[[1.0, 10.0], [2.0, 20.0]]], &device);
    assert_eq!(model.forward(x).into_data().to_vec::<f32>().unwrap(), [3.0]);
}

#[test]
fn keras_s_text_stack_declares_and_trains() {
    let checked = TextStack::<B>::spec().check().unwrap();
    let shapes: Vec<String> = checked
        .layers
        .iter()
        .map(|l| l.output.to_string())
        .collect();
    assert_eq!(shapes, ["[20, 8]", "[18, 16]", "[9, 16]", "[8]", "[2]"]);
    // Keras: 8·8, 3·8·16 + 16, 4·(16·8 + 8·8 + 8), 8·2 + 2.
    assert_eq!(checked.params().total(), 64 + 400 + 800 + 18);
    let device = Default::default();
    <B as Backend>::seed(&device, 11);
    let mut trainer = Trainer::new(TextStack::<B>::new(&device))
        .optimizer(Adam::new().learning_rate(1e-2))
        .loss(Loss::CategoricalCrossentropy)
        .metrics([Metric::Accuracy]);
    let train = kiln::datasets::motif_token_ids(2000, 1);
    trainer
        .fit(
            &train,
            Fit::epochs(4).batch_size(32).verbose(Verbosity::Silent),
        )
        .unwrap();
    let test = kiln::datasets::motif_token_ids(500, 2);
    let accuracy = trainer.evaluate(&test).unwrap().get("accuracy").unwrap();
    assert!(accuracy >= 0.9, "{accuracy}");
}

#[test]
fn dense_applies_to_the_last_axis() {
    let device = Default::default();
    let model = PerStep::<Inner>::new(&device);
    assert_eq!(
        model.forward(Tensor::zeros([3, 7, 16], &device)).dims(),
        [3, 7, 2]
    );
}

model! {
    struct Tiny {
        input: [2],
        Dense(2, activation = relu, kernel_regularizer = l2(0.5), bias_regularizer = l1(0.25)),
        Dense(1, activation = sigmoid, activity_regularizer = l1(0.1)),
    }
}

model! {
    /// A penalty on values without a layer of weights: Keras's ActivityRegularization.
    struct Penalized {
        input: [3],
        Identity,
        ActivityRegularization(l1 = 0.5, l2 = 0.25),
    }
}

#[test]
fn activity_regularization_adds_its_penalty_and_passes_its_input_on() {
    let device = Default::default();
    let model = Penalized::<Inner>::new(&device);
    let x = Tensor::<Inner, 2>::from_floats([[1.0, -2.0, 0.0], [3.0, 0.0, -1.0]], &device);
    let out = model.forward_train(x.clone());
    assert_eq!(out.logits.into_data(), x.clone().into_data());
    // Keras: (0.5·Σ|x| + 0.25·Σx²) / batch 2 = (0.5·7 + 0.25·15) / 2.
    let penalty = out.penalty.unwrap().into_scalar();
    assert!((penalty - 3.625).abs() < 1e-6, "{penalty}");
    let runtime: kiln::JsonModel<Inner, 2, 2> = json_form(&model, "penalized");
    let penalty = kiln::Model::forward_train(&runtime, x)
        .penalty
        .unwrap()
        .into_scalar();
    assert!((penalty - 3.625).abs() < 1e-6, "{penalty}");
}

/// Sets a Linear layer's weights.
fn set(layer: &mut burn::nn::Linear<Inner>, w: Tensor<Inner, 2>, b: Tensor<Inner, 1>) {
    layer.weight = Param::from_tensor(w);
    layer.bias = Some(Param::from_tensor(b));
}

#[test]
fn generated_forward_and_penalties_compute_what_the_layers_mean() {
    let device = Default::default();
    let mut model = Tiny::<Inner>::new(&device);
    set(
        &mut model.dense,
        Tensor::from_floats([[1.0, -1.0], [2.0, 0.5]], &device),
        Tensor::from_floats([0.5, -3.0], &device),
    );
    set(
        &mut model.dense_1,
        Tensor::from_floats([[1.0], [-2.0]], &device),
        Tensor::from_floats([0.25], &device),
    );
    let x = Tensor::<Inner, 2>::from_floats([[1.0, 1.0], [0.0, -1.0]], &device);

    // By hand: h = relu(x·W + b) = [[3.5, 0], [0, 0]]; z = h·V + c = [[3.75], [0.25]].
    let out = model.forward_train(x.clone());
    let z = out.logits.clone().into_data().to_vec::<f32>().unwrap();
    assert_eq!(z, [3.75, 0.25]);
    let y = model.forward(x).into_data().to_vec::<f32>().unwrap();
    let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
    assert!((y[0] - sigmoid(3.75)).abs() < 1e-6 && (y[1] - sigmoid(0.25)).abs() < 1e-6);

    // Penalties: 0.5·Σw² = 0.5·(1 + 1 + 4 + 0.25) = 3.125; 0.25·Σ|b| = 0.25·3.5 = 0.875;
    // activity 0.1·Σ|sigmoid(z)| / batch 2.
    let activity = 0.1 * (sigmoid(3.75) + sigmoid(0.25)) / 2.0;
    let penalty = out.penalty.unwrap().into_scalar();
    assert!(
        (penalty - (3.125 + 0.875 + activity)).abs() < 1e-5,
        "{penalty}"
    );
}

model! {
    /// The recurrent layers, stacked as Keras stacks them, over sequences of any length.
    struct Recurrent {
        input: [_, 16],
        LSTM(32, return_sequences = true),
        GRU(16, return_sequences = true, go_backwards = true, reset_after = false),
        SimpleRNN(8, activation = relu),
        Dense(3, activation = softmax),
    }
}

#[test]
fn recurrent_layers_run_with_keras_s_shapes_and_counts() {
    let device = Default::default();
    let model = Recurrent::<B>::new(&device);
    // Parameter counts from Keras 3's count_params() for the same stack.
    assert_counts(
        Recurrent::<B>::spec(),
        &[
            ("[_, 32]", 6_272),
            ("[_, 16]", 2_352),
            ("[8]", 200),
            ("[3]", 27),
        ],
    );
    use burn::module::Module;
    assert_eq!(model.num_params(), 6_272 + 2_352 + 200 + 27);
    for steps in [1, 5, 12] {
        let x = Tensor::<B, 3>::random([4, steps, 16], Distribution::Default, &device);
        let out = model.forward_train(x);
        assert_eq!(out.logits.dims(), [4, 3], "{steps} steps");
    }
    // The runtime model from the JSON form is the same network.
    let json = model.to_json();
    let runtime = kiln::from_json::<Inner, 3, 2>(&json, &device).unwrap();
    assert_eq!(runtime.num_params(), model.num_params());
    let y = runtime.forward(Tensor::zeros([2, 7, 16], &device));
    assert_eq!(y.dims(), [2, 3]);
}

model! {
    /// Sequences read both ways: every step's two states side by side, then the sum of
    /// the two last states.
    struct BothWays {
        input: [_, 6],
        Bidirectional(LSTM(8, return_sequences = true)),
        Bidirectional(GRU(4), merge_mode = sum),
        Dense(3, activation = softmax),
    }
}

#[test]
fn bidirectional_reads_both_ways_as_keras() {
    let device = Default::default();
    let model = BothWays::<Inner>::new(&device);
    // Keras 3.15's count_params() for the same stack: 2·4·(6·8 + 8·8 + 8), 2·3·(16·4 + 4·4
    // + 2·4), 4·3 + 3.
    assert_counts(
        BothWays::<Inner>::spec(),
        &[("[_, 16]", 960), ("[4]", 528), ("[3]", 15)],
    );
    use burn::module::Module;
    assert_eq!(model.num_params(), 960 + 528 + 15);
    let x = Tensor::<Inner, 3>::random([2, 5, 6], Distribution::Default, &device);
    // The first layer by hand: the forward LSTM's steps beside the backward one's, which
    // reads the sequence reversed and whose steps are put back in the sequence's order.
    let both = &model.bidirectional;
    let (forward, _) = both.forward.forward(x.clone(), None);
    let (backward, _) = both.backward.forward(x.clone().flip([1]), None);
    let by_hand = Tensor::cat(vec![forward, backward.flip([1])], 2);
    let (steps, _, _) = kiln::layers::bidirectional_with_states::<Inner, _, 3>(
        both,
        x.clone(),
        kiln::layers::Merge::Concatenate { dim: 2 },
    );
    let floats = |t: Tensor<Inner, 3>| t.into_data().to_vec::<f32>().unwrap();
    assert_eq!(floats(steps), floats(by_hand));
    // Its JSON form, saved and read back with the weights, is the same network.
    let y = model.forward(x.clone());
    assert_eq!(y.dims(), [2, 3]);
    agrees_with_json_form(&model, x, y, "both-ways");
}

model! {
    /// Keras's activation layers with arguments of their own, the Softmax last.
    struct Rectified {
        input: [6],
        Dense(8),
        ReLU(6.),
        Dense(8),
        LeakyReLU(0.1),
        Dense(8),
        ELU(alpha = 0.5),
        Dense(3),
        Softmax,
    }
}

#[test]
fn activation_layers_run_and_a_last_softmax_splits_off() {
    let device = Default::default();
    let model = Rectified::<Inner>::new(&device);
    let x = Tensor::<Inner, 2>::random([4, 6], Distribution::Normal(0.0, 3.0), &device);
    let train = model.forward_train(x.clone());
    assert_eq!(train.activation, Activation::Softmax);
    let y = model.forward(x.clone());
    let sums: Vec<f32> = y.clone().sum_dim(1).into_data().to_vec().unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
    // By hand: ReLU(6.) caps at 6, LeakyReLU(0.1) and ELU(alpha = 0.5) as burn's own.
    use burn::tensor::activation as act;
    let h = model.dense.forward(x.clone()).clamp(0.0, 6.0);
    let h = act::leaky_relu(model.dense_1.forward(h), 0.1);
    let h = act::elu(model.dense_2.forward(h), 0.5);
    let by_hand = act::softmax(model.dense_3.forward(h), 1);
    let (got, want): (Vec<f32>, Vec<f32>) = (
        y.clone().into_data().to_vec().unwrap(),
        by_hand.into_data().to_vec().unwrap(),
    );
    assert!(
        got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
        "{got:?} {want:?}"
    );
    agrees_with_json_form(&model, x, y, "rectified");
}

model! {
    /// PReLU with one slope per channel, then one per value.
    struct Learned {
        input: [2, 5, 5],
        Conv2D(3, 3, padding = same),
        PReLU(shared_axes = (2, 3)),
        Flatten,
        PReLU,
        Dense(2),
    }
}

#[test]
fn prelu_learns_a_slope_per_channel_or_value() {
    // Keras: PReLU(shared_axes=[1, 2]) after 3 channels has 3 weights; PReLU on 75 values, 75.
    assert_counts(
        Learned::<Inner>::spec(),
        &[
            ("[3, 5, 5]", 57),
            ("[3, 5, 5]", 3),
            ("[75]", 0),
            ("[75]", 75),
            ("[2]", 152),
        ],
    );
    let device = Default::default();
    let mut model = Learned::<Inner>::new(&device);
    let x = Tensor::<Inner, 4>::random([2, 2, 5, 5], Distribution::Normal(0.0, 1.0), &device);
    // The slopes start at 0: a ReLU.
    let conv = model.conv2d.forward(x.clone());
    let relu = |t: Tensor<Inner, 4>| t.clamp_min(0.0);
    let first = kiln::layers::prelu(
        &kiln::spec::layers::PRelu {
            shared_axes: vec![2, 3],
        },
        &model.p_re_lu,
        conv.clone(),
    );
    assert_eq!(first.into_data(), relu(conv.clone()).into_data());
    model.p_re_lu.alpha = Param::from_tensor(Tensor::from_floats([0.5, -1.0, 0.25], &device));
    let y = model.forward(x.clone());
    agrees_with_json_form(&model, x, y, "learned");
}

model! {
    /// Sequences padded, each step repeated, then cropped.
    struct Stepped {
        input: [6, 3],
        Conv1D(4, 3, padding = same),
        ZeroPadding1D((2, 1)),
        UpSampling1D(3),
        Cropping1D((1, 4)),
        Flatten,
        Dense(2),
    }
}

#[test]
fn sequences_lengthen_and_shorten_along_their_steps() {
    // Keras: 6 + 2 + 1 = 9 steps, 27 after the repeats, 22 after the crop.
    assert_counts(
        Stepped::<Inner>::spec(),
        &[
            ("[6, 4]", 40),
            ("[9, 4]", 0),
            ("[27, 4]", 0),
            ("[22, 4]", 0),
            ("[88]", 0),
            ("[2]", 178),
        ],
    );
    let device = Default::default();
    let model = Stepped::<Inner>::new(&device);
    let x = Tensor::<Inner, 3>::random([2, 6, 3], Distribution::Default, &device);
    // By hand: the Conv1D's steps, two zeros before and one after, each three times, the
    // first and the last four cut.
    let conv = model
        .conv1d
        .forward(x.clone().swap_dims(1, 2))
        .swap_dims(1, 2);
    let padded = Tensor::cat(
        vec![
            Tensor::zeros([2, 2, 4], &device),
            conv,
            Tensor::zeros([2, 1, 4], &device),
        ],
        1,
    );
    let repeated = padded
        .reshape([2, 9, 1, 4])
        .repeat_dim(2, 3)
        .reshape([2, 27, 4]);
    let cropped = repeated.slice([0..2, 1..23, 0..4]);
    let y = model.forward(x.clone());
    assert_eq!(
        y.clone().into_data(),
        model.dense.forward(cropped.reshape([2, 88])).into_data()
    );
    agrees_with_json_form(&model, x, y, "stepped");
}

model! {
    /// Token ids looked up, then read by an LSTM.
    struct Embedded {
        input: [_],
        Embedding(100, 8),
        LSTM(4, return_sequences = true),
    }
}

#[test]
fn embedding_looks_up_ids_for_the_layers_after_it() {
    let device = Default::default();
    let model = Embedded::<Inner>::new(&device);
    assert_eq!(
        Embedded::<Inner>::OUTPUT_SHAPE,
        [Dim::Unknown, Dim::Known(4)]
    );
    use burn::module::Module;
    // Keras: Embedding(100, 8) has 800 weights, LSTM(4) on 8 features 4·(4·12 + 4) = 208.
    assert_eq!(model.num_params(), 800 + 208);
    let ids = Tensor::<Inner, 2>::from_floats([[3.0, 99.0, 0.0], [1.0, 1.0, 1.0]], &device);
    assert_eq!(model.forward(ids.clone()).dims(), [2, 3, 4]);
    let runtime = kiln::from_json::<Inner, 2, 3>(&model.to_json(), &device).unwrap();
    assert_eq!(runtime.forward(ids).dims(), [2, 3, 4]);
    assert_eq!(runtime.num_params(), model.num_params());
}

model! {
    /// BatchNormalization of a sequence's features, as Keras's axis -1.
    struct SequenceNorm {
        input: [4, 3],
        BatchNormalization(momentum = 0.5),
    }
}

#[test]
fn batch_normalization_normalizes_a_sequence_s_features() {
    // Keras: four weights per feature (3), whatever the number of steps.
    let params = SequenceNorm::<B>::spec().check().unwrap().params();
    assert_eq!((params.trainable, params.non_trainable), (6, 6));
    let device = Default::default();
    let model = SequenceNorm::<B>::new(&device);
    let x = Tensor::<B, 3>::random([2, 4, 3], Distribution::Default, &device);
    let xs: Vec<f32> = x.clone().into_data().to_vec().unwrap();
    // The training forward pass normalizes with the batch's statistics.
    let ys: Vec<f32> = model.forward_train(x).logits.into_data().to_vec().unwrap();
    let running: Vec<f32> = model
        .batch_normalization
        .running_mean
        .value_sync()
        .into_data()
        .to_vec()
        .unwrap();
    for f in 0..3 {
        // Feature f over the batch and the steps: values 3·i + f.
        let values: Vec<f32> = (0..8).map(|i| xs[3 * i + f]).collect();
        let mean = values.iter().sum::<f32>() / 8.0;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 8.0;
        for i in 0..8 {
            let want = (values[i] - mean) / (var + 1e-3).sqrt();
            assert!(
                (ys[3 * i + f] - want).abs() < 1e-4,
                "feature {f}: {} vs {want}",
                ys[3 * i + f]
            );
        }
        assert!(
            (running[f] - 0.5 * mean).abs() < 1e-5,
            "moving mean of feature {f}: {running:?} vs {}",
            0.5 * mean
        );
    }
}

model! {
    /// The layers Keras users reach for next, one after another: image borders, layer
    /// normalization, upsampling, a permutation, global max pooling, and the sequence
    /// poolings after a RepeatVector.
    struct Reshaping {
        input: [2, 4, 4],
        ZeroPadding2D(1),
        Conv2D(3, 3),
        LayerNormalization,
        UpSampling2D(2),
        Cropping2D(((1, 0), (0, 1))),
        UpSampling2D((1, 2), interpolation = bilinear),
        Permute((1, 3, 2)),
        GlobalMaxPooling2D,
        RepeatVector(5),
        AveragePooling1D(2, strides = 1),
        GlobalMaxPooling1D,
        Dense(2),
    }
}

model! {
    /// No weights at all, so every output value can be worked out by hand.
    struct ImageByHand {
        input: [1, 2, 3],
        Rescaling(1./2, offset = -1),
        UpSampling2D((2, 1)),
        Cropping2D(((1, 1), (0, 1))),
        ZeroPadding2D(((0, 0), (1, 0))),
        Permute((1, 3, 2)),
        Flatten,
    }
}

model! {
    /// The sequence layers by hand.
    struct SequenceByHand {
        input: [3],
        RepeatVector(2),
        Permute((2, 1)),
        AveragePooling1D(2, padding = same),
        GlobalAveragePooling1D,
    }
}

#[test]
fn new_layers_declare_keras_s_shapes_and_counts_and_run_them() {
    // Keras 3 (channels first): only Conv2D (3·3·2·3 + 3), LayerNormalization (gamma and
    // beta per channel) and Dense (3·2 + 2) have weights.
    assert_counts(
        Reshaping::<B>::spec(),
        &[
            ("[2, 6, 6]", 0),
            ("[3, 4, 4]", 57),
            ("[3, 4, 4]", 6),
            ("[3, 8, 8]", 0),
            ("[3, 7, 7]", 0),
            ("[3, 7, 14]", 0),
            ("[3, 14, 7]", 0),
            ("[3]", 0),
            ("[5, 3]", 0),
            ("[4, 3]", 0),
            ("[3]", 0),
            ("[2]", 8),
        ],
    );
    let device = Default::default();
    let model = Reshaping::<B>::new(&device);
    let x = Tensor::<B, 4>::random([3, 2, 4, 4], Distribution::Default, &device);
    let out = model.forward_train(x.clone());
    assert_eq!(out.logits.dims(), [3, 2]);
    // Every step is differentiable: the convolution's kernel gets a gradient through the
    // upsampling, cropping, permutation and poolings after it.
    let grads = out.logits.sum().backward();
    let kernel = model.conv2d.weight.grad(&grads).expect("a gradient");
    assert!(kernel.abs().sum().into_scalar() > 0.0);
}

#[test]
fn new_layers_compute_what_keras_computes() {
    let device = Default::default();
    // One 2x3 image [[1, 2, 3], [4, 5, 6]]. Rescaling(1./2, offset = -1) halves it and takes
    // 1: [[-0.5, 0, 0.5], [1, 1.5, 2]]. UpSampling2D((2, 1)) doubles its rows; Cropping2D
    // cuts the first and last rows and the last column: [[-0.5, 0], [1, 1.5]]; ZeroPadding2D
    // adds a zero column on the left: [[0, -0.5, 0], [0, 1, 1.5]]; Permute transposes it.
    let image =
        Tensor::<Inner, 1>::from_floats([1., 2., 3., 4., 5., 6.], &device).reshape([1, 1, 2, 3]);
    let want_image = [0., 0., -0.5, 1., 0., 1.5];
    // The vector [1, 5, 2] twice, transposed: the steps [1, 1], [5, 5], [2, 2]; pooled in
    // pairs with `same` padding (the padding not counted): [3, 3], [2, 2]; their mean 2.5.
    let vector = Tensor::<Inner, 2>::from_floats([[1., 5., 2.]], &device);
    let want_vector = [2.5, 2.5];
    let values = |t: Tensor<Inner, 2>| t.into_data().to_vec::<f32>().unwrap();
    let generated = ImageByHand::<Inner>::new(&device);
    assert_eq!(values(generated.forward(image.clone())), want_image);
    let generated = SequenceByHand::<Inner>::new(&device);
    assert_eq!(values(generated.forward(vector.clone())), want_vector);
    // The runtime models from the JSON forms take the same steps.
    let json = ImageByHand::<Inner>::new(&device).to_json();
    let runtime = kiln::from_json::<Inner, 4, 2>(&json, &device).unwrap();
    assert_eq!(values(kiln::Model::forward(&runtime, image)), want_image);
    let runtime = kiln::from_json::<Inner, 2, 2>(&generated.to_json(), &device).unwrap();
    assert_eq!(values(kiln::Model::forward(&runtime, vector)), want_vector);
}

#[test]
fn new_layers_agree_between_model_and_its_json_form() {
    let device = Default::default();
    let model = Reshaping::<Inner>::new(&device);
    let loaded: kiln::JsonModel<Inner, 4, 2> = json_form(&model, "reshaping");
    let x = Tensor::<Inner, 4>::random([4, 2, 4, 4], Distribution::Default, &device);
    let want = model
        .forward(x.clone())
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let got = kiln::Model::forward(&loaded, x)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(got, want);
}

model! {
    /// A decoder: a small code grown back into an image by transposed convolutions.
    struct Decoder {
        input: [4, 3, 3],
        Conv2DTranspose(8, 3, strides = 2, activation = relu, kernel_regularizer = l2(0.01)),
        Conv2DTranspose(2, 2, strides = 2, padding = same, bias_regularizer = l1(0.1)),
        Conv2DTranspose(1, 3, padding = same, activation = sigmoid),
    }
}

#[test]
fn conv2d_transpose_grows_images_as_keras_and_regularizes_its_kernel() {
    // keras.layers.Conv2DTranspose's output shapes and count_params() for the same stack.
    assert_counts(
        Decoder::<B>::spec(),
        &[("[8, 7, 7]", 296), ("[2, 14, 14]", 66), ("[1, 14, 14]", 19)],
    );
    let device = Default::default();
    let model = Decoder::<Inner>::new(&device);
    let loaded: kiln::JsonModel<Inner, 4, 4> = json_form(&model, "decoder");
    let x = Tensor::<Inner, 4>::random([2, 4, 3, 3], Distribution::Default, &device);
    // The training forward of the model and of its JSON form: the same logits and the
    // same penalty (the first kernel's L2 and the second bias's L1).
    let generated = model.forward_train(x.clone());
    let runtime = kiln::Model::forward_train(&loaded, x);
    assert_eq!(generated.logits.dims(), [2, 1, 14, 14]);
    let values = |t: Tensor<Inner, 4>| t.into_data().to_vec::<f32>().unwrap();
    assert_eq!(values(runtime.logits), values(generated.logits));
    let penalty = |p: Option<Tensor<Inner, 1>>| p.expect("a penalty").into_scalar();
    let kernel = model
        .conv2d_transpose
        .weight
        .val()
        .powf_scalar(2.0)
        .sum()
        .into_scalar()
        * 0.01;
    let generated = penalty(generated.penalty);
    assert!(
        (generated - kernel).abs() <= 1e-6 * kernel.max(1.0),
        "{generated} vs {kernel}"
    );
    assert_eq!(penalty(runtime.penalty), generated);
}

model! {
    /// Separable convolutions, as in Xception and MobileNet.
    struct Separable {
        input: [3, 9, 9],
        SeparableConv2D(8, 3, depth_multiplier = 2, padding = same, activation = relu,
                        bias_regularizer = l2(0.5)),
        SeparableConv2D(4, 3, strides = 2),
        GlobalAveragePooling2D,
        Dense(2),
    }
}

#[test]
fn separable_conv2d_counts_as_keras_trains_and_agrees_with_its_json_form() {
    // keras.layers.SeparableConv2D(...).count_params(): depthwise 3·3·3·2 + pointwise
    // 6·8 + 8, then 3·3·8 + 8·4 + 4.
    assert_counts(
        Separable::<B>::spec(),
        &[
            ("[8, 9, 9]", 110),
            ("[4, 4, 4]", 108),
            ("[4]", 0),
            ("[2]", 10),
        ],
    );
    let device = Default::default();
    // The depthwise kernels learn: the grouped convolution has its gradient.
    let model = Separable::<B>::new(&device);
    let x = Tensor::<B, 4>::random([2, 3, 9, 9], Distribution::Default, &device);
    let grads = model.forward_train(x).logits.sum().backward();
    let depthwise = model
        .separable_conv2d
        .depthwise
        .weight
        .grad(&grads)
        .expect("a gradient");
    assert!(depthwise.abs().sum().into_scalar() > 0.0);
    // The JSON form computes the same outputs and the same bias penalty: 0.5 · 8 ones.
    let mut model = Separable::<Inner>::new(&device);
    model.separable_conv2d.pointwise.bias = Some(Param::from_tensor(Tensor::ones([8], &device)));
    let loaded: kiln::JsonModel<Inner, 4, 2> = json_form(&model, "separable");
    let x = Tensor::<Inner, 4>::random([2, 3, 9, 9], Distribution::Default, &device);
    let generated = model.forward_train(x.clone());
    let runtime = kiln::Model::forward_train(&loaded, x);
    let values = |t: Tensor<Inner, 2>| t.into_data().to_vec::<f32>().unwrap();
    assert_eq!(values(runtime.logits), values(generated.logits));
    let penalty = |p: Option<Tensor<Inner, 1>>| p.expect("a penalty").into_scalar();
    assert_eq!(penalty(generated.penalty), 4.0);
    assert_eq!(penalty(runtime.penalty), 4.0);
}

model! {
    /// Keras's regularizers that act only while training.
    struct Noisy {
        input: [2, 6, 6],
        GaussianNoise(0.1),
        Conv2D(4, 3),
        SpatialDropout2D(0.25),
        Flatten,
        Reshape((4, 16)),
        SpatialDropout1D(0.25),
        Flatten,
        GaussianDropout(0.2),
        Dense(2),
    }
}

#[test]
fn the_training_regularizers_act_while_training_only() {
    assert_counts(
        Noisy::<B>::spec(),
        &[
            ("[2, 6, 6]", 0),
            ("[4, 4, 4]", 76),
            ("[4, 4, 4]", 0),
            ("[64]", 0),
            ("[4, 16]", 0),
            ("[4, 16]", 0),
            ("[64]", 0),
            ("[64]", 0),
            ("[2]", 130),
        ],
    );
    let device = Default::default();
    let model = Noisy::<Inner>::new(&device);
    let loaded: kiln::JsonModel<Inner, 4, 2> = json_form(&model, "noisy");
    let x = Tensor::<Inner, 4>::random([3, 2, 6, 6], Distribution::Default, &device);
    let values = |t: Tensor<Inner, 2>| t.into_data().to_vec::<f32>().unwrap();
    // At inference they pass the values through: the same outputs every time, and the
    // JSON form's; so does the training pass without autodiff (validation, evaluate).
    let once = values(model.forward(x.clone()));
    assert_eq!(values(model.forward(x.clone())), once);
    assert_eq!(values(kiln::Model::forward(&loaded, x.clone())), once);
    assert_eq!(values(model.forward_train(x.clone()).logits), once);
    // While training they draw anew.
    let model = Noisy::<B>::new(&device);
    let x = Tensor::<B, 4>::from_inner(x);
    let values = |t: Tensor<B, 2>| t.into_data().to_vec::<f32>().unwrap();
    let once = values(model.forward(x.clone()));
    let trained = values(model.forward_train(x.clone()).logits);
    assert_ne!(trained, once);
    assert_ne!(values(model.forward_train(x).logits), trained);
}

model! {
    /// Keras's augmentation layers with fixed draws: a quarter turn, then a brightness
    /// change of a tenth of the value range.
    struct Turned {
        input: [1, 4, 4],
        RandomRotation((0.25, 0.25), fill_mode = constant),
        RandomBrightness((0.1, 0.1), value_range = (0, 20)),
        Flatten,
    }
}

model! {
    /// Every augmentation layer, drawing at random.
    struct Augmenting {
        input: [1, 4, 4],
        RandomFlip(vertical),
        RandomRotation(0.2, interpolation = nearest, fill_value = 0.5),
        RandomTranslation(0.1, (-0.2, 0.1)),
        RandomZoom(0.2, width_factor = (-0.1, 0.3), fill_mode = wrap),
        RandomContrast(0.1, value_range = (-1e3, 1e3)),
        RandomBrightness(0.1),
        RandomGrayscale(0.3),
        Flatten,
    }
}

#[test]
fn augmentation_layers_act_in_the_training_pass_only() {
    assert_counts(
        Augmenting::<B>::spec(),
        &[
            ("[1, 4, 4]", 0),
            ("[1, 4, 4]", 0),
            ("[1, 4, 4]", 0),
            ("[1, 4, 4]", 0),
            ("[1, 4, 4]", 0),
            ("[1, 4, 4]", 0),
            ("[1, 4, 4]", 0),
            ("[16]", 0),
        ],
    );
    let device = Default::default();
    let x = Tensor::<B, 1, burn::tensor::Int>::arange(0..16, &device)
        .float()
        .reshape([1, 1, 4, 4]);
    let values = |t: Tensor<B, 2>| t.into_data().to_vec::<f32>().unwrap();
    let still: Vec<f32> = (0..16).map(|v| v as f32).collect();
    // At inference (and in the JSON form) the images pass through; while training each
    // pass draws anew.
    let model = Augmenting::<B>::new(&device);
    let loaded: kiln::JsonModel<B, 4, 2> = json_form(&model, "augmenting");
    // Every argument through the JSON form.
    assert_eq!(loaded.to_json(), model.to_json());
    let spec = Augmenting::<B>::spec();
    assert_eq!(
        kiln::spec::ModelSpec::from_json(&model.to_json()).unwrap(),
        spec
    );
    assert_eq!(values(model.forward(x.clone())), still);
    assert_eq!(values(kiln::Model::forward(&loaded, x.clone())), still);
    let trained = values(model.forward_train(x.clone()).logits);
    assert_ne!(trained, still);
    assert_ne!(values(model.forward_train(x.clone()).logits), trained);
    // Fixed draws give Keras's quarter turn, 2 brighter, in model! and in the JSON form.
    let model = Turned::<B>::new(&device);
    let loaded: kiln::JsonModel<B, 4, 2> = json_form(&model, "turned");
    assert_eq!(values(model.forward(x.clone())), still);
    let want = [
        5., 9., 13., 17., 4., 8., 12., 16., 3., 7., 11., 15., 2., 6., 10., 14.,
    ];
    for trained in [
        values(model.forward_train(x.clone()).logits),
        values(kiln::Model::forward_train(&loaded, x.clone()).logits),
    ] {
        for (got, want) in trained.iter().zip(want) {
            assert!((got - want).abs() < 1e-4, "{trained:?}");
        }
    }
}

model! {
    /// MobileNet's block: a depthwise convolution, then a pointwise one.
    struct Mobile {
        input: [3, 9, 9],
        DepthwiseConv2D(3, depth_multiplier = 2, padding = same, activation = relu,
                        depthwise_regularizer = l2(0.5)),
        Conv2D(4, 1),
        GlobalAveragePooling2D,
        Dense(2),
    }
}

#[test]
fn depthwise_conv2d_counts_as_keras_trains_and_agrees_with_its_json_form() {
    // keras.layers.DepthwiseConv2D(3, depth_multiplier=2).count_params() on 3 channels:
    // 3·3·3·2 + 6; then the 1×1 Conv2D 6·4 + 4 and the Dense 4·2 + 2.
    assert_counts(
        Mobile::<B>::spec(),
        &[
            ("[6, 9, 9]", 60),
            ("[4, 9, 9]", 28),
            ("[4]", 0),
            ("[2]", 10),
        ],
    );
    let device = Default::default();
    let model = Mobile::<B>::new(&device);
    assert_eq!(model.depthwise_conv2d.weight.dims(), [6, 1, 3, 3]);
    let x = Tensor::<B, 4>::random([2, 3, 9, 9], Distribution::Default, &device);
    let grads = model.forward_train(x).logits.sum().backward();
    let depthwise = model
        .depthwise_conv2d
        .weight
        .grad(&grads)
        .expect("a gradient");
    assert!(depthwise.abs().sum().into_scalar() > 0.0);
    // The JSON form computes the same outputs and the same kernel penalty.
    let model = Mobile::<Inner>::new(&device);
    let loaded: kiln::JsonModel<Inner, 4, 2> = json_form(&model, "mobile");
    let x = Tensor::<Inner, 4>::random([2, 3, 9, 9], Distribution::Default, &device);
    let generated = model.forward_train(x.clone());
    let runtime = kiln::Model::forward_train(&loaded, x);
    let values = |t: Tensor<Inner, 2>| t.into_data().to_vec::<f32>().unwrap();
    assert_eq!(values(runtime.logits), values(generated.logits));
    let kernel = model
        .depthwise_conv2d
        .weight
        .val()
        .square()
        .sum()
        .into_scalar()
        * 0.5;
    let penalty = |p: Option<Tensor<Inner, 1>>| p.expect("a penalty").into_scalar();
    let generated = penalty(generated.penalty);
    assert!((generated - kernel).abs() <= 1e-6 * kernel.max(1.0));
    assert_eq!(penalty(runtime.penalty), generated);
}

model! {
    /// Keras's per-step classifier: an LSTM's every step through one Dense.
    struct Tagger {
        input: [_, 6],
        LSTM(8, return_sequences = true),
        TimeDistributed(Dropout(0.1)),
        TimeDistributed(Dense(3, activation = softmax, kernel_regularizer = l2(0.01))),
    }
}

model! {
    /// Small images as the steps of a sequence, each flattened and weighed.
    struct Frames {
        input: [4, 2, 3],
        TimeDistributed(Flatten),
        TimeDistributed(Dense(2)),
    }
}

#[test]
fn time_distributed_applies_one_layer_to_every_step() {
    // Keras: LSTM(8) on 6 features 4·(6·8 + 8·8 + 8); TimeDistributed(Dense(3)) 8·3 + 3.
    assert_counts(
        Tagger::<B>::spec(),
        &[("[_, 8]", 480), ("[_, 8]", 0), ("[_, 3]", 27)],
    );
    let device = Default::default();
    // Each frame flattened, then the same Dense on every step.
    let frames = Frames::<Inner>::new(&device);
    let x = Tensor::<Inner, 4>::random([2, 4, 2, 3], Distribution::Default, &device);
    let linear = frames
        .time_distributed_1
        .as_ref()
        .expect("the Dense's weights");
    let want = linear.forward(x.clone().reshape([2, 4, 6]));
    let values = |t: Tensor<Inner, 3>| t.into_data().to_vec::<f32>().unwrap();
    assert_eq!(values(frames.forward(x)), values(want));
    // The tagger and its JSON form: the same probabilities per step, the same penalty.
    let tagger = Tagger::<Inner>::new(&device);
    let loaded: kiln::JsonModel<Inner, 3, 3> = json_form(&tagger, "tagger");
    let x = Tensor::<Inner, 3>::random([3, 7, 6], Distribution::Default, &device);
    let generated = tagger.forward_train(x.clone());
    let runtime = kiln::Model::forward_train(&loaded, x.clone());
    assert_eq!(generated.logits.dims(), [3, 7, 3]);
    assert_eq!(values(runtime.logits), values(generated.logits));
    let penalty = |p: Option<Tensor<Inner, 1>>| p.expect("a penalty").into_scalar();
    assert_eq!(penalty(runtime.penalty), penalty(generated.penalty));
    let sums = tagger.forward(x).sum_dim(2);
    assert!(values(sums).iter().all(|s| (s - 1.0).abs() < 1e-5));
}
