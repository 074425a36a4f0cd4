//! 3×3 convolutions computed directly on CPUs with AVX-512 or AVX2: stride 1 with few
//! channels, and stride 2. No unfolded image (im2col) and no transforms (Winograd's method), only
//! the multiply-adds themselves, for the forward pass and both gradients.
//!
//! With the padded image's rows laid end to end (a channel's plane, `width + 2·padding`
//! floats a row), the output laid out the same way is a 1-D convolution: output `p`
//! (row `p / row`, column `p % row`) is `Σ_c Σ_tap w[tap] · plane_c[p + offset(tap)]`,
//! `offset(ky, kx) = ky·row + kx`. The last two columns of each output row read past
//! the image's edge and are dropped. With stride 2 each channel is split into its four
//! phases (even or odd row and column, as [`Planes`] says), and a tap reads one of them
//! the same way. So a block of the output, 8 channels × 48 consecutive positions, is 24
//! vectors of sums in registers: per input channel and tap, three unaligned loads of the
//! plane, 8 broadcast weights, 24 fused multiply-adds. With AVX2 (16 registers of 8
//! floats) the same block runs as four of 4 channels × 24 positions, 12 vectors of sums
//! each, in the same order of additions: the same floats, bit for bit.
//!
//! Where it runs instead of the other two, measured with `cargo bench -p kiln-cpu
//! --bench kernels` at batch 128 (ms for the forward pass, the input gradient and the
//! weight gradient, before → after, three runs each):
//!
//! - a first layer's 3 input channels (the CIFAR CNN's, 3 → 32 at 32 × 32), where
//!   im2col's products have an inner dimension of 27: 1.47 → 0.79–0.98 forward and
//!   1.64 → 0.99–1.05 for the weight gradient;
//! - 16 → 16 channels (ResNet-14's 32 × 32 layers), where Winograd's transforms cost as
//!   much as its products: 2.39 · 2.26 · 2.03 → 1.67–1.70 · 1.73–1.76 · 1.87–2.01;
//! - stride 2 (ResNet-14's 16 → 32 and 32 → 64 layers, im2col's before): forward 1.79 →
//!   1.11–1.18 and 1.59 → 1.23–1.40, weight gradient 2.70 → 1.31–1.36 and 2.58 →
//!   2.37–2.68 (one image per group; see [`POSITIONS`] for more), input gradient (four
//!   alternated runs against im2col's) 1.72–1.78 → 1.32–1.37 and 1.31–1.43 → 1.20–1.44.
//!
//! With more channels Winograd's method stays ahead (the CIFAR CNN's 32 → 32 layer:
//! 6.3–6.6 ms forward directly, 5.3 by Winograd's), and so does it on 8 × 8 maps, whose
//! weight gradient took 4.0–5.0 ms here, one image per group, against Winograd's
//! 1.6–2.0 (ResNet-14's 64 → 64 layer).
//!
//! The input gradient is this forward pass over the output gradient, padded by
//! `2 − padding`, with each kernel turned 180° and the channels swapped (with stride 2, a
//! stride-1 pass per phase of the input instead, see [`input_grad`]). The weight gradient
//! is the same sum the other way round: tap `(ky, kx)` of kernel `(o, c)` is
//! `Σ_p dy_o[p] · plane_c[p + offset]` over the flattened output gradient (zero in the
//! dropped columns), 16 lanes of partial sums per tap, kept across a thread's images
//! and added up at the end.

use core::mem::MaybeUninit;

use super::{Geometry, Images, deinterleave, interleave};
use crate::memory::written;
use crate::simd::widest;

/// Output channels of a block: one broadcast weight each per tap and input channel.
const CHANNELS: usize = 8;

/// Floats of a vector.
const LANES: usize = 16;

/// Vectors of consecutive output positions in a block.
const VECTORS: usize = 3;

/// Output positions of a block.
const SPAN: usize = LANES * VECTORS;

/// A kernel's rows and columns.
const SIDE: usize = 3;

/// Taps of a kernel.
const TAPS: usize = SIDE * SIDE;

/// Output positions a group of images brings to the weight gradient, at least: its
/// partial sums are loaded and stored once per group, so that an 8 × 8 output (96
/// positions) is not 6 vectors of work between them. Measured against one image per
/// group (`cargo bench -p kiln-cpu --bench kernels`, batch 128, three alternated runs):
/// ResNet-14's stride-2 32 → 64 layer (8 × 8 out, four images a group) 2.21–2.30 ms
/// against 3.28–3.50, its 16 → 32 one (16 × 16, two) 1.45–1.80 against 1.76–2.03;
/// 800 and 1,600 did less.
const POSITIONS: usize = 384;

/// Whether this convolution's forward pass and weight gradient run here, and on which
/// instructions: 3×3, no dilation, a padding of at most 2, on a CPU with AVX-512 or AVX2
/// ([`isa`]); stride 1 with the channels of [`channels_fit`], or stride 2 with 8 output
/// channels or more (im2col would run it otherwise, its products' inner dimension a 16th
/// of the output's).
pub(crate) fn applies(g: &Geometry) -> Option<Isa> {
    isa().filter(|isa| fits(g, g.c_in, g.c_out) && isa.wins(g.c_in, g.stride, false))
}

