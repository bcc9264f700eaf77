//! `ritz._ritz`: the native module of the Python package `ritz` (PyO3).
//!
//! The Python package (`python/ritz`) re-exports these classes and functions and adds what is
//! plain Python: SciPy conversions, POT's signatures for optimal transport, the exceptions
//! raised on request. Everything here takes and returns numpy arrays; solves release the GIL.
//!
//! - [`solve`]: `Poisson` (a MAC-grid problem from int8 flags), `SparseMatrix` (SciPy CSR),
//!   `Solver` (any catalogue solver, set up once, `solve(b)` → `(x, info)`).
//! - [`ot`]: `ot_solve` (network simplex, Sinkhorn variants, Sinkhorn–Newton-Sparse).
//! - [`second_order`]: `DynamicMfac`; `top_eigenvalues`, `trace`, `slq` over a Python HVP.
//! - [`smoke`]: `Smoke`, the simulator stepped with a `Solver`.
//! - [`errors`]: typed errors → `ValueError` / `MemoryError` / `OSError` with their messages.

pub mod arrays;
pub mod errors;
pub mod ot;
pub mod second_order;
pub mod smoke;
pub mod solve;

use pyo3::prelude::*;

/// The solver catalogue: `(name, description)` for each solver `Solver` accepts.
#[pyfunction]
fn catalogue() -> Vec<(String, String)> {
    ritz::CATALOGUE
        .iter()
        .map(|e| (e.name.to_string(), e.description.to_string()))
        .collect()
}

#[pymodule]
fn _ritz(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<solve::Poisson>()?;
    m.add_class::<solve::SparseMatrix>()?;
    m.add_class::<solve::Solver>()?;
    m.add_class::<smoke::Smoke>()?;
    m.add_class::<second_order::Mfac>()?;
    m.add_function(wrap_pyfunction!(catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(ot::ot_solve, m)?)?;
    m.add_function(wrap_pyfunction!(second_order::top_eigenvalues, m)?)?;
    m.add_function(wrap_pyfunction!(second_order::trace, m)?)?;
    m.add_function(wrap_pyfunction!(second_order::slq, m)?)?;
    Ok(())
}
