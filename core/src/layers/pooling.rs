//! The poolings: MaxPooling1D/2D, AveragePooling1D/2D with Keras's `same` padding (padded
//! positions never win a max and never count in an average), and the global poolings.

use burn::tensor::ops::PadMode;
use burn::tensor::{Tensor, backend::Backend, module};
use kiln_spec::layers::{GlobalPooling, Pooling};
use kiln_spec::{Padding, Window, kinds};

use super::{Run, RuntimeLayer};
use crate::dyn_tensor::DynTensor;

/// The `[(start, end); N]` padding of `padding` for these sizes.
fn pads<const N: usize>(
    pool: [usize; N],
    strides: [usize; N],
    padding: Padding,
    sizes: [usize; N],
) -> [(usize, usize); N] {
    std::array::from_fn(|i| match padding {
        Padding::Valid => (0, 0),
        Padding::Same => Window {
            kernel: pool[i],
            stride: strides[i],
            dilation: 1,
        }
        .same_padding(sizes[i]),
    })
}

/// Max pooling over height and width.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, channels, height_out, width_out]`
pub fn max_pooling2d<B: Backend>(
    x: Tensor<B, 4>,
    pool_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
) -> Tensor<B, 4> {
    let pads = pads(pool_size, strides, padding, dims(&x));
    let (x, padding) = evened(x, pads, f32::NEG_INFINITY);
    module::max_pool2d(x, pool_size, strides, padding, [1, 1], false)
}

fn dims<B: Backend>(x: &Tensor<B, 4>) -> [usize; 2] {
    let [_, _, h, w] = x.dims();
    [h, w]
}

/// Keras's `same` padding `[(start, end); 2]` as burn's even padding: the end's one extra
/// row or column (its odd share) added to `x` as `fill`, the rest left to the pooling. Only
/// that row is ever written, however wide the window.
fn evened<B: Backend>(
    x: Tensor<B, 4>,
    pads: [(usize, usize); 2],
    fill: f32,
) -> (Tensor<B, 4>, [usize; 2]) {
    let [(top, bottom), (left, right)] = pads;
    let x = if top == bottom && left == right {
        x
    } else {
        x.pad(
            [(0, bottom - top), (0, right - left)],
            PadMode::Constant(fill),
        )
    };
    (x, [top, left])
}

/// A pooling of channels-last sequences through its 2-D form: a sequence is an image one
/// row high, its channels first.
fn along_steps<B: Backend>(
    x: Tensor<B, 3>,
    pool2d: impl FnOnce(Tensor<B, 4>) -> Tensor<B, 4>,
) -> Tensor<B, 3> {
    let [batch, steps, channels] = x.dims();
    let pooled = pool2d(x.swap_dims(1, 2).reshape([batch, channels, 1, steps]));
    let [_, _, _, out] = pooled.dims();
    pooled.reshape([batch, channels, out]).swap_dims(1, 2)
}

/// Max pooling over the steps of channels-last sequences, as Keras's MaxPooling1D.
///
/// # Shapes
/// - input: `[batch, steps, channels]`
/// - output: `[batch, steps_out, channels]`
pub fn max_pooling1d<B: Backend>(
    x: Tensor<B, 3>,
    pool_size: usize,
    strides: usize,
    padding: Padding,
) -> Tensor<B, 3> {
    along_steps(x, |image| {
        max_pooling2d(image, [1, pool_size], [1, strides], padding)
    })
}

/// Average pooling over height and width; with `same` padding each output averages only
/// the input positions its window covers, as Keras does.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, channels, height_out, width_out]`
pub fn average_pooling2d<B: Backend>(
    x: Tensor<B, 4>,
    pool_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
) -> Tensor<B, 4> {
    let [h, w] = dims(&x);
    let pads = pads(pool_size, strides, padding, [h, w]);
    let [(top, bottom), (left, right)] = pads;
    if top == bottom && left == right {
        return module::avg_pool2d(x, pool_size, strides, [top, left], false, false);
    }
    // Uneven padding: sum over the input with its odd row or column of zeros, then divide
    // by how many real positions each window covers.
    let ones = Tensor::<B, 4>::ones([1, 1, h, w], &x.device());
    let mean = |t: Tensor<B, 4>| {
        let (t, even) = evened(t, pads, 0.0);
        module::avg_pool2d(t, pool_size, strides, even, true, false)
    };
    mean(x) / mean(ones)
}

