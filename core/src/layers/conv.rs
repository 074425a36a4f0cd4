//! Conv1D and Conv2D: burn-nn's convolutions with Keras's initializers and Keras's `same`
//! padding (dilation included).

use burn::module::Initializer;
use burn::nn::conv::{Conv1d, Conv2d};
use burn::nn::{PaddingConfig1d, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use kiln_spec::{Dim, Padding, Shape, Window, channels_axis, kinds, layers, spatial_dims};

use super::{Stateful, size};
use crate::dyn_tensor::DynTensor;

/// The `(start, end)` padding of each axis, when every size is known.
fn explicit<const N: usize>(
    windows: &[Window; N],
    sizes: [Dim; N],
    padding: Padding,
) -> Option<[(usize, usize); N]> {
    let mut pads = [(0, 0); N];
    for ((pad, window), size) in pads.iter_mut().zip(windows).zip(sizes) {
        if padding == Padding::Same {
            *pad = window.same_padding(size.known()?);
        }
    }
    Some(pads)
}

fn windows<const N: usize>(
    kernel: [usize; N],
    strides: [usize; N],
    dilation: [usize; N],
) -> [Window; N] {
    std::array::from_fn(|i| Window {
        kernel: kernel[i],
        stride: strides[i],
        dilation: dilation[i],
    })
}

/// A Conv2D layer on `channels` input channels of `sizes` (height, width): Glorot-uniform
/// kernel, zero bias. `same` padding is fixed here when the sizes are known; for unknown
/// sizes burn computes it per batch (kiln-spec refuses that case with dilation).
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, filters, height_out, width_out]`
#[allow(clippy::too_many_arguments)] // Keras's Conv2D arguments, one by one.
pub fn conv2d<B: Backend>(
    channels: usize,
    filters: usize,
    kernel_size: [usize; 2],
    strides: [usize; 2],
    dilation_rate: [usize; 2],
    padding: Padding,
    sizes: [Dim; 2],
    use_bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    let fan_in = channels * kernel_size[0] * kernel_size[1];
    let fan_out = filters * kernel_size[0] * kernel_size[1];
    let padding = match explicit(
        &windows(kernel_size, strides, dilation_rate),
        sizes,
        padding,
    ) {
        Some([(top, bottom), (left, right)]) => PaddingConfig2d::Explicit(top, left, bottom, right),
        None => PaddingConfig2d::Same,
    };
    Conv2d {
        weight: Initializer::XavierUniform { gain: 1.0 }.init_with(
            [filters, channels, kernel_size[0], kernel_size[1]],
            Some(fan_in),
            Some(fan_out),
            device,
        ),
        bias: use_bias.then(|| Initializer::Zeros.init([filters], device)),
        stride: strides,
        kernel_size,
        dilation: dilation_rate,
        groups: 1,
        padding,
    }
}

/// A Conv1D layer on `channels` input channels of `length`; see [`conv2d`]. It runs on
/// channels-last sequences through [`convolve1d`].
#[allow(clippy::too_many_arguments)] // Keras's Conv1D arguments, one by one.
pub fn conv1d<B: Backend>(
    channels: usize,
    filters: usize,
    kernel_size: usize,
    strides: usize,
    dilation_rate: usize,
    padding: Padding,
    length: Dim,
    use_bias: bool,
    device: &B::Device,
) -> Conv1d<B> {
    let padding = match explicit(
        &windows([kernel_size], [strides], [dilation_rate]),
        [length],
        padding,
    ) {
        Some([(left, right)]) => PaddingConfig1d::Explicit(left, right),
        None => PaddingConfig1d::Same,
    };
    Conv1d {
        weight: Initializer::XavierUniform { gain: 1.0 }.init_with(
            [filters, channels, kernel_size],
            Some(channels * kernel_size),
            Some(filters * kernel_size),
            device,
        ),
        bias: use_bias.then(|| Initializer::Zeros.init([filters], device)),
        stride: strides,
        kernel_size,
        dilation: dilation_rate,
        groups: 1,
        padding,
    }
}

/// Conv1D's forward step on sequences with their channels last, as Keras's Conv1D and
/// kiln's recurrent layers take them.
///
/// # Shapes
/// - input: `[batch, steps, channels]`
/// - output: `[batch, steps_out, filters]`
pub fn convolve1d<B: Backend>(conv: &Conv1d<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    conv.forward(x.swap_dims(1, 2)).swap_dims(1, 2)
}

impl<B: Backend> Stateful<B> for kinds::Conv1D {
    type Module = Conv1d<B>;

    fn init(l: &layers::Conv1D, input: &Shape, device: &B::Device) -> Conv1d<B> {
        conv1d(
            size(input, channels_axis(1)),
            l.filters,
            l.kernel_size[0],
            l.strides[0],
            l.dilation_rate[0],
            l.padding,
            spatial_dims(input, 1)[0],
            l.weights.use_bias,
            device,
        )
    }

    fn forward(_: &layers::Conv1D, c: &Conv1d<B>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R3(convolve1d(c, t.get()))
    }

    fn kernel_and_bias(m: &Conv1d<B>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        Some((
            m.weight.val().reshape([-1]),
            m.bias.as_ref().map(|b| b.val()),
        ))
    }
}

impl<B: Backend> Stateful<B> for kinds::Conv2D {
    type Module = Conv2d<B>;

    fn init(l: &layers::Conv2D, input: &Shape, device: &B::Device) -> Conv2d<B> {
        let sizes = spatial_dims(input, 2);
        conv2d(
            size(input, channels_axis(2)),
            l.filters,
            l.kernel_size,
            l.strides,
            l.dilation_rate,
            l.padding,
            [sizes[0], sizes[1]],
            l.weights.use_bias,
            device,
        )
    }

    fn forward(_: &layers::Conv2D, c: &Conv2d<B>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R4(c.forward(t.get()))
    }

    fn kernel_and_bias(m: &Conv2d<B>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        Some((
            m.weight.val().reshape([-1]),
            m.bias.as_ref().map(|b| b.val()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, floats};
    use burn::tensor::Tensor;

    #[test]
    fn output_shapes_follow_kiln_spec() {
        let device = Default::default();
        // (kernel, strides, dilation, padding, input size, output size): the sizes kiln-spec
        // computes (tested there against Keras).
        let cases = [
            (3, 1, 1, Padding::Valid, 28, 26),
            (3, 1, 1, Padding::Same, 28, 28),
            (3, 2, 1, Padding::Same, 32, 16),
            (2, 1, 1, Padding::Same, 5, 5),
            (3, 1, 2, Padding::Same, 10, 10),
            (3, 1, 2, Padding::Valid, 10, 6),
        ];
        for (k, s, d, padding, size, want) in cases {
            let conv = conv2d::<TestBackend>(
                2,
                4,
                [k, k],
                [s, s],
                [d, d],
                padding,
                [Dim::Known(size); 2],
                true,
                &device,
            );
            let y = conv.forward(Tensor::zeros([1, 2, size, size], &device));
            assert_eq!(y.dims(), [1, 4, want, want], "{k} {s} {d} {padding:?}");
            let conv =
                conv1d::<TestBackend>(2, 4, k, s, d, padding, Dim::Known(size), true, &device);
            let y = conv.forward(Tensor::zeros([1, 2, size], &device));
            assert_eq!(y.dims(), [1, 4, want], "{k} {s} {d} {padding:?}");
        }
    }

    #[test]
    fn same_padding_puts_the_odd_pad_at_the_end() {
        // A 2x2 kernel of ones on a 2x2 input with same padding: TensorFlow pads one row and
        // one column at the end, so the last row and column sum fewer elements.
        let device = Default::default();
        let mut conv = conv2d::<TestBackend>(
            1,
            1,
            [2, 2],
            [1, 1],
            [1, 1],
            Padding::Same,
            [Dim::Known(2); 2],
            false,
            &device,
        );
        conv.weight = burn::module::Param::from_tensor(Tensor::ones([1, 1, 2, 2], &device));
        let x = Tensor::<TestBackend, 4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &device);
        assert_eq!(floats(conv.forward(x)), [10.0, 6.0, 7.0, 4.0]);
    }
}
