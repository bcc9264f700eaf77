//! The grid as the networks see it: tensor shapes, the level plan of the V-nets, fluid masks,
//! the Laplacian diagonal, and the geometry image pyramid (channels air, fluid, not-solid).
//!
//! Every grid is handled as a `[D, H, W]` array in C order (`D = nz`, `H = ny`, `W = nx`;
//! `D = 1` in 2D), matching the grid layout of [`ritz_pde::PoissonProblem`]. 2D models are the
//! 3D ones with kernels and pooling factors of extent 1 along `D`, so one code path serves both.

use crate::error::NeuralError;
use ritz_pde::{CellFlag, MacGrid, PoissonProblem, WallKind};

/// Shape of a grid tensor: dimension (2 or 3) and the extents `[D, H, W]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridShape {
    /// 2 or 3.
    pub dim: usize,
    /// `[nz, ny, nx]` (`nz = 1` in 2D).
    pub dhw: [usize; 3],
}

impl GridShape {
    /// The shape of a MAC grid.
    pub fn of(grid: &MacGrid) -> Self {
        let [nx, ny, nz] = grid.dims();
        Self {
            dim: grid.dim(),
            dhw: [nz, ny, nx],
        }
    }
    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.dhw.iter().product()
    }
    /// Pooling factors per axis: `[2, 2, 2]` in 3D, `[1, 2, 2]` in 2D.
    pub fn factors(&self) -> [usize; 3] {
        if self.dim == 3 { [2, 2, 2] } else { [1, 2, 2] }
    }
    /// Convolution padding per axis for a 3-wide kernel: `[1, 1, 1]` in 3D, `[0, 1, 1]` in 2D.
    pub fn pads(&self) -> [usize; 3] {
        if self.dim == 3 { [1, 1, 1] } else { [0, 1, 1] }
    }
    /// Kernel extents of a 3-wide stencil: `[3, 3, 3]` or `[1, 3, 3]`.
    pub fn kernel(&self) -> [usize; 3] {
        if self.dim == 3 { [3, 3, 3] } else { [1, 3, 3] }
    }
    /// Number of stencil taps: 27 in 3D, 9 in 2D.
    pub fn taps(&self) -> usize {
        if self.dim == 3 { 27 } else { 9 }
    }
    /// The shape after one 2× pooling.
    pub fn coarse(&self) -> Self {
        let f = self.factors();
        Self {
            dim: self.dim,
            dhw: [self.dhw[0] / f[0], self.dhw[1] / f[1], self.dhw[2] / f[2]],
        }
    }
    /// Extents with padding of one cell on each padded axis.
    pub fn padded(&self) -> [usize; 3] {
        let p = self.pads();
        [
            self.dhw[0] + 2 * p[0],
            self.dhw[1] + 2 * p[1],
            self.dhw[2] + 2 * p[2],
        ]
    }
    /// The smallest pooled side.
    fn min_side(&self) -> usize {
        if self.dim == 3 {
            self.dhw.iter().copied().min().unwrap_or(0)
        } else {
            self.dhw[1].min(self.dhw[2])
        }
    }
    /// True if every pooled side is divisible by `k`.
    fn divisible(&self, k: usize) -> bool {
        let f = self.factors();
        (0..3).all(|a| f[a] == 1 || self.dhw[a].is_multiple_of(k))
    }
    /// The grid shape in `[nx, ny(, nz)]` order, for messages.
    pub fn grid_shape(&self) -> Vec<usize> {
        let mut s = vec![self.dhw[2], self.dhw[1]];
        if self.dim == 3 {
            s.push(self.dhw[0]);
        }
        s
    }
}

