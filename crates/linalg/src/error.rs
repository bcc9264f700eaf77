//! Error type of `ritz-linalg`.

use thiserror::Error;

/// Structural problems detected by linalg routines. Numerical non-convergence is never an error
/// here; it is reported by the solvers as a stop reason.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LinalgError {
    /// Two sizes that must agree do not.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    Shape {
        /// What was being checked (e.g. "right-hand side").
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// An entry is NaN or infinite.
    #[error("non-finite value in {what} at index {index}")]
    NonFinite {
        /// Which input held the value.
        what: &'static str,
        /// Position of the first offending entry.
        index: usize,
    },
    /// A triplet or index lies outside the matrix.
    #[error("index ({row}, {col}) out of bounds for a {nrows}×{ncols} matrix")]
    IndexOutOfBounds {
        /// Row index given.
        row: usize,
        /// Column index given.
        col: usize,
        /// Number of rows.
        nrows: usize,
        /// Number of columns.
        ncols: usize,
    },
    /// The matrix was required to be square.
    #[error("matrix must be square, got {nrows}×{ncols}")]
    NotSquare {
        /// Number of rows.
        nrows: usize,
        /// Number of columns.
        ncols: usize,
    },
    /// The matrix was required to be symmetric.
    #[error("matrix is not symmetric: A[{row},{col}] = {a} but A[{col},{row}] = {b}")]
    NotSymmetric {
        /// Row of the offending entry.
        row: usize,
        /// Column of the offending entry.
        col: usize,
        /// Value at (row, col).
        a: f64,
        /// Value at (col, row) (0 when structurally absent).
        b: f64,
    },
    /// A matrix required to be symmetric positive definite is not (e.g. a non-positive diagonal
    /// or pivot was met).
    #[error("matrix is not symmetric positive definite: {reason}")]
    NotSpd {
        /// What revealed it.
        reason: String,
    },
    /// A size does not fit the index type (CSR column indices are `u32`).
    #[error("{what} = {value} exceeds the supported maximum {max}")]
    TooLarge {
        /// What is too large.
        what: &'static str,
        /// The size given.
        value: usize,
        /// The supported maximum.
        max: usize,
    },
    /// An allocation that a size from input asks for exceeds the memory available (see
    /// [`mem`](crate::mem)); nothing was allocated.
    #[error("{what} needs {} but {} is available{}", needed.map_or("more than 2^64 bytes".into(), crate::mem::format_bytes), available.map_or("an unknown amount".into(), crate::mem::format_bytes), crate::mem::limit().map_or(String::new(), |l| format!(" (--mem-limit {})", crate::mem::format_bytes(l))))]
    OutOfMemory {
        /// What would have been allocated.
        what: String,
        /// Bytes it needs (`None`: more than `u64` can count).
        needed: Option<u64>,
        /// Bytes available when it was checked (`None`: unknown).
        available: Option<u64>,
    },
}

/// Returns an error naming the first NaN/Inf entry of `v`, if any. Cost: one pass over `v`.
pub fn check_finite(what: &'static str, v: &[f64]) -> Result<(), LinalgError> {
    use rayon::prelude::*;
    // A branch-free test per chunk (it vectorizes; a search for the first bad entry does
    // not), in parallel; the index is searched only when there is one.
    let finite = |c: &[f64]| c.iter().fold(true, |ok, x| ok & x.is_finite());
    let all = if v.len() < crate::vector::PAR_MIN {
        finite(v)
    } else {
        v.par_chunks(crate::vector::CHUNK).all(finite)
    };
    match all {
        true => Ok(()),
        false => Err(LinalgError::NonFinite {
            what,
            index: v.iter().position(|x| !x.is_finite()).unwrap_or(0),
        }),
    }
}

/// Returns an error unless `found == expected`.
pub fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), LinalgError> {
    if expected == found {
        Ok(())
    } else {
        Err(LinalgError::Shape {
            what,
            expected,
            found,
        })
    }
}
