//! Every op KilnCpu replaces, against Flex's own op on the same inputs: the forward
//! value and every gradient through `Autodiff` (Flex's gradients are burn's generic
//! decompositions), over a matrix of strides, paddings, dilations, kernel and input
//! sizes, channel counts and batch sizes.

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::module::{avg_pool2d, conv1d, conv2d, linear, max_pool2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};
use kiln_cpu::KilnCpu;

type K = Autodiff<KilnCpu>;
type F = Autodiff<Flex>;

/// Deterministic values in [-1, 1) (a multiplicative hash of the index and `seed`).
fn values(len: usize, seed: u64) -> Vec<f32> {
    (0..len as u64)
        .map(|i| {
            let h = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ seed.wrapping_mul(0xD1B5_4A32_D192_ED03);
            let h = h ^ (h >> 29);
            (h % 2_000_001) as f32 / 1_000_000.0 - 1.0
        })
        .collect()
}

fn tensor<B: Backend, const D: usize>(shape: [usize; D], seed: u64) -> Tensor<B, D> {
    let len = shape.iter().product();
    Tensor::from_data(
        TensorData::new(values(len, seed), shape),
        &Default::default(),
    )
}

fn floats<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().expect("f32 data")
}

/// Asserts `ours` equals `flex` within `tolerance`, relative to the largest magnitude
/// in `flex` (the sums behind each value run in another order on each backend).
fn assert_close(what: &str, case: &str, ours: &[f32], flex: &[f32], tolerance: f32) {
    assert_eq!(ours.len(), flex.len(), "{what} sizes, {case}");
    let scale = flex.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in ours.iter().zip(flex).enumerate() {
        assert!(
            (a - b).abs() <= tolerance * scale,
            "{what} [{i}]: kiln-cpu {a}, flex {b} (scale {scale}), {case}"
        );
    }
}

/// One conv2d case: the output and the gradients of x, weight and bias of
/// `sum(conv2d(x) * g)` for a fixed random `g`.
#[derive(Debug, Clone, Copy)]
struct Conv {
    batch: usize,
    c_in: usize,
    c_out: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    bias: bool,
}

impl Conv {
    /// A one-group case of `[c_in, c_out]` channels, `[stride, padding, dilation]`.
    fn new(
        batch: usize,
        [c_in, c_out]: [usize; 2],
        size: [usize; 2],
        kernel: [usize; 2],
        [stride, padding, dilation]: [[usize; 2]; 3],
        bias: bool,
    ) -> Self {
        Conv {
            batch,
            c_in,
            c_out,
            size,
            kernel,
            stride,
            padding,
            dilation,
            groups: 1,
            bias,
        }
    }

    fn run<B: burn::tensor::backend::AutodiffBackend>(&self) -> Vec<Vec<f32>> {
        let x =
            tensor::<B, 4>([self.batch, self.c_in, self.size[0], self.size[1]], 1).require_grad();
        let w = tensor::<B, 4>(
            [
                self.c_out,
                self.c_in / self.groups,
                self.kernel[0],
                self.kernel[1],
            ],
            2,
        )
        .require_grad();
        let b = tensor::<B, 1>([self.c_out], 3).require_grad();
        let options = ConvOptions::new(self.stride, self.padding, self.dilation, self.groups);
        let y = conv2d(x.clone(), w.clone(), self.bias.then(|| b.clone()), options);
        let g = tensor::<B, 4>(y.dims(), 4);
        let grads = (y.clone() * g).sum().backward();
        let mut out = vec![
            floats(y),
            floats(x.grad(&grads).expect("x grad")),
            floats(w.grad(&grads).expect("weight grad")),
        ];
        if self.bias {
            out.push(floats(b.grad(&grads).expect("bias grad")));
        }
        out
    }
}

/// f32 sums of up to a few thousand products of values in [-1, 1): 1e-4 of the
/// largest value covers the rounding of either summation order.
const TOLERANCE: f32 = 1e-4;

