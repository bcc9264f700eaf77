//! Conjugate gradients and preconditioned conjugate gradients.
//!
//! Textbook CG (Hestenes–Stiefel) with the vector work fused into as few passes as possible:
//! per iteration one fused mat-vec `q = A p, pᵀq` (2 passes plus operator data for a
//! matrix-free stencil), `r -= αq, ‖r‖²` (3 passes) and `x += αp, p = r + βp` (5 passes) —
//! 10 vector passes, the floor for CG with three-term-free updates.

use crate::deflation::Deflation;
use crate::error::KrylovError;
use crate::reduce::{Local, Reduction, norm2};
use crate::solve::{
    Monitor, Prepared, SolveInfo, SolveParams, StopReason, curvature, finite, preconditioned,
    prepare, rescaled,
};
use ritz_linalg::{FusedPcg, LinearOperator, Preconditioner, SpdPreconditioner, vector};

/// Solves `A x = b` by conjugate gradients, starting from the given `x`.
///
/// `A` must be symmetric positive definite, or semi-definite with its null space exposed by
/// [`LinearOperator::null_space`] and `b` consistent (it is projected onto the range here).
///
/// Cost per iteration: one mat-vec and 10 vector passes; memory: 3 vectors of scratch.
///
/// Errors: shape mismatch, NaN/Inf in `b` or `x`, `pᵀAp ≤ 0` (not SPD), NaN during the
/// iteration. Non-convergence within `max_iters` is [`StopReason::MaxIterations`].
///
/// ```
/// use ritz_krylov::{SolveParams, cg};
/// use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
/// let p = PoissonProblem::new(Scene::Organic.generate(2, 32, 0)?)?;
/// let b = RhsKind::SmoothDivergence.generate(&p, 0);
/// let mut x = vec![0.0; b.len()];
/// let mut seen = Vec::new(); // a monitor: any FnMut(iteration, ‖r‖/‖b‖)
/// let info = cg(&p, &b, &mut x, &SolveParams::default(), &mut |_, rel| seen.push(rel))?;
/// assert!(info.converged() && seen.len() == info.iterations + 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cg(
    a: &dyn LinearOperator,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    cg_with(a, b, x, params, monitor, &Local)
}

/// [`cg`] on vectors split across processes: `a`, `b` and `x` are this process's part, and
/// `red` sums every inner product over the parts (one all-reduce per fused inner product:
/// two per iteration). With [`Local`] it is [`cg`], bit for bit. Collective: every part must
/// call it with the same parameters; validation failures and breakdowns are reported on every
/// part.
///
/// ```
/// use ritz_krylov::{SolveParams, cg_with, reduce::Local};
/// use ritz_linalg::CsrMatrix;
/// let a = CsrMatrix::from_triplets(2, 2, &[(0, 0, 2.0), (1, 1, 4.0)])?;
/// let mut x = vec![0.0; 2];
/// let info = cg_with(&a, &[2.0, 4.0], &mut x, &SolveParams::default(), &mut (), &Local)?;
/// assert!(info.converged() && (x[0] - 1.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cg_with(
    a: &dyn LinearOperator,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
    red: &dyn Reduction,
) -> Result<SolveInfo, KrylovError> {
    rescaled(b, x, params, red, |b, x, params| {
        cg_inner(a, b, x, params, monitor, red)
    })
}

fn cg_inner(
    a: &dyn LinearOperator,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
    red: &dyn Reduction,
) -> Result<SolveInfo, KrylovError> {
    let mut sys = match prepare(a, b, x, params, None, monitor, red) {
        Ok(s) => s,
        Err(done) => return done,
    };
    let outcome = cg_loop(a, &mut sys, x, params, monitor);
    sys.conclude(x, outcome)
}

