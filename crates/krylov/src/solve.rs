//! Shared solver vocabulary: parameters, stop test, monitors, results.

use crate::error::KrylovError;
use ritz_linalg::error::{check_finite, check_len};
use ritz_linalg::{LinearOperator, vector};
use serde::{Deserialize, Serialize};

/// Stopping parameters shared by the iterative solvers.
///
/// The stop test is `‖r_k‖₂ ≤ max(atol, rtol · ‖b‖₂)` on the (recursively updated) residual,
/// the convention of SciPy and PETSc's default test with a zero initial guess.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolveParams {
    /// Relative tolerance (to `‖b‖`).
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Maximum number of iterations.
    pub max_iters: usize,
}

impl Default for SolveParams {
    fn default() -> Self {
        Self {
            rtol: 1e-6,
            atol: 0.0,
            max_iters: 10_000,
        }
    }
}

impl SolveParams {
    /// Errors on negative or NaN tolerances.
    pub fn validate(&self) -> Result<(), KrylovError> {
        if !(self.rtol >= 0.0 && self.atol >= 0.0) {
            return Err(KrylovError::InvalidParameter(format!(
                "tolerances must be non-negative, got rtol = {}, atol = {}",
                self.rtol, self.atol
            )));
        }
        Ok(())
    }
    /// The absolute threshold for `‖r‖` given `‖b‖`.
    pub fn threshold(&self, bnorm: f64) -> f64 {
        self.atol.max(self.rtol * bnorm)
    }
}

/// Why an iteration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// The stop test was met.
    Converged,
    /// `max_iters` iterations were made without meeting the stop test.
    MaxIterations,
    /// The right-hand side is zero: the solution is zero.
    ZeroRhs,
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

/// An observer called once per iteration with `(iteration, ‖r‖/‖b‖)`; it cannot change the
/// iteration (the stop test is separate). Closures `FnMut(usize, f64)` are monitors; `()` is
/// the silent monitor.
pub trait Monitor {
    /// Called after iteration `iteration` (0 = initial residual).
    fn observe(&mut self, iteration: usize, relative_residual: f64);
}

impl Monitor for () {
    fn observe(&mut self, _: usize, _: f64) {}
}

impl<F: FnMut(usize, f64)> Monitor for F {
    fn observe(&mut self, iteration: usize, relative_residual: f64) {
        self(iteration, relative_residual)
    }
}

/// A validated system ready to iterate: the right-hand side projected onto the operator's
/// range, its norm, the absolute stop threshold, and the residual history being recorded.
pub(crate) struct Prepared<'a> {
    /// Right-hand side (projected for singular operators).
    pub b: std::borrow::Cow<'a, [f64]>,
    /// Null space of the operator, if any.
    pub null_space: Option<&'a dyn ritz_linalg::NullSpace>,
    /// Absolute threshold for ‖r‖.
    pub threshold: f64,
    bnorm: f64,
    history: Vec<f64>,
}

/// Validates the system (shapes, NaN/Inf in `b` and `x`, parameters, preconditioner size) and
/// projects `b`. Returns `Err(Ok(info))` — an early, successful exit with `x = 0` — when
/// `b` is zero.
pub(crate) fn prepare<'a>(
    a: &'a dyn LinearOperator,
    b: &'a [f64],
    x: &mut [f64],
    params: &SolveParams,
    precond_dim: Option<usize>,
    monitor: &mut dyn Monitor,
) -> Result<Prepared<'a>, Result<SolveInfo, KrylovError>> {
    check_system(a, b, x, params).map_err(Err)?;
    if let Some(d) = precond_dim {
        check_len("preconditioner dimension", a.nrows(), d).map_err(|e| Err(e.into()))?;
    }
    let null_space = a.null_space();
    let (b, bnorm) = match null_space {
        Some(ns) => {
            let mut bp = b.to_vec();
            ns.project(&mut bp);
            let n = vector::norm2(&bp);
            (std::borrow::Cow::Owned(bp), n)
        }
        None => (std::borrow::Cow::Borrowed(b), vector::norm2(b)),
    };
    if bnorm == 0.0 {
        vector::fill(x, 0.0);
        monitor.observe(0, 0.0);
        return Err(Ok(SolveInfo {
            iterations: 0,
            residual_history: vec![0.0],
            stop: StopReason::ZeroRhs,
            rhs_norm: 0.0,
        }));
    }
    Ok(Prepared {
        b,
        null_space,
        threshold: params.threshold(bnorm),
        bnorm,
        history: Vec::new(),
    })
}

impl Prepared<'_> {
    /// Records `‖r‖` for iteration `it`, tells the monitor, and returns whether the stop test
    /// is met.
    pub fn record(&mut self, it: usize, rnorm: f64, monitor: &mut dyn Monitor) -> bool {
        let rel = rnorm / self.bnorm;
        self.history.push(rel);
        monitor.observe(it, rel);
        rnorm <= self.threshold
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
        let rz = finite("rᵀz", vector::dot(r, z), it)?;
        if rz <= 0.0 {
            return Err(KrylovError::NotPositiveDefinite {
                what: "preconditioner",
                value: rz,
                iteration: it,
            });
        }
        Ok(rz)
    }
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
        Err(KrylovError::NonFiniteIterate { what, iteration })
    }
}