#[test]
fn conv2d_and_its_gradients_equal_flex() {
    let mut cases = Vec::new();
    for batch in [1, 7] {
        for c_in in [1, 3] {
            for (kernel, size) in [
                ([1, 1], [5, 4]),
                ([3, 3], [9, 8]),
                ([5, 5], [11, 7]),
                ([2, 3], [6, 9]),
            ] {
                for stride in [[1, 1], [2, 2], [3, 1]] {
                    for padding in [[0, 0], [1, 1], [2, 1]] {
                        for dilation in [[1, 1], [2, 2]] {
                            cases.push(Conv::new(
                                batch,
                                [c_in, 4],
                                size,
                                kernel,
                                [stride, padding, dilation],
                                (batch + c_in) % 2 == 0,
                            ));
                        }
                    }
                }
            }
        }
    }
    // 3×3: even and odd sizes, square and not, every padding Winograd's method and the
    // direct convolution take (0 to 2 per side), one image and several (7 images on two
    // threads make groups of 3, 3 and 1 images per Winograd product), and a larger image
    // of odd height and width. Channels, with stride 1: Winograd's method (16 → 17); on a
    // CPU with AVX-512, the direct convolution, forward and input gradient (16 → 16,
    // 9 → 8, whose input gradient's 9 output channels leave its last block of 8 all but
    // empty), and forward only (3 → 11, like a first layer). With stride 2, on a CPU with
    // AVX-512, the direct convolution over the input's four phases: forward and weight
    // gradient (3 → 8), and the input gradient too, one pass per phase, where the input
    // has 8 channels or more (16 → 9, its last block of output channels not full).
    let strides: [([usize; 2], &[[usize; 2]]); 2] = [
        ([1, 1], &[[16, 17], [16, 16], [9, 8], [3, 11]]),
        ([2, 2], &[[3, 8], [16, 9]]),
    ];
    for (stride, channel_pairs) in strides {
        for batch in [1, 3, 7] {
            for (size, padding) in [
                ([8, 8], [0, 0]),
                ([9, 7], [1, 1]),
                ([6, 11], [2, 2]),
                ([7, 10], [1, 2]),
                ([5, 5], [2, 0]),
                ([37, 29], [1, 1]),
            ] {
                for &channels in channel_pairs {
                    cases.push(Conv::new(
                        batch,
                        channels,
                        size,
                        [3, 3],
                        [stride, padding, [1, 1]],
                        batch == 3,
                    ));
                }
            }
        }
    }
    // Channels whose 19 × 21 kernels do not fill the weight transforms' last block of 16.
    cases.push(Conv::new(
        2,
        [19, 21],
        [6, 7],
        [3, 3],
        [[1, 1], [1, 1], [1, 1]],
        true,
    ));
    // The reference models' shapes: MNIST's second convolution, CIFAR's `same` ones, a
    // ResNet's strided projection; CIFAR's first layer and a ResNet's strided 3×3, whose
    // 32×32 and 16×16 outputs unfold into padded rows (`Geometry::lead`).
    let one = [1, 1];
    for (batch, channels, size, kernel, stride, padding, bias) in [
        (3, [32, 64], [26, 26], [3, 3], one, [0, 0], true),
        (2, [32, 64], [16, 16], [3, 3], one, one, true),
        (2, [16, 32], [16, 16], one, [2, 2], [0, 0], false),
        (2, [3, 32], [32, 32], [3, 3], one, one, true),
        (3, [16, 32], [32, 32], [3, 3], [2, 2], one, true),
    ] {
        let options = [stride, padding, one];
        cases.push(Conv::new(batch, channels, size, kernel, options, bias));
    }
    // Padding wider than the input (Keras's `same` with a kernel larger than the image,
    // as fuzzing found): lines entirely in the padding on either side.
    for (size, kernel, padding) in [
        ([8, 2], [3, 9], [1, 4]),
        ([8, 6], [3, 33], [1, 16]),
        ([2, 8], [9, 3], [4, 1]),
    ] {
        cases.push(Conv::new(
            2,
            [3, 4],
            size,
            kernel,
            [[1, 1], padding, [1, 1]],
            true,
        ));
    }
    // Strides as wide as the row or wider (fuzzing found a stride of 111,111,111 on 8
    // columns, whose column phases asked for 10 GB): one or two output columns, read
    // from phases past the row's width that hold no column.
    for (size, kernel, stride, padding) in [
        ([8, 8], [3, 3], [1, 1_000_000], [1, 1]),
        ([8, 8], [3, 3], [2, 9], [1, 1]),
        ([4, 4], [3, 3], [1, 4], [1, 2]),
        ([4, 4], [3, 1], [1, 5], [1, 2]),
        ([5, 1], [3, 1], [2, 2], [1, 0]),
    ] {
        cases.push(Conv::new(
            2,
            [3, 4],
            size,
            kernel,
            [stride, padding, [1, 1]],
            true,
        ));
    }
    // On two threads, whatever the machine, so the batches split into the same groups.
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build();
    let checked = two.expect("a pool of two threads").install(|| {
        let mut checked = 0;
        for case in cases {
            // A kernel that reaches past the padded input has no output: skipped.
            let reach = |i: usize| case.dilation[i] * (case.kernel[i] - 1) + 1;
            if (0..2).any(|i| reach(i) > case.size[i] + 2 * case.padding[i]) {
                continue;
            }
            let ours = case.run::<K>();
            let flex = case.run::<F>();
            for (what, (a, b)) in ["output", "x grad", "weight grad", "bias grad"]
                .iter()
                .zip(ours.iter().zip(&flex))
            {
                assert_close(what, &format!("{case:?}"), a, b, TOLERANCE);
            }
            checked += 1;
        }
        checked
    });
    assert_eq!(checked, 398, "cases run");
}