/// Average pooling over the steps of channels-last sequences, as Keras's AveragePooling1D.
///
/// # Shapes
/// - input: `[batch, steps, channels]`
/// - output: `[batch, steps_out, channels]`
pub fn average_pooling1d<B: Backend>(
    x: Tensor<B, 3>,
    pool_size: usize,
    strides: usize,
    padding: Padding,
) -> Tensor<B, 3> {
    along_steps(x, |image| {
        average_pooling2d(image, [1, pool_size], [1, strides], padding)
    })
}

/// How a global pooling reduces each channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// The mean (GlobalAveragePooling).
    Mean,
    /// The maximum (GlobalMaxPooling).
    Max,
}

/// `x` reduced along `dim`, which is kept with size 1.
fn reduce<B: Backend, const D: usize>(x: Tensor<B, D>, dim: usize, how: Reduce) -> Tensor<B, D> {
    match how {
        Reduce::Mean => x.mean_dim(dim),
        Reduce::Max => x.max_dim(dim),
    }
}

/// The mean or maximum of each channel over height and width.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, channels]`
pub fn global_pooling2d<B: Backend>(x: Tensor<B, 4>, how: Reduce) -> Tensor<B, 2> {
    let [batch, channels, _, _] = x.dims();
    reduce(x.reshape([batch as i32, channels as i32, -1]), 2, how).reshape([batch, channels])
}

/// The mean or maximum of each channel over the steps of a channels-last sequence.
///
/// # Shapes
/// - input: `[batch, steps, channels]`
/// - output: `[batch, channels]`
pub fn global_pooling1d<B: Backend>(x: Tensor<B, 3>, how: Reduce) -> Tensor<B, 2> {
    let [batch, _, channels] = x.dims();
    reduce(x, 1, how).reshape([batch, channels])
}

impl<B: Backend> Run<B> for kinds::MaxPooling1D {
    fn step(p: &Pooling<1>, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R3(max_pooling1d(
            t.get(),
            p.pool_size[0],
            p.strides[0],
            p.padding,
        ))
    }
}

impl<B: Backend> Run<B> for kinds::AveragePooling1D {
    fn step(p: &Pooling<1>, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R3(average_pooling1d(
            t.get(),
            p.pool_size[0],
            p.strides[0],
            p.padding,
        ))
    }
}

impl<B: Backend> Run<B> for kinds::MaxPooling2D {
    fn step(p: &Pooling<2>, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R4(max_pooling2d(t.get(), p.pool_size, p.strides, p.padding))
    }
}

impl<B: Backend> Run<B> for kinds::AveragePooling2D {
    fn step(p: &Pooling<2>, _: Option<&RuntimeLayer<B>>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R4(average_pooling2d(
            t.get(),
            p.pool_size,
            p.strides,
            p.padding,
        ))
    }
}

/// The global poolings' steps, each kind with its rank and reduction.
macro_rules! global {
    ($($kind:ident: $n:literal, $pool:ident, $how:expr;)*) => {$(
        impl<B: Backend> Run<B> for kinds::$kind {
            fn step(
                _: &GlobalPooling<$n>,
                _: Option<&RuntimeLayer<B>>,
                t: DynTensor<B>,
                _: bool,
            ) -> DynTensor<B> {
                DynTensor::R2($pool(t.get(), $how))
            }
        }
    )*};
}

