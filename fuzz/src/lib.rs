//! kiln-fuzz, the fuzz targets: each feeds one input to one of kiln's readers of files a user may get
//! from elsewhere. A reader may refuse the input (its error is returned), never panic,
//! hang or exhaust memory. The AFL binaries in `src/bin/` run these; the test suite
//! (`tests/fuzz_regressions.rs`) runs them on the seed corpora and on every input a fuzzer
//! once crashed on.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use kiln::callbacks::BackupAndRestore;
use kiln::datasets::DataDir;
use kiln::{Fit, JsonModel, Loss, Trainer, Verbosity};

/// The training backend (the backup target trains).
type B = kiln::backend::Cpu;
/// The plain backend (the readers only build and load).
type Plain = kiln::backend::CpuBackend;

/// A target: one input in, the reader's refusal (or `Ok`) out.
pub type Target = fn(&[u8]) -> Result<(), String>;

/// Every target by name (the names of the binaries and of the corpus folders).
pub const TARGETS: [(&str, Target); 11] = [
    ("idx", idx),
    ("cifar_batch", cifar_batch),
    ("cifar_archive", cifar_archive),
    ("image_folder", image_folder),
    ("json_model", json_model),
    ("weights", weights),
    ("keras", keras),
    ("torch", torch),
    ("backup", backup),
    ("history", history),
    ("csv_log", csv_log),
];

/// The small model the weight and backup targets load into: 2 features, 3 classes.
pub const MODEL: &str = r#"{"name":"fuzz","input":[2],"layers":[{"name":"dense","class_name":"Dense","config":{"units":4,"activation":"relu","use_bias":true,"kernel_regularizer":null,"bias_regularizer":null,"activity_regularizer":null}},{"name":"dense_1","class_name":"Dense","config":{"units":3,"activation":"linear","use_bias":true,"kernel_regularizer":null,"bias_regularizer":null,"activity_regularizer":null}}]}"#;

/// A fresh, empty scratch folder of this thread (one per target, reused per input).
fn scratch(target: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let dir = std::env::temp_dir().join(format!(
        "kiln-fuzz-{target}-{}-{thread}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder");
    dir
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("the scratch folder");
    }
    std::fs::write(path, bytes).expect("the scratch file");
}

/// The first byte picks a variant; the rest is the file.
fn split(data: &[u8]) -> (u8, &[u8]) {
    data.split_first().map_or((0, data), |(k, rest)| (*k, rest))
}

