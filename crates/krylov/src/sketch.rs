//! Randomized iterative sketching — sketch-and-project (Gower & Richtárik, 2015) — for square
//! linear systems `A x = b` that need be neither symmetric nor definite (KKT matrices).
//!
//! Each iteration draws a sketch `S` (`n × τ`) and projects the iterate onto the sketched
//! equations `SᵀA x = Sᵀb` in the Euclidean norm:
//!
//! ```text
//! x ← x + Aᵀ S (Sᵀ A Aᵀ S)⁺ Sᵀ (b − A x)
//! ```
//!
//! * [`Sketch::Row`]: one row `i` with probability `‖aᵢ‖² / ‖A‖_F²` — randomized Kaczmarz
//!   (Strohmer & Vershynin), `O(nnz(aᵢ))` per step, the residual `rᵢ` computed from the row.
//! * [`Sketch::Block`]: `τ` distinct rows drawn uniformly — block Kaczmarz, a `τ × τ` Gram
//!   system per step, `O(τ · nnz(row) + τ³)`.
//! * [`Sketch::Gaussian`]: `S` with independent `N(0, 1)` entries, `O(τ · nnz(A) + τ² n)` per
//!   step plus a mat-vec for the residual.
//! * [`Sketch::Count`]: a CountSketch (each row hashed to one of `τ` buckets with a random
//!   sign), `O(nnz(A) + τ² n)` per step plus a mat-vec.
//!
//! For a nonsingular `A` every sketch converges linearly in expectation,
//! `E‖x_k − x*‖² ≤ (1 − λ_min(E[Z]))^k ‖x_0 − x*‖²` with `Z` the projection `Aᵀ S (SᵀAAᵀS)⁺
//! SᵀA`; the rate is that of CG on the normal equations at best, so ill-conditioned systems
//! converge slowly (measure before choosing it over a Krylov or direct solve).
//!
//! Stop test: `‖b − A x‖ ≤ max(atol, rtol‖b‖)`, evaluated with a full mat-vec every
//! `check_every` iterations (an epoch of `n` row steps costs about one mat-vec, so that is the
//! default for the row methods) — the residual-based adaptive stop an inexact Newton method
//! needs. The history records those checks.

use crate::error::KrylovError;
use crate::solve::{Monitor, SolveInfo, SolveParams, StopReason, finite, prepare};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use ritz_linalg::{CsrMatrix, LinearOperator, vector};
use serde::{Deserialize, Serialize};

/// The sketch drawn at every iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sketch {
    /// One row, probability proportional to its squared norm (randomized Kaczmarz).
    Row,
    /// `size` distinct rows, uniformly.
    Block {
        /// Rows per sketch (`τ`).
        size: usize,
    },
    /// A dense Gaussian sketch with `size` columns.
    Gaussian {
        /// Sketch columns (`τ`).
        size: usize,
    },
    /// A CountSketch with `size` buckets.
    Count {
        /// Buckets (`τ`).
        size: usize,
    },
}

impl Sketch {
    /// `τ`, the number of sketched equations per iteration.
    pub fn size(&self) -> usize {
        match *self {
            Sketch::Row => 1,
            Sketch::Block { size } | Sketch::Gaussian { size } | Sketch::Count { size } => size,
        }
    }

    /// Floating-point operations of one iteration on `a` (the model behind the SQP run
    /// records): row steps touch the sketched rows twice plus the `τ × τ` solve; dense
    /// sketches form `SᵀA`, its Gram matrix, and update the residual with a mat-vec.
    pub fn flops_per_iteration(&self, a: &CsrMatrix) -> f64 {
        let n = a.nrows() as f64;
        let nnz = a.nnz() as f64;
        let row = nnz / n.max(1.0);
        let t = self.size() as f64;
        match self {
            Sketch::Row => 4.0 * row,
            Sketch::Block { .. } => 4.0 * t * row + t * t * row + t * t * t / 3.0,
            Sketch::Gaussian { .. } => {
                2.0 * t * nnz + 2.0 * t * t * n + t * t * t / 3.0 + 4.0 * nnz
            }
            Sketch::Count { .. } => 2.0 * nnz + 2.0 * t * t * n + t * t * t / 3.0 + 4.0 * nnz,
        }
    }
}

