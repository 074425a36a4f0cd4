//! The module ops KilnCpu implements itself (the generated `delegate.rs` calls these by
//! name): f32 tensors go to kiln's kernels, anything else to Flex.

use burn_backend::ops::{ConvOptions, MaxPool2dBackward, MaxPool2dWithIndices, ModuleOps};
use burn_backend::tensor::{FloatTensor, IntTensor};
use burn_backend::{Bytes, DType, Shape, TensorMetadata};
use burn_flex::{Flex, FlexTensor, Layout};

use crate::conv::{Geometry, bias_grad};
use crate::float::{matrix, product};
use crate::memory::keep_freed_memory;
use crate::pool::{AvgPool, Planes, Window};
use crate::strided::contiguous;

/// `tensor`'s values in row-major order, with `f(values)`; copied first only if
/// `tensor` is a strided view.
fn with_values<R>(tensor: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> R {
    f(values(&contiguous(tensor)))
}

/// The values of a contiguous f32 tensor.
#[allow(
    clippy::expect_used,
    reason = "kiln-cpu takes f32 tensors only; others go to burn-flex"
)]
pub(crate) fn values(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("an f32 tensor made contiguous")
}

/// A contiguous f32 tensor of `shape` holding `values`.
pub(crate) fn from_values(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        DType::F32,
    )
}

fn all_f32(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

/// The geometry of a one-group convolution of f32 tensors, or `None` for what Flex does
/// instead (other float types, groups, shapes that do not fit).
fn geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<2>,
    others: &[&FlexTensor],
) -> Option<Geometry> {
    if options.groups != 1 || !all_f32(&[x, weight]) || !all_f32(others) {
        return None;
    }
    keep_freed_memory();
    let [batch, c_in, height, width] = x.shape().dims();
    let [c_out, weight_c_in, kh, kw] = weight.shape().dims();
    // The output size, or `None` for a kernel that does not fit the padded input (or
    // channels that do not match): Flex's op then says what is wrong.
    let out = |axis: usize, size: usize, kernel: usize| {
        let reach = options.dilation[axis] * kernel.checked_sub(1)? + 1;
        let room = (size + 2 * options.padding[axis]).checked_sub(reach)?;
        Some(room / options.stride[axis] + 1)
    };
    if weight_c_in != c_in {
        return None;
    }
    let out = [out(0, height, kh)?, out(1, width, kw)?];
    Some(Geometry {
        batch,
        c_in,
        height,
        width,
        c_out,
        kernel: [kh, kw],
        stride: options.stride,
        padding: options.padding,
        dilation: options.dilation,
        out,
    })
}

pub(crate) fn conv2d(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    bias: Option<FloatTensor<Flex>>,
    options: ConvOptions<2>,
) -> FloatTensor<Flex> {
    let others: Vec<_> = bias.iter().collect();
    let Some(g) = geometry(&x, &weight, &options, &others) else {
        return Flex::conv2d(x, weight, bias, options);
    };
    let y = with_values(&x, |x| {
        with_values(&weight, |w| match &bias {
            Some(bias) => with_values(bias, |b| g.forward(x, w, Some(b))),
            None => g.forward(x, w, None),
        })
    });
    from_values(y, Shape::new([g.batch, g.c_out, g.out[0], g.out[1]]))
}

/// Which gradient of a convolution.
#[derive(Clone, Copy)]
enum Of {
    Input,
    Weight,
}

/// A gradient of a convolution: kiln's kernel on the f32 values of the other operand
/// (the weight for the input's gradient, the input for the weight's) and of the output
/// gradient, shaped like the operand it is for; Flex's `fallback` otherwise.
fn gradient(
    of: Of,
    [x, weight, output_grad]: [FlexTensor; 3],
    options: ConvOptions<2>,
    fallback: fn(FlexTensor, FlexTensor, FlexTensor, ConvOptions<2>) -> FlexTensor,
) -> FlexTensor {
    let Some(g) = geometry(&x, &weight, &options, &[&output_grad]) else {
        return fallback(x, weight, output_grad, options);
    };
    let (other, shape) = match of {
        Of::Input => (&weight, x.shape()),
        Of::Weight => (&x, weight.shape()),
    };
    let grad = with_values(other, |a| {
        with_values(&output_grad, |dy| match of {
            Of::Input => g.input_grad(a, dy),
            Of::Weight => g.weight_grad(a, dy),
        })
    });
    from_values(grad, shape)
}

pub(crate) fn conv2d_x_backward(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
    options: ConvOptions<2>,
) -> FloatTensor<Flex> {
    let tensors = [x, weight, output_grad];
    gradient(Of::Input, tensors, options, Flex::conv2d_x_backward)
}

pub(crate) fn conv2d_weight_backward(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
    options: ConvOptions<2>,
) -> FloatTensor<Flex> {
    let tensors = [x, weight, output_grad];
    gradient(Of::Weight, tensors, options, Flex::conv2d_weight_backward)
}

