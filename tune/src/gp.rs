//! Gaussian-process core of the Bayesian-optimisation oracle.
//!
//! This mirrors what KerasTuner's `BayesianOptimizationOracle` gets from
//! scikit-learn: `GaussianProcessRegressor(kernel=Matern(nu=2.5),
//! normalize_y=True, alpha=1e-4)` with the length scale fitted by maximum
//! likelihood, and a search for the point minimising the lower confidence
//! bound μ − β·σ over the unit cube.

/// Noise added to the kernel diagonal, as KerasTuner's `alpha=1e-4`.
const ALPHA: f64 = 1e-4;
/// sklearn's default length-scale bounds for `Matern`.
const LENGTH_SCALE_MIN: f64 = 1e-5;
/// sklearn's default length-scale bounds for `Matern`.
const LENGTH_SCALE_MAX: f64 = 1e5;
/// Points of the coarse grid over log ℓ that brackets the likelihood maximum.
const GRID_POINTS: usize = 60;
/// Width in log ℓ at which golden-section refinement stops.
const GOLDEN_TOLERANCE: f64 = 1e-8;
/// Safety cap on golden-section iterations (about 40 are needed).
const GOLDEN_MAX_ITERATIONS: usize = 200;
/// How many times a failed Cholesky factorisation is retried with more jitter.
const JITTER_RETRIES: usize = 3;
/// Random points scored before local refinement in [`minimize_lcb`].
const CANDIDATES: usize = 1000;
/// Best candidates refined by local search, as KerasTuner's 50 restarts.
const SEARCH_STARTS: usize = 50;
/// Sweeps of the coordinate search from each start.
const SEARCH_SWEEPS: usize = 30;
/// First step of the coordinate search, as a fraction of the cube's side.
const INITIAL_STEP: f64 = 0.1;
/// Step below which the coordinate search cannot usefully move.
const MIN_STEP: f64 = 1e-7;

/// A Gaussian process fitted to scores in the unit cube: Matérn 5/2 kernel
/// with one isotropic length scale, fitted by maximum likelihood.
pub(crate) struct Gp {
    /// The cleaned training data and its normalisation.
    data: Training,
    /// The kernel's length scale ℓ.
    length_scale: f64,
    /// The factorised kernel matrix and the weights it yields.
    posterior: Posterior,
}

impl Gp {
    /// Fits to points `x` (each in [0,1]^d) and scores `y` (lower is
    /// better), with the length scale maximising the log marginal likelihood
    /// over [1e-5, 1e5] (sklearn's bounds).
    pub(crate) fn fit(x: &[Vec<f64>], y: &[f64]) -> Gp {
        let data = Training::new(x, y);
        // exp(ln 1e5) rounds a hair above 1e5; keep the documented bounds.
        let length_scale = fit_log_length_scale(&data)
            .exp()
            .clamp(LENGTH_SCALE_MIN, LENGTH_SCALE_MAX);
        Gp::at(data, length_scale)
    }

    /// The posterior of `data` at `length_scale`.
    fn at(data: Training, length_scale: f64) -> Gp {
        let posterior = Posterior::new(&data, length_scale);
        Gp {
            data,
            length_scale,
            posterior,
        }
    }

    #[cfg(test)]
    /// The same with a fixed length scale.
    pub(crate) fn with_length_scale(x: &[Vec<f64>], y: &[f64], length_scale: f64) -> Gp {
        // A non-positive or non-finite scale would make every distance
        // meaningless; sklearn's default of 1 is the sane stand-in.
        let length_scale = if length_scale.is_finite() && length_scale > 0.0 {
            length_scale
        } else {
            1.0
        };
        Gp::at(Training::new(x, y), length_scale)
    }

    #[cfg(test)]
    /// The kernel's length scale ℓ.
    pub(crate) fn length_scale(&self) -> f64 {
        self.length_scale
    }

    #[cfg(test)]
    /// The log marginal likelihood of the normalised scores, as sklearn's
    /// `log_marginal_likelihood_value_`.
    pub(crate) fn log_marginal_likelihood(&self) -> f64 {
        self.posterior.log_likelihood
    }

