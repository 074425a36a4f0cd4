//! Augmentation: seeded random transforms of images with Keras's `ImageDataGenerator`
//! vocabulary, plus random crops with padding and cutout. They run in the loader's worker
//! threads, one image per task, never in the training thread; each image draws its own
//! random numbers from the seed, the epoch and its position, so a run is bit-reproducible
//! whatever the threads do.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::data::Dataset;
use crate::dataset::ImageDataset;
use crate::error::DataError;

mod device;

pub use device::{DeviceAugmentation, pixel_grid, sample_points};
pub use kiln_spec::layers::FillMode;

/// A pipeline of random transforms, as Keras's `ImageDataGenerator(rotation_range=...,
/// width_shift_range=..., horizontal_flip=True, ...)`, applied to every training batch.
///
/// ```
/// use kiln_datasets::{Augment, FillMode};
/// let augment = Augment::new()
///     .width_shift_range(0.1)
///     .height_shift_range(0.1)
///     .horizontal_flip(true)
///     .fill_mode(FillMode::Nearest);
/// let mut image = vec![0.0f32; 3 * 32 * 32];
/// augment.apply(&mut image, [3, 32, 32], 7);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Augment {
    rotation_range: f32,
    width_shift_range: f32,
    height_shift_range: f32,
    shear_range: f32,
    zoom_range: (f32, f32),
    channel_shift_range: f32,
    horizontal_flip: bool,
    vertical_flip: bool,
    fill_mode: FillMode,
    cval: f32,
    crop_padding: usize,
    cutout: usize,
    rescale: Option<f32>,
    featurewise: Option<(Vec<f32>, Vec<f32>)>,
    featurewise_center: bool,
    featurewise_std_normalization: bool,
    on_device: bool,
}

/// One image's draw of the random parameters.
#[derive(Clone, Debug, PartialEq)]
struct Draw {
    angle: f32,
    shift: (f32, f32),
    shear: f32,
    zoom: (f32, f32),
    flip: (bool, bool),
    channel_shift: f32,
    crop: (isize, isize),
    cutout: (usize, usize),
}

impl Augment {
    /// No transform: add the ones wanted.
    pub fn new() -> Self {
        Augment {
            zoom_range: (1.0, 1.0),
            ..Augment::default()
        }
    }

    /// Rotates by a random angle in `[-degrees, degrees]`.
    pub fn rotation_range(mut self, degrees: f32) -> Self {
        self.rotation_range = degrees;
        self
    }

    /// Shifts horizontally by up to this fraction of the width.
    pub fn width_shift_range(mut self, fraction: f32) -> Self {
        self.width_shift_range = fraction;
        self
    }

    /// Shifts vertically by up to this fraction of the height.
    pub fn height_shift_range(mut self, fraction: f32) -> Self {
        self.height_shift_range = fraction;
        self
    }

    /// Shears by a random angle in `[-degrees, degrees]`.
    pub fn shear_range(mut self, degrees: f32) -> Self {
        self.shear_range = degrees;
        self
    }

    /// Zooms each axis by a random factor in `[1 - range, 1 + range]` (Keras's zoom_range
    /// as a single number).
    pub fn zoom_range(mut self, range: f32) -> Self {
        self.zoom_range = (1.0 - range, 1.0 + range);
        self
    }

    /// Adds one random offset in `[-range, range]` to every channel, clipped to the image's
    /// own range (in the units of the batch).
    pub fn channel_shift_range(mut self, range: f32) -> Self {
        self.channel_shift_range = range;
        self
    }

    /// Mirrors left-right half of the time.
    pub fn horizontal_flip(mut self, flip: bool) -> Self {
        self.horizontal_flip = flip;
        self
    }

    /// Mirrors top-bottom half of the time.
    pub fn vertical_flip(mut self, flip: bool) -> Self {
        self.vertical_flip = flip;
        self
    }

    /// How points outside the image are filled.
    pub fn fill_mode(mut self, mode: FillMode) -> Self {
        self.fill_mode = mode;
        self
    }

    /// The value of [`FillMode::Constant`].
    pub fn cval(mut self, cval: f32) -> Self {
        self.cval = cval;
        self
    }

    /// Pads by `padding` pixels (filled per `fill_mode`) and crops back at a random offset:
    /// the CIFAR recipe's random crop.
    pub fn random_crop(mut self, padding: usize) -> Self {
        self.crop_padding = padding;
        self
    }

