//! Time of each replaced op at the reference models' shapes (batch 128), on KilnCpu and
//! on Flex, with the arithmetic rate it reaches (the bias gradient, a sum, in ms alone);
//! then the element-wise activations of the CIFAR CNN's second convolution's output.
//!
//! Run: `cargo bench -p kiln-cpu --bench kernels`. For alternated A/B runs of a change:
//! `KILN_BENCH_REPEAT` sets the timed calls per op (default 10), `KILN_BENCH_LAYERS` the
//! layers (words of their names, comma-separated: `resnet,mnist`; `element-wise` for the
//! activations), `KILN_BENCH_BATCH`
//! the batch size (128), and `KILN_BENCH_FLEX=0` leaves Flex out.

use std::hint::black_box;
use std::time::Instant;

use burn_backend::ops::ConvOptions;
use burn_backend::{Backend, TensorData};
use burn_flex::{Flex, FlexTensor};
use kiln_cpu::KilnCpu;

/// A 3×3 convolution of the reference models: name, [c_in, h, w], c_out, padding, stride.
const LAYERS: &[(&str, [usize; 3], usize, usize, usize)] = &[
    ("mnist conv2", [32, 26, 26], 64, 0, 1),
    ("cifar conv1", [3, 32, 32], 32, 1, 1),
    ("cifar conv2", [32, 32, 32], 32, 0, 1),
    ("cifar conv3", [32, 15, 15], 64, 1, 1),
    ("cifar conv4", [64, 15, 15], 64, 0, 1),
    ("resnet s1", [16, 32, 32], 16, 1, 1),
    ("resnet s2", [32, 16, 16], 32, 1, 1),
    ("resnet s3", [64, 8, 8], 64, 1, 1),
    ("resnet s2 down", [16, 32, 32], 32, 1, 2),
    ("resnet s3 down", [32, 16, 16], 64, 1, 2),
];

/// `KILN_BENCH_<name>`, parsed, or `default` when it is not set.
fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(format!("KILN_BENCH_{name}")) {
        Ok(value) => value.trim().parse().unwrap_or_else(|_| {
            eprintln!("KILN_BENCH_{name}={value:?} is not valid here");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

fn random(shape: &[usize]) -> FlexTensor {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

/// Milliseconds per call of `f`, the median of `KILN_BENCH_REPEAT` calls after one.
fn time(mut f: impl FnMut()) -> f64 {
    let repeat = setting("REPEAT", 10_usize).max(1);
    f();
    let mut t: Vec<f64> = (0..repeat)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

/// Milliseconds of forward, input gradient, weight gradient and bias gradient on
/// backend `B`.
fn conv<B: Backend<FloatTensorPrimitive = FlexTensor>>(
    input: [usize; 3],
    c_out: usize,
    [padding, stride]: [usize; 2],
    batch: usize,
) -> [f64; 4] {
    let [c, h, w] = input;
    let x = random(&[batch, c, h, w]);
    let weight = random(&[c_out, c, 3, 3]);
    let bias = random(&[c_out]);
    let options = ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1);
    let y = B::conv2d(
        x.clone(),
        weight.clone(),
        Some(bias.clone()),
        options.clone(),
    );
    [
        time(|| {
            black_box(B::conv2d(
                x.clone(),
                weight.clone(),
                Some(bias.clone()),
                options.clone(),
            ));
        }),
        time(|| {
            black_box(B::conv2d_x_backward(
                x.clone(),
                weight.clone(),
                y.clone(),
                options.clone(),
            ));
        }),
        time(|| {
            black_box(B::conv2d_weight_backward(
                x.clone(),
                weight.clone(),
                y.clone(),
                options.clone(),
            ));
        }),
        time(|| {
            black_box(B::conv2d_bias_backward(x.clone(), bias.clone(), y.clone()));
        }),
    ]
}

/// Milliseconds of each element-wise op of `ACTIVATIONS` on backend `B`, each on a
/// tensor of its own (so done in place where the backend can).
fn activations<B: Backend<FloatTensorPrimitive = FlexTensor>>(shape: &[usize]) -> Vec<f64> {
    let x = random(shape);
    let grad = random(shape);
    let ops: [&dyn Fn(FlexTensor) -> FlexTensor; 5] = [
        &|x| B::sigmoid(x),
        &|s| B::sigmoid_backward(s, grad.clone()),
        &|x| B::float_tanh(x),
        &|x| B::float_exp(x),
        &|x| B::float_log(B::float_abs(x)),
    ];
    ops.iter()
        .map(|op| {
            // A copy of its own, made outside the timing, for each call.
            let copies: Vec<FlexTensor> = (0..=setting("REPEAT", 10_usize).max(1))
                .map(|_| random(shape))
                .collect();
            let mut copies = copies.into_iter();
            time(|| {
                black_box(op(copies.next().unwrap_or_else(|| x.clone())));
            })
        })
        .collect()
}

/// The ops [`activations`] times.
const ACTIVATIONS: [&str; 5] = ["sigmoid", "sigmoid grad", "tanh", "exp", "abs, log"];

fn main() {
    let batch = setting("BATCH", 128_usize).max(1);
    let layers = setting("LAYERS", String::new());
    let chosen =
        |name: &str| layers.is_empty() || layers.split(',').any(|word| name.contains(word.trim()));
    let flex = setting("FLEX", 1_u8) != 0;
    println!("batch {batch}, 3x3 convolutions; ms per call (GFLOP/s)");
    println!(
        "{:<12} {:>9} {:>22} {:>22} {:>22} {:>9}",
        "layer", "backend", "forward", "input grad", "weight grad", "bias grad"
    );
    for &(name, input, c_out, padding, stride) in LAYERS.iter().filter(|layer| chosen(layer.0)) {
        let [c, h, w] = input;
        let [oh, ow] = [h, w].map(|side| (side + 2 * padding - 3) / stride + 1);
        let gflop = 2.0 * (batch * c_out * c * 9 * oh * ow) as f64 / 1e9;
        let sizes = [padding, stride];
        let mut runs = vec![("kiln-cpu", conv::<KilnCpu>(input, c_out, sizes, batch))];
        if flex {
            runs.push(("flex", conv::<Flex>(input, c_out, sizes, batch)));
        }
        for (backend, ms) in runs {
            let cell = |ms: f64| format!("{ms:8.2} ({:6.1})", gflop / ms * 1e3);
            println!(
                "{name:<12} {backend:>9} {:>22} {:>22} {:>22} {:>9.3}",
                cell(ms[0]),
                cell(ms[1]),
                cell(ms[2]),
                ms[3]
            );
        }
    }
    if !chosen("element-wise") {
        return;
    }
    let shape = [batch, 32, 30, 30];
    println!("\nelement-wise, {shape:?}: ms per call");
    let mut runs = vec![("kiln-cpu", activations::<KilnCpu>(&shape))];
    if flex {
        runs.push(("flex", activations::<Flex>(&shape)));
    }
    println!(
        "{:<12} {}",
        "op",
        runs.iter()
            .map(|(b, _)| format!("{b:>9}"))
            .collect::<String>()
    );
    for (k, op) in ACTIVATIONS.iter().enumerate() {
        let cells: String = runs
            .iter()
            .map(|(_, ms)| format!("{:>9.2}", ms[k]))
            .collect();
        println!("{op:<12} {cells}");
    }
}
