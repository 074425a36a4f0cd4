//! Keras's image augmentation layers: RandomFlip, RandomRotation, RandomTranslation,
//! RandomZoom, RandomContrast, RandomBrightness and RandomGrayscale, as batched ops on the
//! model's device. Each image draws its own numbers from the backend's generator (seeded by `Fit::seed`) in
//! the training forward pass; otherwise the images pass through unchanged.

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use kiln_datasets::{pixel_grid, sample_points};
use kiln_spec::layers::{FlipMode, Sampling};
use kiln_spec::{kinds, layers};

use super::{Run, RuntimeLayer};
use crate::dyn_tensor::DynTensor;

/// Draws of shape `shape`, each uniform in `[low, high)` (`low` itself when they meet).
fn uniform<B: Backend, const D: usize>(
    shape: [usize; D],
    [low, high]: [f64; 2],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Default, device)
        .mul_scalar(high - low)
        .add_scalar(low)
}

/// Each image of `x`, `[n, c, h, w]`, replaced by its image in `other` with probability
/// `p` (one draw per image, below `p`, as Keras's).
fn sometimes<B: Backend>(x: Tensor<B, 4>, p: f64, other: Tensor<B, 4>) -> Tensor<B, 4> {
    let dims = x.dims();
    let draw = uniform::<B, 4>([dims[0], 1, 1, 1], [0.0, 1.0], &x.device());
    x.mask_where(draw.lower_elem(p).expand(dims), other)
}

/// Each image of `x`, `[n, c, h, w]`, mirrored along `mode`'s axes with probability ½ (one
/// draw per image, as Keras's: with both axes, a half turn or nothing).
fn flip<B: Backend>(x: Tensor<B, 4>, mode: FlipMode) -> Tensor<B, 4> {
    let flipped = match mode {
        FlipMode::Horizontal => x.clone().flip([3]),
        FlipMode::Vertical => x.clone().flip([2]),
        FlipMode::HorizontalAndVertical => x.clone().flip([2, 3]),
    };
    sometimes(x, 0.5, flipped)
}

/// `x`, `[n, c, h, w]`, read as `sampling` says at the points `source` gives: it takes
/// each image's draws (`[n, 1]` each, from `ranges`, expanded to `[n, h·w]`) and each output
/// pixel's row and column measured from the image's centre (`[n, h·w]` each), and gives the
/// row and column, from the centre, that the pixel reads.
fn warp<B: Backend, const K: usize>(
    x: Tensor<B, 4>,
    sampling: &Sampling,
    ranges: [[f64; 2]; K],
    source: impl FnOnce([Tensor<B, 2>; K], Tensor<B, 2>, Tensor<B, 2>) -> [Tensor<B, 2>; 2],
) -> Tensor<B, 4> {
    let [n, _, h, w] = x.dims();
    let device = x.device();
    let draws = ranges.map(|range| uniform::<B, 2>([n, 1], range, &device).expand([n, h * w]));
    let (rows, columns) = pixel_grid::<B>(n, h, w, &device);
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let [y, x_] = source(draws, rows.sub_scalar(cy), columns.sub_scalar(cx));
    sample_points(
        x,
        y.add_scalar(cy),
        x_.add_scalar(cx),
        sampling.fill_mode,
        sampling.fill_value as f32,
        sampling.interpolation,
    )
}

/// Each image turned counter-clockwise by its fraction of a full turn from `factor`: output
/// pixel (y, x) from the centre reads (x·sin + y·cos, x·cos − y·sin), as Keras's.
fn rotate<B: Backend>(x: Tensor<B, 4>, l: &layers::RandomRotation) -> Tensor<B, 4> {
    let turn = l.factor.map(|f| f * std::f64::consts::TAU);
    warp(x, &l.sampling, [turn], |[angle], y, x| {
        let (sin, cos) = (angle.clone().sin(), angle.cos());
        [
            x.clone() * sin.clone() + y.clone() * cos.clone(),
            x * cos - y * sin,
        ]
    })
}

/// Each image moved down and right by its fractions of the height and width.
fn translate<B: Backend>(x: Tensor<B, 4>, l: &layers::RandomTranslation) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let scaled = |range: [f64; 2], size: usize| range.map(|f| f * size as f64);
    let ranges = [scaled(l.height_factor, h), scaled(l.width_factor, w)];
    warp(x, &l.sampling, ranges, |[down, right], y, x| {
        [y - down, x - right]
    })
}

