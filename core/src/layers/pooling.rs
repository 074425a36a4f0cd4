//! MaxPooling1D, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D, with Keras's
//! `same` padding: padded positions never win a max and never count in an average.

use burn::tensor::ops::PadMode;
use burn::tensor::{Tensor, backend::Backend, module};
use kiln_spec::{Padding, Window};

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
    let [_, _, h, w] = x.dims();
    let [(top, bottom), (left, right)] = pads(pool_size, strides, padding, [h, w]);
    if top == bottom && left == right {
        module::max_pool2d(x, pool_size, strides, [top, left], [1, 1], false)
    } else {
        let x = x.pad(
            [(top, bottom), (left, right)],
            PadMode::Constant(f32::NEG_INFINITY),
        );
        module::max_pool2d(x, pool_size, strides, [0, 0], [1, 1], false)
    }
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
    let x = x.swap_dims(1, 2);
    let [_, _, length] = x.dims();
    let [(left, right)] = pads([pool_size], [strides], padding, [length]);
    let pooled = if left == right {
        module::max_pool1d(x, pool_size, strides, left, 1, false)
    } else {
        let x = x.pad([(left, right)], PadMode::Constant(f32::NEG_INFINITY));
        module::max_pool1d(x, pool_size, strides, 0, 1, false)
    };
    pooled.swap_dims(1, 2)
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
    let [_, _, h, w] = x.dims();
    let [(top, bottom), (left, right)] = pads(pool_size, strides, padding, [h, w]);
    if top == bottom && left == right {
        return module::avg_pool2d(x, pool_size, strides, [top, left], false, false);
    }
    // Uneven padding: sum over the zero-padded input, then divide by how many real
    // positions each window covers.
    let ones = Tensor::<B, 4>::ones([1, 1, h, w], &x.device());
    let pad = |t: Tensor<B, 4>| t.pad([(top, bottom), (left, right)], PadMode::Constant(0.0));
    let sums = module::avg_pool2d(pad(x), pool_size, strides, [0, 0], true, false);
    let counts = module::avg_pool2d(pad(ones), pool_size, strides, [0, 0], true, false);
    sums / counts
}

/// The mean of each channel over height and width.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, channels]`
pub fn global_average_pooling2d<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [batch, channels, _, _] = x.dims();
    x.reshape([batch as i32, channels as i32, -1])
        .mean_dim(2)
        .reshape([batch, channels])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, floats};

    fn grid(rows: usize, cols: usize) -> Tensor<TestBackend, 4> {
        Tensor::<TestBackend, 1, burn::tensor::Int>::arange(
            1..(rows * cols + 1) as i64,
            &Default::default(),
        )
        .float()
        .reshape([1, 1, rows, cols])
    }

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
    fn global_average_is_the_channel_mean() {
        let y = global_average_pooling2d(grid(2, 3).repeat_dim(1, 2));
        assert_eq!(y.dims(), [1, 2]);
        assert_eq!(floats(y), [3.5, 3.5]);
    }
}