/// Whether this convolution's input gradient runs here: as [`applies`] with the channels
/// swapped (the gradient runs from `c_out` channels to `c_in`).
pub(crate) fn applies_to_input_grad(g: &Geometry) -> Option<Isa> {
    isa().filter(|isa| fits(g, g.c_out, g.c_in) && isa.wins(g.c_out, g.stride, true))
}

/// Whether a pass from `c_in` channels to `c_out` fits the kernels, whatever the CPU.
fn fits(g: &Geometry, c_in: usize, c_out: usize) -> bool {
    shape_fits(g)
        && match g.stride {
            [1, 1] => channels_fit(c_in, c_out),
            [2, 2] => c_out >= CHANNELS,
            _ => false,
        }
}

fn shape_fits(g: &Geometry) -> bool {
    g.kernel == [SIDE, SIDE] && g.dilation == [1, 1] && g.padding.iter().all(|&p| p <= 2)
}

/// A block's 8 output channels all used (fewer are computed all the same: an input
/// gradient's 3 channels, a first layer's, ran at half im2col's rate), and few input
/// channels: fewer than 16 (im2col's product would have an inner dimension of 9 × that)
/// or at most 16 × 16 in all (Winograd's transforms would cost as much as its products).
fn channels_fit(c_in: usize, c_out: usize) -> bool {
    c_out >= CHANNELS && (c_in < 16 || c_in * c_out <= 16 * 16)
}

/// The vector instructions the kernels run on, as the CPU has them: only [`isa`] (and
/// [`Isa::detected`]) makes one, after checking, so that holding one is the proof the
/// kernels' `unsafe` blocks rely on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Isa(Vectors);

/// AVX-512's vectors of 16 floats, or AVX2's of 8 (with FMA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Vectors {
    Avx512,
    Avx2,
}

impl Isa {
    /// `vectors`, where the CPU has them.
    fn detected(vectors: Vectors) -> Option<Isa> {
        let has = match vectors {
            Vectors::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            Vectors::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
        };
        has.then_some(Isa(vectors))
    }

    /// Whether the kernels beat im2col and Winograd's method on a pass from `c_in`
    /// channels with `stride` (an input gradient's when `input_grad`): AVX-512's wherever
    /// they fit; AVX2's, half as wide against `gemm`'s AVX2 kernels, with stride 1 on
    /// fewer than 16 input channels (a first layer's) and with stride 2 on fewer than 32,
    /// forward and for the weight gradient only. Measured with `gemm` held to AVX2
    /// (`cargo bench -p kiln-cpu --bench kernels`, three alternated runs, ms, these
    /// kernels against the others): the CIFAR CNN's 3 → 32 layer 1.28–1.45 against
    /// 1.45–2.50 forward, 1.23–1.43 against 1.90–2.15 for the weight gradient; ResNet-14's
    /// stride-2 16 → 32 layer 1.60–1.64 against 2.04–2.07 forward, 1.70–1.72 against
    /// 2.73–2.84 for the weight gradient, but its input gradient 2.55–2.57 against
    /// 2.38–2.41; its 32 → 64 one 2.01–2.04 against 1.95 forward, 2.90–2.97 against
    /// 1.99–2.43 for the input gradient; its 16 → 16 layer 2.83–2.86 against Winograd's
    /// 2.56–2.68 forward. (A stride-1 input gradient to few channels is the forward pass
    /// of a layer with few input channels, unmeasured on its own.)
    fn wins(self, c_in: usize, stride: [usize; 2], input_grad: bool) -> bool {
        match self.0 {
            Vectors::Avx512 => true,
            Vectors::Avx2 if stride == [2, 2] => !input_grad && c_in < 32,
            Vectors::Avx2 => c_in < 16,
        }
    }
}

/// The widest the CPU has, checked once; or, for measuring one against another, what
/// `KILN_CPU_DIRECT` says: `avx2` (where the CPU has it), or `off` (none, so that im2col
/// and Winograd's method run these layers). Another value is ignored, with a warning.
fn isa() -> Option<Isa> {
    static ISA: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let widest = || Isa::detected(Vectors::Avx512).or_else(|| Isa::detected(Vectors::Avx2));
        match std::env::var("KILN_CPU_DIRECT") {
            Ok(v) if v == "off" => None,
            Ok(v) if v == "avx2" => Isa::detected(Vectors::Avx2),
            Ok(v) => {
                eprintln!("kiln-cpu: KILN_CPU_DIRECT={v:?} is neither `avx2` nor `off`; ignored");
                widest()
            }
            Err(_) => widest(),
        }
    })
}

/// How an image's channels lie in the scratch: each padded, split into its `stride²`
/// phases (even or odd row and column, with stride 2; phase `(a, b)` holds the padded
/// image's `[stride·y + a][stride·x + b]`), and flattened (rows of `row` floats end to
/// end), `phase` floats a phase; the output's channels `out` floats apart, in rows of
/// `row` too. Output position `p` of tap `(ky, kx)` reads phase `(ky % s, kx % s)` at
/// `p + (ky / s)·row + kx / s`: a 1-D convolution per phase.
#[derive(Clone, Copy)]
struct Planes {
    stride: usize,
    row: usize,
    out: usize,
    phase: usize,
}

