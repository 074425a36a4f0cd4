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
    /// How many of the last examples only pad the batch to the loader's size (repeats of
    /// its first example, with [`Remainder::Pad`]): left out of sums and outputs.
    pub padding: usize,
    /// The examples' indices in the dataset.
    pub indices: Vec<usize>,
    /// Each example's weight in the loss, when they differ: the dataset's
    /// [sample weights](Dataset::sample_weights), or its class's weight
    /// ([`Loader::class_weights`]).
    pub weights: Option<Vec<f32>>,
}

impl HostBatch {
    /// The examples that count: all but the padding.
    pub fn real(&self) -> usize {
        self.len - self.padding
    }

    /// The targets of the examples that count (the padding's left out).
    pub fn into_real_targets(self) -> Targets {
        let real = self.real();
        match self.targets {
            Targets::Classes(mut c) => {
                c.truncate(real);
                Targets::Classes(c)
            }
            Targets::Values(mut v) => {
                let width = v.len().checked_div(self.len).unwrap_or(0);
                v.truncate(real * width);
                Targets::Values(v)
            }
        }
    }

    /// The examples as `[len, elements]` rows on `device`, augmented there when the
    /// batch carries a device augmentation.
    pub fn rows<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2> {
        self.augmented(self.tensor(self.x.clone(), device))
    }

    /// [`HostBatch::rows`], moving the examples to the device rather than copying them
    /// first (a whole dataset's, say).
    pub fn into_rows<B: Backend>(mut self, device: &B::Device) -> Tensor<B, 2> {
        let x = std::mem::take(&mut self.x);
        self.augmented(self.tensor(x, device))
    }

    /// `x`, this batch's examples, as `[len, elements]` rows on `device`.
    fn tensor<B: Backend>(&self, x: Vec<f32>, device: &B::Device) -> Tensor<B, 2> {
        let elements = x.len().checked_div(self.len).unwrap_or(0);
        Tensor::from_data(TensorData::new(x, [self.len, elements]), device)
    }

    /// The examples picked from `all`, every example of the dataset as rows already on
    /// the device (a loader's [`Loader::examples_on_device`] batch, whose `x` is empty),
    /// augmented there when the batch carries a device augmentation.
    pub fn rows_of<B: Backend>(&self, all: &Tensor<B, 2>) -> Tensor<B, 2> {
        let indices = self.indices.iter().map(|&i| i as i64).collect();
        let indices = Tensor::<B, 1, Int>::from_data(
            TensorData::new(indices, [self.indices.len()]),
            &all.device(),
        );
        self.augmented(all.clone().select(0, indices))
    }

    fn augmented<B: Backend>(&self, rows: Tensor<B, 2>) -> Tensor<B, 2> {
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
    remainder: Remainder,
    examples_on_device: bool,
    class_weights: Option<Vec<f32>>,
}

/// What a [`Loader`] does with the examples left over after an epoch's full batches, when
/// the batch size does not divide the dataset.
///
/// A GPU backend compiles its kernels for each new shape, so a smaller last batch costs a
/// second compilation of every kernel of the model: `Drop` and `Pad` keep one shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Remainder {
    /// They make a smaller last batch (Keras's default).
    #[default]
    Keep,
    /// They are left out of the epoch, as tf.data's `batch(drop_remainder=True)`; when
    /// the loader shuffles, each epoch leaves out others.
    Drop,
    /// The last batch is filled up with repeats of its first example, which
    /// [`HostBatch::padding`] counts (for evaluation and prediction, whose sums and outputs
    /// leave them out).
    Pad,
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
            remainder: Remainder::Keep,
            examples_on_device: false,
            class_weights: None,
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

    /// What to do with the examples that do not fill a last batch ([`Remainder::Keep`]
    /// by default).
    pub fn remainder(mut self, remainder: Remainder) -> Self {
        self.remainder = remainder;
        self
    }

    /// For examples already on the device (every one, as rows, for
    /// [`HostBatch::rows_of`]): the worker gathers only the targets and plans the
    /// augmentation, which then runs on the device whether or not it was asked to
    /// ([`Augment::on_device`]), the examples not being at hand.
    pub fn examples_on_device(mut self, on_device: bool) -> Self {
        self.examples_on_device = on_device;
        self
    }

