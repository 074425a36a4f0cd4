//! Writes the seed corpora of `fuzz/corpus/<target>/` from the real files: MNIST and
//! CIFAR-10 from `KILN_DATA`, the Keras and PyTorch files of `tests/fixtures/`, and the
//! weight, backup and history files kiln itself writes. Run once from `fuzz/`:
//! `KILN_DATA=../../shared/data target/release/make_corpus`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kiln::callbacks::BackupAndRestore;
use kiln::{Fit, JsonModel, Loss, Trainer, Verbosity, model};

type B = kiln::backend::Cpu;

model! {
    pub struct Cnn {
        input: [3, 8, 8],
        Conv2D(4, 3, padding = same, activation = relu),
        BatchNormalization,
        MaxPooling2D(2),
        Dropout(0.25),
        Flatten,
        Dense(10, activation = softmax),
    }
}

model! {
    pub struct Graph {
        input a: [6],
        input b: [6],
        let x = a -> Dense(4, activation = relu);
        let y = b -> Dense(4, kernel_regularizer = l2(0.01));
        let s = Add(x, y);
        let c = Concatenate(s, x, axis = -1) -> Dense(2);
        output c;
    }
}

model! {
    pub struct Text {
        input: [5],
        Embedding(20, 4),
        LSTM(6, return_sequences = true),
        GRU(3),
        Dense(2, activation = sigmoid),
    }
}

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    std::fs::write(dir.join(name), bytes).expect("corpus file");
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("a KILN_DATA file"))
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("in memory");
    gz.finish().expect("in memory")
}

/// A variant byte, then the file.
fn tagged(kind: u8, bytes: &[u8]) -> Vec<u8> {
    [&[kind][..], bytes].concat()
}

fn mnist(data: &Path) {
    let images = gunzip(&data.join("mnist/t10k-images-idx3-ubyte.gz"));
    let labels = gunzip(&data.join("mnist/t10k-labels-idx1-ubyte.gz"));
    // One real image and one real label, their counts set to 1.
    let image = [
        &images[..4],
        &1u32.to_be_bytes(),
        &images[8..16],
        &images[16..16 + 784],
    ]
    .concat();
    let label = [&labels[..4], &1u32.to_be_bytes(), &labels[8..9]].concat();
    put("idx", "images", &tagged(0, &image));
    put("idx", "labels", &tagged(1, &label));
    put("idx", "images.gz", &tagged(2, &gzip(&image)));
    put("idx", "labels.gz", &tagged(3, &gzip(&label)));
}

fn cifar(data: &Path) -> Vec<u8> {
    let batch = std::fs::read(data.join("cifar10/data_batch_1.bin")).expect("CIFAR-10 batch");
    put("cifar_batch", "two_records", &batch[..2 * 3073]);
    // The archive's layout, each batch file one real record.
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let names = [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
    ];
    for name in names
        .iter()
        .map(|n| format!("{n}.bin"))
        .chain(["test_batch.bin".into()])
    {
        let mut header = tar::Header::new_gnu();
        header.set_size(3073);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            format!("cifar-10-batches-bin/{name}"),
            &batch[..3073],
        )
        .expect("in memory");
    }
    let archive = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .expect("in memory");
    put("cifar_archive", "one_record_each.tar.gz", &archive);
    batch[1..3073].to_vec()
}

/// The top-left 4×4 pixels of a CIFAR-10 image (planar RGB), as PNG and as JPEG.
fn pictures(planes: &[u8]) {
    let pixels: Vec<u8> = (0..16)
        .flat_map(|i| (0..3).map(move |c| planes[c * 1024 + (i / 4) * 32 + i % 4]))
        .collect();
    let picture = image::RgbImage::from_raw(4, 4, pixels).expect("4×4 RGB");
    for (kind, format, name) in [
        (0, image::ImageFormat::Png, "cifar.png"),
        (1, image::ImageFormat::Jpeg, "cifar.jpg"),
    ] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        picture.write_to(&mut bytes, format).expect("in memory");
        put("image_folder", name, &tagged(kind, bytes.get_ref()));
    }
}

fn models() {
    let device = Default::default();
    put(
        "json_model",
        "cnn.json",
        Cnn::<B>::new(&device).to_json().as_bytes(),
    );
    put(
        "json_model",
        "graph.json",
        Graph::<B>::new(&device).to_json().as_bytes(),
    );
    put(
        "json_model",
        "text.json",
        Text::<B>::new(&device).to_json().as_bytes(),
    );
}

fn fixtures() {
    let fixture =
        |name: &str| std::fs::read(Path::new("../tests/fixtures").join(name)).expect("fixture");
    for (kind, name) in [
        (0, "keras_cnn.keras"),
        (1, "keras_cnn.weights.h5"),
        (0, "keras_rnn.keras"),
    ] {
        put("keras", name, &tagged(kind, &fixture(name)));
    }
    for name in ["torch_net.pt", "torch_rnn.pt"] {
        put("torch", name, &fixture(name));
    }
}

/// The weight files, backup state and history of a small run.
fn training() {
    let dir: PathBuf = std::env::temp_dir().join(format!("kiln-corpus-{}", std::process::id()));
    let model: JsonModel<B, 2, 2> =
        JsonModel::from_json(kiln_fuzz::MODEL, &Default::default()).expect("valid");
    for (kind, name) in [(0, "w.safetensors"), (1, "w.bpk")] {
        kiln::save_weights(&model, dir.join(name)).expect("save");
        put(
            "weights",
            name,
            &tagged(kind, &std::fs::read(dir.join(name)).expect("saved")),
        );
    }
    kiln::save_model(&model, dir.join("m.safetensors")).expect("save");
    let saved = std::fs::read(dir.join("m.safetensors")).expect("saved");
    put("weights", "model.safetensors", &tagged(2, &saved));
    let train =
        kiln::datasets::ArrayDataset::classification(vec![0.5; 8], vec![2], vec![0, 1, 2, 0], 3)
            .expect("valid data");
    let history = Trainer::new(model)
        .loss(Loss::SparseCategoricalCrossentropy)
        .fit(
            &train,
            Fit::epochs(2)
                .batch_size(2)
                .verbose(Verbosity::Silent)
                .callback(BackupAndRestore::new(dir.join("backup")).delete_when_done(false)),
        )
        .expect("fit");
    put(
        "backup",
        "state.json",
        &std::fs::read(dir.join("backup/state.json")).expect("state"),
    );
    put("history", "history.json", history.to_json().as_bytes());
    put("csv_log", "training.csv", history.to_csv().as_bytes());
    std::fs::remove_dir_all(&dir).expect("scratch");
}

fn main() {
    let data = PathBuf::from(std::env::var_os("KILN_DATA").expect("KILN_DATA names the real data"));
    mnist(&data);
    let planes = cifar(&data);
    pictures(&planes);
    models();
    fixtures();
    training();
}
