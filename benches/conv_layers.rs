//! The reference models' convolutions one at a time: each distinct 2-D convolution of the
//! MNIST CNN, the CIFAR CNN and ResNet-14, read from the models' declarations, as the
//! backend runs it in training (its forward pass, input gradient and weight gradient,
//! each alone), on kiln's device against PyTorch eager's on the same device in the same
//! run (`benches/conv_reference.py`); then each model's convolutions over one training
//! step (a layer counted as often as the model has it; no input gradient for a layer that
//! takes the model's input). Beside each convolution that takes a model's input (1 or 3
//! channels, where burn-cuda's kernels are slowest), the candidates to run in its place
//! where they are faster, each checked against the backend's: the same convolution as
//! im2col and a matrix product in burn tensor ops, and with its channels padded with
//! zeros to 4 and to 8 (wider loads, whole tensor-core tiles).
//!
//! Run: `cargo bench --bench conv_layers`; on a GPU,
//! `KILN_BENCH_DEVICE=cuda cargo bench --features cuda --bench conv_layers`.
//! `KILN_BENCH_SECONDS` sets the seconds per op (default 1), `KILN_BENCH_BATCHES` the
//! batch size (128), `KILN_BENCH_MODELS` the models (`mnist_cnn,cifar_cnn,resnet14`),
//! `KILN_BENCH_PYTHON` and `KILN_BENCH_SCRIPTS` as for `training_step`.

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Distribution, ElementConversion, Tensor};
use common::models::resnet14::ResNet14;
use common::models::{CifarCnn, MnistCnn};
use common::{BATCH, batches, measure, peer, script, seconds, selected};
use kiln::prelude::*;
use kiln::spec::{Layer, Window};

/// A 2-D convolution as the backend runs it, on `[c_in, h, w]` examples already padded
/// where `same` padding is uneven (burn-nn pads those first, then convolves).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Conv {
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Conv {
    /// `c_in,h,w,c_out,kernel,stride,padding`: `conv_reference.py`'s argument.
    fn key(&self) -> String {
        let Conv {
            c_in,
            h,
            w,
            c_out,
            kernel,
            stride,
            padding,
        } = self;
        format!("{c_in},{h},{w},{c_out},{kernel},{stride},{padding}")
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1)
    }

    /// The output's height and width.
    fn output(&self) -> [usize; 2] {
        [self.h, self.w].map(|side| (side + 2 * self.padding - self.kernel) / self.stride + 1)
    }
}

/// A model's convolutions: each with how many times the model has it and whether it
/// takes the model's input.
type Convolutions = BTreeMap<Conv, (usize, bool)>;

/// The 2-D convolutions of `model`'s declaration.
fn convolutions<B: Backend>(model: &impl Model<B>) -> Convolutions {
    let spec = model.spec().expect("model! models carry their declaration");
    let checked = spec.check().expect("the reference models check");
    let inputs: Vec<&str> = spec.inputs.iter().map(|i| i.name.as_str()).collect();
    let mut found = Convolutions::new();
    for (index, named) in spec.layers.iter().enumerate() {
        let Layer::Conv2D(conv) = &named.layer else {
            continue;
        };
        // A Sequential model's first layer, or one the functional form feeds an input.
        let first = match named.inbound.is_empty() {
            true => index == 0,
            false => named.inbound.iter().any(|i| inputs.contains(&i.as_str())),
        };
        let info = (checked.layers.iter())
            .find(|l| l.name == named.name)
            .expect("every declared layer is checked");
        let dims: Vec<usize> = (info.input.dims().iter())
            .map(|d| d.known().expect("the reference models' sizes are known"))
            .collect();
        let square = |[a, b]: [usize; 2]| a == b;
        assert!(
            square(conv.kernel_size)
                && square(conv.strides)
                && conv.dilation_rate == [1, 1]
                && dims[1] == dims[2],
            "{}: this bench reads square, undilated convolutions of square images",
            named.name
        );
        let [kernel, stride] = [conv.kernel_size[0], conv.strides[0]];
        let window = Window {
            kernel,
            stride,
            dilation: 1,
        };
        let pads = [dims[1], dims[2]].map(|size| match conv.padding {
            kiln::Padding::Same => window.same_padding(size),
            kiln::Padding::Valid => (0, 0),
        });
        let even = pads.iter().all(|(a, b)| a == b);
        let layer = Conv {
            c_in: dims[0],
            h: dims[1] + if even { 0 } else { pads[0].0 + pads[0].1 },
            w: dims[2] + if even { 0 } else { pads[1].0 + pads[1].1 },
            c_out: conv.filters,
            kernel,
            stride,
            padding: if even { pads[0].0 } else { 0 },
        };
        found.entry(layer).or_insert((0, first)).0 += 1;
    }
    found
}

