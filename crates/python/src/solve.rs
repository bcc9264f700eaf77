//! Linear systems from Python: MAC-grid Poisson problems from int8 flag arrays, sparse SPD
//! matrices from SciPy's CSR arrays, and the catalogue's solvers built once on either and
//! reused for any right-hand side.
//!
//! Grid vectors are numpy arrays of the flags' shape (`(ny, nx)` or `(nz, ny, nx)`, x
//! fastest), zero outside the fluid; the right-hand side is read in place and the solution is
//! written into a fresh array by the solver itself — no copy of either — with the GIL released
//! during the solve.

use crate::arrays::{self, slice};
use crate::errors::OrRaise;
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ritz::krylov::{SolveInfo, SolveParams, StopReason};
use ritz::linalg::{CsrMatrix, LinearOperator};
use ritz::pde::rhs::RhsKind;
use ritz::pde::{MacGrid, PoissonProblem, Scene, Walls};
use ritz::{Backend, BuildOptions, System};
use std::sync::Arc;

/// The vocabulary shared by every ritz solver (`"converged"`, `"max-iterations"`, …).
pub fn stop_name(s: StopReason) -> &'static str {
    match s {
        StopReason::Converged => "converged",
        StopReason::MaxIterations => "max-iterations",
        StopReason::ZeroRhs => "zero-rhs",
        StopReason::Diverged => "diverged",
        StopReason::TimeLimit => "time-limit",
        StopReason::Stalled => "stalled",
    }
}

/// A MAC-grid pressure-Poisson problem (see the Python docstring in `ritz/_ritz.pyi`).
#[pyclass(module = "ritz._ritz", frozen)]
pub struct Poisson {
    pub(crate) problem: Arc<PoissonProblem>,
}

impl Poisson {
    fn npy_shape(&self) -> Vec<usize> {
        self.problem.grid().npy_shape()
    }
    fn grid_vector<'a>(
        &self,
        x: &'a PyReadonlyArrayDyn<'_, f64>,
        what: &str,
    ) -> PyResult<&'a [f64]> {
        let flat = x.ndim() == 1 && x.len() == self.problem.num_cells();
        if x.shape() != self.npy_shape().as_slice() && !flat {
            return Err(PyValueError::new_err(format!(
                "{what} has shape {:?}; the grid has shape {:?}",
                x.shape(),
                self.npy_shape()
            )));
        }
        slice(x, what)
    }
}

#[pymethods]
impl Poisson {
    #[new]
    #[pyo3(signature = (flags, walls = "closed"))]
    fn new(flags: &Bound<'_, PyAny>, walls: &str) -> PyResult<Self> {
        let flags = arrays::flags_array(flags)?.readonly();
        let shape: Vec<usize> = flags.shape().iter().rev().copied().collect();
        let codes = slice(&flags, "flags")?;
        let walls = Walls::named(walls, shape.len().clamp(2, 3)).or_raise()?;
        let grid = MacGrid::from_codes(&shape, codes, walls).or_raise()?;
        Ok(Self {
            problem: Arc::new(PoissonProblem::new(grid).or_raise()?),
        })
    }

    /// A built-in seeded scene (`plume`, `spheres`, `pillars`, `organic`, `closed`).
    #[staticmethod]
    #[pyo3(signature = (name, n, dim = 3, seed = 0))]
    fn scene(py: Python<'_>, name: &str, n: usize, dim: usize, seed: u64) -> PyResult<Self> {
        let scene: Scene = name.parse().or_raise()?;
        let problem = py.detach(|| PoissonProblem::new(scene.generate(dim, n, seed)?));
        Ok(Self {
            problem: Arc::new(problem.or_raise()?),
        })
    }

    /// A problem from an npy file of int8 flags.
    #[staticmethod]
    #[pyo3(signature = (path, walls = "closed"))]
    fn load(path: std::path::PathBuf, walls: &str) -> PyResult<Self> {
        let preset = walls.parse().or_raise()?;
        let grid = MacGrid::read_flags_npy(&path, preset).or_raise()?;
        Ok(Self {
            problem: Arc::new(PoissonProblem::new(grid).or_raise()?),
        })
    }

