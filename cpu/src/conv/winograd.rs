//! 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin and
//! Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): 2.25× fewer
//! multiplications than im2col, for the forward pass and both gradients.
//!
//! The output is cut into 2×2 tiles, each computed from a 4×4 input patch d and the
//! 3×3 kernel g as `y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`. Summed over channels, the 16
//! element-wise products of a tile become 16 matrix products, one per position α of
//! the transformed tile: `M[α] (c_out × tiles) = U[α] (c_out × c_in) · V[α] (c_in ×
//! tiles)`, U the transformed kernels, V the transformed patches.
//!
//! - forward: transform the patches (V), 16 products, transform back (`Aᵀ M A`), for a
//!   group of images at once where a map has few tiles (their tiles side by side);
//! - input gradient: the forward pass over the output gradient, padded by
//!   `2 − padding`, with each kernel turned 180° and the channels swapped;
//! - weight gradient: with `Ŷ = A dy Aᵀ` the transformed output-gradient tiles,
//!   `dU[α] (c_out × c_in) = Σ Ŷ[α] · V[α]ᵀ` over images and tiles, then `Gᵀ dU G`.
//!
//! The transforms only add, subtract and halve, so the results stay within rounding of
//! im2col's (tests/against_flex.rs holds both to the same tolerance).

use core::mem::MaybeUninit;

use super::{Geometry, Images, deinterleave, interleave};
use crate::gemm::{Matrix, MatrixMut, gemm};
use crate::memory::written;
use crate::simd::{prefetch, widest};

/// Positions of a transformed 4×4 tile.
const ALPHA: usize = 16;

/// The tiles (columns) a group of images brings to each of the 16 products, at least:
/// an 8×8 map has 20 tiles, so five images share each product. Measured against one
/// image per product (`cargo bench -p kiln-cpu --bench kernels`, batch 128, 2 cores):
/// ResNet's 8×8 layer 1.19× faster, the 15×15 ones 1.08–1.15×; 64 and 192 did less.
const COLUMNS: usize = 96;

/// The tiles a group of images brings to each of the weight gradient's 16 products, at
/// least: more than the other passes' `COLUMNS`, since each of its products adds to the
/// whole weight gradient (`c_out × c_in` per position), read and written again for each
/// group. Measured against `COLUMNS` (`cargo bench -p kiln-cpu --bench kernels`, batch
/// 128, four alternated pairs): the CIFAR CNN's 32 × 32 and 64 × 64 layers 5–9% faster,
/// ResNet-14's 16 × 16 one 5–9% and its 8 × 8 one 0–6%.
const WEIGHT_COLUMNS: usize = 288;

/// Whether Winograd's method runs this convolution: 3×3, stride 1, no dilation, a
/// padding the input gradient can mirror (≤ 2), and enough channels on both sides for
/// the 16 products to be worth their transforms (an image network's first layer, with
/// 1 or 3 input channels, stays with im2col).
pub(crate) fn applies(g: &Geometry) -> bool {
    g.kernel == [3, 3]
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.padding.iter().all(|&p| p <= 2)
        && g.c_in >= 16
        && g.c_out >= 16
}

/// A convolution's 2×2 output tiles: `rows × cols` per image, laid out `rows × stride`
/// with one spare tile per row (`stride = cols + 1`). A tile reads the input patch
/// rows `2ty .. 2ty + 4` and columns `2tx .. 2tx + 4` (after the padding): with the
/// padded image split into its four phases (even or odd row, even or odd column), each
/// of the 16 patch entries of every tile is one contiguous slice of a phase, offset by
/// 0 or 1 row and column. The spare tiles make those slices run on across rows, and the
/// phases of a group's images lie side by side (`count()` floats apart, as their tiles
/// lie in V), so each transform is a few long loops over all the group's tiles at once;
/// the spare tiles' outputs are never written out, and their gradients are zero.
#[derive(Clone, Copy)]
struct Tiles {
    g: Geometry,
    rows: usize,
    cols: usize,
    stride: usize,
}

