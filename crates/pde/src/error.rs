//! Error type of `ritz-pde`.

use thiserror::Error;

/// Problems with grids, flags and fields given to `ritz-pde`.
#[derive(Debug, Error)]
pub enum PdeError {
    /// A grid dimension is zero, or the number of axes is not 2 or 3.
    #[error("invalid grid shape {shape:?}: {reason}")]
    InvalidGrid {
        /// The shape given.
        shape: Vec<usize>,
        /// Why it is rejected.
        reason: String,
    },
    /// A field does not have one value per grid cell.
    #[error("{what} has {found} values but the grid has {expected} cells")]
    Shape {
        /// Which field.
        what: &'static str,
        /// Number of cells.
        expected: usize,
        /// Number of values given.
        found: usize,
    },
    /// A cell flag code is not 0 (fluid), 1 (solid) or 2 (air).
    #[error("invalid cell flag {value} at cell {index} (expected 0 fluid, 1 solid, 2 air)")]
    BadFlag {
        /// Flat cell index.
        index: usize,
        /// The code found.
        value: i64,
    },
    /// The grid has no fluid cell.
    #[error("the grid has no fluid cell")]
    NoFluid,
    /// A value is NaN or infinite.
    #[error("non-finite value in {what} at cell {index}")]
    NonFinite {
        /// Which field.
        what: &'static str,
        /// Flat cell index.
        index: usize,
    },
    /// Unknown scene name.
    #[error("unknown scene '{0}' (known: plume, spheres, pillars, organic, closed)")]
    UnknownScene(String),
    /// A size constraint of a method is violated (e.g. divisibility for multigrid).
    #[error("{0}")]
    Unsupported(String),
    /// File I/O (export / import).
    #[error(transparent)]
    Io(#[from] ritz_linalg::io::IoError),
    /// An error about the contents of a file, naming it.
    #[error("{path}: {source}")]
    InFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        source: Box<PdeError>,
    },
    /// Error from linalg.
    #[error(transparent)]
    Linalg(#[from] ritz_linalg::LinalgError),
}