    /// Posterior mean and standard deviation at `x`, in the units of y.
    pub(crate) fn predict(&self, x: &[f64]) -> (f64, f64) {
        let query: Vec<f64> = x.iter().map(|&v| finite_or_zero(v)).collect();
        let k_star: Vec<f64> = self
            .data
            .points
            .iter()
            .map(|p| matern52(distance(&query, p) / self.length_scale))
            .collect();
        let mean = dot(&k_star, &self.posterior.weights);
        // var = k(x,x) − vᵀv with v = L⁻¹k*, and k(x,x) = 1 for Matérn.
        let v = self.posterior.chol.forward_solve(&k_star);
        let variance = (1.0 - dot(&v, &v)).max(0.0);
        let (y_mean, y_std) = (self.data.y_mean, self.data.y_std);
        let mean = y_std * mean + y_mean;
        let std = y_std * variance.sqrt();
        // Guards against overflow with absurd scores; never hand out NaN.
        let mean = if mean.is_finite() { mean } else { y_mean };
        let std = if std.is_finite() { std } else { y_std };
        (mean, std)
    }

    /// The lower confidence bound μ − beta·σ at `x`.
    fn lower_confidence_bound(&self, x: &[f64], beta: f64) -> f64 {
        let (mean, std) = self.predict(x);
        let value = mean - beta * std;
        if value.is_nan() { f64::INFINITY } else { value }
    }
}

/// Training points and scores, cleaned and normalised as sklearn's
/// `normalize_y=True` does.
struct Training {
    /// The points, with non-finite coordinates replaced by 0.
    points: Vec<Vec<f64>>,
    /// The scores standardised to zero mean and unit standard deviation.
    y: Vec<f64>,
    /// Mean of the raw scores (0 with no points).
    y_mean: f64,
    /// Population standard deviation of the raw scores (1 when it is 0).
    y_std: f64,
    /// Pairwise Euclidean distances, row-major n×n, reused across ℓ.
    distances: Vec<f64>,
}

impl Training {
    /// Cleans and normalises the data; extra points or scores without a
    /// partner are ignored.
    fn new(x: &[Vec<f64>], y: &[f64]) -> Training {
        let n = x.len().min(y.len());
        let points: Vec<Vec<f64>> = x
            .iter()
            .take(n)
            .map(|p| p.iter().map(|&v| finite_or_zero(v)).collect())
            .collect();
        // KerasTuner replaces NaN and ±inf scores by 0 before fitting.
        let raw: Vec<f64> = y.iter().take(n).map(|&v| finite_or_zero(v)).collect();
        let (y_mean, y_std) = mean_and_std(&raw);
        let y = raw
            .iter()
            .map(|&v| finite_or_zero((v - y_mean) / y_std))
            .collect();
        let distances = points
            .iter()
            .flat_map(|a| points.iter().map(move |b| distance(a, b)))
            .collect();
        Training {
            points,
            y,
            y_mean,
            y_std,
            distances,
        }
    }

    /// Number of training points.
    fn len(&self) -> usize {
        self.y.len()
    }
}

/// Mean and population standard deviation (numpy's default `ddof=0`), with
/// sklearn's `_handle_zeros_in_scale` turning a zero std into 1.
fn mean_and_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let n = values.len() as f64;
    // Dividing each term first keeps the sum of huge scores from overflowing.
    let mean: f64 = values.iter().map(|v| v / n).sum();
    let variance: f64 = values.iter().map(|v| (v - mean).powi(2) / n).sum();
    let std = variance.sqrt();
    let std = if std.is_finite() && std > 0.0 {
        std
    } else {
        1.0
    };
    let mean = if mean.is_finite() { mean } else { 0.0 };
    (mean, std)
}

/// The Cholesky factorisation of K + alpha·I and the quantities derived
/// from it that prediction needs.
struct Posterior {
    /// Lower-triangular factor L with L·Lᵀ = K + jitter·I.
    chol: Lower,
    /// K⁻¹y on the normalised scores (sklearn's `alpha_`).
    weights: Vec<f64>,
    /// −½ yᵀK⁻¹y − Σ log L_ii − n/2 log 2π.
    log_likelihood: f64,
}