fn cg_loop(
    a: &dyn LinearOperator,
    sys: &mut Prepared<'_>,
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<(usize, StopReason), KrylovError> {
    let n = x.len();
    let mut r = vec![0.0; n];
    let mut q = vec![0.0; n];
    ritz_linalg::operator::residual(a, &sys.b, x, &mut r);
    let red = sys.red;
    let mut rr = finite("residual", red.sum1(vector::dot(&r, &r)), 0)?;
    let mut p = r.clone();
    let mut it = 0;
    let mut stop = sys.record(0, rr.sqrt(), monitor);
    while stop.is_none() && it < params.max_iters {
        it += 1;
        let pap = curvature("pᵀAp", red.sum1(a.apply_dot(&p, &mut q)), it)?;
        let alpha = rr / pap;
        let rr_new = finite(
            "residual",
            red.sum1(vector::axpy_norm2sq(-alpha, &q, &mut r)),
            it,
        )?;
        let beta = rr_new / rr;
        // x += α p, then p = r + β p.
        vector::cg_update_xp(alpha, beta, &r, x, &mut p);
        rr = rr_new;
        stop = sys.record(it, rr.sqrt(), monitor);
    }
    Ok((it, stop.unwrap_or(StopReason::MaxIterations)))
}

/// Solves `A x = b` by preconditioned conjugate gradients with an SPD preconditioner `M⁻¹`.
///
/// The type bound admits only [`SpdPreconditioner`]s: PCG's short recurrences assume a fixed
/// linear SPD map. Nonlinear or varying preconditioners (neural networks) belong to
/// [`fcd`](crate::fcd()). For singular `A` the preconditioned residual is projected onto the
/// range each iteration.
///
/// Cost per iteration: one mat-vec, one preconditioner application and 12 vector passes.
///
/// Errors: as [`cg`], plus a preconditioner dimension mismatch, `rᵀz ≤ 0` (preconditioner not
/// positive definite) and NaN from the preconditioner.
pub fn pcg<M: SpdPreconditioner + ?Sized>(
    a: &dyn LinearOperator,
    m: &M,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    pcg_impl(a, &m, None, b, x, params, monitor, &Local)
}

/// [`pcg`] on vectors split across processes (see [`cg_with`]): three all-reduces per
/// iteration (`pᵀq`, `rᵀr`, `rᵀz`); `m` acts on this process's part (a block-Jacobi or a
/// distributed V-cycle). With [`Local`] it is [`pcg`], bit for bit.
///
/// ```
/// use ritz_krylov::{SolveParams, pcg_with, precond::Jacobi, reduce::Local};
/// use ritz_linalg::CsrMatrix;
/// let a = CsrMatrix::from_triplets(2, 2, &[(0, 0, 2.0), (1, 1, 4.0)])?;
/// let m = Jacobi::new(&a)?;
/// let mut x = vec![0.0; 2];
/// let info = pcg_with(&a, &m, &[2.0, 4.0], &mut x, &SolveParams::default(), &mut (), &Local)?;
/// assert!(info.iterations == 1 && (x[1] - 1.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pcg_with<M: SpdPreconditioner + ?Sized>(
    a: &dyn LinearOperator,
    m: &M,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
    red: &dyn Reduction,
) -> Result<SolveInfo, KrylovError> {
    pcg_impl(a, &m, None, b, x, params, monitor, red)
}

/// Solves `A x = b` by preconditioned conjugate gradients whose vector work is done by a
/// [`FusedPcg`] implementor — the same iteration as [`pcg`], in fewer passes over memory (e.g.
/// MGPCG's residual narrowed to single precision inside its update, `z` never widened to
/// `f64`; see [`ritz_linalg::fused`]). `a` is the operator the kernels represent: it validates
/// the system, gives the initial residual and the null space (`b` and the final `x` are
/// projected onto the range).
///
/// Cost per iteration: the implementor's four kernels (a mat-vec with `pᵀq`, the residual
/// update with `rᵀr`, the preconditioner with `rᵀz`, the direction update); one operator
/// application and one vector of scratch for the initial residual.
///
/// Errors: as [`pcg`]; a kernel dimension different from `a`'s is a shape error.
///
/// ```
/// use ritz_krylov::{SolveParams, pcg_fused};
/// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene, rhs::RhsKind};
/// let p = PoissonProblem::new(Scene::Spheres.generate(3, 24, 0)?)?;
/// let mg = GridMultigrid::new(&p, MultigridParams::default())?;
/// let b = RhsKind::SmoothDivergence.generate(&p, 0);
/// let mut x = vec![0.0; b.len()];
/// let info = pcg_fused(&p, &mut mg.fused(&p)?, &b, &mut x, &SolveParams::default(), &mut ())?;
/// assert!(info.converged() && info.iterations < 15);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pcg_fused(
    a: &dyn LinearOperator,
    k: &mut dyn FusedPcg,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    pcg_fused_with(a, k, b, x, params, monitor, &Local)
}