/// Grouped convolutions run Flex's own forward and gradients (bit for bit); the bias
/// gradient, which does not depend on groups, is kiln's sum.
#[test]
fn grouped_convolutions_are_flex_s_own() {
    let case = Conv {
        groups: 2,
        ..Conv::new(2, [4, 6], [7, 7], [3, 3], [[1, 1]; 3], true)
    };
    let (ours, flex) = (case.run::<K>(), case.run::<F>());
    for (what, i) in [("output", 0), ("x grad", 1), ("weight grad", 2)] {
        assert!(ours[i] == flex[i], "{what} differs from Flex's");
    }
    assert_close("bias grad", "groups 2", &ours[3], &flex[3], TOLERANCE);
}

#[test]
fn conv1d_and_its_gradients_equal_flex() {
    fn run<B: burn::tensor::backend::AutodiffBackend>(
        batch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
    ) -> Vec<Vec<f32>> {
        let x = tensor::<B, 3>([batch, 3, 17], 5).require_grad();
        let w = tensor::<B, 3>([5, 3, kernel], 6).require_grad();
        let b = tensor::<B, 1>([5], 7).require_grad();
        let options = ConvOptions::new([stride], [padding], [dilation], 1);
        let y = conv1d(x.clone(), w.clone(), Some(b.clone()), options);
        let g = tensor::<B, 3>(y.dims(), 8);
        let grads = (y.clone() * g).sum().backward();
        vec![
            floats(y),
            floats(x.grad(&grads).expect("x grad")),
            floats(w.grad(&grads).expect("weight grad")),
            floats(b.grad(&grads).expect("bias grad")),
        ]
    }
    for batch in [1, 7] {
        for kernel in [1, 3, 5] {
            for stride in [1, 2, 3] {
                for padding in [0, 2] {
                    for dilation in [1, 2] {
                        let case = format!(
                            "batch {batch} kernel {kernel} stride {stride} padding {padding} dilation {dilation}"
                        );
                        let ours = run::<K>(batch, kernel, stride, padding, dilation);
                        let flex = run::<F>(batch, kernel, stride, padding, dilation);
                        for (what, (a, b)) in ["output", "x grad", "weight grad", "bias grad"]
                            .iter()
                            .zip(ours.iter().zip(&flex))
                        {
                            assert_close(what, &case, a, b, TOLERANCE);
                        }
                    }
                }
            }
        }
    }
}