impl Posterior {
    /// Factorises the kernel matrix of `data` at `length_scale`.
    fn new(data: &Training, length_scale: f64) -> Posterior {
        let n = data.len();
        let kernel: Vec<f64> = data
            .distances
            .iter()
            .map(|&r| matern52(r / length_scale))
            .collect();
        let chol = factorise_with_jitter(&kernel, n);
        let weights = chol.back_solve(&chol.forward_solve(&data.y));
        let fit_term = -0.5 * dot(&data.y, &weights);
        let log_det_half: f64 = chol.diagonal().map(f64::ln).sum();
        let constant = n as f64 / 2.0 * (2.0 * std::f64::consts::PI).ln();
        let log_likelihood = fit_term - log_det_half - constant;
        let log_likelihood = if log_likelihood.is_nan() {
            f64::NEG_INFINITY
        } else {
            log_likelihood
        };
        Posterior {
            chol,
            weights,
            log_likelihood,
        }
    }
}

/// Cholesky of `kernel` + alpha·I; on failure the jitter grows tenfold up to
/// [`JITTER_RETRIES`] times, and after that the correlations are dropped so
/// the model degrades to independent points rather than failing.
fn factorise_with_jitter(kernel: &[f64], n: usize) -> Lower {
    let mut jitter = ALPHA;
    for _ in 0..=JITTER_RETRIES {
        if let Some(chol) = Lower::cholesky(kernel, n, jitter) {
            return chol;
        }
        jitter *= 10.0;
    }
    Lower::diagonal_of(kernel, n, ALPHA)
}

/// A lower-triangular matrix stored as rows, row i holding its i + 1
/// entries up to and including the diagonal.
struct Lower {
    /// Row i is [L_i0, …, L_ii].
    rows: Vec<Vec<f64>>,
}

impl Lower {
    /// The Cholesky factor of `matrix` + jitter·I (row-major n×n, symmetric),
    /// or `None` if it is not numerically positive definite.
    fn cholesky(matrix: &[f64], n: usize, jitter: f64) -> Option<Lower> {
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(n);
        for (i, matrix_row) in matrix.chunks(n.max(1)).take(n).enumerate() {
            let mut row = Vec::with_capacity(i + 1);
            // L_ij = (A_ij − Σ_{k<j} L_ik·L_jk) / L_jj, row by row.
            for (earlier, &a_ij) in rows.iter().zip(matrix_row) {
                let (&diag, off_diagonal) = earlier.split_last()?;
                row.push((a_ij - dot(&row, off_diagonal)) / diag);
            }
            let pivot = matrix_row.get(i)? + jitter - dot(&row, &row);
            if !(pivot > 0.0 && pivot.is_finite()) {
                return None;
            }
            row.push(pivot.sqrt());
            rows.push(row);
        }
        (rows.len() == n).then_some(Lower { rows })
    }

    /// A diagonal "factor" of `matrix` + jitter·I that ignores correlations:
    /// the last resort when Cholesky keeps failing.
    fn diagonal_of(matrix: &[f64], n: usize, jitter: f64) -> Lower {
        let rows = (0..n)
            .map(|i| {
                let entry = matrix.get(i * n + i).copied().unwrap_or(1.0) + jitter;
                let entry = if entry.is_finite() && entry > 0.0 {
                    entry
                } else {
                    1.0
                };
                let mut row = vec![0.0; i];
                row.push(entry.sqrt());
                row
            })
            .collect();
        Lower { rows }
    }

    /// The diagonal entries L_ii.
    fn diagonal(&self) -> impl Iterator<Item = f64> + '_ {
        self.rows.iter().filter_map(|row| row.last().copied())
    }

    /// Solves L·z = b; entries of `b` beyond n are ignored, missing ones are 0.
    fn forward_solve(&self, b: &[f64]) -> Vec<f64> {
        let mut z = Vec::with_capacity(self.rows.len());
        for (i, row) in self.rows.iter().enumerate() {
            let rhs = b.get(i).copied().unwrap_or(0.0);
            if let Some((&diag, off_diagonal)) = row.split_last() {
                z.push((rhs - dot(off_diagonal, &z)) / diag);
            }
        }
        z
    }

    /// Solves Lᵀ·z = b, entries of `b` as in [`Lower::forward_solve`].
    fn back_solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.rows.len();
        let mut z: Vec<f64> = (0..n).map(|i| b.get(i).copied().unwrap_or(0.0)).collect();
        // Column-oriented substitution: once z_i is known, row i of L holds
        // its contribution to every earlier equation of Lᵀ·z = b.
        for (i, row) in self.rows.iter().enumerate().rev() {
            let Some((&diag, off_diagonal)) = row.split_last() else {
                continue;
            };
            let Some(z_i) = z.get_mut(i) else { continue };
            *z_i /= diag;
            let solved = *z_i;
            for (z_j, l_ij) in z.iter_mut().zip(off_diagonal) {
                *z_j -= l_ij * solved;
            }
        }
        z
    }
}

