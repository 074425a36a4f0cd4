//! Augmentation as batched tensor ops on the model's device: every transform of the CPU
//! path (flips, shifts, crops, rotation, shear, zoom, with every fill mode; channel
//! shifts, cutout, rescaling and featurewise normalization).
//!
//! The loader's worker draws each image's random numbers exactly as the CPU path does and
//! turns them into per-image tables: for shifts, crops and flips, which source row and
//! column each output position reads (two taps per axis, so fractional shifts blend);
//! with a rotation, shear or zoom, a sampling grid of four bilinear taps per pixel. The
//! training thread then only launches a few gathers and element-wise ops on the batch. The ops are deterministic, so a seed
//! gives the same batch on the same device every time, and the same images as the CPU
//! path up to float rounding.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use super::{Affine, Augment, Draw, FillMode, fill_index, snap};

/// Resampling tables for a batch: output position `p` of image `i` reads `K` input
/// positions (`index[k]`) and blends them with `weight[k]`, plus the fill constant with the
/// weight of the taps that fell outside (`fill`).
#[derive(Clone, Debug, PartialEq)]
struct Taps<const K: usize> {
    index: [Vec<i64>; K],
    weight: [Vec<f32>; K],
    fill: Vec<f32>,
}

impl<const K: usize> Taps<K> {
    fn new() -> Self {
        Taps {
            index: std::array::from_fn(|_| Vec::new()),
            weight: std::array::from_fn(|_| Vec::new()),
            fill: Vec::new(),
        }
    }

    /// Appends one output position's taps: each an input position (`None`: outside, so
    /// the fill constant) and its weight.
    fn push(&mut self, taps: [(Option<usize>, f32); K]) {
        let mut fill = 0.0;
        for (k, (at, weight)) in taps.into_iter().enumerate() {
            let (index, weight) = match at {
                Some(i) => (i as i64, weight),
                None => {
                    fill += weight;
                    (0, 0.0)
                }
            };
            self.index[k].push(index);
            self.weight[k].push(weight);
        }
        self.fill.push(fill);
    }

    /// Resamples `x` along `dim`, whose per-image tables have the shape `table` (the batch,
    /// and `dim`'s length, with 1 elsewhere).
    fn apply<B: Backend>(
        &self,
        x: Tensor<B, 4>,
        dim: usize,
        table: [usize; 4],
        cval: f32,
    ) -> Tensor<B, 4> {
        let device = x.device();
        let dims = x.dims();
        let weight =
            |v: &[f32]| Tensor::<B, 4>::from_data(TensorData::new(v.to_vec(), table), &device);
        let mut out = None;
        for (index, w) in self.index.iter().zip(&self.weight) {
            let index =
                Tensor::<B, 4, Int>::from_data(TensorData::new(index.clone(), table), &device)
                    .expand(dims);
            let term = x.clone().gather(dim, index) * weight(w);
            out = Some(match out {
                Some(sum) => sum + term,
                None => term,
            });
        }
        let out = out.unwrap_or(x);
        if self.fill.iter().any(|&w| w != 0.0) {
            out + weight(&self.fill) * cval
        } else {
            out
        }
    }
}

/// One axis's resampling: each image's content moves by `shift` pixels along an axis of
/// `len` and is then mirrored when `flip` (the CPU path's order: the warp, then the flip);
/// a shift by a fraction of a pixel blends two neighbours.
fn resample(moves: impl Iterator<Item = (f32, bool)>, len: usize, mode: FillMode) -> Taps<2> {
    let mut taps = Taps::new();
    let centre = (len as f32 - 1.0) / 2.0;
    for (shift, flip) in moves {
        for p in 0..len {
            let q = if flip { len - 1 - p } else { p };
            // As the CPU warp computes it: about the centre, then back.
            let s = snap((q as f32 - centre) - shift + centre);
            let (s0, f) = (s.floor(), s - s.floor());
            let at = |i: f32| fill_index(i as isize, len, mode);
            taps.push([(at(s0), 1.0 - f), (at(s0 + 1.0), f)]);
        }
    }
    taps
}

