//! What can go wrong with data, each case carrying the facts a user needs to act.

use std::path::PathBuf;

/// An error reading, downloading or batching a dataset. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file does not start with the magic number of its format.
    #[error("{file} is not {format}: its magic number is {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// The file.
        file: PathBuf,
        /// The format expected, e.g. `an IDX image file`.
        format: &'static str,
        /// The magic number of that format.
        expected: u32,
        /// The number found.
        found: u32,
    },
    /// A file ends before the data its header announces.
    #[error("{file} is truncated: expected {expected} bytes of {what}, found {found}")]
    Truncated {
        /// The file.
        file: PathBuf,
        /// What was being read.
        what: String,
        /// The bytes announced.
        expected: u64,
        /// The bytes present.
        found: u64,
    },
    /// A file's content is not what its format allows.
    #[error("{file}: {what}")]
    Malformed {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A label is not one of the dataset's classes.
    #[error("{file}: label {label} of record {index} is outside 0..{classes}")]
    LabelOutOfRange {
        /// The file.
        file: PathBuf,
        /// The record's index.
        index: usize,
        /// The label found.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A downloaded file does not have the published checksum; it was removed.
    #[error(
        "{file} does not match its published MD5 {expected} (got {found}); the download was removed"
    )]
    Checksum {
        /// The file.
        file: PathBuf,
        /// The published MD5.
        expected: String,
        /// The MD5 of what arrived.
        found: String,
    },
    /// A missing file could not be downloaded from any mirror.
    #[error("{file} is missing and could not be downloaded ({}); put the file there yourself or check the network", .attempts.join("; "))]
    Download {
        /// Where the file was to go.
        file: PathBuf,
        /// Each mirror tried, with why it failed.
        attempts: Vec<String>,
    },
    /// A missing file, with downloads turned off.
    #[error("{file} is missing and downloads are off (KILN_OFFLINE); put the file there yourself")]
    Offline {
        /// The missing file.
        file: PathBuf,
    },
    /// An image folder with no class subfolders.
    #[error("no classes in {dir}: expected one subfolder per class holding .png or .jpg images")]
    NoClasses {
        /// The folder.
        dir: PathBuf,
    },
    /// A class subfolder with no images.
    #[error("class `{class}` in {dir} holds no .png or .jpg images")]
    EmptyClass {
        /// The dataset's folder.
        dir: PathBuf,
        /// The class.
        class: String,
    },
    /// An image that could not be decoded.
    #[error("cannot decode image {file}: {reason}")]
    Image {
        /// The file.
        file: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// Data that does not fit the dataset it is put in.
    #[error("{0}")]
    Invalid(String),
}

/// A result with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

/// Wraps an I/O error with its path.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.into();
    move |source| DataError::Io { path, source }
}