impl Planes {
    fn new(g: &Geometry) -> Self {
        let stride = g.stride[0];
        let row = (g.width + 2 * g.padding[1]).div_ceil(stride);
        let out = (g.out[0] * row).div_ceil(SPAN) * SPAN;
        // A block's farthest read: its last position plus the last tap's offset in its
        // phase. That also holds the phase's rows, at most one more than the output's.
        let reach = (SIDE - 1) / stride;
        Planes {
            stride,
            row,
            out,
            phase: out + reach * (row + 1),
        }
    }

    /// Floats of a channel: its phases.
    fn plane(&self) -> usize {
        self.stride * self.stride * self.phase
    }

    /// Where tap `t` (row-major) reads in its channel, from the output position.
    fn offsets(&self) -> [usize; TAPS] {
        let s = self.stride;
        let mut offsets = [0; TAPS];
        for (t, offset) in offsets.iter_mut().enumerate() {
            let (ky, kx) = (t / SIDE, t % SIDE);
            *offset = ((ky % s) * s + kx % s) * self.phase + (ky / s) * self.row + kx / s;
        }
        offsets
    }

    /// Writes one image `[c_in, h, w]` into `planes`, padded with zeros and split.
    #[inline(always)]
    fn pad(&self, g: &Geometry, image: &[f32], planes: &mut [f32]) {
        planes.fill(0.0);
        let [top, left] = g.padding;
        let (s, row) = (self.stride, self.row);
        for (channel, plane) in image
            .chunks_exact(g.height * g.width)
            .zip(planes.chunks_exact_mut(self.plane()))
        {
            for (y, line) in channel.chunks_exact(g.width).enumerate() {
                let (a, y) = ((y + top) % s, (y + top) / s);
                let at = a * s * self.phase + y * row;
                if s == 1 {
                    plane[at + left..][..g.width].copy_from_slice(line);
                } else {
                    let (even, odd) = plane[at..].split_at_mut(self.phase);
                    deinterleave(line, left, &mut even[..row], &mut odd[..row]);
                }
            }
        }
    }

    /// Writes one image's output `[c_out, oh, ow]` from its flattened channels, plus
    /// `bias`.
    #[inline(always)]
    fn crop(&self, g: &Geometry, flat: &[f32], bias: Option<&[f32]>, y: &mut [MaybeUninit<f32>]) {
        let [oh, ow] = g.out;
        for (o, channel) in y.chunks_exact_mut(oh * ow).enumerate() {
            let bias = bias.map_or(0.0, |b| b[o]);
            let rows = flat[o * self.out..].chunks(self.row);
            for (line, values) in channel.chunks_exact_mut(ow).zip(rows) {
                for (slot, &v) in line.iter_mut().zip(values) {
                    slot.write(v + bias);
                }
            }
        }
    }

    /// Writes one image's output gradient `[c_out, oh, ow]` into `flat` flattened as the
    /// output is (`out` floats a channel, rows of `row`), zero in the dropped columns and
    /// past the last row; the channels up to the next multiple of 8 all zero.
    #[inline(always)]
    fn spread(&self, g: &Geometry, dy: &[f32], flat: &mut [f32]) {
        flat.fill(0.0);
        let [oh, ow] = g.out;
        for (channel, out) in dy
            .chunks_exact(oh * ow)
            .zip(flat.chunks_exact_mut(self.out))
        {
            for (line, row) in channel.chunks_exact(ow).zip(out.chunks_exact_mut(self.row)) {
                row[..ow].copy_from_slice(line);
            }
        }
    }
}

/// Kernels laid out for the blocks: `[outputs / 8][inputs][taps][8]`, `value(o, c, t)`
/// for output channel o, input channel c and tap t, the last block's missing channels
/// zero.
fn pack(
    outputs: usize,
    inputs: usize,
    taps: usize,
    value: impl Fn(usize, usize, usize) -> f32,
) -> Vec<f32> {
    let blocks = outputs.div_ceil(CHANNELS);
    let mut packed = vec![0.0; blocks * inputs * taps * CHANNELS];
    for o in 0..outputs {
        for c in 0..inputs {
            for t in 0..taps {
                let block = o / CHANNELS;
                packed[((block * inputs + c) * taps + t) * CHANNELS + o % CHANNELS] =
                    value(o, c, t);
            }
        }
    }
    packed
}

/// The forward pass: `[N, c_out, oh, ow]`.
///
/// # Panics
/// Where [`applies`] does not hold.
pub(crate) fn forward(
    isa: Isa,
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert!(fits(g, g.c_in, g.c_out), "a direct convolution of {g:?}");
    let packed = pack(g.c_out, g.c_in, TAPS, |o, c, t| {
        weight[(o * g.c_in + c) * TAPS + t]
    });
    packed_forward(isa, g, x, &packed, bias)
}