/// The gradient of x through a pooling, `sum(pool(x) * g)` for a fixed random `g`.
fn pool_grad<B: burn::tensor::backend::AutodiffBackend>(
    shape: [usize; 4],
    pool: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>,
) -> (Vec<f32>, Vec<f32>) {
    let x = tensor::<B, 4>(shape, 9).require_grad();
    let y = pool(x.clone());
    let g = tensor::<B, 4>(y.dims(), 10);
    let grads = (y.clone() * g).sum().backward();
    (floats(y), floats(x.grad(&grads).expect("x grad")))
}

/// Calls `check(case, shape, kernel, stride, padding, flag)` over the pooling cases:
/// shapes from one 4×4 plane to 24×24 maps, square and not kernels and strides, with
/// and without padding (burn takes at most half the kernel), windows wider than the
/// input (Keras's `same` with a pool larger than the image, as fuzzing found), and both
/// values of a flag.
fn pool_cases(mut check: impl FnMut(&str, [usize; 4], [usize; 2], [usize; 2], [usize; 2], bool)) {
    for (kernel, stride, padding) in [([9, 5], [1, 2], [4, 2]), ([7, 3], [2, 7], [3, 1])] {
        for flag in [false, true] {
            let case =
                format!("wide window {kernel:?} stride {stride:?} padding {padding:?} {flag}");
            check(&case, [2, 3, 4, 4], kernel, stride, padding, flag);
        }
    }
    for shape in [[1, 1, 4, 4], [7, 3, 9, 8], [2, 5, 24, 24]] {
        for kernel in [[2, 2], [3, 3], [2, 3]] {
            for stride in [[1, 1], [2, 2], [3, 2]] {
                for padding in [[0, 0], [1, 1]] {
                    if padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1] {
                        continue;
                    }
                    for flag in [false, true] {
                        let case = format!(
                            "{shape:?} kernel {kernel:?} stride {stride:?} padding {padding:?} {flag}"
                        );
                        check(&case, shape, kernel, stride, padding, flag);
                    }
                }
            }
        }
    }
}

/// Max pooling (forward with indices, and its gradient), `ceil_mode` as the flag.
#[test]
fn max_pool2d_and_its_gradient_equal_flex() {
    pool_cases(|case, shape, kernel, stride, padding, ceil_mode| {
        let ours = pool_grad::<K>(shape, |x| {
            max_pool2d(x, kernel, stride, padding, [1, 1], ceil_mode)
        });
        let flex = pool_grad::<F>(shape, |x| {
            max_pool2d(x, kernel, stride, padding, [1, 1], ceil_mode)
        });
        assert_eq!(ours, flex, "{case}");
    });
}

/// Average pooling's gradient, `count_include_pad` as the flag.
#[test]
fn avg_pool2d_gradient_equals_flex() {
    pool_cases(|case, shape, kernel, stride, padding, count_include_pad| {
        let ours = pool_grad::<K>(shape, |x| {
            avg_pool2d(x, kernel, stride, padding, count_include_pad, false)
        });
        let flex = pool_grad::<F>(shape, |x| {
            avg_pool2d(x, kernel, stride, padding, count_include_pad, false)
        });
        assert_close("output", case, &ours.0, &flex.0, 1e-6);
        assert_close("x grad", case, &ours.1, &flex.1, 1e-6);
    });
}

