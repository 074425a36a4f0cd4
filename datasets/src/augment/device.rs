//! Augmentation as batched tensor ops on the model's device: every transform of the CPU
//! path (flips, shifts, crops, rotation, shear, zoom, with every fill mode; channel
//! shifts, cutout, rescaling and featurewise normalization).
//!
//! The loader's worker draws each image's random numbers exactly as the CPU path does and
//! turns them into per-image tables: for shifts, crops and flips, which source row and
//! column each output position reads (two taps per axis, so fractional shifts blend);
//! with a rotation, shear or zoom, the ten numbers of each image's affine map, from which
//! the device computes the point each pixel samples and blends the four pixels around
//! it. The training thread then only launches a few gathers and element-wise ops on the
//! batch. The ops are deterministic, so a seed gives the same batch on the same device
//! every time, and the same images as the CPU path up to float rounding.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use kiln_spec::layers::Interpolation;

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
        let weight =
            |v: &[f32]| Tensor::<B, 4>::from_data(TensorData::new(v.to_vec(), table), &device);
        let taps = self.index.iter().zip(&self.weight).map(|(index, w)| {
            let index =
                Tensor::<B, 4, Int>::from_data(TensorData::new(index.clone(), table), &device);
            (index, weight(w))
        });
        let fill = self
            .fill
            .iter()
            .any(|&w| w != 0.0)
            .then(|| weight(&self.fill));
        blend(x, dim, taps, fill, cval)
    }
}

