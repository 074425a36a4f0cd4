//! Conv2DTranspose: burn-nn's `ConvTranspose2d` with Keras's initializer and Keras's
//! output sizes (`same`: the input's times the strides, the odd pad cut at the end).

use burn::module::Initializer;
use burn::nn::conv::ConvTranspose2d;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::Conv2DTranspose;
use kiln_spec::{Padding, Shape, Window, channels_axis, kinds};

use super::{Stateful, size};
use crate::dyn_tensor::DynTensor;

/// burn's `(padding, padding_out)` of one axis, and the rows or columns then left to cut
/// at the end, for Keras's output size (TensorFlow pads a `same` window's odd pad at the
/// end, which burn's symmetric padding cannot).
fn pads(window: &Window, padding: Padding) -> (usize, usize, usize) {
    let (extent, stride) = (window.extent(), window.stride);
    // Output rows the kernel's extent leaves short of `size · stride`.
    let short = stride.saturating_sub(extent);
    match padding {
        Padding::Valid => (0, short, 0),
        Padding::Same => {
            let total = extent.saturating_sub(stride);
            (total / 2, short, total % 2)
        }
    }
}

/// A Conv2DTranspose on `channels` input channels: a Glorot-uniform kernel and a zero
/// bias, as `keras.layers.Conv2DTranspose` starts.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, filters, height_out, width_out]`, before [`conv2d_transpose_step`]
///   cuts `same`'s odd pad
pub fn conv2d_transpose<B: Backend>(
    layer: &Conv2DTranspose,
    channels: usize,
    device: &B::Device,
) -> ConvTranspose2d<B> {
    let [kh, kw] = layer.kernel_size;
    let [(top, bottom, _), (left, right, _)] = layer.windows().map(|w| pads(&w, layer.padding));
    ConvTranspose2d {
        weight: Initializer::XavierUniform { gain: 1.0 }.init_with(
            [channels, layer.filters, kh, kw],
            Some(layer.filters * kh * kw),
            Some(channels * kh * kw),
            device,
        ),
        bias: layer
            .weights
            .use_bias
            .then(|| Initializer::Zeros.init([layer.filters], device)),
        stride: layer.strides,
        kernel_size: layer.kernel_size,
        dilation: layer.dilation_rate,
        groups: 1,
        padding: [top, left],
        padding_out: [bottom, right],
        channels: [channels, layer.filters],
    }
}

/// Conv2DTranspose's forward step: burn's, then `same`'s odd pad cut at the end.
pub fn conv2d_transpose_step<B: Backend>(
    layer: &Conv2DTranspose,
    module: &ConvTranspose2d<B>,
    x: Tensor<B, 4>,
) -> Tensor<B, 4> {
    let y = module.forward(x);
    let [(_, _, cut_h), (_, _, cut_w)] = layer.windows().map(|w| pads(&w, layer.padding));
    if cut_h + cut_w == 0 {
        return y;
    }
    let [batch, filters, height, width] = y.dims();
    y.slice([0..batch, 0..filters, 0..height - cut_h, 0..width - cut_w])
}

impl<B: Backend> Stateful<B> for kinds::Conv2DTranspose {
    type Module = ConvTranspose2d<B>;

    fn init(l: &Conv2DTranspose, input: &Shape, device: &B::Device) -> ConvTranspose2d<B> {
        conv2d_transpose(l, size(input, channels_axis(2)), device)
    }

    fn forward(
        l: &Conv2DTranspose,
        c: &ConvTranspose2d<B>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        DynTensor::R4(conv2d_transpose_step(l, c, t.get()))
    }

    fn kernel_and_bias(c: &ConvTranspose2d<B>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        Some((
            c.weight.val().reshape([-1]),
            c.bias.as_ref().map(|b| b.val()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, floats};
    use burn::module::Param;
    use kiln_spec::{Call, Layer, Value};

    fn layer(kernel: [i64; 2], strides: [i64; 2], padding: &str) -> Conv2DTranspose {
        let pair = |[a, b]: [i64; 2]| Value::Tuple(vec![Value::Int(a), Value::Int(b)]);
        let call = Call::bare("Conv2DTranspose")
            .arg(1)
            .arg(pair(kernel))
            .kw("strides", pair(strides))
            .kw("padding", Value::Name(padding.into()))
            .kw("use_bias", false);
        match Layer::from_call(&call) {
            Ok(Layer::Conv2DTranspose(l)) => l,
            other => panic!("{other:?}"),
        }
    }

    /// `x` through a one-channel Conv2DTranspose whose kernel is all ones.
    fn spread(l: &Conv2DTranspose, x: Tensor<TestBackend, 4>) -> Tensor<TestBackend, 4> {
        let device = Default::default();
        let mut c = conv2d_transpose::<TestBackend>(l, 1, &device);
        let [kh, kw] = l.kernel_size;
        c.weight = Param::from_tensor(Tensor::ones([1, 1, kh, kw], &device));
        conv2d_transpose_step(l, &c, x)
    }

    #[test]
    fn spreads_each_pixel_as_keras() {
        let device = Default::default();
        // [[1, 2], [3, 4]], kernel 2x2 of ones, strides 2, valid: each pixel fills a 2x2
        // block of the 4x4 output.
        let x =
            Tensor::<TestBackend, 1>::from_floats([1., 2., 3., 4.], &device).reshape([1, 1, 2, 2]);
        let y = spread(&layer([2, 2], [2, 2], "valid"), x);
        assert_eq!(y.dims(), [1, 1, 4, 4]);
        assert_eq!(
            floats(y),
            [
                1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
            ]
        );
        // The row [1, 2], kernel (1, 3), strides (1, 2), same: the full output
        // [1, 1, 1 + 2, 2, 2] loses TensorFlow's odd pad at the end: [1, 1, 3, 2].
        let x = Tensor::<TestBackend, 1>::from_floats([1., 2.], &device).reshape([1, 1, 1, 2]);
        let y = spread(&layer([1, 3], [1, 2], "same"), x);
        assert_eq!(floats(y), [1., 1., 3., 2.]);
        // A kernel narrower than the strides, valid: [1, 2] with (1, 1) by (1, 3) gives
        // [1, 0, 0, 2, 0, 0], the rows the kernel leaves out zero.
        let x = Tensor::<TestBackend, 1>::from_floats([1., 2.], &device).reshape([1, 1, 1, 2]);
        let y = spread(&layer([1, 1], [1, 3], "valid"), x);
        assert_eq!(floats(y), [1., 0., 0., 2., 0., 0.]);
    }
}
