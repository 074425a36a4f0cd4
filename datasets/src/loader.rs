//! Batching: a worker thread gathers each batch (shuffled, seeded), converts its bytes to
//! `f32` and normalizes them while the training thread works on the batch before.

use std::ops::ControlFlow;
use std::sync::mpsc;

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::augment::{Augment, DeviceAugmentation};
use crate::data::{Dataset, TargetKind, Targets};

/// One batch, gathered on the host, ready to go to a device.
#[derive(Clone, Debug, PartialEq)]
pub struct HostBatch {
    /// The examples, `len · elements` values.
    pub x: Vec<f32>,
    /// The number of examples.
    pub len: usize,
    /// The targets.
    pub targets: Targets,
    /// The augmentation still to run on the device ([`Augment::on_device`]).
    pub augmentation: Option<DeviceAugmentation>,
}

impl HostBatch {
    /// The examples as `[len, elements]` rows on `device`, augmented there when the
    /// batch carries a device augmentation.
    pub fn rows<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2> {
        let elements = self.x.len().checked_div(self.len).unwrap_or(0);
        let rows = Tensor::from_data(
            TensorData::new(self.x.clone(), [self.len, elements]),
            device,
        );
        match &self.augmentation {
            Some(augmentation) => augmentation.apply(rows),
            None => rows,
        }
    }

    /// The class indices on `device`, when the targets are classes.
    pub fn classes<B: Backend>(&self, device: &B::Device) -> Option<Tensor<B, 1, Int>> {
        match &self.targets {
            Targets::Classes(c) => Some(Tensor::from_data(
                TensorData::new(c.clone(), [c.len()]),
                device,
            )),
            Targets::Values(_) => None,
        }
    }

    /// The target values as `[len, width]` on `device`, when the targets are values.
    pub fn values<B: Backend>(&self, device: &B::Device) -> Option<Tensor<B, 2>> {
        match &self.targets {
            Targets::Values(v) => {
                let width = v.len().checked_div(self.len).unwrap_or(0);
                Some(Tensor::from_data(
                    TensorData::new(v.clone(), [self.len, width]),
                    device,
                ))
            }
            Targets::Classes(_) => None,
        }
    }
}

/// Splits a dataset into batches, in order or shuffled with a seed, and gathers them in a
/// worker thread ahead of their use.
///
/// ```
/// use std::ops::ControlFlow;
/// use kiln_datasets::{Loader, synthetic_digits};
/// let digits = synthetic_digits(10, 1);
/// let mut sizes = Vec::new();
/// Loader::new(4).shuffle(7).for_each(&digits, 0, |batch| {
///     sizes.push(batch.len);
///     ControlFlow::Continue(())
/// });
/// assert_eq!(sizes, [4, 4, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct Loader {
    batch_size: usize,
    seed: Option<u64>,
    prefetch: usize,
    augment: Option<(Augment, u64)>,
}

impl Loader {
    /// Batches of `batch_size` examples (the last may be smaller), in order.
    ///
    /// # Panics
    /// When `batch_size` is 0.
    pub fn new(batch_size: usize) -> Self {
        assert!(batch_size > 0, "the batch size must be positive");
        Loader {
            batch_size,
            seed: None,
            prefetch: 4,
            augment: None,
        }
    }

    /// Shuffles the examples each epoch, reproducibly for `seed`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Augments every batch of images (`[channels, height, width]` examples) with random
    /// transforms drawn from `seed`, the epoch and each image's position, in the worker
    /// threads, or, with [`Augment::on_device`], planned there and run on the device by
    /// [`HostBatch::rows`]. Examples of another shape are left as they are.
    pub fn augment(mut self, augment: Augment, seed: u64) -> Self {
        self.augment = (!augment.is_identity()).then_some((augment, seed));
        self
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of batches of a dataset of `len` examples.
    pub fn batches(&self, len: usize) -> usize {
        len.div_ceil(self.batch_size)
    }

    /// The example indices of each batch of `epoch`.
    pub fn plan(&self, len: usize, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..len).collect();
        if let Some(seed) = self.seed {
            // A distinct, reproducible order per epoch, so a resumed run sees the same one.
            let mixed = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut StdRng::seed_from_u64(mixed));
        }
        order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// Calls `f` with each batch of `epoch` in turn, while a worker thread gathers the
    /// next ones; `f` returns `Break` to stop early.
    pub fn for_each<D: Dataset + ?Sized>(
        &self,
        data: &D,
        epoch: u64,
        mut f: impl FnMut(HostBatch) -> ControlFlow<()>,
    ) {
        let plan = self.plan(data.len(), epoch);
        let (tx, rx) = mpsc::sync_channel::<HostBatch>(self.prefetch);
        let image: Option<[usize; 3]> = data.example_shape().try_into().ok();
        let augment = self.augment.as_ref().zip(image);
        let batch_size = self.batch_size;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for (i, indices) in plan.into_iter().enumerate() {
                    let mut batch = gather(data, &indices);
                    if let Some(((augment, seed), shape)) = augment {
                        let first = i * batch_size;
                        if augment.runs_on_device() {
                            batch.augmentation =
                                Some(augment.plan_batch(batch.len, shape, *seed, epoch, first));
                        } else {
                            augment.apply_batch(&mut batch.x, shape, *seed, epoch, first);
                        }
                    }
                    if tx.send(batch).is_err() {
                        break; // the consumer stopped
                    }
                }
            });
            for batch in rx.iter() {
                if f(batch).is_break() {
                    break;
                }
            }
            // Dropping the receiver here ends the worker at its next send.
            drop(rx);
        });
    }
}

