//! Error type of `ritz-krylov`.

use thiserror::Error;

/// Structural problems met by a solver. The solution vector keeps the last iterate, and the
/// breakdowns carry the partial result ([`KrylovError::partial`]): the iteration reached and
/// the last relative residual recorded before it.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KrylovError {
    /// Shapes, NaN/Inf input, bad matrices (from linalg).
    #[error(transparent)]
    Linalg(#[from] ritz_linalg::LinalgError),
    /// `pᵀ A p ≤ 0` (or `rᵀ z ≤ 0` for the preconditioner): the operator or preconditioner is not
    /// positive definite.
    #[error(
        "{what} is not positive definite: curvature {value:e} at iteration {iteration} (relative residual {relative_residual:.3e})"
    )]
    NotPositiveDefinite {
        /// "operator" or "preconditioner".
        what: &'static str,
        /// The offending inner product.
        value: f64,
        /// Iteration at which it was met.
        iteration: usize,
        /// `‖r‖/‖b‖` of the last iterate (NaN where there is no residual, e.g. Lanczos).
        relative_residual: f64,
    },
    /// A NaN or infinity appeared during the iteration (e.g. from a broken preconditioner).
    #[error(
        "non-finite value in {what} at iteration {iteration} (relative residual {relative_residual:.3e})"
    )]
    NonFiniteIterate {
        /// Which quantity.
        what: &'static str,
        /// Iteration at which it was met.
        iteration: usize,
        /// `‖r‖/‖b‖` of the last iterate (NaN where there is no residual, e.g. Lanczos).
        relative_residual: f64,
    },
    /// An invalid parameter value.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

/// What a solve reached before it broke down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial {
    /// The iteration at which the breakdown was met.
    pub iteration: usize,
    /// `‖r‖/‖b‖` of the last iterate (the one left in `x`).
    pub relative_residual: f64,
}

impl KrylovError {
    /// The partial result of a breakdown (`None` for input and parameter errors, which stop
    /// the solve before it starts).
    pub fn partial(&self) -> Option<Partial> {
        match *self {
            KrylovError::NotPositiveDefinite {
                iteration,
                relative_residual,
                ..
            }
            | KrylovError::NonFiniteIterate {
                iteration,
                relative_residual,
                ..
            } => Some(Partial {
                iteration,
                relative_residual,
            }),
            _ => None,
        }
    }

    /// Sets the last relative residual of a breakdown.
    pub(crate) fn with_residual(mut self, rel: f64) -> Self {
        match &mut self {
            KrylovError::NotPositiveDefinite {
                relative_residual, ..
            }
            | KrylovError::NonFiniteIterate {
                relative_residual, ..
            } => *relative_residual = rel,
            _ => {}
        }
        self
    }
}
