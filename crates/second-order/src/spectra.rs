//! Spectra of curvature operators from matrix-vector products only: the top eigenvalues by
//! Lanczos (krylov's, with full reorthogonalization — better than PyHessian's deflated power
//! iteration), the trace by Hutchinson and Hutch++, and the spectral density by stochastic
//! Lanczos quadrature (SLQ) with Gaussian broadening.
//!
//! Probes are Rademacher vectors from a seeded generator, so every estimate is reproducible.

use crate::error::SecondOrderError;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use ritz_krylov::lanczos::{LanczosParams, lanczos};
use ritz_linalg::LinearOperator;
use serde::Serialize;

fn rademacher(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn krylov_err(e: ritz_krylov::KrylovError) -> SecondOrderError {
    SecondOrderError::Solve(e)
}

/// The `k` largest eigenvalues (descending) of a symmetric operator from `steps` Lanczos
/// steps (`k ≤ steps ≤ n`), with their residual bounds `‖Ay − θy‖`.
///
/// Cost: `steps` mat-vecs and `O(n·steps²)` for reorthogonalization. Errors: invalid sizes.
///
/// ```
/// use ritz_second_order::{Curvature, CurvatureOperator, LogisticRegression, Objective};
/// use ritz_second_order::{data::breast_cancer, spectra::top_eigenvalues};
/// let obj = LogisticRegression::new(breast_cancer(), 1e-3)?;
/// let h = CurvatureOperator::new(&obj, &vec![0.0; obj.dim()], Curvature::Hessian, 0.0)?;
/// let (values, residuals) = top_eigenvalues(&h, 3, 20, 0)?;
/// assert!(values[0] >= values[1] && values[1] >= values[2] && residuals[0] < 1e-6 * values[0]);
/// # Ok::<(), ritz_second_order::SecondOrderError>(())
/// ```
pub fn top_eigenvalues(
    a: &dyn LinearOperator,
    k: usize,
    steps: usize,
    seed: u64,
) -> Result<(Vec<f64>, Vec<f64>), SecondOrderError> {
    let n = a.nrows();
    if k == 0 || k > steps || steps > n {
        return Err(SecondOrderError::InvalidParameter(format!(
            "need 1 ≤ k ≤ steps ≤ n, got k = {k}, steps = {steps}, n = {n}"
        )));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let start = rademacher(&mut rng, n);
    let res = lanczos(
        a,
        &start,
        &LanczosParams {
            steps,
            ..Default::default()
        },
        &mut (),
    )
    .map_err(krylov_err)?;
    let m = res.steps();
    let k = k.min(m);
    let pairs = res.ritz_pairs(m - k..m).map_err(krylov_err)?;
    let mut vals: Vec<(f64, f64)> = pairs
        .values
        .iter()
        .zip(&pairs.residual_bounds)
        .map(|(v, r)| (*v, *r))
        .collect();
    vals.reverse();
    Ok(vals.into_iter().unzip())
}

/// A trace estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TraceEstimate {
    /// The estimate of `tr(A)`.
    pub estimate: f64,
    /// Standard error of the Monte-Carlo part (0 when there is none).
    pub std_error: f64,
    /// Mat-vecs used.
    pub matvecs: usize,
}

/// Hutchinson's estimator `tr(A) ≈ (1/p) Σ zᵀAz` with `p` Rademacher probes.
/// Variance `2(‖A‖_F² − Σ A_ii²)/p`. Errors: `probes = 0`.
pub fn hutchinson(
    a: &dyn LinearOperator,
    probes: usize,
    seed: u64,
) -> Result<TraceEstimate, SecondOrderError> {
    if probes == 0 {
        return Err(SecondOrderError::InvalidParameter(
            "probes must be ≥ 1".into(),
        ));
    }
    let n = a.nrows();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut az = vec![0.0; n];
    let samples: Vec<f64> = (0..probes)
        .map(|_| {
            let z = rademacher(&mut rng, n);
            a.apply(&z, &mut az);
            dot(&z, &az)
        })
        .collect();
    Ok(mean_and_error(&samples, 0.0, probes))
}

fn mean_and_error(samples: &[f64], offset: f64, matvecs: usize) -> TraceEstimate {
    let p = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / p;
    let var = if samples.len() > 1 {
        samples.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / (p - 1.0)
    } else {
        0.0
    };
    TraceEstimate {
        estimate: offset + mean,
        std_error: (var / p).sqrt(),
        matvecs,
    }
}

/// Hutch++ (Meyer, Musco, Musco & Woodruff 2021) with `matvecs` mat-vecs (a multiple of 3 is
/// used): a third sketch the range (`Q = orth(A S)`), a third compute `tr(QᵀAQ)` exactly, a
/// third run Hutchinson on the deflated `(I − QQᵀ) A (I − QQᵀ)`. Error `O(1/matvecs)` instead
/// of Hutchinson's `O(1/√matvecs)` for matrices with decaying spectra.
///
/// Errors: fewer than 3 mat-vecs, more than `3n`.
pub fn hutchpp(
    a: &dyn LinearOperator,
    matvecs: usize,
    seed: u64,
) -> Result<TraceEstimate, SecondOrderError> {
    let n = a.nrows();
    let k = matvecs / 3;
    if k == 0 || k > n {
        return Err(SecondOrderError::InvalidParameter(format!(
            "Hutch++ needs 3 ≤ matvecs ≤ 3n, got {matvecs} for n = {n}"
        )));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    // Q: orthonormal basis of A S (modified Gram–Schmidt, twice).
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(k);
    for _ in 0..k {
        let s = rademacher(&mut rng, n);
        let mut y = vec![0.0; n];
        a.apply(&s, &mut y);
        for _ in 0..2 {
            for qj in &q {
                let c = dot(qj, &y);
                y.iter_mut().zip(qj).for_each(|(v, w)| *v -= c * w);
            }
        }
        let norm = dot(&y, &y).sqrt();
        if norm > 1e-12 * (n as f64).sqrt() {
            y.iter_mut().for_each(|v| *v /= norm);
            q.push(y);
        }
    }
    let mut aq = vec![0.0; n];
    let exact: f64 = q
        .iter()
        .map(|qj| {
            a.apply(qj, &mut aq);
            dot(qj, &aq)
        })
        .sum();
    let mut samples = Vec::with_capacity(k);
    for _ in 0..k {
        let mut z = rademacher(&mut rng, n);
        for qj in &q {
            let c = dot(qj, &z);
            z.iter_mut().zip(qj).for_each(|(v, w)| *v -= c * w);
        }
        a.apply(&z, &mut aq);
        samples.push(dot(&z, &aq));
    }
    Ok(mean_and_error(&samples, exact, 3 * k))
}

/// A spectral density estimate: Gauss-quadrature nodes (Ritz values) and weights summing to 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpectralDensity {
    /// Nodes, ascending.
    pub nodes: Vec<f64>,
    /// Weights (sum 1).
    pub weights: Vec<f64>,
}

impl SpectralDensity {
    /// The Gaussian-broadened density `φ(t) = Σ_k w_k N(t; θ_k, σ²)` on `grid`.
    pub fn density(&self, grid: &[f64], sigma: f64) -> Vec<f64> {
        let c = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        grid.iter()
            .map(|&t| {
                self.nodes
                    .iter()
                    .zip(&self.weights)
                    .map(|(th, w)| w * c * (-(t - th) * (t - th) / (2.0 * sigma * sigma)).exp())
                    .sum()
            })
            .collect()
    }
    /// The estimated fraction of eigenvalues `≤ t` (the quadrature's CDF).
    pub fn cdf(&self, t: f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .filter(|(th, _)| **th <= t)
            .map(|(_, w)| w)
            .sum()
    }
}

/// Stochastic Lanczos quadrature (Lin, Saad & Yang 2016; Ghorbani et al. 2019): for each of
/// `probes` Rademacher vectors, `steps` Lanczos steps; the eigenvalues of the tridiagonal `T`
/// are nodes, the squared first components of its eigenvectors are weights; averaged over the
/// probes.
///
/// Cost: `probes · steps` mat-vecs plus `O(n·steps²)` per probe. Errors: `steps` not in
/// `1..=n`, `probes = 0`.
///
/// ```
/// use ritz_second_order::{Curvature, CurvatureOperator, LogisticRegression, Objective};
/// use ritz_second_order::{data::breast_cancer, spectra::slq};
/// let obj = LogisticRegression::new(breast_cancer(), 1e-3)?;
/// let h = CurvatureOperator::new(&obj, &vec![0.0; obj.dim()], Curvature::GaussNewton, 0.0)?;
/// let density = slq(&h, 20, 4, 0)?;
/// assert!((density.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
/// # Ok::<(), ritz_second_order::SecondOrderError>(())
/// ```
pub fn slq(
    a: &dyn LinearOperator,
    steps: usize,
    probes: usize,
    seed: u64,
) -> Result<SpectralDensity, SecondOrderError> {
    let n = a.nrows();
    if probes == 0 || steps == 0 || steps > n {
        return Err(SecondOrderError::InvalidParameter(format!(
            "SLQ needs probes ≥ 1 and 1 ≤ steps ≤ n, got {probes}, {steps}, n = {n}"
        )));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(probes * steps);
    for _ in 0..probes {
        let z = rademacher(&mut rng, n);
        let res = lanczos(
            a,
            &z,
            &LanczosParams {
                steps,
                ..Default::default()
            },
            &mut (),
        )
        .map_err(krylov_err)?;
        let basis = res.ritz_basis().map_err(krylov_err)?;
        for (k, &theta) in basis.values.iter().enumerate() {
            let s0 = basis.eigenvector(k)[0];
            pts.push((theta, s0 * s0 / probes as f64));
        }
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (nodes, weights) = pts.into_iter().unzip();
    Ok(SpectralDensity { nodes, weights })
}