/// The log length scale maximising the log marginal likelihood: a coarse
/// grid over the bounds, then golden-section search next to the best.
fn fit_log_length_scale(data: &Training) -> f64 {
    let (lo, hi) = (LENGTH_SCALE_MIN.ln(), LENGTH_SCALE_MAX.ln());
    let likelihood = |log_scale: f64| Posterior::new(data, log_scale.exp()).log_likelihood;
    // sklearn starts L-BFGS-B at ℓ = 1 and only leaves it for a better
    // likelihood, so a flat likelihood (0 or 1 points) keeps ℓ = 1.
    let mut best = (0.0, likelihood(0.0));
    let step = (hi - lo) / (GRID_POINTS - 1) as f64;
    for i in 0..GRID_POINTS {
        let log_scale = lo + step * i as f64;
        let value = likelihood(log_scale);
        if value > best.1 {
            best = (log_scale, value);
        }
    }
    let bracket = ((best.0 - step).max(lo), (best.0 + step).min(hi));
    let refined = golden_section_max(&likelihood, bracket);
    if likelihood(refined) > best.1 {
        refined
    } else {
        best.0
    }
}

/// The maximiser of `f` on `[a, b]` by golden-section search, assuming `f`
/// is unimodal there; stops at width [`GOLDEN_TOLERANCE`].
fn golden_section_max(f: &dyn Fn(f64) -> f64, (mut a, mut b): (f64, f64)) -> f64 {
    let ratio = (5.0_f64.sqrt() - 1.0) / 2.0;
    let mut left = b - ratio * (b - a);
    let mut right = a + ratio * (b - a);
    let (mut f_left, mut f_right) = (f(left), f(right));
    for _ in 0..GOLDEN_MAX_ITERATIONS {
        if b - a <= GOLDEN_TOLERANCE {
            break;
        }
        // Ties keep the left half; the likelihood is never NaN (Posterior
        // maps it to −∞), so no comparison here is undecided.
        if f_left >= f_right {
            b = right;
            (right, f_right) = (left, f_left);
            left = b - ratio * (b - a);
            f_left = f(left);
        } else {
            a = left;
            (left, f_left) = (right, f_right);
            right = a + ratio * (b - a);
            f_right = f(right);
        }
    }
    (a + b) / 2.0
}

/// The point of [0,1]^dims minimising μ − beta·σ: [`CANDIDATES`] random
/// points from `uniform` (a source of uniform [0,1) numbers), the best
/// [`SEARCH_STARTS`] refined by a projected coordinate search with shrinking
/// steps, in place of KerasTuner's 50 L-BFGS-B restarts.
pub(crate) fn minimize_lcb(
    gp: &Gp,
    dims: usize,
    beta: f64,
    uniform: &mut dyn FnMut() -> f64,
) -> Vec<f64> {
    if dims == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(f64, Vec<f64>)> = (0..CANDIDATES)
        .map(|_| {
            let point: Vec<f64> = (0..dims).map(|_| unit_interval(uniform())).collect();
            (gp.lower_confidence_bound(&point, beta), point)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored
        .into_iter()
        .take(SEARCH_STARTS)
        .map(|(value, point)| coordinate_search(gp, beta, point, value))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, point)| point)
        .unwrap_or_else(|| vec![0.5; dims])
}

/// Refines `point` (whose bound is `value`) by coordinate steps projected
/// onto the cube, halving the step after every sweep that finds nothing.
fn coordinate_search(gp: &Gp, beta: f64, mut point: Vec<f64>, mut value: f64) -> (f64, Vec<f64>) {
    let mut step = INITIAL_STEP;
    for _ in 0..SEARCH_SWEEPS {
        if !sweep(gp, beta, &mut point, &mut value, step) {
            step /= 2.0;
            if step < MIN_STEP {
                break;
            }
        }
    }
    (value, point)
}