/// Each image read at `1 + f` times its scale about its centre, `f` drawn per axis (or
/// once, keeping the aspect ratio, without a `width_factor`).
fn zoom<B: Backend>(x: Tensor<B, 4>, l: &layers::RandomZoom) -> Tensor<B, 4> {
    let scale = |range: [f64; 2]| range.map(|f| 1.0 + f);
    match l.width_factor {
        Some(width) => warp(
            x,
            &l.sampling,
            [scale(l.height_factor), scale(width)],
            |[zy, zx], y, x| [y * zy, x * zx],
        ),
        None => warp(x, &l.sampling, [scale(l.height_factor)], |[z], y, x| {
            [y * z.clone(), x * z]
        }),
    }
}

/// Each image's values scaled about each channel's mean by its factor from
/// `[1 - factor[0], 1 + factor[1]]`, clipped to the value range.
fn contrast<B: Backend>(x: Tensor<B, 4>, l: &layers::RandomContrast) -> Tensor<B, 4> {
    let dims = x.dims();
    let range = [1.0 - l.factor[0], 1.0 + l.factor[1]];
    let factor = uniform::<B, 4>([dims[0], 1, 1, 1], range, &x.device()).expand(dims);
    let mean = x.clone().mean_dim(2).mean_dim(3).expand(dims);
    let [low, high] = l.value_range;
    ((x - mean.clone()) * factor + mean).clamp(low, high)
}

/// Each image's values shifted by its fraction of the value range, clipped to the range.
fn brightness<B: Backend>(x: Tensor<B, 4>, l: &layers::RandomBrightness) -> Tensor<B, 4> {
    let dims = x.dims();
    let [low, high] = l.value_range;
    let range = l.factor.map(|f| f * (high - low));
    let delta = uniform::<B, 4>([dims[0], 1, 1, 1], range, &x.device()).expand(dims);
    (x + delta).clamp(low, high)
}

/// Each RGB image turned grey with probability `factor`: each channel its luminance,
/// 0.2989·R + 0.587·G + 0.114·B, as Keras's (an image of one channel is grey already).
fn grayscale<B: Backend>(x: Tensor<B, 4>, l: &layers::RandomGrayscale) -> Tensor<B, 4> {
    let dims = x.dims();
    if dims[1] != 3 {
        return x;
    }
    let weights = Tensor::<B, 1>::from_floats([0.2989, 0.587, 0.114], &x.device())
        .reshape([1, 3, 1, 1])
        .expand(dims);
    let grey = (x.clone() * weights).sum_dim(1).expand(dims);
    sometimes(x, l.factor, grey)
}

/// The [`Run`] of each augmentation: its transform of the images `[n, c, h, w]` in the
/// training forward pass on an autodiff backend (a model's inner one, which validation,
/// `evaluate` and `predict` run, passes them through, as burn's Dropout does).
macro_rules! augmentation {
    ($($kind:ident => $transform:expr;)*) => {$(
        impl<B: Backend> Run<B> for kinds::$kind {
            fn step(
                l: &layers::$kind,
                _: Option<&RuntimeLayer<B>>,
                t: DynTensor<B>,
                training: bool,
            ) -> DynTensor<B> {
                let x: Tensor<B, 4> = t.get();
                if training && B::ad_enabled(&x.device()) {
                    DynTensor::R4($transform(x, l))
                } else {
                    DynTensor::R4(x)
                }
            }
        }
    )*};
}