impl Tiles {
    fn new(g: Geometry) -> Self {
        let cols = g.out[1].div_ceil(2);
        Tiles {
            g,
            rows: g.out[0].div_ceil(2),
            cols,
            stride: cols + 1,
        }
    }

    /// Tiles per image, spare ones included: the GEMMs' inner dimension.
    fn count(&self) -> usize {
        self.rows * self.stride
    }

    /// How the convolution's images are spread: groups of as many images as make
    /// `columns` tiles, so that maps of a few tiles still make products wide enough to
    /// run near the machine's peak.
    fn images(&self, columns: usize) -> Images {
        Images::grouped(&self.g, columns.div_ceil(self.count()))
    }

    /// Floats of scratch for a group of `images`: V and M (or Ŷ) for all of them, and
    /// what the transforms need (`transform_input`'s the most).
    fn scratch_len(&self, images: usize) -> usize {
        let tiles = images * self.count();
        // The input's phases (at most 8 planes of tiles + 1); the output's corners and the
        // gradient's phases, 4 planes each.
        let transforms = 8 * (tiles + 1);
        ALPHA * (self.g.c_in + self.g.c_out) * tiles + transforms
    }

    /// Writes `V[α][c][tile]` (rows as long as the group's tiles) for a group of images
    /// `[n, c_in, h, w]`, their tiles side by side: each tile's 4×4 input patch (zero
    /// outside the image) as `Bᵀ d B`.
    fn transform_input(&self, images: &[f32], v: &mut [f32], scratch: &mut [f32]) {
        widest(
            #[inline(always)]
            || self.transform_input_planes(images, v, scratch),
        )
    }

    #[inline(always)]
    fn transform_input_planes(&self, images: &[f32], v: &mut [f32], scratch: &mut [f32]) {
        let g = &self.g;
        let tiles = images.len() / g.image_len() * self.count();
        let layout = Phases::new(self, tiles);
        let phases = &mut scratch[..layout.count * layout.len];
        for c in 0..g.c_in {
            prefetch_channel(images, g.image_len(), g.height * g.width, c + 1);
            self.split_phases(images, c, layout, phases);
            // Patch entry (r, j) of every tile.
            let d = |r: usize, j: usize| {
                &phases[layout.start(r / 2, 2 * (r % 2) + j % 2) + j / 2..][..tiles]
            };
            // Row i of Bᵀ d is `op(d[a], d[b])` (d0 − d2, d1 + d2, d2 − d1, d1 − d3), and
            // that row times B is V's positions 4i … 4i + 3. One row at a time, so that four
            // planes of V are written at once (all sixteen in one pass fell into one L1 set
            // and ran twice as slow).
            let (v, plane) = (&mut v[c * tiles..], g.c_in * tiles);
            let p = |r: usize| [d(r, 0), d(r, 1), d(r, 2), d(r, 3)];
            let at = |i: usize| 4 * i * plane;
            times_b(p(0), p(2), |x, y| x - y, &mut v[at(0)..], plane);
            times_b(p(1), p(2), |x, y| x + y, &mut v[at(1)..], plane);
            times_b(p(2), p(1), |x, y| x - y, &mut v[at(2)..], plane);
            times_b(p(1), p(3), |x, y| x - y, &mut v[at(3)..], plane);
        }
    }

