//! The functional form of `model!`: graphs with skip connections, merges, several inputs
//! and outputs build, run, compute what their nodes mean, train, and survive JSON.

use burn::module::Param;
use burn::tensor::{Distribution, Tensor, TensorData};
use kiln::prelude::*;

type B = kiln::backend::Cpu;
type Inner = kiln::backend::CpuBackend;

model! {
    /// DESIGN.md's skip connection.
    pub struct SkipNet {
        input x: [3, 8, 8],
        let h = x -> Conv2D(4, 3, padding = same) -> BatchNormalization -> Activation(relu);
        let r = h -> Conv2D(4, 3, padding = same);
        let y = Add(h, r) -> Activation(relu) -> GlobalAveragePooling2D -> Dense(10, activation = softmax);
        output y,
    }
}

model! {
    /// Two inputs joined, then one Dense: small enough to compute by hand.
    struct TwoInputs {
        input a: [3],
        input b: [2],
        let joined = Concatenate(a, b, axis = -1);
        let y = joined -> Dense(2);
        output y;
    }
}

model! {
    /// Every merge, a binding taken twice, an input given straight out, and two outputs.
    struct Merges {
        input x: [4],
        input z: [4];
        let s = Add(x, z);
        let m = Multiply(x, z);
        let v = Average(s, m, x);
        let big = Maximum(v, z) -> Dense(3, activation = relu);
        let both = Concatenate(big, s) -> Dense(2, activation = sigmoid);
        output both;
        output x;
    }
}

model! {
    /// Channels joined along axis 1 of channels-first images.
    struct Branches {
        input image: [1, 6, 6],
        let wide = image -> Conv2D(3, 3, padding = same);
        let narrow = image -> Conv2D(2, 1);
        let y = Concatenate(wide, narrow, axis = 1) -> Flatten -> Dense(4, activation = softmax);
        output y,
    }
}

fn values<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

model! {
    /// An input named as the training pass's own flag.
    struct NamedLikeTheFlag {
        input training: [4],
        let dense = training -> Dense(2);
        output dense,
    }
}

#[test]
fn an_input_may_be_named_training() {
    let device = Default::default();
    let model = NamedLikeTheFlag::<B>::new(&device);
    let x = Tensor::<B, 2>::ones([3, 4], &device);
    assert_eq!(model.forward(x.clone()).dims(), [3, 2]);
    assert_eq!(model.forward_train(x).logits.dims(), [3, 2]);
}

model! {
    /// Inputs named as the arguments of `features` and of the `Model` impl's methods.
    struct NamedLikeTheArguments {
        input layer: [2],
        input tap: [2],
        input x: [2],
        let add = Add(layer, tap);
        let dense = Concatenate(add, x) -> Dense(2);
        output dense,
    }
}

#[test]
fn inputs_may_be_named_as_the_methods_arguments() {
    let device = Default::default();
    let model = NamedLikeTheArguments::<B>::new(&device);
    let [layer, tap, x] = [1.0, 2.0, 3.0].map(|v| Tensor::<B, 2>::full([3, 2], v, &device));
    let add = model
        .features("add", layer.clone(), tap.clone(), x.clone())
        .unwrap();
    assert_eq!(add.into_values().unwrap(), vec![3.0; 6]);
    let inputs = (layer.clone(), tap.clone(), x.clone());
    let dense = kiln::Model::features(&model, "dense", inputs.clone()).unwrap();
    assert_eq!(
        dense.into_values().unwrap(),
        values(model.forward(layer, tap, x))
    );
    assert_eq!(kiln::Model::forward(&model, inputs).dims(), [3, 2]);
}

