//! Shared solver vocabulary: parameters, stop test, monitors, results.

use crate::error::KrylovError;
use crate::reduce::{Reduction, norm2};
use ritz_linalg::error::{check_finite, check_len};
use ritz_linalg::{LinearOperator, vector};
use serde::{Deserialize, Serialize};

/// Stopping parameters shared by the iterative solvers.
///
/// The stop test is `‖r_k‖₂ ≤ max(atol, rtol · ‖b‖₂)` on the (recursively updated) residual,
/// the convention of SciPy and PETSc's default test with a zero initial guess. The divergence
/// test (PETSc's `dtol`) stops with [`StopReason::Diverged`] once `‖r_k‖₂ > dtol · ‖b‖₂`, e.g.
/// CG on an inconsistent singular system whose null space the operator does not expose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolveParams {
    /// Relative tolerance (to `‖b‖`).
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Maximum number of iterations.
    pub max_iters: usize,
    /// Divergence tolerance: stop when `‖r_k‖ > dtol · ‖b‖` (default 1e8; `f64::INFINITY`
    /// disables the test).
    #[serde(default = "default_dtol")]
    pub dtol: f64,
}

fn default_dtol() -> f64 {
    1e8
}

impl Default for SolveParams {
    fn default() -> Self {
        Self {
            rtol: 1e-6,
            atol: 0.0,
            max_iters: 10_000,
            dtol: default_dtol(),
        }
    }
}

impl SolveParams {
    /// Errors on negative or NaN tolerances, or a divergence tolerance below 1.
    pub fn validate(&self) -> Result<(), KrylovError> {
        if !(self.rtol >= 0.0 && self.atol >= 0.0) {
            return Err(KrylovError::InvalidParameter(format!(
                "tolerances must be non-negative, got rtol = {}, atol = {}",
                self.rtol, self.atol
            )));
        }
        if self.dtol.is_nan() || self.dtol < 1.0 {
            return Err(KrylovError::InvalidParameter(format!(
                "the divergence tolerance must be at least 1, got dtol = {}",
                self.dtol
            )));
        }
        Ok(())
    }
    /// The absolute threshold for `‖r‖` given `‖b‖`.
    pub fn threshold(&self, bnorm: f64) -> f64 {
        self.atol.max(self.rtol * bnorm)
    }
}

/// Why an iterative solver stopped — the one vocabulary of the ritz solvers (Krylov solvers,
/// optimal transport, optimizers). Serialized in kebab-case (`"max-iterations"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The stop test was met (an exact solver finished).
    Converged,
    /// `max_iters` iterations were made without meeting the stop test.
    MaxIterations,
    /// The right-hand side is zero: the solution is zero.
    ZeroRhs,
    /// The residual grew past `dtol · ‖b‖` (an inconsistent or indefinite system); `x` holds
    /// the last iterate.
    Diverged,
    /// The time limit was reached first.
    TimeLimit,
    /// No further progress is possible in floating point (no step decreases the merit
    /// function); the history shows the best value reached.
    Stalled,
}

/// What a solve returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolveInfo {
    /// Number of iterations (preconditioner applications / search directions).
    pub iterations: usize,
    /// `‖r_k‖ / ‖b‖` for `k = 0..=iterations` (recursive residual).
    pub residual_history: Vec<f64>,
    /// Why it stopped.
    pub stop: StopReason,
    /// `‖b‖₂` (after null-space projection).
    pub rhs_norm: f64,
    /// Seconds since the solve started, for each entry of `residual_history`.
    #[serde(default)]
    pub elapsed_s: Vec<f64>,
}

impl SolveInfo {
    /// Last relative residual of the history.
    pub fn final_relative_residual(&self) -> f64 {
        *self.residual_history.last().unwrap_or(&0.0)
    }
    /// True if converged (or trivially solved).
    pub fn converged(&self) -> bool {
        matches!(self.stop, StopReason::Converged | StopReason::ZeroRhs)
    }
}

/// An observer called once per iteration with `(iteration, measure)`, where the measure is the
/// solver's progress quantity: `‖r‖/‖b‖` for the Krylov solvers, the marginal error for the
/// optimal-transport solvers, `‖∇f‖` for the optimizers. It cannot change the iteration (the
/// stop test is separate). Closures `FnMut(usize, f64)` are monitors; `()` is the silent
/// monitor.
pub trait Monitor {
    /// Called after iteration `iteration` (0 = the starting point).
    fn observe(&mut self, iteration: usize, measure: f64);
}

impl Monitor for () {
    fn observe(&mut self, _: usize, _: f64) {}
}

impl<F: FnMut(usize, f64)> Monitor for F {
    fn observe(&mut self, iteration: usize, relative_residual: f64) {
        self(iteration, relative_residual)
    }
}