/// One pass over the coordinates, moving ±step along each where that lowers
/// the bound; returns whether anything moved.
fn sweep(gp: &Gp, beta: f64, point: &mut Vec<f64>, value: &mut f64, step: f64) -> bool {
    let mut moved = false;
    for axis in 0..point.len() {
        for direction in [1.0, -1.0] {
            let mut trial = point.clone();
            if let Some(coordinate) = trial.get_mut(axis) {
                *coordinate = (*coordinate + direction * step).clamp(0.0, 1.0);
            }
            let trial_value = gp.lower_confidence_bound(&trial, beta);
            if trial_value < *value {
                (*point, *value) = (trial, trial_value);
                moved = true;
                break;
            }
        }
    }
    moved
}

/// Matérn ν = 5/2 correlation at scaled distance r/ℓ:
/// (1 + √5 s + 5s²/3)·exp(−√5 s).
fn matern52(scaled_distance: f64) -> f64 {
    let s = 5.0_f64.sqrt() * scaled_distance;
    // exp(−s) underflows to 0 long before s reaches here; returning early
    // avoids ∞·0 = NaN for absurd distances.
    if s.is_nan() || s >= 745.0 {
        return 0.0;
    }
    (1.0 + s + s * s / 3.0) * (-s).exp()
}

/// Euclidean distance; coordinates beyond the shorter point are ignored.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Σ aᵢbᵢ over the common length.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