/// The time each op is measured for: `KILN_BENCH_SECONDS`, 1 s by default.
fn per_op() -> std::time::Duration {
    seconds(1.0)
}

/// Milliseconds per call of `op` on `device`, waited for after each call, as
/// `conv_reference.py` times PyTorch's.
fn milliseconds<I: Backend, T>(device: &I::Device, op: impl Fn() -> T) -> f64 {
    // A first call compiles and tunes a GPU backend's kernels, outside the timing.
    drop(op());
    let _ = I::sync(device);
    let time = |calls: usize| {
        let start = Instant::now();
        for _ in 0..calls {
            let out = black_box(op());
            let _ = I::sync(device);
            drop(out);
        }
        start.elapsed().as_secs_f64() / calls as f64
    };
    1e3 * measure(per_op(), time)
}

/// `x` `[n, c, h, w]` as im2col's rows: one per output position, `[n · oh · ow, c · k²]`,
/// each holding the position's window, channel by channel (stride 1).
fn columns<I: Backend>(x: Tensor<I, 4>, conv: &Conv) -> Tensor<I, 2> {
    let [n, c, _, _] = x.dims();
    let ([oh, ow], k, p) = (conv.output(), conv.kernel, conv.padding);
    let x = x.pad((p, p, p, p), PadMode::Constant(0.0));
    let taps = (0..k * k)
        .map(|t| {
            let (ky, kx) = (t / k, t % k);
            x.clone().slice([0..n, 0..c, ky..ky + oh, kx..kx + ow])
        })
        .collect();
    Tensor::stack::<5>(taps, 2)
        .reshape([n, c * k * k, oh * ow])
        .swap_dims(1, 2)
        .reshape([n * oh * ow, c * k * k])
}

/// The convolution's output from im2col's rows: one matrix product.
fn im2col_forward<I: Backend>(
    columns: Tensor<I, 2>,
    weight: Tensor<I, 4>,
    bias: Tensor<I, 1>,
    batch: usize,
    conv: &Conv,
) -> Tensor<I, 4> {
    let [oh, ow] = conv.output();
    let [c_out, c, k, _] = weight.dims();
    (columns.matmul(weight.reshape([c_out, c * k * k]).transpose()) + bias.unsqueeze())
        .reshape([batch, oh * ow, c_out])
        .swap_dims(1, 2)
        .reshape([batch, c_out, oh, ow])
}

/// The weight gradient from im2col's rows (kept from the forward pass, as autodiff keeps
/// them) and the output's gradient `dy`: one matrix product.
fn im2col_weight_grad<I: Backend>(
    columns: Tensor<I, 2>,
    dy: Tensor<I, 4>,
    conv: &Conv,
) -> Tensor<I, 4> {
    let [n, c_out, oh, ow] = dy.dims();
    let k = conv.kernel;
    dy.swap_dims(0, 1)
        .reshape([c_out, n * oh * ow])
        .matmul(columns)
        .reshape([c_out, conv.c_in, k, k])
}

/// The largest difference of `a` from `b`, relative to `b`'s largest magnitude.
fn relative_difference<I: Backend>(a: Tensor<I, 4>, b: Tensor<I, 4>) -> f64 {
    let scale = b.clone().abs().max().into_scalar().elem::<f64>();
    (a - b).abs().max().into_scalar().elem::<f64>() / scale.max(f64::MIN_POSITIVE)
}

/// `t` `[a, c, kh, kw]` with zero channels added up to `channels`.
fn pad_channels<I: Backend>(t: Tensor<I, 4>, channels: usize) -> Tensor<I, 4> {
    let [a, c, h, w] = t.dims();
    let zeros = Tensor::zeros([a, channels - c, h, w], &t.device());
    Tensor::cat(vec![t, zeros], 1)
}