    /// Blanks a random `size`×`size` square (to `cval`), as in DeVries & Taylor's cutout.
    pub fn cutout(mut self, size: usize) -> Self {
        self.cutout = size;
        self
    }

    /// Multiplies every value after the transforms.
    pub fn rescale(mut self, factor: f32) -> Self {
        self.rescale = Some(factor);
        self
    }

    /// Subtracts the per-channel mean found by [`Augment::fit`].
    pub fn featurewise_center(mut self, center: bool) -> Self {
        self.featurewise_center = center;
        self
    }

    /// Divides by the per-channel standard deviation found by [`Augment::fit`].
    pub fn featurewise_std_normalization(mut self, normalize: bool) -> Self {
        self.featurewise_std_normalization = normalize;
        self
    }

    /// Computes the per-channel statistics of `data` (as it is batched) for the
    /// featurewise options, as Keras's `datagen.fit(x_train)`.
    pub fn fit(mut self, data: &ImageDataset) -> Self {
        let [c, h, w] = data.shape();
        let plane = h * w;
        let mut sum = vec![0f64; c];
        let mut sq = vec![0f64; c];
        let indices: Vec<usize> = (0..data.len()).collect();
        for chunk in indices.chunks(1024) {
            let mut x = Vec::new();
            let mut targets = crate::data::Targets::Classes(Vec::new());
            data.gather(chunk, &mut x, &mut targets);
            for image in x.chunks_exact(c * plane) {
                for (ch, values) in image.chunks_exact(plane).enumerate() {
                    for &v in values {
                        sum[ch] += f64::from(v);
                        sq[ch] += f64::from(v) * f64::from(v);
                    }
                }
            }
        }
        let n = (data.len() * plane).max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, &m)| ((q / n - f64::from(m).powi(2)).max(0.0).sqrt() as f32).max(1e-7))
            .collect();
        self.featurewise = Some((mean, std));
        self
    }

    /// Runs the transforms as batched tensor ops on the model's device (a GPU's, say)
    /// instead of in the loader's CPU workers: the workers only draw the random numbers
    /// and turn them into sampling tables. Every transform can; the images are the CPU
    /// path's, up to float rounding.
    pub fn on_device(mut self, on: bool) -> Self {
        self.on_device = on;
        self
    }

    /// Whether the transforms run on the model's device ([`Augment::on_device`]).
    pub fn runs_on_device(&self) -> bool {
        self.on_device
    }

    /// Whether this pipeline can augment images of `shape`: featurewise statistics fitted
    /// on as many channels.
    ///
    /// # Errors
    /// [`DataError::Invalid`] for statistics of another channel count, naming both.
    pub fn check(&self, shape: [usize; 3]) -> Result<(), DataError> {
        match &self.featurewise {
            Some((mean, _)) if mean.len() != shape[0] => Err(DataError::Invalid(format!(
                "the featurewise statistics were fitted on images of {} channels, but these have {}",
                mean.len(),
                shape[0]
            ))),
            _ => Ok(()),
        }
    }

    /// Whether any transform is on.
    pub fn is_identity(&self) -> bool {
        Augment {
            on_device: false,
            ..self.clone()
        } == Augment::new()
    }

    fn draw(&self, rng: &mut StdRng, shape: [usize; 3]) -> Draw {
        let [_, h, w] = shape;
        let mut uniform = |r: f32| {
            if r > 0.0 {
                rng.random_range(-r..=r)
            } else {
                0.0
            }
        };
        let angle = uniform(self.rotation_range).to_radians();
        let shift = (
            uniform(self.height_shift_range) * h as f32,
            uniform(self.width_shift_range) * w as f32,
        );
        let shear = uniform(self.shear_range).to_radians();
        let channel_shift = uniform(self.channel_shift_range);
        let (lo, hi) = self.zoom_range;
        let zoom = if lo == hi {
            (lo, hi)
        } else {
            (rng.random_range(lo..=hi), rng.random_range(lo..=hi))
        };
        let flip = (
            self.vertical_flip && rng.random::<bool>(),
            self.horizontal_flip && rng.random::<bool>(),
        );
        let p = self.crop_padding as i64;
        let crop = if p > 0 {
            (
                rng.random_range(-p..=p) as isize,
                rng.random_range(-p..=p) as isize,
            )
        } else {
            (0, 0)
        };
        let cutout = if self.cutout > 0 {
            (rng.random_range(0..h), rng.random_range(0..w))
        } else {
            (0, 0)
        };
        Draw {
            angle,
            shift,
            shear,
            zoom,
            flip,
            channel_shift,
            crop,
            cutout,
        }
    }

    /// Transforms one channels-first image in place with random numbers drawn from `seed`.
    ///
    /// # Panics
    /// When `image` does not hold `shape`'s values.
    pub fn apply(&self, image: &mut [f32], shape: [usize; 3], seed: u64) {
        assert_eq!(
            image.len(),
            shape.iter().product::<usize>(),
            "an image of {shape:?}"
        );
        let draw = self.draw(&mut StdRng::seed_from_u64(seed), shape);
        self.apply_draw(image, shape, &draw);
    }

    fn apply_draw(&self, image: &mut [f32], shape: [usize; 3], d: &Draw) {
        let [c, h, w] = shape;
        let geometric = d.angle != 0.0
            || d.shift != (0.0, 0.0)
            || d.shear != 0.0
            || d.zoom != (1.0, 1.0)
            || d.crop != (0, 0);
        if geometric {
            self.warp(image, shape, d);
        }
        if d.flip.0 || d.flip.1 {
            flip(image, shape, d.flip);
        }
        if d.channel_shift != 0.0 {
            let (lo, hi) = image
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            for v in image.iter_mut() {
                *v = (*v + d.channel_shift).clamp(lo, hi);
            }
        }
        if self.cutout > 0 {
            let half = self.cutout / 2;
            let (cy, cx) = d.cutout;
            for ch in 0..c {
                for y in cy.saturating_sub(half)..(cy + self.cutout - half).min(h) {
                    for x in cx.saturating_sub(half)..(cx + self.cutout - half).min(w) {
                        image[ch * h * w + y * w + x] = self.cval;
                    }
                }
            }
        }
        if let Some(r) = self.rescale {
            image.iter_mut().for_each(|v| *v *= r);
        }
        if let Some((mean, std)) = &self.featurewise {
            for (ch, plane) in image.chunks_exact_mut(h * w).enumerate() {
                let m = if self.featurewise_center {
                    mean[ch]
                } else {
                    0.0
                };
                let s = if self.featurewise_std_normalization {
                    std[ch]
                } else {
                    1.0
                };
                plane.iter_mut().for_each(|v| *v = (*v - m) / s);
            }
        }
    }

    /// The affine part (zoom, shear, shift, rotation about the centre, as Keras composes
    /// them), by mapping each output pixel back into the input and sampling it bilinearly
    /// (Keras's order-1 interpolation).
    fn warp(&self, image: &mut [f32], [c, h, w]: [usize; 3], d: &Draw) {
        let affine = Affine::new(d, h, w);
        let source = image.to_vec();
        for y in 0..h {
            for x in 0..w {
                let (sy, sx) = affine.source(y, x);
                for ch in 0..c {
                    image[ch * h * w + y * w + x] =
                        self.sample(&source[ch * h * w..(ch + 1) * h * w], h, w, sy, sx);
                }
            }
        }
    }

    fn sample(&self, plane: &[f32], h: usize, w: usize, y: f32, x: f32) -> f32 {
        let (y0, x0) = (y.floor(), x.floor());
        let (fy, fx) = (y - y0, x - x0);
        let at = |yy: f32, xx: f32| -> f32 {
            match (
                fill_index(yy as isize, h, self.fill_mode),
                fill_index(xx as isize, w, self.fill_mode),
            ) {
                (Some(iy), Some(ix)) => plane[iy * w + ix],
                _ => self.cval,
            }
        };
        let top = at(y0, x0) * (1.0 - fx) + if fx > 0.0 { at(y0, x0 + 1.0) * fx } else { 0.0 };
        if fy == 0.0 {
            return top;
        }
        let bottom = at(y0 + 1.0, x0) * (1.0 - fx)
            + if fx > 0.0 {
                at(y0 + 1.0, x0 + 1.0) * fx
            } else {
                0.0
            };
        top * (1.0 - fy) + bottom * fy
    }

    /// Augments a batch of `shape` images in place, in parallel, image `i` drawing from
    /// `(seed, epoch, first + i)`.
    pub fn apply_batch(
        &self,
        x: &mut [f32],
        shape: [usize; 3],
        seed: u64,
        epoch: u64,
        first: usize,
    ) {
        let per: usize = shape.iter().product();
        x.par_chunks_mut(per).enumerate().for_each(|(i, image)| {
            self.apply(image, shape, image_seed(seed, epoch, first + i));
        });
    }

    /// Plans the device ops of [`Augment::on_device`] for a batch of `len` images, each
    /// drawing the random numbers [`Augment::apply_batch`] would draw for it.
    pub fn plan_batch(
        &self,
        len: usize,
        shape: [usize; 3],
        seed: u64,
        epoch: u64,
        first: usize,
    ) -> DeviceAugmentation {
        let draws: Vec<Draw> = (0..len)
            .map(|i| {
                let mut rng = StdRng::seed_from_u64(image_seed(seed, epoch, first + i));
                self.draw(&mut rng, shape)
            })
            .collect();
        DeviceAugmentation::plan(self, shape, &draws)
    }
}