/// Parameters of [`sketch_and_project`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SketchParams {
    /// The sketch.
    pub sketch: Sketch,
    /// Tolerances (`rtol`, `atol`, `dtol`) and the iteration limit (sketch iterations).
    pub solve: SolveParams,
    /// Iterations between residual checks (a mat-vec each); `None`: `⌈n / τ⌉` for the row
    /// and block sketches (one pass over the rows), 1 for the dense sketches (which keep the
    /// residual anyway).
    pub check_every: Option<usize>,
    /// Seed of the sketches.
    pub seed: u64,
}

impl Default for SketchParams {
    fn default() -> Self {
        Self {
            sketch: Sketch::Row,
            solve: SolveParams {
                max_iters: 1_000_000,
                ..Default::default()
            },
            check_every: None,
            seed: 0,
        }
    }
}

/// Solves `A x = b` by sketch-and-project from the initial guess in `x` (overwritten).
///
/// Errors: shapes, NaN/Inf input, invalid parameters (a sketch size of 0 or above `n`,
/// `check_every = 0`), a zero row sampled by a block (`A` singular: `LinalgError`), and a
/// non-finite iterate. Non-convergence is [`StopReason::MaxIterations`]; a residual past
/// `dtol · ‖b‖` is [`StopReason::Diverged`]. Cost: see the [module](self) documentation;
/// memory `O(τ n)` for the dense sketches, `O(n)` otherwise.
///
/// ```
/// use ritz_krylov::sketch::{Sketch, SketchParams, sketch_and_project};
/// use ritz_krylov::{SolveParams, StopReason};
/// use ritz_linalg::CsrMatrix;
/// // A symmetric indefinite saddle-point matrix [[2, 1], [1, 0]] ⊕ [[3]].
/// let a = CsrMatrix::from_triplets(3, 3, &[(0, 0, 2.0), (0, 1, 1.0), (1, 0, 1.0), (2, 2, 3.0)])?;
/// let b = [3.0, 1.0, 6.0];
/// let mut x = [0.0; 3];
/// let params = SketchParams {
///     sketch: Sketch::Row,
///     solve: SolveParams { rtol: 1e-12, max_iters: 100_000, ..Default::default() },
///     ..Default::default()
/// };
/// let info = sketch_and_project(&a, &b, &mut x, &params, &mut ())?;
/// assert_eq!(info.stop, StopReason::Converged);
/// assert!((x[0] - 1.0).abs() < 1e-10 && (x[1] - 1.0).abs() < 1e-10 && (x[2] - 2.0).abs() < 1e-10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sketch_and_project(
    a: &CsrMatrix,
    b: &[f64],
    x: &mut [f64],
    params: &SketchParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    let n = a.nrows();
    let tau = params.sketch.size();
    if tau == 0 || tau > n.max(1) {
        return Err(KrylovError::InvalidParameter(format!(
            "sketch size must lie in 1..={n}, got {tau}"
        )));
    }
    if params.check_every == Some(0) {
        return Err(KrylovError::InvalidParameter(
            "check_every must be at least 1".into(),
        ));
    }
    let mut prep = match prepare(a, b, x, &params.solve, None, monitor, &crate::reduce::Local) {
        Ok(p) => p,
        Err(done) => return done,
    };
    let b = prep.b.clone();
    let check_every = params.check_every.unwrap_or(match params.sketch {
        Sketch::Row | Sketch::Block { .. } => n.div_ceil(tau),
        _ => 1,
    });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let mut r = vec![0.0; n];
    residual(a, &b, x, &mut r);
    if let Some(stop) = prep.record(0, vector::norm2(&r), monitor) {
        return Ok(prep.finish(x, 0, stop));
    }
    let row_norms: Vec<f64> = (0..n)
        .map(|i| a.row(i).1.iter().map(|v| v * v).sum())
        .collect();
    let outcome = (|| {
        let mut state = State::new(n, tau, params.sketch, &row_norms)?;
        let mut it = 0;
        loop {
            if it >= params.solve.max_iters {
                return Ok((it, StopReason::MaxIterations));
            }
            state.step(a, &b, x, &mut r, &row_norms, &mut rng, it)?;
            it += 1;
            if it % check_every == 0 || it == params.solve.max_iters {
                residual(a, &b, x, &mut r);
                let rn = finite("residual norm", vector::norm2(&r), it)?;
                if let Some(stop) = prep.record(it, rn, monitor) {
                    return Ok((it, stop));
                }
            }
        }
    })();
    prep.conclude(x, outcome)
}