augmentation! {
    RandomFlip => |x, l: &layers::RandomFlip| flip(x, l.mode);
    RandomRotation => rotate;
    RandomTranslation => translate;
    RandomZoom => zoom;
    RandomContrast => contrast;
    RandomBrightness => brightness;
    RandomGrayscale => grayscale;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestAutodiff as B, TestBackend as Inner, assert_close, floats};
    use burn::tensor::TensorData;
    use kiln_spec::layers::{FillMode, Interpolation};

    /// `n` images of `c × h × w` holding `values` each.
    fn images<T: Backend>(values: &[f32], n: usize, [c, h, w]: [usize; 3]) -> Tensor<T, 4> {
        let all = values.iter().copied().cycle().take(n * c * h * w).collect();
        Tensor::from_data(TensorData::new(all, [n, c, h, w]), &Default::default())
    }

    fn step<K: Run<B>>(config: &K::Config, x: Tensor<B, 4>, training: bool) -> Vec<f32> {
        floats(K::step(config, None, DynTensor::R4(x), training).get::<4>())
    }

    /// The 4×4 image 0, 1, ..., 15, row by row.
    fn ramp() -> Vec<f32> {
        (0..16).map(|v| v as f32).collect()
    }

    fn constant() -> Sampling {
        Sampling {
            fill_mode: FillMode::Constant,
            fill_value: 0.0,
            interpolation: Interpolation::Bilinear,
        }
    }

    #[test]
    fn a_fixed_turn_move_and_zoom_give_keras_s_images() {
        // Keras 3.15's outputs for the same fixed draws with fill_mode="constant".
        let turned = step::<kinds::RandomRotation>(
            &layers::RandomRotation {
                factor: [0.25, 0.25],
                sampling: constant(),
            },
            images(&ramp(), 1, [1, 4, 4]),
            true,
        );
        let want = [
            3., 7., 11., 15., 2., 6., 10., 14., 1., 5., 9., 13., 0., 4., 8., 12.,
        ];
        assert_close(&turned, &want, 1e-4, "a quarter turn");
        let moved = step::<kinds::RandomTranslation>(
            &layers::RandomTranslation {
                height_factor: [0.25, 0.25],
                width_factor: [0.5, 0.5],
                sampling: constant(),
            },
            images(&ramp(), 1, [1, 4, 4]),
            true,
        );
        let want = [
            0., 0., 0., 0., 0., 0., 0., 1., 0., 0., 4., 5., 0., 0., 8., 9.,
        ];
        assert_close(&moved, &want, 1e-5, "1 down, 2 right");
        let zoom = |height_factor: [f64; 2], width_factor| {
            let l = layers::RandomZoom {
                height_factor,
                width_factor,
                sampling: constant(),
            };
            step::<kinds::RandomZoom>(&l, images(&ramp(), 1, [1, 4, 4]), true)
        };
        let out = [
            0., 0.1875, 0.5625, 0.1875, 0.75, 3.75, 5.25, 1.5, 2.25, 9.75, 11.25, 3., 0.75, 3.1875,
            3.5625, 0.9375,
        ];
        assert_close(&zoom([0.5; 2], Some([0.5; 2])), &out, 1e-5, "zoomed out");
        let inward = [
            3.75, 4.25, 4.75, 5.25, 5.75, 6.25, 6.75, 7.25, 7.75, 8.25, 8.75, 9.25, 9.75, 10.25,
            10.75, 11.25,
        ];
        // Without a width factor, the height's draw for both axes.
        assert_close(&zoom([-0.5; 2], None), &inward, 1e-5, "zoomed in");
    }

    #[test]
    fn an_image_of_another_height_and_width_moves_as_keras_s() {
        // One 3×5 image 0, 1, ..., 14, row by row; Keras 3.15's outputs for fixed draws.
        let ramp: Vec<f32> = (0..15).map(|v| v as f32).collect();
        let x = || images(&ramp, 1, [1, 3, 5]);
        let turned = step::<kinds::RandomRotation>(
            &layers::RandomRotation {
                factor: [0.1, 0.1],
                sampling: constant(),
            },
            x(),
            true,
        );
        let want = [
            0.01495, 1.07295, 3.5427, 7.29064, 8.60318, 0.3149, 3.25206, 7.0, 10.74794, 11.22711,
            2.51536, 6.70936, 10.4573, 7.37182, 0.20083,
        ];
        assert_close(&turned, &want, 1e-4, "36° turn");
        let moved = step::<kinds::RandomTranslation>(
            &layers::RandomTranslation {
                height_factor: [1.0 / 3.0; 2],
                width_factor: [-0.2; 2],
                sampling: constant(),
            },
            x(),
            true,
        );
        let want = [0., 0., 0., 0., 0., 1., 2., 3., 4., 0., 6., 7., 8., 9., 0.];
        assert_close(&moved, &want, 1e-4, "1 down, 1 left");
        let zoom = |height_factor, width_factor, sampling| {
            let l = layers::RandomZoom {
                height_factor,
                width_factor,
                sampling,
            };
            step::<kinds::RandomZoom>(&l, x(), true)
        };
        let want = [
            0.2, 0.6, 1.0, 1.4, 1.8, 5.4, 6.2, 7.0, 7.8, 8.6, 5.2, 5.6, 6.0, 6.4, 6.8,
        ];
        let out = zoom([0.5; 2], Some([-0.2; 2]), constant());
        assert_close(&out, &want, 1e-4, "out in height, in in width");
        let want = [
            2.8, 3.4, 4.0, 4.6, 5.2, 5.8, 6.4, 7.0, 7.6, 8.2, 8.8, 9.4, 10.0, 10.6, 11.2,
        ];
        assert_close(&zoom([-0.4; 2], None, constant()), &want, 1e-4, "in, both");
        let want = [
            0., 0.75, 2., 3.25, 4., 5., 5.75, 7., 8.25, 9., 10., 10.75, 12., 13.25, 14.,
        ];
        let reflect = Sampling {
            fill_mode: FillMode::Reflect,
            ..constant()
        };
        let out = zoom([0.5; 2], Some([0.25; 2]), reflect);
        assert_close(&out, &want, 1e-4, "out, reflected");
    }

    #[test]
    fn each_image_draws_its_own_move_which_its_channels_share() {
        // 8 copies of one image of two channels, the second 100 above the first.
        let plane: Vec<f32> = (0..36).map(|v| (v * 7 % 11) as f32).collect();
        let image: Vec<f32> = plane
            .iter()
            .chain(&plane)
            .enumerate()
            .map(|(i, v)| if i < 36 { *v } else { v + 100.0 })
            .collect();
        let sampling = Sampling {
            fill_mode: FillMode::Nearest,
            ..constant()
        };
        let x = images(&image, 8, [2, 6, 6]);
        let turned = step::<kinds::RandomRotation>(
            &layers::RandomRotation {
                factor: [-0.5, 0.5],
                sampling,
            },
            x,
            true,
        );
        let images: Vec<&[f32]> = turned.chunks(72).collect();
        for image in &images {
            let (first, second) = image.split_at(36);
            for (a, b) in first.iter().zip(second) {
                assert!(
                    (b - a - 100.0).abs() < 1e-3,
                    "the channels moved apart: {a}, {b}"
                );
            }
        }
        assert!(
            images.windows(2).all(|w| w[0] != w[1]),
            "two images drew one turn"
        );
    }

    #[test]
    fn every_fill_mode_and_nearest_sampling_read_outside_points_as_keras_s() {
        // One row 1 2 3 4 moved right by 1.5 pixels (Keras 3.15, TensorFlow backend).
        let row = [1., 2., 3., 4.];
        let shifted = |fill_mode, interpolation| {
            let l = layers::RandomTranslation {
                height_factor: [0.0, 0.0],
                width_factor: [0.375, 0.375],
                sampling: Sampling {
                    fill_mode,
                    fill_value: 0.0,
                    interpolation,
                },
            };
            step::<kinds::RandomTranslation>(&l, images(&row, 1, [1, 1, 4]), true)
        };
        let bilinear = Interpolation::Bilinear;
        for (mode, interpolation, want) in [
            (FillMode::Reflect, bilinear, [1.5, 1., 1.5, 2.5]),
            (FillMode::Nearest, bilinear, [1., 1., 1.5, 2.5]),
            (FillMode::Constant, bilinear, [0., 0.5, 1.5, 2.5]),
            // A true period (numpy's; TensorFlow's kernel does not blend across the seam).
            (FillMode::Wrap, bilinear, [3.5, 2.5, 1.5, 2.5]),
            // Points at .5 go away from 0, as TensorFlow's.
            (FillMode::Reflect, Interpolation::Nearest, [2., 1., 2., 3.]),
        ] {
            let what = format!("{mode:?}, {interpolation:?}");
            assert_close(&shifted(mode, interpolation), &want, 1e-5, &what);
        }
    }

    #[test]
    fn contrast_and_brightness_give_keras_s_values_clipped_to_the_range() {
        let image = [0., 100., 200., 255.];
        // Keras's (-0.5, 0.5) draws factors in [1.5, 1.5]; the mean is 138.75.
        let contrast = layers::RandomContrast {
            factor: [-0.5, 0.5],
            value_range: [0.0, 255.0],
        };
        let out = step::<kinds::RandomContrast>(&contrast, images(&image, 1, [1, 2, 2]), true);
        assert_close(&out, &[0., 80.625, 230.625, 255.], 1e-4, "contrast");
        let brightness = layers::RandomBrightness {
            factor: [0.1, 0.1],
            value_range: [0.0, 255.0],
        };
        let out = step::<kinds::RandomBrightness>(&brightness, images(&image, 1, [1, 2, 2]), true);
        assert_close(&out, &[25.5, 125.5, 225.5, 255.], 1e-4, "brightness");
        // Each channel of each image about its own mean, each image its own factor.
        let contrast = layers::RandomContrast {
            factor: [0.5, 0.5],
            value_range: [-1e3, 1e3],
        };
        let two = [0., 2., 10., 30.];
        let out = step::<kinds::RandomContrast>(&contrast, images(&two, 16, [2, 1, 2]), true);
        let factors: Vec<f32> = out
            .chunks(4)
            .map(|image| {
                let (a, b) = (image[1] - image[0], image[3] - image[2]);
                assert!(
                    ((image[0] + image[1]) / 2.0 - 1.0).abs() < 1e-4,
                    "{image:?}"
                );
                assert!(
                    ((image[2] + image[3]) / 2.0 - 20.0).abs() < 1e-4,
                    "{image:?}"
                );
                assert!(
                    (b / 20.0 - a / 2.0).abs() < 1e-4,
                    "one factor per image: {image:?}"
                );
                a / 2.0
            })
            .collect();
        assert!(
            factors.iter().all(|f| (0.5..=1.5).contains(f)),
            "{factors:?}"
        );
        assert!(factors.windows(2).any(|w| w[0] != w[1]), "{factors:?}");
    }

    #[test]
    fn grayscale_gives_keras_s_luminance_to_each_channel_at_its_rate() {
        // Two pixels: red 200, green 100, blue 50 and red 0, green 255, blue 10.
        let rgb = [200., 0., 100., 255., 50., 10.];
        let grey = |factor| layers::RandomGrayscale { factor };
        let out = step::<kinds::RandomGrayscale>(&grey(1.0), images(&rgb, 1, [3, 1, 2]), true);
        // Keras 3.15's RandomGrayscale(factor=1.0) of the same image (channels last).
        let (a, b) = (124.18, 150.825);
        assert_close(&out, &[a, b, a, b, a, b], 1e-4, "grey");
        let kept = step::<kinds::RandomGrayscale>(&grey(0.0), images(&rgb, 1, [3, 1, 2]), true);
        assert_eq!(kept, rgb);
        let one = step::<kinds::RandomGrayscale>(&grey(1.0), images(&rgb, 1, [1, 2, 3]), true);
        assert_eq!(one, rgb, "an image of one channel is grey already");
        // Each image draws its own: about half of 64 turn grey.
        let out = step::<kinds::RandomGrayscale>(&grey(0.5), images(&rgb, 64, [3, 1, 2]), true);
        let turned = out.chunks(6).filter(|image| image[0] == image[2]).count();
        assert!((16..=48).contains(&turned), "{turned} of 64 turned grey");
    }

    #[test]
    fn flips_mirror_whole_images_half_of_the_time() {
        let row: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let mirrored: Vec<f32> = [2., 1., 0., 5., 4., 3.].into();
        let turned: Vec<f32> = [5., 4., 3., 2., 1., 0.].into();
        for (mode, other) in [
            (FlipMode::Horizontal, mirrored),
            (FlipMode::Vertical, [3., 4., 5., 0., 1., 2.].into()),
            (FlipMode::HorizontalAndVertical, turned),
        ] {
            let l = layers::RandomFlip { mode };
            let out = step::<kinds::RandomFlip>(&l, images(&row, 64, [1, 2, 3]), true);
            let flipped = out
                .chunks(6)
                .filter(|image| {
                    assert!(
                        *image == row.as_slice() || *image == other.as_slice(),
                        "{mode:?}: {image:?}"
                    );
                    *image == other.as_slice()
                })
                .count();
            assert!(
                (16..=48).contains(&flipped),
                "{mode:?}: {flipped} of 64 flipped"
            );
        }
    }

    #[test]
    fn images_pass_through_at_inference_and_on_a_backend_without_autodiff() {
        let x = || images::<B>(&ramp(), 4, [1, 4, 4]);
        let turn = layers::RandomRotation {
            factor: [-0.5, 0.5],
            sampling: constant(),
        };
        let still = floats(x());
        assert_eq!(step::<kinds::RandomRotation>(&turn, x(), false), still);
        assert_ne!(step::<kinds::RandomRotation>(&turn, x(), true), still);
        let inner = <kinds::RandomRotation as Run<Inner>>::step(
            &turn,
            None,
            DynTensor::R4(images::<Inner>(&ramp(), 4, [1, 4, 4])),
            true,
        );
        assert_eq!(floats(inner.get::<4>()), still);
    }
}