/// Another way to run a convolution that takes a model's input: its name, its forward
/// pass's and weight gradient's milliseconds, and their differences from the backend's.
type Alternative = (String, [f64; 2], [f64; 2]);

/// Milliseconds of one convolution's forward pass, input gradient and weight gradient on
/// the backend, and of the alternatives tried for a convolution of a model's input.
struct Timed {
    backend: [f64; 3],
    alternatives: Vec<Alternative>,
}

fn time_conv<I: Backend>(conv: &Conv, batch: usize, input: bool, device: &I::Device) -> Timed {
    use burn::tensor::TensorPrimitive;
    let random = |shape: [usize; 4]| Tensor::<I, 4>::random(shape, Distribution::Default, device);
    let [oh, ow] = conv.output();
    let k = conv.kernel;
    let x = random([batch, conv.c_in, conv.h, conv.w]);
    let weight = random([conv.c_out, conv.c_in, k, k]);
    let bias = Tensor::<I, 1>::random([conv.c_out], Distribution::Default, device);
    let dy = random([batch, conv.c_out, oh, ow]);
    let float = |t: Tensor<I, 4>| t.into_primitive().tensor();
    let forward_of = |x: Tensor<I, 4>, weight: Tensor<I, 4>| {
        conv2d(x, weight, Some(bias.clone()), conv.options())
    };
    let weight_grad_of = |x: Tensor<I, 4>, weight: Tensor<I, 4>| {
        let grad =
            I::conv2d_weight_backward(float(x), float(weight), float(dy.clone()), conv.options());
        Tensor::<I, 4>::from_primitive(TensorPrimitive::Float(grad))
    };
    let forward = || forward_of(x.clone(), weight.clone());
    let weight_grad = || weight_grad_of(x.clone(), weight.clone());
    let backend = [
        milliseconds::<I, _>(device, forward),
        milliseconds::<I, _>(device, || {
            I::conv2d_x_backward(
                float(x.clone()),
                float(weight.clone()),
                float(dy.clone()),
                conv.options(),
            )
        }),
        milliseconds::<I, _>(device, weight_grad),
    ];
    let mut alternatives = Vec::new();
    let mut try_one =
        |name: String, ours: &dyn Fn() -> Tensor<I, 4>, ours_grad: &dyn Fn() -> Tensor<I, 4>| {
            let differences = [
                relative_difference(ours(), forward()),
                relative_difference(ours_grad(), weight_grad()),
            ];
            let times = [
                milliseconds::<I, _>(device, ours),
                milliseconds::<I, _>(device, ours_grad),
            ];
            alternatives.push((name, times, differences));
        };
    if input && conv.stride == 1 {
        let kept = columns(x.clone(), conv);
        try_one(
            "as im2col + matmul".into(),
            &|| {
                im2col_forward(
                    columns(x.clone(), conv),
                    weight.clone(),
                    bias.clone(),
                    batch,
                    conv,
                )
            },
            &|| im2col_weight_grad(kept.clone(), dy.clone(), conv),
        );
    }
    for channels in [4, 8].into_iter().filter(|&c| input && c > conv.c_in) {
        // The input's channels padded each batch, the kernel's each step; the gradient
        // of the real channels kept.
        let padded = |t: &Tensor<I, 4>| pad_channels(t.clone(), channels);
        let real = |g: Tensor<I, 4>| g.narrow(1, 0, conv.c_in);
        try_one(
            format!("channels padded to {channels}"),
            &|| forward_of(padded(&x), padded(&weight)),
            &|| real(weight_grad_of(padded(&x), padded(&weight))),
        );
    }
    Timed {
        backend,
        alternatives,
    }
}

/// PyTorch eager's milliseconds by `layer/op`, or why it could not run.
fn pytorch(device: &str, batch: usize, layers: &[Conv]) -> Result<BTreeMap<String, f64>, String> {
    let mut args = vec![
        script("conv_reference.py"),
        per_op().as_secs_f64().to_string(),
        device.to_string(),
        batch.to_string(),
    ];
    args.extend(layers.iter().map(Conv::key));
    Ok(peer("pytorch", &args)?.into_iter().collect())
}

