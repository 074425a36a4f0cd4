//! Augmentation as batched tensor ops on the model's device, for the transforms that are
//! separable by axis: flips, shifts and crops (with every fill mode), channel shifts,
//! cutout, rescaling and featurewise normalization.
//!
//! The loader's worker draws each image's random numbers exactly as the CPU path does and
//! turns them into small per-image tables (which source columns and rows each output
//! position reads, and with what weights); the training thread then only launches a few
//! gathers and element-wise ops on the whole batch. The ops are deterministic, so a seed
//! gives the same batch on the same device every time, and the same images as the CPU
//! path up to float rounding.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use super::{Augment, Draw, FillMode, fill_index, snap};

/// One axis's resampling for a batch of `n` images: output position `p` of image `i`
/// reads source positions `first` and `second` and blends them with their weights, plus
/// the fill constant with the weight of the positions that fell outside.
#[derive(Clone, Debug, PartialEq)]
struct Resample {
    first: Vec<i64>,
    second: Vec<i64>,
    w_first: Vec<f32>,
    w_second: Vec<f32>,
    w_fill: Vec<f32>,
}

impl Resample {
    /// Each image's content moves by `shift` pixels along an axis of `len` and is then
    /// mirrored when `flip` (the CPU path's order: the warp, then the flip).
    fn new(moves: impl Iterator<Item = (f32, bool)>, len: usize, mode: FillMode) -> Self {
        let mut r = Resample {
            first: Vec::new(),
            second: Vec::new(),
            w_first: Vec::new(),
            w_second: Vec::new(),
            w_fill: Vec::new(),
        };
        let centre = (len as f32 - 1.0) / 2.0;
        for (shift, flip) in moves {
            for p in 0..len {
                let q = if flip { len - 1 - p } else { p };
                // As the CPU warp computes it: about the centre, then back.
                let s = snap((q as f32 - centre) - shift + centre);
                let s0 = s.floor();
                let f = s - s0;
                let mut fill = 0.0;
                let mut tap = |i: f32, weight: f32| match fill_index(i as isize, len, mode) {
                    Some(index) => (index as i64, weight),
                    None => {
                        fill += weight;
                        (0, 0.0)
                    }
                };
                let (a, wa) = tap(s0, 1.0 - f);
                let (b, wb) = tap(s0 + 1.0, f);
                r.first.push(a);
                r.second.push(b);
                r.w_first.push(wa);
                r.w_second.push(wb);
                r.w_fill.push(fill);
            }
        }
        r
    }

    /// Resamples `x` (`[n, c, h, w]`) along `dim` (2: rows, 3: columns).
    fn apply<B: Backend>(&self, x: Tensor<B, 4>, dim: usize, cval: f32) -> Tensor<B, 4> {
        let device = x.device();
        let dims = x.dims();
        let mut table = [dims[0], 1, 1, 1];
        table[dim] = dims[dim];
        let index = |v: &[i64]| {
            Tensor::<B, 4, Int>::from_data(TensorData::new(v.to_vec(), table), &device).expand(dims)
        };
        let weight =
            |v: &[f32]| Tensor::<B, 4>::from_data(TensorData::new(v.to_vec(), table), &device);
        let a = x.clone().gather(dim, index(&self.first)) * weight(&self.w_first);
        let b = x.gather(dim, index(&self.second)) * weight(&self.w_second);
        let out = a + b;
        if self.w_fill.iter().any(|&w| w != 0.0) {
            out + weight(&self.w_fill) * cval
        } else {
            out
        }
    }
}

/// A batch's augmentation, planned in the loader's worker and run on the device when the
/// batch gets there (see [`Augment::on_device`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceAugmentation {
    shape: [usize; 3],
    cval: f32,
    rows: Option<Resample>,
    columns: Option<Resample>,
    channel_shift: Option<Vec<f32>>,
    /// Per image, which rows and which columns the cutout square covers (1) or not (0).
    cutout: Option<(Vec<f32>, Vec<f32>)>,
    rescale: Option<f32>,
    featurewise: Option<(Vec<f32>, Vec<f32>)>,
}

