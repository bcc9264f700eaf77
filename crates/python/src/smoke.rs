//! The smoke simulator from Python: frames stepped with any catalogue solver built on its
//! Poisson problem, fields as numpy arrays in the flags' axis order.

use crate::arrays;
use crate::errors::OrRaise;
use crate::solve::{Poisson, Solver};
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ritz::pde::smoke::{Smoke as RustSmoke, SmokeParams, sphere_scene};
use ritz::pde::{MacGrid, Walls};
use std::sync::Arc;

/// An incompressible smoke simulation on a MAC grid with static obstacles.
#[pyclass(module = "ritz._ritz", name = "Smoke")]
pub struct Smoke {
    inner: RustSmoke,
}

fn smoke_params(
    dt: f64,
    buoyancy: f64,
    density_weight: f64,
    source: Option<Vec<f64>>,
    source_radius: f64,
    cooling: f64,
    warm_start: bool,
    dim: usize,
) -> PyResult<SmokeParams> {
    let mut p = SmokeParams {
        dt,
        buoyancy_temperature: buoyancy,
        buoyancy_density: density_weight,
        source_radius,
        cooling,
        warm_start,
        ..Default::default()
    };
    if let Some(c) = source {
        // Given in the flags' axis order, stored as [x, y, z].
        if c.len() != dim {
            return Err(PyValueError::new_err(format!(
                "source has {} coordinates; the grid has {dim} axes",
                c.len()
            )));
        }
        for (a, v) in c.iter().rev().enumerate() {
            p.source_centre[a] = *v;
        }
    }
    Ok(p)
}

impl Smoke {
    fn shape(&self) -> Vec<usize> {
        self.inner.problem().grid().npy_shape()
    }
}

#[pymethods]
impl Smoke {
    #[new]
    #[pyo3(signature = (flags, walls = "open-top", *, dt = 1.0, buoyancy = 0.2, density_weight = 0.02, source = None, source_radius = 0.08, cooling = 0.0, warm_start = false))]
    fn new(
        py: Python<'_>,
        flags: &Bound<'_, PyAny>,
        walls: &str,
        dt: f64,
        buoyancy: f64,
        density_weight: f64,
        source: Option<Vec<f64>>,
        source_radius: f64,
        cooling: f64,
        warm_start: bool,
    ) -> PyResult<Self> {
        let flags = arrays::flags_array(flags)?.readonly();
        let shape: Vec<usize> = flags.shape().iter().rev().copied().collect();
        let codes = arrays::slice(&flags, "flags")?;
        let dim = shape.len().clamp(2, 3);
        let grid =
            MacGrid::from_codes(&shape, codes, Walls::named(walls, dim).or_raise()?).or_raise()?;
        let p = smoke_params(
            dt,
            buoyancy,
            density_weight,
            source,
            source_radius,
            cooling,
            warm_start,
            dim,
        )?;
        let inner = py.detach(|| RustSmoke::new(grid, p)).or_raise()?;
        Ok(Self { inner })
    }

    /// Smoke rising past a sphere (a disc in 2D) in an open-top box of `n` cells per axis.
    #[staticmethod]
    #[pyo3(signature = (n, dim = 3, *, warm_start = false))]
    fn sphere(py: Python<'_>, n: usize, dim: usize, warm_start: bool) -> PyResult<Self> {
        let params = SmokeParams {
            warm_start,
            ..Default::default()
        };
        let inner = py
            .detach(|| RustSmoke::new(sphere_scene(dim, n)?, params))
            .or_raise()?;
        Ok(Self { inner })
    }

    /// The (static) Poisson problem of the projection, to build a solver on.
    #[getter]
    fn problem(&self) -> Poisson {
        Poisson {
            problem: Arc::new(self.inner.problem().clone()),
        }
    }

    /// Advances one frame, solving the pressure with `solver`; returns the frame's report.
    fn step<'py>(&mut self, py: Python<'py>, solver: &mut Solver) -> PyResult<Bound<'py, PyDict>> {
        let (s, problem) = solver.parts();
        let own = self.inner.problem();
        let fits = problem.is_some_and(|p| {
            p.num_cells() == own.num_cells() && p.fluid_cells() == own.fluid_cells()
        });
        if !fits {
            return Err(PyValueError::new_err(
                "the solver was not built on this simulation's problem (use Solver(name, sim.problem))",
            ));
        }
        let inner = &mut self.inner;
        let r = py.detach(|| inner.step(s)).or_raise()?;
        let d = PyDict::new(py);
        d.set_item("frame", r.frame)?;
        d.set_item("iterations", r.pressure.iterations)?;
        d.set_item("relative_residual", r.pressure.relative_residual)?;
        d.set_item("solve_seconds", r.pressure.seconds)?;
        d.set_item("divergence_before", r.divergence_before)?;
        d.set_item("divergence_after", r.divergence_after)?;
        d.set_item("smoke_mass", r.smoke_mass)?;
        d.set_item("max_velocity", r.max_velocity)?;
        Ok(d)
    }

    #[getter]
    fn frame(&self) -> usize {
        self.inner.frame()
    }
    #[getter(shape)]
    fn shape_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        pyo3::types::PyTuple::new(py, self.shape())
    }
    #[getter]
    fn density<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        arrays::shaped(py, self.inner.density().to_vec(), &self.shape())
    }
    #[getter]
    fn temperature<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        arrays::shaped(py, self.inner.temperature().to_vec(), &self.shape())
    }
    #[getter]
    fn pressure<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        arrays::shaped(py, self.inner.pressure().to_vec(), &self.shape())
    }
    /// Face velocities normal to numpy axis `axis` of the flags (0: z in 3D, y in 2D); the
    /// array is one longer along that axis.
    fn velocity<'py>(&self, py: Python<'py>, axis: usize) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let mut shape = self.shape();
        let dim = shape.len();
        if axis >= dim {
            return Err(PyValueError::new_err(format!(
                "axis {axis} out of range for a {dim}D grid"
            )));
        }
        shape[axis] += 1;
        arrays::shaped(py, self.inner.velocity(dim - 1 - axis).to_vec(), &shape)
    }
    fn __repr__(&self) -> String {
        format!(
            "Smoke(shape={}, frame={})",
            crate::arrays::shape_str(&self.shape()),
            self.inner.frame()
        )
    }
}