/// `r ← b − A x`.
fn residual(a: &CsrMatrix, b: &[f64], x: &[f64], r: &mut [f64]) {
    a.apply(x, r);
    for (ri, bi) in r.iter_mut().zip(b) {
        *ri = bi - *ri;
    }
}

/// Scratch of the sketches, allocated once.
struct State {
    sketch: Sketch,
    /// Cumulative squared row norms (row sampling).
    cumulative: Vec<f64>,
    /// Row indices (block sampling, partial Fisher–Yates).
    perm: Vec<usize>,
    /// `SᵀA`, dense `τ × n` (dense sketches).
    sa: Vec<f64>,
    /// Gram matrix `τ × τ` and the sketched residual.
    gram: Vec<f64>,
    rhs: Vec<f64>,
    /// `Aᵀ S y` (dense sketches) and `A` times it.
    dx: Vec<f64>,
    adx: Vec<f64>,
    /// Buckets and signs of the CountSketch.
    bucket: Vec<usize>,
    sign: Vec<f64>,
}

impl State {
    fn new(n: usize, tau: usize, sketch: Sketch, row_norms: &[f64]) -> Result<Self, KrylovError> {
        let mut cumulative = Vec::new();
        if sketch == Sketch::Row {
            let mut s = 0.0;
            cumulative = row_norms
                .iter()
                .map(|v| {
                    s += v;
                    s
                })
                .collect();
            if s <= 0.0 || !s.is_finite() {
                return Err(KrylovError::InvalidParameter(
                    "every row of the matrix is zero".into(),
                ));
            }
        }
        let dense = matches!(sketch, Sketch::Gaussian { .. } | Sketch::Count { .. });
        Ok(Self {
            sketch,
            cumulative,
            perm: (0..n).collect(),
            sa: if dense {
                vec![0.0; tau * n]
            } else {
                Vec::new()
            },
            gram: vec![0.0; tau * tau],
            rhs: vec![0.0; tau],
            dx: if dense { vec![0.0; n] } else { Vec::new() },
            adx: if dense { vec![0.0; n] } else { Vec::new() },
            bucket: vec![0; n],
            sign: vec![0.0; n],
        })
    }