#[test]
fn shapes_and_parameters_are_declared() {
    assert_eq!(
        SkipNet::<B>::INPUT_SHAPE,
        [Dim::Known(3), Dim::Known(8), Dim::Known(8)]
    );
    assert_eq!(SkipNet::<B>::OUTPUT_SHAPE, [Dim::Known(10)]);
    // 112 + 16 (8 non-trainable) + 148 + 50, as Keras counts them.
    let params = SkipNet::<B>::spec().check().unwrap().params();
    assert_eq!(
        (params.trainable, params.non_trainable),
        (112 + 8 + 148 + 50, 8)
    );
    assert_eq!(Branches::<B>::OUTPUT_SHAPE, [Dim::Known(4)]);
    assert_eq!(
        Merges::<B>::INPUT_SHAPES,
        [&[Dim::Known(4)][..], &[Dim::Known(4)][..]]
    );
    assert_eq!(
        Merges::<B>::OUTPUT_SHAPES,
        [&[Dim::Known(2)][..], &[Dim::Known(4)][..]]
    );
    let summary = SkipNet::<Inner>::new(&Default::default())
        .summary()
        .to_string();
    assert!(summary.contains("Connected to"), "{summary}");
    assert!(
        summary.contains(" add (Add) ") && summary.contains("['activation[0][0]',"),
        "{summary}"
    );
}

#[test]
fn a_skip_connection_runs_and_splits_its_softmax() {
    let device = Default::default();
    let model = SkipNet::<Inner>::new(&device);
    let x = Tensor::<Inner, 4>::random([5, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
    let y = model.forward(x.clone());
    assert_eq!(y.dims(), [5, 10]);
    let sums = values(y.sum_dim(1));
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
    let train = model.forward_train(x);
    assert_eq!(train.activation, Activation::Softmax);
    assert!(train.penalty.is_none());
}

#[test]
fn concatenate_then_dense_is_the_hand_computation() {
    let device = Default::default();
    let mut model = TwoInputs::<Inner>::new(&device);
    let w = [
        [0.5f32, -1.0],
        [2.0, 0.25],
        [-0.5, 1.5],
        [1.0, 1.0],
        [0.0, -2.0],
    ];
    model.dense.weight = Param::from_tensor(Tensor::from_data(TensorData::from(w), &device));
    model.dense.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::from([0.1f32, -0.2]),
        &device,
    )));
    let a = Tensor::<Inner, 2>::from_data(TensorData::from([[1.0f32, 2.0, 3.0]]), &device);
    let b = Tensor::<Inner, 2>::from_data(TensorData::from([[4.0f32, 5.0]]), &device);
    let got = values(model.forward(a, b));
    // The same computation by hand: [1, 2, 3, 4, 5] · w + bias.
    let x = [1.0f32, 2.0, 3.0, 4.0, 5.0];
    let want: Vec<f32> = (0..2)
        .map(|j| x.iter().zip(&w).map(|(xi, row)| xi * row[j]).sum::<f32>() + [0.1, -0.2][j])
        .collect();
    assert_eq!(got, want);
}

model! {
    /// Keras's other two merges: the difference, then the smaller of each pair.
    struct Differences {
        input a: [3],
        input b: [3];
        let d = Subtract(a, b);
        let y = Minimum(d, b);
        output y;
    }
}

model! {
    /// Two towers compared by the cosine of their outputs, as Keras's Siamese networks.
    struct Towers {
        input a: [4],
        input b: [4];
        let u = a -> Dense(3);
        let v = b -> Dense(3);
        let similarity = Dot(u, v, axes = 1, normalize = true);
        output similarity;
    }
}

#[test]
fn dot_gives_the_cosine_of_two_towers() {
    let device = Default::default();
    let model = Towers::<Inner>::new(&device);
    let a = Tensor::<Inner, 2>::random([5, 4], Distribution::Default, &device);
    let b = Tensor::<Inner, 2>::random([5, 4], Distribution::Default, &device);
    let y = model.forward(a.clone(), b.clone());
    assert_eq!(y.dims(), [5, 1]);
    let (u, v) = (model.dense.forward(a), model.dense_1.forward(b));
    let norm = |t: Tensor<Inner, 2>| t.square().sum_dim(1).sqrt();
    let cosine = (u.clone() * v.clone()).sum_dim(1) / (norm(u) * norm(v));
    let (got, want) = (values(y), values(cosine));
    assert!(
        got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-5),
        "{got:?} {want:?}"
    );
}

