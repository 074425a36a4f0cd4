//! 2-D max and average pooling and their backward passes on f32 NCHW slices, parallel
//! over the planes (one image's channel): each plane depends on its own plane only.

use core::mem::MaybeUninit;
use std::hint::select_unpredictable;
use std::ops::Range;

use rayon::prelude::*;

use crate::memory::{written, zeros};

/// A pooling's planes and sizes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Planes {
    /// Images × channels.
    pub count: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
}

/// An average pooling: window size, stride and padding along height and width, and
/// whether the padding counts in the mean.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AvgPool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub count_include_pad: bool,
}

impl AvgPool {
    pub fn new(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Self {
        AvgPool {
            kernel,
            stride,
            padding,
            count_include_pad,
        }
    }
}

/// A max pooling's window: size, stride, padding and dilation along height and width.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

impl Planes {
    fn input_len(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn output_len(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Max pooling: each window's largest value and its flat index within the plane.
    /// Positions in the padding never win; on a tie the first position in row-major
    /// window order wins (a NaN wins only where it comes first), as Flex decides.
    pub fn max_forward(&self, x: &[f32], window: Window) -> (Vec<f32>, Vec<i64>) {
        let [h, w] = self.input;
        let [oh, ow] = self.output;
        // Windows inside the input (no padding, no dilation, no partial last window):
        // the loops without the bounds tests, several times faster.
        let fits = |axis: usize, outputs: usize, size: usize| {
            outputs == 0 || (outputs - 1) * window.stride[axis] + window.kernel[axis] <= size
        };
        let inside = window.padding == [0, 0]
            && window.dilation == [1, 1]
            && fits(0, oh, h)
            && fits(1, ow, w);
        let len = self.count * self.output_len();
        let pool = |y: &mut [MaybeUninit<f32>], indices: &mut [MaybeUninit<i64>]| {
            y.par_chunks_exact_mut(self.output_len())
                .zip(indices.par_chunks_exact_mut(self.output_len()))
                .zip(x.par_chunks_exact(self.input_len()))
                .for_each(|((y, indices), plane)| {
                    let out = (y, indices, ow);
                    match (inside, window.kernel) {
                        (true, [2, 2]) => fill(out, |oy, ox| {
                            fixed_window::<2, 2>(plane, self, &window, oy, ox)
                        }),
                        (true, [3, 3]) => fill(out, |oy, ox| {
                            fixed_window::<3, 3>(plane, self, &window, oy, ox)
                        }),
                        _ => fill(out, |oy, ox| any_window(plane, self, &window, oy, ox)),
                    }
                });
        };
        let mut indices = Vec::new();
        // SAFETY: both buffers are `len` long, split into the same planes, and `fill`
        // writes every output of each plane and its index.
        let y = unsafe {
            written(len, |y| {
                indices = written(len, |indices| pool(y, indices));
            })
        };
        (y, indices)
    }

    /// Max pooling's input gradient: each output's gradient added at the input position
    /// its `indices` entry names (a flat index within the plane; negative: none).
    ///
    /// # Panics
    /// When an index lies outside its plane.
    pub fn max_backward(&self, dy: &[f32], indices: &[i64]) -> Vec<f32> {
        let mut dx = zeros(self.count * self.input_len());
        dx.par_chunks_exact_mut(self.input_len())
            .zip(dy.par_chunks_exact(self.output_len()))
            .zip(indices.par_chunks_exact(self.output_len()))
            .for_each(|((plane, grads), indices)| {
                for (g, &i) in grads.iter().zip(indices) {
                    if let Ok(i) = usize::try_from(i) {
                        plane[i] += g;
                    }
                }
            });
        dx
    }

    /// Average pooling: each window's mean over its positions inside the input, or over
    /// the whole window within the padded input with `count_include_pad` (Flex's rule).
    pub fn avg_forward(&self, x: &[f32], pool: AvgPool) -> Vec<f32> {
        let [oh, ow] = self.output;
        let width = self.input[1];
        let mut y = zeros(self.count * self.output_len());
        y.par_chunks_exact_mut(self.output_len())
            .zip(x.par_chunks_exact(self.input_len()))
            .for_each(|(out, plane)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (rows, cols, divisor) = self.avg_window(pool, oy, ox);
                        let sum: f32 = rows
                            .map(|iy| {
                                plane[iy * width + cols.start..iy * width + cols.end]
                                    .iter()
                                    .sum::<f32>()
                            })
                            .sum();
                        out[oy * ow + ox] = sum / divisor as f32;
                    }
                }
            });
        y
    }

