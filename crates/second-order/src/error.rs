//! Error type of `ritz-second-order`.

use thiserror::Error;

/// Bad input, unsupported requests and numerical failures. Non-convergence of an optimizer is
/// a stop reason, not an error.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SecondOrderError {
    /// A label outside the model's classes.
    #[error("label {label} at row {row} is outside 0..{classes}")]
    BadLabel {
        /// Row of the sample.
        row: usize,
        /// The label given.
        label: f64,
        /// Number of classes.
        classes: usize,
    },
    /// A parameter out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The model does not provide this curvature.
    #[error("{model} does not provide the {curvature} curvature")]
    Unsupported {
        /// Model name.
        model: &'static str,
        /// Requested curvature.
        curvature: &'static str,
    },
    /// A malformed data file.
    #[error("{file}: line {line}: {reason}")]
    Parse {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A Krylov solve or Lanczos run failed (operator not positive definite, breakdown); the
    /// Krylov error is the source and carries the partial result.
    #[error("linear solve failed: {0}")]
    Solve(#[from] ritz_krylov::KrylovError),
    /// A dense Cholesky factorization failed (the matrix is not positive definite).
    #[error("dense Cholesky failed: {0}")]
    Cholesky(String),
    /// The constraint Jacobian `G` lost row rank at an SQP iterate (LICQ fails there): the KKT
    /// matrix is singular. `rank` is known when it was computed densely.
    #[error("the constraint Jacobian is rank-deficient at iteration {iteration} (rank {}, m = {m})", rank.map_or("< m".to_string(), |r| r.to_string()))]
    RankDeficientJacobian {
        /// SQP iteration (0: the starting point).
        iteration: usize,
        /// Numerical rank of `G`, when computed.
        rank: Option<usize>,
        /// Number of constraints.
        m: usize,
    },
    /// The linearized constraints `G d = −c` have no solution at an SQP iterate: `c` has a
    /// part of norm `residual` outside the range of `G` (contradictory constraints such as
    /// `x₁ = 0` and `x₁ = 1`, or a stationary point of `‖c‖²` away from feasibility).
    #[error(
        "inconsistent constraints at iteration {iteration}: ‖c‖ outside range(G) = {residual:e}"
    )]
    InconsistentConstraints {
        /// SQP iteration (0: the starting point).
        iteration: usize,
        /// Norm of the part of `c` outside the range of `G`.
        residual: f64,
    },
    /// A KKT matrix could not be factorized or solved although the constraint Jacobian has
    /// full rank, and shifting the Hessian did not help.
    #[error("singular KKT system: {0}")]
    SingularKkt(String),
    /// Shapes that do not agree, NaN/Inf in an input (`LinalgError::Shape`, `NonFinite`), a
    /// size beyond the available memory (nothing was allocated).
    #[error(transparent)]
    Linalg(#[from] ritz_linalg::LinalgError),
}

/// Errors on the first NaN/∞ of `v` ([`LinalgError::NonFinite`](ritz_linalg::LinalgError)).
pub fn check_finite(what: &'static str, v: &[f64]) -> Result<(), SecondOrderError> {
    Ok(ritz_linalg::error::check_finite(what, v)?)
}

/// Errors unless `found == expected` ([`LinalgError::Shape`](ritz_linalg::LinalgError)).
pub fn check_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), SecondOrderError> {
    Ok(ritz_linalg::error::check_len(what, expected, found)?)
}
