//! Error type of `ritz-ot`.

use thiserror::Error;

/// Bad input or parameters. Non-convergence is never an error: it is a [`crate::StopReason`].
#[derive(Debug, Error, Clone, PartialEq)]
pub enum OtError {
    /// A histogram entry is negative.
    #[error("negative mass {value:e} in {what} at index {index}")]
    Negative {
        /// Which histogram.
        what: &'static str,
        /// Position of the first negative entry.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A histogram is empty or has zero total mass.
    #[error("{what} has no mass (empty or all zero)")]
    NoMass {
        /// Which histogram.
        what: &'static str,
    },
    /// The two marginals carry different total mass (balanced OT needs equal mass).
    #[error(
        "marginals have different mass: {source_mass} vs {target_mass} (relative difference above {tolerance:e})"
    )]
    MassMismatch {
        /// Σ a.
        source_mass: f64,
        /// Σ b.
        target_mass: f64,
        /// The accepted relative difference.
        tolerance: f64,
    },
    /// The support of a sparse problem cannot carry the marginals: some mass has no allowed
    /// path from its source to a sink.
    #[error(
        "infeasible support: {unrouted:e} of the mass {mass:e} cannot be transported on the allowed pairs"
    )]
    Infeasible {
        /// Mass left on no allowed pair at the end of the network simplex.
        unrouted: f64,
        /// Total mass.
        mass: f64,
    },
    /// A problem file is missing, unreadable or malformed.
    #[error("{path}: {reason}")]
    Io {
        /// The file or folder.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A parameter is out of range (η ≤ 0, zero iterations, p < 1, …).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The Sinkhorn kernel exp(−ηC) underflows to zero on a whole row or column, or the scalings
    /// overflow: the scaling form cannot represent this problem; use the stabilized or
    /// log-domain solver.
    #[error(
        "the Gibbs kernel exp(-ηC) underflows or the scalings overflow at η = {eta} ({detail}); use sinkhorn_stabilized or sinkhorn_log"
    )]
    KernelUnderflow {
        /// The regularization parameter.
        eta: f64,
        /// Which row/column or quantity.
        detail: String,
    },
    /// Sizes that do not agree (cost matrix vs. histograms, points vs. dimension), NaN/Inf in
    /// a histogram, cost or point (`LinalgError::Shape`, `NonFinite`), a dense `n × m` array
    /// beyond the available memory (nothing was allocated).
    #[error(transparent)]
    Linalg(#[from] ritz_linalg::LinalgError),
}
