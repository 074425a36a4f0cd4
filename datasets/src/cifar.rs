//! CIFAR-10, binary version: records of one label byte and 3,072 pixel bytes (the red,
//! green and blue planes of 32×32), 10,000 per batch file.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::dataset::ImageDataset;
use crate::dir::DataDir;
use crate::download::{Remote, ensure};
use crate::error::{DataError, Result, io};

const RECORD: usize = 1 + 3 * 32 * 32;
const ARCHIVE: &str = "cifar-10-binary.tar.gz";
/// The most bytes unpacked from one archive entry: a batch of 10,000 records. A larger
/// entry (a damaged or hostile archive) is refused before it reaches the disk.
const MAX_ENTRY: u64 = 10_000 * RECORD as u64;
/// The archive's published MD5 (the one torchvision and Keras check).
const ARCHIVE_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
const MIRRORS: [&str; 1] = ["https://www.cs.toronto.edu/~kriz/"];
const TRAIN: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const TEST: &str = "test_batch.bin";

/// CIFAR-10's class names, by label.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Reads CIFAR-10 records from `reader`, as many as it holds; `file` names it in errors.
///
/// # Errors
/// A length that is not a whole number of records, or a label above 9.
pub fn read_batch(mut reader: impl Read, file: &Path) -> Result<ImageDataset> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(io(file))?;
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        let whole = bytes.len() / RECORD;
        return Err(DataError::Truncated {
            file: file.to_path_buf(),
            what: format!("{} records of {RECORD} bytes", whole + 1),
            expected: ((whole + 1) * RECORD) as u64,
            found: bytes.len() as u64,
        });
    }
    let count = bytes.len() / RECORD;
    let mut labels = Vec::with_capacity(count);
    let mut images = Vec::with_capacity(count * (RECORD - 1));
    for (index, record) in bytes.chunks_exact(RECORD).enumerate() {
        if record[0] >= 10 {
            return Err(DataError::LabelOutOfRange {
                file: file.to_path_buf(),
                index,
                label: record[0].into(),
                classes: 10,
            });
        }
        labels.push(u16::from(record[0]));
        images.extend_from_slice(&record[1..]);
    }
    let name = file.file_name().map_or_else(
        || "CIFAR-10".to_string(),
        |n| format!("CIFAR-10 {}", n.to_string_lossy()),
    );
    ImageDataset::new(
        name,
        [3, 32, 32],
        images,
        labels,
        CLASSES.map(String::from).to_vec(),
    )
}

/// Reads one CIFAR-10 batch file by path (e.g. a partial test file).
///
/// # Errors
/// As [`read_batch`], or the file cannot be opened.
pub fn cifar10_batch(path: impl AsRef<Path>) -> Result<ImageDataset> {
    let path = path.as_ref();
    read_batch(BufReader::new(File::open(path).map_err(io(path))?), path)
}

/// Joins several datasets of the same shape and classes into one named `name`.
fn concat(name: &str, parts: Vec<ImageDataset>) -> Result<ImageDataset> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for part in &parts {
        images.extend_from_slice(part.images());
        labels.extend_from_slice(part.labels());
    }
    ImageDataset::new(
        name,
        [3, 32, 32],
        images,
        labels,
        CLASSES.map(String::from).to_vec(),
    )
}

/// Where the batch files are: `dir/cifar10/` or the archive's `cifar-10-batches-bin/` in it.
fn batch_path(folder: &Path, name: &str) -> Option<PathBuf> {
    [
        folder.join(name),
        folder.join("cifar-10-batches-bin").join(name),
    ]
    .into_iter()
    .find(|p| p.exists())
}

/// The batch files `names`, unpacking (and if needed downloading) the original archive
/// when any is missing.
fn batches(dir: &DataDir, names: &[&str], mirrors: &[String]) -> Result<Vec<PathBuf>> {
    let folder = dir.dataset("cifar10");
    if names.iter().any(|n| batch_path(&folder, n).is_none()) {
        let archive = ensure(
            &folder,
            &Remote {
                name: ARCHIVE,
                md5: ARCHIVE_MD5,
                mirrors: mirrors.to_vec(),
            },
            dir.is_offline(),
        )?;
        unpack(&archive, &folder)?;
    }
    names
        .iter()
        .map(|n| {
            batch_path(&folder, n).ok_or_else(|| DataError::Malformed {
                file: folder.join(ARCHIVE),
                what: format!("the archive holds no {n}"),
            })
        })
        .collect()
}