    /// One projection. Row and block steps use the rows' own residuals; the dense sketches
    /// keep `r = b − A x` up to date (one mat-vec).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        a: &CsrMatrix,
        b: &[f64],
        x: &mut [f64],
        r: &mut [f64],
        row_norms: &[f64],
        rng: &mut Xoshiro256PlusPlus,
        it: usize,
    ) -> Result<(), KrylovError> {
        let n = a.nrows();
        match self.sketch {
            Sketch::Row => {
                let total = *self.cumulative.last().unwrap_or(&0.0);
                let u = rng.random::<f64>() * total;
                let i = self.cumulative.partition_point(|&c| c <= u).min(n - 1);
                let (cols, vals) = a.row(i);
                let ri = b[i] - dot_row(cols, vals, x);
                let step = finite("Kaczmarz step", ri / row_norms[i], it)?;
                for (&j, &v) in cols.iter().zip(vals) {
                    x[j as usize] += step * v;
                }
            }
            Sketch::Block { size } => {
                // Partial Fisher–Yates: the first `size` entries of `perm` are the block.
                for k in 0..size {
                    let j = k + (rng.random::<f64>() * (n - k) as f64) as usize;
                    self.perm.swap(k, j.min(n - 1));
                }
                let rows = &self.perm[..size];
                for (p, &i) in rows.iter().enumerate() {
                    let (ci, vi) = a.row(i);
                    self.rhs[p] = b[i] - dot_row(ci, vi, x);
                    for (q, &k) in rows.iter().enumerate().take(p + 1) {
                        let (ck, vk) = a.row(k);
                        let g = sparse_dot(ci, vi, ck, vk);
                        self.gram[p * size + q] = g;
                        self.gram[q * size + p] = g;
                    }
                }
                solve_gram(&mut self.gram, &mut self.rhs, size, it)?;
                for (p, &i) in rows.iter().enumerate() {
                    let (ci, vi) = a.row(i);
                    for (&j, &v) in ci.iter().zip(vi) {
                        x[j as usize] += self.rhs[p] * v;
                    }
                }
            }
            Sketch::Gaussian { size } | Sketch::Count { size } => {
                self.sa.iter_mut().for_each(|v| *v = 0.0);
                self.rhs.iter_mut().for_each(|v| *v = 0.0);
                if let Sketch::Gaussian { .. } = self.sketch {
                    // (SᵀA)_k = Σ_i S_ik a_i, (Sᵀr)_k = Σ_i S_ik r_i.
                    for i in 0..n {
                        let (cols, vals) = a.row(i);
                        for k in 0..size {
                            let s = gaussian(rng);
                            self.rhs[k] += s * r[i];
                            let row = &mut self.sa[k * n..(k + 1) * n];
                            for (&j, &v) in cols.iter().zip(vals) {
                                row[j as usize] += s * v;
                            }
                        }
                    }
                } else {
                    for i in 0..n {
                        self.bucket[i] =
                            ((rng.random::<f64>() * size as f64) as usize).min(size - 1);
                        self.sign[i] = if rng.random::<f64>() < 0.5 { -1.0 } else { 1.0 };
                    }
                    for i in 0..n {
                        let (k, s) = (self.bucket[i], self.sign[i]);
                        self.rhs[k] += s * r[i];
                        let row = &mut self.sa[k * n..(k + 1) * n];
                        let (cols, vals) = a.row(i);
                        for (&j, &v) in cols.iter().zip(vals) {
                            row[j as usize] += s * v;
                        }
                    }
                }
                for p in 0..size {
                    for q in 0..=p {
                        let g =
                            vector::dot(&self.sa[p * n..(p + 1) * n], &self.sa[q * n..(q + 1) * n]);
                        self.gram[p * size + q] = g;
                        self.gram[q * size + p] = g;
                    }
                }
                solve_gram(&mut self.gram, &mut self.rhs, size, it)?;
                self.dx.iter_mut().for_each(|v| *v = 0.0);
                for k in 0..size {
                    vector::axpy(self.rhs[k], &self.sa[k * n..(k + 1) * n], &mut self.dx);
                }
                vector::axpy(1.0, &self.dx, x);
                a.apply(&self.dx, &mut self.adx);
                vector::axpy(-1.0, &self.adx, r);
            }
        }
        Ok(())
    }
}

/// `aᵢᵀ x` for a CSR row.
fn dot_row(cols: &[u32], vals: &[f64], x: &[f64]) -> f64 {
    cols.iter()
        .zip(vals)
        .map(|(&j, &v)| v * x[j as usize])
        .sum()
}