    #[getter(shape)]
    fn shape_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        pyo3::types::PyTuple::new(py, self.npy_shape())
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.problem.grid().dim()
    }
    #[getter]
    fn num_cells(&self) -> usize {
        self.problem.num_cells()
    }
    #[getter]
    fn num_fluid(&self) -> usize {
        self.problem.num_fluid()
    }
    #[getter]
    fn walls(&self) -> String {
        let g = self.problem.grid();
        g.walls().name(g.dim()).unwrap_or("custom").to_string()
    }
    /// Floating (all-Neumann) fluid regions and all fluid regions.
    #[getter]
    fn regions(&self) -> (usize, usize) {
        self.problem.region_counts()
    }

    fn flags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<i8>>> {
        arrays::shaped(py, self.problem.grid().codes(), &self.npy_shape())
    }

    fn fluid_cells<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        arrays::vec1(py, self.problem.fluid_cells().to_vec())
    }

    /// The assembled matrix on the fluid unknowns as a `scipy.sparse.csr_matrix`.
    fn matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.problem.assemble());
        let indptr: Vec<i64> = a.row_ptr().iter().map(|&p| p as i64).collect();
        let indices: Vec<i32> = a.col_idx().iter().map(|&c| c as i32).collect();
        let parts = (
            arrays::vec1(py, a.values().to_vec()),
            arrays::vec1(py, indices),
            arrays::vec1(py, indptr),
        );
        py.import("scipy.sparse")?
            .getattr("csr_matrix")?
            .call1((parts, (a.nrows(), a.ncols())))
    }

    fn apply<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = arrays::f64_array(x)?.readonly();
        let xs = self.grid_vector(&x, "x")?;
        let y = arrays::zeros::<f64>(py, &self.npy_shape());
        {
            let mut w = y.readwrite();
            let ys = w.as_slice_mut().expect("a fresh array is contiguous");
            py.detach(|| self.problem.apply(xs, ys));
        }
        Ok(y)
    }

    #[pyo3(signature = (kind = "smooth", seed = 0))]
    fn rhs<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let kind: RhsKind = kind.parse().or_raise()?;
        let b = py.detach(|| kind.generate(&self.problem, seed));
        arrays::shaped(py, b, &self.npy_shape())
    }

    fn to_compact<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = arrays::f64_array(x)?.readonly();
        let xs = self.grid_vector(&x, "x")?;
        Ok(arrays::vec1(py, self.problem.to_compact(xs).or_raise()?))
    }

    fn to_grid<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = arrays::f64_array(x)?.readonly();
        let xs = slice(&x, "x")?;
        arrays::shaped(py, self.problem.to_grid(xs).or_raise()?, &self.npy_shape())
    }

    fn __repr__(&self) -> String {
        format!(
            "Poisson(shape={}, fluid={}, walls='{}')",
            crate::arrays::shape_str(&self.npy_shape()),
            self.problem.num_fluid(),
            self.walls()
        )
    }
}

/// A validated sparse matrix in CSR form (built from SciPy's arrays by `ritz.as_sparse`).
#[pyclass(module = "ritz._ritz", frozen)]
pub struct SparseMatrix {
    pub(crate) matrix: Arc<CsrMatrix>,
}

#[pymethods]
impl SparseMatrix {
    #[new]
    fn new(
        shape: (usize, usize),
        indptr: PyReadonlyArrayDyn<'_, i64>,
        indices: PyReadonlyArrayDyn<'_, i64>,
        data: PyReadonlyArrayDyn<'_, f64>,
    ) -> PyResult<Self> {
        let negative = || PyValueError::new_err("negative index in a CSR array");
        let row_ptr = slice(&indptr, "indptr")?
            .iter()
            .map(|&p| usize::try_from(p).map_err(|_| negative()))
            .collect::<PyResult<Vec<_>>>()?;
        let col_idx = slice(&indices, "indices")?
            .iter()
            .map(|&c| u32::try_from(c).map_err(|_| negative()))
            .collect::<PyResult<Vec<_>>>()?;
        let values = slice(&data, "data")?.to_vec();
        if row_ptr.is_empty() {
            return Err(PyValueError::new_err("indptr is empty"));
        }
        let m = CsrMatrix::from_csr(shape.0, shape.1, row_ptr, col_idx, values).or_raise()?;
        Ok(Self {
            matrix: Arc::new(m),
        })
    }
    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.matrix.nrows(), self.matrix.ncols())
    }
    #[getter]
    fn nnz(&self) -> usize {
        self.matrix.nnz()
    }
    fn __repr__(&self) -> String {
        format!(
            "SparseMatrix(shape={:?}, nnz={})",
            self.shape(),
            self.matrix.nnz()
        )
    }
}

/// What a solver was built on (kept alive by the solver).
enum Owned {
    Grid(Arc<PoissonProblem>),
    Matrix(Arc<CsrMatrix>),
}

impl Owned {
    fn system(&self) -> System<'_> {
        match self {
            Owned::Grid(p) => System::Grid(p),
            Owned::Matrix(a) => System::Matrix(a),
        }
    }
}

