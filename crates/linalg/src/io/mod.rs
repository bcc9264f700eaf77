//! File I/O: MatrixMarket coordinate matrices ([`mtx`]) and NumPy `.npy` arrays ([`npy`]).
//!
//! * [`read_matrix_market`] / [`write_matrix_market`] move a [`CsrMatrix`](crate::CsrMatrix)
//!   to and from `%%MatrixMarket matrix coordinate (real|integer|pattern) (general|symmetric)`
//!   files; the `*_from` / `*_to` variants work on any reader / writer.
//! * [`read_npy`] reads `.npy` files (format versions 1.0–3.0, little- or big-endian, C or
//!   Fortran order) of the dtypes listed in [`NpyData`]; [`write_npy`] and the typed helpers
//!   [`write_npy_f64`], [`write_npy_f32`], [`write_npy_i8`] write version 1.0 files byte-identical
//!   to what `numpy.save` produces.
//!
//! Every failure is an [`IoError`]: malformed input is reported with its location (a 1-based
//! line number for MatrixMarket) and never causes a panic or an allocation sized by an
//! unvalidated header field.

pub mod mtx;
pub mod npy;

pub use mtx::{
    MtxSymmetry, read_matrix_market, read_matrix_market_from, write_matrix_market,
    write_matrix_market_to,
};
pub use npy::{
    NpyArray, NpyData, NpyDataRef, read_npy, read_npy_from, write_npy, write_npy_f32,
    write_npy_f64, write_npy_i8, write_npy_to,
};

use std::path::Path;

/// Errors of the MatrixMarket and `.npy` readers and writers.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// Opening, reading or writing a file (or a caller-supplied reader / writer) failed.
    #[error("i/o error on '{path}': {source}")]
    Io {
        /// The file involved; `<reader>` / `<writer>` for the stream-based functions.
        path: String,
        /// The underlying operating-system error.
        source: std::io::Error,
    },
    /// A MatrixMarket file is malformed or uses an unsupported format.
    #[error("line {line}: {reason}")]
    Parse {
        /// 1-based line number of the offending line (one past the last line for a file that
        /// ends too early).
        line: usize,
        /// What is wrong, e.g. `expected 3 fields, found 2`.
        reason: String,
    },
    /// A `.npy` file is malformed, uses an unsupported dtype, or the data given for writing is
    /// inconsistent with its shape.
    #[error("npy: {reason}")]
    Npy {
        /// What is wrong, e.g. `unsupported dtype '<c16'`.
        reason: String,
    },
    /// A structural check of the matrix failed (e.g. writing a non-symmetric matrix as
    /// symmetric).
    #[error(transparent)]
    Linalg(#[from] crate::LinalgError),
}

impl IoError {
    /// An [`IoError::Io`] naming `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// An [`IoError::Io`] naming a stream (`<reader>` / `<writer>`) or a path already rendered.
    pub(crate) fn io_named(path: &str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers shared by the I/O tests.

    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh path in the system temporary directory, unique per process and call.
    pub(crate) fn temp_path(name: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let k = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("ritz-linalg-io-{}-{k}-{name}", std::process::id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lower_case_and_name_the_location() {
        let e = IoError::Parse {
            line: 7,
            reason: "expected 3 fields, found 2".into(),
        };
        assert_eq!(e.to_string(), "line 7: expected 3 fields, found 2");
        let e = IoError::Npy {
            reason: "unsupported dtype '<c16'".into(),
        };
        assert_eq!(e.to_string(), "npy: unsupported dtype '<c16'");
        let e = IoError::io(
            Path::new("/nonexistent/a.mtx"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert!(e.to_string().contains("/nonexistent/a.mtx"), "{e}");
        let e: IoError = crate::LinalgError::NotSquare { nrows: 2, ncols: 3 }.into();
        assert!(matches!(e, IoError::Linalg(_)));
        assert_eq!(e.to_string(), "matrix must be square, got 2×3");
    }
}