/// The input gradient. With stride 1, the forward pass of `dy` through the kernels
/// turned 180° with their channels swapped, padded so that its output has the input's
/// size. With stride 2, each phase `(a, b)` of the padded input's gradient on its own
/// (rows `2Y + a`, columns `2X + b`): the taps `(ky, kx)` with `ky ≡ a` and `kx ≡ b`
/// (mod 2) reach it, from the output gradient's `[Y − (ky − a)/2][X − (kx − b)/2]`, so
/// that it is a stride-1 convolution of the output gradient, padded by one, with 4, 2, 2
/// or 1 taps.
///
/// # Panics
/// Where [`applies_to_input_grad`] does not hold.
pub(crate) fn input_grad(isa: Isa, g: &Geometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(fits(g, g.c_out, g.c_in), "a direct input gradient of {g:?}");
    if g.stride == [2, 2] {
        return strided_input_grad(isa, g, weight, dy);
    }
    let back = g.mirrored();
    let packed = pack(back.c_out, back.c_in, TAPS, |i, o, t| {
        weight[(o * g.c_in + i) * TAPS + TAPS - 1 - t]
    });
    packed_forward(isa, &back, dy, &packed, None)
}

/// [`input_grad`] with stride 2.
fn strided_input_grad(isa: Isa, g: &Geometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let [top, left] = g.padding;
    // The output gradient padded by one row and column all round, flattened for outputs
    // of as many rows and columns as the larger phase has.
    let grads = Geometry {
        c_in: g.c_out,
        c_out: g.c_in,
        height: g.out[0],
        width: g.out[1],
        padding: [1, 1],
        stride: [1, 1],
        out: [
            (g.height + 2 * top).div_ceil(2),
            (g.width + 2 * left).div_ceil(2),
        ],
        ..*g
    };
    let planes = Planes::new(&grads);
    let row = planes.row;
    let (p00, p01) = (
        phase::<4>(g, weight, row, 0, 0),
        phase::<2>(g, weight, row, 0, 1),
    );
    let (p10, p11) = (
        phase::<2>(g, weight, row, 1, 0),
        phase::<1>(g, weight, row, 1, 1),
    );
    let blocks = g.c_in.div_ceil(CHANNELS);
    let inputs = g.c_out * planes.plane();
    let outputs = blocks * CHANNELS * planes.out;
    let fill = |dx: &mut [MaybeUninit<f32>]| {
        Images::of(g).map(
            dy,
            g.output_len(),
            dx,
            g.image_len(),
            |_| inputs + 4 * outputs,
            |grad, image, scratch, _| {
                let (padded, flat) = scratch.split_at_mut(inputs);
                widest(
                    #[inline(always)]
                    || planes.pad(&grads, grad, padded),
                );
                let (f00, rest) = flat.split_at_mut(outputs);
                let (f01, rest) = rest.split_at_mut(outputs);
                let (f10, f11) = rest.split_at_mut(outputs);
                all_blocks(isa, padded, planes, &p00.0, &p00.1, f00);
                all_blocks(isa, padded, planes, &p01.0, &p01.1, f01);
                all_blocks(isa, padded, planes, &p10.0, &p10.1, f10);
                all_blocks(isa, padded, planes, &p11.0, &p11.1, f11);
                widest(
                    #[inline(always)]
                    || interleave_phases(g, planes, flat, image),
                );
            },
        )
    };
    // SAFETY: `map` hands every image's gradient to one call, and the loop above writes
    // every float of it (every channel, row and column).
    unsafe { written(g.batch * g.image_len(), fill) }
}

/// Phase (a, b)'s kernel for [`strided_input_grad`], of `T` taps (4, 2, 2 and 1 for the
/// phases (0, 0), (0, 1), (1, 0) and (1, 1)): its taps' offsets in the output gradient's
/// padded planes (rows of `row`), and its kernels packed (`pack`), from `c_out` channels
/// to `c_in`. Tap (m, n) reads the padded gradient m rows and n columns on, with the
/// kernel's tap (a + 2(1 − m), b + 2(1 − n)): m is 0 or 1 for a = 0, 1 for a = 1.
fn phase<const T: usize>(
    g: &Geometry,
    weight: &[f32],
    row: usize,
    a: usize,
    b: usize,
) -> ([usize; T], Vec<f32>) {
    let (mut offsets, mut kernel_taps) = ([0; T], [0; T]);
    let steps = (a..2).flat_map(|m| (b..2).map(move |n| (m, n)));
    for (t, (m, n)) in steps.enumerate() {
        offsets[t] = m * row + n;
        kernel_taps[t] = (a + 2 - 2 * m) * SIDE + b + 2 - 2 * n;
    }
    let packed = pack(g.c_in, g.c_out, T, |i, o, t| {
        weight[(o * g.c_in + i) * TAPS + kernel_taps[t]]
    });
    (offsets, packed)
}

/// Writes one image's input gradient `[c_in, h, w]` from its four phases, flattened in
/// `flat` one after the other (as [`strided_input_grad`] computes them): input pixel
/// (y, x) is phase ((y + top) % 2, (x + left) % 2)'s ((y + top) / 2, (x + left) / 2), so a
/// row interleaves two phases' rows.
#[inline(always)]
fn interleave_phases(g: &Geometry, planes: Planes, flat: &[f32], image: &mut [MaybeUninit<f32>]) {
    let [top, left] = g.padding;
    let (h, w, row) = (g.height, g.width, planes.row);
    let outputs = flat.len() / 4;
    for (i, channel) in image.chunks_exact_mut(h * w).enumerate() {
        for (y, line) in channel.chunks_exact_mut(w).enumerate() {
            let (a, yy) = ((y + top) % 2, (y + top) / 2);
            let at = i * planes.out + yy * row;
            let phase_row = |b: usize| &flat[(2 * a + b) * outputs + at..][..row];
            let (even, odd) = match left % 2 {
                0 => (&phase_row(0)[left / 2..], &phase_row(1)[left / 2..]),
                _ => (phase_row(1), &phase_row(0)[1..]),
            };
            interleave(even, odd, line, MaybeUninit::new);
        }
    }
}