impl DeviceAugmentation {
    pub(super) fn plan(augment: &Augment, shape: [usize; 3], draws: &[Draw]) -> Self {
        let [_, h, w] = shape;
        let mode = augment.fill_mode;
        let moves = |axis: usize| {
            draws.iter().map(move |d| {
                let (shift, crop, flip) = if axis == 0 {
                    (d.shift.0, d.crop.0, d.flip.0)
                } else {
                    (d.shift.1, d.crop.1, d.flip.1)
                };
                (shift + crop as f32, flip)
            })
        };
        let moving = |axis: usize| moves(axis).any(|(shift, flip)| shift != 0.0 || flip);
        let cutout = (augment.cutout > 0).then(|| {
            let half = augment.cutout / 2;
            let covered = |centre: usize, len: usize| {
                let span = centre.saturating_sub(half)..(centre + augment.cutout - half).min(len);
                (0..len).map(move |i| f32::from(u8::from(span.contains(&i))))
            };
            (
                draws.iter().flat_map(|d| covered(d.cutout.0, h)).collect(),
                draws.iter().flat_map(|d| covered(d.cutout.1, w)).collect(),
            )
        });
        DeviceAugmentation {
            shape,
            cval: augment.cval,
            rows: moving(0).then(|| Resample::new(moves(0), h, mode)),
            columns: moving(1).then(|| Resample::new(moves(1), w, mode)),
            channel_shift: draws
                .iter()
                .any(|d| d.channel_shift != 0.0)
                .then(|| draws.iter().map(|d| d.channel_shift).collect()),
            cutout,
            rescale: augment.rescale,
            featurewise: augment.featurewise.as_ref().map(|(mean, std)| {
                let c = shape[0];
                let keep = |on: bool, v: &[f32], neutral: f32| {
                    (0..c)
                        .map(|ch| if on { v[ch] } else { neutral })
                        .collect::<Vec<_>>()
                };
                (
                    keep(augment.featurewise_center, mean, 0.0),
                    keep(augment.featurewise_std_normalization, std, 1.0),
                )
            }),
        }
    }

    /// Augments `rows` (`[n, c·h·w]`, as [`crate::HostBatch::rows`] makes them) on their
    /// device.
    pub fn apply<B: Backend>(&self, rows: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, elements] = rows.dims();
        let [c, h, w] = self.shape;
        let device = rows.device();
        let mut x = rows.reshape([n, c, h, w]);
        if let Some(rows) = &self.rows {
            x = rows.apply(x, 2, self.cval);
        }
        if let Some(columns) = &self.columns {
            x = columns.apply(x, 3, self.cval);
        }
        if let Some(shift) = &self.channel_shift {
            let flat = x.reshape([n, elements]);
            let lo = flat.clone().min_dim(1).expand([n, elements]);
            let hi = flat.clone().max_dim(1).expand([n, elements]);
            let shift = Tensor::<B, 2>::from_data(TensorData::new(shift.clone(), [n, 1]), &device);
            x = (flat + shift)
                .max_pair(lo)
                .min_pair(hi)
                .reshape([n, c, h, w]);
        }
        if let Some((rows, columns)) = &self.cutout {
            let rows =
                Tensor::<B, 4>::from_data(TensorData::new(rows.clone(), [n, 1, h, 1]), &device);
            let columns =
                Tensor::<B, 4>::from_data(TensorData::new(columns.clone(), [n, 1, 1, w]), &device);
            let square = rows * columns;
            x = x * (square.clone().neg() + 1.0) + square * self.cval;
        }
        if let Some(r) = self.rescale {
            x = x * r;
        }
        if let Some((mean, std)) = &self.featurewise {
            let per_channel = |v: &[f32]| {
                Tensor::<B, 4>::from_data(TensorData::new(v.to_vec(), [1, c, 1, 1]), &device)
            };
            x = (x - per_channel(mean)) / per_channel(std);
        }
        x.reshape([n, elements])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type B = burn::backend::Flex;

    /// A batch of `n` images of `shape`, each value distinct.
    fn batch(n: usize, shape: [usize; 3]) -> Vec<f32> {
        let per: usize = shape.iter().product();
        (0..n * per)
            .map(|i| ((i * 37) % 101) as f32 / 10.0)
            .collect()
    }

    /// The batch augmented on the device.
    fn on_device(
        augment: &Augment,
        x: &[f32],
        n: usize,
        shape: [usize; 3],
        epoch: u64,
    ) -> Vec<f32> {
        let plan = augment
            .clone()
            .on_device(true)
            .plan_batch(n, shape, 5, epoch, 0);
        let per: usize = shape.iter().product();
        let rows =
            Tensor::<B, 2>::from_data(TensorData::new(x.to_vec(), [n, per]), &Default::default());
        plan.apply(rows).into_data().to_vec().unwrap()
    }