global! {
    GlobalAveragePooling1D: 1, global_pooling1d, Reduce::Mean;
    GlobalMaxPooling1D: 1, global_pooling1d, Reduce::Max;
    GlobalAveragePooling2D: 2, global_pooling2d, Reduce::Mean;
    GlobalMaxPooling2D: 2, global_pooling2d, Reduce::Max;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, floats, grid};

    #[test]
    fn max_pooling_matches_keras() {
        // 3x3 grid 1..9, pool 2: valid keeps the top-left window; same pads the end with
        // -inf, so the border windows see only real values.
        assert_eq!(
            floats(max_pooling2d(grid(3, 3), [2, 2], [2, 2], Padding::Valid)),
            [5.0]
        );
        assert_eq!(
            floats(max_pooling2d(grid(3, 3), [2, 2], [2, 2], Padding::Same)),
            [5.0, 6.0, 8.0, 9.0]
        );
        // Three steps of one channel, channels last.
        let row = Tensor::<TestBackend, 1>::from_floats([-3.0, -1.0, -2.0], &Default::default())
            .reshape([1, 3, 1]);
        assert_eq!(
            floats(max_pooling1d(row, 2, 2, Padding::Same)),
            [-1.0, -2.0]
        );
    }

    #[test]
    fn average_pooling_ignores_padding_as_keras() {
        // tf.keras.layers.AveragePooling2D(2, padding="same") on the 3x3 grid 1..9:
        // [[3, 4.5], [7.5, 9]].
        assert_eq!(
            floats(average_pooling2d(grid(3, 3), [2, 2], [2, 2], Padding::Same)),
            [3.0, 4.5, 7.5, 9.0]
        );
        assert_eq!(
            floats(average_pooling2d(
                grid(4, 4),
                [2, 2],
                [2, 2],
                Padding::Valid
            )),
            [3.5, 5.5, 11.5, 13.5]
        );
        // Symmetric same padding (pool 3, stride 1 on 3x3): the corner averages 4 values.
        let y = floats(average_pooling2d(grid(3, 3), [3, 3], [1, 1], Padding::Same));
        assert_eq!(y[0], (1.0 + 2.0 + 4.0 + 5.0) / 4.0);
        assert_eq!(y[4], 5.0);
    }

    #[test]
    fn global_poolings_reduce_each_channel() {
        // Two channels of the 2x3 grid 1..6, the second doubled.
        let image = Tensor::cat(vec![grid(2, 3), grid(2, 3) * 2.0], 1);
        let y = global_pooling2d(image.clone(), Reduce::Mean);
        assert_eq!(y.dims(), [1, 2]);
        assert_eq!(floats(y), [3.5, 7.0]);
        assert_eq!(floats(global_pooling2d(image, Reduce::Max)), [6.0, 12.0]);
        // The same values as a sequence of 6 steps, channels last.
        let steps = Tensor::cat(vec![grid(1, 6), grid(1, 6) * 2.0], 2)
            .reshape([1, 2, 6])
            .swap_dims(1, 2);
        assert_eq!(
            floats(global_pooling1d(steps.clone(), Reduce::Mean)),
            [3.5, 7.0]
        );
        assert_eq!(floats(global_pooling1d(steps, Reduce::Max)), [6.0, 12.0]);
    }

    #[test]
    fn average_pooling1d_matches_keras() {
        // tf.keras.layers.AveragePooling1D(2, padding="same") on steps 1..5 of one
        // channel: [1.5, 3.5, 5]; valid: [1.5, 3.5]; pool 3, stride 1: [2, 3, 4].
        let steps = grid(1, 5).reshape([1, 5, 1]);
        let pool =
            |size, stride, padding| floats(average_pooling1d(steps.clone(), size, stride, padding));
        assert_eq!(pool(2, 2, Padding::Same), [1.5, 3.5, 5.0]);
        assert_eq!(pool(2, 2, Padding::Valid), [1.5, 3.5]);
        assert_eq!(pool(3, 1, Padding::Valid), [2.0, 3.0, 4.0]);
    }
}
