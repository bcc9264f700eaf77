//! The V-cycle written out in natural cell order ([`GridMultigrid::cycle_data`]), for running
//! the same cycle on another machine model — the device V-cycle of
//! `ritz_neural_precond::device` runs it as tensor operations on a GPU.

use super::GridMultigrid;
use super::conductance::SCALE;
use super::hierarchy::{Level, boundary_entry};
use super::{CoarseSolve, LevelWeights};
use crate::error::PdeError;

/// One level of the V-cycle in natural cell order (`i + nx (j + ny k)`).
///
/// The level's operator is `(A x)_i = diag_i x_i − Σ_faces g_f x_j` over the fluid cells
/// (`x` is zero elsewhere), with `g` the conductance of the face between `i` and its
/// neighbour `j`.
#[derive(Debug, Clone)]
pub struct LevelData {
    /// `[nx, ny, nz]` (`nz = 1` in 2D).
    pub dims: [usize; 3],
    /// 2 or 3.
    pub dim: usize,
    /// 1 on fluid cells, 0 elsewhere.
    pub fluid: Vec<f32>,
    /// The operator's diagonal (0 off the fluid).
    pub diag: Vec<f32>,
    /// Per axis `a < dim`, the conductance of each cell's face towards `+e_a` (1 on the finest
    /// level; the area-weighted value, mapped by the schedule's exponent, on coarse levels).
    pub faces: Vec<Vec<f32>>,
    /// 1 on the cells the boundary sweeps update, 0 elsewhere.
    pub boundary: Vec<f32>,
    /// Per axis, whether the low / high domain wall is solid (Neumann): the transfers reflect
    /// there and drop what lies beyond an air wall.
    pub solid_wall: [[bool; 2]; 3],
    /// The level's relaxation weights and coarse-correction scale.
    pub weights: LevelWeights,
    /// Whole-level sweeps per smoothing phase.
    pub sweeps: usize,
}

/// A whole V-cycle: its levels (finest first; the last is solved exactly), the coarsest
/// solve as a dense matrix and the number of boundary sweeps.
#[derive(Debug, Clone)]
pub struct CycleData {
    /// The levels, finest first.
    pub levels: Vec<LevelData>,
    /// The coarsest level's pseudo-inverse over all its cells, row-major (`n × n`, `n` its
    /// cell count; zero rows and columns off the fluid).
    pub coarsest: Vec<f32>,
    /// Boundary sweeps per smoothing phase (each a red and a black half-sweep over the
    /// boundary cells, with `LevelWeights::boundary`).
    pub boundary_sweeps: usize,
}

/// The natural cell of every split-layout slot of `lev` (`usize::MAX` on padding).
fn cells_of_slots(lev: &Level) -> Vec<usize> {
    let mut cell = vec![usize::MAX; 2 * lev.lay.size];
    for c in 0..lev.len() {
        cell[lev.lay.global(c).1] = c;
    }
    cell
}

/// The most cells the coarsest level may have for [`GridMultigrid::cycle_data`].
pub const MAX_DENSE_COARSEST: usize = 4096;

impl GridMultigrid {
    /// The cycle in natural order (see [`CycleData`]). Cost: a pass over every level's cells
    /// and `n²` for the coarsest matrix; memory about 6 `f32` per cell.
    ///
    /// Errors ([`PdeError::Unsupported`]): a coarsest level above [`MAX_DENSE_COARSEST`]
    /// cells (solved by sparse Cholesky here), or the window of a split V-cycle.
    ///
    /// ```
    /// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene};
    /// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
    /// let mg = GridMultigrid::new(&p, MultigridParams::default())?;
    /// let cycle = mg.cycle_data()?;
    /// assert_eq!(cycle.levels.len(), mg.num_levels());
    /// assert_eq!(cycle.levels[0].fluid.len(), p.num_cells());
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn cycle_data(&self) -> Result<CycleData, PdeError> {
        let last = self.levels.len() - 1;
        let n_coarse = self.levels[last].len();
        let pinv = match &self.coarse {
            CoarseSolve::Exact { pinv } if n_coarse <= MAX_DENSE_COARSEST => pinv,
            CoarseSolve::Exact { .. } | CoarseSolve::Sparse(_) => {
                return Err(PdeError::Unsupported(format!(
                    "a coarsest level of {n_coarse} cells (at most {MAX_DENSE_COARSEST} are \
                     written out as a dense matrix)"
                )));
            }
            CoarseSolve::None => {
                return Err(PdeError::Unsupported(
                    "the window of a split V-cycle has no coarsest solve".into(),
                ));
            }
        };
        let levels = self
            .levels
            .iter()
            .enumerate()
            .map(|(l, lev)| self.level_data(l, lev))
            .collect();
        let cells = cells_of_slots(&self.levels[last]);
        let unknowns: Vec<usize> = self.coarse_slots.iter().map(|&q| cells[q]).collect();
        let mut coarsest = vec![0.0f32; n_coarse * n_coarse];
        for (a, &ca) in unknowns.iter().enumerate() {
            for (b, &cb) in unknowns.iter().enumerate() {
                coarsest[ca * n_coarse + cb] = pinv.get(a, b) as f32;
            }
        }
        Ok(CycleData {
            levels,
            coarsest,
            boundary_sweeps: self.params.boundary_sweeps,
        })
    }