/// The weight gradient `[c_out, c_in, 3, 3]` from the input `x` and the output's
/// gradient `dy`.
///
/// # Panics
/// Where [`applies`] does not hold.
pub(crate) fn weight_grad(isa: Isa, g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(fits(g, g.c_in, g.c_out), "a direct convolution of {g:?}");
    let planes = Planes::new(g);
    let offsets = planes.offsets();
    let blocks = g.c_out.div_ceil(CHANNELS);
    let inputs = g.c_in * planes.plane();
    let outputs = blocks * CHANNELS * planes.out;
    // Per block of 8 kernels, input channel and kernel row: 8 × 3 taps of 16 lanes.
    let per_row = CHANNELS * SIDE * LANES;
    let lanes = Images::grouped(g, POSITIONS.div_ceil(planes.out)).sum(
        blocks * g.c_in * SIDE * per_row,
        |images| images * (inputs + outputs),
        |images, sums, _, scratch, _| {
            let (padded, flat) = scratch.split_at_mut(images.len() * inputs);
            let planes_of = padded.chunks_exact_mut(inputs);
            for ((n, padded), flat) in images
                .clone()
                .zip(planes_of)
                .zip(flat.chunks_exact_mut(outputs))
            {
                let (x, dy) = (&x[n * g.image_len()..], &dy[n * g.output_len()..]);
                widest(
                    #[inline(always)]
                    || {
                        planes.pad(g, &x[..g.image_len()], padded);
                        planes.spread(g, &dy[..g.output_len()], flat);
                    },
                );
            }
            let group = Group {
                images: images.len(),
                inputs,
                outputs,
                out: planes.out,
            };
            for (i, sums) in sums.chunks_exact_mut(per_row).enumerate() {
                let (block, c, ky) = (i / (SIDE * g.c_in), i / SIDE % g.c_in, i % SIDE);
                let grads = &flat[block * CHANNELS * planes.out..];
                let plane = &padded[c * planes.plane()..];
                let taps = [0, 1, 2].map(|kx| offsets[SIDE * ky + kx]);
                let row = Row {
                    plane,
                    taps,
                    grads,
                    group,
                };
                row_sums(isa, &row, sums);
            }
        },
    );
    let mut weight = vec![0.0; g.c_out * g.c_in * TAPS];
    for (i, taps) in lanes.chunks_exact(LANES).enumerate() {
        let (row, o, kx) = (i / (SIDE * CHANNELS), i / SIDE % CHANNELS, i % SIDE);
        let (block, c, ky) = (row / (SIDE * g.c_in), row / SIDE % g.c_in, row % SIDE);
        let o = block * CHANNELS + o;
        if o < g.c_out {
            weight[(o * g.c_in + c) * TAPS + SIDE * ky + kx] = taps.iter().sum();
        }
    }
    weight
}

/// The forward pass with the kernels packed (`pack`), on `isa`.
fn packed_forward(
    isa: Isa,
    g: &Geometry,
    x: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let planes = Planes::new(g);
    let offsets = planes.offsets();
    let blocks = g.c_out.div_ceil(CHANNELS);
    let inputs = g.c_in * planes.plane();
    let fill = |y: &mut [MaybeUninit<f32>]| {
        Images::of(g).map(
            x,
            g.image_len(),
            y,
            g.output_len(),
            |_| inputs + blocks * CHANNELS * planes.out,
            |image, out, scratch, _| {
                let (padded, flat) = scratch.split_at_mut(inputs);
                widest(
                    #[inline(always)]
                    || planes.pad(g, image, padded),
                );
                all_blocks(isa, padded, planes, &offsets, packed, flat);
                widest(
                    #[inline(always)]
                    || planes.crop(g, flat, bias, out),
                );
            },
        )
    };
    // SAFETY: `map` hands every image's output to one call, and `crop` writes every
    // float of it (every channel, row and column).
    unsafe { written(g.batch * g.output_len(), fill) }
}

/// Every block of an image's output, `flat` (`[blocks · 8][planes.out]`), from its
/// padded channels `padded` through kernels of `T` taps read at `offsets`, packed
/// (`pack`), on `isa`.
fn all_blocks<const T: usize>(
    isa: Isa,
    padded: &[f32],
    planes: Planes,
    offsets: &[usize; T],
    packed: &[f32],
    flat: &mut [f32],
) {
    let c_in = padded.len() / planes.plane();
    let per_block = c_in * T * CHANNELS;
    for (block, flat) in flat.chunks_exact_mut(CHANNELS * planes.out).enumerate() {
        let weights = &packed[block * per_block..][..per_block];
        for start in (0..planes.out).step_by(SPAN) {
            block_sums(isa, padded, planes, offsets, start, weights, flat);
        }
    }
}