/// Unpacks the archive's batch files into `folder`, by file name only.
fn unpack(archive: &Path, folder: &Path) -> Result<()> {
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(
        File::open(archive).map_err(io(archive))?,
    )));
    let entries = tar.entries().map_err(io(archive))?;
    for entry in entries {
        let mut entry = entry.map_err(io(archive))?;
        let path = entry.path().map_err(io(archive))?.into_owned();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.ends_with(".bin") || name == "batches.meta.txt" {
            let size = entry.header().size().map_err(io(archive))?;
            if size > MAX_ENTRY {
                return Err(DataError::Malformed {
                    file: archive.to_path_buf(),
                    what: format!(
                        "its {name} declares {size} bytes, more than a CIFAR-10 batch's {MAX_ENTRY}"
                    ),
                });
            }
            let target = folder.join(&name);
            let mut part = target.as_os_str().to_owned();
            part.push(".part");
            let mut out = File::create(&part).map_err(io(&target))?;
            std::io::copy(&mut entry, &mut out).map_err(io(archive))?;
            fs::rename(&part, &target).map_err(io(&target))?;
        }
    }
    Ok(())
}

/// CIFAR-10's 50,000 training images, `[3, 32, 32]`, from `dir/cifar10/`.
///
/// # Errors
/// A batch file missing and not downloadable, or not a CIFAR-10 batch.
pub fn cifar10_train(dir: &DataDir) -> Result<ImageDataset> {
    cifar10_train_from(dir, &MIRRORS.map(String::from))
}

fn cifar10_train_from(dir: &DataDir, mirrors: &[String]) -> Result<ImageDataset> {
    let parts = batches(dir, &TRAIN, mirrors)?
        .iter()
        .map(cifar10_batch)
        .collect::<Result<Vec<_>>>()?;
    concat("CIFAR-10 train", parts)
}

/// CIFAR-10's training and test images, from `dir/cifar10/` (the five `data_batch_N.bin`
/// and `test_batch.bin`, or the original `cifar-10-binary.tar.gz`, downloaded when
/// missing). Like `keras.datasets.cifar10.load_data()`.
///
/// # Errors
/// A file missing and not downloadable, or not a CIFAR-10 batch.
pub fn cifar10(dir: &DataDir) -> Result<(ImageDataset, ImageDataset)> {
    let mirrors = MIRRORS.map(String::from);
    let train = cifar10_train_from(dir, &mirrors)?;
    let test = cifar10_batch(&batches(dir, &[TEST], &mirrors)?[0])?;
    Ok((train, concat("CIFAR-10 test", vec![test])?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};

    /// `n` records with labels `i % 10` and pixels `i` everywhere.
    fn records(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                std::iter::once((i % 10) as u8).chain(std::iter::repeat_n(i as u8, RECORD - 1))
            })
            .collect()
    }

    #[test]
    fn reads_any_number_of_records() {
        let data =
            read_batch(records(3).as_slice(), Path::new("test_batch_first1000.bin")).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.shape(), [3, 32, 32]);
        assert_eq!(data.labels(), [0, 1, 2]);
        assert!(data.image(2).iter().all(|&p| p == 2));
        assert_eq!(data.classes()[9], "truck");
    }

    #[test]
    fn refuses_partial_records_and_bad_labels() {
        let file = Path::new("data_batch_1.bin");
        let err = read_batch(&records(2)[..RECORD + 5], file).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data_batch_1.bin is truncated: expected 6146 bytes of 2 records of 3073 bytes, found 3078"
        );
        let err = read_batch(&[][..], file).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data_batch_1.bin is truncated: expected 3073 bytes of 1 records of 3073 bytes, found 0"
        );
        let mut bad = records(2);
        bad[RECORD] = 10;
        assert_eq!(
            read_batch(bad.as_slice(), file).unwrap_err().to_string(),
            "data_batch_1.bin: label 10 of record 1 is outside 0..10"
        );
    }

    #[test]
    fn unpacks_the_original_archive() {
        let root = std::env::temp_dir().join(format!("kiln-cifar-archive-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let folder = root.join("cifar10");
        fs::create_dir_all(&folder).unwrap();
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for name in TRAIN.iter().chain([&TEST]) {
            let body = records(2);
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(
                &mut header,
                format!("cifar-10-batches-bin/{name}"),
                body.as_slice(),
            )
            .unwrap();
        }
        fs::write(
            folder.join(ARCHIVE),
            tar.into_inner().unwrap().finish().unwrap(),
        )
        .unwrap();
        let (train, test) = cifar10(&DataDir::new(&root).offline(true)).unwrap();
        assert_eq!((train.len(), test.len()), (10, 2));
        assert!(folder.join("data_batch_3.bin").exists());
    }

    #[test]
    fn missing_files_are_named_when_offline() {
        let root = std::env::temp_dir().join(format!("kiln-cifar-missing-{}", std::process::id()));
        let err = cifar10_train(&DataDir::new(&root).offline(true)).unwrap_err();
        assert!(
            err.to_string()
                .contains("cifar-10-binary.tar.gz is missing and downloads are off"),
            "{err}"
        );
    }
}