/// Plans the levels of a V-net on `shape`: at least `min_levels` levels (the model's distinct
/// parameter levels), more while the grid halves evenly and the smallest side stays at or above
/// `coarsest`. Returns the shape of every level, finest first.
///
/// Errors: [`NeuralError::GridSize`] if a pooled side is not divisible by `2^(min_levels − 1)`.
pub fn plan_levels(
    shape: GridShape,
    min_levels: usize,
    coarsest: usize,
) -> Result<Vec<GridShape>, NeuralError> {
    let factor = 1usize << min_levels.saturating_sub(1);
    if !shape.divisible(factor) || shape.min_side() < factor {
        return Err(NeuralError::GridSize {
            shape: shape.grid_shape(),
            factor,
            levels: min_levels,
        });
    }
    let mut out = vec![shape];
    loop {
        let last = *out.last().unwrap_or(&shape);
        let need_more = out.len() < min_levels;
        let can = last.divisible(2) && last.min_side() / 2 >= coarsest.max(1);
        if need_more || can {
            out.push(last.coarse());
        } else {
            break;
        }
    }
    Ok(out)
}

/// Per-cell data of one problem in f32: fluid mask and Laplacian diagonal, with the flags the
/// level hierarchy is built from. Cost: O(cells), 9 bytes per cell plus the grid.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// Tensor shape.
    pub shape: GridShape,
    /// 1 on fluid cells, 0 elsewhere.
    pub mask: Vec<f32>,
    /// Number of non-solid faces of each fluid cell (the diagonal of A), 0 elsewhere.
    pub diag: Vec<f32>,
    /// The cell flags (and walls).
    pub grid: MacGrid,
}

/// One level of the multigrid hierarchy of a geometry.
#[derive(Debug, Clone)]
pub struct LevelGeometry {
    /// Level shape.
    pub shape: GridShape,
    /// Fluid mask of the (coarsened) flags.
    pub mask: Vec<f32>,
    /// Diagonal of the level's Poisson operator (unit spacing).
    pub diag: Vec<f32>,
    /// Image channels air, fluid, not-solid, padded with the walls: `[3, Dp, Hp, Wp]`.
    pub image: Vec<f32>,
    /// The level's (coarsened) cell flags.
    pub grid: MacGrid,
}

fn image_of(grid: &MacGrid) -> Vec<f32> {
    let n = grid.len();
    let mut image = vec![0.0f32; 3 * n];
    for (c, f) in grid.flags().iter().enumerate() {
        let (air, fluid) = match f {
            CellFlag::Air => (1.0, 0.0),
            CellFlag::Fluid => (0.0, 1.0),
            CellFlag::Solid => (0.0, 0.0),
        };
        image[c] = air;
        image[n + c] = fluid;
        image[2 * n + c] = air + fluid;
    }
    image
}

fn mask_diag(grid: &MacGrid) -> Result<(Vec<f32>, Vec<f32>), NeuralError> {
    match PoissonProblem::new(grid.clone()) {
        Ok(p) => Ok((
            p.fluid_mask().iter().map(|&m| m as f32).collect(),
            p.diag_counts().iter().map(|&d| d as f32).collect(),
        )),
        Err(ritz_pde::PdeError::NoFluid) => Ok((vec![0.0; grid.len()], vec![0.0; grid.len()])),
        Err(e) => Err(e.into()),
    }
}

impl Geometry {
    /// Geometry of a Poisson problem.
    pub fn of(problem: &PoissonProblem) -> Self {
        let grid = problem.grid();
        Self {
            shape: GridShape::of(grid),
            mask: problem.fluid_mask().iter().map(|&m| m as f32).collect(),
            diag: problem.diag_counts().iter().map(|&d| d as f32).collect(),
            grid: grid.clone(),
        }
    }