/// One block of the output: channels `0..8` of `flat` (rows `planes.out` floats apart),
/// positions `start .. start + 48`, from the padded channels in `padded` and the block's
/// packed kernels `[c_in][tap][8]`, on `isa`: with AVX-512 at once, 24 vectors of sums;
/// with AVX2 (16 registers of 8 floats) as four parts of 4 channels × 24 positions, 12
/// vectors of sums beside 3 of values and 1 of a weight. Every sum takes its products
/// in the same order, so both give the same floats, bit for bit.
fn block_sums<const T: usize>(
    isa: Isa,
    padded: &[f32],
    planes: Planes,
    offsets: &[usize; T],
    start: usize,
    weights: &[f32],
    flat: &mut [f32],
) {
    let c_in = weights.len() / (T * CHANNELS);
    let farthest = offsets.iter().max().copied().unwrap_or(0);
    assert!(
        c_in > 0
            && (c_in - 1) * planes.plane() + start + farthest + SPAN <= padded.len()
            && (CHANNELS - 1) * planes.out + start + SPAN <= flat.len(),
        "a block at {start} reads or writes outside its planes"
    );
    let block = Block {
        padded,
        planes,
        offsets,
        weights,
    };
    // SAFETY: `isa` says what the CPU has ([`isa`] found it); the reads and writes of
    // each part lie inside the block's, asserted above.
    match isa.0 {
        Vectors::Avx512 => unsafe { avx512_block(&block, start, flat) },
        Vectors::Avx2 => unsafe { avx2_block(&block, start, flat) },
    }
}

/// What a block of the output reads: the padded channels, the taps' offsets and the
/// block's packed kernels.
struct Block<'a, const T: usize> {
    padded: &'a [f32],
    planes: Planes,
    offsets: &'a [usize; T],
    weights: &'a [f32],
}

/// [`block_sums`] with AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F; the block must lie inside its planes.
#[target_feature(enable = "avx512f")]
unsafe fn avx512_block<const T: usize>(block: &Block<'_, T>, start: usize, flat: &mut [f32]) {
    use core::arch::x86_64::__m512;
    // SAFETY: the caller's.
    unsafe { part_sums::<__m512, CHANNELS, T>(block, 0, start, flat) }
}

/// [`block_sums`] with AVX2, in four parts.
///
/// # Safety
/// The CPU must have AVX2 and FMA; the block must lie inside its planes.
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_block<const T: usize>(block: &Block<'_, T>, start: usize, flat: &mut [f32]) {
    use core::arch::x86_64::__m256;
    for first in [0, CHANNELS / 2] {
        for part in [0, SPAN / 2] {
            // SAFETY: the caller's.
            unsafe { part_sums::<__m256, { CHANNELS / 2 }, T>(block, first, start + part, flat) }
        }
    }
}

/// Channels `first .. first + C` of a block's output in `flat`, positions `at .. at +
/// VECTORS · L::WIDTH`, each the sum over the input channels and taps of a packed
/// weight times the plane at the tap's offset.
///
/// # Safety
/// The CPU must have `L`'s instructions; the positions must lie inside the block's.
#[inline(always)]
unsafe fn part_sums<L: Lanes, const C: usize, const T: usize>(
    block: &Block<'_, T>,
    first: usize,
    at: usize,
    flat: &mut [f32],
) {
    let Block {
        padded,
        planes,
        offsets,
        weights,
    } = *block;
    let c_in = weights.len() / (T * CHANNELS);
    // SAFETY (every call below): the caller's: the CPU has `L`'s instructions, and
    // positions `at + offset .. at + offset + VECTORS · L::WIDTH` of each channel lie
    // inside `padded`, as channels `first .. first + C` of those positions inside `flat`.
    let mut sums = [[unsafe { L::zero() }; VECTORS]; C];
    for c in 0..c_in {
        let plane = &padded[c * planes.plane() + at..];
        let weights = &weights[c * T * CHANNELS + first..];
        for (t, &offset) in offsets.iter().enumerate() {
            let mut values = [unsafe { L::zero() }; VECTORS];
            for (j, v) in values.iter_mut().enumerate() {
                *v = unsafe { L::load(plane.as_ptr().add(offset + L::WIDTH * j)) };
            }
            for (o, sums) in sums.iter_mut().enumerate() {
                let w = unsafe { L::splat(weights[t * CHANNELS + o]) };
                for (sum, &v) in sums.iter_mut().zip(&values) {
                    *sum = unsafe { L::fma(v, w, *sum) };
                }
            }
        }
    }
    for (o, sums) in sums.iter().enumerate() {
        let row = &mut flat[(first + o) * planes.out + at..];
        for (j, &sum) in sums.iter().enumerate() {
            unsafe { sum.store(row.as_mut_ptr().add(L::WIDTH * j)) };
        }
    }
}

/// A vector of `WIDTH` floats and the instructions the kernels use on it.
///
/// # Safety
/// `WIDTH` must be the vector's floats: the kernels' bounds rest on it. Each method runs
/// its vector instructions (the CPU must have them); `load` and `store` read and write
/// `WIDTH` floats from `at`.
unsafe trait Lanes: Copy {
    const WIDTH: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(value: f32) -> Self;
    unsafe fn load(at: *const f32) -> Self;
    unsafe fn store(self, at: *mut f32);
    /// `a · b + c`, fused.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
}