    /// Writes channel `c` of a group of images `[n, c_in, h, w]` into its phases, laid
    /// out as `layout` says.
    #[inline(always)]
    fn split_phases(&self, images: &[f32], c: usize, layout: Phases, phases: &mut [f32]) {
        let g = &self.g;
        let (t, plane) = (self.count(), g.height * g.width);
        for (k, image) in images.chunks_exact(g.image_len()).enumerate() {
            let image = &image[c * plane..][..plane];
            // Padded row 2y + py goes to row y of phase row py. The rows in order, so that
            // the image is read front to back: the first read of a layer's input waits for
            // memory (in ResNet-14's step, 4.6% of the samples fell on that load, about a
            // seventh more than now, when the even rows were read first, then the odd ones).
            for padded in 0..2 * (self.rows + 1) {
                let (y, py) = (padded / 2, padded % 2);
                let iy = padded.checked_sub(g.padding[0]).filter(|&iy| iy < g.height);
                let row = iy.map(|iy| &image[iy * g.width..][..g.width]);
                // Phase row y is row y of half 0, but the last: row y − 1 of half 1.
                let half = usize::from(y == self.rows);
                let at = layout.start(half, 0) + k * t + (y - half) * self.stride;
                let plane = &mut phases[at + 2 * py * layout.len..];
                let (even, odd) = pair_mut(plane, layout.len, self.stride);
                deinterleave(row.unwrap_or(&[]), g.padding[1], even, odd);
            }
            // Split, half 1's other rows are copies of half 0's, a row on.
            for p in (0..4).filter(|_| layout.split) {
                let from = layout.start(0, p) + k * t + self.stride;
                let to = layout.start(1, p) + k * t;
                phases.copy_within(from..from + t - self.stride, to);
            }
        }
        for q in 1..=layout.count {
            phases[q * layout.len - 1] = 0.0;
        }
    }

    /// Writes `Ŷ[α][c][tile]` (rows as long as the group's tiles) for a group of images' output
    /// gradients `[n, c_out, oh, ow]`, their tiles side by side: each tile's 2×2 gradient
    /// (zero past the output's edge, and for the spare tiles) as `A dy Aᵀ`.
    fn transform_grad(&self, dy: &[f32], yhat: &mut [f32], scratch: &mut [f32]) {
        widest(
            #[inline(always)]
            || self.transform_grad_planes(dy, yhat, scratch),
        )
    }

    #[inline(always)]
    fn transform_grad_planes(&self, dy: &[f32], yhat: &mut [f32], scratch: &mut [f32]) {
        let g = &self.g;
        let [oh, ow] = g.out;
        let (t, plane) = (self.count(), oh * ow);
        let tiles = dy.len() / g.output_len() * t;
        // The tiles' gradients a b / c d: the four phases of the output gradient.
        let phases = &mut scratch[..4 * tiles];
        for c in 0..g.c_out {
            prefetch_channel(dy, g.output_len(), plane, c + 1);
            for (k, dy) in dy.chunks_exact(g.output_len()).enumerate() {
                let dy = &dy[c * plane..][..plane];
                for py in 0..2 {
                    for y in 0..self.rows {
                        let at = k * t + y * self.stride;
                        let plane = &mut phases[at + 2 * py * tiles..];
                        let (even, odd) = pair_mut(plane, tiles, self.stride);
                        // The row past an odd height's last is zero.
                        let row = dy.get((2 * y + py) * ow..(2 * y + py + 1) * ow);
                        deinterleave(row.unwrap_or(&[]), 0, even, odd);
                    }
                }
            }
            let [a, b, c_, d] = planes(phases, tiles, tiles, [0, 1, 2, 3]);
            // A dy: rows (a, b), (a + c, b + d), (a − c, b − d), (−c, −d), that is
            // top·(a, b) + bottom·(c, d); then (A dy) Aᵀ along each row (l, r):
            // (l, l + r, l − r, −r).
            let rows = [(1.0, 0.0), (1.0, 1.0), (1.0, -1.0), (0.0, -1.0)];
            for (i, (top, bottom)) in rows.into_iter().enumerate() {
                let plane = g.c_out * tiles;
                let [o0, o1, o2, o3] =
                    four_mut(&mut yhat[(4 * i * plane + c * tiles)..], plane, tiles);
                for x in 0..tiles {
                    let l = top * a[x] + bottom * c_[x];
                    let r = top * b[x] + bottom * d[x];
                    (o0[x], o1[x], o2[x], o3[x]) = (l, l + r, l - r, -r);
                }
            }
        }
    }

    /// Writes a group of images' outputs `[n, c_out, oh, ow]` from `M[α][c][tile]` (rows
    /// as long as the group's tiles, side by side) as `Aᵀ M A`, plus `bias`, cropping
    /// the last tiles of odd sizes.
    fn transform_output(
        &self,
        m: &[f32],
        bias: Option<&[f32]>,
        y: &mut [MaybeUninit<f32>],
        scratch: &mut [f32],
    ) {
        widest(
            #[inline(always)]
            || self.transform_output_planes(m, bias, y, scratch),
        )
    }

