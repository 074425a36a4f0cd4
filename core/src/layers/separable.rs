//! DepthwiseConv2D, a burn-nn `Conv2d` of one group per input channel, and
//! SeparableConv2D, such a depthwise `Conv2d` then a pointwise 1×1 one, with Keras's
//! initializers.

use burn::module::{Initializer, Module};
use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, backend::Backend};
use kiln_spec::layers::{Conv2D, DepthwiseConv2D, SeparableConv2D};
use kiln_spec::{Dim, Padding, Shape, Window, channels_axis, kinds, spatial_dims};

use super::{Stateful, conv2d, size};
use crate::dyn_tensor::DynTensor;

/// The two convolutions of a SeparableConv2D.
#[derive(Module, Debug)]
pub struct SeparableConv2d<B: Backend> {
    /// `depth_multiplier` kernels per input channel, no bias.
    pub depthwise: Conv2d<B>,
    /// The 1×1 convolution to the filters, with the layer's bias.
    pub pointwise: Conv2d<B>,
}

/// A SeparableConv2D on `channels` input channels of `sizes` (height, width): Glorot-uniform
/// kernels (each with Keras's fans) and a zero bias.
///
/// # Shapes
/// - input: `[batch, channels, height, width]`
/// - output: `[batch, filters, height_out, width_out]`
pub fn separable_conv2d<B: Backend>(
    layer: &SeparableConv2D,
    channels: usize,
    sizes: [Dim; 2],
    device: &B::Device,
) -> SeparableConv2d<B> {
    let conv = &layer.conv;
    let depthwise_channels = channels * layer.depth_multiplier;
    let depthwise = depthwise_conv2d(conv, channels, layer.depth_multiplier, sizes, false, device);
    let after: [Dim; 2] = std::array::from_fn(|i| {
        let window = Window {
            kernel: conv.kernel_size[i],
            stride: conv.strides[i],
            dilation: conv.dilation_rate[i],
        };
        window
            .output(sizes[i], conv.padding)
            .unwrap_or(Dim::Unknown)
    });
    let pointwise = conv2d(
        depthwise_channels,
        conv.filters,
        [1, 1],
        [1, 1],
        [1, 1],
        Padding::Valid,
        after,
        conv.weights.use_bias,
        device,
    );
    SeparableConv2d {
        depthwise,
        pointwise,
    }
}

/// The depthwise convolution of `conv`'s window (its filters unused) on `channels` input
/// channels of `sizes`, `multiplier` Glorot-uniform kernels each (with Keras's fans), and
/// a zero bias when `use_bias`.
fn depthwise_conv2d<B: Backend>(
    conv: &Conv2D,
    channels: usize,
    multiplier: usize,
    sizes: [Dim; 2],
    use_bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    let out = channels * multiplier;
    let (window, padding) = (conv.kernel_size, conv.padding);
    let mut depthwise = conv2d(
        1,
        out,
        window,
        conv.strides,
        conv.dilation_rate,
        padding,
        sizes,
        use_bias,
        device,
    );
    let [kh, kw] = window;
    // Keras's depthwise kernel is [kh, kw, channels, depth_multiplier].
    depthwise.weight = Initializer::XavierUniform { gain: 1.0 }.init_with(
        [out, 1, kh, kw],
        Some(channels * kh * kw),
        Some(multiplier * kh * kw),
        device,
    );
    depthwise.groups = channels;
    depthwise
}

impl<B: Backend> Stateful<B> for kinds::DepthwiseConv2D {
    type Module = Conv2d<B>;

    fn init(l: &DepthwiseConv2D, input: &Shape, device: &B::Device) -> Conv2d<B> {
        let sizes = spatial_dims(input, 2);
        let channels = size(input, channels_axis(2));
        let conv = l.as_conv(channels);
        let bias = l.weights.use_bias;
        depthwise_conv2d(
            &conv,
            channels,
            l.depth_multiplier,
            [sizes[0], sizes[1]],
            bias,
            device,
        )
    }

    fn forward(_: &DepthwiseConv2D, c: &Conv2d<B>, t: DynTensor<B>, _: bool) -> DynTensor<B> {
        DynTensor::R4(c.forward(t.get()))
    }

    fn kernel_and_bias(c: &Conv2d<B>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        Some((
            c.weight.val().reshape([-1]),
            c.bias.as_ref().map(|b| b.val()),
        ))
    }
}

impl<B: Backend> Stateful<B> for kinds::SeparableConv2D {
    type Module = SeparableConv2d<B>;