    /// The gradient of [`Planes::avg_forward`]: each output's gradient shared evenly by
    /// the input positions its mean was taken over.
    pub fn avg_backward(&self, dy: &[f32], pool: AvgPool) -> Vec<f32> {
        let [oh, ow] = self.output;
        let width = self.input[1];
        let mut dx = zeros(self.count * self.input_len());
        dx.par_chunks_exact_mut(self.input_len())
            .zip(dy.par_chunks_exact(self.output_len()))
            .for_each(|(plane, grads)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (rows, cols, divisor) = self.avg_window(pool, oy, ox);
                        let share = grads[oy * ow + ox] / divisor as f32;
                        for iy in rows {
                            for v in &mut plane[iy * width + cols.start..iy * width + cols.end] {
                                *v += share;
                            }
                        }
                    }
                }
            });
        dx
    }

    /// Output `(oy, ox)`'s window: its rows and columns inside the input, and the count
    /// its mean divides by (never 0). Only the inside is visited, however wide the window.
    fn avg_window(
        &self,
        pool: AvgPool,
        oy: usize,
        ox: usize,
    ) -> (Range<usize>, Range<usize>, usize) {
        // Along one axis: the positions inside the padded input, and those inside the input.
        let span = |axis: usize, o: usize| {
            let (size, pad) = (self.input[axis] as isize, pool.padding[axis] as isize);
            let start = (o * pool.stride[axis]) as isize - pad;
            let end = start + pool.kernel[axis] as isize;
            let padded = end.min(size + pad) - start.max(-pad);
            let (lo, hi) = (start.max(0), end.min(size));
            (padded.max(0) as usize, lo as usize..hi.max(lo) as usize)
        };
        let ((padded_rows, rows), (padded_cols, cols)) = (span(0, oy), span(1, ox));
        let divisor = if pool.count_include_pad {
            padded_rows * padded_cols
        } else {
            rows.len() * cols.len()
        };
        (rows, cols, divisor.max(1))
    }
}

/// Writes each output's largest value and index, `window_max(oy, ox)`, into one
/// plane's `(values, indices, output width)` (generic, so each window rule is inlined).
fn fill(
    (y, indices, ow): (&mut [MaybeUninit<f32>], &mut [MaybeUninit<i64>], usize),
    window_max: impl Fn(usize, usize) -> (f32, i64),
) {
    for (o, (y, at)) in y.iter_mut().zip(indices.iter_mut()).enumerate() {
        let (value, index) = window_max(o / ow, o % ow);
        y.write(value);
        at.write(index);
    }
}

/// The window of output `(oy, ox)` when it lies inside the input, `KH × KW`, its
/// loops unrolled: the common pools run at memory speed. (Plain loops: as a `flat_map`
/// of the taps, the compiler left the inner closure a call per tap, 3% of the CIFAR
/// CNN's step.)
fn fixed_window<const KH: usize, const KW: usize>(
    plane: &[f32],
    planes: &Planes,
    window: &Window,
    oy: usize,
    ox: usize,
) -> (f32, i64) {
    let w = planes.input[1];
    let corner = oy * window.stride[0] * w + ox * window.stride[1];
    let mut best = Best::new();
    for ky in 0..KH {
        for kx in 0..KW {
            best.consider(plane, corner + ky * w + kx);
        }
    }
    best.into()
}

/// Any window: only the taps inside the input are visited (a window far wider than the
/// input, with `same` padding, costs what the input holds, not what the window spans).
fn any_window(plane: &[f32], planes: &Planes, window: &Window, oy: usize, ox: usize) -> (f32, i64) {
    let [h, w] = planes.input;
    // The input positions `o·stride + k·dilation − padding` of the taps k inside `0..size`.
    let inside = |axis: usize, o: usize, size: usize| {
        let (origin, dilation, padding) = (
            o * window.stride[axis],
            window.dilation[axis],
            window.padding[axis],
        );
        let first = padding.saturating_sub(origin).div_ceil(dilation);
        let end = (size + padding)
            .saturating_sub(origin)
            .div_ceil(dilation)
            .min(window.kernel[axis]);
        (first..end.max(first)).map(move |k| origin + k * dilation - padding)
    };
    let taps = inside(0, oy, h).flat_map(|iy| inside(1, ox, w).map(move |ix| iy * w + ix));
    argmax(plane, taps)
}

/// The largest of `plane`'s values at `taps` and its index: the first on a tie, a NaN
/// only when first; `(-∞, -1)` for no taps.
#[inline(always)]
fn argmax(plane: &[f32], taps: impl Iterator<Item = usize>) -> (f32, i64) {
    let mut best = Best::new();
    for i in taps {
        best.consider(plane, i);
    }
    best.into()
}

/// The largest value seen so far and its index (`(-∞, -1)` before the first).
struct Best {
    value: f32,
    at: i64,
}

impl Best {
    fn new() -> Self {
        Best {
            value: f32::NEG_INFINITY,
            at: -1,
        }
    }

    /// Takes `plane[i]` if it is larger, or the first.
    #[inline(always)]
    fn consider(&mut self, plane: &[f32], i: usize) {
        let v = plane[i];
        // Which tap wins is data, not a pattern: a branch would be mispredicted half
        // the time (measured: 9× slower on random inputs).
        let take = (v > self.value) | (self.at < 0);
        self.value = select_unpredictable(take, v, self.value);
        self.at = select_unpredictable(take, i as i64, self.at);
    }
}

impl From<Best> for (f32, i64) {
    fn from(best: Best) -> Self {
        (best.value, best.at)
    }
}
