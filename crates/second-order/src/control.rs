//! PDE-constrained optimization on pde's MAC grid: Poisson optimal control (distributed
//! control with a tracking objective, the standard test of the PDE-constrained literature)
//!
//! ```text
//! min  ½ ‖u − u_d‖² + (α/2) ‖f‖²   s.t.   A u − h² f = 0,
//! ```
//!
//! on the unit square or cube with `N` cells per side (`h = 1/N`), `A` the cell-centred five-
//! (seven-) point stencil of [`ritz_pde::PoissonProblem`] (so `A/h² ≈ −Δ`) with Dirichlet
//! walls (`u = 0` outside), `u` the state and `f` the control at the cells, and the target
//! `u_d` the indicator of a disc (ball) of radius ¼ at the centre. This is the discretized
//! `min ½‖u − u_d‖²_{L²} + (α/2)‖f‖²_{L²}` s.t. `−Δu = f`, with the objective divided by the
//! cell volume `h^d` and the constraint multiplied by `h²` — the same minimizer, with KKT
//! entries of order 1 instead of `h^d` and `h⁻²` (unscaled, the rounding floor of the KKT
//! residual reaches 10⁻⁶ relative at 256²). Variables `x = (u, f)` (`n = 2N^d`), constraints
//! `m = N^d`; the KKT matrix
//!
//! ```text
//! [[I, 0, Aᵀ], [0, αI, −h² I], [A, −h² I, 0]]
//! ```
//!
//! is sparse, symmetric, indefinite, and badly conditioned (`A` has condition number
//! `O(N²)`, and small `α` couples the blocks weakly): the case where randomized sketching is
//! expected to struggle. The problem is a convex quadratic program: one exact Newton step
//! solves it.

use crate::constrained::EqualityProblem;
use crate::error::SecondOrderError;
use ritz_linalg::{CsrMatrix, LinearOperator};
use ritz_pde::{MacGrid, PoissonProblem, WallKind, Walls};

/// Poisson optimal control on an `N^d` MAC grid (see the [module](self) documentation).
pub struct PoissonControl {
    name: String,
    a: CsrMatrix,
    jac: CsrMatrix,
    target: Vec<f64>,
    alpha: f64,
}

impl PoissonControl {
    /// The problem on `shape` (`[N, N]` or `[N, N, N]`) with control cost `α`.
    ///
    /// Errors: a shape that is not 2 or 3 equal sides of at least 2 cells, `α` not positive
    /// and finite, grids whose arrays would not fit in memory. Cost: `O(N^d)`.
    ///
    /// ```
    /// use ritz_second_order::control::PoissonControl;
    /// use ritz_second_order::constrained::EqualityProblem;
    /// use ritz_second_order::sqp::{SqpParams, sqp};
    /// let p = PoissonControl::new(&[16, 16], 1e-4)?;
    /// assert_eq!((p.n(), p.m()), (512, 256));
    /// // A convex QP: one exact Newton step solves it.
    /// let params = SqpParams { tol: 0.0, rtol: 1e-10, ..Default::default() };
    /// let res = sqp(&p, &vec![0.0; p.n()], None, &params, &mut ())?;
    /// assert_eq!(res.iterations(), 1);
    /// # Ok::<(), ritz_second_order::SecondOrderError>(())
    /// ```
    pub fn new(shape: &[usize], alpha: f64) -> Result<Self, SecondOrderError> {
        let sides_ok = matches!(shape.len(), 2 | 3) && shape.iter().all(|&s| s == shape[0]);
        if !sides_ok || shape[0] < 2 {
            return Err(SecondOrderError::InvalidParameter(format!(
                "Poisson control needs a square or cubic grid of at least 2 cells per side, \
                 got {shape:?}"
            )));
        }
        if !(alpha > 0.0 && alpha.is_finite()) {
            return Err(SecondOrderError::InvalidParameter(format!(
                "control cost α must be positive and finite, got {alpha}"
            )));
        }
        let grid = MacGrid::new(shape, Walls([[WallKind::Air; 2]; 3]))?;
        let problem = PoissonProblem::new(grid)?;
        let dim = shape.len();
        let side = shape[0];
        let h = 1.0 / side as f64;
        let a = problem.assemble();
        let cells = a.nrows();
        let t: Vec<(usize, usize, f64)> = a
            .triplets()
            .chain((0..cells).map(|i| (i, cells + i, -h * h)))
            .collect();
        let jac = CsrMatrix::from_triplets(cells, 2 * cells, &t)?;
        let grid = problem.grid();
        let target = problem
            .fluid_cells()
            .iter()
            .map(|&c| {
                let co = grid.coords(c as usize);
                let r2: f64 = (0..dim)
                    .map(|k| ((co[k] as f64 + 0.5) * h - 0.5).powi(2))
                    .sum();
                if r2 < 0.0625 { 1.0 } else { 0.0 }
            })
            .collect();
        Ok(Self {
            name: format!("poisson-control {}", shape_name(shape)),
            a,
            jac,
            target,
            alpha,
        })
    }

    /// The target state `u_d` (one value per cell, compact numbering).
    pub fn target(&self) -> &[f64] {
        &self.target
    }

    /// `A` (cells × cells, the integer stencil: `A/h² ≈ −Δ`).
    pub fn laplacian(&self) -> &CsrMatrix {
        &self.a
    }

    /// Cells `N^d`.
    pub fn cells(&self) -> usize {
        self.target.len()
    }
}