/// `x` resampled along `dim`: the sum over the taps of `x` gathered at each tap's indices
/// (broadcast over the other dimensions) times its weights, plus `cval` times `fill`, the
/// weight of the taps that fell outside, when there is one.
fn blend<B: Backend>(
    x: Tensor<B, 4>,
    dim: usize,
    taps: impl IntoIterator<Item = (Tensor<B, 4, Int>, Tensor<B, 4>)>,
    fill: Option<Tensor<B, 4>>,
    cval: f32,
) -> Tensor<B, 4> {
    let dims = x.dims();
    let mut out = None;
    for (index, weight) in taps {
        let term = x.clone().gather(dim, index.expand(dims)) * weight;
        out = Some(match out {
            Some(sum) => sum + term,
            None => term,
        });
    }
    let out = out.unwrap_or(x);
    match fill {
        Some(fill) => out + fill * cval,
        None => out,
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

/// The numbers of one image's affine map that [`warp`] takes, in its order: the flips
/// (1 or 0), zoom, shear (sine, cosine), shift and rotation (sine, cosine), each as
/// (rows, columns) or (sine, cosine).
const MAP: usize = 10;

/// The affine map of `draw` on images of `h × w`, as [`warp`] takes it.
fn map(draw: &Draw, h: usize, w: usize) -> [f32; MAP] {
    let a = Affine::new(draw, h, w);
    let flip = |f: bool| f32::from(u8::from(f));
    [
        flip(draw.flip.0),
        flip(draw.flip.1),
        a.zoom.0,
        a.zoom.1,
        a.shear.0,
        a.shear.1,
        a.shift.0,
        a.shift.1,
        a.rotation.0,
        a.rotation.1,
    ]
}

/// Rotation, shear and zoom (with the shifts, crops and flips) of `x`, `[n, c, h, w]`, by
/// each image's affine `maps` (`n × MAP` numbers): the point each output pixel samples,
/// computed on the device as the CPU warp computes it (`Affine::source`, the flip after
/// the warp), and the four pixels around it blended bilinearly, outside ones by `mode`.
fn warp<B: Backend>(x: Tensor<B, 4>, maps: &[f32], mode: FillMode, cval: f32) -> Tensor<B, 4> {
    let [n, _, h, w] = x.dims();
    let device = x.device();
    let plane = [n, h * w];
    let maps = Tensor::<B, 2>::from_data(TensorData::new(maps.to_vec(), [n, MAP]), &device);
    let m = |k: usize| maps.clone().narrow(1, k, 1).expand(plane);
    let (y, x_) = pixel_grid(n, h, w, &device);
    // Output pixel (y, x) of a flipped image is pixel (h - 1 - y, x) of the warped one.
    let y = y.clone() + m(0) * y.mul_scalar(-2.0).add_scalar(h as f32 - 1.0);
    let x_ = x_.clone() + m(1) * x_.mul_scalar(-2.0).add_scalar(w as f32 - 1.0);
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let (a, b) = (m(2) * y.sub_scalar(cy), m(3) * x_.sub_scalar(cx));
    let (a, b) = (a - m(4) * b.clone(), m(5) * b);
    let (a, b) = (a + m(6), b + m(7));
    let snap = |v: Tensor<B, 2>| {
        let r = v.clone().round();
        let near = (v.clone() - r.clone()).abs().lower_elem(1e-4);
        v.mask_where(near, r)
    };
    let sy = snap((m(9) * a.clone() - m(8) * b.clone()).add_scalar(cy));
    let sx = snap((m(8) * a + m(9) * b).add_scalar(cx));
    sample_points(x, sy, sx, mode, cval, Interpolation::Bilinear)
}

/// The row and the column of every pixel of `n` images of `h × w`, `[n, h·w]` each (row
/// by row): where a geometric transform starts from to compute the points it samples.
pub fn pixel_grid<B: Backend>(
    n: usize,
    h: usize,
    w: usize,
    device: &B::Device,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let positions = |at: fn(usize, usize) -> usize| {
        let values = (0..h * w).map(|p| at(p, w) as f32).collect();
        Tensor::<B, 2>::from_data(TensorData::new(values, [1, h * w]), device).expand([n, h * w])
    };
    (positions(|p, w| p / w), positions(|p, w| p % w))
}

/// `x`, `[n, c, h, w]`, resampled at one point per output pixel: output pixel `p` of image
/// `i` reads the point (`rows[i, p]`, `columns[i, p]`), in the input's pixel coordinates
/// (`[n, h·w]` each, as [`pixel_grid`] lays them out). Bilinear blends the four pixels
/// around the point, nearest takes the closest (halves away from 0, as TensorFlow's);
/// pixels outside the image are read by `mode`, with [`FillMode::Constant`] as `cval`.
pub fn sample_points<B: Backend>(
    x: Tensor<B, 4>,
    rows: Tensor<B, 2>,
    columns: Tensor<B, 2>,
    mode: FillMode,
    cval: f32,
    interpolation: Interpolation,
) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let corners = match interpolation {
        Interpolation::Nearest => {
            let round = |v: Tensor<B, 2>| v.clone().abs().add_scalar(0.5).floor() * v.sign();
            let one = rows.ones_like();
            vec![(round(rows), round(columns), one)]
        }
        Interpolation::Bilinear => {
            let (y0, x0) = (rows.clone().floor(), columns.clone().floor());
            let (fy, fx) = (rows - y0.clone(), columns - x0.clone());
            let (gy, gx) = (
                fy.clone().neg().add_scalar(1.0),
                fx.clone().neg().add_scalar(1.0),
            );
            vec![
                (y0.clone(), x0.clone(), gy.clone() * gx.clone()),
                (y0.clone(), x0.clone().add_scalar(1.0), gy * fx.clone()),
                (y0.clone().add_scalar(1.0), x0.clone(), fy.clone() * gx),
                (y0.add_scalar(1.0), x0.add_scalar(1.0), fy * fx),
            ]
        }
    };
    let table = [n, 1, 1, h * w];
    let mut fill: Option<Tensor<B, 2>> = None;
    let mut taps = Vec::with_capacity(4);
    for (yy, xx, weight) in corners {
        let (iy, inside_y) = fill_axis(yy, h, mode);
        let (ix, inside_x) = fill_axis(xx, w, mode);
        let weight = match (inside_y, inside_x) {
            (Some(iy), Some(ix)) => {
                let inside = iy * ix;
                let outside = weight.clone() * inside.clone().neg().add_scalar(1.0);
                fill = Some(match fill {
                    Some(f) => f + outside,
                    None => outside,
                });
                weight * inside
            }
            _ => weight,
        };
        // In integers: past 2²⁴ pixels a plane's positions are not all f32s.
        let index = (iy.int().mul_scalar(w as i64) + ix.int()).reshape(table);
        taps.push((index, weight.reshape(table)));
    }
    let planes = x.reshape([n, c, 1, h * w]);
    blend(planes, 3, taps, fill.map(|f| f.reshape(table)), cval).reshape([n, c, h, w])
}

/// Integer-valued positions `i` on an axis of `len` as pixel indices under `mode` (the
/// device's `fill_index`), and with [`FillMode::Constant`] whether each is inside (1 or
/// 0; outside ones read pixel 0 or the last, with weight 0).
fn fill_axis<B: Backend>(
    i: Tensor<B, 2>,
    len: usize,
    mode: FillMode,
) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
    let last = len as f32 - 1.0;
    let modulo = |i: Tensor<B, 2>, n: f32| i.clone() - i.div_scalar(n).floor().mul_scalar(n);
    match mode {
        FillMode::Constant => {
            let inside = (i.clone().greater_equal_elem(0.0))
                .bool_and(i.clone().lower_equal_elem(last))
                .float();
            (i.clamp(0.0, last), Some(inside))
        }
        FillMode::Nearest => (i.clamp(0.0, last), None),
        FillMode::Wrap => (modulo(i, len as f32), None),
        FillMode::Reflect => {
            // In [0, 2·len): below len as it is, else mirrored (2·len - 1 - m).
            let m = modulo(i, 2.0 * len as f32);
            let mirrored = m.clone().greater_equal_elem(len as f32).float();
            (
                m.clone() + mirrored * m.mul_scalar(-2.0).add_scalar(2.0 * len as f32 - 1.0),
                None,
            )
        }
    }
}

/// How a batch's pixels move.
#[derive(Clone, Debug, PartialEq)]
enum Geometry {
    /// Shifts, crops and flips, one axis at a time (either may stay still).
    Separable {
        rows: Option<Box<Taps<2>>>,
        columns: Option<Box<Taps<2>>>,
    },
    /// Rotation, shear or zoom: each image's affine map ([`warp`]).
    Warp { maps: Vec<f32>, mode: FillMode },
}

impl Geometry {
    /// How the images of `draws`, `h × w`, move.
    fn of(draws: &[Draw], h: usize, w: usize, mode: FillMode) -> Self {
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
        let warped = draws
            .iter()
            .any(|d| d.angle != 0.0 || d.shear != 0.0 || d.zoom != (1.0, 1.0));
        if warped {
            Geometry::Warp {
                maps: draws.iter().flat_map(|d| map(d, h, w)).collect(),
                mode,
            }
        } else {
            Geometry::Separable {
                rows: moving(0).then(|| Box::new(resample(moves(0), h, mode))),
                columns: moving(1).then(|| Box::new(resample(moves(1), w, mode))),
            }
        }
    }
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
            geometry: Geometry::of(draws, h, w, augment.fill_mode),
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
            Geometry::Warp { maps, mode } => x = warp(x, maps, *mode, self.cval),
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
