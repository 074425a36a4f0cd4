//! 2-D convolution on f32 NCHW slices: forward, input gradient, weight gradient and bias
//! gradient, each per image as im2col and one GEMM, parallel over the batch.
//!
//! For one image the convolution is a matrix product. With `cols` the image unfolded to
//! `[K, P]` (K = c_in·kh·kw rows, one per weight position; P = oh·ow columns, one per
//! output pixel) and the weight seen as `W[c_out, K]`:
//!
//! - forward: `Y[c_out, P] = W · cols` (+ bias), written straight into the NCHW output;
//! - input gradient: `cols_grad[K, P] = Wᵀ · dY`, folded back onto the image (col2im);
//! - weight gradient: `dW[c_out, K] = Σ_images dY · colsᵀ`, summed per thread, then
//!   across threads;
//! - bias gradient: the sum of dY over images and pixels.
//!
//! A 1×1 convolution with stride 1 and no padding needs no unfolding: `cols` is the image.
//! 3×3 stride-1 convolutions with enough channels go to Winograd's method instead
//! (`winograd`, a module of this one), and those with few channels, on a CPU with
//! AVX-512 or AVX2, to a direct convolution (`direct`).

#[cfg(target_arch = "x86_64")]
mod direct;
mod winograd;

use core::cell::RefCell;
use core::ops::Range;

use rayon::prelude::*;

use crate::gemm::{Matrix, MatrixMut, Threads, gemm};
use crate::memory::zeros;
use crate::simd::{batch_sums, in_order, lanes, widest};

/// A 2-D convolution's sizes (one group, NCHW).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub c_in: usize,
    pub height: usize,
    pub width: usize,
    pub c_out: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub out: [usize; 2],
}

impl Geometry {
    /// The input gradient of a 3×3 stride-1 convolution (padding at most 2) as a forward
    /// one: over the output gradient, padded by `2 − padding`, back to the input's size,
    /// from `c_out` channels to `c_in` (with each kernel turned 180°).
    fn mirrored(&self) -> Geometry {
        Geometry {
            c_in: self.c_out,
            c_out: self.c_in,
            height: self.out[0],
            width: self.out[1],
            padding: [2 - self.padding[0], 2 - self.padding[1]],
            out: [self.height, self.width],
            ..*self
        }
    }

    /// Rows of the unfolded image: one per weight position.
    fn k(&self) -> usize {
        self.c_in * self.kernel[0] * self.kernel[1]
    }

    /// Columns of the unfolded image: one per output pixel.
    fn p(&self) -> usize {
        self.out[0] * self.out[1]
    }

    pub fn image_len(&self) -> usize {
        self.c_in * self.height * self.width
    }

    pub fn output_len(&self) -> usize {
        self.c_out * self.p()
    }

    /// The unfolded image is the image itself.
    fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// Floats from one row of the unfolded image to the next, as `im2col` writes it: `P`,
    /// plus 16 where `P` is a multiple of 128. Rows a multiple of 512 bytes apart fall
    /// into a few of the L1 cache's 64 sets, so reading a column of them, as the weight
    /// gradient's product packs `colsᵀ`, evicts its own lines: with 32×32 outputs (rows
    /// 4 KiB apart) that packing took two thirds of the CIFAR CNN's first layer's weight
    /// gradient. (`col2im` reads rows `P` apart, as the input gradient's product writes
    /// them: padded, that product ran slower.)
    fn lead(&self) -> usize {
        let p = self.p();
        if self.pointwise() || !p.is_multiple_of(128) {
            p
        } else {
            p + 16
        }
    }

    /// A row of the image split into its column phases ([`split_columns`]): its length,
    /// `stride` phases of `phase` floats, and `phase`. A line of a strided convolution
    /// reads every stride-th column of a row, which is one phase, contiguous (measured on
    /// ResNet-14's two stride-2 3×3 layers, batch 32: 4.6 ms for both, forward and
    /// gradients, against 4.0 ms now). With stride 1 the one phase is the row itself.
    /// Phases from the row's width on hold no column and are left out, so a stride wider
    /// than the row costs the row's length, not the stride's.
    fn phased_row(&self) -> (usize, usize) {
        let s = self.stride[1];
        let phase = self.width.div_ceil(s);
        (s.min(self.width) * phase, phase)
    }

    /// Scratch floats for the image's column phases (none with stride 1).
    fn phases_len(&self) -> usize {
        if self.stride[1] == 1 {
            0
        } else {
            self.c_in * self.height * self.phased_row().0
        }
    }

