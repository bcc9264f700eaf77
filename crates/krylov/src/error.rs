//! Error type of `ritz-krylov`.

use thiserror::Error;

/// Structural problems met by a solver. The solution vector keeps the last iterate.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KrylovError {
    /// Shapes, NaN/Inf input, bad matrices (from linalg).
    #[error(transparent)]
    Linalg(#[from] ritz_linalg::LinalgError),
    /// `pᵀ A p ≤ 0` (or `rᵀ z ≤ 0` for the preconditioner): the operator or preconditioner is not
    /// positive definite.
    #[error("{what} is not positive definite: curvature {value:e} at iteration {iteration}")]
    NotPositiveDefinite {
        /// "operator" or "preconditioner".
        what: &'static str,
        /// The offending inner product.
        value: f64,
        /// Iteration at which it was met.
        iteration: usize,
    },
    /// A NaN or infinity appeared during the iteration (e.g. from a broken preconditioner).
    #[error("non-finite value in {what} at iteration {iteration}")]
    NonFiniteIterate {
        /// Which quantity.
        what: &'static str,
        /// Iteration at which it was met.
        iteration: usize,
    },
    /// An invalid parameter value.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}
