//! Errors of the distributed solvers.

use thiserror::Error;

/// What went wrong setting up or running a distributed solve.
#[derive(Debug, Error)]
pub enum DistError {
    /// More ranks than planes along the slab axis: some rank would own nothing.
    #[error("{ranks} ranks for {planes} planes along the slab axis (at most one rank per plane)")]
    TooManyRanks {
        /// Ranks asked for.
        ranks: usize,
        /// Planes along the slowest axis.
        planes: usize,
    },
    /// The grid or problem (pde).
    #[error(transparent)]
    Pde(#[from] ritz_pde::PdeError),
    /// Shapes, NaN/Inf (linalg).
    #[error(transparent)]
    Linalg(#[from] ritz_linalg::LinalgError),
    /// Breakdown or bad parameters of the iteration (krylov).
    #[error(transparent)]
    Krylov(#[from] ritz_krylov::KrylovError),
}