/// The lanes of AVX-512 (`__m512`) and of AVX2 with FMA (`__m256`).
macro_rules! lanes {
    ($vector:ident, $width:expr, $zero:ident, $splat:ident, $load:ident, $store:ident, $fma:ident) => {
        // SAFETY: `$width` is the vector's floats.
        unsafe impl Lanes for core::arch::x86_64::$vector {
            const WIDTH: usize = $width;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: the caller's (the CPU has the instructions).
                unsafe { core::arch::x86_64::$zero() }
            }
            #[inline(always)]
            unsafe fn splat(value: f32) -> Self {
                // SAFETY: the caller's.
                unsafe { core::arch::x86_64::$splat(value) }
            }
            #[inline(always)]
            unsafe fn load(at: *const f32) -> Self {
                // SAFETY: the caller's (and `at` holds `WIDTH` floats).
                unsafe { core::arch::x86_64::$load(at) }
            }
            #[inline(always)]
            unsafe fn store(self, at: *mut f32) {
                // SAFETY: the caller's (and `at` holds `WIDTH` floats).
                unsafe { core::arch::x86_64::$store(at, self) }
            }
            #[inline(always)]
            unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
                // SAFETY: the caller's.
                unsafe { core::arch::x86_64::$fma(a, b, c) }
            }
        }
    };
}

lanes!(
    __m512,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps
);
lanes!(
    __m256,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps
);

/// Where a group of images lies in the weight gradient's scratch: each image's padded
/// planes `inputs` floats apart, and its flattened output gradient (`out` floats a
/// channel) `outputs` floats apart.
#[derive(Clone, Copy)]
struct Group {
    images: usize,
    inputs: usize,
    outputs: usize,
    out: usize,
}

/// Adds to `sums` (8 × 3 vectors of 16 lanes: output channel o, tap kx) the products of
/// 8 channels of a group's flattened output gradients (from `grads`) with one input
/// channel's padded planes (from `plane`), read at a kernel row's three taps' offsets
/// `taps`, over the group's images: lane l of sum (o, kx) gathers the positions
/// p ≡ l (mod 16). With AVX2, each 16-lane sum is two vectors of 8 (lanes 0–7 and
/// 8–15), 4 channels at a time (12 vectors of sums, 3 of values, 1 of gradients), the
/// images and positions walked once per half and 4 channels in the same order: the same
/// floats as AVX-512's, bit for bit.
fn row_sums(isa: Isa, row: &Row<'_>, sums: &mut [f32]) {
    let Group {
        images,
        inputs,
        outputs,
        out,
    } = row.group;
    let farthest = row.taps.iter().max().copied().unwrap_or(0);
    assert!(
        images > 0
            && out.is_multiple_of(LANES)
            && (images - 1) * inputs + out + farthest <= row.plane.len()
            && (images - 1) * outputs + CHANNELS * out <= row.grads.len()
            && CHANNELS * SIDE * LANES <= sums.len(),
        "a kernel row's sums read or write outside their planes"
    );
    // SAFETY: `isa` says what the CPU has ([`isa`] found it); the reads and writes lie
    // inside the planes and `sums`, asserted above.
    match isa.0 {
        Vectors::Avx512 => unsafe { avx512_row(row, sums) },
        Vectors::Avx2 => unsafe { avx2_row(row, sums) },
    }
}

/// What a kernel row's sums read: one input channel's padded planes, the row's three
/// taps' offsets in them, and the group's flattened output gradients.
struct Row<'a> {
    plane: &'a [f32],
    taps: [usize; SIDE],
    grads: &'a [f32],
    group: Group,
}

/// [`row_sums`] with AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F; the reads and writes must lie inside the planes.
#[target_feature(enable = "avx512f")]
unsafe fn avx512_row(row: &Row<'_>, sums: &mut [f32]) {
    use core::arch::x86_64::__m512;
    // SAFETY: the caller's.
    unsafe { row_part::<__m512, CHANNELS>(row, 0, 0, sums) }
}

/// [`row_sums`] with AVX2, in four parts.
///
/// # Safety
/// The CPU must have AVX2 and FMA; the reads and writes must lie inside the planes.
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_row(row: &Row<'_>, sums: &mut [f32]) {
    use core::arch::x86_64::__m256;
    for first in [0, CHANNELS / 2] {
        for lane in [0, LANES / 2] {
            // SAFETY: the caller's.
            unsafe { row_part::<__m256, { CHANNELS / 2 }>(row, first, lane, sums) }
        }
    }
}