/// With `ceil_mode`, Flex's own backward divides a window that overhangs the padded
/// input by the whole kernel while its forward divides by the positions inside, so the
/// gradient is checked against its definition instead: for a linear `y = A x`,
/// `<A x, g> = <x, Aᵀ g>` for every `x` and `g`.
#[test]
fn avg_pool2d_gradient_with_ceil_mode_is_the_adjoint() {
    for count_include_pad in [false, true] {
        let pool = |x| avg_pool2d(x, [3, 3], [2, 2], [1, 1], count_include_pad, true);
        let (y, dx) = pool_grad::<K>([2, 3, 8, 8], pool);
        let g = floats(tensor::<K, 4>([2, 3, 5, 5], 10));
        let x = floats(tensor::<K, 4>([2, 3, 8, 8], 9));
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| (a * b) as f64).sum::<f64>();
        let (lhs, rhs) = (dot(&y, &g), dot(&x, &dx));
        assert!(
            (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}, count pad {count_include_pad}"
        );
    }
}

/// Broadcast and strided element-wise arithmetic (kiln's own kernel) gives Flex's
/// values exactly: the same single operation per element.
#[test]
fn broadcast_arithmetic_equals_flex() {
    fn run<B: Backend>(a: [usize; 4], b: [usize; 4], view: usize) -> Vec<Vec<f32>> {
        let (x, y) = (tensor::<B, 4>(a, 11), tensor::<B, 4>(b, 12));
        // Strided views of x: as is, permuted (and back to its shape), flipped.
        let x = match view {
            0 => x,
            1 => x
                .swap_dims(2, 3)
                .swap_dims(2, 3)
                .permute([0, 1, 3, 2])
                .permute([0, 1, 3, 2]),
            2 => x.flip([3]),
            _ => x.swap_dims(1, 3).swap_dims(1, 3),
        };
        let y = y.abs() + 0.5; // a divisor away from zero
        vec![
            floats(x.clone() + y.clone()),
            floats(x.clone() - y.clone()),
            floats(y.clone() - x.clone()),
            floats(x.clone() * y.clone()),
            floats(x.clone() / y.clone()),
            floats(y / x.abs().add_scalar(0.5)),
        ]
    }
    let pairs = [
        ([4, 3, 5, 6], [1, 3, 1, 1]), // batch normalization's γ
        ([4, 3, 5, 6], [4, 3, 5, 6]),
        ([4, 3, 5, 6], [1, 1, 1, 6]),
        ([4, 3, 5, 6], [4, 1, 5, 1]),
        ([4, 1, 5, 1], [1, 3, 1, 6]), // both broadcast
        ([1, 1, 1, 1], [2, 3, 4, 5]),
        ([2, 3, 1, 7], [2, 3, 1, 7]),
    ];
    for (a, b) in pairs {
        for view in 0..4 {
            assert_eq!(
                run::<KilnCpu>(a, b, view),
                run::<Flex>(a, b, view),
                "{a:?} {b:?} view {view}"
            );
        }
    }
}