fn refused(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// An MNIST split: the input is the image file (raw or gzipped) beside a valid label file,
/// or the label file beside a valid image file.
pub fn idx(data: &[u8]) -> Result<(), String> {
    let (kind, file) = split(data);
    let dir = scratch("idx");
    let gz = if kind & 2 != 0 { ".gz" } else { "" };
    let (images, labels) = (
        dir.join(format!("images{gz}")),
        dir.join(format!("labels{gz}")),
    );
    let valid_images = [
        &[0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2][..],
        &[1, 2, 3, 4],
    ]
    .concat();
    let valid_labels = [0, 0, 8, 1, 0, 0, 0, 1, 7];
    let (image_bytes, label_bytes) = if kind & 1 == 0 {
        (file, &valid_labels[..])
    } else {
        (&valid_images[..], file)
    };
    write(
        &images,
        &gzipped(image_bytes, !gz.is_empty() && kind & 1 != 0),
    );
    write(
        &labels,
        &gzipped(label_bytes, !gz.is_empty() && kind & 1 == 0),
    );
    kiln::datasets::read_mnist_split("fuzz", &images, &labels)
        .map(drop)
        .map_err(refused)
}

/// The valid partner file of a `.gz` pair is compressed; the fuzzed one is taken as is.
fn gzipped(bytes: &[u8], compress: bool) -> Vec<u8> {
    use std::io::Write;
    if !compress {
        return bytes.to_vec();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("in memory");
    gz.finish().expect("in memory")
}

/// One CIFAR-10 batch file.
pub fn cifar_batch(data: &[u8]) -> Result<(), String> {
    kiln::datasets::read_cifar10_batch(data, Path::new("fuzz.bin"))
        .map(drop)
        .map_err(refused)
}

/// The original `cifar-10-binary.tar.gz`, unpacked and read, downloads off.
pub fn cifar_archive(data: &[u8]) -> Result<(), String> {
    let dir = scratch("cifar_archive");
    write(&dir.join("cifar10/cifar-10-binary.tar.gz"), data);
    kiln::datasets::cifar10(&DataDir::new(&dir).offline(true))
        .map(drop)
        .map_err(refused)
}

/// An image folder with the input as one picture (PNG or JPEG by the first byte) beside a
/// valid one.
pub fn image_folder(data: &[u8]) -> Result<(), String> {
    let (kind, file) = split(data);
    let dir = scratch("image_folder");
    let ext = if kind & 1 == 0 { "png" } else { "jpg" };
    write(&dir.join(format!("a/fuzz.{ext}")), file);
    write(&dir.join("b/valid.png"), VALID_PNG);
    kiln::datasets::image_folder(&dir, [3, 4, 4])
        .map(drop)
        .map_err(refused)
}

/// A 1×1 RGB PNG.
const VALID_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A JSON model, checked, built with fresh weights, and run forward on a batch of two
/// examples of zeros (unknown dimensions taken as 3) when they hold at most 4096 values.
/// Models beyond the fuzzer's memory (2 GiB), not beyond kiln's limits, are checked only:
/// more than 2²² weights, or a layer whose weights times its output passes 2³⁰ (the
/// columns a convolution with a kernel far wider than its input unfolds into).
pub fn json_model(data: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(data).map_err(refused)?;
    let spec = kiln::ModelSpec::from_json(text).map_err(refused)?;
    let checked = spec.check().map_err(refused)?;
    let work = |l: &kiln::spec::LayerInfo| {
        let outputs = kiln::spec::product(l.output.dims().iter().map(|d| d.known().unwrap_or(3)));
        l.params.total().saturating_mul(outputs)
    };
    if checked.params().total() > 1 << 22 || checked.layers.iter().any(|l| work(l) > 1 << 30) {
        return Ok(());
    }
    let device = Default::default();
    let graph = kiln::JsonGraph::<Plain>::new(spec, &device).map_err(refused)?;
    let inputs: Option<Vec<_>> = checked
        .inputs
        .iter()
        .map(|input| zeros::<Plain>(&input.shape, &device))
        .collect();
    match inputs {
        Some(inputs) => graph.forward(inputs).map(drop).map_err(refused),
        None => Ok(()),
    }
}

/// A batch of two examples of `shape` in zeros, unknown dimensions 3; `None` past 4096
/// values.
fn zeros<Bk: Backend>(shape: &kiln::Shape, device: &Bk::Device) -> Option<kiln::DynTensor<Bk>> {
    use burn::tensor::Tensor;
    let dims: Vec<usize> = shape
        .dims()
        .iter()
        .map(|d| d.known().unwrap_or(3))
        .collect();
    if dims.iter().try_fold(2usize, |n, &d| n.checked_mul(d))? > 4096 {
        return None;
    }
    match dims[..] {
        [a] => kiln::DynTensor::new(Tensor::<Bk, 2>::zeros([2, a], device)).ok(),
        [a, b] => kiln::DynTensor::new(Tensor::<Bk, 3>::zeros([2, a, b], device)).ok(),
        [a, b, c] => kiln::DynTensor::new(Tensor::<Bk, 4>::zeros([2, a, b, c], device)).ok(),
        _ => None,
    }
}

fn small_model<Bk: Backend>() -> JsonModel<Bk, 2, 2> {
    JsonModel::from_json(MODEL, &Default::default()).expect("the fuzz model is valid")
}

/// A weight file (safetensors or burnpack by the first byte's low bit) loaded into a small
/// model, or (second bit) read whole by `load_model`, architecture and weights.
pub fn weights(data: &[u8]) -> Result<(), String> {
    let (kind, file) = split(data);
    let dir = scratch("weights");
    let path = dir.join(if kind & 1 == 0 {
        "w.safetensors"
    } else {
        "w.bpk"
    });
    write(&path, file);
    if kind & 2 != 0 {
        return kiln::load_model::<Plain, 2, 2>(&path, &Default::default())
            .map(drop)
            .map_err(refused);
    }
    let mut model = small_model::<Plain>();
    kiln::load_weights(&mut model, &path).map_err(refused)
}

/// A Keras file, by the first byte: a `.keras` model (a zip of JSON and HDF5), or the
/// HDF5 of `save_weights` loaded into the model of `tests/fixtures/keras_cnn.keras`.
pub fn keras(data: &[u8]) -> Result<(), String> {
    let (kind, file) = split(data);
    if kind & 1 == 0 {
        return kiln::import::KerasModel::from_bytes(file)
            .map(drop)
            .map_err(refused);
    }
    let cnn = kiln::import::KerasModel::from_bytes(include_bytes!(
        "../../tests/fixtures/keras_cnn.keras"
    ))
    .expect("the fixture reads");
    let mut model = cnn
        .model::<Plain, 4, 2>(&Default::default())
        .expect("the fixture builds");
    let path = scratch("keras").join("w.weights.h5");
    write(&path, file);
    kiln::import::keras_weights(&mut model, &path)
        .map(drop)
        .map_err(refused)
}

/// A PyTorch `state_dict` (`torch.save`'s zip of pickles).
pub fn torch(data: &[u8]) -> Result<(), String> {
    kiln::import::torch_state_dict(data)
        .map(drop)
        .map_err(refused)
}

/// BackupAndRestore's `state.json`, beside the valid weight and optimizer files of epoch 0,
/// resumed by a one-epoch fit.
pub fn backup(data: &[u8]) -> Result<(), String> {
    let dir = scratch("backup");
    let x = vec![0.5f32; 8];
    let train = kiln::datasets::ArrayDataset::classification(x, vec![2], vec![0, 1, 2, 0], 3)
        .expect("valid data");
    let fit = || {
        let mut trainer =
            Trainer::new(small_model::<B>()).loss(Loss::SparseCategoricalCrossentropy);
        trainer.fit(
            &train,
            Fit::epochs(2)
                .batch_size(2)
                .verbose(Verbosity::Silent)
                .callback(BackupAndRestore::new(&dir).delete_when_done(false)),
        )
    };
    fit().expect("a fresh fit");
    write(&dir.join("state.json"), data);
    fit().map(drop).map_err(refused)
}

/// A CSV log that `CsvLogger::append` continues (its header read back), one epoch long.
pub fn csv_log(data: &[u8]) -> Result<(), String> {
    let path = scratch("csv_log").join("training.csv");
    write(&path, data);
    let train = kiln::datasets::ArrayDataset::classification(vec![0.5; 4], vec![2], vec![0, 1], 3)
        .expect("valid data");
    Trainer::new(small_model::<B>())
        .loss(Loss::SparseCategoricalCrossentropy)
        .fit(
            &train,
            Fit::epochs(1)
                .verbose(Verbosity::Silent)
                .callback(kiln::callbacks::CsvLogger::new(&path).append(true)),
        )
        .map(drop)
        .map_err(refused)
}

/// A history's JSON (`History::to_json`).
pub fn history(data: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(data).map_err(refused)?;
    kiln::History::from_json(text).map(drop).map_err(refused)
}