    fn level_data(&self, l: usize, lev: &Level) -> LevelData {
        let n = lev.len();
        let slot = |c: usize| lev.lay.global(c).1;
        let fluid: Vec<f32> = (0..n)
            .map(|c| f32::from(lev.code[slot(c)] & super::hierarchy::FLUID_BIT != 0))
            .collect();
        let (diag, faces) = match lev.faces.as_deref() {
            Some(f) => (
                (0..n).map(|c| f.diag[slot(c)]).collect(),
                (0..lev.dim)
                    .map(|a| (0..n).map(|c| f32::from(f.g[a][slot(c)]) / SCALE).collect())
                    .collect(),
            ),
            None => (
                (0..n)
                    .map(|c| f32::from(lev.code[slot(c)] & 7) * fluid[c])
                    .collect(),
                vec![vec![1.0f32; n]; lev.dim],
            ),
        };
        let mut boundary = vec![0.0f32; n];
        let cells = cells_of_slots(lev);
        for (c, list) in lev.boundary.iter().enumerate() {
            for &e in list {
                let (q, _) = boundary_entry(e);
                boundary[cells[c * lev.lay.size + q]] = 1.0;
            }
        }
        LevelData {
            dims: lev.dims,
            dim: lev.dim,
            fluid,
            diag,
            faces,
            boundary,
            solid_wall: lev.solid_wall,
            weights: lev.weights,
            sweeps: self.params.sweeps(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hierarchy::split_from;
    use super::super::smooth::residual;
    use super::*;
    use crate::{MultigridParams, PoissonProblem, Scene};

    /// `A x` of an exported level, written independently of the split-layout kernels.
    fn apply(lev: &LevelData, x: &[f64]) -> Vec<f64> {
        let [nx, ny, _] = lev.dims;
        let strides = [1, nx, nx * ny];
        let mut y: Vec<f64> = (0..x.len())
            .map(|c| f64::from(lev.diag[c]) * x[c])
            .collect();
        for (a, g) in lev.faces.iter().enumerate() {
            for c in 0..x.len() {
                let i = (c / strides[a]) % lev.dims[a];
                if i + 1 < lev.dims[a] {
                    let (j, g) = (c + strides[a], f64::from(g[c]));
                    let (fi, fj) = (f64::from(lev.fluid[c]), f64::from(lev.fluid[j]));
                    y[c] -= g * x[j] * fi * fj;
                    y[j] -= g * x[c] * fi * fj;
                }
            }
        }
        y
    }

    #[test]
    fn exported_levels_apply_the_cycles_operators() {
        for (dim, n, scene) in [(3, 16, Scene::Spheres), (2, 32, Scene::Organic)] {
            let p = PoissonProblem::new(scene.generate(dim, n, 4).unwrap()).unwrap();
            let mg = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
            let cycle = mg.cycle_data().unwrap();
            assert_eq!(cycle.levels.len(), mg.levels.len());
            for (lev, data) in mg.levels.iter().zip(&cycle.levels) {
                let cells = lev.len();
                let x: Vec<f64> = (0..cells)
                    .map(|c| ((c * 7919) % 13) as f64 * f64::from(data.fluid[c]))
                    .collect();
                let mut xs = vec![0.0f64; lev.slots()];
                split_from(lev, &x, &mut xs);
                let mut r = vec![0.0f64; cells];
                residual(lev, &xs, &vec![0.0; lev.slots()], &mut r);
                let ax = apply(data, &x);
                for c in 0..cells {
                    assert!(
                        (ax[c] + r[c]).abs() <= 1e-9 * (1.0 + ax[c].abs()),
                        "cell {c}"
                    );
                }
                assert!(data.boundary.iter().zip(&data.fluid).all(|(b, f)| b <= f));
            }
            let m = cycle.levels.last().unwrap().fluid.len();
            assert_eq!(cycle.coarsest.len(), m * m);
        }
    }
}
