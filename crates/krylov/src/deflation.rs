//! Deflated PCG (Saad, Yeung, Erhel, Guyomarc'h 2000): CG in the A-orthogonal complement of a
//! given subspace `W` (typically Ritz vectors of the smallest eigenvalues, which are what slows
//! CG down).
//!
//! With `E = WᵀAW`: `x₀ ← x + W E⁻¹ Wᵀ (b − A x)`, and every search direction is made
//! A-orthogonal to `W`: `p ← z + βp − W E⁻¹ (AW)ᵀ z`. Convergence is governed by the effective
//! condition number `λ_max / λ_{k+1}` when `W` spans the `k` lowest eigenvectors.

use crate::error::KrylovError;
use crate::solve::{Monitor, SolveInfo, SolveParams};
use ritz_linalg::{LinalgError, LinearOperator, SpdPreconditioner, vector};

/// A deflation subspace bound to an operator: an A-orthonormal basis `W` (so `WᵀAW = I`) and
/// `AW`.
pub struct Deflation {
    w: Vec<Vec<f64>>,
    aw: Vec<Vec<f64>>,
}

/// Eigenvalues of `WᵀAW` below this fraction of the largest are dropped (dependent vectors,
/// vectors in or near the null space).
const RANK_TOL: f64 = 1e-10;

impl Deflation {
    /// Sets up deflation on the span of `w` (e.g. Ritz vectors of the smallest eigenvalues).
    ///
    /// The vectors are projected onto the operator's range (singular operators), then
    /// A-orthonormalized through the eigen-decomposition `WᵀAW = V Λ Vᵀ`: directions with
    /// `λ ≤ 1e-10 λ_max` — linearly dependent vectors, or vectors in the null space, as Lanczos
    /// produces on a floating region — are dropped, so [`len`](Self::len) may be smaller than
    /// `w.len()`. Cost: `k` mat-vecs, `k²` dot products, a `k × k` eigen-decomposition and
    /// `k²` axpys.
    ///
    /// Errors: a vector of the wrong length or with NaN, or `WᵀAW` with a negative eigenvalue
    /// beyond rounding (an indefinite operator).
    pub fn new(a: &dyn LinearOperator, mut w: Vec<Vec<f64>>) -> Result<Self, KrylovError> {
        let n = a.nrows();
        let k = w.len();
        let mut aw = Vec::with_capacity(k);
        for v in &mut w {
            ritz_linalg::error::check_len("deflation vector", n, v.len())?;
            ritz_linalg::error::check_finite("deflation vector", v)?;
            if let Some(ns) = a.null_space() {
                ns.project(v);
            }
            let mut y = vec![0.0; n];
            a.apply(v, &mut y);
            aw.push(y);
        }
        if k == 0 {
            return Ok(Self { w, aw });
        }
        // Symmetrized WᵀAW.
        let e = faer::Mat::from_fn(k, k, |i, j| {
            0.5 * (vector::dot(&w[i], &aw[j]) + vector::dot(&w[j], &aw[i]))
        });
        let evd = e
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| KrylovError::InvalidParameter(format!("WᵀAW eigensolver: {e:?}")))?;
        let lmax = (0..k).map(|i| evd.S()[i]).fold(0.0f64, f64::max);
        let lmin = (0..k).map(|i| evd.S()[i]).fold(f64::INFINITY, f64::min);
        if lmax <= 0.0 || lmin < -1e-8 * lmax {
            return Err(LinalgError::NotSpd {
                reason: format!("WᵀAW has eigenvalues in [{lmin:e}, {lmax:e}]"),
            }
            .into());
        }
        // W' = W V Λ^{-1/2} over the kept eigenvalues; AW' likewise.
        let mut w2 = Vec::new();
        let mut aw2 = Vec::new();
        for c in 0..k {
            let l = evd.S()[c];
            if l <= RANK_TOL * lmax {
                continue;
            }
            let s = 1.0 / l.sqrt();
            let (mut u, mut au) = (vec![0.0; n], vec![0.0; n]);
            for i in 0..k {
                let v = evd.U()[(i, c)] * s;
                vector::axpy(v, &w[i], &mut u);
                vector::axpy(v, &aw[i], &mut au);
            }
            w2.push(u);
            aw2.push(au);
        }
        Ok(Self { w: w2, aw: aw2 })
    }

    /// Number of deflation vectors.
    pub fn len(&self) -> usize {
        self.w.len()
    }
    /// True if no vectors.
    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }

    /// `dst ← dst + sign · W E⁻¹ Gᵀ src` with `G = AW` (`use_aw`) or `G = W`; `E = I` here.
    /// Cost: `2k` vector kernels.
    pub(crate) fn add_correction(&self, use_aw: bool, src: &[f64], sign: f64, dst: &mut [f64]) {
        let k = self.w.len();
        if k == 0 {
            return;
        }
        let g = if use_aw { &self.aw } else { &self.w };
        // E = WᵀAW = I: the coefficients are plain inner products.
        let mu: Vec<f64> = g.iter().map(|gi| vector::dot(gi, src)).collect();
        for i in 0..k {
            vector::axpy(sign * mu[i], &self.w[i], dst);
        }
    }
}

/// Solves `A x = b` by deflated PCG with an SPD preconditioner.
///
/// Cost per iteration: PCG's plus `2k` vector kernels for the correction.
///
/// Errors: as [`pcg`](crate::pcg()), plus a deflation basis of the wrong length.
///
/// ```
/// use ritz_krylov::deflation::{Deflation, deflated_pcg};
/// use ritz_krylov::{SolveParams, lanczos::{LanczosParams, lanczos}, precond::Jacobi};
/// use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
/// let p = PoissonProblem::new(Scene::Spheres.generate(2, 32, 0)?)?;
/// let b = RhsKind::SmoothDivergence.generate(&p, 0);
/// let lz = lanczos(&p, &b, &LanczosParams { steps: 40, ..Default::default() }, &mut ())?;
/// let w = Deflation::new(&p, lz.ritz_pairs(0..8)?.vectors)?; // the 8 lowest Ritz vectors
/// let mut x = vec![0.0; b.len()];
/// let info = deflated_pcg(&p, &Jacobi::new(&p)?, &w, &b, &mut x, &SolveParams::default(), &mut ())?;
/// assert!(info.converged());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    crate::cg::pcg_impl(
        a,
        &m,
        Some(defl),
        b,
        x,
        params,
        monitor,
        &crate::reduce::Local,
    )
}
