//! UpSampling2D, ZeroPadding2D and Cropping2D: images scaled up by whole factors, or made
//! larger or smaller at their edges; UpSampling1D, ZeroPadding1D and Cropping1D: sequences
//! along their steps.

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, PadMode};
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::kinds;
use kiln_spec::layers::{
    Borders, Cropping1D, Cropping2D, Interpolation, UpSampling1D, UpSampling2D, ZeroPadding1D,
    ZeroPadding2D,
};

use super::{Run, RuntimeLayer};
use crate::dyn_tensor::DynTensor;

/// Each image scaled up by `size`: every pixel repeated (`Nearest`), or interpolated
/// between pixel centres with the edges clamped (`Bilinear`), as Keras's UpSampling2D.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, channels, height·size[0], width·size[1]]`
pub fn up_sampling2d<B: Backend>(
    x: Tensor<B, 4>,
    size: [usize; 2],
    interpolation: Interpolation,
) -> Tensor<B, 4> {
    let [batch, channels, height, width] = x.dims();
    let [a, b] = size;
    match interpolation {
        Interpolation::Nearest => x
            .reshape([batch, channels, height, 1, width, 1])
            .repeat_dim(3, a)
            .repeat_dim(5, b)
            .reshape([batch, channels, height * a, width * b]),
        Interpolation::Bilinear => interpolate(
            x,
            [height * a, width * b],
            InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false),
        ),
    }
}

/// Zeros around each image: `[[top, bottom], [left, right]]` rows and columns.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, channels, top + height + bottom, left + width + right]`
pub fn zero_padding2d<B: Backend>(x: Tensor<B, 4>, padding: Borders) -> Tensor<B, 4> {
    let [[top, bottom], [left, right]] = padding;
    x.pad([(top, bottom), (left, right)], PadMode::Constant(0.0))
}

/// Each image without `[[top, bottom], [left, right]]` rows and columns at its edges
/// (kiln-spec sees to it that some are left).
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, channels, height - top - bottom, width - left - right]`
pub fn cropping2d<B: Backend>(x: Tensor<B, 4>, cropping: Borders) -> Tensor<B, 4> {
    let [batch, channels, height, width] = x.dims();
    let [[top, bottom], [left, right]] = cropping;
    x.slice([
        0..batch,
        0..channels,
        top..height - bottom,
        left..width - right,
    ])
}

/// Each step of `[batch, steps, channels]` repeated `size` times, as Keras's UpSampling1D.
pub fn up_sampling1d<B: Backend>(x: Tensor<B, 3>, size: usize) -> Tensor<B, 3> {
    let [batch, steps, channels] = x.dims();
    x.reshape([batch, steps, 1, channels])
        .repeat_dim(2, size)
        .reshape([batch, steps * size, channels])
}

/// `[before, after]` steps of zeros around each sequence `[batch, steps, channels]`.
pub fn zero_padding1d<B: Backend>(x: Tensor<B, 3>, [before, after]: [usize; 2]) -> Tensor<B, 3> {
    x.pad([(before, after), (0, 0)], PadMode::Constant(0.0))
}

/// Each sequence `[batch, steps, channels]` without `[start, end]` steps at its ends
/// (kiln-spec sees to it that some are left: it refuses a crop of unknown steps).
pub fn cropping1d<B: Backend>(x: Tensor<B, 3>, [start, end]: [usize; 2]) -> Tensor<B, 3> {
    let [batch, steps, channels] = x.dims();
    x.slice([0..batch, start..steps - end, 0..channels])
}

impl<B: Backend> Run<B> for kinds::UpSampling1D {
    fn step(
        l: &UpSampling1D,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        DynTensor::R3(up_sampling1d(t.get(), l.size))
    }
}

impl<B: Backend> Run<B> for kinds::ZeroPadding1D {
    fn step(
        l: &ZeroPadding1D,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        DynTensor::R3(zero_padding1d(t.get(), l.padding))
    }
}

impl<B: Backend> Run<B> for kinds::Cropping1D {
    fn step(l: &Cropping1D, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R3(cropping1d(t.get(), l.cropping))
    }
}

impl<B: Backend> Run<B> for kinds::UpSampling2D {
    fn step(
        l: &UpSampling2D,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        DynTensor::R4(up_sampling2d(t.get(), l.size, l.interpolation))
    }
}

impl<B: Backend> Run<B> for kinds::ZeroPadding2D {
    fn step(
        l: &ZeroPadding2D,
        _: Option<&RuntimeLayer<B>>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        DynTensor::R4(zero_padding2d(t.get(), l.padding))
    }
}

impl<B: Backend> Run<B> for kinds::Cropping2D {
    fn step(l: &Cropping2D, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R4(cropping2d(t.get(), l.cropping))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{floats, grid};

    #[test]
    fn up_sampling_repeats_or_interpolates_as_keras() {
        // [[1, 2], [3, 4]] by (1, 2), nearest: each pixel twice along the width.
        let y = up_sampling2d(grid(2, 2), [1, 2], Interpolation::Nearest);
        assert_eq!(y.dims(), [1, 1, 2, 4]);
        assert_eq!(floats(y), [1., 1., 2., 2., 3., 3., 4., 4.]);
        // tf.keras.layers.UpSampling2D(2, interpolation="bilinear") on the row [1, 2]: the
        // centres of the new pixels fall at -0.25, 0.25, 0.75 and 1.25 of the old ones,
        // clamped at the edges: [1, 1.25, 1.75, 2].
        let y = up_sampling2d(grid(1, 2), [1, 2], Interpolation::Bilinear);
        assert_eq!(floats(y), [1.0, 1.25, 1.75, 2.0]);
    }

    #[test]
    fn sequences_lengthen_and_shorten_along_their_steps() {
        // Steps [1, 2], [3, 4], [5, 6] of two channels.
        let x = || {
            let steps = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
            Tensor::<crate::testing::TestBackend, 3>::from_floats([steps], &Default::default())
        };
        let y = up_sampling1d(x(), 2);
        assert_eq!(y.dims(), [1, 6, 2]);
        assert_eq!(floats(y), [1., 2., 1., 2., 3., 4., 3., 4., 5., 6., 5., 6.]);
        let y = zero_padding1d(x(), [1, 0]);
        assert_eq!(floats(y), [0., 0., 1., 2., 3., 4., 5., 6.]);
        let y = cropping1d(x(), [0, 2]);
        assert_eq!(floats(y), [1., 2.]);
    }

    #[test]
    fn padding_adds_zeros_and_cropping_cuts_edges() {
        // [[1, 2], [3, 4]] with one row on top and one column on the right.
        let y = zero_padding2d(grid(2, 2), [[1, 0], [0, 1]]);
        assert_eq!(y.dims(), [1, 1, 3, 3]);
        assert_eq!(floats(y), [0., 0., 0., 1., 2., 0., 3., 4., 0.]);
        // The 3x4 grid 1..12 without its first row and its last column.
        let y = cropping2d(grid(3, 4), [[1, 0], [0, 1]]);
        assert_eq!(y.dims(), [1, 1, 2, 3]);
        assert_eq!(floats(y), [5., 6., 7., 9., 10., 11.]);
    }
}