/// `aᵀ b` for two CSR rows (sorted columns).
fn sparse_dot(ca: &[u32], va: &[f64], cb: &[u32], vb: &[f64]) -> f64 {
    let (mut p, mut q, mut s) = (0, 0, 0.0);
    while p < ca.len() && q < cb.len() {
        match ca[p].cmp(&cb[q]) {
            std::cmp::Ordering::Less => p += 1,
            std::cmp::Ordering::Greater => q += 1,
            std::cmp::Ordering::Equal => {
                s += va[p] * vb[q];
                p += 1;
                q += 1;
            }
        }
    }
    s
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u1 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2 = rng.random::<f64>();
    (-2.0f64 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Solves the `τ × τ` positive semi-definite Gram system in place (`rhs ← G⁺ rhs` up to a
/// relative ridge of `1e-14 · trace` where `G` is singular: a rank-deficient sketch) by
/// Cholesky.
fn solve_gram(g: &mut [f64], rhs: &mut [f64], t: usize, it: usize) -> Result<(), KrylovError> {
    let trace: f64 = (0..t).map(|k| g[k * t + k]).sum();
    let ridge = 1e-14 * trace.max(f64::MIN_POSITIVE);
    for j in 0..t {
        let mut d = g[j * t + j] + ridge;
        for k in 0..j {
            d -= g[j * t + k] * g[j * t + k];
        }
        let d = finite("sketch Gram pivot", d.max(ridge), it)?.sqrt();
        g[j * t + j] = d;
        for i in j + 1..t {
            let mut s = g[i * t + j];
            for k in 0..j {
                s -= g[i * t + k] * g[j * t + k];
            }
            g[i * t + j] = s / d;
        }
    }
    for i in 0..t {
        let mut s = rhs[i];
        for k in 0..i {
            s -= g[i * t + k] * rhs[k];
        }
        rhs[i] = s / g[i * t + i];
    }
    for i in (0..t).rev() {
        let mut s = rhs[i];
        for k in i + 1..t {
            s -= g[k * t + i] * rhs[k];
        }
        rhs[i] = s / g[i * t + i];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random sparse nonsymmetric, diagonally weighted system and its dense solution.
    fn system(n: usize, seed: u64) -> (CsrMatrix, Vec<f64>, Vec<f64>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 4.0 + rng.random::<f64>()));
            for _ in 0..3 {
                let j = (rng.random::<f64>() * n as f64) as usize % n;
                t.push((i, j, rng.random::<f64>() - 0.5));
            }
        }
        let a = CsrMatrix::from_triplets(n, n, &t).unwrap();
        let xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut b = vec![0.0; n];
        a.apply(&xs, &mut b);
        (a, b, xs)
    }

    #[test]
    fn every_sketch_solves_a_nonsymmetric_system() {
        let (a, b, xs) = system(60, 3);
        for sketch in [
            Sketch::Row,
            Sketch::Block { size: 6 },
            Sketch::Gaussian { size: 5 },
            Sketch::Count { size: 8 },
        ] {
            let mut x = vec![0.0; 60];
            let params = SketchParams {
                sketch,
                solve: SolveParams {
                    rtol: 1e-10,
                    max_iters: 200_000,
                    ..Default::default()
                },
                ..Default::default()
            };
            let info = sketch_and_project(&a, &b, &mut x, &params, &mut ()).unwrap();
            assert_eq!(info.stop, StopReason::Converged, "{sketch:?}");
            let err = x
                .iter()
                .zip(&xs)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-8, "{sketch:?}: error {err:e}");
            // Same seed, same iterates.
            let mut y = vec![0.0; 60];
            let again = sketch_and_project(&a, &b, &mut y, &params, &mut ()).unwrap();
            assert_eq!((again.iterations, &y), (info.iterations, &x));
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        let (a, b, _) = system(10, 1);
        let mut x = vec![0.0; 10];
        for p in [
            SketchParams {
                sketch: Sketch::Block { size: 0 },
                ..Default::default()
            },
            SketchParams {
                sketch: Sketch::Gaussian { size: 11 },
                ..Default::default()
            },
            SketchParams {
                check_every: Some(0),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                sketch_and_project(&a, &b, &mut x, &p, &mut ()),
                Err(KrylovError::InvalidParameter(_))
            ));
        }
        let mut short = vec![0.0; 9];
        assert!(sketch_and_project(&a, &b, &mut short, &Default::default(), &mut ()).is_err());
    }
}