pub(crate) fn conv2d_bias_backward(
    x: FloatTensor<Flex>,
    bias: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    if !all_f32(&[&bias, &output_grad]) {
        return Flex::conv2d_bias_backward(x, bias, output_grad);
    }
    let dims = output_grad.shape().dims::<4>();
    let db = with_values(&output_grad, |dy| bias_grad(dy, dims[1], dims[2] * dims[3]));
    from_values(db, bias.shape())
}

/// A 1-D convolution as a 2-D one of height 1: `[N, C, L]` is `[N, C, 1, L]`.
fn as_2d(tensor: &FlexTensor) -> FlexTensor {
    let [a, b, c] = tensor.shape().dims();
    tensor.reshape(Shape::new([a, b, 1, c]))
}

fn as_1d(tensor: FlexTensor) -> FlexTensor {
    let [a, b, _, d] = tensor.shape().dims();
    tensor.reshape(Shape::new([a, b, d]))
}

fn options_2d(options: &ConvOptions<1>) -> ConvOptions<2> {
    ConvOptions::new(
        [1, options.stride[0]],
        [0, options.padding[0]],
        [1, options.dilation[0]],
        options.groups,
    )
}

pub(crate) fn conv1d(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    bias: Option<FloatTensor<Flex>>,
    options: ConvOptions<1>,
) -> FloatTensor<Flex> {
    as_1d(conv2d(
        as_2d(&x),
        as_2d(&weight),
        bias,
        options_2d(&options),
    ))
}

pub(crate) fn conv1d_x_backward(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
    options: ConvOptions<1>,
) -> FloatTensor<Flex> {
    as_1d(conv2d_x_backward(
        as_2d(&x),
        as_2d(&weight),
        as_2d(&output_grad),
        options_2d(&options),
    ))
}

pub(crate) fn conv1d_weight_backward(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
    options: ConvOptions<1>,
) -> FloatTensor<Flex> {
    as_1d(conv2d_weight_backward(
        as_2d(&x),
        as_2d(&weight),
        as_2d(&output_grad),
        options_2d(&options),
    ))
}

pub(crate) fn conv1d_bias_backward(
    x: FloatTensor<Flex>,
    bias: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    conv2d_bias_backward(as_2d(&x), bias, as_2d(&output_grad))
}

fn planes(x: &FlexTensor, output_grad: &FlexTensor) -> Planes {
    let [n, c, h, w] = x.shape().dims();
    let [_, _, oh, ow] = output_grad.shape().dims();
    Planes {
        count: n * c,
        input: [h, w],
        output: [oh, ow],
    }
}

/// A pooling's output size along one axis (Flex's rule: with `ceil_mode` a last,
/// partial window counts; a padded input smaller than the window gives one output with
/// `ceil_mode`, none without).
fn pooled(
    size: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil_mode: bool,
) -> usize {
    let reach = dilation * (kernel - 1) + 1;
    match (size + 2 * padding).checked_sub(reach) {
        None => usize::from(ceil_mode),
        Some(room) if ceil_mode => room.div_ceil(stride) + 1,
        Some(room) => room / stride + 1,
    }
}

/// Max pooling of an f32 tensor: its output and indices, or `None` for Flex.
fn max_pool(x: &FlexTensor, window: Window, ceil_mode: bool) -> Option<(FlexTensor, FlexTensor)> {
    // A zero window, stride or dilation: Flex's op says what is wrong.
    let sizes = [window.kernel, window.stride, window.dilation];
    if !all_f32(&[x]) || sizes.iter().any(|s| s.contains(&0)) {
        return None;
    }
    keep_freed_memory();
    let [n, c, h, w] = x.shape().dims();
    let out = |axis: usize, size: usize| {
        pooled(
            size,
            window.kernel[axis],
            window.stride[axis],
            window.padding[axis],
            window.dilation[axis],
            ceil_mode,
        )
    };
    let planes = Planes {
        count: n * c,
        input: [h, w],
        output: [out(0, h), out(1, w)],
    };
    let (y, indices) = with_values(x, |x| planes.max_forward(x, window));
    let shape = Shape::new([n, c, planes.output[0], planes.output[1]]);
    let indices = FlexTensor::new(
        Bytes::from_elems(indices),
        Layout::contiguous(shape.clone()),
        DType::I64,
    );
    Some((from_values(y, shape), indices))
}

/// Max pooling without the indices a gradient needs (inference): the same kernel.
pub(crate) fn max_pool2d(
    x: FloatTensor<Flex>,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> FloatTensor<Flex> {
    max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).output
}

pub(crate) fn max_pool2d_with_indices(
    x: FloatTensor<Flex>,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> MaxPool2dWithIndices<Flex> {
    let window = Window {
        kernel: kernel_size,
        stride,
        padding,
        dilation,
    };
    match max_pool(&x, window, ceil_mode) {
        Some((y, indices)) => MaxPool2dWithIndices::new(y, indices),
        None => Flex::max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode),
    }
}