    #[inline(always)]
    fn transform_output_planes(
        &self,
        m: &[f32],
        bias: Option<&[f32]>,
        y: &mut [MaybeUninit<f32>],
        scratch: &mut [f32],
    ) {
        let g = &self.g;
        let [oh, ow] = g.out;
        let t = self.count();
        let tiles = y.len() / g.output_len() * t;
        // The four outputs of each tile: its top row's left and right, then its bottom row's.
        let corners = &mut scratch[..4 * tiles];
        for c in 0..g.c_out {
            let bias = bias.map_or(0.0, |b| b[c]);
            let m = &m[c * tiles..];
            let plane = g.c_out * tiles;
            // Aᵀ M's rows, s = m0 + m1 + m2 and d = m1 − m2 − m3 in each column, each times A.
            let rows = |first: usize| {
                let column = |j| planes(m, plane, tiles, [first + j, first + 4 + j, first + 8 + j]);
                [column(0), column(1), column(2), column(3)]
            };
            let (left, right) = pair_mut(corners, tiles, tiles);
            times_a(rows(0), |m0, m1, m2| m0 + m1 + m2, bias, left, right);
            let (left, right) = pair_mut(&mut corners[2 * tiles..], tiles, tiles);
            times_a(rows(4), |m1, m2, m3| m1 - m2 - m3, bias, left, right);
            for (k, y) in y.chunks_exact_mut(g.output_len()).enumerate() {
                let y = &mut y[c * oh * ow..][..oh * ow];
                for (oy, line) in y.chunks_exact_mut(ow).enumerate() {
                    // The corners' planes 2·(oy % 2) (left) and the next (right).
                    let at = 2 * (oy % 2) * tiles + k * t + (oy / 2) * self.stride;
                    let (left, right) = (&corners[at..], &corners[at + tiles..]);
                    interleave(
                        &left[..self.cols],
                        &right[..self.cols],
                        line,
                        MaybeUninit::new,
                    );
                }
            }
        }
    }
}

/// A row of Aᵀ M times A, plus `bias`: with `r_j = row(a, b, c)` of the three planes of M
/// in `columns[j]` the row in column j, `left` gets r0 + r1 + r2 and `right` r1 − r2 − r3,
/// tile by tile. In one pass from M (writing Aᵀ M's rows out first stored 8 floats a tile
/// more).
#[inline(always)]
fn times_a(
    columns: [[&[f32]; 3]; 4],
    row: impl Fn(f32, f32, f32) -> f32,
    bias: f32,
    left: &mut [f32],
    right: &mut [f32],
) {
    let [c0, c1, c2, c3] = columns;
    for x in 0..left.len().min(right.len()) {
        let r0 = row(c0[0][x], c0[1][x], c0[2][x]);
        let r1 = row(c1[0][x], c1[1][x], c1[2][x]);
        let r2 = row(c2[0][x], c2[1][x], c2[2][x]);
        let r3 = row(c3[0][x], c3[1][x], c3[2][x]);
        left[x] = r0 + r1 + r2 + bias;
        right[x] = r1 - r2 - r3 + bias;
    }
}

/// Prefetches channel `c`'s plane (`plane` floats) of each of a group's images
/// (`image_len` floats each), if they have that channel: called for the next channel
/// while this one's planes are transformed.
#[inline(always)]
fn prefetch_channel(images: &[f32], image_len: usize, plane: usize, c: usize) {
    if (c + 1) * plane <= image_len {
        for image in images.chunks_exact(image_len) {
            prefetch(&image[c * plane..][..plane]);
        }
    }
}

/// Where the phases of a group's input lie in the scratch: phase `(half, p)` holds, at
/// `k·t + y·stride + x`, the padded input's `[2(y + half) + py][2x + px]` of image k
/// (`p = 2·py + px`), the rows 0–1 (half 0) and 2–3 (half 1) of the tiles' patches. One
/// image's half 1 is its half 0 a row on; in a group, image k's next row is image k + 1's
/// first, so the halves lie apart (`split`). Each phase ends with a float that the last
/// spare tile reads.
#[derive(Clone, Copy)]
struct Phases {
    split: bool,
    /// Floats per phase.
    len: usize,
    /// Phases stored: 8 when split, else 4.
    count: usize,
    stride: usize,
}

