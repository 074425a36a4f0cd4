//! Keras's callbacks in real `fit` runs: the files they write (checked record by record
//! for TensorBoard) and the decisions they take. Crashes and faults: `tests/faults.rs`.

use std::path::{Path, PathBuf};

use burn::module::Module;
use kiln::callbacks::tensorboard::{Event, Kind, Value, What, proto::Image};
use kiln::callbacks::{
    CsvLogger, EarlyStopping, LambdaCallback, ModelCheckpoint, TensorBoard, TerminateOnNan,
};
use kiln::prelude::*;
use kiln::{BatchLogs, CallbackResult, Control};
use std::ops::ControlFlow;

mod support;

use support::Ad;

model! {
    struct Digits {
        input: [1, 28, 28],
        Conv2D(4, 3, strides = 2, activation = relu),
        Flatten,
        Dropout(0.1),
        Dense(10, activation = softmax),
    }
}

fn trainer() -> Trainer<Ad, Digits<Ad>> {
    support::trainer(Digits::new)
}

fn dir(name: &str) -> PathBuf {
    support::scratch(&format!("callbacks-{name}"))
}

/// Every parameter's values, flattened, in order.
fn weights<M: Module<Ad>>(model: &M) -> Vec<Vec<f32>> {
    use burn_store::ModuleSnapshot;
    model
        .collect(None, None, false)
        .iter()
        .map(|s| s.to_data().unwrap().to_vec::<f32>().unwrap())
        .collect()
}

#[test]
fn tensorboard_writes_event_files_tensorboard_reads() {
    let logs = dir("tensorboard");
    let digits = kiln::datasets::synthetic_digits(200, 1);
    let mut board = TensorBoard::new(&logs)
        .histogram_freq(1)
        .update_freq(2)
        .write_images(true);
    // Halved every 4 updates, an epoch's: the rate logged is the next update's.
    let schedule = kiln::schedules::ExponentialDecay::new(3e-3, 4, 0.5);
    let history = trainer()
        .optimizer(kiln::Adam::new().learning_rate(schedule))
        .fit(
            &digits,
            Fit::epochs(2)
                .batch_size(50)
                .validation_split(0.2)
                .verbose(Verbosity::Silent)
                .callback(&mut board),
        )
        .unwrap();
    let files = board.files();
    assert_eq!(files.len(), 2);
    assert!(
        files[0].starts_with(logs.join("train")) && files[1].starts_with(logs.join("validation"))
    );
    assert!(files.iter().all(|f| {
        f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("events.out.tfevents.")
    }));

    // Every record's framing and CRCs check out.
    let train = kiln::callbacks::read_events(&files[0]).unwrap();
    let validation = kiln::callbacks::read_events(&files[1]).unwrap();
    assert_eq!(
        train[0].what,
        Some(What::FileVersion("brain.Event:2".into()))
    );
    assert_scalars(&train, &validation, &history);
    assert_eq!(
        values(&train)
            .filter(|(_, v)| matches!(v.value, Some(Kind::Histo(_))))
            .count(),
        2 * 4,
        "conv2d weight and bias, dense weight and bias, each epoch"
    );
    assert!(
        values(&train).any(|(_, v)| v.tag == "model/summary/text_summary"),
        "the model's summary"
    );
    assert_graph(&train, &validation);
    assert_images(&train, &logs);
    assert_tensorboard_reads(&logs, &history);
}

/// The epochs' values are the history's, and the batches' are logged every 2nd batch.
fn assert_scalars(train: &[Event], validation: &[Event], history: &kiln::History) {
    let as_f32 = |name: &str| -> Vec<(i64, f32)> {
        history
            .get(name)
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64, v as f32))
            .collect()
    };
    assert_eq!(scalars(train, "epoch_loss"), as_f32("loss"));
    assert_eq!(scalars(train, "epoch_accuracy"), as_f32("accuracy"));
    assert_eq!(scalars(validation, "epoch_loss"), as_f32("val_loss"));
    assert_eq!(
        scalars(train, "epoch_learning_rate"),
        [(0, 1.5e-3), (1, 7.5e-4)]
    );
    // 160 training images in batches of 50: 4 batches an epoch, logged every 2nd.
    assert_eq!(
        scalars(train, "batch_loss")
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>(),
        [2, 4, 6, 8]
    );
}

/// The values of every summary in `events`, with their steps.
fn values(events: &[Event]) -> impl Iterator<Item = (i64, &Value)> {
    events.iter().flat_map(|e| match &e.what {
        Some(What::Summary(s)) => s.value.iter().map(|v| (e.step, v)).collect(),
        _ => Vec::new(),
    })
}