    /// Weights each example by its class, in place of the dataset's sample weights, as
    /// Keras's `fit(class_weight=...)`: class `c` weighs `weights[c]`, and a class past
    /// the end weighs 1. An example's class is its label, the arg-max of its target
    /// values, or, for one value, that value rounded.
    pub fn class_weights(mut self, weights: Vec<f32>) -> Self {
        self.class_weights = Some(weights);
        self
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of batches of a dataset of `len` examples.
    pub fn batches(&self, len: usize) -> usize {
        match self.remainder {
            Remainder::Drop => len / self.batch_size,
            Remainder::Keep | Remainder::Pad => len.div_ceil(self.batch_size),
        }
    }

    /// The example indices of each batch of `epoch` (without [`Remainder::Pad`]'s padding,
    /// which [`Loader::for_each`] adds).
    pub fn plan(&self, len: usize, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..len).collect();
        if let Some(seed) = self.seed {
            // A distinct, reproducible order per epoch, so a resumed run sees the same one.
            let mixed = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut StdRng::seed_from_u64(mixed));
        }
        if self.remainder == Remainder::Drop {
            order.truncate(len - len % self.batch_size);
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
        let pad = self.remainder == Remainder::Pad;
        let on_device = self.examples_on_device;
        let class_weights = self.class_weights.as_deref();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for (i, mut indices) in plan.into_iter().enumerate() {
                    let padding = if pad { batch_size - indices.len() } else { 0 };
                    if padding > 0 {
                        indices.resize(batch_size, indices[0]);
                    }
                    let mut batch = if on_device {
                        gather_targets(data, indices)
                    } else {
                        gather(data, &indices)
                    };
                    batch.padding = padding;
                    if let Some(table) = class_weights {
                        batch.weights = Some(weights_of_classes(&batch.targets, batch.len, table));
                    }
                    if let Some(((augment, seed), shape)) = augment {
                        let first = i * batch_size;
                        if augment.runs_on_device() || on_device {
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
    let (mut x, mut targets) = (Vec::new(), no_targets(data, indices.len()));
    data.gather(indices, &mut x, &mut targets);
    unaugmented(x, targets, indices.to_vec(), whole_weights(data))
}

/// The batch of `indices` without its examples (`x` empty), for examples on the device.
fn gather_targets<D: Dataset + ?Sized>(data: &D, indices: Vec<usize>) -> HostBatch {
    let mut targets = no_targets(data, indices.len());
    data.gather_targets(&indices, &mut targets);
    unaugmented(Vec::new(), targets, indices, whole_weights(data))
}

/// `data`'s sample weights when there is one per example (a dataset of one's own may
/// give others, which the trainer refuses before it trains or evaluates; predictions
/// need none).
fn whole_weights<D: Dataset + ?Sized>(data: &D) -> Option<&[f32]> {
    data.sample_weights().filter(|w| w.len() == data.len())
}

/// A batch of these examples, targets and indices, with their weights among `weights`,
/// not padded, with nothing to augment.
fn unaugmented(
    x: Vec<f32>,
    targets: Targets,
    indices: Vec<usize>,
    weights: Option<&[f32]>,
) -> HostBatch {
    HostBatch {
        x,
        len: indices.len(),
        targets,
        augmentation: None,
        padding: 0,
        weights: weights.map(|w| indices.iter().map(|&i| w[i]).collect()),
        indices,
    }
}

/// The weight of each of `len` examples' classes, read from their `targets` (see
/// [`Loader::class_weights`]).
fn weights_of_classes(targets: &Targets, len: usize, table: &[f32]) -> Vec<f32> {
    let weight = |class: Option<usize>| class.and_then(|c| table.get(c)).copied().unwrap_or(1.0);
    match targets {
        Targets::Classes(c) => c.iter().map(|&c| weight(usize::try_from(c).ok())).collect(),
        Targets::Values(v) => {
            let width = v.len().checked_div(len).unwrap_or(0).max(1);
            (v.chunks(width))
                .map(|row| match row {
                    [value] => weight(binary_class(*value)),
                    _ => weight(arg_max(row)),
                })
                .collect()
        }
    }
}

/// The class a single target value stands for: the value rounded (halves to even, as
/// Keras's `tf.round`), when that is not negative.
pub fn binary_class(value: f32) -> Option<usize> {
    let rounded = value.round_ties_even();
    (rounded >= 0.0).then_some(rounded as usize)
}

/// The position of the first largest of `row`'s values (a NaN never is).
fn arg_max(row: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in row.iter().enumerate() {
        if !v.is_nan() && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// Room for the targets of `len` examples of `data`.
fn no_targets<D: Dataset + ?Sized>(data: &D, len: usize) -> Targets {
    match data.target_kind() {
        TargetKind::Classes(_) => Targets::Classes(Vec::with_capacity(len)),
        TargetKind::Values(w) => Targets::Values(Vec::with_capacity(len * w)),
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

    fn epoch<D: Dataset>(loader: &Loader, data: &D, e: u64) -> Vec<HostBatch> {
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
    fn class_weights_weigh_each_example_by_its_class() {
        // Labels 0, 1, 0, 1, ...: class 0 weighs 0.25, class 1 is past the table (1).
        let loader = Loader::new(4)
            .remainder(Remainder::Pad)
            .class_weights(vec![0.25]);
        let weights: Vec<_> = epoch(&loader, &data(), 0)
            .into_iter()
            .map(|b| b.weights)
            .collect();
        let (a, b) = (0.25, 1.0);
        assert_eq!(
            weights,
            [
                Some(vec![a, b, a, b]),
                Some(vec![a, b, a, b]),
                Some(vec![a, b, a, a])
            ]
        );
        // Values: the arg-max of a row (the first of equal ones, never a NaN), or one
        // value rounded, halves to even; a negative one is no class.
        let table = [2.0, 3.0, 5.0];
        let rows = Targets::Values(vec![0.1, 0.7, 0.2, 0.5, 0.5, 0.0, f32::NAN, 0.0, 0.4]);
        assert_eq!(weights_of_classes(&rows, 3, &table), [3.0, 2.0, 5.0]);
        let single = Targets::Values(vec![0.0, 1.0, 0.4, 1.6, -2.0, 7.0, 0.5, 1.5]);
        let want = [2.0, 3.0, 2.0, 5.0, 1.0, 1.0, 2.0, 5.0]; // halves to even
        assert_eq!(weights_of_classes(&single, 8, &table), want);
        assert_eq!(
            weights_of_classes(&Targets::Classes(vec![2, -1]), 2, &table),
            [5.0, 1.0]
        );
    }

    #[test]
    fn remainders_are_kept_dropped_or_padded() {
        let data = data(); // 10 examples, the first value of example i is 20·i/255
        let first = |b: &HostBatch| -> Vec<u8> {
            b.x.iter()
                .step_by(2)
                .map(|v| (v * 255.0 / 20.0).round() as u8)
                .collect()
        };
        let sizes = |r: Remainder| {
            let loader = Loader::new(4).remainder(r);
            let batches = epoch(&loader, &data, 0);
            let shape: Vec<_> = batches.iter().map(|b| (b.len, b.padding)).collect();
            (
                loader.batches(data.len()),
                shape,
                first(batches.last().unwrap()),
            )
        };
        assert_eq!(
            sizes(Remainder::Keep),
            (3, vec![(4, 0), (4, 0), (2, 0)], vec![8, 9])
        );
        assert_eq!(
            sizes(Remainder::Drop),
            (2, vec![(4, 0), (4, 0)], vec![4, 5, 6, 7])
        );
        // The last batch is filled with its first example, and says so.
        assert_eq!(
            sizes(Remainder::Pad),
            (3, vec![(4, 0), (4, 0), (4, 2)], vec![8, 9, 8, 8])
        );
        let padded = epoch(&Loader::new(4).remainder(Remainder::Pad), &data, 0);
        assert_eq!(padded[2].real(), 2);
        assert_eq!(padded[2].targets, Targets::Classes(vec![0, 1, 0, 0]));
        assert_eq!(
            padded[2].clone().into_real_targets(),
            Targets::Classes(vec![0, 1])
        );
        // Shuffled, each epoch drops two other examples.
        let loader = Loader::new(4).shuffle(3).remainder(Remainder::Drop);
        let kept = |e| {
            let mut v: Vec<u8> = epoch(&loader, &data, e).iter().flat_map(first).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(kept(0).len(), 8);
        assert_ne!(kept(0), kept(1));
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
    fn batches_of_examples_on_the_device_are_picked_there() {
        type B = burn::backend::Flex;
        let (data, device) = (crate::synthetic_digits(10, 2), Default::default());
        let every: Vec<usize> = (0..10).collect();
        let all = gather(&data, &every).rows::<B>(&device);
        let augment = Augment::new().width_shift_range(0.2).on_device(true);
        let loader = Loader::new(4)
            .shuffle(2)
            .remainder(Remainder::Pad)
            .augment(augment, 3);
        let sent = epoch(&loader, &data, 1);
        let kept = epoch(&loader.clone().examples_on_device(true), &data, 1);
        assert_eq!(sent.len(), 3);
        for (s, k) in sent.iter().zip(&kept) {
            assert!(k.x.is_empty() && !s.x.is_empty());
            assert_eq!(
                (k.len, k.padding, &k.indices, &k.targets),
                (s.len, s.padding, &s.indices, &s.targets)
            );
            assert_eq!(
                k.rows_of(&all).into_data(),
                s.rows::<B>(&device).into_data()
            );
        }
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