/// ReLU, the sigmoid and tanh and their gradients (kiln's, in parallel) give Flex's
/// values exactly, in place on a tensor of its own (outside autodiff, which keeps its
/// tensors), into a new buffer on a shared one, and through Flex on strided views; NaN,
/// infinities and both zeros included. 250,000 values span several tasks.
#[test]
fn activations_and_their_gradients_equal_flex() {
    const NAMES: [&str; 3] = ["relu", "sigmoid", "tanh"];
    fn activation<B: Backend>(which: usize, x: Tensor<B, 2>) -> Tensor<B, 2> {
        use burn::tensor::activation::{relu, sigmoid, tanh};
        [relu, sigmoid, tanh][which](x)
    }
    fn input<B: Backend>(view: usize) -> Tensor<B, 2> {
        let mut data = values(250_000, 14);
        data[..5].copy_from_slice(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0]);
        let x = Tensor::<B, 2>::from_data(TensorData::new(data, [500, 500]), &Default::default());
        match view {
            0 => x,
            _ => x.swap_dims(0, 1),
        }
    }
    fn run<B: burn::tensor::backend::AutodiffBackend>(which: usize, view: usize) -> Vec<Vec<u32>> {
        let x = input::<B>(view).require_grad();
        let y = activation(which, x.clone());
        let g = tensor::<B, 2>(y.dims(), 15);
        let grads = (y.clone() * g).sum().backward();
        let x_grad = x.grad(&grads).expect("x has a gradient");
        let owned = activation(which, input::<B::InnerBackend>(view));
        let bits = |v: Vec<f32>| v.iter().map(|f| f.to_bits()).collect();
        vec![
            bits(floats(y.inner())),
            bits(floats(owned)),
            bits(x_grad.into_data().to_vec::<f32>().expect("f32 data")),
        ]
    }
    for (which, name) in NAMES.iter().enumerate() {
        for view in 0..2 {
            let (ours, flex) = (run::<K>(which, view), run::<F>(which, view));
            for (what, (a, b)) in ["shared", "owned", "x grad"]
                .iter()
                .zip(ours.iter().zip(&flex))
            {
                let first = a.iter().zip(b).position(|(a, b)| a != b);
                assert_eq!(
                    first,
                    None,
                    "{name}, {what}, view {view}: {:?}",
                    first.map(|i| (a[i], b[i]))
                );
            }
        }
    }
}

/// Element-wise ops of large tensors (kiln's, in parallel) give Flex's values bit for
/// bit: arithmetic with a scalar, square roots, squares (and a cube, Flex's), exp and
/// log, and
/// arithmetic of two tensors of one shape, written in place into the left or the right
/// operand when it is its buffer's only owner, or into a new buffer.
#[test]
fn large_element_wise_ops_equal_flex() {
    fn run<B: Backend>() -> Vec<Vec<u32>> {
        let fresh = |seed| {
            let mut data = values(250_000, seed);
            data[..4].copy_from_slice(&[f32::NAN, f32::INFINITY, 0.0, -0.0]);
            Tensor::<B, 2>::from_data(TensorData::new(data, [500, 500]), &Default::default())
        };
        let (x, y) = (fresh(21), fresh(22).abs().add_scalar(0.25));
        let ops = [
            x.clone().add_scalar(0.3),
            fresh(21).sub_scalar(0.3),
            x.clone().mul_scalar(-1.7),
            fresh(21).div_scalar(3.0),
            x.clone().abs().sqrt(),
            x.clone().square(),
            fresh(21).square(),
            x.clone().powi_scalar(3),
            x.clone() + y.clone(),
            fresh(21) - y.clone(),
            y.clone() - fresh(21),
            x.clone() * y.clone(),
            y.clone() / fresh(21),
            fresh(21) / y.clone(),
            x.clone().exp(),
            fresh(21).exp(),
            y.clone().log(),
            fresh(22).abs().log(),
        ];
        ops.into_iter()
            .map(|t| floats(t).iter().map(|f| f.to_bits()).collect())
            .collect()
    }
    let (ours, flex) = (run::<KilnCpu>(), run::<Flex>());
    for (op, (a, b)) in ours.iter().zip(&flex).enumerate() {
        let first = a.iter().zip(b).position(|(a, b)| a != b);
        assert_eq!(first, None, "op {op}: {:?}", first.map(|i| (a[i], b[i])));
    }
}

/// Reshaping a permuted tensor (kiln's parallel copy, then Flex's reshape) gives Flex's
/// values: batch normalization's `swap_dims(0, 1).reshape([C, N·H·W])`, and others.
#[test]
fn reshapes_of_permuted_tensors_equal_flex() {
    fn run<B: Backend>() -> Vec<Vec<f32>> {
        let x = tensor::<B, 4>([4, 3, 5, 6], 13);
        vec![
            floats(x.clone().swap_dims(0, 1).reshape([3, 120])),
            floats(x.clone().permute([3, 1, 0, 2]).reshape([6, 60])),
            floats(x.clone().flip([2]).reshape([12, 30])),
            floats(x.clone().swap_dims(2, 3).reshape([360])),
            floats(x.slice([0..4, 1..3, 0..5, 2..6]).reshape([160])),
        ]
    }
    assert_eq!(run::<KilnCpu>(), run::<Flex>());
}