/// A catalogue solver set up once on a system.
#[pyclass(module = "ritz._ritz", subclass)]
pub struct Solver {
    inner: ritz::Solver,
    system: Owned,
}

fn params(rtol: f64, atol: f64, maxiter: usize) -> SolveParams {
    SolveParams {
        rtol,
        atol,
        max_iters: maxiter,
        ..Default::default()
    }
}

/// The info dict of one solve.
pub fn info_dict<'py>(
    py: Python<'py>,
    info: &SolveInfo,
    solver: &str,
    setup_s: f64,
    solve_s: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("solver", solver)?;
    d.set_item("iterations", info.iterations)?;
    d.set_item("stop", stop_name(info.stop))?;
    d.set_item("converged", info.converged())?;
    d.set_item("relative_residual", info.final_relative_residual())?;
    d.set_item("residuals", arrays::vec1(py, info.residual_history.clone()))?;
    d.set_item("elapsed", arrays::vec1(py, info.elapsed_s.clone()))?;
    d.set_item("rhs_norm", info.rhs_norm)?;
    d.set_item("setup_seconds", setup_s)?;
    d.set_item("solve_seconds", solve_s)?;
    Ok(d)
}

#[pymethods]
impl Solver {
    #[new]
    #[pyo3(signature = (name, system, *, tol = 1e-6, atol = 0.0, maxiter = 10_000, weights = None, backend = "cpu"))]
    fn new(
        py: Python<'_>,
        name: &str,
        system: &Bound<'_, PyAny>,
        tol: f64,
        atol: f64,
        maxiter: usize,
        weights: Option<std::path::PathBuf>,
        backend: &str,
    ) -> PyResult<Self> {
        let owned = if let Ok(p) = system.cast::<Poisson>() {
            Owned::Grid(p.get().problem.clone())
        } else if let Ok(m) = system.cast::<SparseMatrix>() {
            Owned::Matrix(m.get().matrix.clone())
        } else {
            // A SciPy sparse matrix (or anything `ritz.as_sparse` takes).
            let m = py.import("ritz")?.getattr("as_sparse")?.call1((system,))?;
            let m = m.cast::<SparseMatrix>()?;
            Owned::Matrix(m.get().matrix.clone())
        };
        let backend = match backend.to_ascii_lowercase().as_str() {
            "cpu" => Backend::Cpu,
            "cuda" | "gpu" => Backend::Cuda,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown backend '{other}' (known: cpu, cuda)"
                )));
            }
        };
        let spec: ritz::SolverSpec = name.parse().or_raise()?;
        let options = BuildOptions {
            weights,
            backend,
            params: params(tol, atol, maxiter),
        };
        let inner = py
            .detach(|| ritz::Solver::build_with(&spec, owned.system(), &options))
            .or_raise()?;
        Ok(Self {
            inner,
            system: owned,
        })
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.spec().to_string()
    }
    #[getter]
    fn setup_seconds(&self) -> f64 {
        self.inner.setup_s()
    }
    #[getter]
    fn tol(&self) -> f64 {
        self.inner.params().rtol
    }
    #[getter]
    fn maxiter(&self) -> usize {
        self.inner.params().max_iters
    }
    /// Length of the vectors the preconditioner takes (see `preconditioner`).
    #[getter]
    fn vector_length(&self) -> usize {
        self.inner.vector_len()
    }
    /// The grid problem it was built on (`None` for a matrix).
    #[getter]
    fn problem(&self) -> Option<Poisson> {
        match &self.system {
            Owned::Grid(p) => Some(Poisson { problem: p.clone() }),
            Owned::Matrix(_) => None,
        }
    }
    /// The shape of right-hand sides and solutions.
    #[getter(shape)]
    fn shape_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        pyo3::types::PyTuple::new(py, self.shape())
    }

    /// Solves `A x = b`; returns `(x, info)`.
    #[pyo3(signature = (b, x0 = None, *, tol = None, atol = None, maxiter = None, raise_on_failure = false))]
    fn solve<'py>(
        &mut self,
        py: Python<'py>,
        b: &Bound<'py, PyAny>,
        x0: Option<&Bound<'py, PyAny>>,
        tol: Option<f64>,
        atol: Option<f64>,
        maxiter: Option<usize>,
        raise_on_failure: bool,
    ) -> PyResult<(Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyDict>)> {
        let b = arrays::f64_array(b)?.readonly();
        let x0 = x0.map(arrays::f64_array).transpose()?;
        let x0 = x0.as_ref().map(|a| a.readonly());
        let shape = self.shape();
        let n: usize = shape.iter().product();
        // The system's shape, or flat (1-D of the same length), or a column for a matrix.
        let column = [n, 1];
        let check = |a: &PyReadonlyArrayDyn<'py, f64>, what: &str| -> PyResult<()> {
            let fits = a.shape() == shape.as_slice()
                || (a.ndim() == 1 && a.len() == n)
                || (shape.len() == 1 && a.shape() == column);
            if !fits {
                return Err(PyValueError::new_err(format!(
                    "{what} has shape {:?}; the system's vectors have shape {shape:?}",
                    a.shape()
                )));
            }
            Ok(())
        };
        check(&b, "b")?;
        let bs = slice(&b, "b")?;
        let x = arrays::zeros::<f64>(py, b.shape());
        if let Some(x0) = &x0 {
            check(x0, "x0")?;
            x.readwrite()
                .as_slice_mut()
                .expect("a fresh array is contiguous")
                .copy_from_slice(slice(x0, "x0")?);
        }
        let old = *self.inner.params();
        let changed = SolveParams {
            rtol: tol.unwrap_or(old.rtol),
            atol: atol.unwrap_or(old.atol),
            max_iters: maxiter.unwrap_or(old.max_iters),
            ..old
        };
        self.inner.set_params(changed).or_raise()?;
        let report = {
            let mut w = x.readwrite();
            let xs = w.as_slice_mut().expect("a fresh array is contiguous");
            let (inner, system) = (&mut self.inner, &self.system);
            py.detach(|| inner.solve(system.system(), bs, xs))
        };
        self.inner.set_params(old).or_raise()?;
        let report = report.or_raise()?;
        let info = info_dict(
            py,
            &report.info,
            &self.name(),
            self.inner.setup_s(),
            report.solve_s,
        )?;
        if raise_on_failure && !report.info.converged() {
            let message = format!(
                "{} stopped ({}) after {} iterations at relative residual {:.3e}",
                self.name(),
                stop_name(report.info.stop),
                report.info.iterations,
                report.info.final_relative_residual()
            );
            let e = py
                .import("ritz")?
                .getattr("ConvergenceError")?
                .call1((message, &x, &info))?;
            return Err(PyErr::from_value(e));
        }
        Ok((x, info))
    }

    /// True if the solver has a preconditioner that is a fixed SPD map (usable by plain
    /// PCG, e.g. as SciPy's `M`); `None` if it has none.
    #[getter]
    fn preconditioner_is_spd(&self) -> Option<bool> {
        self.inner.preconditioner().map(|(_, spd)| spd)
    }

    /// The preconditioner as a `scipy.sparse.linalg.LinearOperator` on the system's unknowns
    /// (the fluid cells, in `Poisson.matrix()`'s order, for a grid problem), for SciPy's `M=`.
    fn preconditioner<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("ritz._convert")?
            .call_method1("preconditioner_operator", (slf,))
    }

    /// `z = M⁻¹ r` on vectors of length `vector_length`.
    fn apply_preconditioner<'py>(
        &self,
        py: Python<'py>,
        r: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let r = arrays::f64_array(r)?.readonly();
        let (m, _) = self.inner.preconditioner().ok_or_else(|| {
            PyValueError::new_err(format!("{} has no preconditioner", self.name()))
        })?;
        let rs = r
            .as_slice()
            .map_err(|_| PyValueError::new_err("r must be contiguous"))?;
        if rs.len() != m.dim() {
            return Err(PyValueError::new_err(format!(
                "r has length {}; the preconditioner takes {}",
                rs.len(),
                m.dim()
            )));
        }
        if let Some(i) = rs.iter().position(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "non-finite value in r at index {i}"
            )));
        }
        let z = PyArray1::<f64>::zeros(py, rs.len(), false);
        {
            let mut w = z.readwrite();
            let zs = w.as_slice_mut().expect("a fresh array is contiguous");
            py.detach(|| m.apply(rs, zs));
        }
        Ok(z)
    }

    fn __repr__(&self) -> String {
        format!(
            "Solver('{}', shape={}, setup_seconds={:.3})",
            self.name(),
            crate::arrays::shape_str(&self.shape()),
            self.inner.setup_s()
        )
    }
}

impl Solver {
    /// The shape of right-hand sides and solutions.
    fn shape(&self) -> Vec<usize> {
        match &self.system {
            Owned::Grid(p) => p.grid().npy_shape(),
            Owned::Matrix(a) => vec![a.nrows()],
        }
    }

    /// The catalogue solver and the problem it was built on, for the smoke simulator.
    pub(crate) fn parts(&mut self) -> (&mut ritz::Solver, Option<&PoissonProblem>) {
        match &self.system {
            Owned::Grid(p) => (&mut self.inner, Some(p)),
            Owned::Matrix(_) => (&mut self.inner, None),
        }
    }
}