#[test]
fn subtract_and_minimum_compute_as_keras() {
    let device = Default::default();
    let model = Differences::<Inner>::new(&device);
    let a = Tensor::<Inner, 2>::from_data(TensorData::from([[1.0f32, -2.0, 3.0]]), &device);
    let b = Tensor::<Inner, 2>::from_data(TensorData::from([[2.0f32, 4.0, -1.0]]), &device);
    // a - b = [-1, -6, 4]; its minimum with b.
    assert_eq!(values(model.forward(a, b)), [-1.0, -6.0, -1.0]);
}

#[test]
fn every_merge_computes_its_element_wise_rule() {
    let device = Default::default();
    let model = Merges::<Inner>::new(&device);
    let x = Tensor::<Inner, 2>::from_data(TensorData::from([[1.0f32, -2.0, 3.0, 0.5]]), &device);
    let z = Tensor::<Inner, 2>::from_data(TensorData::from([[2.0f32, 4.0, -1.0, 0.5]]), &device);
    let (both, same) = model.forward(x.clone(), z.clone());
    assert_eq!(both.dims(), [1, 2]);
    assert_eq!(values(same), values(x.clone()));
    // The node `big` by hand: max((x + z + x * z + x) / 3, z), through the Dense.
    let v = (x.clone() + z.clone() + x.clone() * z.clone() + x.clone()).div_scalar(3.0);
    assert_eq!(
        values(v.clone().max_pair(z.clone())),
        vec![2.0, 4.0, 2.0 / 3.0, 1.75 / 3.0]
    );
    let big = kiln::activation::apply(Activation::Relu, model.dense.forward(v.max_pair(z.clone())));
    let s = x + z;
    let by_hand = kiln::activation::apply(
        Activation::Sigmoid,
        model.dense_1.forward(Tensor::cat(vec![big, s], 1)),
    );
    assert_eq!(values(both), values(by_hand));
}

#[test]
fn channels_concatenate_along_axis_one() {
    let device = Default::default();
    let model = Branches::<Inner>::new(&device);
    let x = Tensor::<Inner, 4>::random([2, 1, 6, 6], Distribution::Default, &device);
    assert_eq!(model.forward(x).dims(), [2, 4]);
    let summary = model.summary().to_string();
    assert!(summary.contains("(None, 5, 6, 6)"), "{summary}");
    assert!(summary.contains("(None, 180)"), "{summary}");
}

#[test]
fn a_graph_survives_json_with_its_outputs() {
    let device = Default::default();
    let json = SkipNet::<Inner>::new(&device).to_json();
    let runtime: kiln::JsonModel<Inner, 4, 2> = kiln::from_json(&json, &device).unwrap();
    assert_eq!(runtime.to_json(), json);
    assert_eq!(
        runtime.summary().to_string(),
        SkipNet::<Inner>::new(&device).summary().to_string()
    );
    let x = Tensor::<Inner, 4>::random([3, 3, 8, 8], Distribution::Default, &device);
    let y = kiln::Model::forward(&runtime, x);
    assert_eq!(y.dims(), [3, 10]);
    let json = Merges::<Inner>::new(&device).to_json();
    let err = kiln::from_json::<Inner, 2, 2>(&json, &device).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the JSON model does not fit this model: a JsonModel takes one input and gives one output; this one has 2 inputs and 2 outputs (build it as a JsonGraph)"
    );
    // Several inputs and outputs run as a JsonGraph.
    let graph = kiln::JsonGraph::<Inner>::from_json(&json, &device).unwrap();
    let x = Tensor::<Inner, 2>::from_data(TensorData::from([[1.0f32, -2.0, 3.0, 0.5]]), &device);
    let z = Tensor::<Inner, 2>::from_data(TensorData::from([[2.0f32, 4.0, -1.0, 0.5]]), &device);
    let dynamic = |t: Tensor<Inner, 2>| kiln::DynTensor::new(t).unwrap();
    let outputs = graph
        .forward(vec![dynamic(x.clone()), dynamic(z.clone())])
        .unwrap();
    assert_eq!(outputs[0].dims(), [1, 2]);
    assert_eq!(
        values(outputs[1].clone().tensor::<2>().unwrap()),
        values(x.clone())
    );
    assert_eq!(
        graph
            .forward(vec![dynamic(x.clone())])
            .unwrap_err()
            .to_string(),
        "the model takes 2 inputs, got 1 tensors"
    );
    let wide = Tensor::<Inner, 2>::zeros([1, 5], &device);
    assert_eq!(
        graph
            .forward(vec![dynamic(x), dynamic(wide)])
            .unwrap_err()
            .to_string(),
        "input `z` takes examples of [4], got [5]"
    );
}

