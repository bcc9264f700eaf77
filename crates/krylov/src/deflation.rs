//! Deflated PCG (Saad, Yeung, Erhel, Guyomarc'h 2000): CG in the A-orthogonal complement of a
//! given subspace `W` (typically Ritz vectors of the smallest eigenvalues, which are what slows
//! CG down).
//!
//! With `E = WᵀAW`: `x₀ ← x + W E⁻¹ Wᵀ (b − A x)`, and every search direction is made
//! A-orthogonal to `W`: `p ← z + βp − W E⁻¹ (AW)ᵀ z`. Convergence is governed by the effective
//! condition number `λ_max / λ_{k+1}` when `W` spans the `k` lowest eigenvectors.

use crate::cg::zero_rhs;
use crate::error::KrylovError;
use crate::solve::{
    Monitor, SolveInfo, SolveParams, StopReason, check_system, finite, projected_rhs,
};
use faer::linalg::solvers::Solve;
use ritz_linalg::{LinalgError, LinearOperator, SpdPreconditioner, vector};

/// A deflation subspace bound to an operator: `W`, `AW` and the Cholesky factor of `WᵀAW`.
pub struct Deflation {
    w: Vec<Vec<f64>>,
    aw: Vec<Vec<f64>>,
    e: faer::linalg::solvers::Llt<f64>,
}

impl Deflation {
    /// Sets up deflation with basis vectors `w` (linearly independent; e.g. Ritz vectors).
    /// Cost: `k` mat-vecs and `k²` dot products.
    ///
    /// Errors: a vector of the wrong length or with NaN, or `WᵀAW` not positive definite
    /// (dependent vectors, vectors in the null space).
    pub fn new(a: &dyn LinearOperator, w: Vec<Vec<f64>>) -> Result<Self, KrylovError> {
        let n = a.nrows();
        let k = w.len();
        let mut aw = Vec::with_capacity(k);
        for v in &w {
            ritz_linalg::error::check_len("deflation vector", n, v.len())?;
            ritz_linalg::error::check_finite("deflation vector", v)?;
            let mut y = vec![0.0; n];
            a.apply(v, &mut y);
            aw.push(y);
        }
        let e = faer::Mat::from_fn(k, k, |i, j| vector::dot(&w[i], &aw[j]));
        let e = e.llt(faer::Side::Lower).map_err(|_| LinalgError::NotSpd {
            reason: "WᵀAW is not positive definite (dependent or null-space deflation vectors)"
                .into(),
        })?;
        Ok(Self { w, aw, e })
    }

    /// Number of deflation vectors.
    pub fn len(&self) -> usize {
        self.w.len()
    }
    /// True if no vectors.
    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }

    /// `dst ← dst + sign · W E⁻¹ Gᵀ src` with `G = AW` (`use_aw`) or `G = W`.
    /// Cost: `2k` vector kernels and a `k × k` triangular solve pair.
    fn add_correction(&self, use_aw: bool, src: &[f64], sign: f64, dst: &mut [f64]) {
        let k = self.w.len();
        if k == 0 {
            return;
        }
        let g = if use_aw { &self.aw } else { &self.w };
        let rhs = faer::Mat::from_fn(k, 1, |i, _| vector::dot(&g[i], src));
        let mu = self.e.solve(&rhs);
        for i in 0..k {
            vector::axpy(sign * mu[(i, 0)], &self.w[i], dst);
        }
    }
}

/// Solves `A x = b` by deflated PCG with an SPD preconditioner.
///
/// Cost per iteration: PCG's plus `2k` vector kernels for the correction.
///
/// Errors: as [`pcg`](crate::pcg()), plus a deflation basis of the wrong length.
pub fn deflated_pcg<M: SpdPreconditioner + ?Sized>(
    a: &dyn LinearOperator,
    m: &M,
    defl: &Deflation,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    check_system(a, b, x, params)?;
    ritz_linalg::error::check_len("preconditioner dimension", a.nrows(), m.dim())?;
    if let Some(w0) = defl.w.first() {
        ritz_linalg::error::check_len("deflation vector", a.nrows(), w0.len())?;
    }
    let (bp, bnorm) = projected_rhs(a, b);
    let b = bp.as_deref().unwrap_or(b);
    let n = b.len();
    if bnorm == 0.0 {
        vector::fill(x, 0.0);
        return Ok(zero_rhs(monitor));
    }
    let ns = a.null_space();
    let thr = params.threshold(bnorm);
    let mut r = vec![0.0; n];
    let mut z = vec![0.0; n];
    let mut q = vec![0.0; n];
    // x0 = x + W E⁻¹ Wᵀ r.
    ritz_linalg::operator::residual(a, b, x, &mut r);
    if !defl.is_empty() {
        defl.add_correction(false, &r, 1.0, x);
        ritz_linalg::operator::residual(a, b, x, &mut r);
    }
    let rnorm = finite("residual", vector::norm2(&r), 0)?;
    let mut hist = vec![rnorm / bnorm];
    monitor.observe(0, hist[0]);
    let mut stop = StopReason::MaxIterations;
    let mut it = 0;
    if rnorm <= thr {
        stop = StopReason::Converged;
    } else {
        let precondition = |r: &[f64], z: &mut [f64], it: usize| -> Result<f64, KrylovError> {
            m.apply(r, z);
            if let Some(ns) = ns {
                ns.project(z);
            }
            let rz = finite("rᵀz", vector::dot(r, z), it)?;
            if rz <= 0.0 {
                return Err(KrylovError::NotPositiveDefinite {
                    what: "preconditioner",
                    value: rz,
                    iteration: it,
                });
            }
            Ok(rz)
        };
        let mut rz = precondition(&r, &mut z, 0)?;
        let mut p = z.clone();
        defl.add_correction(true, &z, -1.0, &mut p);
        while it < params.max_iters {
            it += 1;
            let pap = finite("pᵀAp", a.apply_dot(&p, &mut q), it)?;
            if pap <= 0.0 {
                return Err(KrylovError::NotPositiveDefinite {
                    what: "operator",
                    value: pap,
                    iteration: it,
                });
            }
            let alpha = rz / pap;
            vector::axpy(alpha, &p, x);
            let rr = finite("residual", vector::axpy_norm2sq(-alpha, &q, &mut r), it)?;
            hist.push(rr.sqrt() / bnorm);
            monitor.observe(it, rr.sqrt() / bnorm);
            if rr.sqrt() <= thr {
                stop = StopReason::Converged;
                break;
            }
            let rz_new = precondition(&r, &mut z, it)?;
            let beta = rz_new / rz;
            rz = rz_new;
            vector::xpby(&z, beta, &mut p);
            // p ← p − W E⁻¹ (AW)ᵀ z  (the β p part is already A-orthogonal to W).
            defl.add_correction(true, &z, -1.0, &mut p);
        }
    }
    if let Some(ns) = ns {
        ns.project(x);
    }
    Ok(SolveInfo {
        iterations: it,
        residual_history: hist,
        stop,
        rhs_norm: bnorm,
    })
}