/// The batch of `indices`, gathered in the calling thread.
pub fn gather<D: Dataset + ?Sized>(data: &D, indices: &[usize]) -> HostBatch {
    let mut x = Vec::new();
    let mut targets = match data.target_kind() {
        TargetKind::Classes(_) => Targets::Classes(Vec::with_capacity(indices.len())),
        TargetKind::Values(w) => Targets::Values(Vec::with_capacity(indices.len() * w)),
    };
    data.gather(indices, &mut x, &mut targets);
    HostBatch {
        x,
        len: indices.len(),
        targets,
        augmentation: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{ImageDataset, Normalization};

    fn data() -> ImageDataset {
        let images: Vec<u8> = (0..10u8).flat_map(|i| [i * 20, 255 - i * 20]).collect();
        let labels = (0..10).map(|i| i % 2).collect();
        ImageDataset::new("d", [2, 1, 1], images, labels, vec!["a".into(), "b".into()]).unwrap()
    }

    fn epoch(loader: &Loader, data: &ImageDataset, e: u64) -> Vec<HostBatch> {
        let mut out = Vec::new();
        loader.for_each(data, e, |b| {
            out.push(b);
            ControlFlow::Continue(())
        });
        out
    }

    #[test]
    fn in_order_batches_scale_to_unit_range() {
        let batches = epoch(&Loader::new(4), &data(), 0);
        assert_eq!(batches.iter().map(|b| b.len).collect::<Vec<_>>(), [4, 4, 2]);
        let want = [0.0, 1.0, 20.0 / 255.0, 235.0 / 255.0];
        assert!(
            batches[0].x[..4]
                .iter()
                .zip(want)
                .all(|(a, b)| (a - b).abs() < 1e-6),
            "{:?}",
            batches[0].x
        );
        assert_eq!(batches[2].targets, Targets::Classes(vec![0, 1]));
    }

    #[test]
    fn shuffling_is_seeded_per_epoch_and_covers_every_example() {
        let loader = Loader::new(3).shuffle(11);
        let data = data();
        let labels = |bs: &[HostBatch]| -> Vec<f32> {
            bs.iter()
                .flat_map(|b| b.x.iter().step_by(2).copied())
                .collect()
        };
        let a = labels(&epoch(&loader, &data, 0));
        assert_eq!(a, labels(&epoch(&loader, &data, 0)));
        assert_ne!(a, labels(&epoch(&loader, &data, 1)));
        let mut sorted = a.clone();
        sorted.sort_by(f32::total_cmp);
        let want: Vec<f32> = (0..10).map(|i| (i * 20) as f32 / 255.0).collect();
        assert!(
            sorted.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{sorted:?}"
        );
    }

    #[test]
    fn standardization_is_per_channel() {
        let data = data().with_normalization(Normalization::Standardize {
            mean: vec![0.5, 0.25],
            std: vec![0.5, 0.25],
        });
        let batch = gather(&data, &[0]);
        assert_eq!(batch.x, [-1.0, 3.0]);
    }

    #[test]
    fn stopping_early_stops_the_worker() {
        let mut seen = 0;
        Loader::new(1).for_each(&data(), 0, |_| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(seen, 2);
    }

    #[test]
    fn batches_become_tensors() {
        type B = burn::backend::Flex;
        let batch = gather(&data(), &[1, 2]);
        let device = Default::default();
        assert_eq!(batch.rows::<B>(&device).dims(), [2, 2]);
        assert_eq!(batch.classes::<B>(&device).unwrap().dims(), [2]);
        assert!(batch.values::<B>(&device).is_none());
    }

    #[test]
    fn device_augmentation_gives_the_workers_images() {
        type B = burn::backend::Flex;
        let digits = crate::synthetic_digits(20, 4);
        let augment = Augment::new()
            .width_shift_range(0.2)
            .height_shift_range(0.1)
            .horizontal_flip(true);
        // The rows on the device, and how many batches left their augmentation to it.
        let rows = |loader: Loader| {
            let (mut out, mut planned) = (Vec::new(), 0);
            loader.for_each(&digits, 3, |batch| {
                planned += usize::from(batch.augmentation.is_some());
                let rows = batch.rows::<B>(&Default::default());
                out.extend(rows.into_data().to_vec::<f32>().unwrap());
                ControlFlow::Continue(())
            });
            (out, planned)
        };
        let (workers, none) = rows(Loader::new(8).shuffle(1).augment(augment.clone(), 9));
        let (device, all) = rows(
            Loader::new(8)
                .shuffle(1)
                .augment(augment.on_device(true), 9),
        );
        assert_eq!((none, all), (0, 3));
        assert_eq!(workers.len(), 20 * 28 * 28);
        assert_ne!(workers, rows(Loader::new(8).shuffle(1)).0, "augmented");
        assert!(
            workers
                .iter()
                .zip(&device)
                .all(|(a, b)| (a - b).abs() < 1e-5),
            "the device path differs from the workers'"
        );
    }
}