/// Writing into a region (`slice_assign`, kiln's in parallel rows) and filling
/// (`full`, `zeros`) give Flex's values exactly: burn's explicit padding (one side only,
/// as Keras's `same` with stride 2) and its gradient; regions at either end, inside,
/// whole, of one dimension and of several; a strided value; a destination shared with
/// another tensor (written into a copy: the other keeps its values); rank 1; more than
/// one task's rows (64 × 40 × 130).
#[test]
fn slice_assign_and_full_equal_flex() {
    fn run<B: burn::tensor::backend::AutodiffBackend>() -> Vec<Vec<f32>> {
        let device = Default::default();
        let x = tensor::<B, 4>([2, 3, 8, 8], 21).require_grad();
        let padded = x
            .clone()
            .pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(0.0));
        let g = tensor::<B, 4>([2, 3, 9, 9], 22);
        let grads = (padded.clone() * g).sum().backward();
        let grad = x.grad(&grads).expect("x takes a gradient");
        let base = tensor::<B, 3>([4, 5, 6], 23);
        let shared = base.clone();
        let into = |ranges: [core::ops::Range<usize>; 3], seed| {
            let shape = ranges.clone().map(|r| r.len());
            floats(
                base.clone()
                    .slice_assign(ranges, tensor::<B, 3>(shape, seed)),
            )
        };
        let strided = tensor::<B, 3>([4, 2, 4], 24).swap_dims(0, 2);
        let large = Tensor::<B, 3>::zeros([64, 40, 130], &device)
            .slice_assign([1..63, 0..40, 3..130], tensor::<B, 3>([62, 40, 127], 25));
        let line = tensor::<B, 1>([10], 26).slice_assign(2..7, tensor::<B, 1>([5], 27));
        vec![
            floats(padded),
            floats(grad),
            into([0..1, 0..5, 0..6], 28),
            into([3..4, 4..5, 5..6], 29),
            into([1..3, 2..4, 1..5], 30),
            into([0..4, 0..5, 0..6], 31),
            floats(base.clone().slice_assign([0..4, 3..5, 2..6], strided)),
            floats(shared),
            floats(large),
            floats(line),
            floats(Tensor::<B, 2>::full([300, 301], 2.5, &device)),
            floats(Tensor::<B, 2>::zeros([3, 7], &device)),
        ]
    }
    assert_eq!(run::<K>(), run::<F>());
}

/// Shapes that do not fit (a kernel larger than the padded input, channels that do not
/// match) are Flex's to handle: kiln's backend answers exactly as Flex does, a value or
/// a panic with Flex's message, never one of its own.
#[test]
fn shapes_that_do_not_fit_get_flex_s_answer() {
    fn outcome<B: Backend>(x: [usize; 4], w: [usize; 4]) -> Result<Vec<f32>, String> {
        std::panic::catch_unwind(|| {
            let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
            floats(conv2d(
                tensor::<B, 4>(x, 1),
                tensor::<B, 4>(w, 2),
                None,
                options,
            ))
        })
        .map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    }
    for (x, w) in [([1, 1, 2, 2], [1, 1, 3, 3]), ([1, 2, 5, 5], [1, 3, 3, 3])] {
        assert_eq!(
            outcome::<KilnCpu>(x, w),
            outcome::<Flex>(x, w),
            "{x:?} {w:?}"
        );
    }
}