/// The scalars tagged `tag` in `events`, with their steps.
fn scalars(events: &[Event], tag: &str) -> Vec<(i64, f32)> {
    values(events)
        .filter(|(_, v)| v.tag == tag)
        .filter_map(|(step, v)| match v.value {
            Some(Kind::SimpleValue(x)) => Some((step, x)),
            _ => None,
        })
        .collect()
}

/// Digits' graph, once, in the training run: a node per input and layer, each taking the
/// one before it, with its output shape (batch: -1).
fn assert_graph(train: &[Event], validation: &[Event]) {
    let graphs: Vec<_> = train
        .iter()
        .filter_map(|e| match &e.what {
            Some(What::GraphDef(g)) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(graphs.len(), 1, "one graph");
    assert!(
        !validation
            .iter()
            .any(|e| matches!(e.what, Some(What::GraphDef(_))))
    );
    let nodes: Vec<(&str, &str, Vec<&str>, Vec<i64>)> = graphs[0]
        .node
        .iter()
        .map(|n| {
            let shapes = n.attr["_output_shapes"].list.as_ref().unwrap();
            let dims = shapes.shape[0].dim.iter().map(|d| d.size).collect();
            let input = n.input.iter().map(String::as_str).collect();
            (n.name.as_str(), n.op.as_str(), input, dims)
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("input", "Placeholder", vec![], vec![-1, 1, 28, 28]),
            ("conv2d", "Conv2D", vec!["input"], vec![-1, 4, 13, 13]),
            ("flatten", "Flatten", vec!["conv2d"], vec![-1, 676]),
            ("dropout", "Dropout", vec!["flatten"], vec![-1, 676]),
            ("dense", "Dense", vec!["dropout"], vec![-1, 10]),
        ]
    );
}

/// A grayscale PNG of each kernel each epoch, of the size the layout gives: Conv2D's
/// [4, 1, 3, 3] as 4 tiles of 3 × 3 one above the other, 1 pixel apart (3 × 15), Dense's
/// [676, 10] on its side (676 × 10); the biases have none.
fn assert_images(train: &[Event], logs: &Path) {
    let images: Vec<(i64, &str, &Image)> = values(train)
        .filter_map(|(step, v)| match &v.value {
            Some(Kind::Image(image)) => Some((step, v.tag.as_str(), image)),
            _ => None,
        })
        .collect();
    let sizes: Vec<(i64, &str, i32, i32)> = images
        .iter()
        .map(|(step, tag, image)| (*step, *tag, image.width, image.height))
        .collect();
    assert_eq!(
        sizes,
        [
            (0, "conv2d.weight/image", 3, 15),
            (0, "dense.weight/image", 676, 10),
            (1, "conv2d.weight/image", 3, 15),
            (1, "dense.weight/image", 676, 10),
        ]
    );
    for (i, (_, _, image)) in images.iter().enumerate() {
        assert_eq!(image.colorspace, 1, "grayscale");
        let png = &image.encoded_image_string;
        assert_eq!(
            png_size(png),
            Some((image.width as u32, image.height as u32))
        );
        // It decodes (through kiln's image loader, which keeps an image of the size it
        // is asked for as it is), scaled from the weight's min to its max.
        let root = logs.join(format!("png-{i}"));
        std::fs::create_dir_all(root.join("kernel")).unwrap();
        std::fs::write(root.join("kernel/image.png"), png).unwrap();
        let shape = [1, image.height as usize, image.width as usize];
        let decoded = kiln::datasets::image_folder(&root, shape).unwrap();
        let pixels = decoded.images();
        assert_eq!(pixels.len(), shape.iter().product::<usize>());
        assert_eq!(pixels.iter().min(), Some(&0));
        assert_eq!(pixels.iter().max(), Some(&255));
    }
}

/// A PNG's (width, height), from its signature and header chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let header = png.get(..24)?;
    let signature = header[..8] == *b"\x89PNG\r\n\x1a\n" && header[12..16] == *b"IHDR";
    let be = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    signature.then(|| (be(16), be(20)))
}

/// TensorBoard's own reader finds the scalars, the graph and the images.
fn assert_tensorboard_reads(logs: &Path, history: &kiln::History) {
    let Some(text) = support::tensorboard_script("tensorboard_reader.py", logs) else {
        return;
    };
    let loss = history.get("loss").unwrap();
    let val_accuracy = history.get("val_accuracy").unwrap();
    let expected = [
        format!("train epoch_loss 0 {:.5}", loss[0]),
        format!("validation epoch_accuracy 1 {:.5}", val_accuracy[1]),
        "graph train input Placeholder - [-1,1,28,28]".into(),
        "graph train conv2d Conv2D input [-1,4,13,13]".into(),
        "graph train dense Dense dropout [-1,10]".into(),
        "image train conv2d.weight/image 0 3x15".into(),
        "image train dense.weight/image 1 676x10".into(),
    ];
    for line in expected {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        (count("graph train "), count("image train ")),
        (5, 4),
        "{text}"
    );
    assert_eq!(count("graph validation "), 0, "{text}");
}

#[test]
fn checkpoints_and_csv_logs_follow_the_epochs() {
    let out = dir("checkpoint");
    let digits = kiln::datasets::synthetic_digits(100, 2);
    let mut every = ModelCheckpoint::new(
        out.join("every-{epoch:02}.safetensors")
            .to_string_lossy()
            .into_owned(),
    )
    .monitor("loss");
    let mut best = ModelCheckpoint::new(out.join("best.bpk").to_string_lossy().into_owned())
        .monitor("loss")
        .save_best_only(true)
        .save_weights_only(true);
    let mut csv = CsvLogger::new(out.join("log.csv"));
    let mut trainer = trainer();
    let history = trainer
        .fit(
            &digits,
            Fit::epochs(3)
                .batch_size(25)
                .verbose(Verbosity::Silent)
                .callback(&mut every)
                .callback(&mut best)
                .callback(&mut csv),
        )
        .unwrap();
    let names: Vec<String> = every
        .saved()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "every-01.safetensors",
            "every-02.safetensors",
            "every-03.safetensors"
        ]
    );
    // The loss falls every epoch here, so the best checkpoint is written each time, and
    // holds the last weights.
    let losses = history.get("loss").unwrap();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    assert_eq!(best.saved().len(), 3);
    let mut restored = Digits::<Ad>::new(&Default::default());
    kiln::load_weights(&mut restored, out.join("best.bpk")).unwrap();
    assert_eq!(weights(&restored), weights(trainer.model()));
    let model_file: kiln::JsonModel<Ad, 4, 2> =
        kiln::load_model(out.join("every-03.safetensors"), &Default::default()).unwrap();
    assert_eq!(weights(&model_file), weights(trainer.model()));
    let csv_text = std::fs::read_to_string(out.join("log.csv")).unwrap();
    let lines: Vec<&str> = csv_text.lines().collect();
    assert_eq!(lines[0], "epoch,accuracy,loss");
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[3],
        format!("2,{},{}", history.get("accuracy").unwrap()[2], losses[2])
    );
}

