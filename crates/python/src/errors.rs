//! From ritz's typed errors to Python exceptions, keeping each error's message.
//!
//! `MemoryError` for sizes that would exhaust memory (linalg's `OutOfMemory`, reached from any
//! crate), `OSError` for unreadable or malformed files, `ValueError` for everything else the
//! caller handed in (shapes, NaN/Inf, non-SPD matrices, bad parameters, unknown names) and for
//! breakdowns caused by such input. Non-convergence is not an error here: it is a stop reason
//! in the info dict, raised as `ritz.ConvergenceError` (a `RuntimeError`) only when the caller
//! asks (`raise_on_failure=True`, in the Python layer).

use pyo3::PyErr;
use pyo3::exceptions::{PyMemoryError, PyOSError, PyValueError};
use ritz::krylov::KrylovError;
use ritz::linalg::LinalgError;
use ritz::ot::OtError;
use ritz::pde::PdeError;
use ritz::second_order::SecondOrderError;
use ritz::{Failure, RitzError};

/// What kind of Python exception an error becomes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Memory,
    Io,
    Value,
}

fn linalg(e: &LinalgError) -> Kind {
    match e {
        LinalgError::OutOfMemory { .. } => Kind::Memory,
        _ => Kind::Value,
    }
}

fn krylov(e: &KrylovError) -> Kind {
    match e {
        KrylovError::Linalg(l) => linalg(l),
        _ => Kind::Value,
    }
}

fn pde(e: &PdeError) -> Kind {
    match e {
        PdeError::Linalg(l) => linalg(l),
        PdeError::Io(_) => Kind::Io,
        PdeError::InFile { source, .. } => match pde(source) {
            Kind::Memory => Kind::Memory,
            _ => Kind::Io,
        },
        _ => Kind::Value,
    }
}

fn ot(e: &OtError) -> Kind {
    match e {
        OtError::Linalg(l) => linalg(l),
        OtError::Io { .. } => Kind::Io,
        _ => Kind::Value,
    }
}

fn second_order(e: &SecondOrderError) -> Kind {
    match e {
        SecondOrderError::Linalg(l) => linalg(l),
        SecondOrderError::Solve(k) => krylov(k),
        SecondOrderError::Parse { .. } => Kind::Io,
        _ => Kind::Value,
    }
}

fn ritz_kind(e: &RitzError) -> Kind {
    match e {
        RitzError::Failed { source, .. } => match source {
            Failure::Linalg(l) => linalg(l),
            Failure::Pde(p) => pde(p),
            Failure::Krylov(k) => krylov(k),
            Failure::SecondOrder(s) => second_order(s),
            Failure::Neural(_) => Kind::Value,
        },
        _ => Kind::Value,
    }
}

fn raise(kind: Kind, message: String) -> PyErr {
    match kind {
        Kind::Memory => PyMemoryError::new_err(message),
        Kind::Io => PyOSError::new_err(message),
        Kind::Value => PyValueError::new_err(message),
    }
}

/// Errors of the ritz crates, each mapped to its Python exception with its message.
pub trait IntoPyErr {
    /// The Python exception carrying this error's message.
    fn into_py_err(self) -> PyErr;
}

macro_rules! into_py_err {
    ($($t:ty => $classify:path),* $(,)?) => {$(
        impl IntoPyErr for $t {
            fn into_py_err(self) -> PyErr {
                raise($classify(&self), self.to_string())
            }
        }
    )*};
}

into_py_err!(
    RitzError => ritz_kind,
    LinalgError => linalg,
    KrylovError => krylov,
    PdeError => pde,
    OtError => ot,
    SecondOrderError => second_order,
);

/// `result.map_err(IntoPyErr::into_py_err)`, shorter.
pub trait OrRaise<T> {
    /// The value, or the error as its Python exception.
    fn or_raise(self) -> pyo3::PyResult<T>;
}

impl<T, E: IntoPyErr> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> pyo3::PyResult<T> {
        self.map_err(IntoPyErr::into_py_err)
    }
}
