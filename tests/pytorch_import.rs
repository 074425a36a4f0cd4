//! Weights from PyTorch: a state dict saved by `torch.save` (`.pt`) or as safetensors
//! loads into a `model!` model, paired by order or renamed layer by layer, and the model
//! then gives PyTorch's outputs.
//! The fixtures are written once by `tests/fixtures/make_fixtures.py` (with torch); these
//! tests never need Python.

mod support;

use kiln::Load;
use kiln::prelude::*;
use support::{B, assert_close, fixture, reference, refusals_of_damaged};

model! {
    /// The fixture's `nn.Sequential`, layer for layer.
    struct TorchNet {
        input: [1, 12, 12],
        Conv2D(4, 3),
        BatchNormalization(epsilon = 1e-5),
        Activation(relu),
        MaxPooling2D(2),
        Conv2D(6, 3, padding = same, activation = relu),
        Flatten,
        Dense(10, activation = relu),
        Dense(3),
    }
}

model! {
    /// One Dense more than the fixture has.
    struct Longer {
        input: [1, 12, 12],
        Conv2D(4, 3),
        BatchNormalization(epsilon = 1e-5),
        MaxPooling2D(2),
        Conv2D(6, 3, padding = same),
        Flatten,
        Dense(10),
        Dense(3),
        Dense(3),
    }
}

model! {
    /// The fixture's recurrent module: `nn.LSTM`, `nn.GRU`, `nn.RNN`, `nn.Linear`.
    struct TorchRecurrent {
        input: [10, 3],
        LSTM(8, return_sequences = true),
        GRU(6, return_sequences = true),
        SimpleRNN(5),
        Dense(2),
    }
}

model! {
    /// The fixture's bidirectional module: `nn.LSTM` and `nn.GRU` with
    /// `bidirectional=True`, `nn.Linear` on the GRU's two final states.
    struct TorchBidirectional {
        input: [5, 3],
        Bidirectional(LSTM(4, return_sequences = true)),
        Bidirectional(GRU(3)),
        Dense(2),
    }
}

/// The model's outputs on the fixture's inputs, against PyTorch's.
fn assert_gives_pytorch_s_outputs(model: &TorchNet<B>) {
    let (x, want) = reference("torch_net", [2, 1, 12, 12]);
    assert_close(model.forward(x), &want);
}

#[test]
fn a_state_dict_paired_by_order_gives_pytorch_s_outputs() {
    let device = Default::default();
    let mut model = TorchNet::<B>::new(&device);
    let load = Load::new().from_pytorch().by_order();
    let loaded =
        kiln::load_weights_with(&mut model, fixture("torch_net.safetensors"), &load).unwrap();
    let pairs: Vec<(&str, &str)> = loaded
        .renamed
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("0", "conv2d"),
            ("1", "batch_normalization"),
            ("4", "conv2d_1"),
            ("7", "dense"),
            ("9", "dense_1"),
        ]
    );
    assert!(loaded.missing.is_empty());
    assert_gives_pytorch_s_outputs(&model);
}

#[test]
fn renamed_layers_load_and_layouts_that_do_not_fit_are_named() {
    let device = Default::default();
    let renames = [
        ("0", "conv2d"),
        ("1", "batch_normalization"),
        ("4", "conv2d_1"),
        ("7", "dense"),
        ("9", "dense_1"),
    ];
    let load = renames
        .iter()
        .fold(Load::new(), |load, (from, to)| load.rename(*from, *to));
    let mut model = TorchNet::<B>::new(&device);
    kiln::load_weights_with(
        &mut model,
        fixture("torch_net.safetensors"),
        &load.clone().from_pytorch(),
    )
    .unwrap();
    assert_gives_pytorch_s_outputs(&model);

    // Read as kiln's own file, PyTorch's linear layout and names do not fit, and say so.
    let err = kiln::load_weights_with(&mut model, fixture("torch_net.safetensors"), &load)
        .unwrap_err()
        .to_string();
    for part in [
        "`dense.weight` is [10, 150] in the file but [150, 10] in the model",
        "the file has no `batch_normalization.gamma`",
        "the model has no `batch_normalization.num_batches_tracked`",
    ] {
        assert!(err.contains(part), "{part} not in: {err}");
    }
}