impl Phases {
    /// The layout for `group` tiles of `tiles`' images (one image's or more).
    fn new(tiles: &Tiles, group: usize) -> Self {
        let split = group > tiles.count();
        Phases {
            split,
            len: if split {
                group + 1
            } else {
                group + tiles.stride + 1
            },
            count: if split { 8 } else { 4 },
            stride: tiles.stride,
        }
    }

    /// Where phase `(half, p)` starts.
    fn start(&self, half: usize, p: usize) -> usize {
        if self.split {
            (4 * half + p) * self.len
        } else {
            p * self.len + half * self.stride
        }
    }
}

/// A row of Bᵀ d times B: with `b_j = op(p_j, q_j)` the row's four columns, the first
/// four planes of `v` (`plane` floats apart) get (b0 − b2, b1 + b2, b2 − b1, b1 − b3),
/// tile by tile.
#[inline(always)]
fn times_b(
    p: [&[f32]; 4],
    q: [&[f32]; 4],
    op: impl Fn(f32, f32) -> f32,
    v: &mut [f32],
    plane: usize,
) {
    let [p0, p1, p2, p3] = p;
    let [q0, q1, q2, q3] = q;
    let n = p0.len();
    let [v0, v1, v2, v3] = four_mut(v, plane, n);
    for x in 0..n {
        let (b0, b1) = (op(p0[x], q0[x]), op(p1[x], q1[x]));
        let (b2, b3) = (op(p2[x], q2[x]), op(p3[x], q3[x]));
        v0[x] = b0 - b2;
        v1[x] = b1 + b2;
        v2[x] = b2 - b1;
        v3[x] = b1 - b3;
    }
}

/// The first `len` floats of planes `which` of a buffer of planes `stride` apart.
/// (A loop, not `which.map`: the compiler leaves `map`, and `array::from_fn`, a call,
/// which with the slices' bounds checks took 3% of ResNet-14's step.)
#[inline(always)]
fn planes<const N: usize>(
    buffer: &[f32],
    stride: usize,
    len: usize,
    which: [usize; N],
) -> [&[f32]; N] {
    let mut planes = [&buffer[..0]; N];
    for (plane, p) in planes.iter_mut().zip(which) {
        *plane = &buffer[p * stride..][..len];
    }
    planes
}

/// The first `len` floats of the first four planes of a buffer of planes `stride`
/// apart, to write.
#[inline(always)]
fn four_mut(buffer: &mut [f32], stride: usize, len: usize) -> [&mut [f32]; 4] {
    let (a, rest) = buffer.split_at_mut(stride);
    let (b, rest) = rest.split_at_mut(stride);
    let (c, d) = rest.split_at_mut(stride);
    [&mut a[..len], &mut b[..len], &mut c[..len], &mut d[..len]]
}

/// The first `len` floats of the first plane of `buffer` and of the next, `distance`
/// floats on, to write.
#[inline(always)]
fn pair_mut(buffer: &mut [f32], distance: usize, len: usize) -> (&mut [f32], &mut [f32]) {
    let (first, second) = buffer.split_at_mut(distance);
    (&mut first[..len], &mut second[..len])
}

/// Kernels the weight transforms take at once: one value of each in a vector's lanes.
const KERNELS: usize = 16;

/// One value of each of a block of kernels.
type Lanes = [f32; KERNELS];

/// `G` times a column of three, lane by lane: `(a, (a + b + c) / 2, (a − b + c) / 2, c)`.
#[inline(always)]
fn times_g(a: &Lanes, b: &Lanes, c: &Lanes, out: &mut [Lanes; 4]) {
    for l in 0..KERNELS {
        out[0][l] = a[l];
        out[1][l] = 0.5 * (a[l] + b[l] + c[l]);
        out[2][l] = 0.5 * (a[l] - b[l] + c[l]);
        out[3][l] = c[l];
    }
}

