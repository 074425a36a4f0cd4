//! MNIST: the four IDX files (gzipped as published, or unpacked), downloaded when missing.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::dataset::ImageDataset;
use crate::dir::DataDir;
use crate::download::{Remote, ensure};
use crate::error::{DataError, Result, io};
use crate::idx;

/// The mirrors Keras and torchvision download MNIST from, in that order.
const MIRRORS: [&str; 2] = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
];

/// The four files with their published MD5s (those torchvision checks).
const FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
];

/// The digit classes, `"0"` to `"9"`.
fn digit_classes() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

/// The file for `name` in `dir`: the unpacked file if present, else the `.gz` (downloaded
/// from `mirrors` when missing).
fn locate(
    dir: &Path,
    name: &'static str,
    md5: &'static str,
    mirrors: &[String],
    offline: bool,
) -> Result<PathBuf> {
    let unpacked = dir.join(name.trim_end_matches(".gz"));
    if unpacked.exists() {
        return Ok(unpacked);
    }
    ensure(
        dir,
        &Remote {
            name,
            md5,
            mirrors: mirrors.to_vec(),
        },
        offline,
    )
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = BufReader::new(File::open(path).map_err(io(path))?);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// Reads one split from its image and label files.
///
/// # Errors
/// Any problem of either file, or different counts of images and labels.
pub fn read_split(name: &str, images: &Path, labels: &Path) -> Result<ImageDataset> {
    let pixels = idx::read_images(open(images)?, images)?;
    let labels_read = idx::read_labels(open(labels)?, labels, 10)?;
    if labels_read.len() != pixels.count {
        return Err(DataError::Malformed {
            file: labels.to_path_buf(),
            what: format!(
                "{} labels for the {} images of {}",
                labels_read.len(),
                pixels.count,
                images.display()
            ),
        });
    }
    ImageDataset::new(
        name,
        [1, pixels.rows, pixels.cols],
        pixels.pixels,
        labels_read,
        digit_classes(),
    )
}

/// MNIST's 60,000 training and 10,000 test images, `[1, 28, 28]`, from `dir/mnist/`
/// (downloading what is missing). Like `keras.datasets.mnist.load_data()`.
///
/// # Errors
/// A file missing and not downloadable, or a file that is not what MNIST publishes.
pub fn mnist(dir: &DataDir) -> Result<(ImageDataset, ImageDataset)> {
    mnist_from(dir, &MIRRORS.map(String::from))
}

/// MNIST as [`mnist`] loads it, or, when it is neither on disk nor downloadable, kiln's
/// synthetic digits (12,000 for training, 2,000 for testing, named "synthetic digits")
/// after a banner on stderr that names what was looked for, why it failed and how to get
/// the real data. For examples that must run anywhere; [`mnist`] itself never
/// substitutes anything.
///
/// # Errors
/// A file that is there but damaged or not MNIST's: the real data was meant, so the run
/// stops rather than train on something else.
pub fn mnist_or_synthetic(dir: &DataDir) -> Result<(ImageDataset, ImageDataset)> {
    match mnist(dir) {
        Err(e @ (DataError::Download { .. } | DataError::Offline { .. })) => {
            eprintln!("================================================================");
            eprintln!("MNIST is not available: {e}");
            eprintln!(
                "Looked in {} (set KILN_DATA to another directory).",
                dir.dataset("mnist").display()
            );
            eprintln!("To use the real data, put the four MNIST .gz files there, or run once");
            eprintln!("with network access to download them.");
            eprintln!("Training on kiln's SYNTHETIC digits instead: the accuracies below are");
            eprintln!("not MNIST accuracies.");
            eprintln!("================================================================");
            Ok((
                crate::synthetic_digits(12_000, 1),
                crate::synthetic_digits(2_000, 2),
            ))
        }
        other => other,
    }
}

pub(crate) fn mnist_from(
    dir: &DataDir,
    mirrors: &[String],
) -> Result<(ImageDataset, ImageDataset)> {
    let folder = dir.dataset("mnist");
    let paths: Vec<PathBuf> = FILES
        .iter()
        .map(|(name, md5)| locate(&folder, name, md5, mirrors, dir.is_offline()))
        .collect::<Result<_>>()?;
    let train = read_split("MNIST train", &paths[0], &paths[1])?;
    let test = read_split("MNIST test", &paths[2], &paths[3])?;
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::tests::{images_file, labels_file};
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-mnist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mnist")).unwrap();
        dir
    }

    /// Writes `files`, each a name and its bytes, into `folder`.
    fn put(folder: &Path, files: [(&str, Vec<u8>); 4]) {
        for (name, bytes) in files {
            std::fs::write(folder.join(name), bytes).unwrap();
        }
    }

    #[test]
    fn reads_gzipped_and_unpacked_files() {
        let root = folder("mixed");
        put(
            &root.join("mnist"),
            [
                ("train-images-idx3-ubyte.gz", gz(&images_file(3))),
                ("train-labels-idx1-ubyte", labels_file(&[1, 2, 3])),
                ("t10k-images-idx3-ubyte", images_file(2)),
                ("t10k-labels-idx1-ubyte.gz", gz(&labels_file(&[9, 0]))),
            ],
        );
        let (train, test) = mnist(&DataDir::new(&root).offline(true)).unwrap();
        assert_eq!((train.len(), test.len()), (3, 2));
        assert_eq!(train.shape(), [1, 2, 3]);
        assert_eq!(train.labels(), [1, 2, 3]);
        assert_eq!(test.image(1), [6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn counts_must_agree() {
        let root = folder("counts");
        let mnist = root.join("mnist");
        std::fs::write(mnist.join("train-images-idx3-ubyte"), images_file(3)).unwrap();
        std::fs::write(mnist.join("train-labels-idx1-ubyte"), labels_file(&[1, 2])).unwrap();
        let err = read_split(
            "t",
            &mnist.join("train-images-idx3-ubyte"),
            &mnist.join("train-labels-idx1-ubyte"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("train-labels-idx1-ubyte: 2 labels for the 3 images of"),
            "{err}"
        );
    }

    #[test]
    fn missing_files_are_named_when_offline() {
        let root = folder("missing");
        let err = mnist(&DataDir::new(&root).offline(true)).unwrap_err();
        assert!(
            err.to_string()
                .contains("train-images-idx3-ubyte.gz is missing and downloads are off"),
            "{err}"
        );
    }

    #[test]
    fn synthetic_digits_stand_in_only_for_files_that_cannot_be_had() {
        // Missing and not downloadable: the synthetic digits, named so.
        let root = folder("stand-in");
        let (train, test) = mnist_or_synthetic(&DataDir::new(&root).offline(true)).unwrap();
        assert_eq!((train.len(), test.len()), (12_000, 2_000));
        assert_eq!(
            (train.name(), test.name()),
            ("synthetic digits", "synthetic digits")
        );
        // There but damaged (a label file where the images belong): an error naming it.
        put(
            &root.join("mnist"),
            [
                ("train-images-idx3-ubyte", labels_file(&[1, 2, 3])),
                ("train-labels-idx1-ubyte", labels_file(&[1, 2, 3])),
                ("t10k-images-idx3-ubyte", images_file(2)),
                ("t10k-labels-idx1-ubyte", labels_file(&[9, 0])),
            ],
        );
        let err = mnist_or_synthetic(&DataDir::new(&root).offline(true)).unwrap_err();
        assert!(
            matches!(err, DataError::BadMagic { .. })
                && err.to_string().contains("train-images-idx3-ubyte is not"),
            "{err}"
        );
    }
}
