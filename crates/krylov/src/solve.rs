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

/// `b` projected onto the range (for singular operators with a known null space), its norm.
pub(crate) fn projected_rhs(a: &dyn LinearOperator, b: &[f64]) -> (Option<Vec<f64>>, f64) {
    match a.null_space() {
        Some(ns) => {
            let mut bp = b.to_vec();
            ns.project(&mut bp);
            let n = vector::norm2(&bp);
            (Some(bp), n)
        }
        None => (None, vector::norm2(b)),
    }
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