fn shape_name(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

impl EqualityProblem for PoissonControl {
    fn name(&self) -> &str {
        &self.name
    }
    fn n(&self) -> usize {
        2 * self.cells()
    }
    fn m(&self) -> usize {
        self.cells()
    }
    fn objective(&self, x: &[f64]) -> f64 {
        let (u, f) = x.split_at(self.cells());
        let track: f64 = u
            .iter()
            .zip(&self.target)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        let cost: f64 = f.iter().map(|v| v * v).sum();
        0.5 * (track + self.alpha * cost)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        let n = self.cells();
        for i in 0..n {
            g[i] = x[i] - self.target[i];
            g[n + i] = self.alpha * x[n + i];
        }
    }
    fn constraints(&self, x: &[f64], c: &mut [f64]) {
        self.jac.apply(x, c);
    }
    /// Dense `m × n`: `O(N^{2d})` memory — for checks on small grids only.
    fn jacobian(&self, _x: &[f64], j: &mut [f64]) {
        j.fill(0.0);
        let n = self.n();
        for (r, col, v) in self.jac.triplets() {
            j[r * n + col] = v;
        }
    }
    /// Dense `n × n`: for checks on small grids only.
    fn hessian_lagrangian(&self, _x: &[f64], _lambda: &[f64], h: &mut [f64]) {
        h.fill(0.0);
        let (n, cells) = (self.n(), self.cells());
        for i in 0..cells {
            h[i * n + i] = 1.0;
            h[(cells + i) * n + cells + i] = self.alpha;
        }
    }
    fn hessian_lagrangian_product(&self, _x: &[f64], _l: &[f64], v: &[f64], out: &mut [f64]) {
        let cells = self.cells();
        for (i, (o, vi)) in out.iter_mut().zip(v).enumerate() {
            *o = vi * if i < cells { 1.0 } else { self.alpha };
        }
    }
    fn jacobian_csr(&self, _x: &[f64]) -> Result<CsrMatrix, SecondOrderError> {
        Ok(self.jac.clone())
    }
    fn hessian_lagrangian_csr(
        &self,
        _x: &[f64],
        _lambda: &[f64],
    ) -> Result<CsrMatrix, SecondOrderError> {
        let cells = self.cells();
        let t: Vec<(usize, usize, f64)> = (0..2 * cells)
            .map(|i| (i, i, if i < cells { 1.0 } else { self.alpha }))
            .collect();
        Ok(CsrMatrix::from_triplets(2 * cells, 2 * cells, &t)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqp::{KktSolve, SqpParams, sqp};

    #[test]
    fn one_exact_step_solves_the_qp_and_satisfies_the_optimality_system() {
        let p = PoissonControl::new(&[12, 12], 1e-3).unwrap();
        let params = SqpParams {
            tol: 0.0,
            rtol: 1e-10,
            ..Default::default()
        };
        let res = sqp(&p, &vec![0.0; p.n()], None, &params, &mut ()).unwrap();
        assert_eq!(res.iterations(), 1);
        // Independent check of the optimality system: the state solves A u = h² f, the
        // adjoint λ solves Aᵀλ = −(u − u_d), and α f = h² λ.
        let cells = p.cells();
        let (u, f) = res.x.split_at(cells);
        let h2 = 1.0 / 144.0;
        let (mut au, mut atl) = (vec![0.0; cells], vec![0.0; cells]);
        p.laplacian().apply(u, &mut au);
        p.laplacian().transpose().apply(&res.lambda, &mut atl);
        for i in 0..cells {
            assert!((au[i] - h2 * f[i]).abs() < 1e-12);
            assert!((atl[i] + (u[i] - p.target()[i])).abs() < 1e-10);
            assert!((1e-3 * f[i] - h2 * res.lambda[i]).abs() < 1e-12);
        }
        // The control drives the state toward the target: the tracking error shrinks.
        let before: f64 = p.target().iter().map(|t| t * t).sum();
        let after: f64 = u.iter().zip(p.target()).map(|(a, b)| (a - b).powi(2)).sum();
        assert!(after < 0.5 * before);
    }

    #[test]
    fn minres_sqp_converges_and_sketching_reports_its_slowness() {
        let p = PoissonControl::new(&[8, 8], 1e-4).unwrap();
        let params = |solve, max_iters| SqpParams {
            tol: 0.0,
            rtol: 1e-6,
            max_iters,
            solve,
            ..Default::default()
        };
        let minres = KktSolve::Minres { max_iters: 10_000 };
        let res = sqp(&p, &vec![0.0; p.n()], None, &params(minres, 40), &mut ()).unwrap();
        assert_eq!(res.stop, ritz_krylov::StopReason::Converged);
        // Block sketch-and-project on this 192 × 192 KKT matrix needs ~10⁵–10⁶ iterations per
        // halving of the residual: with a budget of 2000 per solve it cannot meet the
        // accuracy condition, and the run record says so.
        let sketch = KktSolve::Sketch {
            sketch: ritz_krylov::sketch::Sketch::Block { size: 8 },
            max_iters: 2000,
            seed: 5,
        };
        let res = sqp(&p, &vec![0.0; p.n()], None, &params(sketch, 3), &mut ()).unwrap();
        assert_ne!(res.stop, ritz_krylov::StopReason::Converged);
        let r1 = &res.history[1];
        assert_eq!(r1.solver_iterations, 2000 * r1.solves);
        assert!(r1.solve_residual > r1.accuracy);
    }

    #[test]
    fn bad_shapes_and_costs_are_typed_errors() {
        for (shape, alpha) in [
            (&[8usize, 4][..], 1e-4),
            (&[8][..], 1e-4),
            (&[1, 1][..], 1e-4),
            (&[8, 8][..], 0.0),
            (&[8, 8][..], f64::NAN),
        ] {
            assert!(matches!(
                PoissonControl::new(shape, alpha),
                Err(SecondOrderError::InvalidParameter(_))
            ));
        }
    }
}
