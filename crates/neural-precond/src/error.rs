//! Errors of the neural-preconditioner crate.

use thiserror::Error;

/// Everything that can go wrong when building, training, loading or applying a learned
/// preconditioner. Library code returns these instead of panicking on user input.
#[derive(Debug, Error)]
pub enum NeuralError {
    /// A grid side is not divisible by the factor the model's pooling levels need.
    #[error(
        "grid {shape:?} does not fit the model: every pooled side must be divisible by {factor} ({levels} levels)"
    )]
    GridSize {
        /// The grid shape `[nx, ny(, nz)]`.
        shape: Vec<usize>,
        /// Required divisor.
        factor: usize,
        /// Number of pooling levels of the model.
        levels: usize,
    },
    /// The model's dimension (2 or 3) differs from the problem's.
    #[error("model is {model}D but the grid is {grid}D")]
    Dimension {
        /// Model dimension.
        model: usize,
        /// Grid dimension.
        grid: usize,
    },
    /// A weights, checkpoint or dataset file is missing, truncated or not what it claims.
    #[error("cannot load {what} from {path}: {reason}")]
    Load {
        /// What was being loaded.
        what: &'static str,
        /// File path.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {reason}")]
    Save {
        /// File path.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A tensor or vector has the wrong length.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// NaN or infinity in an input, a weight or a loss value.
    #[error("non-finite value in {0}")]
    NonFinite(String),
    /// No usable GPU: the driver library, a device or NVRTC is missing (see
    /// `cuda::probe`, feature `cuda`).
    #[error("no usable CUDA device: {0}")]
    Device(String),
    /// An error from the grid/PDE layer.
    #[error(transparent)]
    Pde(#[from] ritz_pde::PdeError),
    /// An error from the Krylov layer (Lanczos for training data).
    #[error(transparent)]
    Krylov(#[from] ritz_krylov::KrylovError),
    /// An error from linalg I/O (npy files).
    #[error(transparent)]
    Io(#[from] ritz_linalg::io::IoError),
}

/// Checks that a residual `r` and an output `z` both have length `n`.
pub(crate) fn check_io_len(n: usize, r: usize, z: usize) -> Result<(), NeuralError> {
    for (what, got) in [("residual", r), ("direction", z)] {
        if got != n {
            return Err(NeuralError::Shape {
                what,
                expected: n,
                found: got,
            });
        }
    }
    Ok(())
}
