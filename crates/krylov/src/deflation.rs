//! Deflated PCG (Saad, Yeung, Erhel, Guyomarc'h 2000): CG in the A-orthogonal complement of a
//! given subspace `W` (typically Ritz vectors of the smallest eigenvalues, which are what slows
//! CG down).
//!
//! With `E = WᵀAW`: `x₀ ← x + W E⁻¹ Wᵀ (b − A x)`, and every search direction is made
//! A-orthogonal to `W`: `p ← z + βp − W E⁻¹ (AW)ᵀ z`. Convergence is governed by the effective
//! condition number `λ_max / λ_{k+1}` when `W` spans the `k` lowest eigenvectors.

use crate::error::KrylovError;
use crate::solve::{Monitor, SolveInfo, SolveParams};
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
    pub(crate) fn add_correction(&self, use_aw: bool, src: &[f64], sign: f64, dst: &mut [f64]) {
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
    if let Some(w0) = defl.w.first() {
        ritz_linalg::error::check_len("deflation vector", a.nrows(), w0.len())?;
    }
    crate::cg::pcg_impl(a, &m, Some(defl), b, x, params, monitor)
}