/// [`pcg_fused`] on vectors split across processes (see [`cg_with`]): each kernel's inner
/// product is this part's, summed by `red` — one all-reduce per kernel, four per iteration.
/// With [`Local`] it is [`pcg_fused`], bit for bit.
pub fn pcg_fused_with(
    a: &dyn LinearOperator,
    k: &mut dyn FusedPcg,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
    red: &dyn Reduction,
) -> Result<SolveInfo, KrylovError> {
    rescaled(b, x, params, red, |b, x, params| {
        let mut sys = match prepare(a, b, x, params, Some(k.dim()), monitor, red) {
            Ok(s) => s,
            Err(done) => return done,
        };
        let outcome = pcg_fused_loop(k, &mut sys, x, params, monitor);
        sys.conclude(x, outcome)
    })
}

fn pcg_fused_loop(
    k: &mut dyn FusedPcg,
    sys: &mut Prepared<'_>,
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<(usize, StopReason), KrylovError> {
    let red = sys.red;
    let rr = finite("residual", red.sum1(k.start(&sys.b, x)), 0)?;
    if let Some(stop) = sys.record(0, rr.sqrt(), monitor) {
        return Ok((0, stop));
    }
    let mut rz = preconditioned("rᵀz", red.sum1(k.precondition()), 0)?;
    k.restart_direction();
    let mut pap = k.curvature();
    let mut it = 0;
    let mut stop = StopReason::MaxIterations;
    while it < params.max_iters {
        it += 1;
        let alpha = rz / curvature("pᵀAp", red.sum1(pap), it)?;
        let rr = finite("residual", red.sum1(k.update_residual(alpha)), it)?;
        if let Some(s) = sys.record(it, rr.sqrt(), monitor) {
            k.update_solution(alpha, x);
            stop = s;
            break;
        }
        let rz_new = preconditioned("rᵀz", red.sum1(k.precondition()), it)?;
        pap = k.update_direction_curvature(alpha, rz_new / rz, x);
        rz = rz_new;
    }
    Ok((it, stop))
}

/// PCG, optionally deflated (see [`deflation`](crate::deflation)): with a deflation space `W`
/// the initial guess is corrected by `W E⁻¹ Wᵀ r₀` and every direction is made A-orthogonal to
/// `W`.
pub(crate) fn pcg_impl(
    a: &dyn LinearOperator,
    m: &dyn Preconditioner,
    defl: Option<&Deflation>,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
    red: &dyn Reduction,
) -> Result<SolveInfo, KrylovError> {
    rescaled(b, x, params, red, |b, x, params| {
        pcg_inner(a, m, defl, b, x, params, monitor, red)
    })
}

fn pcg_inner(
    a: &dyn LinearOperator,
    m: &dyn Preconditioner,
    defl: Option<&Deflation>,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
    red: &dyn Reduction,
) -> Result<SolveInfo, KrylovError> {
    let mut sys = match prepare(a, b, x, params, Some(m.dim()), monitor, red) {
        Ok(s) => s,
        Err(done) => return done,
    };
    let outcome = pcg_loop(a, m, defl, &mut sys, x, params, monitor);
    sys.conclude(x, outcome)
}

fn pcg_loop(
    a: &dyn LinearOperator,
    m: &dyn Preconditioner,
    defl: Option<&Deflation>,
    sys: &mut Prepared<'_>,
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<(usize, StopReason), KrylovError> {
    let n = x.len();
    let mut r = vec![0.0; n];
    let mut z = vec![0.0; n];
    let mut q = vec![0.0; n];
    ritz_linalg::operator::residual(a, &sys.b, x, &mut r);
    if let Some(d) = defl.filter(|d| !d.is_empty()) {
        // x0 = x + W E⁻¹ Wᵀ r.
        d.add_correction(false, &r, 1.0, x);
        ritz_linalg::operator::residual(a, &sys.b, x, &mut r);
    }
    let red = sys.red;
    let rnorm = finite("residual", norm2(red, &r), 0)?;
    if let Some(stop) = sys.record(0, rnorm, monitor) {
        return Ok((0, stop));
    }
    let mut rz = sys.precondition(m, &r, &mut z, 0)?;
    let mut p = z.clone();
    if let Some(d) = defl {
        d.add_correction(true, &z, -1.0, &mut p);
    }
    let mut it = 0;
    let mut stop = StopReason::MaxIterations;
    while it < params.max_iters {
        it += 1;
        let pap = curvature("pᵀAp", red.sum1(a.apply_dot(&p, &mut q)), it)?;
        let alpha = rz / pap;
        let rr = finite(
            "residual",
            red.sum1(vector::axpy_norm2sq(-alpha, &q, &mut r)),
            it,
        )?;
        if let Some(s) = sys.record(it, rr.sqrt(), monitor) {
            vector::axpy(alpha, &p, x);
            stop = s;
            break;
        }
        let rz_new = sys.precondition(m, &r, &mut z, it)?;
        let beta = rz_new / rz;
        rz = rz_new;
        // x += α p, then p = z + β p.
        vector::cg_update_xp(alpha, beta, &z, x, &mut p);
        if let Some(d) = defl {
            // p ← p − W E⁻¹ (AW)ᵀ z (the β p part is already A-orthogonal to W).
            d.add_correction(true, &z, -1.0, &mut p);
        }
    }
    Ok((it, stop))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ritz_linalg::{CsrMatrix, IdentityPreconditioner};

    fn laplace1d(n: usize) -> CsrMatrix {
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 2.0));
            if i > 0 {
                t.push((i, i - 1, -1.0));
                t.push((i - 1, i, -1.0));
            }
        }
        CsrMatrix::from_triplets(n, n, &t).unwrap()
    }

    #[test]
    fn cg_converges_in_at_most_n_steps_and_pcg_identity_matches() {
        let a = laplace1d(50);
        let b: Vec<f64> = (0..50).map(|i| (i as f64).sin()).collect();
        let mut x = vec![0.0; 50];
        let params = SolveParams {
            rtol: 1e-10,
            ..Default::default()
        };
        let info = cg(&a, &b, &mut x, &params, &mut ()).unwrap();
        assert!(info.converged() && info.iterations <= 50);
        let mut x2 = vec![0.0; 50];
        let info2 = pcg(
            &a,
            &IdentityPreconditioner { n: 50 },
            &b,
            &mut x2,
            &params,
            &mut (),
        )
        .unwrap();
        assert_eq!(info.iterations, info2.iterations);
        let mut r = vec![0.0; 50];
        ritz_linalg::operator::residual(&a, &b, &x, &mut r);
        assert!(vector::norm2(&r) < 1e-9 * vector::norm2(&b));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let a = laplace1d(4);
        let mut x = vec![0.0; 4];
        let p = SolveParams::default();
        assert!(matches!(
            cg(&a, &[1.0, f64::NAN, 0.0, 0.0], &mut x, &p, &mut ()),
            Err(KrylovError::Linalg(
                ritz_linalg::LinalgError::NonFinite { .. }
            ))
        ));
        assert!(matches!(
            cg(&a, &[1.0, 2.0, 3.0], &mut x, &p, &mut ()),
            Err(KrylovError::Linalg(ritz_linalg::LinalgError::Shape { .. }))
        ));
        let neg = CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0), (1, 1, -1.0)]).unwrap();
        let mut x = vec![0.0; 2];
        assert!(matches!(
            cg(&neg, &[0.0, 1.0], &mut x, &p, &mut ()),
            Err(KrylovError::NotPositiveDefinite { .. })
        ));
        let zero = cg(&a, &[0.0; 4], &mut [1.0; 4], &p, &mut ()).unwrap();
        assert_eq!(zero.stop, StopReason::ZeroRhs);
    }
}