/// Matrix products (kiln's own for f32 matrices, Flex's for batches and flipped views)
/// give Flex's values and gradients exactly, on plain, transposed and flipped operands,
/// and with an empty inner dimension.
#[test]
fn matmul_and_its_gradients_equal_flex() {
    fn run<B: burn::tensor::backend::AutodiffBackend>(
        [m, k, n]: [usize; 3],
        view: usize,
    ) -> Vec<Vec<f32>> {
        let (a, b) = (
            tensor::<B, 2>([m, k], 21).require_grad(),
            tensor::<B, 2>([k, n], 22).require_grad(),
        );
        let (x, y) = match view {
            0 => (a.clone(), b.clone()),
            1 => (a.clone().transpose().transpose(), b.clone()),
            2 => (
                a.clone(),
                b.clone().transpose().flip([0, 1]).transpose().flip([0, 1]),
            ),
            _ => (a.clone().flip([1]), b.clone().flip([0])),
        };
        let product = x.matmul(y);
        let grads = (product.clone() * tensor::<B, 2>([m, n], 23))
            .sum()
            .backward();
        let grad = |t: &Tensor<B, 2>| floats(t.grad(&grads).expect("a gradient"));
        vec![floats(product), grad(&a), grad(&b)]
    }
    for shape in [
        [1, 1, 1],
        [7, 5, 3],
        [3, 0, 4],
        [32, 300, 70],
        [130, 64, 17],
    ] {
        for view in 0..4 {
            assert_eq!(
                run::<K>(shape, view),
                run::<F>(shape, view),
                "{shape:?} view {view}"
            );
        }
    }
    let batched = |t: Tensor<K, 3>| floats(t.clone().matmul(t.swap_dims(1, 2)));
    let flex = |t: Tensor<F, 3>| floats(t.clone().matmul(t.swap_dims(1, 2)));
    assert_eq!(
        batched(tensor([2, 3, 4], 24)),
        flex(tensor([2, 3, 4], 24)),
        "batched"
    );
}

/// A dense layer (kiln's own product for f32 matrices, the bias written first) gives
/// Flex's output and gradients of x, weight and bias exactly, with and without a bias,
/// and on a rank-3 input (Flex's).
#[test]
fn linear_and_its_gradients_equal_flex() {
    fn run<B: burn::tensor::backend::AutodiffBackend, const D: usize>(
        x: [usize; D],
        d_out: usize,
        with_bias: bool,
    ) -> Vec<Vec<f32>> {
        let d_in = x[D - 1];
        let input = tensor::<B, D>(x, 31).require_grad();
        let weight = tensor::<B, 2>([d_in, d_out], 32).require_grad();
        let bias = tensor::<B, 1>([d_out], 33).require_grad();
        let y = linear(
            input.clone(),
            weight.clone(),
            with_bias.then(|| bias.clone()),
        );
        let mut out_shape = x;
        out_shape[D - 1] = d_out;
        let grads = (y.clone() * tensor::<B, D>(out_shape, 34)).sum().backward();
        let mut all = vec![
            floats(y),
            floats(input.grad(&grads).expect("x's gradient")),
            floats(weight.grad(&grads).expect("the weight's gradient")),
        ];
        if with_bias {
            all.push(floats(bias.grad(&grads).expect("the bias's gradient")));
        }
        all
    }
    for ([n, d_in], d_out) in [
        ([1, 1], 1),
        ([1, 300], 70),
        ([7, 5], 3),
        ([32, 300], 70),
        ([130, 64], 17),
    ] {
        for with_bias in [false, true] {
            assert_eq!(
                run::<K, 2>([n, d_in], d_out, with_bias),
                run::<F, 2>([n, d_in], d_out, with_bias),
                "[{n}, {d_in}] → {d_out}, bias {with_bias}"
            );
        }
    }
    assert_eq!(
        run::<K, 3>([2, 3, 4], 5, true),
        run::<F, 3>([2, 3, 4], 5, true),
        "rank 3"
    );
}