/// Runs `solve` on the system scaled by a power of two `s` so that `‖s b‖ ∈ [0.5, 2)` when
/// `‖b‖` lies outside `[2⁻⁶⁴, 2⁶⁴]`, and scales `x` and the result back (also on error).
/// Scaling by a power of two is exact, so every solver takes the same iterations for `b` and
/// `10^±150 · b`; no inner product under- or overflows and an `f32` preconditioner (the MGPCG
/// V-cycle) sees residuals of ordinary size. Inside the range nothing is copied.
///
/// With the vectors split across processes `red` sums `‖b‖²` so that every part takes the same
/// decision (and the shape test is agreed on too).
pub(crate) fn rescaled(
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    red: &dyn Reduction,
    solve: impl FnOnce(&[f64], &mut [f64], &SolveParams) -> Result<SolveInfo, KrylovError>,
) -> Result<SolveInfo, KrylovError> {
    const LOW: f64 = 1.0 / 18_446_744_073_709_551_616.0; // 2⁻⁶⁴
    const HIGH: f64 = 18_446_744_073_709_551_616.0; // 2⁶⁴
    let mismatch = red.sum1(f64::from(u8::from(b.len() != x.len()))) > 0.0;
    let bnorm = if mismatch { 0.0 } else { norm2(red, b) };
    if mismatch || !(bnorm.is_finite() && bnorm > 0.0) || (LOW..=HIGH).contains(&bnorm) {
        return solve(b, x, params);
    }
    let s = vector::pow2_near_inverse(bnorm);
    let bs: Vec<f64> = b.iter().map(|v| v * s).collect();
    vector::scale(s, x);
    let scaled_params = SolveParams {
        atol: params.atol * s,
        ..*params
    };
    let res = solve(&bs, x, &scaled_params);
    vector::scale(1.0 / s, x);
    res.map(|mut info| {
        info.rhs_norm /= s;
        info
    })
}

/// A validated system ready to iterate: the right-hand side projected onto the operator's
/// range, its norm, the absolute stop threshold, and the residual history being recorded.
pub(crate) struct Prepared<'a> {
    /// Right-hand side (projected for singular operators, unless already consistent).
    pub b: std::borrow::Cow<'a, [f64]>,
    /// Null space of the operator, if any.
    pub null_space: Option<&'a dyn ritz_linalg::NullSpace>,
    /// Absolute threshold for ‖r‖.
    pub threshold: f64,
    bnorm: f64,
    dtol: f64,
    history: Vec<f64>,
    elapsed: Vec<f64>,
    start: std::time::Instant,
    /// Sums the parts' inner products ([`Local`] for one process).
    pub red: &'a dyn Reduction,
}

/// Validates the system (shapes, NaN/Inf in `b` and `x`, parameters, preconditioner size) and
/// projects `b` where its null-space component matters. Returns `Err(Ok(info))` — an early,
/// successful exit with `x = 0` — when `b` is zero.
///
/// Collective with a [`Reduction`] over several parts: each part checks its own piece, the
/// verdicts are summed, and a part whose piece is fine reports the failure found elsewhere
/// (`… on another process`), so that all parts stop together.
pub(crate) fn prepare<'a>(
    a: &'a dyn LinearOperator,
    b: &'a [f64],
    x: &mut [f64],
    params: &SolveParams,
    precond_dim: Option<usize>,
    monitor: &mut dyn Monitor,
    red: &'a dyn Reduction,
) -> Result<Prepared<'a>, Result<SolveInfo, KrylovError>> {
    let start = std::time::Instant::now();
    let local = check_system(a, b, x, params).and_then(|()| match precond_dim {
        Some(d) => Ok(check_len("preconditioner dimension", a.nrows(), d)?),
        None => Ok(()),
    });
    if red.parts() > 1 && red.sum1(f64::from(u8::from(local.is_err()))) > 0.0 {
        return Err(Err(local.err().unwrap_or_else(|| {
            ritz_linalg::LinalgError::NonFinite {
                what: "the input on another process (shape or NaN/Inf)",
                index: 0,
            }
            .into()
        })));
    }
    local.map_err(Err)?;
    let null_space = a.null_space();
    let (b, bnorm) = match null_space {
        // A consistent right-hand side (the usual case: a divergence sums to zero over a
        // closed region up to round-off) is used as it is — no copy of a vector as long as
        // the problem: its null-space component, below a thousandth of the stop threshold,
        // changes no stop decision.
        Some(ns) => {
            let n = norm2(red, b);
            let c = red.sum1(ns.component_sq(b)).sqrt();
            if c <= 1e-3 * params.threshold(n) {
                (std::borrow::Cow::Borrowed(b), n)
            } else {
                let mut bp = b.to_vec();
                ns.project(&mut bp);
                let n = norm2(red, &bp);
                (std::borrow::Cow::Owned(bp), n)
            }
        }
        None => (std::borrow::Cow::Borrowed(b), norm2(red, b)),
    };
    if bnorm == 0.0 {
        vector::fill(x, 0.0);
        monitor.observe(0, 0.0);
        return Err(Ok(SolveInfo {
            iterations: 0,
            residual_history: vec![0.0],
            stop: StopReason::ZeroRhs,
            rhs_norm: 0.0,
            elapsed_s: vec![start.elapsed().as_secs_f64()],
        }));
    }
    Ok(Prepared {
        b,
        null_space,
        threshold: params.threshold(bnorm),
        bnorm,
        dtol: params.dtol,
        history: Vec::new(),
        elapsed: Vec::new(),
        start,
        red,
    })
}