/// `v` if finite, else 0 (KerasTuner's treatment of NaN/±inf scores).
fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// Maps a draw from `uniform` into [0, 1], with NaN sent to the middle.
fn unit_interval(v: f64) -> f64 {
    if v.is_nan() { 0.5 } else { v.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values come from scikit-learn 1.9.1 (numpy/scipy as installed
    // alongside), computed once with:
    //
    //   import numpy as np
    //   from sklearn.gaussian_process import GaussianProcessRegressor
    //   from sklearn.gaussian_process.kernels import Matern
    //   def gp(X, y, kernel=Matern(nu=2.5)):
    //       return GaussianProcessRegressor(
    //           kernel=kernel, n_restarts_optimizer=20, normalize_y=True,
    //           alpha=1e-4, random_state=0).fit(np.array(X), np.array(y))
    //   g = gp(X, y)
    //   g.kernel_.length_scale, g.log_marginal_likelihood_value_
    //   g.predict(np.array(Q), return_std=True)
    //
    // with X, y and Q as in each test.

    /// The 1-D data set of tests 1 and 3.
    fn one_d() -> (Vec<Vec<f64>>, Vec<f64>) {
        let x = [0.1, 0.3, 0.5, 0.7, 0.9].iter().map(|&v| vec![v]).collect();
        (x, vec![1.0, 0.2, -0.5, 0.3, 1.2])
    }

    /// Checks predictions at `queries` against (mean, std) pairs.
    fn assert_predictions(gp: &Gp, queries: &[Vec<f64>], expected: &[(f64, f64)], tol: f64) {
        assert_eq!(queries.len(), expected.len());
        for (q, &(mean, std)) in queries.iter().zip(expected) {
            let (m, s) = gp.predict(q);
            assert!((m - mean).abs() < tol, "mean at {q:?}: {m} vs {mean}");
            assert!((s - std).abs() < tol, "std at {q:?}: {s} vs {std}");
        }
    }

    /// Relative difference |a − b| / |b|.
    fn relative(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn one_dimensional_fit_matches_sklearn() {
        let (x, y) = one_d();
        let gp = Gp::fit(&x, &y);
        // sklearn: 0.19367787782315085; the exact optimum of its
        // log_marginal_likelihood (scipy minimize_scalar, tol 1e-12) is
        // 0.1936778764072373, so L-BFGS-B stopped 7e-9 away.
        assert!(relative(gp.length_scale(), 0.19367787782315085) < 1e-4);
        assert!((gp.log_marginal_likelihood() - -6.865241978560696).abs() < 1e-6);
        let queries: Vec<Vec<f64>> = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
            .iter()
            .map(|&v| vec![v])
            .collect();
        let expected = [
            (0.9608885170712061, 0.33151575866365),
            (0.6947848297310981, 0.19180147376260162),
            (-0.2772353326466249, 0.18436572313407298),
            (-0.23289709226457778, 0.18436572313407287),
            (0.8592024921891213, 0.19180147376260184),
            (1.1243202857741963, 0.33151575866365013),
        ];
        assert_predictions(&gp, &queries, &expected, 1e-6);
    }

    #[test]
    fn two_dimensional_fit_matches_sklearn() {
        let x = vec![
            vec![0.1, 0.2],
            vec![0.4, 0.9],
            vec![0.8, 0.3],
            vec![0.5, 0.5],
            vec![0.2, 0.7],
            vec![0.9, 0.9],
        ];
        let y = [0.3, 1.5, -0.2, 0.1, 0.9, 2.0];
        let gp = Gp::fit(&x, &y);
        // sklearn: 0.4668803054977747; the exact optimum is
        // 0.4668801983105537 (2.3e-7 relative away), which moves the
        // predictions by at most 1.1e-7, inside the 1e-6 tolerance.
        assert!(relative(gp.length_scale(), 0.4668803054977747) < 1e-4);
        assert!((gp.log_marginal_likelihood() - -7.725665453133669).abs() < 1e-6);
        let queries = vec![
            vec![0.0, 0.0],
            vec![0.3, 0.6],
            vec![0.7, 0.2],
            vec![1.0, 1.0],
        ];
        let expected = [
            (0.45064950781147667, 0.39768757405495514),
            (0.5667093888403414, 0.15036730498008874),
            (-0.3300797019070669, 0.26140421008793846),
            (2.047504174203491, 0.2683091611468794),
        ];
        assert_predictions(&gp, &queries, &expected, 1e-6);
    }

    #[test]
    fn fixed_length_scale_matches_sklearn() {
        // kernel=Matern(length_scale=0.25, nu=2.5, length_scale_bounds="fixed")
        let (x, y) = one_d();
        let gp = Gp::with_length_scale(&x, &y, 0.25);
        assert_eq!(gp.length_scale(), 0.25);
        assert!((gp.log_marginal_likelihood() - -6.999741891749015).abs() < 1e-9);
        let queries: Vec<Vec<f64>> = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
            .iter()
            .map(|&v| vec![v])
            .collect();
        let expected = [
            (1.0310364203232671, 0.25407435454484945),
            (0.6929006404532794, 0.12517930412994674),
            (-0.2877571449297368, 0.11619915208749833),
            (-0.24306197022855291, 0.11619915208749833),
            (0.8554377764906222, 0.1251793041299477),
            (1.2143296127435983, 0.25407435454484945),
        ];
        assert_predictions(&gp, &queries, &expected, 1e-9);
    }

    #[test]
    fn no_points_gives_the_prior() {
        // sklearn cannot fit zero samples; its unfitted predict returns the
        // prior, mean 0 and std sqrt(k(x, x)) = 1, which is what we give.
        let gp = Gp::fit(&[], &[]);
        assert_eq!(gp.predict(&[0.3, 0.4]), (0.0, 1.0));
        assert_eq!(gp.length_scale(), 1.0);
        assert_eq!(gp.log_marginal_likelihood(), 0.0);
    }

    #[test]
    fn one_point_matches_sklearn() {
        // gp([[0.4, 0.6]], [3.0]): length scale 1.0 (flat likelihood),
        // lml -0.9189885307048392, predict at (0.4,0.6), (0.9,0.1):
        // means [3, 3], stds [0.0099995, 0.71172259].
        let gp = Gp::fit(&[vec![0.4, 0.6]], &[3.0]);
        assert_eq!(gp.length_scale(), 1.0);
        assert!((gp.log_marginal_likelihood() - -0.9189885307048392).abs() < 1e-12);
        let queries = vec![vec![0.4, 0.6], vec![0.9, 0.1]];
        assert_predictions(&gp, &queries, &[(3.0, 0.0099995), (3.0, 0.71172259)], 1e-8);
    }

    #[test]
    fn constant_scores_predict_the_constant() {
        // sklearn: std 0 is replaced by 1; the likelihood rises towards the
        // upper bound (sklearn stops at 43313.9), predict at 0.3 gives
        // mean 2.0, std 0.00577341.
        let x = vec![vec![0.1], vec![0.5], vec![0.9]];
        let gp = Gp::fit(&x, &[2.0, 2.0, 2.0]);
        assert!(gp.length_scale() > 1e4 && gp.length_scale() <= 1e5);
        let (mean, std) = gp.predict(&[0.3]);
        assert!((mean - 2.0).abs() < 1e-12);
        assert!(std.is_finite() && (0.0..0.01).contains(&std), "{std}");
    }

    #[test]
    fn duplicate_points_match_sklearn() {
        // gp([[0.5], [0.5]], [1.0, 2.0]): length scale 1.0,
        // lml -9997.579305486452, predict at 0.5: 1.5, 0.00353545.
        let gp = Gp::fit(&[vec![0.5], vec![0.5]], &[1.0, 2.0]);
        assert_eq!(gp.length_scale(), 1.0);
        assert!(relative(gp.log_marginal_likelihood(), -9997.579305486452) < 1e-9);
        assert_predictions(&gp, &[vec![0.5]], &[(1.5, 0.00353545)], 1e-8);
    }

    #[test]
    fn non_finite_scores_are_zeroed() {
        let (x, _) = one_d();
        let dirty = [1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.2];
        let clean = [1.0, 0.0, 0.0, 0.0, 1.2];
        let (a, b) = (Gp::fit(&x, &dirty), Gp::fit(&x, &clean));
        assert_eq!(a.length_scale(), b.length_scale());
        for q in [0.0, 0.35, 1.0] {
            let (m, s) = a.predict(&[q]);
            assert!(m.is_finite() && s.is_finite());
            assert_eq!((m, s), b.predict(&[q]));
        }
    }

    #[test]
    fn mismatched_and_odd_inputs_stay_finite() {
        let x = vec![vec![0.2, f64::NAN], vec![0.7], vec![1e300, -1e300]];
        let gp = Gp::fit(&x, &[1e300, -1e300]);
        for q in [vec![], vec![0.5, 0.5, 0.5], vec![f64::NAN, 2.0]] {
            let (m, s) = gp.predict(&q);
            assert!(m.is_finite() && s.is_finite() && s >= 0.0);
        }
        assert!(!gp.log_marginal_likelihood().is_nan());
        let gp = Gp::with_length_scale(&x, &[1.0, 2.0, 3.0], f64::NAN);
        assert_eq!(gp.length_scale(), 1.0);
        let mut rng = SplitMix64(1);
        let mut nan_source = || f64::NAN;
        assert_eq!(minimize_lcb(&gp, 2, 2.6, &mut nan_source).len(), 2);
        assert!(minimize_lcb(&gp, 0, 2.6, &mut || rng.next_f64()).is_empty());
    }

    /// splitmix64, a tiny deterministic source of uniform numbers.
    struct SplitMix64(u64);

    impl SplitMix64 {
        /// The next uniform number in [0, 1).
        fn next_f64(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A GP fitted to (x − 0.3)² + (y − 0.7)² on a 5×5 grid of the square.
    fn quadratic_gp() -> Gp {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..5 {
            for j in 0..5 {
                let (a, b) = (i as f64 / 4.0, j as f64 / 4.0);
                x.push(vec![a, b]);
                y.push((a - 0.3).powi(2) + (b - 0.7).powi(2));
            }
        }
        Gp::fit(&x, &y)
    }

    #[test]
    fn minimize_mean_finds_the_quadratic_minimum() {
        // sklearn fits length scale 0.8211514942113386 here, and its
        // mean is minimised at about (0.29911, 0.70089).
        let gp = quadratic_gp();
        assert!(relative(gp.length_scale(), 0.8211514942113386) < 1e-4);
        let mut rng = SplitMix64(42);
        let best = minimize_lcb(&gp, 2, 0.0, &mut || rng.next_f64());
        let error = distance(&best, &[0.3, 0.7]);
        assert!(error < 0.05, "{best:?}");
    }

    #[test]
    fn minimize_lcb_beats_random_points() {
        let gp = quadratic_gp();
        let mut rng = SplitMix64(7);
        let best = minimize_lcb(&gp, 2, 2.6, &mut || rng.next_f64());
        assert!(best.iter().all(|v| (0.0..=1.0).contains(v)));
        let best_value = gp.lower_confidence_bound(&best, 2.6);
        let mut probe = SplitMix64(12345);
        for _ in 0..1000 {
            let point = [probe.next_f64(), probe.next_f64()];
            assert!(best_value <= gp.lower_confidence_bound(&point, 2.6));
        }
    }
}
