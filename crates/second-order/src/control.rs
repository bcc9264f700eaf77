//! PDE-constrained optimization: distributed control of a linear elliptic equation with a
//! tracking objective (the standard test of the PDE-constrained literature),
//!
//! ```text
//! min  ½ ‖u − u_d‖² + (α/2) ‖f‖²   s.t.   A u − s f = 0,
//! ```
//!
//! with `A` a square nonsingular stencil matrix (cells × cells), `u` the state and `f` the
//! control at the cells, `u_d` the target and `s` the source scaling. With `A` the
//! cell-centred five- (seven-) point stencil (`A/h² ≈ −Δ`) and `s = h²`, this is the
//! discretized `min ½‖u − u_d‖²_{L²} + (α/2)‖f‖²_{L²}` s.t. `−Δu = f`, its objective divided by
//! the cell volume `h^d` and its constraint multiplied by `h²`. The minimizer is the same, and
//! the KKT entries are of order 1 instead of `h^d` and `h⁻²`. (Unscaled, the rounding floor of
//! the KKT residual reaches 10⁻⁶ relative at 256².) The facade's `ritz::control::poisson_control`
//! builds it on pde's MAC grid.
//!
//! Variables `x = (u, f)` (`n = 2N`), constraints `m = N`; the KKT matrix
//!
//! ```text
//! [[I, 0, Aᵀ], [0, αI, −s I], [A, −s I, 0]]
//! ```
//!
//! is sparse, symmetric, indefinite, and badly conditioned for a PDE stencil (`A` has
//! condition number `O(h⁻²)`, and small `α` couples the blocks weakly): the case where
//! randomized sketching is expected to struggle. The problem is a convex quadratic program:
//! one exact Newton step solves it.

use crate::constrained::EqualityProblem;
use crate::error::SecondOrderError;
use ritz_linalg::{CsrMatrix, LinearOperator};

/// Distributed control of `A u = s f` (see the [module](self) documentation).
pub struct DistributedControl {
    name: String,
    a: CsrMatrix,
    jac: CsrMatrix,
    target: Vec<f64>,
    alpha: f64,
}