    /// The level hierarchy for the level shapes from [`plan_levels`]: flags coarsened by 2
    /// per level with air winning, then fluid (as MGPCG), each level's mask, operator diagonal
    /// and padded image. Cost: O(cells).
    ///
    /// Errors: shapes that do not match the grid's coarsening.
    pub fn levels(&self, shapes: &[GridShape]) -> Result<Vec<LevelGeometry>, NeuralError> {
        let mut out = Vec::with_capacity(shapes.len());
        let mut grid = self.grid.clone();
        for (l, s) in shapes.iter().enumerate() {
            if l > 0 {
                grid = ritz_pde::multigrid::coarsen(&grid)?;
            }
            if GridShape::of(&grid) != *s {
                return Err(NeuralError::Config(format!(
                    "level {l}: grid {:?} does not match the plan {:?}",
                    GridShape::of(&grid).grid_shape(),
                    s.grid_shape()
                )));
            }
            let (mask, diag) = if l == 0 {
                (self.mask.clone(), self.diag.clone())
            } else {
                mask_diag(&grid)?
            };
            out.push(LevelGeometry {
                shape: *s,
                mask,
                diag,
                image: pad_image(&image_of(&grid), *s, &grid.walls().0),
                grid: grid.clone(),
            });
        }
        Ok(out)
    }
}

impl LevelGeometry {
    /// The pseudo-inverse of the level's Poisson operator in grid layout (`cells × cells`,
    /// row-major, f32): the exact coarsest-level solve. Zero rows and columns for non-fluid
    /// cells; floating regions handled by the pseudo-inverse. Cost: O(cells³); meant for
    /// coarsest levels of at most a few hundred cells.
    ///
    /// Errors: more than 4096 cells, eigen-solver failure.
    pub fn pseudo_inverse(&self) -> Result<Vec<f32>, NeuralError> {
        let n = self.shape.cells();
        if n > 4096 {
            return Err(NeuralError::Config(format!(
                "coarsest level has {n} cells; at most 4096 are solved densely"
            )));
        }
        if n > 512 {
            return self.pseudo_inverse_by_columns();
        }
        let [_, h, w] = self.shape.dhw;
        let mut a = vec![0.0f64; n * n];
        let fluid = |c: usize| self.mask[c] > 0.5;
        for c in 0..n {
            if !fluid(c) {
                continue;
            }
            a[c * n + c] = self.diag[c] as f64;
            let (z, y, x) = (c / (h * w), (c / w) % h, c % w);
            let mut nb = Vec::with_capacity(6);
            if x > 0 {
                nb.push(c - 1);
            }
            if x + 1 < w {
                nb.push(c + 1);
            }
            if y > 0 {
                nb.push(c - w);
            }
            if y + 1 < h {
                nb.push(c + w);
            }
            if z > 0 {
                nb.push(c - h * w);
            }
            if z + 1 < self.shape.dhw[0] {
                nb.push(c + h * w);
            }
            for q in nb {
                if fluid(q) {
                    a[c * n + q] = -1.0;
                }
            }
        }
        let m = ritz_linalg::DenseMatrix::from_row_major(n, n, a)
            .map_err(|e| NeuralError::Config(e.to_string()))?;
        let inv = m
            .spsd_pseudo_inverse(1e-10)
            .map_err(|e| NeuralError::Config(format!("coarsest solve: {e}")))?;
        Ok(inv.data().iter().map(|&v| v as f32).collect())
    }
}

impl LevelGeometry {
    /// The pseudo-inverse column by column, `A⁺ e_j`, from a sparse Cholesky factorization
    /// (floating regions pinned and projected): `O(cells · nnz(L))` instead of the dense
    /// eigen-decomposition's `O(cells³)` — linear per column for the thin coarsest levels of
    /// grids with an extreme aspect ratio.
    fn pseudo_inverse_by_columns(&self) -> Result<Vec<f32>, NeuralError> {
        let n = self.shape.cells();
        let mut inv = vec![0.0f32; n * n];
        let problem = match PoissonProblem::new(self.grid.clone()) {
            Ok(p) => p,
            Err(ritz_pde::PdeError::NoFluid) => return Ok(inv),
            Err(e) => return Err(e.into()),
        };
        let chol = ritz_pde::poisson::GridCholesky::new(&problem)?;
        let cells = chol.fluid_cells();
        let mut e = vec![0.0; cells.len()];
        for (j, &cj) in cells.iter().enumerate() {
            e[j] = 1.0;
            let col = chol.solve(&e)?;
            e[j] = 0.0;
            for (i, &ci) in cells.iter().enumerate() {
                inv[ci as usize * n + cj as usize] = col[i] as f32;
            }
        }
        Ok(inv)
    }
}