impl Prepared<'_> {
    /// Records `‖r‖` for iteration `it`, tells the monitor, and returns the stop reason when
    /// the stop test ([`StopReason::Converged`]) or the divergence test
    /// ([`StopReason::Diverged`]) is met.
    pub fn record(
        &mut self,
        it: usize,
        rnorm: f64,
        monitor: &mut dyn Monitor,
    ) -> Option<StopReason> {
        let rel = rnorm / self.bnorm;
        self.history.push(rel);
        self.elapsed.push(self.start.elapsed().as_secs_f64());
        monitor.observe(it, rel);
        if rnorm <= self.threshold {
            Some(StopReason::Converged)
        } else if rel > self.dtol {
            Some(StopReason::Diverged)
        } else {
            None
        }
    }

    /// Projects `x` onto the range (singular operators) and builds the result.
    pub fn finish(self, x: &mut [f64], iterations: usize, stop: StopReason) -> SolveInfo {
        if let Some(ns) = self.null_space {
            ns.project(x);
        }
        SolveInfo {
            iterations,
            residual_history: self.history,
            stop,
            rhs_norm: self.bnorm,
            elapsed_s: self.elapsed,
        }
    }

    /// The result of an iteration loop that returned `(iterations, stop)` or an error: a
    /// breakdown gets the last relative residual recorded (the partial result).
    pub fn conclude(
        self,
        x: &mut [f64],
        outcome: Result<(usize, StopReason), KrylovError>,
    ) -> Result<SolveInfo, KrylovError> {
        match outcome {
            Ok((it, stop)) => Ok(self.finish(x, it, stop)),
            Err(e) => Err(e.with_residual(self.history.last().copied().unwrap_or(f64::NAN))),
        }
    }

    /// `z ← M r`, projected onto the range; returns `rᵀz`, which must be positive for an SPD
    /// preconditioner.
    pub fn precondition(
        &self,
        m: &dyn ritz_linalg::Preconditioner,
        r: &[f64],
        z: &mut [f64],
        it: usize,
    ) -> Result<f64, KrylovError> {
        m.apply(r, z);
        if let Some(ns) = self.null_space {
            ns.project(z);
        }
        preconditioned("rᵀz", self.red.sum1(vector::dot(r, z)), it)
    }
}

/// Checks `rᵀz` met at iteration `it`: finite and positive (an SPD preconditioner).
pub(crate) fn preconditioned(what: &'static str, rz: f64, it: usize) -> Result<f64, KrylovError> {
    let rz = finite(what, rz, it)?;
    if rz <= 0.0 {
        return Err(KrylovError::NotPositiveDefinite {
            what: "preconditioner",
            value: rz,
            iteration: it,
            relative_residual: f64::NAN,
        });
    }
    Ok(rz)
}

/// Checks a curvature `pᵀAp` met at iteration `it`: finite and positive.
pub(crate) fn curvature(what: &'static str, v: f64, it: usize) -> Result<f64, KrylovError> {
    let v = finite(what, v, it)?;
    if v <= 0.0 {
        return Err(KrylovError::NotPositiveDefinite {
            what: if what == "qᵀAq" {
                "search direction"
            } else {
                "operator"
            },
            value: v,
            iteration: it,
            relative_residual: f64::NAN,
        });
    }
    Ok(v)
}

/// Validates a square system: shapes, finiteness of `b` and `x0`, parameters.
pub(crate) fn check_system(
    a: &dyn LinearOperator,
    b: &[f64],
    x: &[f64],
    params: &SolveParams,
) -> Result<(), KrylovError> {
    params.validate()?;
    if a.nrows() != a.ncols() {
        return Err(ritz_linalg::LinalgError::NotSquare {
            nrows: a.nrows(),
            ncols: a.ncols(),
        }
        .into());
    }
    check_len("right-hand side", a.nrows(), b.len())?;
    check_len("initial guess", a.ncols(), x.len())?;
    check_finite("right-hand side", b)?;
    check_finite("initial guess", x)?;
    Ok(())
}

/// Checks a scalar met in the iteration.
#[inline]
pub(crate) fn finite(what: &'static str, v: f64, iteration: usize) -> Result<f64, KrylovError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(KrylovError::NonFiniteIterate {
            what,
            iteration,
            relative_residual: f64::NAN,
        })
    }
}