/// Lanes `lane .. lane + L::WIDTH` of the sums of channels `first .. first + C`.
///
/// # Safety
/// The CPU must have `L`'s instructions; the reads and writes must lie inside the planes
/// and `sums`.
#[inline(always)]
unsafe fn row_part<L: Lanes, const C: usize>(
    row: &Row<'_>,
    first: usize,
    lane: usize,
    sums: &mut [f32],
) {
    let Group {
        images,
        inputs,
        outputs,
        out,
    } = row.group;
    let at = |o: usize, kx: usize| ((first + o) * SIDE + kx) * LANES + lane;
    // SAFETY (every call below): the caller's: the CPU has `L`'s instructions; `sums`
    // holds 8 × 3 × 16 floats; `start + L::WIDTH <= out`, so each read lies inside an
    // image's planes and gradients.
    let mut acc = [[unsafe { L::zero() }; SIDE]; C];
    for (o, acc) in acc.iter_mut().enumerate() {
        for (kx, acc) in acc.iter_mut().enumerate() {
            *acc = unsafe { L::load(sums.as_ptr().add(at(o, kx))) };
        }
    }
    for image in 0..images {
        let plane = &row.plane[image * inputs..];
        let grads = &row.grads[image * outputs..];
        for start in (lane..out).step_by(LANES) {
            let mut values = [unsafe { L::zero() }; SIDE];
            for (v, &tap) in values.iter_mut().zip(&row.taps) {
                *v = unsafe { L::load(plane.as_ptr().add(start + tap)) };
            }
            for (o, acc) in acc.iter_mut().enumerate() {
                let d = unsafe { L::load(grads.as_ptr().add((first + o) * out + start)) };
                for (acc, &v) in acc.iter_mut().zip(&values) {
                    *acc = unsafe { L::fma(d, v, *acc) };
                }
            }
        }
    }
    for (o, acc) in acc.iter().enumerate() {
        for (kx, &acc) in acc.iter().enumerate() {
            unsafe { acc.store(sums.as_mut_ptr().add(at(o, kx))) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A convolution of `[c_in, h, w]` images (a batch of 3) to `c_out` channels by 3×3
    /// kernels.
    fn geometry(
        c_in: usize,
        c_out: usize,
        [h, w]: [usize; 2],
        stride: usize,
        pad: usize,
    ) -> Geometry {
        Geometry {
            batch: 3,
            c_in,
            height: h,
            width: w,
            c_out,
            kernel: [SIDE, SIDE],
            stride: [stride; 2],
            padding: [pad; 2],
            dilation: [1, 1],
            out: [h, w].map(|n| (n + 2 * pad - SIDE) / stride + 1),
        }
    }

    /// Values that are not round, from a seed.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    /// The AVX2 kernels give AVX-512's floats, bit for bit, for the forward pass and both
    /// gradients, stride 1 and 2, over channel counts that fill a block or not and maps
    /// whose rows end anywhere in a block.
    #[test]
    fn avx2_gives_avx512s_floats() {
        // Where AVX-512 is missing, against_flex tests AVX2's kernels, which run then.
        let (Some(wide), Some(narrow)) =
            (Isa::detected(Vectors::Avx512), Isa::detected(Vectors::Avx2))
        else {
            eprintln!("no AVX-512 to compare AVX2's kernels with");
            return;
        };
        let cases = [
            geometry(3, 32, [32, 32], 1, 1),
            geometry(1, 8, [28, 28], 1, 0),
            geometry(16, 16, [11, 9], 1, 1),
            geometry(9, 8, [7, 13], 1, 2),
            geometry(3, 11, [5, 5], 1, 1),
            geometry(16, 32, [16, 16], 2, 1),
            geometry(3, 9, [9, 7], 2, 1),
            geometry(8, 16, [8, 8], 2, 0),
        ];
        for g in cases {
            assert!(fits(&g, g.c_in, g.c_out), "{g:?}");
            let x = values(g.batch * g.image_len(), 1);
            let w = values(g.c_out * g.c_in * TAPS, 2);
            let b = values(g.c_out, 3);
            let dy = values(g.batch * g.output_len(), 4);
            let both = |isa| {
                let grad = fits(&g, g.c_out, g.c_in).then(|| input_grad(isa, &g, &w, &dy));
                (
                    forward(isa, &g, &x, &w, Some(&b)),
                    grad,
                    weight_grad(isa, &g, &x, &dy),
                )
            };
            let (wide, narrow) = (both(wide), both(narrow));
            assert_eq!(wide.0, narrow.0, "forward of {g:?}");
            assert_eq!(wide.1, narrow.1, "input gradient of {g:?}");
            assert_eq!(wide.2, narrow.2, "weight gradient of {g:?}");
            assert!(wide.0.iter().any(|v| *v != 0.0) && wide.2.iter().any(|v| *v != 0.0));
        }
    }

    /// AVX2's kernels run where they beat `gemm`'s AVX2 kernels (BENCHMARKS.md): a first
    /// layer, and stride 2 from fewer than 32 channels forward and for the weight
    /// gradient; not 16 → 16, 32 → 64 or stride 2's input gradient. AVX-512's wherever
    /// they fit.
    #[test]
    fn avx2_runs_where_it_was_measured_to_win() {
        let cases = [
            (Vectors::Avx2, 3, 1, false, true),
            (Vectors::Avx2, 16, 1, false, false),
            (Vectors::Avx2, 16, 2, false, true),
            (Vectors::Avx2, 32, 2, false, false),
            (Vectors::Avx2, 16, 2, true, false),
            (Vectors::Avx512, 16, 1, false, true),
            (Vectors::Avx512, 32, 2, true, true),
        ];
        for (vectors, c_in, stride, input_grad, wins) in cases {
            let isa = Isa(vectors);
            assert_eq!(
                isa.wins(c_in, [stride; 2], input_grad),
                wins,
                "{isa:?} {c_in} {stride} {input_grad}"
            );
        }
    }
}