    /// Calls `f(at, source)` for every line of the unfolded image: row `(c, ky, kx)`
    /// and output row `oy`, starting at `at` in `cols` (rows `lead` apart). `source` is
    /// where the line reads the image's column phases (`phased_row`), or `None` where the
    /// whole line lies in the padding (its input row, or every column: a kernel wider
    /// than the input reaches past it on both sides).
    #[inline(always)]
    fn for_each_line(&self, lead: usize, mut f: impl FnMut(usize, Option<Source>)) {
        let [kh, kw] = self.kernel;
        let [oh, ow] = self.out;
        let (row_len, phase) = self.phased_row();
        let sw = self.stride[1] as isize;
        for c in 0..self.c_in {
            for ky in 0..kh {
                let iy0 = (ky * self.dilation[0]) as isize - self.padding[0] as isize;
                for kx in 0..kw {
                    let row = (c * kh + ky) * kw + kx;
                    let ix0 = (kx * self.dilation[1]) as isize - self.padding[1] as isize;
                    let (lo, hi) = inside(ix0, self.stride[1], self.width, ow);
                    // Output column ox reads input column ox·s + ix0: phase ix0 mod s, at
                    // ox + ix0 div s (not below 0 for ox ≥ lo).
                    let first = ix0.rem_euclid(sw) as usize * phase;
                    let shift = ix0.div_euclid(sw);
                    for oy in 0..oh {
                        let iy = (oy * self.stride[0]) as isize + iy0;
                        let inside = (0..self.height as isize).contains(&iy) && lo < hi;
                        let source = inside.then(|| Source {
                            start: ((c * self.height + iy as usize) * row_len + first) as isize
                                + shift,
                            lo,
                            hi,
                        });
                        f(row * lead + oy * ow, source);
                    }
                }
            }
        }
    }

    /// Unfolds one image `[c_in, h, w]` into `cols` `[K, P]` (rows `lead()` apart), its
    /// column phases in `phases` (`phases_len()` floats).
    fn im2col(&self, image: &[f32], cols: &mut [f32], phases: &mut [f32]) {
        let ow = self.out[1];
        widest(
            #[inline(always)]
            || {
                let source = self.phases_of(image, phases);
                self.for_each_line(self.lead(), |at, line_source| {
                    let line = &mut cols[at..][..ow];
                    let Some(Source { start, lo, hi }) = line_source else {
                        line.fill(0.0);
                        return;
                    };
                    line[..lo].fill(0.0);
                    line[hi..].fill(0.0);
                    let from = (start + lo as isize) as usize;
                    line[lo..hi].copy_from_slice(&source[from..from + hi - lo]);
                });
            },
        )
    }

    /// The image's column phases: the image itself with stride 1, else written into
    /// `phases`.
    #[inline(always)]
    fn phases_of<'a>(&self, image: &'a [f32], phases: &'a mut [f32]) -> &'a [f32] {
        let s = self.stride[1];
        if s == 1 {
            return image;
        }
        let (row_len, phase) = self.phased_row();
        for (row, out) in image
            .chunks_exact(self.width)
            .zip(phases.chunks_exact_mut(row_len))
        {
            split_columns(row, s, phase, out);
        }
        phases
    }

    /// Adds `cols` `[K, P]` back onto one image's gradient `[c_in, h, w]` (zeroed first),
    /// through its column phases in `phases` (`phases_len()` floats) when strided.
    fn col2im(&self, cols: &[f32], image: &mut [f32], phases: &mut [f32]) {
        let (ow, s) = (self.out[1], self.stride[1]);
        widest(
            #[inline(always)]
            || {
                let target = if s == 1 { &mut *image } else { &mut *phases };
                target.fill(0.0);
                self.for_each_line(self.p(), |at, line_source| {
                    let Some(Source { start, lo, hi }) = line_source else {
                        return;
                    };
                    let line = &cols[at..][..ow];
                    let from = (start + lo as isize) as usize;
                    for (d, v) in target[from..from + hi - lo].iter_mut().zip(&line[lo..hi]) {
                        *d += v;
                    }
                });
                if s > 1 {
                    let (row_len, phase) = self.phased_row();
                    for (row, split) in image
                        .chunks_exact_mut(self.width)
                        .zip(phases.chunks_exact(row_len))
                    {
                        merge_columns(split, s, phase, row);
                    }
                }
            },
        )
    }

    /// Scratch floats for one image's unfolding (none for a pointwise convolution): the
    /// unfolded image, then the column phases ([`Self::cols_and_phases`]).
    fn cols_len(&self) -> usize {
        if self.pointwise() {
            0
        } else {
            self.k() * self.lead() + self.phases_len()
        }
    }