model! {
    /// Two sequences of lengths known only at run time, added step by step.
    struct AddSequences {
        input a: [_, 4],
        input b: [_, 4],
        let y = Add(a, b) -> GlobalAveragePooling1D -> Dense(2, activation = softmax);
        output y,
    }
}

#[test]
fn sequences_of_lengths_that_do_not_fit_the_model_are_refused_by_layer() {
    let device = Default::default();
    let trainer = Trainer::new(AddSequences::<B>::new(&device));
    let pair = |steps_a: usize, steps_b: usize| {
        kiln::datasets::ArrayDataset::classification(
            vec![0.5; 3 * steps_a * 4],
            vec![steps_a, 4],
            vec![0, 1, 0],
            2,
        )
        .unwrap()
        .and_input(vec![0.25; 3 * steps_b * 4], vec![steps_b, 4])
        .unwrap()
    };
    // Equal lengths, whatever they are, fit.
    assert_eq!(trainer.predict(&pair(5, 5)).unwrap().dims(), [3, 2]);
    assert_eq!(trainer.predict(&pair(2, 2)).unwrap().dims(), [3, 2]);
    // Unequal ones are named at the layer that cannot take them, before any step runs.
    assert_eq!(
        trainer.predict(&pair(5, 7)).unwrap_err().to_string(),
        "the model does not fit the prediction examples of [5, 4] and [7, 4]: Add needs inputs of one shape, got [5, 4] from input `a` and [7, 4] from input `b`; make them agree (a Conv2D or Dense to match the channels, or Concatenate to join them)"
    );
    let err = trainer.evaluate(&pair(3, 2)).unwrap_err().to_string();
    assert!(
        err.starts_with("the model does not fit the evaluation examples of [3, 4] and [2, 4]: Add needs inputs of one shape"),
        "{err}"
    );
    // The same model read from JSON refuses them as it runs.
    let graph =
        kiln::JsonGraph::<Inner>::from_json(&AddSequences::<B>::new(&device).to_json(), &device)
            .unwrap();
    let steps =
        |n: usize| kiln::DynTensor::new(Tensor::<Inner, 3>::ones([1, n, 4], &device)).unwrap();
    assert_eq!(
        graph.forward(vec![steps(6), steps(6)]).unwrap()[0].dims(),
        [1, 2]
    );
    assert_eq!(
        graph
            .forward(vec![steps(6), steps(4)])
            .unwrap_err()
            .to_string(),
        "the model does not fit examples of [6, 4] and [4, 4]: Add needs inputs of one shape, got [6, 4] from input `a` and [4, 4] from input `b`; make them agree (a Conv2D or Dense to match the channels, or Concatenate to join them)"
    );
}

#[test]
fn a_saved_graph_loads_with_its_weights_both_ways() {
    let device = Default::default();
    let model = SkipNet::<Inner>::new(&device);
    let path =
        std::env::temp_dir().join(format!("kiln-skipnet-{}.safetensors", std::process::id()));
    kiln::save_model(&model, &path).unwrap();
    let loaded: kiln::JsonModel<Inner, 4, 2> = kiln::load_model(&path, &device).unwrap();
    let x = Tensor::<Inner, 4>::random([2, 3, 8, 8], Distribution::Default, &device);
    assert_eq!(
        values(kiln::Model::forward(&loaded, x.clone())),
        values(model.forward(x.clone()))
    );
    kiln::save_model(&loaded, &path).unwrap();
    let mut generated = SkipNet::<Inner>::new(&device);
    kiln::load_weights(&mut generated, &path).unwrap();
    assert_eq!(
        values(generated.forward(x.clone())),
        values(model.forward(x))
    );
    std::fs::remove_file(path).unwrap();
}

