//! Sparse Cholesky (faer), the exact reference solve: [`SparseCholesky`], defined in
//! `ritz-linalg` (the multigrid of `ritz-pde` uses it for large coarsest levels) and
//! re-exported here beside the iterative solvers.

pub use ritz_linalg::direct::SparseCholesky;
