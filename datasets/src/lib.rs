//! kiln's datasets: MNIST, CIFAR-10 and folders of images — found in a data directory or
//! downloaded from the canonical mirrors and verified, parsed with every header checked,
//! kept in memory as bytes, and batched ahead of training.
//!
//! ```no_run
//! use kiln_datasets::{DataDir, mnist};
//! let (train, test) = mnist(&DataDir::default())?;
//! assert_eq!((train.len(), test.len()), (60_000, 10_000));
//! # Ok::<(), kiln_datasets::DataError>(())
//! ```
#![warn(missing_docs)]
// The shape stays: short functions (clippy.toml: 60 lines), no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::too_many_lines, clippy::unwrap_used, clippy::expect_used)
)]

mod array;
mod augment;
mod cifar;
mod data;
mod dataset;
mod dir;
mod download;
mod error;
mod folder;
mod grid;
pub mod idx;
mod loader;
mod mnist;
mod sequences;
mod synthetic;
mod weighted;

pub use array::ArrayDataset;
pub use augment::{Augment, DeviceAugmentation, FillMode, pixel_grid, sample_points};
pub use cifar::{
    CLASSES as CIFAR10_CLASSES, cifar10, cifar10_batch, cifar10_train,
    read_batch as read_cifar10_batch,
};
pub use data::{Dataset, TargetKind, Targets};
pub use dataset::{ImageDataset, Normalization};
pub use dir::DataDir;
pub use download::md5_file;
pub use error::{DataError, Result};
pub use folder::image_folder;
pub use grid::{GRID_GAP, image_grid, save_image_grid};
pub use loader::{HostBatch, Loader, Remainder, binary_class, gather};
pub use mnist::{mnist, mnist_or_synthetic, read_split as read_mnist_split};
pub use sequences::{MOTIF, MOTIF_STEPS, MOTIF_TOKENS, motif_sequences, motif_token_ids};
pub use synthetic::{SYNTHETIC_DIGITS, synthetic_digits};
pub use weighted::{Weighted, check_sample_weights};
