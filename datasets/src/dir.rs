//! Where datasets live: an explicit directory, else `KILN_DATA`, else the user's cache.

use std::path::{Path, PathBuf};

/// The data directory. Each dataset has a subfolder (`mnist/`, `cifar10/`); nothing is
/// written outside it.
///
/// ```
/// use kiln_datasets::DataDir;
/// let dir = DataDir::new("/tmp/data");
/// assert_eq!(dir.dataset("mnist"), std::path::Path::new("/tmp/data/mnist"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
    offline: bool,
}

impl DataDir {
    /// A data directory at `root`. Downloads are on unless `KILN_OFFLINE` is set.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir {
            root: root.into(),
            offline: std::env::var_os("KILN_OFFLINE").is_some_and(|v| !v.is_empty() && v != "0"),
        }
    }

    /// The same directory with downloads turned off (`true`) or on: a missing file is then
    /// an error naming it instead of a download.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Whether missing files are an error rather than a download.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one dataset.
    pub fn dataset(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

impl Default for DataDir {
    /// `KILN_DATA` when set, else `kiln/` under the user's cache directory
    /// (`~/.cache/kiln` on Linux), else `./kiln-data`.
    fn default() -> Self {
        let root = match std::env::var_os("KILN_DATA") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => dirs::cache_dir().map_or_else(|| PathBuf::from("kiln-data"), |c| c.join("kiln")),
        };
        DataDir::new(root)
    }
}
