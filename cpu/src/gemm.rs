//! A bounds-checked face on the `gemm` crate's f32 matrix product: matrices are slices
//! with a row and a column stride, checked to lie inside their slice before the call.

/// A read-only `rows × cols` matrix: element (r, c) at `data[r·row_stride + c·col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// The first `rows · cols` elements of `data`, row after row.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols)
    }

    /// Rows of `cols` elements that start `row_stride` elements apart in `data`.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        let m = Matrix {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        };
        m.check();
        m
    }

    /// Element (r, c) at `data[r·row_stride + c·col_stride]`, or `None` where one lies
    /// outside `data`.
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Option<Self> {
        let m = Matrix {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        };
        m.fits().then_some(m)
    }

    /// Rows and columns.
    pub fn dims(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// The transpose (the same elements).
    pub fn t(self) -> Self {
        Matrix {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element lies inside the slice.
    fn fits(&self) -> bool {
        let last = (self.rows.checked_sub(1), self.cols.checked_sub(1));
        let (Some(r), Some(c)) = last else {
            return true;
        };
        r.checked_mul(self.row_stride)
            .zip(c.checked_mul(self.col_stride))
            .and_then(|(a, b)| a.checked_add(b))
            .is_some_and(|end| end < self.data.len())
    }

    /// Panics unless every element lies inside the slice.
    fn check(&self) {
        assert!(
            self.fits(),
            "a {}×{} matrix does not fit in {} floats",
            self.rows,
            self.cols,
            self.data.len()
        );
    }
}

/// A `rows × cols` matrix written row after row into the first `rows · cols` floats.
pub(crate) struct MatrixMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatrixMut<'a> {
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert!(
            rows * cols <= data.len(),
            "a {rows}×{cols} matrix does not fit in {} floats",
            data.len()
        );
        MatrixMut { data, rows, cols }
    }
}

/// Where a product runs: on the calling thread, or on all of rayon's threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threads {
    One,
    All,
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`.
///
/// # Panics
/// When the inner dimensions or the destination's shape do not match.
pub(crate) fn gemm(dst: MatrixMut, accumulate: bool, lhs: Matrix, rhs: Matrix, threads: Threads) {
    assert!(
        lhs.cols == rhs.rows && dst.rows == lhs.rows && dst.cols == rhs.cols,
        "gemm of {}×{} by {}×{} into {}×{}",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols,
        dst.rows,
        dst.cols
    );
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::All => gemm::Parallelism::Rayon(0),
    };
    // SAFETY: every matrix was checked to lie inside its slice (`Matrix::check`,
    // `MatrixMut::rows`), the shapes agree (above), and `dst` is borrowed mutably, so
    // it overlaps neither operand.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            lhs.cols,
            dst.data.as_mut_ptr(),
            1,
            dst.cols as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