/// The epochs of a 5-epoch fit on 100 digits in batches of 25, with `callback`.
fn epochs_run_with(callback: &mut LambdaCallback) -> usize {
    let digits = kiln::datasets::synthetic_digits(100, 3);
    let fit = Fit::epochs(5)
        .batch_size(25)
        .verbose(Verbosity::Silent)
        .callback(callback);
    trainer()
        .fit(&digits, fit)
        .unwrap()
        .get("loss")
        .unwrap()
        .len()
}

/// `Break` when `at` is `stop`, else `Continue`.
fn stop_at(at: usize, stop: usize) -> ControlFlow<()> {
    if at == stop {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

#[test]
fn a_lambda_callback_stops_training_by_its_return_value() {
    // After epoch 1, as Keras's `model.stop_training = True` in `on_epoch_end`.
    let mut after_two = LambdaCallback::new().on_epoch_end(|epoch, _logs| stop_at(epoch, 1));
    assert_eq!(epochs_run_with(&mut after_two), 2);
    // From a batch hook, after that batch: the epoch ends there, with its logs.
    let mut batches = 0;
    let mut third_batch = LambdaCallback::new().on_train_batch_end(|batch, _logs| {
        batches += 1;
        stop_at(batch, 2)
    });
    assert_eq!(epochs_run_with(&mut third_batch), 1);
    drop(third_batch);
    assert_eq!(batches, 3);
    // From the epoch's start: after its first batch, as Keras's loop checks.
    let mut batches = 0;
    let mut at_start = LambdaCallback::new()
        .on_epoch_begin(|epoch| stop_at(epoch, 1))
        .on_train_batch_end(|_, _| batches += 1);
    assert_eq!(epochs_run_with(&mut at_start), 2);
    drop(at_start);
    assert_eq!(batches, 4 + 1);
}

#[test]
fn early_stopping_restores_the_best_weights() {
    // A learning rate so large the loss diverges after the first epochs.
    let digits = kiln::datasets::synthetic_digits(100, 3);
    let mut stop = EarlyStopping::monitor("loss")
        .patience(1)
        .restore_best_weights(true);
    let mut seen = Vec::new();
    struct Record<'a>(&'a mut Vec<Vec<Vec<f32>>>);
    impl<B: burn::tensor::backend::AutodiffBackend, M: Module<B>> Callback<B, M> for Record<'_> {
        fn on_epoch_end(
            &mut self,
            _e: usize,
            _l: &Logs,
            control: &mut kiln::Control<M>,
        ) -> kiln::CallbackResult {
            use burn_store::ModuleSnapshot;
            self.0.push(
                control
                    .model()
                    .collect(None, None, false)
                    .iter()
                    .map(|s| {
                        s.to_data()
                            .unwrap()
                            .convert::<f32>()
                            .to_vec::<f32>()
                            .unwrap()
                    })
                    .collect(),
            );
            Ok(())
        }
    }
    let mut trainer = trainer().optimizer(Sgd::new().learning_rate(5.0));
    let history = trainer
        .fit(
            &digits,
            Fit::epochs(20)
                .batch_size(25)
                .verbose(Verbosity::Silent)
                .callback(Record(&mut seen))
                .callback(&mut stop),
        )
        .unwrap();
    let losses = history.get("loss").unwrap();
    let best = stop.best_epoch().unwrap();
    let stopped = stop.stopped_epoch().expect("the loss stops improving");
    assert_eq!(losses.len(), stopped + 1);
    assert!(
        losses.iter().all(|&l| l >= losses[best] || l.is_nan()),
        "{losses:?}"
    );
    assert_eq!(
        weights(trainer.model()),
        seen[best],
        "the weights of epoch {best} are back"
    );
}