fn run<I: Backend>(device: &I::Device, device_name: &str) {
    let batch = batches(&BATCH.to_string())
        .first()
        .copied()
        .unwrap_or(BATCH);
    let chosen = selected("mnist_cnn,cifar_cnn,resnet14");
    let models: Vec<(&str, Convolutions)> = [
        (
            "mnist_cnn",
            "MNIST CNN",
            convolutions(&MnistCnn::<I>::new(device)),
        ),
        (
            "cifar_cnn",
            "CIFAR CNN",
            convolutions(&CifarCnn::<I>::new(device)),
        ),
        (
            "resnet14",
            "ResNet-14",
            convolutions(&ResNet14::<I>::new(device)),
        ),
    ]
    .into_iter()
    .filter(|(key, ..)| chosen.iter().any(|c| c == key))
    .map(|(_, name, convs)| (name, convs))
    .collect();
    let mut layers: BTreeMap<Conv, bool> = BTreeMap::new();
    for (conv, (_, first)) in models.iter().flat_map(|(_, convs)| convs) {
        *layers.entry(*conv).or_default() |= *first;
    }
    let list: Vec<Conv> = layers.keys().copied().collect();
    let torch = pytorch(device_name, batch, &list).unwrap_or_else(|e| {
        println!("pytorch not measured: {e}");
        BTreeMap::new()
    });
    let theirs = |conv: &Conv, op: &str| torch.get(&format!("{}/{op}", conv.key())).copied();
    println!(
        "batch {batch} on {device_name}: ms per call, kiln · PyTorch eager (kiln's time ÷ PyTorch's)"
    );
    println!(
        "{:<26} {:>24} {:>24} {:>24}",
        "c_in,h,w,c_out,k,stride,pad", "forward", "input grad", "weight grad"
    );
    let cell = |ours: f64, theirs: Option<f64>| match theirs {
        Some(t) => format!("{ours:.3} · {t:.3} ({:.2}×)", ours / t),
        None => format!("{ours:.3} · -"),
    };
    let mut timed = BTreeMap::new();
    for (conv, first) in &layers {
        let t = time_conv::<I>(conv, batch, *first, device);
        let ops = ["forward", "input", "weight"];
        let cells: Vec<String> = (t.backend.iter().zip(ops))
            .map(|(ours, op)| cell(*ours, theirs(conv, op)))
            .collect();
        let key = conv.key() + if *first { " (input)" } else { "" };
        println!(
            "{key:<26} {:>24} {:>24} {:>24}",
            cells[0], cells[1], cells[2]
        );
        for (name, [forward, weight], [d_forward, d_weight]) in &t.alternatives {
            println!(
                "{:<26} {:>24} {:>24} {:>24}   (differences {d_forward:.1e}, {d_weight:.1e})",
                format!("  {name}"),
                cell(*forward, theirs(conv, "forward")),
                "-",
                cell(*weight, theirs(conv, "weight"))
            );
        }
        timed.insert(*conv, t);
    }
    println!(
        "\nthe convolutions of one training step, ms: kiln · PyTorch eager (ratio); kiln with the fastest alternative where one applies"
    );
    for (name, convs) in &models {
        let (mut ours, mut alternative, mut peer) = (0.0, 0.0, Some(0.0));
        for (conv, (count, first)) in convs {
            let t = &timed[conv];
            let ops: &[usize] = if *first { &[0, 2] } else { &[0, 1, 2] };
            let own: f64 = ops.iter().map(|&op| t.backend[op]).sum();
            ours += *count as f64 * own;
            // The alternatives stand in for a layer that takes the model's input only.
            let best = (t.alternatives.iter())
                .filter(|_| *first)
                .map(|(_, times, _)| times.iter().sum::<f64>())
                .fold(own, f64::min);
            alternative += *count as f64 * best;
            for op in ops {
                let op = ["forward", "input", "weight"][*op];
                peer = peer
                    .zip(theirs(conv, op))
                    .map(|(sum, t)| sum + *count as f64 * t);
            }
        }
        let peer = peer.map_or("-".into(), |p| format!("{p:.3} ({:.2}×)", ours / p));
        println!("{name:<10} {ours:.3} · {peer}; {alternative:.3}");
    }
}

fn main() {
    if common::on_cuda() {
        #[cfg(feature = "cuda")]
        run::<<kiln::backend::Cuda as burn::tensor::backend::AutodiffBackend>::InnerBackend>(
            &common::gpu(),
            "cuda",
        );
    } else {
        run::<kiln::backend::CpuBackend>(&Default::default(), "cpu");
    }
}
