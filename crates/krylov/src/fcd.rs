//! Flexible (truncated) conjugate directions: the iteration of DCDM (Kaneda et al., ICML 2023).
//!
//! ```text
//! r = b − A x
//! loop:  q = M(r / ‖r‖)                          any map: linear, nonlinear, varying
//!        q −= Σ_{j ∈ last k} p_j (qᵀA p_j)/(p_jᵀA p_j)  A-orthogonalize against k directions
//!        α = qᵀr / qᵀAq ;  x += α q ;  r −= α A q   exact line search: M's scale cancels
//! ```
//! With a linear SPD `M` and `k ≥ 1` this reproduces PCG's iterates in exact arithmetic; with a
//! nonlinear `M` it is flexible CG truncated to `k` directions (Notay's FCG, PETSc `fcg`).
//! Every step minimizes the A-norm error over the new direction, so the A-norm error never grows.

use crate::error::KrylovError;
use crate::solve::{
    Monitor, Prepared, SolveInfo, SolveParams, StopReason, curvature, finite, prepare, rescaled,
};
use ritz_linalg::{LinearOperator, Preconditioner, vector};
use serde::{Deserialize, Serialize};

/// Parameters of [`fcd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FcdParams {
    /// Stop test and iteration limit.
    pub solve: SolveParams,
    /// Number of previous directions each new one is A-orthogonalized against (DCDM: 2).
    pub k: usize,
    /// Feed `r / ‖r‖` (true, as DCDM) or `r` to the preconditioner.
    pub normalize_residual: bool,
    /// Recompute the true residual `b − A x` every this many iterations (0 = never; the DCDM
    /// reference code does it every iteration, which costs one extra mat-vec).
    pub true_residual_every: usize,
}

impl Default for FcdParams {
    fn default() -> Self {
        Self {
            solve: SolveParams::default(),
            k: 2,
            normalize_residual: true,
            true_residual_every: 0,
        }
    }
}

/// Solves `A x = b` with the flexible conjugate-direction iteration, preconditioned by any map.
///
/// Cost per iteration: one preconditioner application, one mat-vec (two with true-residual
/// recomputation), `2k + 4` dot/axpy kernels; memory: `2(k + 1) + 2` vectors.
///
/// Errors: as [`cg`](crate::cg()); `k` so large that the kept directions exceed the available
/// memory ([`LinalgError::OutOfMemory`](ritz_linalg::LinalgError::OutOfMemory)); a direction with `qᵀAq ≤ 0` (e.g. a preconditioner that
/// returns zero or a vector in the span of the previous directions) is reported as
/// `NotPositiveDefinite { what: "search direction" }`, a NaN from the preconditioner as
/// `NonFiniteIterate`.
///
/// ```
/// use ritz_krylov::{FcdParams, fcd, precond::Jacobi};
/// use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
/// let p = PoissonProblem::new(Scene::Pillars.generate(2, 32, 0)?)?;
/// let b = RhsKind::Buoyancy.generate(&p, 0);
/// let mut x = vec![0.0; b.len()];
/// let params = FcdParams { k: 4, ..Default::default() };
/// let info = fcd(&p, &Jacobi::new(&p)?, &b, &mut x, &params, &mut ())?;
/// assert!(info.converged());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fcd(
    a: &dyn LinearOperator,
    m: &dyn Preconditioner,
    b: &[f64],
    x: &mut [f64],
    params: &FcdParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    rescaled(b, x, &params.solve, &crate::reduce::Local, |b, x, sp| {
        fcd_inner(
            a,
            m,
            b,
            x,
            &FcdParams {
                solve: *sp,
                ..*params
            },
            monitor,
        )
    })
}

fn fcd_inner(
    a: &dyn LinearOperator,
    m: &dyn Preconditioner,
    b: &[f64],
    x: &mut [f64],
    params: &FcdParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    let sp = &params.solve;
    let mut sys = match prepare(a, b, x, sp, Some(m.dim()), monitor, &crate::reduce::Local) {
        Ok(s) => s,
        Err(done) => return done,
    };
    let outcome = fcd_loop(a, m, &mut sys, x, params, monitor);
    sys.conclude(x, outcome)
}

fn fcd_loop(
    a: &dyn LinearOperator,
    m: &dyn Preconditioner,
    sys: &mut Prepared<'_>,
    x: &mut [f64],
    params: &FcdParams,
    monitor: &mut dyn Monitor,
) -> Result<(usize, StopReason), KrylovError> {
    let sp = &params.solve;
    let n = x.len();
    let k = params.k;
    ritz_linalg::mem::check(
        || format!("{k} kept directions of the flexible conjugate-direction iteration"),
        ritz_linalg::mem::product(&[2 * k.saturating_add(1) + 2, n, 8]),
    )?;
    let mut r = vec![0.0; n];
    let mut s = vec![0.0; n];
    // Ring of k + 1 slots: (p, A p, pᵀ A p).
    let mut dirs: Vec<(Vec<f64>, Vec<f64>, f64)> = (0..k + 1)
        .map(|_| (vec![0.0; n], vec![0.0; n], 0.0))
        .collect();
    ritz_linalg::operator::residual(a, &sys.b, x, &mut r);
    let mut rnorm = finite("residual", vector::norm2(&r), 0)?;
    let mut it = 0;
    let mut stop = sys.record(0, rnorm, monitor);
    while stop.is_none() && it < sp.max_iters {
        it += 1;
        let slot = (it - 1) % (k + 1);
        let (mut q, mut aq, _) = std::mem::take(&mut dirs[slot]);
        if params.normalize_residual {
            vector::scale_into(1.0 / rnorm, &r, &mut s);
            m.apply(&s, &mut q);
        } else {
            m.apply(&r, &mut q);
        }
        if vector::first_non_finite(&q).is_some() {
            return Err(KrylovError::NonFiniteIterate {
                what: "preconditioner output",
                iteration: it,
                relative_residual: f64::NAN,
            });
        }
        if let Some(ns) = sys.null_space {
            ns.project(&mut q);
        }
        // A-orthogonalize against the previous min(k, it-1) directions (newest first).
        for back in 1..=k.min(it - 1) {
            let (pj, apj, pjapj) = &dirs[(it - 1 - back) % (k + 1)];
            let c = vector::dot(&q, apj) / pjapj;
            vector::axpy(-c, pj, &mut q);
        }
        let qaq = curvature("qᵀAq", a.apply_dot(&q, &mut aq), it)?;
        let alpha = vector::dot(&q, &r) / qaq;
        vector::axpy(alpha, &q, x);
        let recompute = params.true_residual_every > 0 && it % params.true_residual_every == 0;
        let rr = if recompute {
            ritz_linalg::operator::residual(a, &sys.b, x, &mut r);
            vector::dot(&r, &r)
        } else {
            vector::axpy_norm2sq(-alpha, &aq, &mut r)
        };
        rnorm = finite("residual", rr.sqrt(), it)?;
        dirs[slot] = (q, aq, qaq);
        stop = sys.record(it, rnorm, monitor);
    }
    Ok((it, stop.unwrap_or(StopReason::MaxIterations)))
}
