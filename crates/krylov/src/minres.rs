//! MINRES (Paige & Saunders, 1975) for symmetric, possibly indefinite systems — saddle-point
//! (KKT) matrices among them: the deterministic reference beside the randomized sketching
//! solvers ([`crate::sketch`]).
//!
//! Lanczos builds an orthonormal basis of the Krylov space; a QR factorization of its
//! tridiagonal matrix by Givens rotations, updated one column per step, gives the iterate that
//! minimizes `‖b − A x‖` over `x₀ + K_k(A, r₀)` with three-term vector recurrences. Per
//! iteration: one mat-vec and about 9 vector passes; memory: 6 vectors. The residual norm is
//! known without a mat-vec (`‖r_k‖ = |s_k| ‖r_{k−1}‖`), and that estimate is the stop test
//! (in exact arithmetic it is the true residual).

use crate::error::KrylovError;
use crate::solve::{Monitor, SolveInfo, SolveParams, StopReason, finite, prepare, rescaled};
use ritz_linalg::{LinearOperator, vector};

/// Solves the symmetric system `A x = b` by MINRES from the initial guess in `x`
/// (overwritten). `A` may be indefinite or singular-but-consistent; it must be symmetric
/// (not checked: a nonsymmetric `A` breaks the Lanczos recurrence and the residual estimate).
///
/// Errors: shapes, NaN/Inf input, invalid parameters, a non-finite iterate. Non-convergence
/// is [`StopReason::MaxIterations`]. Cost: see the [module](self) documentation.
///
/// ```
/// use ritz_krylov::{SolveParams, StopReason, minres::minres};
/// use ritz_linalg::CsrMatrix;
/// // [[2, 1], [1, 0]]: symmetric, indefinite (eigenvalues 1 ± √2).
/// let a = CsrMatrix::from_triplets(2, 2, &[(0, 0, 2.0), (0, 1, 1.0), (1, 0, 1.0)])?;
/// let mut x = [0.0; 2];
/// let params = SolveParams { rtol: 1e-12, ..Default::default() };
/// let info = minres(&a, &[3.0, 1.0], &mut x, &params, &mut ())?;
/// assert_eq!(info.stop, StopReason::Converged);
/// assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn minres(
    a: &dyn LinearOperator,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, KrylovError> {
    rescaled(b, x, params, &crate::reduce::Local, |b, x, params| {
        let mut prep = match prepare(a, b, x, params, None, monitor, &crate::reduce::Local) {
            Ok(p) => p,
            Err(done) => return done,
        };
        let n = b.len();
        // v: the current Lanczos vector, v_old the previous one; w, w_old, w_older the
        // search directions of the last three steps.
        let mut v = vec![0.0; n];
        a.apply(x, &mut v);
        for (vi, bi) in v.iter_mut().zip(prep.b.iter()) {
            *vi = bi - *vi;
        }
        let beta1 = vector::norm2(&v);
        if let Some(stop) = prep.record(0, beta1, monitor) {
            return Ok(prep.finish(x, 0, stop));
        }
        vector::scale(1.0 / beta1, &mut v);
        let mut v_old = vec![0.0; n];
        let mut q = vec![0.0; n];
        let mut w = vec![0.0; n];
        let mut w_old = vec![0.0; n];
        let mut w_older = vec![0.0; n];
        // Rotations of the last two steps: (c, s) now, (c_old, s_old) before.
        let (mut c_old, mut s_old, mut c, mut s) = (1.0f64, 0.0f64, 1.0f64, 0.0f64);
        let mut beta = beta1;
        let mut eta = beta1;
        let mut rnorm = beta1;
        let outcome = (|| {
            let mut it = 0;
            loop {
                if it >= params.max_iters {
                    return Ok((it, StopReason::MaxIterations));
                }
                it += 1;
                // Lanczos: q = A v − α v − β v_old.
                a.apply(&v, &mut q);
                let alpha = finite("Lanczos α", vector::dot(&v, &q), it)?;
                for k in 0..n {
                    q[k] -= alpha * v[k] + beta * v_old[k];
                }
                let beta_next = finite("Lanczos β", vector::norm2(&q), it)?;
                // The new column of the tridiagonal matrix under the previous rotations.
                let delta = c * alpha - c_old * s * beta;
                let rho1 = delta.hypot(beta_next);
                let rho2 = s * alpha + c_old * c * beta;
                let rho3 = s_old * beta;
                if rho1 == 0.0 {
                    // A singular, inconsistent direction: no further progress.
                    return Ok((it - 1, StopReason::Stalled));
                }
                // The new rotation.
                let (c_new, s_new) = (delta / rho1, beta_next / rho1);
                // w = (v − ρ3 w_older − ρ2 w_old) / ρ1; x += c_new η w.
                std::mem::swap(&mut w_older, &mut w_old);
                std::mem::swap(&mut w_old, &mut w);
                for k in 0..n {
                    w[k] = (v[k] - rho3 * w_older[k] - rho2 * w_old[k]) / rho1;
                    x[k] += c_new * eta * w[k];
                }
                rnorm *= s_new.abs();
                eta *= -s_new;
                (c_old, s_old, c, s) = (c, s, c_new, s_new);
                if let Some(stop) = prep.record(it, rnorm, monitor) {
                    return Ok((it, stop));
                }
                if beta_next == 0.0 {
                    // The Krylov space is invariant: x is the solution.
                    return Ok((it, StopReason::Converged));
                }
                // Next Lanczos vector.
                std::mem::swap(&mut v_old, &mut v);
                for k in 0..n {
                    v[k] = q[k] / beta_next;
                }
                beta = beta_next;
            }
        })();
        prep.conclude(x, outcome)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ritz_linalg::CsrMatrix;

    /// A KKT matrix [[H, Jᵀ], [J, 0]] with H SPD tridiagonal (n) and J (m × n) of full rank.
    fn kkt(n: usize, m: usize) -> CsrMatrix {
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 3.0 + (i % 3) as f64));
            if i + 1 < n {
                t.push((i, i + 1, -1.0));
                t.push((i + 1, i, -1.0));
            }
        }
        for r in 0..m {
            for (j, v) in [(r, 1.0), ((r + 1) % n, 0.5), ((3 * r + 2) % n, -0.25)] {
                t.push((n + r, j, v));
                t.push((j, n + r, v));
            }
        }
        CsrMatrix::from_triplets(n + m, n + m, &t).unwrap()
    }

    #[test]
    fn solves_a_saddle_point_system_to_the_true_residual() {
        let a = kkt(40, 12);
        let xs: Vec<f64> = (0..52).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
        let mut b = vec![0.0; 52];
        a.apply(&xs, &mut b);
        let mut x = vec![0.0; 52];
        let params = SolveParams {
            rtol: 1e-12,
            max_iters: 500,
            ..Default::default()
        };
        let info = minres(&a, &b, &mut x, &params, &mut ()).unwrap();
        assert_eq!(info.stop, StopReason::Converged);
        let mut r = vec![0.0; 52];
        a.apply(&x, &mut r);
        let true_rel = r
            .iter()
            .zip(&b)
            .map(|(u, v)| (u - v).powi(2))
            .sum::<f64>()
            .sqrt()
            / vector::norm2(&b);
        assert!(true_rel < 1e-10, "true relative residual {true_rel:e}");
        // The residual estimate never increases (MINRES minimizes it).
        assert!(
            info.residual_history
                .windows(2)
                .all(|w| w[1] <= w[0] * (1.0 + 1e-12))
        );
        // Zero right-hand side.
        let info = minres(&a, &[0.0; 52], &mut x, &params, &mut ()).unwrap();
        assert_eq!(info.stop, StopReason::ZeroRhs);
    }
}
