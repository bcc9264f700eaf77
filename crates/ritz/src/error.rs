//! Error type of the facade: bad solver specs, a solver asked to run where it cannot, and the
//! failures of the crates underneath, each with the solver's name.

use thiserror::Error;

/// What went wrong building or running a catalogue solver.
#[derive(Debug, Error)]
pub enum RitzError {
    /// A name not in the catalogue.
    #[error("unknown solver '{name}' (known: {known})")]
    UnknownSolver {
        /// The name given.
        name: String,
        /// The names accepted.
        known: String,
    },
    /// A known solver with options it does not take or values out of range.
    #[error("solver spec '{spec}': {reason}")]
    BadSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The solver does not run on this kind of system (MGPCG on a bare matrix).
    #[error("{solver} does not run on {system} (it needs {needs})")]
    Unsupported {
        /// The solver spec.
        solver: String,
        /// "a matrix problem", "a grid problem".
        system: &'static str,
        /// What it needs instead.
        needs: &'static str,
    },
    /// A learned solver in a build without the `learned` feature, or CUDA without `cuda`.
    #[error("{solver} needs ritz built with the '{feature}' feature")]
    FeatureDisabled {
        /// The solver spec.
        solver: String,
        /// The cargo feature.
        feature: &'static str,
    },
    /// A solve on a system other than the one the solver was set up for.
    #[error("{solver} was set up for {expected}, not for {found}")]
    SystemMismatch {
        /// The solver spec.
        solver: String,
        /// The system it was built on.
        expected: String,
        /// The system given.
        found: String,
    },
    /// A failure of the crates underneath (bad input, breakdown, weights), with the solver.
    #[error("{solver}: {source}")]
    Failed {
        /// The solver spec.
        solver: String,
        /// The underlying error.
        #[source]
        source: Failure,
    },
}

/// The error of the crate a solver failed in.
#[derive(Debug, Error)]
pub enum Failure {
    /// Shapes, NaN/Inf, non-SPD, memory (linalg).
    #[error(transparent)]
    Linalg(#[from] ritz_linalg::LinalgError),
    /// Grids and problems (pde).
    #[error(transparent)]
    Pde(#[from] ritz_pde::PdeError),
    /// Breakdown, indefiniteness, bad parameters (krylov); carries the iterations made.
    #[error(transparent)]
    Krylov(#[from] ritz_krylov::KrylovError),
    /// Optimization problems and solvers (second-order).
    #[error(transparent)]
    SecondOrder(#[from] ritz_second_order::SecondOrderError),
    /// Weights, models and backends (neural-precond).
    #[cfg(feature = "learned")]
    #[error(transparent)]
    Neural(#[from] ritz_neural_precond::NeuralError),
}

/// Attaches a solver name to a failure of the crates underneath.
pub(crate) fn failed<E: Into<Failure>>(solver: &impl ToString) -> impl FnOnce(E) -> RitzError {
    let solver = solver.to_string();
    move |e| RitzError::Failed {
        solver,
        source: e.into(),
    }
}