    /// `cols_len()` floats of scratch as the unfolded image and the column phases.
    fn cols_and_phases<'a>(&self, scratch: &'a mut [f32]) -> (&'a mut [f32], &'a mut [f32]) {
        scratch.split_at_mut(self.k() * self.lead())
    }

    /// `image` unfolded into `scratch` (the image itself for a pointwise convolution).
    fn unfold<'a>(&self, image: &'a [f32], scratch: &'a mut [f32]) -> Matrix<'a> {
        let unfolded = if self.pointwise() {
            image
        } else {
            let (cols, phases) = self.cols_and_phases(scratch);
            self.im2col(image, cols, phases);
            cols
        };
        Matrix::strided(unfolded, self.k(), self.p(), self.lead())
    }

    /// The convolution of `x` `[N, c_in, h, w]` with `weight` `[c_out, c_in, kh, kw]`,
    /// plus `bias` `[c_out]`: `[N, c_out, oh, ow]`.
    pub fn forward(&self, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(isa) = direct::applies(self) {
            return direct::forward(isa, self, x, weight, bias);
        }
        if winograd::applies(self) {
            return winograd::forward(self, x, weight, bias);
        }
        let (k, p) = (self.k(), self.p());
        let mut y = zeros(self.batch * self.output_len());
        Images::of(self).map(
            x,
            self.image_len(),
            &mut y,
            self.output_len(),
            |_| self.cols_len(),
            |image, out, scratch, threads| {
                if let Some(bias) = bias {
                    for (line, b) in out.chunks_exact_mut(p).zip(bias) {
                        line.fill(*b);
                    }
                }
                gemm(
                    MatrixMut::rows(out, self.c_out, p),
                    bias.is_some(),
                    Matrix::rows(weight, self.c_out, k),
                    self.unfold(image, scratch),
                    threads,
                );
            },
        );
        y
    }

    /// The gradient of the input, from the output's gradient `dy` `[N, c_out, oh, ow]`.
    pub fn input_grad(&self, weight: &[f32], dy: &[f32]) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(isa) = direct::applies_to_input_grad(self) {
            return direct::input_grad(isa, self, weight, dy);
        }
        if winograd::applies(self) {
            return winograd::input_grad(self, weight, dy);
        }
        let (k, p) = (self.k(), self.p());
        let mut dx = zeros(self.batch * self.image_len());
        let weight_t = Matrix::rows(weight, self.c_out, k).t();
        Images::of(self).map(
            dy,
            self.output_len(),
            &mut dx,
            self.image_len(),
            |_| self.cols_len(),
            |grad, image, scratch, threads| {
                let grad = Matrix::rows(grad, self.c_out, p);
                if self.pointwise() {
                    gemm(MatrixMut::rows(image, k, p), false, weight_t, grad, threads);
                } else {
                    let (cols, phases) = self.cols_and_phases(scratch);
                    gemm(MatrixMut::rows(cols, k, p), false, weight_t, grad, threads);
                    self.col2im(cols, image, phases);
                }
            },
        );
        dx
    }

    /// The gradient of the weight `[c_out, c_in, kh, kw]`, from the input `x` and the
    /// output's gradient `dy`.
    pub fn weight_grad(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(isa) = direct::applies(self) {
            return direct::weight_grad(isa, self, x, dy);
        }
        if winograd::applies(self) {
            return winograd::weight_grad(self, x, dy);
        }
        let (k, p) = (self.k(), self.p());
        Images::of(self).sum(
            self.c_out * k,
            |_| self.cols_len(),
            |images, dw, first, scratch, threads| {
                for n in images.clone() {
                    let image = &x[n * self.image_len()..][..self.image_len()];
                    gemm(
                        MatrixMut::rows(&mut *dw, self.c_out, k),
                        !first || n > images.start,
                        Matrix::rows(&dy[n * self.output_len()..], self.c_out, p),
                        self.unfold(image, scratch).t(),
                        threads,
                    )
                }
            },
        )
    }
}

/// Where a line of the unfolded image reads the image's column phases: output column
/// `ox` at `start + ox`, for the output columns `lo..hi` whose input column lies inside
/// the row (the others read the padding).
#[derive(Clone, Copy)]
struct Source {
    start: isize,
    lo: usize,
    hi: usize,
}