/// `Gᵀ` times a column of four, lane by lane: `(a + (b + c) / 2, (b − c) / 2, (b + c) / 2 + d)`.
#[inline(always)]
fn times_gt(a: &Lanes, b: &Lanes, c: &Lanes, d: &Lanes, out: &mut [Lanes; 3]) {
    for l in 0..KERNELS {
        out[0][l] = a[l] + 0.5 * (b[l] + c[l]);
        out[1][l] = 0.5 * (b[l] - c[l]);
        out[2][l] = 0.5 * (b[l] + c[l]) + d[l];
    }
}

/// `U[α][o][i]`, each kernel as `G g Gᵀ`, for kernels `weight` `[c_out, c_in, 3, 3]`;
/// `turned`, for them turned 180° with their channels swapped (`[c_in, c_out, 3, 3]`,
/// the input gradient's). A block of kernels at a time, so that every step is a vector
/// operation and `U` is written in runs rather than one float in each of 16 planes.
fn transform_weights(weight: &[f32], c_out: usize, c_in: usize, turned: bool) -> Vec<f32> {
    let n = c_out * c_in;
    let fill = |u: &mut [MaybeUninit<f32>]| {
        widest(
            #[inline(always)]
            || {
                for first in (0..n).step_by(KERNELS) {
                    let len = KERNELS.min(n - first);
                    // taps[t][l]: tap t (row-major) of kernel `first + l`, zero past the last.
                    let mut taps = [[0.0; KERNELS]; 9];
                    for l in 0..len {
                        let k = first + l;
                        // Kernel k = (i, o) of the turned set, i = k / c_out and o = k % c_out,
                        // is kernel (o, i) turned: its tap t is that one's 8 − t.
                        let at = match turned {
                            true => ((k % c_out) * c_in + k / c_out) * 9,
                            false => k * 9,
                        };
                        let kernel = &weight[at..][..9];
                        for (t, row) in taps.iter_mut().enumerate() {
                            row[l] = kernel[if turned { 8 - t } else { t }];
                        }
                    }
                    // G g, column j: gg[j][r] is row r.
                    let mut gg = [[[0.0; KERNELS]; 4]; 3];
                    for (j, column) in gg.iter_mut().enumerate() {
                        times_g(&taps[j], &taps[3 + j], &taps[6 + j], column);
                    }
                    let mut row = [[0.0; KERNELS]; 4];
                    for r in 0..4 {
                        // (G g) Gᵀ along row r.
                        times_g(&gg[0][r], &gg[1][r], &gg[2][r], &mut row);
                        for (j, lanes) in row.iter().enumerate() {
                            let out = &mut u[(4 * r + j) * n + first..][..len];
                            for (slot, &value) in out.iter_mut().zip(lanes) {
                                slot.write(value);
                            }
                        }
                    }
                }
            },
        )
    };
    // SAFETY: the blocks cover every kernel, and each writes all 16 of its positions.
    unsafe { written(ALPHA * n, fill) }
}

/// Kernels `[c_out, c_in, 3, 3]` from `dU[α][o][i]`: each as `Gᵀ dU G`, a block of
/// kernels at a time (see [`transform_weights`]).
fn untransform_weights(du: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let n = c_out * c_in;
    let fill = |weight: &mut [MaybeUninit<f32>]| {
        widest(
            #[inline(always)]
            || {
                for (first, kernels) in (0..n).step_by(KERNELS).zip(weight.chunks_mut(9 * KERNELS))
                {
                    let len = kernels.len() / 9;
                    let mut d = [[0.0; KERNELS]; ALPHA];
                    for (a, lanes) in d.iter_mut().enumerate() {
                        lanes[..len].copy_from_slice(&du[a * n + first..][..len]);
                    }
                    // Gᵀ dU, column j: gd[j][r] is row r.
                    let mut gd = [[[0.0; KERNELS]; 3]; 4];
                    for (j, column) in gd.iter_mut().enumerate() {
                        times_gt(&d[j], &d[4 + j], &d[8 + j], &d[12 + j], column);
                    }
                    let mut row = [[0.0; KERNELS]; 3];
                    for r in 0..3 {
                        // (Gᵀ dU) G along row r.
                        times_gt(&gd[0][r], &gd[1][r], &gd[2][r], &gd[3][r], &mut row);
                        for (j, lanes) in row.iter().enumerate() {
                            for (kernel, &value) in kernels.chunks_exact_mut(9).zip(lanes) {
                                kernel[3 * r + j].write(value);
                            }
                        }
                    }
                }
            },
        )
    };
    // SAFETY: the blocks cover every kernel, and each writes all 9 of its taps.
    unsafe { written(n * 9, fill) }
}