model! {
    struct Linear {
        input: [4],
        Dense(3, activation = softmax),
    }
}

/// Reads the running logs after batch `at` of each epoch, as a progress bar's refresh does.
struct ReadsAt {
    at: usize,
}

impl<B: burn::tensor::backend::AutodiffBackend, M> Callback<B, M> for ReadsAt {
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs,
        _control: &mut Control<M>,
    ) -> CallbackResult {
        if batch == self.at {
            logs.get();
        }
        Ok(())
    }
}

#[test]
fn terminate_on_nan_names_the_batch() {
    // Example 35 holds a NaN: batch 3 of 10 examples (0-based) is the first with a NaN loss.
    let mut x: Vec<f32> = (0..100 * 4).map(|i| (i % 7) as f32 / 7.0).collect();
    x[35 * 4 + 1] = f32::NAN;
    let labels = (0..100).map(|i| i % 3).collect();
    let data = ArrayDataset::classification(x, vec![4], labels, 3).unwrap();
    // Where it stops: reading every batch, at the first NaN; else when another callback
    // reads the logs (here after batch 6), or at the epoch's end (after batch 9).
    for (nan, reader, stops) in [
        (TerminateOnNan::new(), None, 3),
        (TerminateOnNan::new().every_batch(true), Some(1), 3),
        (TerminateOnNan::new().every_batch(false), Some(6), 6),
        (TerminateOnNan::new().every_batch(false), None, 9),
    ] {
        let mut nan = nan;
        let mut trainer = Trainer::new(Linear::<Ad>::new(&Default::default()))
            .loss(Loss::SparseCategoricalCrossentropy);
        let mut fit = Fit::epochs(5)
            .batch_size(10)
            .shuffle(false)
            .verbose(Verbosity::Silent);
        if let Some(at) = reader {
            fit = fit.callback(ReadsAt { at });
        }
        let history = trainer.fit(&data, fit.callback(&mut nan)).unwrap();
        assert_eq!(nan.stopped_at(), Some((0, stops)), "{reader:?}");
        assert_eq!(history.epochs(), [0]);
        assert!(history.get("loss").unwrap()[0].is_nan());
    }
    // The same callback stops a second fit too.
    let mut nan = TerminateOnNan::new().every_batch(false);
    let mut trainer = Trainer::new(Linear::<Ad>::new(&Default::default()))
        .loss(Loss::SparseCategoricalCrossentropy);
    for _ in 0..2 {
        let fit = Fit::epochs(5)
            .batch_size(10)
            .shuffle(false)
            .verbose(Verbosity::Silent)
            .callback(&mut nan);
        assert_eq!(trainer.fit(&data, fit).unwrap().epochs(), [0]);
    }
}

#[test]
fn an_interrupted_checkpoint_write_leaves_the_previous_one() {
    let out = dir("atomic");
    let path = out.join("model.safetensors");
    let model = Digits::<Ad>::new(&Default::default());
    kiln::save_model(&model, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // The temporary file cannot be created (a directory is in its way): the write fails
    // before touching the checkpoint.
    std::fs::create_dir_all(out.join("model.safetensors.tmp/blocker")).unwrap();
    let other = Digits::<Ad>::new(&Default::default());
    let err = kiln::save_model(&other, &path).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot access ") && err.contains("model.safetensors.tmp"),
        "the error names the file it could not write: {err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