    fn init(l: &SeparableConv2D, input: &Shape, device: &B::Device) -> SeparableConv2d<B> {
        let sizes = spatial_dims(input, 2);
        separable_conv2d(
            l,
            size(input, channels_axis(2)),
            [sizes[0], sizes[1]],
            device,
        )
    }

    fn forward(
        _: &SeparableConv2D,
        c: &SeparableConv2d<B>,
        t: DynTensor<B>,
        _: bool,
    ) -> DynTensor<B> {
        DynTensor::R4(c.pointwise.forward(c.depthwise.forward(t.get())))
    }

    fn kernel_and_bias(c: &SeparableConv2d<B>) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        // kiln-spec refuses a kernel regularizer here; the bias is the pointwise one.
        let kernel = c.depthwise.weight.val().reshape([-1]);
        Some((kernel, c.pointwise.bias.as_ref().map(|b| b.val())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestBackend, floats};
    use burn::module::Param;
    use kiln_spec::{Call, Layer};

    #[test]
    fn a_depthwise_convolution_keeps_the_channels_apart() {
        let device = Default::default();
        let call = Call::bare("DepthwiseConv2D")
            .arg(2)
            .kw("depth_multiplier", 2);
        let Ok(Layer::DepthwiseConv2D(l)) = Layer::from_call(&call) else {
            panic!("not a DepthwiseConv2D");
        };
        let input = Shape::known([2, 2, 2]);
        let mut c = <kinds::DepthwiseConv2D as Stateful<TestBackend>>::init(&l, &input, &device);
        assert_eq!(c.weight.dims(), [4, 1, 2, 2]);
        // Channel 0 [[1, 2], [3, 4]] through its two kernels (its sum; its top-left value
        // plus a bias of 10), then channel 1 [[10, 20], [30, 40]] through its own two (its
        // bottom-right value; minus its top-right one): channel by channel, never mixed.
        c.weight = Param::from_tensor(Tensor::from_floats(
            [
                [[[1., 1.], [1., 1.]]],
                [[[1., 0.], [0., 0.]]],
                [[[0., 0.], [0., 1.]]],
                [[[0., -1.], [0., 0.]]],
            ],
            &device,
        ));
        c.bias = Some(Param::from_tensor(Tensor::from_floats(
            [0., 10., 0., 0.],
            &device,
        )));
        let x =
            Tensor::<TestBackend, 1>::from_floats([1., 2., 3., 4., 10., 20., 30., 40.], &device)
                .reshape([1, 2, 2, 2]);
        let y = <kinds::DepthwiseConv2D as Stateful<TestBackend>>::forward(
            &l,
            &c,
            DynTensor::R4(x),
            false,
        );
        assert_eq!(floats(y.get::<4>()), [10.0, 11.0, 40.0, -20.0]);
    }

    #[test]
    fn convolves_each_channel_then_mixes_them() {
        let device = Default::default();
        let call = Call::bare("SeparableConv2D")
            .arg(1)
            .arg(2)
            .kw("use_bias", false);
        let Ok(Layer::SeparableConv2D(l)) = Layer::from_call(&call) else {
            panic!("not a SeparableConv2D");
        };
        let mut c = separable_conv2d::<TestBackend>(&l, 2, [Dim::Known(2), Dim::Known(2)], &device);
        assert_eq!(c.depthwise.weight.dims(), [2, 1, 2, 2]);
        assert_eq!(c.pointwise.weight.dims(), [1, 2, 1, 1]);
        // Channel 0's kernel sums its window, channel 1's takes its top-left value; the
        // pointwise kernel takes twice the first less the second.
        c.depthwise.weight = Param::from_tensor(Tensor::from_floats(
            [[[[1., 1.], [1., 1.]]], [[[1., 0.], [0., 0.]]]],
            &device,
        ));
        c.pointwise.weight = Param::from_tensor(Tensor::from_floats([[[[2.]], [[-1.]]]], &device));
        // Channel 0 is [[1, 2], [3, 4]], channel 1 [[10, 20], [30, 40]]: 2 · 10 - 10 = 10.
        let x =
            Tensor::<TestBackend, 1>::from_floats([1., 2., 3., 4., 10., 20., 30., 40.], &device)
                .reshape([1, 2, 2, 2]);
        let y = c.pointwise.forward(c.depthwise.forward(x));
        assert_eq!(y.dims(), [1, 1, 1, 1]);
        assert_eq!(floats(y), [10.0]);
    }
}