/// Splits `row` into its `s` column phases, `phase` floats each: phase `p` holds columns
/// `p`, `p + s`, … (with stride 2, zero past the row's end; with more, a phase's last
/// float past the row's end is left as it was: no line reads it).
#[inline(always)]
fn split_columns(row: &[f32], s: usize, phase: usize, out: &mut [f32]) {
    if s == 2 {
        let (even, odd) = out.split_at_mut(phase);
        deinterleave(row, 0, even, odd);
        return;
    }
    for (x, v) in row.iter().enumerate() {
        out[(x % s) * phase + x / s] = *v;
    }
}

/// The inverse of [`split_columns`]: the row back from its `s` column phases.
#[inline(always)]
fn merge_columns(phases: &[f32], s: usize, phase: usize, row: &mut [f32]) {
    if s == 2 {
        let (even, odd) = phases.split_at(phase);
        interleave(even, odd, row, |v| v);
        return;
    }
    for (x, v) in row.iter_mut().enumerate() {
        *v = phases[(x % s) * phase + x / s];
    }
}

/// Splits `src`, shifted right by `shift` zeros, into its even and odd columns (zero
/// where `src` does not reach, as many as fit).
#[inline(always)]
fn deinterleave(src: &[f32], shift: usize, even: &mut [f32], odd: &mut [f32]) {
    // Column x of `src` lands at x + shift: its even columns fill one half from `at`,
    // its odd ones the other from `next`; the zeros go only where they do not.
    let (first, at, second, next) = match shift % 2 {
        0 => (even, shift / 2, odd, shift / 2),
        _ => (odd, shift / 2, even, shift / 2 + 1),
    };
    let (pairs, rest) = src.as_chunks::<2>();
    let first_room = first.len().saturating_sub(at);
    let n = pairs
        .len()
        .min(first_room)
        .min(second.len().saturating_sub(next));
    let (pairs, first_part, second_part) = (
        &pairs[..n],
        &mut first[at..at + n],
        &mut second[next..next + n],
    );
    for k in 0..n {
        first_part[k] = pairs[k][0];
        second_part[k] = pairs[k][1];
    }
    let mut first_end = at + n;
    if let ([last], true, Some(slot)) = (rest, n == pairs.len(), first.get_mut(first_end)) {
        *slot = *last;
        first_end += 1;
    }
    for (half, start, end) in [(first, at, first_end), (second, next, next + n)] {
        let len = half.len();
        half[..start.min(len)].fill(0.0);
        half[end.min(len)..].fill(0.0);
    }
}

/// Writes even and odd columns into `dst` (each float as `wrap` makes it), every float
/// of it when `even` holds at least half of it, rounded up, and `odd` half, rounded down.
#[inline(always)]
fn interleave<T>(even: &[f32], odd: &[f32], dst: &mut [T], wrap: impl Fn(f32) -> T) {
    let (pairs, rest) = dst.as_chunks_mut::<2>();
    let full = pairs.len();
    for ((pair, &e), &o) in pairs.iter_mut().zip(even).zip(odd) {
        *pair = [wrap(e), wrap(o)];
    }
    if let ([last], Some(&e)) = (rest, even.get(full)) {
        *last = wrap(e);
    }
}

/// How a convolution spreads its images over threads: in parallel, in groups of
/// `group` images (one GEMM per group, on one thread), or, for a batch smaller than the
/// thread count, one image after another with each GEMM on every thread.
pub(crate) struct Images {
    batch: usize,
    group: usize,
    parallel: bool,
}

impl Images {
    /// One image at a time.
    pub fn of(g: &Geometry) -> Self {
        Self::grouped(g, 1)
    }

    /// Groups of up to `group` images, fewer where that would leave a thread without
    /// a group.
    pub fn grouped(g: &Geometry, group: usize) -> Self {
        let threads = rayon::current_num_threads();
        Images {
            batch: g.batch,
            group: group.min(g.batch / threads).max(1),
            parallel: g.batch >= threads,
        }
    }

    fn threads(&self) -> Threads {
        if self.parallel {
            Threads::One
        } else {
            Threads::All
        }
    }

    /// Runs `f(input, output, scratch, threads)` for each group of images: their
    /// `in_len` floats each of `input`, their `out_len` values each of `output` (every
    /// value of it, to the groups in turn; the last group may be smaller), and
    /// `scratch_len(images)` floats of scratch.
    pub fn map<T: Send>(
        &self,
        input: &[f32],
        in_len: usize,
        output: &mut [T],
        out_len: usize,
        scratch_len: impl Fn(usize) -> usize + Sync,
        f: impl Fn(&[f32], &mut [T], &mut [f32], Threads) + Sync,
    ) {
        let threads = self.threads();
        let one = |(images, out): (&[f32], &mut [T])| {
            let len = scratch_len(images.len() / in_len);
            with_scratch(len, |scratch| f(images, out, scratch, threads))
        };
        let (inputs, outputs) = (in_len * self.group, out_len * self.group);
        if self.parallel {
            input
                .par_chunks(inputs)
                .zip(output.par_chunks_mut(outputs))
                .for_each(one);
        } else {
            input
                .chunks(inputs)
                .zip(output.chunks_mut(outputs))
                .for_each(one);
        }
    }