model! {
    /// A feature extractor, declared on its own.
    pub struct FeatureExtractor {
        input: [1, 12, 12],
        Conv2D(4, 3, activation = relu, kernel_regularizer = l2(0.01)),
        MaxPooling2D(2),
        Flatten,
    }
}

model! {
    /// The extractor used as one layer of a classifier.
    pub struct Composed {
        input: [1, 12, 12],
        Model(FeatureExtractor),
        Dense(3, activation = softmax),
    }
}

model! {
    /// The extractor shared by two branches of a graph (two instances, as Keras would
    /// with two calls of the class).
    struct ComposedGraph {
        input x: [1, 12, 12],
        let a = x -> Model(FeatureExtractor);
        let b = x -> Model(FeatureExtractor) -> Dense(100);
        let y = Add(a, b) -> Dense(2);
        output y,
    }
}

#[test]
fn a_model_is_a_layer_of_another() {
    let device = Default::default();
    let model = Composed::<Inner>::new(&device);
    assert_eq!(Composed::<Inner>::OUTPUT_SHAPE, [Dim::Known(3)]);
    let x = Tensor::<Inner, 4>::random([2, 1, 12, 12], Distribution::Default, &device);
    // The nested model's forward, then the Dense, by hand.
    let by_hand = kiln::activation::apply(
        Activation::Softmax,
        model
            .dense
            .forward(model.feature_extractor.forward(x.clone())),
    );
    assert_eq!(values(model.forward(x.clone())), values(by_hand));
    // Its penalty counts while training: 0.01 · Σw² of the nested kernel.
    let w = model.feature_extractor.conv2d.weight.val();
    let want = values(w.powf_scalar(2.0).sum().mul_scalar(0.01))[0];
    let got = values(model.forward_train(x).penalty.unwrap())[0];
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    // The nested model is one row, its layers indented beneath; the totals count it once.
    let want = r#"Model: "Composed"
___________________________________________________________________
 Layer (type)                      Output Shape             Param #
===================================================================
 feature_extractor (Model)         (None, 100)                   40

   conv2d (Conv2D)                 (None, 4, 10, 10)             40

   max_pooling2d (MaxPooling2D)    (None, 4, 5, 5)                0

   flatten (Flatten)               (None, 100)                    0

 dense (Dense)                     (None, 3)                    303
===================================================================
Total params: 343
Trainable params: 343
Non-trainable params: 0
___________________________________________________________________"#;
    assert_eq!(model.summary().to_string(), want);
    let graph = ComposedGraph::<Inner>::new(&device);
    let x = Tensor::<Inner, 4>::random([2, 1, 12, 12], Distribution::Default, &device);
    assert_eq!(graph.forward(x).dims(), [2, 2]);
    let names: Vec<String> = ComposedGraph::<Inner>::spec()
        .layers
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(
        names,
        [
            "feature_extractor",
            "feature_extractor_1",
            "dense",
            "add",
            "dense_1"
        ]
    );
}

