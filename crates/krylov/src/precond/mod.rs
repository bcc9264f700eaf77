//! Classical preconditioners: Jacobi, and IC(0) / MIC(0) for CSR matrices.
//!
//! The structured-grid IC(0)/MIC(0) of `ritz-pde` (`GridIc0`) is the fast path for MAC-grid
//! Poisson problems; the CSR version here serves any SPD sparse matrix (MatrixMarket input).

pub mod ic;
pub mod jacobi;

pub use ic::{IcOptions, IncompleteCholesky};
pub use jacobi::Jacobi;