/// Pads a 3-channel image by one cell per padded axis with the wall values.
fn pad_image(x: &[f32], shape: GridShape, walls: &[[WallKind; 2]; 3]) -> Vec<f32> {
    let [d, h, w] = shape.dhw;
    let p = shape.pads();
    let [pd, ph, pw] = shape.padded();
    let n = d * h * w;
    let np = pd * ph * pw;
    let mut out = vec![0.0f32; 3 * np];
    // Tensor axis (0 = D = z, 1 = H = y, 2 = W = x) to grid axis.
    let grid_axis = [2usize, 1, 0];
    for z in 0..pd {
        for y in 0..ph {
            for xx in 0..pw {
                let idx = [z, y, xx];
                let ext = [d, h, w];
                let mut inside = true;
                let mut air = false;
                let mut src = [0usize; 3];
                for a in 0..3 {
                    let i = idx[a] as isize - p[a] as isize;
                    if i < 0 || i >= ext[a] as isize {
                        inside = false;
                        let side = usize::from(i >= 0);
                        if walls[grid_axis[a]][side] == WallKind::Air {
                            air = true;
                        }
                    } else {
                        src[a] = i as usize;
                    }
                }
                let o = (z * ph + y) * pw + xx;
                if inside {
                    let s = (src[0] * h + src[1]) * w + src[2];
                    for k in 0..3 {
                        out[k * np + o] = x[k * n + s];
                    }
                } else if air {
                    out[o] = 1.0;
                    out[2 * np + o] = 1.0;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ritz_pde::{Scene, Walls};

    #[test]
    fn level_plan_and_errors() {
        let s = GridShape {
            dim: 3,
            dhw: [32, 32, 32],
        };
        let lv = plan_levels(s, 3, 4).unwrap();
        let sides: Vec<usize> = lv.iter().map(|l| l.dhw[0]).collect();
        assert_eq!(sides, vec![32, 16, 8, 4]);
        let bad = GridShape {
            dim: 3,
            dhw: [30, 32, 32],
        };
        assert!(matches!(
            plan_levels(bad, 3, 4),
            Err(NeuralError::GridSize { factor: 4, .. })
        ));
        let s2 = GridShape {
            dim: 2,
            dhw: [1, 64, 128],
        };
        let lv2 = plan_levels(s2, 2, 4).unwrap();
        assert_eq!(lv2.last().unwrap().dhw, [1, 4, 8]);
    }

    #[test]
    fn levels_pad_with_walls_and_coarsen() {
        let grid = Scene::Plume.generate(2, 8, 0).unwrap();
        assert_eq!(grid.walls(), Walls::open_top(2));
        let p = PoissonProblem::new(grid).unwrap();
        let g = Geometry::of(&p);
        let lv = plan_levels(g.shape, 2, 2).unwrap();
        let levels = g.levels(&lv).unwrap();
        assert_eq!(levels.len(), lv.len());
        let [_, ph, pw] = lv[0].padded();
        let np = ph * pw;
        let img = &levels[0].image;
        // Top row of the padding (y = ny) is air, the bottom row solid; interior all fluid.
        assert_eq!(img[(ph - 1) * pw + 3], 1.0);
        assert_eq!(img[3], 0.0);
        assert_eq!(img[np + pw + 1], 1.0);
        assert_eq!(img[2 * np + pw + 1], 1.0);
        // The coarsest level's pseudo-inverse inverts its operator (non-singular: open top).
        let last = levels.last().unwrap();
        let inv = last.pseudo_inverse().unwrap();
        let n = last.shape.cells();
        assert_eq!(inv.len(), n * n);
        assert!(last.diag.iter().all(|&d| d > 0.0));
    }
}