#[test]
fn a_composed_model_survives_json_and_saving() {
    let device = Default::default();
    let model = Composed::<Inner>::new(&device);
    let json = model.to_json();
    assert!(json.contains(r#""class_name": "Model""#), "{json}");
    let path =
        std::env::temp_dir().join(format!("kiln-composed-{}.safetensors", std::process::id()));
    kiln::save_model(&model, &path).unwrap();
    let loaded: kiln::JsonModel<Inner, 4, 2> = kiln::load_model(&path, &device).unwrap();
    let x = Tensor::<Inner, 4>::random([2, 1, 12, 12], Distribution::Default, &device);
    assert_eq!(
        values(kiln::Model::forward(&loaded, x.clone())),
        values(model.forward(x.clone()))
    );
    // The penalty of the nested kernel counts in the runtime model too.
    let runtime = kiln::Model::forward_train(&loaded, x.clone())
        .penalty
        .unwrap();
    let generated = model.forward_train(x.clone()).penalty.unwrap();
    assert_eq!(values(runtime), values(generated));
    kiln::save_model(&loaded, &path).unwrap();
    let mut again = Composed::<Inner>::new(&device);
    kiln::load_weights(&mut again, &path).unwrap();
    assert_eq!(values(again.forward(x.clone())), values(model.forward(x)));
    std::fs::remove_file(path).unwrap();
}

model! {
    /// Final states as more outputs: an LSTM's `h` and `c`, a GRU's state.
    struct States {
        input seq: [_, 3],
        let (all, h, c) = seq -> LSTM(4, return_sequences = true, return_state = true);
        let (last, state) = all -> GRU(5, return_state = true);
        let y = Concatenate(h, c, state, last) -> Dense(2, activation = softmax);
        output y,
        output all,
        output h,
    }
}

model! {
    /// One output, so that it runs from JSON too; `_` skips a state.
    struct StatesOut {
        input seq: [6, 3],
        let (all, _, c) = seq -> LSTM(4, return_sequences = true, return_state = true, go_backwards = true);
        let y = all -> SimpleRNN(3);
        let z = Concatenate(y, c) -> Dense(2);
        output z,
    }
}

model! {
    /// An input named as the variable of the GRU's state once was (`gru[1]` was `t_gru__1`).
    struct NamedLikeAState {
        input seq: [6, 3],
        input gru__1: [3],
        let (all, h) = seq -> GRU(4, return_state = true);
        let joined = Concatenate(gru__1, h, all);
        let y = joined -> Dense(2);
        output y,
    }
}

#[test]
fn an_input_named_like_a_state_keeps_both() {
    let device = Default::default();
    let model = NamedLikeAState::<B>::new(&device);
    let seq = Tensor::<B, 3>::random([2, 6, 3], Distribution::Default, &device);
    let extra = Tensor::<B, 2>::full([2, 3], 7.0, &device);
    let joined = model
        .features("concatenate", seq.clone(), extra.clone())
        .unwrap();
    assert_eq!(joined.dims(), [2, 11]);
    let h = model.features("gru", seq.clone(), extra.clone()).unwrap();
    let (joined, h) = (joined.into_values().unwrap(), h.into_values().unwrap());
    // Each row: the input's 3 values, then the GRU's final state twice (its output).
    for (row, state) in joined.chunks(11).zip(h.chunks(4)) {
        assert_eq!(&row[..3], [7.0; 3]);
        assert_eq!(&row[3..7], state);
        assert_eq!(&row[7..], state);
    }
    assert_eq!(model.forward(seq, extra).dims(), [2, 2]);
}

#[test]
fn recurrent_layers_give_their_final_states() {
    let device = Default::default();
    let model = States::<Inner>::new(&device);
    let x = Tensor::<Inner, 3>::random([2, 7, 3], Distribution::Default, &device);
    let (y, all, h) = model.forward(x.clone());
    assert_eq!(
        (y.dims(), all.dims(), h.dims()),
        ([2, 2], [2, 7, 4], [2, 4])
    );
    // h is the last step of the sequence; c is the LSTM's cell, computed by burn.
    let last_step = all.clone().slice([0..2, 6..7, 0..4]).reshape([2, 4]);
    assert_eq!(values(h), values(last_step));
    let (_, state) = model.lstm.forward(x, None);
    let gru_states = model.gru.forward(all, None);
    let gru_last = gru_states.slice([0..2, 6..7, 0..5]).reshape([2, 5]);
    let joined = Tensor::cat(
        vec![state.hidden, state.cell, gru_last.clone(), gru_last],
        1,
    );
    let by_hand = kiln::activation::apply(Activation::Softmax, model.dense.forward(joined));
    assert_eq!(values(y), values(by_hand));
    let summary = model.summary().to_string();
    assert!(
        summary.contains("[(None, None, 4), (None, 4), (None, 4)]")
            && summary.contains("['lstm[0][1]',"),
        "{summary}"
    );
}

model! {
    /// A Bidirectional LSTM's final states: the forward layer's `h` and `c`, then the
    /// backward one's.
    struct BothStates {
        input seq: [5, 3],
        let (y, h, c, h_back, c_back) = seq -> Bidirectional(LSTM(4, return_state = true), merge_mode = mul);
        let z = Concatenate(y, h, c, h_back, c_back) -> Dense(2);
        output z,
    }
}

#[test]
fn bidirectional_gives_both_layers_final_states() {
    let device = Default::default();
    let model = BothStates::<Inner>::new(&device);
    let x = Tensor::<Inner, 3>::random([2, 5, 3], Distribution::Default, &device);
    let both = &model.bidirectional;
    let (_, forward) = both.forward.forward(x.clone(), None);
    let (_, backward) = both.backward.forward(x.clone().flip([1]), None);
    // merge_mode = mul: the product of the two last outputs, which are the `h` states.
    let y = forward.hidden.clone() * backward.hidden.clone();
    let joined = Tensor::cat(
        vec![
            y,
            forward.hidden,
            forward.cell,
            backward.hidden,
            backward.cell,
        ],
        1,
    );
    assert_eq!(
        values(model.forward(x.clone())),
        values(model.dense.forward(joined))
    );
    let summary = model.summary().to_string();
    assert!(
        summary.contains("[(None, 4), (None, 4), (None, 4), (None, 4), (None, 4)]")
            && summary.contains("'bidirectional[0][4]']"),
        "{summary}"
    );
    let y = model.forward(x.clone());
    survives_saving(&model, x, y, "both");
}

/// `model` saved with its architecture and read back gives `y` on sequences `x`, as
/// `model` does.
fn survives_saving<M>(model: &M, x: Tensor<Inner, 3>, y: Tensor<Inner, 2>, name: &str)
where
    M: burn::module::Module<Inner> + kiln::Model<Inner>,
{
    let path = std::env::temp_dir().join(format!("kiln-{name}-{}.safetensors", std::process::id()));
    kiln::save_model(model, &path).unwrap();
    let loaded: kiln::JsonModel<Inner, 3, 2> =
        kiln::load_model(&path, &Default::default()).unwrap();
    std::fs::remove_file(path).unwrap();
    assert_eq!(values(kiln::Model::forward(&loaded, x)), values(y));
}

model! {
    /// A Transformer encoder block (Keras's text classification example's, with dropout on
    /// the attention weights).
    struct Encoder {
        input tokens: [_, 8],
        let attended = MultiHeadAttention(tokens, tokens, num_heads = 2, key_dim = 4, dropout = 0.5);
        let normed = Add(tokens, attended) -> LayerNormalization(epsilon = 1e-6);
        let fed = normed -> Dense(16, activation = relu) -> Dense(8);
        let y = Add(normed, fed) -> LayerNormalization(epsilon = 1e-6) -> GlobalAveragePooling1D -> Dense(2, activation = softmax);
        output y,
    }
}

#[test]
fn attention_runs_in_a_transformer_block() {
    let device = Default::default();
    let model = Encoder::<B>::new(&device);
    let checked = Encoder::<B>::spec().check().unwrap();
    let attention = &checked.layers[0];
    // Keras: MultiHeadAttention(2, 4) on 8 features, four projections of 8·8 + 8.
    assert_eq!(
        (attention.output.to_string(), attention.params.total()),
        ("[_, 8]".to_string(), 288)
    );
    assert_eq!(attention.inbound, ["tokens", "tokens"]);
    let x = Tensor::<B, 3>::random([2, 5, 8], Distribution::Default, &device);
    // The attention weights are dropped in training passes only.
    let train = |m: &Encoder<B>| values(m.forward_train(x.clone()).logits);
    assert_ne!(train(&model), train(&model));
    let inner = burn::module::AutodiffModule::valid(&model);
    let x = x.inner();
    let y = inner.forward(x.clone());
    assert_eq!(y.dims(), [2, 2]);
    assert_eq!(values(inner.forward(x.clone())), values(y.clone()));
    survives_saving(&inner, x, y, "encoder");
}

#[test]
fn states_survive_json_and_saving() {
    let device = Default::default();
    let model = StatesOut::<Inner>::new(&device);
    let x = Tensor::<Inner, 3>::random([2, 6, 3], Distribution::Default, &device);
    let y = model.forward(x.clone());
    survives_saving(&model, x, y, "states");
}