impl DistributedControl {
    /// The problem for the stencil `a`, target `u_d`, source scaling `s` and control cost
    /// `α`.
    ///
    /// Errors: `a` not square, a target of another length, NaN/∞ in `a` or the target, `s`
    /// or `α` not positive and finite. Cost: `O(nnz(A))`.
    ///
    /// ```
    /// use ritz_linalg::CsrMatrix;
    /// use ritz_second_order::control::DistributedControl;
    /// use ritz_second_order::constrained::EqualityProblem;
    /// use ritz_second_order::sqp::{SqpParams, sqp};
    /// // −u'' = f on 8 cells of (0, 1), Dirichlet ends: the stencil tridiag(−1, 2, −1), s = h².
    /// let n = 8;
    /// let mut t = Vec::new();
    /// for i in 0..n {
    ///     t.push((i, i, 2.0));
    ///     if i > 0 { t.push((i, i - 1, -1.0)); }
    ///     if i + 1 < n { t.push((i, i + 1, -1.0)); }
    /// }
    /// let a = CsrMatrix::from_triplets(n, n, &t)?;
    /// let p = DistributedControl::new("1D control", a, vec![1.0; n], 1.0 / 64.0, 1e-4)?;
    /// assert_eq!((p.n(), p.m()), (16, 8));
    /// // A convex QP: one exact Newton step solves it.
    /// let params = SqpParams { tol: 0.0, rtol: 1e-10, ..Default::default() };
    /// let res = sqp(&p, &vec![0.0; p.n()], None, &params, &mut ())?;
    /// assert_eq!(res.iterations(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        name: impl Into<String>,
        a: CsrMatrix,
        target: Vec<f64>,
        s: f64,
        alpha: f64,
    ) -> Result<Self, SecondOrderError> {
        let cells = a.nrows();
        if a.ncols() != cells {
            return Err(ritz_linalg::LinalgError::NotSquare {
                nrows: cells,
                ncols: a.ncols(),
            }
            .into());
        }
        crate::error::check_len("target (one value per cell)", cells, target.len())?;
        crate::error::check_finite("target", &target)?;
        crate::error::check_finite("stencil", a.values())?;
        for (what, v) in [("source scaling s", s), ("control cost α", alpha)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(SecondOrderError::InvalidParameter(format!(
                    "{what} must be positive and finite, got {v}"
                )));
            }
        }
        let t: Vec<(usize, usize, f64)> = a
            .triplets()
            .chain((0..cells).map(|i| (i, cells + i, -s)))
            .collect();
        let jac = CsrMatrix::from_triplets(cells, 2 * cells, &t)?;
        Ok(Self {
            name: name.into(),
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

    /// The stencil `A` (cells × cells).
    pub fn stencil(&self) -> &CsrMatrix {
        &self.a
    }

    /// Cells `N^d`.
    pub fn cells(&self) -> usize {
        self.target.len()
    }
}

impl EqualityProblem for DistributedControl {
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

    /// The 2D five-point Dirichlet stencil on `n × n` cells and a disc target: the Poisson
    /// control problem with `s = h²`.
    fn poisson(n: usize, alpha: f64) -> DistributedControl {
        let id = |i: usize, j: usize| i * n + j;
        let mut t = Vec::new();
        let mut target = Vec::new();
        for i in 0..n {
            for j in 0..n {
                t.push((id(i, j), id(i, j), 4.0));
                for (di, dj) in [(0i64, 1i64), (0, -1), (1, 0), (-1, 0)] {
                    let (a, b) = (i as i64 + di, j as i64 + dj);
                    if (0..n as i64).contains(&a) && (0..n as i64).contains(&b) {
                        t.push((id(i, j), id(a as usize, b as usize), -1.0));
                    }
                }
                let h = 1.0 / n as f64;
                let r2 =
                    ((i as f64 + 0.5) * h - 0.5).powi(2) + ((j as f64 + 0.5) * h - 0.5).powi(2);
                target.push(if r2 < 0.0625 { 1.0 } else { 0.0 });
            }
        }
        let a = CsrMatrix::from_triplets(n * n, n * n, &t).unwrap();
        let h2 = 1.0 / (n * n) as f64;
        DistributedControl::new("poisson", a, target, h2, alpha).unwrap()
    }

    #[test]
    fn one_exact_step_solves_the_qp_and_satisfies_the_optimality_system() {
        let p = poisson(12, 1e-3);
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
        p.stencil().apply(u, &mut au);
        p.stencil().transpose().apply(&res.lambda, &mut atl);
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
        let p = poisson(8, 1e-4);
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
    fn bad_input_is_a_typed_error() {
        let a = CsrMatrix::from_triplets(2, 2, &[(0, 0, 2.0), (1, 1, 2.0)]).unwrap();
        let rect = CsrMatrix::from_triplets(2, 3, &[(0, 0, 2.0)]).unwrap();
        let new = |a: &CsrMatrix, t: Vec<f64>, s: f64, alpha: f64| {
            DistributedControl::new("x", a.clone(), t, s, alpha)
        };
        assert!(new(&rect, vec![0.0; 2], 1.0, 1.0).is_err());
        assert!(new(&a, vec![0.0; 3], 1.0, 1.0).is_err());
        assert!(new(&a, vec![f64::NAN, 0.0], 1.0, 1.0).is_err());
        for (s, alpha) in [
            (0.0, 1.0),
            (1.0, 0.0),
            (f64::NAN, 1.0),
            (1.0, f64::INFINITY),
        ] {
            assert!(matches!(
                new(&a, vec![0.0; 2], s, alpha),
                Err(SecondOrderError::InvalidParameter(_))
            ));
        }
    }
}