    /// The device path gives the CPU path's images, for the same seed and epoch.
    fn matches_the_cpu_path(augment: Augment) {
        let (n, shape) = (16, [3, 7, 9]);
        let x = batch(n, shape);
        let mut cpu = x.clone();
        augment.apply_batch(&mut cpu, shape, 5, 2, 0);
        let device = on_device(&augment, &x, n, shape, 2);
        assert_ne!(cpu, x, "{augment:?} changed nothing");
        for (i, (a, b)) in cpu.iter().zip(&device).enumerate() {
            assert!(
                (a - b).abs() < 1e-4,
                "{augment:?}: value {i}: cpu {a}, device {b}"
            );
        }
    }

    #[test]
    fn flips_shifts_and_crops_match_the_cpu_path_in_every_fill_mode() {
        for mode in [
            FillMode::Constant,
            FillMode::Nearest,
            FillMode::Reflect,
            FillMode::Wrap,
        ] {
            matches_the_cpu_path(
                Augment::new()
                    .width_shift_range(0.3)
                    .height_shift_range(0.2)
                    .horizontal_flip(true)
                    .vertical_flip(true)
                    .fill_mode(mode)
                    .cval(-2.0),
            );
            matches_the_cpu_path(Augment::new().random_crop(2).fill_mode(mode));
        }
        matches_the_cpu_path(Augment::new().horizontal_flip(true));
        matches_the_cpu_path(Augment::new().width_shift_range(0.2));
    }

    #[test]
    fn channel_shifts_cutout_and_scaling_match_the_cpu_path() {
        matches_the_cpu_path(Augment::new().channel_shift_range(3.0));
        matches_the_cpu_path(Augment::new().cutout(4).cval(-1.0));
        matches_the_cpu_path(Augment::new().rescale(0.5).horizontal_flip(true));
        let images = (0..64 * 3 * 7 * 9).map(|i| (i * 7 % 256) as u8).collect();
        let data = crate::ImageDataset::new("d", [3, 7, 9], images, vec![0; 64], vec!["x".into()])
            .unwrap();
        let fitted = Augment::new()
            .featurewise_center(true)
            .featurewise_std_normalization(true)
            .fit(&data);
        matches_the_cpu_path(fitted.clone().featurewise_std_normalization(false));
        matches_the_cpu_path(fitted.width_shift_range(0.1));
    }

    #[test]
    fn a_horizontal_flip_on_the_device_moves_pixel_0_0_to_the_last_column() {
        // One 1×2×4 image whose row y holds 10·y + x; every image flips for some seed.
        let shape = [1, 2, 4];
        let x: Vec<f32> = (0..8).map(|i| (10 * (i / 4) + i % 4) as f32).collect();
        let augment = Augment::new().horizontal_flip(true).on_device(true);
        let flipped = (0..32)
            .map(|epoch| on_device(&augment, &x, 1, shape, epoch))
            .find(|out| *out != x)
            .expect("a flip in 32 draws");
        assert_eq!(flipped, [3.0, 2.0, 1.0, 0.0, 13.0, 12.0, 11.0, 10.0]);
    }

    #[test]
    fn the_device_path_is_reproducible_and_draws_anew_each_epoch() {
        let augment = Augment::new().width_shift_range(0.2).horizontal_flip(true);
        let (n, shape) = (8, [3, 6, 6]);
        let x = batch(n, shape);
        let a = on_device(&augment, &x, n, shape, 1);
        assert_eq!(a, on_device(&augment, &x, n, shape, 1));
        assert_ne!(a, on_device(&augment, &x, n, shape, 2));
    }

    #[test]
    fn warps_are_refused_on_the_device_by_name() {
        let shape = [3, 8, 8];
        let flips = Augment::new().horizontal_flip(true).on_device(true);
        assert_eq!(flips.check(shape), Ok(()));
        assert_eq!(Augment::new().rotation_range(10.0).check(shape), Ok(()));
        for (augment, name) in [
            (Augment::new().rotation_range(10.0), "rotation_range"),
            (Augment::new().shear_range(5.0), "shear_range"),
            (Augment::new().zoom_range(0.1), "zoom_range"),
        ] {
            let error = augment.on_device(true).check(shape).unwrap_err();
            assert!(
                error.starts_with(&format!("{name} needs the CPU workers")),
                "{error}"
            );
        }
        assert!(Augment::new().on_device(true).is_identity());
    }

    #[test]
    fn statistics_of_another_channel_count_are_refused() {
        let gray = crate::synthetic_digits(8, 1);
        let error = Augment::new()
            .featurewise_center(true)
            .fit(&gray)
            .check([3, 28, 28]);
        assert_eq!(
            error.unwrap_err(),
            "the featurewise statistics were fitted on images of 1 channels, but these have 3"
        );
    }
}