#[test]
fn pairing_by_order_needs_as_many_layers() {
    let device = Default::default();
    let mut model = Longer::<B>::new(&device);
    let load = Load::new().from_pytorch().by_order();
    let err =
        kiln::load_weights_with(&mut model, fixture("torch_net.safetensors"), &load).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "the file has 5 layers with weights (0, 1, 4, 7, 9) but the model has 6 (conv2d, batch_normalization, conv2d_1, dense, dense_1, dense_2); pair them with rename"
        ),
        "{err}"
    );
    let err = kiln::load_weights_with(&mut model, fixture("torch_net_io.json"), &load).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "not a torch.save file: not a zip archive (no end of central directory record)"
        ),
        "{err}"
    );
}

#[test]
fn a_torch_save_file_loads_in_its_state_dict_s_order() {
    let device = Default::default();
    let mut model = TorchNet::<B>::new(&device);
    let load = Load::new().from_pytorch().by_order();
    let loaded = kiln::load_weights_with(&mut model, fixture("torch_net.pt"), &load).unwrap();
    let files: Vec<&str> = loaded.renamed.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(files, ["0", "1", "4", "7", "9"]);
    assert_gives_pytorch_s_outputs(&model);

    // The same tensors as the safetensors copy, in the state dict's order.
    let bytes = std::fs::read(fixture("torch_net.pt")).unwrap();
    let weights = kiln::import::torch_state_dict(&bytes).unwrap();
    let names: Vec<&str> = weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "4.weight",
            "4.bias",
            "7.weight",
            "7.bias",
            "9.weight",
            "9.bias",
        ]
    );
    assert_eq!(weights[8].shape, [10, 150]);
}

#[test]
fn a_damaged_torch_save_file_is_an_error_never_a_panic() {
    let bytes = std::fs::read(fixture("torch_net.pt")).unwrap();
    assert_eq!(
        kiln::import::torch_state_dict(&bytes[..100])
            .unwrap_err()
            .to_string(),
        "this PyTorch file cannot be read: not a torch.save file: not a zip archive (no end of central directory record)"
    );
    // Every cut and a spread of changed bytes: each read either succeeds or says why.
    let errors = refusals_of_damaged(&bytes, 13, |b| kiln::import::torch_state_dict(b).is_ok());
    assert!(errors > 0);
}

#[test]
fn pytorch_s_recurrent_layers_load_with_their_gates_cut() {
    let device = Default::default();
    let mut model = TorchRecurrent::<B>::new(&device);
    let load = Load::new().from_pytorch().by_order();
    let loaded = kiln::load_weights_with(&mut model, fixture("torch_rnn.pt"), &load).unwrap();
    let pairs: Vec<(&str, &str)> = loaded
        .renamed
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("lstm", "lstm"),
            ("gru", "gru"),
            ("rnn", "simple_rnn"),
            ("fc", "dense")
        ]
    );
    let (x, want) = reference("torch_rnn", [2, 10, 3]);
    assert_close(model.forward(x), &want);
}

#[test]
fn bidirectional_layers_load_both_directions() {
    let mut model = TorchBidirectional::<B>::new(&Default::default());
    let load = Load::new().from_pytorch().by_order();
    let loaded =
        kiln::load_weights_with(&mut model, fixture("torch_bidirectional.pt"), &load).unwrap();
    assert_eq!(
        loaded.renamed,
        [
            ("lstm".to_owned(), "bidirectional".to_owned()),
            ("gru".to_owned(), "bidirectional_1".to_owned()),
            ("fc".to_owned(), "dense".to_owned())
        ]
    );
    assert!(loaded.missing.is_empty());
    // LSTM: 2 directions · 4 gates · (input kernel, recurrent kernel, bias); GRU: 2 · 3 ·
    // 4 (both biases); the Linear's 2.
    assert_eq!(loaded.applied.len(), 24 + 24 + 2);
    let (x, want) = reference("torch_bidirectional", [2, 5, 3]);
    assert_close(model.forward(x), &want);
}