#[allow(clippy::too_many_arguments)] // burn's signature
pub(crate) fn max_pool2d_with_indices_backward(
    x: FloatTensor<Flex>,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
    output_grad: FloatTensor<Flex>,
    indices: IntTensor<Flex>,
) -> MaxPool2dBackward<Flex> {
    if !all_f32(&[&x, &output_grad]) || indices.dtype() != DType::I64 {
        return Flex::max_pool2d_with_indices_backward(
            x,
            kernel_size,
            stride,
            padding,
            dilation,
            ceil_mode,
            output_grad,
            indices,
        );
    }
    let indices = contiguous(&indices);
    #[allow(clippy::expect_used, reason = "burn's max-pool indices are i64")]
    let indices = indices.as_slice::<i64>().expect("contiguous i64 indices");
    let dx = with_values(&output_grad, |dy| {
        planes(&x, &output_grad).max_backward(dy, indices)
    });
    MaxPool2dBackward::new(from_values(dx, x.shape()))
}

/// `ceil_mode` only sets the output's size, which `grad` has.
pub(crate) fn avg_pool2d_backward(
    x: FloatTensor<Flex>,
    grad: FloatTensor<Flex>,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    count_include_pad: bool,
    ceil_mode: bool,
) -> FloatTensor<Flex> {
    if !all_f32(&[&x, &grad]) {
        return Flex::avg_pool2d_backward(
            x,
            grad,
            kernel_size,
            stride,
            padding,
            count_include_pad,
            ceil_mode,
        );
    }
    let pool = AvgPool::new(kernel_size, stride, padding, count_include_pad);
    let dx = with_values(&grad, |dy| planes(&x, &grad).avg_backward(dy, pool));
    from_values(dx, x.shape())
}

/// Average pooling's forward: kiln's own for f32 without `ceil_mode` (a window wider than
/// the input costs what the input holds), Flex's otherwise.
pub(crate) fn avg_pool2d(
    x: FloatTensor<Flex>,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    count_include_pad: bool,
    ceil_mode: bool,
) -> FloatTensor<Flex> {
    let [n, c, h, w] = x.shape().dims();
    let fits = (0..2).all(|i| kernel_size[i] <= [h, w][i] + 2 * padding[i]);
    if !all_f32(&[&x]) || ceil_mode || !fits || kernel_size.contains(&0) || stride.contains(&0) {
        return Flex::avg_pool2d(
            x,
            kernel_size,
            stride,
            padding,
            count_include_pad,
            ceil_mode,
        );
    }
    let out = |i: usize, size: usize| pooled(size, kernel_size[i], stride[i], padding[i], 1, false);
    let planes = Planes {
        count: n * c,
        input: [h, w],
        output: [out(0, h), out(1, w)],
    };
    let pool = AvgPool::new(kernel_size, stride, padding, count_include_pad);
    let y = with_values(&x, |x| planes.avg_forward(x, pool));
    from_values(y, Shape::new([n, c, planes.output[0], planes.output[1]]))
}

/// A dense layer, `x · weight + bias`, for f32 matrices `x` `[n, d_in]` and `weight`
/// `[d_in, d_out]` ([`product`], the bias added to each row of the product);
/// Flex for the rest (other ranks and float types).
pub(crate) fn linear(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    bias: Option<FloatTensor<Flex>>,
) -> FloatTensor<Flex> {
    // `None` for a bias that is not f32 values in a row (Flex's).
    let bias_values = match &bias {
        Some(b) => b.as_slice::<f32>().map(Some),
        None => Some(None),
    };
    let ours = bias_values.and_then(|bias| {
        let (a, w) = matrix(&x).zip(matrix(&weight))?;
        product(a, w, bias)
    });
    ours.unwrap_or_else(|| Flex::linear(x, weight, bias))
}

/// The dense layer's input gradient, `dy · weightᵀ` ([`product`] for f32 matrices).
pub(crate) fn linear_x_backward(
    weight: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    let ours = matrix(&output_grad)
        .zip(matrix(&weight))
        .and_then(|(dy, w)| product(dy, w.t(), None));
    ours.unwrap_or_else(|| Flex::linear_x_backward(weight, output_grad))
}

/// The dense layer's weight gradient, `xᵀ · dy` ([`product`] for f32 matrices).
pub(crate) fn linear_weight_backward(
    x: FloatTensor<Flex>,
    output_grad: FloatTensor<Flex>,
) -> FloatTensor<Flex> {
    let ours = matrix(&x)
        .zip(matrix(&output_grad))
        .and_then(|(a, dy)| product(a.t(), dy, None));
    ours.unwrap_or_else(|| Flex::linear_weight_backward(x, output_grad))
}
