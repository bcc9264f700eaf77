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