/// The seed of the image at `index` in the whole epoch's order.
fn image_seed(seed: u64, epoch: u64, index: usize) -> u64 {
    seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (index as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
}

/// One image's affine part (zoom, shear, shift, rotation about the centre, as Keras
/// composes them): where each output pixel samples the input.
struct Affine {
    centre: (f32, f32),
    rotation: (f32, f32),
    shear: (f32, f32),
    zoom: (f32, f32),
    shift: (f32, f32),
}

impl Affine {
    fn new(d: &Draw, h: usize, w: usize) -> Self {
        Affine {
            centre: ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0),
            rotation: d.angle.sin_cos(),
            shear: d.shear.sin_cos(),
            zoom: d.zoom,
            // Content moves by +shift, so the output samples the input at -shift.
            shift: (
                -(d.shift.0 + d.crop.0 as f32),
                -(d.shift.1 + d.crop.1 as f32),
            ),
        }
    }

    /// The input point `(y, x)` the output pixel `(y, x)` reads.
    fn source(&self, y: usize, x: usize) -> (f32, f32) {
        let ((cy, cx), (sin, cos)) = (self.centre, self.rotation);
        let (shear_sin, shear_cos) = self.shear;
        let (a, b) = (self.zoom.0 * (y as f32 - cy), self.zoom.1 * (x as f32 - cx));
        let (a, b) = (a - shear_sin * b, shear_cos * b);
        let (a, b) = (a + self.shift.0, b + self.shift.1);
        (snap(cos * a - sin * b + cy), snap(sin * a + cos * b + cx))
    }
}