/// The forward pass (see the module docs): `[N, c_out, oh, ow]`.
pub(crate) fn forward(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let u = transform_weights(weight, g.c_out, g.c_in, false);
    transformed(g, x, &u, bias)
}

/// The forward pass with the kernels already transformed (`U`).
fn transformed(g: &Geometry, x: &[f32], u: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let tiles = Tiles::new(*g);
    let t = tiles.count();
    let fill = |y: &mut [MaybeUninit<f32>]| {
        tiles.images(COLUMNS).map(
            x,
            g.image_len(),
            y,
            g.output_len(),
            |images| tiles.scratch_len(images),
            |images, outs, scratch, threads| {
                // The group's tiles side by side: V[α] is c_in × ld, M[α] c_out × ld.
                let ld = images.len() / g.image_len() * t;
                let (v, rest) = scratch.split_at_mut(ALPHA * g.c_in * ld);
                let (m, scratch) = rest.split_at_mut(ALPHA * g.c_out * ld);
                tiles.transform_input(images, v, scratch);
                for a in 0..ALPHA {
                    gemm(
                        MatrixMut::rows(&mut m[a * g.c_out * ld..], g.c_out, ld),
                        false,
                        Matrix::rows(&u[a * g.c_out * g.c_in..], g.c_out, g.c_in),
                        Matrix::rows(&v[a * g.c_in * ld..], g.c_in, ld),
                        threads,
                    );
                }
                tiles.transform_output(m, bias, outs, scratch);
            },
        )
    };
    // SAFETY: `map` hands every image's output to a group, and `transform_output` writes
    // every float of each (every channel, row and column).
    unsafe { written(g.batch * g.output_len(), fill) }
}

/// The input gradient: the forward pass of `dy` through the kernels turned 180° with
/// their channels swapped, padded so that its output has the input's size.
pub(crate) fn input_grad(g: &Geometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let u = transform_weights(weight, g.c_out, g.c_in, true);
    transformed(&g.mirrored(), dy, &u, None)
}

/// The weight gradient `[c_out, c_in, 3, 3]` from the input `x` and the output's
/// gradient `dy`.
pub(crate) fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let tiles = Tiles::new(*g);
    let t = tiles.count();
    let kernels = g.c_out * g.c_in;
    let (image_len, output_len) = (g.image_len(), g.output_len());
    let images = tiles.images(WEIGHT_COLUMNS);
    let du = images.sum(
        ALPHA * kernels,
        |images| tiles.scratch_len(images),
        |images, du, first, scratch, threads| {
            // The group's tiles side by side: V[α] is c_in × ld, Ŷ[α] c_out × ld.
            let ld = images.len() * t;
            let (v, rest) = scratch.split_at_mut(ALPHA * g.c_in * ld);
            let (yhat, scratch) = rest.split_at_mut(ALPHA * g.c_out * ld);
            let group = &x[images.start * image_len..images.end * image_len];
            tiles.transform_input(group, v, scratch);
            let grads = &dy[images.start * output_len..images.end * output_len];
            tiles.transform_grad(grads, yhat, scratch);
            for a in 0..ALPHA {
                gemm(
                    MatrixMut::rows(&mut du[a * kernels..], g.c_out, g.c_in),
                    !first,
                    Matrix::rows(&yhat[a * g.c_out * ld..], g.c_out, ld),
                    Matrix::rows(&v[a * g.c_in * ld..], g.c_in, ld).t(),
                    threads,
                );
            }
        },
    );
    untransform_weights(&du, g.c_out, g.c_in)
}