/// The affine warps (rotation, shear, zoom, with the shifts and flips): each output pixel
/// reads the four input pixels around the point the CPU warp maps it to, blended
/// bilinearly; the tables index each image's flattened plane.
fn grid(draws: &[Draw], h: usize, w: usize, mode: FillMode) -> Taps<4> {
    let mut taps = Taps::new();
    for d in draws {
        let affine = Affine::new(d, h, w);
        for y in 0..h {
            for x in 0..w {
                // The flip comes after the warp, as on the CPU.
                let (y, x) = (
                    if d.flip.0 { h - 1 - y } else { y },
                    if d.flip.1 { w - 1 - x } else { x },
                );
                let (sy, sx) = affine.source(y, x);
                let (y0, x0) = (sy.floor(), sx.floor());
                let (fy, fx) = (sy - y0, sx - x0);
                let at = |yy: f32, xx: f32| {
                    let iy = fill_index(yy as isize, h, mode)?;
                    Some(iy * w + fill_index(xx as isize, w, mode)?)
                };
                taps.push([
                    (at(y0, x0), (1.0 - fy) * (1.0 - fx)),
                    (at(y0, x0 + 1.0), (1.0 - fy) * fx),
                    (at(y0 + 1.0, x0), fy * (1.0 - fx)),
                    (at(y0 + 1.0, x0 + 1.0), fy * fx),
                ]);
            }
        }
    }
    taps
}

/// How a batch's pixels move.
#[derive(Clone, Debug, PartialEq)]
enum Geometry {
    /// Shifts, crops and flips, one axis at a time (either may stay still).
    Separable {
        rows: Option<Taps<2>>,
        columns: Option<Taps<2>>,
    },
    /// Rotation, shear or zoom: a sampling grid over each plane.
    Grid(Taps<4>),
}

/// A batch's augmentation, planned in the loader's worker and run on the device when the
/// batch gets there (see [`Augment::on_device`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceAugmentation {
    shape: [usize; 3],
    cval: f32,
    geometry: Geometry,
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
        let warped = draws
            .iter()
            .any(|d| d.angle != 0.0 || d.shear != 0.0 || d.zoom != (1.0, 1.0));
        let geometry = if warped {
            Geometry::Grid(grid(draws, h, w, mode))
        } else {
            Geometry::Separable {
                rows: moving(0).then(|| resample(moves(0), h, mode)),
                columns: moving(1).then(|| resample(moves(1), w, mode)),
            }
        };
        DeviceAugmentation {
            shape,
            cval: augment.cval,
            geometry,
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
        match &self.geometry {
            Geometry::Separable { rows, columns } => {
                if let Some(rows) = rows {
                    x = rows.apply(x, 2, [n, 1, h, 1], self.cval);
                }
                if let Some(columns) = columns {
                    x = columns.apply(x, 3, [n, 1, 1, w], self.cval);
                }
            }
            Geometry::Grid(taps) => {
                let planes = x.reshape([n, c, 1, h * w]);
                x = taps
                    .apply(planes, 3, [n, 1, 1, h * w], self.cval)
                    .reshape([n, c, h, w]);
            }
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
    fn every_geometric_transform_matches_the_cpu_path_in_every_fill_mode() {
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
            matches_the_cpu_path(
                Augment::new()
                    .rotation_range(40.0)
                    .shear_range(15.0)
                    .zoom_range(0.3)
                    .width_shift_range(0.2)
                    .horizontal_flip(true)
                    .vertical_flip(true)
                    .fill_mode(mode)
                    .cval(-2.0),
            );
        }
        matches_the_cpu_path(Augment::new().rotation_range(90.0).channel_shift_range(1.0));
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
    fn statistics_of_another_channel_count_are_refused() {
        let gray = crate::synthetic_digits(8, 1);
        let error = Augment::new()
            .featurewise_center(true)
            .fit(&gray)
            .check([3, 28, 28]);
        assert_eq!(
            error.unwrap_err().to_string(),
            "the featurewise statistics were fitted on images of 1 channels, but these have 3"
        );
    }
}
