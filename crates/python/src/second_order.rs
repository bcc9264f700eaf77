//! Curvature from Python: dynamic M-FAC (a sliding window of gradients, inverse-Fisher–vector
//! products) on numpy vectors, and Hessian spectra — the top eigenvalues by Lanczos, the
//! trace by Hutchinson / Hutch++, the spectral density by SLQ — over any Python callable that
//! returns Hessian–vector products (a PyTorch HVP, a SciPy operator's `matvec`).

use crate::arrays::{self, slice};
use crate::errors::OrRaise;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use ritz::linalg::LinearOperator;
use ritz::second_order::mfac::DynamicMfac as RustMfac;
use ritz::second_order::spectra;
use std::sync::Mutex;

/// Two float64 vectors (eigenvalues and residuals, nodes and weights).
type Pair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// Dynamic M-FAC: the empirical Fisher of the last `window` gradients plus damping, inverted
/// by the Woodbury identity.
#[pyclass(module = "ritz._ritz", name = "DynamicMfac")]
pub struct Mfac {
    inner: RustMfac,
}

#[pymethods]
impl Mfac {
    #[new]
    #[pyo3(signature = (dim, window, damping = 1e-4))]
    fn new(dim: usize, window: usize, damping: f64) -> PyResult<Self> {
        Ok(Self {
            inner: RustMfac::new(dim, window, damping).or_raise()?,
        })
    }
    /// Adds a gradient to the window (the oldest leaves once it is full).
    fn update(&mut self, py: Python<'_>, grad: &Bound<'_, PyAny>) -> PyResult<()> {
        let grad = arrays::f64_array(grad)?.readonly();
        let g = slice(&grad, "grad")?;
        let inner = &mut self.inner;
        py.detach(|| inner.push(g)).or_raise()
    }
    /// `F⁻¹ x`.
    fn ihvp<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = arrays::f64_array(x)?.readonly();
        let xs = slice(&x, "x")?;
        let out = PyArray1::<f64>::zeros(py, self.inner.dim(), false);
        {
            let mut w = out.readwrite();
            let os = w.as_slice_mut().expect("a fresh array is contiguous");
            py.detach(|| self.inner.ihvp(xs, os)).or_raise()?;
        }
        Ok(out)
    }
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "DynamicMfac(dim={}, gradients={})",
            self.inner.dim(),
            self.inner.len()
        )
    }
}

/// A Python callable `v ↦ H v` as a linear operator. A Python exception inside it is kept
/// and raised after the algorithm returns (the product is NaN meanwhile, which stops it).
struct CallableOperator {
    f: Py<PyAny>,
    n: usize,
    error: Mutex<Option<PyErr>>,
}

impl CallableOperator {
    fn call(&self, x: &[f64], y: &mut [f64]) -> PyResult<()> {
        Python::attach(|py| {
            let v = arrays::vec1(py, x.to_vec());
            let out = self.f.call1(py, (v,))?;
            let arr = arrays::f64_array(out.bind(py))?.readonly();
            let s = slice(&arr, "the product returned by hvp")?;
            if s.len() != y.len() {
                return Err(PyValueError::new_err(format!(
                    "hvp returned {} values for a vector of {}",
                    s.len(),
                    y.len()
                )));
            }
            y.copy_from_slice(s);
            Ok(())
        })
    }
    fn take_error(&self) -> PyResult<()> {
        match self.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl LinearOperator for CallableOperator {
    fn nrows(&self) -> usize {
        self.n
    }
    fn ncols(&self) -> usize {
        self.n
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            y.fill(f64::NAN);
            return;
        }
        drop(slot);
        if let Err(e) = self.call(x, y) {
            y.fill(f64::NAN);
            slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
            *slot = Some(e);
        }
    }
}

fn operator(hvp: Py<PyAny>, n: usize) -> PyResult<CallableOperator> {
    if n == 0 {
        return Err(PyValueError::new_err("n must be ≥ 1"));
    }
    Ok(CallableOperator {
        f: hvp,
        n,
        error: Mutex::new(None),
    })
}

/// Runs `f` on the operator with the GIL released (the callable takes it back per product);
/// the callable's own exception wins over the error it caused.
fn run<T, E: crate::errors::IntoPyErr + Send>(
    py: Python<'_>,
    op: &CallableOperator,
    f: impl FnOnce(&CallableOperator) -> Result<T, E> + Send,
) -> PyResult<T>
where
    T: Send,
{
    let r = py.detach(|| f(op));
    op.take_error()?;
    r.or_raise()
}

/// The `k` largest eigenvalues (descending) and their residual norms, from `steps` Lanczos
/// steps with full reorthogonalization.
#[pyfunction]
#[pyo3(signature = (hvp, n, k, steps, seed = 0))]
pub fn top_eigenvalues<'py>(
    py: Python<'py>,
    hvp: Py<PyAny>,
    n: usize,
    k: usize,
    steps: usize,
    seed: u64,
) -> PyResult<Pair<'py>> {
    let op = operator(hvp, n)?;
    let (v, r) = run(py, &op, |op| spectra::top_eigenvalues(op, k, steps, seed))?;
    Ok((arrays::vec1(py, v), arrays::vec1(py, r)))
}

/// `(estimate, std_error, matvecs)` of the trace: `hutch++` or `hutchinson`.
#[pyfunction]
#[pyo3(signature = (hvp, n, matvecs, method = "hutch++", seed = 0))]
pub fn trace(
    py: Python<'_>,
    hvp: Py<PyAny>,
    n: usize,
    matvecs: usize,
    method: &str,
    seed: u64,
) -> PyResult<(f64, f64, usize)> {
    let op = operator(hvp, n)?;
    let est = match method.to_ascii_lowercase().as_str() {
        "hutch++" | "hutchpp" => run(py, &op, |op| spectra::hutchpp(op, matvecs, seed))?,
        "hutchinson" => run(py, &op, |op| spectra::hutchinson(op, matvecs, seed))?,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown trace method '{other}' (known: hutch++, hutchinson)"
            )));
        }
    };
    Ok((est.estimate, est.std_error, est.matvecs))
}

/// Stochastic Lanczos quadrature: `(nodes, weights)` of the spectral density (weights sum to
/// one), from `probes` Rademacher probes of `steps` Lanczos steps each.
#[pyfunction]
#[pyo3(signature = (hvp, n, steps, probes, seed = 0))]
pub fn slq<'py>(
    py: Python<'py>,
    hvp: Py<PyAny>,
    n: usize,
    steps: usize,
    probes: usize,
    seed: u64,
) -> PyResult<Pair<'py>> {
    let op = operator(hvp, n)?;
    let d = run(py, &op, |op| spectra::slq(op, steps, probes, seed))?;
    Ok((arrays::vec1(py, d.nodes), arrays::vec1(py, d.weights)))
}