/// Coordinates within 1e-4 of an integer are taken as that integer, so flips, 90° turns
/// and whole-pixel shifts move pixels exactly instead of blending them.
fn snap(v: f32) -> f32 {
    let r = v.round();
    if (v - r).abs() < 1e-4 { r } else { v }
}

/// The pixel index for `i` on an axis of `n` under `mode` (`None`: the constant).
fn fill_index(i: isize, n: usize, mode: FillMode) -> Option<usize> {
    let n = n as isize;
    if (0..n).contains(&i) {
        return Some(i as usize);
    }
    match mode {
        FillMode::Constant => None,
        FillMode::Nearest => Some(i.clamp(0, n - 1) as usize),
        FillMode::Wrap => Some(i.rem_euclid(n) as usize),
        FillMode::Reflect => {
            let period = 2 * n;
            let m = i.rem_euclid(period);
            Some(if m < n { m } else { period - 1 - m } as usize)
        }
    }
}

/// Mirrors an image vertically and/or horizontally.
fn flip(image: &mut [f32], [c, h, w]: [usize; 3], (vertical, horizontal): (bool, bool)) {
    for plane in image.chunks_exact_mut(h * w).take(c) {
        if horizontal {
            plane.chunks_exact_mut(w).for_each(<[f32]>::reverse);
        }
        if vertical {
            for y in 0..h / 2 {
                let (top, bottom) = plane.split_at_mut((h - 1 - y) * w);
                top[y * w..(y + 1) * w].swap_with_slice(&mut bottom[..w]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-channel image whose pixel (y, x) holds `10·y + x`.
    fn grid(h: usize, w: usize) -> Vec<f32> {
        (0..h * w).map(|i| (10 * (i / w) + i % w) as f32).collect()
    }

    fn none() -> Draw {
        Draw {
            angle: 0.0,
            shift: (0.0, 0.0),
            shear: 0.0,
            zoom: (1.0, 1.0),
            flip: (false, false),
            channel_shift: 0.0,
            crop: (0, 0),
            cutout: (0, 0),
        }
    }

    fn transformed(augment: &Augment, draw: Draw, h: usize, w: usize) -> Vec<f32> {
        let mut image = grid(h, w);
        augment.apply_draw(&mut image, [1, h, w], &draw);
        image
    }

    #[test]
    fn a_horizontal_flip_moves_the_first_pixel_to_the_last_column() {
        let out = transformed(
            &Augment::new(),
            Draw {
                flip: (false, true),
                ..none()
            },
            3,
            4,
        );
        assert_eq!(out[3], 0.0);
        assert_eq!(&out[..4], [3.0, 2.0, 1.0, 0.0]);
        let out = transformed(
            &Augment::new(),
            Draw {
                flip: (true, false),
                ..none()
            },
            3,
            4,
        );
        assert_eq!(&out[..4], [20.0, 21.0, 22.0, 23.0]);
    }

    #[test]
    fn a_shift_by_k_moves_the_content_by_k() {
        let out = transformed(
            &Augment::new().fill_mode(FillMode::Constant).cval(-1.0),
            Draw {
                shift: (1.0, 2.0),
                ..none()
            },
            4,
            5,
        );
        // Pixel (0, 0) is now at (1, 2); what came from outside is the constant.
        assert_eq!(out[5 + 2], 0.0);
        assert_eq!(out[3 * 5 + 4], 22.0);
        assert_eq!(&out[..5], [-1.0; 5]);
    }

    #[test]
    fn a_quarter_turn_of_a_square_is_a_transpose_of_the_flipped_image() {
        let n = 5;
        let out = transformed(
            &Augment::new(),
            Draw {
                angle: std::f32::consts::FRAC_PI_2,
                ..none()
            },
            n,
            n,
        );
        let input = grid(n, n);
        for y in 0..n {
            for x in 0..n {
                assert_eq!(out[y * n + x], input[(n - 1 - x) * n + y], "({y}, {x})");
            }
        }
    }

    #[test]
    fn fill_modes_follow_keras() {
        // One row 0 1 2 3 shifted right by 2.
        let cases = [
            (FillMode::Constant, [9.0, 9.0, 0.0, 1.0]),
            (FillMode::Nearest, [0.0, 0.0, 0.0, 1.0]),
            (FillMode::Reflect, [1.0, 0.0, 0.0, 1.0]),
            (FillMode::Wrap, [2.0, 3.0, 0.0, 1.0]),
        ];
        for (mode, want) in cases {
            let out = transformed(
                &Augment::new().fill_mode(mode).cval(9.0),
                Draw {
                    shift: (0.0, 2.0),
                    ..none()
                },
                1,
                4,
            );
            assert_eq!(out, want, "{mode:?}");
        }
    }

    #[test]
    fn channel_shifts_stay_in_the_image_range() {
        let augment = Augment::new().channel_shift_range(100.0);
        for seed in 0..20 {
            let mut image = grid(3, 3);
            augment.apply(&mut image, [1, 3, 3], seed);
            let shift = image[4] - 11.0;
            assert!(shift.abs() <= 100.0);
            assert!(image.iter().all(|v| (0.0..=22.0).contains(v)), "{image:?}");
        }
    }

    #[test]
    fn crops_cutouts_and_rescaling() {
        let out = transformed(
            &Augment::new().fill_mode(FillMode::Constant),
            Draw {
                crop: (-1, 0),
                ..none()
            },
            3,
            3,
        );
        assert_eq!(out, [10.0, 11.0, 12.0, 20.0, 21.0, 22.0, 0.0, 0.0, 0.0]);
        let out = transformed(
            &Augment::new().cutout(2).cval(-1.0),
            Draw {
                cutout: (1, 1),
                ..none()
            },
            3,
            3,
        );
        assert_eq!(out, [-1.0, -1.0, 2.0, -1.0, -1.0, 12.0, 20.0, 21.0, 22.0]);
        let out = transformed(&Augment::new().rescale(0.5), none(), 1, 2);
        assert_eq!(out, [0.0, 0.5]);
    }

    #[test]
    fn batches_are_reproducible_and_varied() {
        let augment = Augment::new()
            .rotation_range(30.0)
            .zoom_range(0.2)
            .shear_range(10.0)
            .horizontal_flip(true);
        let batch: Vec<f32> = (0..8).flat_map(|_| grid(6, 6)).collect();
        let mut a = batch.clone();
        let mut b = batch.clone();
        augment.apply_batch(&mut a, [1, 6, 6], 3, 1, 0);
        augment.apply_batch(&mut b, [1, 6, 6], 3, 1, 0);
        assert_eq!(a, b);
        assert_ne!(a[..36], a[36..72], "each image draws its own transform");
        let mut c = batch;
        augment.apply_batch(&mut c, [1, 6, 6], 3, 2, 0);
        assert_ne!(a, c, "each epoch draws anew");
    }
}
