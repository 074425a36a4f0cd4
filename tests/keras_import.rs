//! Keras models: a `.keras` file becomes the `model!` declaration that builds it and kiln
//! weights that give Keras's predictions. The fixture is written once by
//! `tests/fixtures/make_fixtures.py` (with keras); these tests never need Python.

mod support;

use kiln::import::KerasModel;
use kiln::prelude::*;
use support::{B, assert_close, fixture, reference, refusals_of_damaged, through_a_kiln_file};

model! {
    /// The declaration `kiln::import::keras` prints for the fixture, pasted.
    pub struct KerasCnn {
        input: [1, 12, 12],
        Conv2D(4, 3, activation = relu),
        BatchNormalization,
        MaxPooling2D(2),
        Conv2D(6, 3, padding = same, activation = relu, kernel_regularizer = l2(0.01)),
        Flatten,
        Dense(10, activation = relu),
        Dropout(0.5),
        Dense(3, activation = softmax),
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the functional fixture, pasted.
    pub struct Graph {
        input image: [3, 8, 8],
        let conv2d = image -> Conv2D(4, 3, padding = same, activation = relu);
        let conv2d_1 = conv2d -> Conv2D(4, 3, padding = same);
        let add = Add(conv2d, conv2d_1);
        let concatenate = Concatenate(add, conv2d, axis = 1);
        let global_average_pooling2d = concatenate -> GlobalAveragePooling2D;
        let dense = global_average_pooling2d -> Dense(2, activation = softmax);
        output dense,
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the depthwise fixture, pasted.
    pub struct Mobile {
        input: [3, 7, 7],
        DepthwiseConv2D(3, padding = same, activation = relu, depth_multiplier = 2, depthwise_regularizer = l2(0.01)),
        Conv2D(4, 1),
        GlobalAveragePooling2D,
        Dense(2, activation = softmax),
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the GroupNormalization fixture, pasted.
    pub struct Grouped {
        input: [4, 6, 6],
        Conv2D(8, 3, padding = same),
        GroupNormalization(4),
        Conv2D(6, 3),
        GroupNormalization(6, epsilon = 1e-5, center = false),
        Flatten,
        UnitNormalization,
        Identity,
        ActivityRegularization(l2 = 0.01),
        Normalization(axis = None, mean = 0.01, variance = 0.002),
        Dense(2, activation = softmax),
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the scored attentions' fixture, pasted.
    pub struct Scored {
        input tokens: [6, 5],
        let dense = tokens -> Dense(4);
        let dense_1 = tokens -> Dense(3);
        let attention = Attention(dense, dense_1, dense, use_scale = true, score_mode = concat);
        let additive_attention = AdditiveAttention(dense, dense, use_causal_mask = true);
        let attention_1 = Attention(tokens, dense_1, tokens);
        let concatenate = Concatenate(attention, additive_attention, attention_1, axis = 2);
        let global_average_pooling1d = concatenate -> GlobalAveragePooling1D;
        let dense_2 = global_average_pooling1d -> Dense(2, activation = softmax);
        output dense_2,
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the augmentation fixture, pasted.
    pub struct Augmented {
        input: [3, 8, 8],
        RandomFlip(horizontal),
        RandomRotation((-0.1, 0.1)),
        RandomTranslation(0.1, (-0.2, 0.3), fill_mode = constant, fill_value = 1.0),
        RandomZoom((-0.2, 0.2), width_factor = 0.1, interpolation = nearest),
        RandomContrast((0.0, 0.2)),
        RandomBrightness((-0.1, 0.1), value_range = (0.0, 1.0)),
        RandomGrayscale(0.2),
        Conv2D(3, 3, activation = relu),
        Flatten,
        Dense(2, activation = softmax),
    }
}

model! {
    /// The base the fine-tuning fixture calls in inference mode, pasted.
    pub struct FrozenBase {
        input: [2, 6, 6],
        Conv2D(3, 3),
        BatchNormalization,
        GlobalAveragePooling2D,
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the fine-tuning fixture, pasted.
    pub struct FineTuned {
        input image: [2, 6, 6],
        let frozen_base = image -> Model(FrozenBase);
        let dropout = frozen_base -> Dropout(0.2);
        let dense = dropout -> Dense(2, activation = softmax);
        output dense,
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the Normalization fixture, pasted.
    pub struct Normalized {
        input: [2, 5, 5],
        Normalization,
        Conv2D(3, 3, activation = relu),
        Normalization(axis = None, mean = 0.5, variance = 4.0),
        GlobalAveragePooling2D,
        Dense(3),
        Normalization(mean = (1.0, -1.0, 0.5), variance = (4.0, 1.0, 0.25), invert = true),
        Dense(2, activation = softmax),
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the PReLU fixture, pasted.
    pub struct Learned {
        input: [2, 5, 5],
        Conv2D(3, 3, padding = same),
        PReLU(shared_axes = (2, 3)),
        Conv2D(2, 1),
        PReLU,
        Flatten,
        Dense(2, activation = softmax),
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the states fixture, pasted.
    pub struct States {
        input seq: [6, 3],
        let (lstm, lstm_h, lstm_c) = seq -> LSTM(4, return_sequences = true, return_state = true);
        let (bidirectional, bidirectional_h, bidirectional_h_back) = lstm -> Bidirectional(GRU(3, return_state = true), merge_mode = sum);
        let (_, lstm_1_h, _) = seq -> LSTM(2, return_state = true);
        let concatenate = Concatenate(bidirectional, bidirectional_h, bidirectional_h_back, lstm_h, lstm_c, lstm_1_h, axis = 1);
        let dense = concatenate -> Dense(2, activation = softmax);
        output dense,
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the attention fixture, pasted.
    pub struct Attended {
        input tokens: [6, 4],
        let dense = tokens -> Dense(5);
        let dense_1 = tokens -> Dense(3);
        let multi_head_attention = MultiHeadAttention(tokens, dense, dense_1, num_heads = 2, key_dim = 3, value_dim = 2, dropout = 0.1, output_shape = 4);
        let multi_head_attention_1 = MultiHeadAttention(multi_head_attention, multi_head_attention, num_heads = 3, key_dim = 2, use_bias = false, use_causal_mask = true);
        let add = Add(multi_head_attention, multi_head_attention_1);
        let global_average_pooling1d = add -> GlobalAveragePooling1D;
        let dense_2 = global_average_pooling1d -> Dense(2, activation = softmax);
        output dense_2,
    }
}

model! {
    /// The declaration `kiln::import::keras` prints for the Bidirectional fixture, pasted.
    pub struct BothWays {
        input: [7, 3],
        Bidirectional(LSTM(4, return_sequences = true)),
        Bidirectional(GRU(3), merge_mode = ave),
        Dense(2, activation = softmax),
    }
}

model! {
    pub struct Base {
        input: [1, 8, 8],
        Conv2D(2, 3, activation = relu),
        Flatten,
    }
}
model! {
    pub struct Outer {
        input: [1, 8, 8],
        Model(Base),
        Dense(2, activation = softmax),
    }
}

#[test]
fn a_keras_file_prints_its_model_declaration() {
    let imported = kiln::import::keras(fixture("keras_cnn.keras")).unwrap();
    let declared = include_str!("keras_import.rs");
    let start = declared.find("model! {\n    /// The declaration").unwrap();
    let pasted: String = declared[start..]
        .lines()
        .filter(|l| !l.trim_start().starts_with("///"))
        .take(13)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(imported.declaration("KerasCnn"), pasted);
    assert_eq!(
        imported.spec.check().unwrap().params(),
        KerasCnn::<B>::spec().check().unwrap().params()
    );
}

#[test]
fn imported_weights_give_keras_s_predictions() {
    let device = Default::default();
    let imported = kiln::import::keras(fixture("keras_cnn.keras")).unwrap();
    let (x, want) = reference("keras_cnn", [2, 1, 12, 12]);

    // At run time, from the file alone.
    let runtime = imported.model::<B, 4, 2>(&device).unwrap();
    assert_close(runtime.forward(x.clone()), &want);

    // In the declared model, through a kiln weights file.
    let model = through_a_kiln_file(
        "keras_cnn",
        |path| imported.save_weights(path),
        KerasCnn::<B>::new(&device),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn a_damaged_keras_file_is_an_error_never_a_panic() {
    let bytes = std::fs::read(fixture("keras_cnn.keras")).unwrap();
    assert_eq!(
        KerasModel::from_bytes(&bytes[..1000])
            .unwrap_err()
            .to_string(),
        "this Keras model file cannot be read: not a zip archive (no end of central directory record)"
    );
    // Every cut and a spread of changed bytes: each read either succeeds or says why.
    let errors = refusals_of_damaged(&bytes, 97, |b| KerasModel::from_bytes(b).is_ok());
    assert!(errors > 0);
}

#[test]
fn recurrent_layers_and_embeddings_import_with_keras_s_gates() {
    let device = Default::default();
    let rnn = kiln::import::keras(fixture("keras_rnn.keras")).unwrap();
    assert_eq!(
        rnn.declaration("Sequences"),
        "model! {\n    pub struct Sequences {\n        input: [10, 3],\n        LSTM(8, return_sequences = true),\n        GRU(6),\n        Dense(2, activation = softmax),\n    }\n}\n"
    );
    let (x, want) = reference("keras_rnn", [2, 10, 3]);
    assert_close(rnn.model::<B, 3, 2>(&device).unwrap().forward(x), &want);

    let tokens = kiln::import::keras(fixture("keras_embedding.keras")).unwrap();
    assert_eq!(
        tokens.declaration("Tokens"),
        "model! {\n    pub struct Tokens {\n        input: [12],\n        Embedding(20, 5),\n        SimpleRNN(4),\n        Dense(1, activation = sigmoid),\n    }\n}\n"
    );
    let (x, want) = reference("keras_embedding", [2, 12]);
    assert_close(tokens.model::<B, 2, 2>(&device).unwrap().forward(x), &want);
}

#[test]
fn weights_saved_alone_load_into_the_declared_model() {
    let device = Default::default();
    let mut model = KerasCnn::<B>::new(&device);
    let loaded = kiln::import::keras_weights(&mut model, fixture("keras_cnn.weights.h5")).unwrap();
    assert_eq!(loaded.applied.len(), 12);
    let (x, want) = reference("keras_cnn", [2, 1, 12, 12]);
    assert_close(model.forward(x), &want);
    let err = kiln::import::keras_weights(&mut model, fixture("keras_cnn_io.json")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("not an HDF5 file: its first 8 bytes are not HDF5's signature"),
        "{err}"
    );
}

#[test]
fn keras_s_text_stack_imports_with_its_1d_layers() {
    let text = kiln::import::keras(fixture("keras_text.keras")).unwrap();
    assert_eq!(
        text.declaration("Text"),
        "model! {\n    pub struct Text {\n        input: [20],\n        Embedding(8, 8),\n        Conv1D(16, 3, activation = relu),\n        MaxPooling1D(2),\n        LSTM(8),\n        Dense(2, activation = softmax),\n    }\n}\n"
    );
    let (x, want) = reference("keras_text", [2, 20]);
    assert_close(
        text.model::<B, 2, 2>(&Default::default())
            .unwrap()
            .forward(x),
        &want,
    );
}

#[test]
fn a_reshape_to_an_image_of_one_channel_imports() {
    let reshape = kiln::import::keras(fixture("keras_reshape.keras")).unwrap();
    assert_eq!(
        reshape.declaration("Reshaped"),
        "model! {\n    pub struct Reshaped {\n        input: [64],\n        Reshape((1, 8, 8)),\n        Conv2D(2, 3, activation = relu),\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n"
    );
    let (x, want) = reference("keras_reshape", [2, 64]);
    assert_close(
        reshape
            .model::<B, 2, 2>(&Default::default())
            .unwrap()
            .forward(x),
        &want,
    );
}

/// The Keras fixture `name` imported: the declaration it prints as `declared`, and its
/// runtime model's predictions on the fixture's inputs of `shape`, Keras's within 1e-5.
fn imports_as_keras<const D: usize>(
    name: &str,
    shape: [usize; D],
    declared: &str,
    declaration: &str,
) -> KerasModel {
    let imported = kiln::import::keras(fixture(&format!("{name}.keras"))).unwrap();
    assert_eq!(imported.declaration(declared), declaration);
    let (x, want) = reference(name, shape);
    let model = imported.model::<B, D, 2>(&Default::default()).unwrap();
    assert_close(model.forward(x), &want);
    imported
}

#[test]
fn attention_imports_with_its_projections_and_causal_mask() {
    let attended = imports_as_keras(
        "keras_attention",
        [2, 6, 4],
        "Attended",
        "model! {\n    pub struct Attended {\n        input tokens: [6, 4],\n        let dense = tokens -> Dense(5);\n        let dense_1 = tokens -> Dense(3);\n        let multi_head_attention = MultiHeadAttention(tokens, dense, dense_1, num_heads = 2, key_dim = 3, value_dim = 2, dropout = 0.1, output_shape = 4);\n        let multi_head_attention_1 = MultiHeadAttention(multi_head_attention, multi_head_attention, num_heads = 3, key_dim = 2, use_bias = false, use_causal_mask = true);\n        let add = Add(multi_head_attention, multi_head_attention_1);\n        let global_average_pooling1d = add -> GlobalAveragePooling1D;\n        let dense_2 = global_average_pooling1d -> Dense(2, activation = softmax);\n        output dense_2,\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_attention", [2, 6, 4]);
    let model = through_a_kiln_file(
        "keras_attention",
        |path| attended.save_weights(path),
        Attended::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn the_rectifier_layers_import() {
    imports_as_keras(
        "keras_rectifiers",
        [2, 2, 6, 6],
        "Rectified",
        "model! {\n    pub struct Rectified {\n        input: [2, 6, 6],\n        Conv2D(4, 3, padding = same),\n        ReLU(max_value = 6.0),\n        DepthwiseConv2D(3),\n        LeakyReLU(negative_slope = 0.1),\n        Conv2D(3, 1),\n        ELU(alpha = 0.5),\n        GlobalAveragePooling2D,\n        Dense(4),\n        ReLU(max_value = 2.0, negative_slope = 0.2, threshold = 0.1),\n        Dense(2),\n        Softmax,\n    }\n}\n",
    );
}

#[test]
fn prelu_slopes_import_in_kiln_s_order() {
    let prelu = imports_as_keras(
        "keras_prelu",
        [2, 2, 5, 5],
        "Learned",
        "model! {\n    pub struct Learned {\n        input: [2, 5, 5],\n        Conv2D(3, 3, padding = same),\n        PReLU(shared_axes = (2, 3)),\n        Conv2D(2, 1),\n        PReLU,\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_prelu", [2, 2, 5, 5]);
    let model = through_a_kiln_file(
        "keras_prelu",
        |path| prelu.save_weights(path),
        Learned::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn normalization_imports_adapted_and_given() {
    let normalized = imports_as_keras(
        "keras_normalization",
        [2, 2, 5, 5],
        "Normalized",
        "model! {\n    pub struct Normalized {\n        input: [2, 5, 5],\n        Normalization,\n        Conv2D(3, 3, activation = relu),\n        Normalization(axis = None, mean = 0.5, variance = 4.0),\n        GlobalAveragePooling2D,\n        Dense(3),\n        Normalization(mean = (1.0, -1.0, 0.5), variance = (4.0, 1.0, 0.25), invert = true),\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file: the adapted mean and variance
    // are Keras's, per channel.
    let (x, want) = reference("keras_normalization", [2, 2, 5, 5]);
    let model = through_a_kiln_file(
        "keras_normalization",
        |path| normalized.save_weights(path),
        Normalized::<B>::new(&Default::default()),
    );
    let mean = model.normalization.mean.as_ref().unwrap().value();
    let mean = mean.into_data().to_vec::<f32>().unwrap();
    assert!(
        (mean[0] - 3.0).abs() < 0.5 && (mean[1] + 2.0).abs() < 5.0,
        "{mean:?}"
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn group_and_unit_normalization_import() {
    let grouped = imports_as_keras(
        "keras_groups",
        [2, 4, 6, 6],
        "Grouped",
        "model! {\n    pub struct Grouped {\n        input: [4, 6, 6],\n        Conv2D(8, 3, padding = same),\n        GroupNormalization(4),\n        Conv2D(6, 3),\n        GroupNormalization(6, epsilon = 1e-5, center = false),\n        Flatten,\n        UnitNormalization,\n        Identity,\n        ActivityRegularization(l2 = 0.01),\n        Normalization(axis = None, mean = 0.01, variance = 0.002),\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_groups", [2, 4, 6, 6]);
    let model = through_a_kiln_file(
        "keras_groups",
        |path| grouped.save_weights(path),
        Grouped::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn scored_attentions_import() {
    let scored = imports_as_keras(
        "keras_scored",
        [2, 6, 5],
        "Scored",
        "model! {\n    pub struct Scored {\n        input tokens: [6, 5],\n        let dense = tokens -> Dense(4);\n        let dense_1 = tokens -> Dense(3);\n        let attention = Attention(dense, dense_1, dense, use_scale = true, score_mode = concat);\n        let additive_attention = AdditiveAttention(dense, dense, use_causal_mask = true);\n        let attention_1 = Attention(tokens, dense_1, tokens);\n        let concatenate = Concatenate(attention, additive_attention, attention_1, axis = 2);\n        let global_average_pooling1d = concatenate -> GlobalAveragePooling1D;\n        let dense_2 = global_average_pooling1d -> Dense(2, activation = softmax);\n        output dense_2,\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_scored", [2, 6, 5]);
    let model = through_a_kiln_file(
        "keras_scored",
        |path| scored.save_weights(path),
        Scored::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

/// Keras's fine-tuning recipe, `base(x, training=False)`: Keras 3's functional model gives
/// every layer `fit`'s phase over the recorded `False` (keras-team/keras#20285), so the
/// import leaves it out, as Keras 3 runs the file.
#[test]
fn a_call_with_training_false_imports_as_keras_3_runs_it() {
    let tuned = imports_as_keras(
        "keras_finetune",
        [2, 2, 6, 6],
        "FineTuned",
        "model! {\n    pub struct FrozenBase {\n        input: [2, 6, 6],\n        Conv2D(3, 3),\n        BatchNormalization,\n        GlobalAveragePooling2D,\n    }\n}\nmodel! {\n    pub struct FineTuned {\n        input image: [2, 6, 6],\n        let frozen_base = image -> Model(FrozenBase);\n        let dropout = frozen_base -> Dropout(0.2);\n        let dense = dropout -> Dense(2, activation = softmax);\n        output dense,\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_finetune", [2, 2, 6, 6]);
    let model = through_a_kiln_file(
        "keras_finetune",
        |path| tuned.save_weights(path),
        FineTuned::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn augmentation_layers_import_and_pass_images_through_at_inference() {
    let augmented = imports_as_keras(
        "keras_augmented",
        [2, 3, 8, 8],
        "Augmented",
        "model! {\n    pub struct Augmented {\n        input: [3, 8, 8],\n        RandomFlip(horizontal),\n        RandomRotation((-0.1, 0.1)),\n        RandomTranslation(0.1, (-0.2, 0.3), fill_mode = constant, fill_value = 1.0),\n        RandomZoom((-0.2, 0.2), width_factor = 0.1, interpolation = nearest),\n        RandomContrast((0.0, 0.2)),\n        RandomBrightness((-0.1, 0.1), value_range = (0.0, 1.0)),\n        RandomGrayscale(0.2),\n        Conv2D(3, 3, activation = relu),\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_augmented", [2, 3, 8, 8]);
    let model = through_a_kiln_file(
        "keras_augmented",
        |path| augmented.save_weights(path),
        Augmented::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn a_positive_axis_naming_the_last_imports_as_minus_one() {
    imports_as_keras(
        "keras_axes",
        [2, 3, 6, 6],
        "Axes",
        "model! {\n    pub struct Axes {\n        input: [3, 6, 6],\n        Normalization(mean = (0.1, -0.2, 0.3), variance = (1.5, 0.5, 2.0)),\n        Conv2D(4, 3),\n        GroupNormalization(2),\n        BatchNormalization,\n        GlobalAveragePooling2D,\n        LayerNormalization,\n        UnitNormalization,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn sequences_padded_upsampled_and_cropped_import() {
    imports_as_keras(
        "keras_steps",
        [2, 6, 3],
        "Stepped",
        "model! {\n    pub struct Stepped {\n        input: [6, 3],\n        Conv1D(4, 3, padding = same),\n        ZeroPadding1D((2, 1)),\n        UpSampling1D(size = 3),\n        Cropping1D((1, 4)),\n        Conv1D(2, 2),\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn final_states_import_bound_by_name() {
    let states = imports_as_keras(
        "keras_states",
        [2, 6, 3],
        "States",
        "model! {\n    pub struct States {\n        input seq: [6, 3],\n        let (lstm, lstm_h, lstm_c) = seq -> LSTM(4, return_sequences = true, return_state = true);\n        let (bidirectional, bidirectional_h, bidirectional_h_back) = lstm -> Bidirectional(GRU(3, return_state = true), merge_mode = sum);\n        let (_, lstm_1_h, _) = seq -> LSTM(2, return_state = true);\n        let concatenate = Concatenate(bidirectional, bidirectional_h, bidirectional_h_back, lstm_h, lstm_c, lstm_1_h, axis = 1);\n        let dense = concatenate -> Dense(2, activation = softmax);\n        output dense,\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_states", [2, 6, 3]);
    let model = through_a_kiln_file(
        "keras_states",
        |path| states.save_weights(path),
        States::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn bidirectional_layers_import_with_both_layers_weights() {
    let both = imports_as_keras(
        "keras_bidirectional",
        [2, 7, 3],
        "BothWays",
        "model! {\n    pub struct BothWays {\n        input: [7, 3],\n        Bidirectional(LSTM(4, return_sequences = true)),\n        Bidirectional(GRU(3), merge_mode = ave),\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
    // In the declared model, through a kiln weights file.
    let (x, want) = reference("keras_bidirectional", [2, 7, 3]);
    let model = through_a_kiln_file(
        "keras_bidirectional",
        |path| both.save_weights(path),
        BothWays::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn a_permute_of_an_image_s_axes_imports_in_kiln_s_order() {
    imports_as_keras(
        "keras_permute",
        [2, 2, 4, 5],
        "Permuted",
        "model! {\n    pub struct Permuted {\n        input: [2, 4, 5],\n        Permute((1, 3, 2)),\n        Conv2D(3, (1, 2), activation = relu),\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn a_rescaling_of_pixels_imports() {
    imports_as_keras(
        "keras_rescaling",
        [2, 3, 8, 8],
        "Rescaled",
        "model! {\n    pub struct Rescaled {\n        input: [3, 8, 8],\n        Rescaling(0.00392156862745098, offset = -0.5),\n        Conv2D(2, 3, activation = relu),\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn a_depthwise_block_imports_with_each_channel_s_kernels() {
    let mobile = imports_as_keras(
        "keras_depthwise",
        [2, 3, 7, 7],
        "Mobile",
        "model! {\n    pub struct Mobile {\n        input: [3, 7, 7],\n        DepthwiseConv2D(3, padding = same, activation = relu, depth_multiplier = 2, depthwise_regularizer = l2(0.01)),\n        Conv2D(4, 1),\n        GlobalAveragePooling2D,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
    let (x, want) = reference("keras_depthwise", [2, 3, 7, 7]);
    // In the declared model, through a kiln weights file.
    let model = through_a_kiln_file(
        "keras_depthwise",
        |path| mobile.save_weights(path),
        Mobile::<B>::new(&Default::default()),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn separable_convolutions_import_with_both_kernels() {
    imports_as_keras(
        "keras_separable",
        [2, 2, 8, 8],
        "Separable",
        "model! {\n    pub struct Separable {\n        input: [2, 8, 8],\n        SeparableConv2D(4, 3, activation = relu, depth_multiplier = 2),\n        SeparableConv2D(3, 3, strides = 2, padding = same),\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn borders_upsampling_and_the_other_poolings_import() {
    imports_as_keras(
        "keras_borders",
        [2, 2, 6, 6],
        "Borders",
        "model! {\n    pub struct Borders {\n        input: [2, 6, 6],\n        ZeroPadding2D(((1, 0), (2, 1))),\n        Conv2D(3, 3, activation = relu),\n        UpSampling2D((2, 1), interpolation = bilinear),\n        Cropping2D(((1, 1), (0, 2))),\n        GlobalMaxPooling2D,\n        RepeatVector(4),\n        AveragePooling1D(2, strides = 1),\n        GlobalMaxPooling1D,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn layer_normalizations_import_with_their_gamma_and_beta() {
    imports_as_keras(
        "keras_layernorm",
        [2, 2, 6, 6],
        "Norms",
        "model! {\n    pub struct Norms {\n        input: [2, 6, 6],\n        Conv2D(4, 3, activation = relu),\n        LayerNormalization(epsilon = 1e-5),\n        GlobalAveragePooling2D,\n        Dense(5),\n        LayerNormalization(center = false),\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn transposed_convolutions_import_with_tensorflow_s_padding() {
    imports_as_keras(
        "keras_transpose",
        [2, 3, 5, 5],
        "Grown",
        "model! {\n    pub struct Grown {\n        input: [3, 5, 5],\n        Conv2DTranspose(4, 3, strides = 2, padding = same, activation = relu),\n        Conv2DTranspose(2, 2, strides = 2),\n        Flatten,\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn the_training_regularizers_import() {
    imports_as_keras(
        "keras_noise",
        [2, 2, 6, 6],
        "Noisy",
        "model! {\n    pub struct Noisy {\n        input: [2, 6, 6],\n        GaussianNoise(0.1),\n        Conv2D(3, 3, activation = relu),\n        SpatialDropout2D(0.2),\n        GlobalAveragePooling2D,\n        RepeatVector(2),\n        SpatialDropout1D(0.1),\n        GlobalAveragePooling1D,\n        GaussianDropout(0.2),\n        Dense(2, activation = softmax),\n    }\n}\n",
    );
}

#[test]
fn a_functional_model_imports_as_a_graph() {
    let device = Default::default();
    let graph = kiln::import::keras(fixture("keras_graph.keras")).unwrap();
    let declared = include_str!("keras_import.rs");
    let start = declared
        .find("model! {\n    /// The declaration `kiln::import::keras` prints for the functional")
        .unwrap();
    let pasted: String = declared[start..]
        .lines()
        .filter(|l| !l.trim_start().starts_with("///"))
        .take(12)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(graph.declaration("Graph"), pasted);
    let (x, want) = reference("keras_graph", [2, 3, 8, 8]);
    assert_close(
        graph.model::<B, 4, 2>(&device).unwrap().forward(x.clone()),
        &want,
    );

    let model = through_a_kiln_file(
        "graph",
        |path| graph.save_weights(path),
        Graph::<B>::new(&device),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn a_model_used_as_a_layer_imports_as_model_of_its_declaration() {
    let device = Default::default();
    let nested = kiln::import::keras(fixture("keras_nested.keras")).unwrap();
    let declared = include_str!("keras_import.rs");
    let start = declared.find("model! {\n    pub struct Base {").unwrap();
    let pasted: String = declared[start..]
        .lines()
        .take(14)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(nested.declaration("Outer"), pasted);
    let (x, want) = reference("keras_nested", [2, 1, 8, 8]);
    assert_close(
        nested.model::<B, 4, 2>(&device).unwrap().forward(x.clone()),
        &want,
    );

    let model = through_a_kiln_file(
        "outer",
        |path| nested.save_weights(path),
        Outer::<B>::new(&device),
    );
    assert_close(model.forward(x), &want);
}

#[test]
fn a_batch_normalization_of_sequences_normalizes_their_features() {
    let seqnorm = kiln::import::keras(fixture("keras_seqnorm.keras")).unwrap();
    assert_eq!(
        seqnorm.declaration("Normed"),
        "model! {\n    pub struct Normed {\n        input: [6, 3],\n        BatchNormalization,\n        LSTM(4),\n        Dense(2, activation = softmax),\n    }\n}\n"
    );
    let (x, want) = reference("keras_seqnorm", [2, 6, 3]);
    assert_close(
        seqnorm
            .model::<B, 3, 2>(&Default::default())
            .unwrap()
            .forward(x),
        &want,
    );
}