    /// The sum over images of what `f(images, sum, first, scratch, threads)` adds to a
    /// `len`-float sum for each group of images (`first`: the sum is not written yet, so
    /// `f` writes instead of adding). One partial sum per thread over a contiguous run
    /// of images, then their sum in order ([`in_order`]): for a given batch and thread
    /// count, the same result every time. `scratch_len(images)`: the floats of scratch a
    /// group needs.
    pub fn sum(
        &self,
        len: usize,
        scratch_len: impl Fn(usize) -> usize + Sync,
        f: impl Fn(Range<usize>, &mut [f32], bool, &mut [f32], Threads) + Sync,
    ) -> Vec<f32> {
        let parts = if self.parallel {
            rayon::current_num_threads()
        } else {
            1
        };
        let per_part = self.batch.div_ceil(parts);
        let threads = self.threads();
        in_order(len, parts, |part| {
            let mut sum = vec![0.0; len];
            let first = part * per_part;
            let end = (first + per_part).min(self.batch);
            with_scratch(scratch_len(self.group), |scratch| {
                for start in (first..end).step_by(self.group) {
                    let images = start..(start + self.group).min(end);
                    f(images, &mut sum, start == first, scratch, threads);
                }
            });
            sum
        })
    }
}

/// The gradient of a convolution's bias: `dy` `[batch, channels, pixels]` summed over
/// images and pixels, `[channels]`: a contiguous run of images per thread, then the runs'
/// sums in order ([`batch_sums`]).
pub(crate) fn bias_grad(dy: &[f32], channels: usize, pixels: usize) -> Vec<f32> {
    let image = channels * pixels;
    let batch = dy.len() / image.max(1);
    batch_sums(batch, channels, |images| {
        let mut sums = vec![0.0; channels];
        widest(
            #[inline(always)]
            || {
                for image in dy[images.start * image..images.end * image].chunks_exact(image) {
                    for (s, line) in sums.iter_mut().zip(image.chunks_exact(pixels)) {
                        *s += lanes(line, |v| v) as f32;
                    }
                }
            },
        );
        sums
    })
}

/// The output pixels `o` whose input position `o·stride + offset` falls inside
/// `0..len`, as a range within `0..n`.
pub(crate) fn inside(offset: isize, stride: usize, len: usize, n: usize) -> (usize, usize) {
    let stride = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + stride - 1) / stride
    };
    let last = len as isize - 1 - offset;
    let hi = if last < 0 { 0 } else { last / stride + 1 };
    let hi = (hi as usize).min(n);
    ((lo as usize).min(hi), hi)
}

thread_local! {
    /// Each thread's unfolded image, kept between calls.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` floats of this thread's scratch buffer (a fresh buffer if the
/// thread's own is in use further up its stack, as when rayon runs another task on a
/// thread waiting inside a parallel GEMM).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A convolution of `[3, 8, 8]` images by 3×3 kernels, padding 1, and `stride`.
    fn strided(stride: [usize; 2]) -> Geometry {
        let mut g = Geometry {
            batch: 2,
            c_in: 3,
            height: 8,
            width: 8,
            c_out: 4,
            kernel: [3, 3],
            stride,
            padding: [1, 1],
            dilation: [1, 1],
            out: [0, 0],
        };
        g.out = [0, 1].map(|i| (8 + 2 - 3) / stride[i] + 1);
        g
    }

    /// The column phases of a row take at most the row's length plus a phase, whatever
    /// the stride: a stride of 111,111,111 on 8 columns (a fuzzer's) once asked for
    /// 10 GB of scratch per image.
    #[test]
    fn a_stride_wider_than_the_row_costs_the_row() {
        for (stride, row_len) in [(2, 8), (3, 9), (7, 14), (8, 8), (9, 8), (111_111_111, 8)] {
            let g = strided([1, stride]);
            assert_eq!(g.phased_row().0, row_len, "stride {stride}");
            assert_eq!(g.phases_len(), 3 * 8 * row_len, "stride {stride}");
        }
    }
}
