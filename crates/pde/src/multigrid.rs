//! Geometric multigrid on the MAC grid: the V-cycle preconditioner of MGPCG (McAdams, Sifakis,
//! Teran 2010), the production pressure solver of fluid simulation.
//!
//! * **Coarsening** by 2 along every axis (ceil for odd sizes) down to about 4³ cells (a 64-cell coarsest level costs nothing to solve exactly and, measured, needs no more iterations than 8³). A coarse
//!   cell is *air* if any child is air (Dirichlet conditions survive), else *fluid* if any child
//!   is fluid, else *solid*; domain walls are kept. Every level uses the same unit-spacing
//!   stencil as [`PoissonProblem`].
//! * **Transfers**: cell-centred trilinear prolongation `P` (weights ¾, ¼ per axis) and
//!   restriction `R = (4 / 2^d) Pᵀ` — the transpose, scaled for the `h² → (2h)²` change of the
//!   unit-spacing stencil — so that the coarse-grid correction is symmetric.
//! * **Smoothing**: red–black Gauss–Seidel, `ν₁` sweeps red→black before and `ν₂` sweeps
//!   black→red after the coarse correction (the adjoint order), plus extra sweeps over the
//!   cells next to a non-fluid cell (McAdams et al.'s boundary smoothing; measured: the 2D dam
//!   break goes from 43 to 23 iterations), mirrored the same way. The V-cycle is therefore a
//!   symmetric positive definite linear map — a valid [`SpdPreconditioner`] for plain PCG.
//! * **Coarsest level**: exact, through the dense pseudo-inverse of its matrix (floating
//!   regions make it singular; the pseudo-inverse is still symmetric), or, above 512 unknowns
//!   (coarsening stopped early by a short side), a sparse Cholesky factorization with the
//!   floating regions pinned and projected — the same map `A⁺`, so setup stays linear on any
//!   aspect ratio.
//! * Matrix-free and rayon-parallel; the V-cycle runs in `f64` or `f32`
//!   ([`Precision`]) under `f64` Krylov arithmetic.
//!
//! Internal vectors are zero at non-fluid cells at all times, so the kernels need no flag test
//! for neighbours: a non-fluid neighbour contributes its zero.
//!
//! Cost per V-cycle: about `(ν₁ + ν₂)` Gauss–Seidel sweeps, one residual and two transfers on
//! the fine grid, times 8/7 for the coarser levels (3D).

use crate::error::PdeError;
use crate::grid::{CellFlag, MacGrid};
use crate::poisson::PoissonProblem;
use rayon::prelude::*;
use ritz_linalg::schedule::SharedSlice;
use ritz_linalg::{DenseMatrix, LinearOperator, Preconditioner, SpdPreconditioner};
use std::sync::Mutex;

/// Arithmetic of the V-cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    /// Double precision.
    F64,
    /// Single precision (half the memory traffic; the Krylov method stays in `f64`).
    F32,
}

/// Parameters of [`GridMultigrid`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultigridParams {
    /// Red–black Gauss–Seidel sweeps before the coarse correction.
    pub pre_smooth: usize,
    /// Sweeps after it (in the reverse colour order).
    pub post_smooth: usize,
    /// Stop coarsening once a level has at most this many cells.
    pub coarsest_cells: usize,
    /// Extra Gauss–Seidel sweeps over the cells next to a non-fluid cell, after the pre- and
    /// before the post-smoothing (McAdams et al.'s boundary smoothing: the error there is what
    /// the coarse grid, whose boundary is blurred by coarsening, corrects worst).
    pub boundary_sweeps: usize,
    /// Arithmetic of the V-cycle.
    pub precision: Precision,
}

impl Default for MultigridParams {
    fn default() -> Self {
        Self {
            pre_smooth: 2,
            post_smooth: 2,
            coarsest_cells: 64,
            boundary_sweeps: 4,
            precision: Precision::F32,
        }
    }
}

/// Floating-point types the V-cycle runs in.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + 'static
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// Conversion from `f64`.
    fn from_f64(v: f64) -> Self;
    /// Conversion to `f64`.
    fn to_f64(self) -> f64;
}

impl Real for f64 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// One grid level: shape and stencil data.
#[derive(Debug, Clone)]
struct Level {
    dims: [usize; 3],
    dim: usize,
    /// Per axis, whether the low / high domain wall is solid (Neumann).
    solid_wall: [[bool; 2]; 3],
    fluid: Vec<u8>,
    diag: Vec<u8>,
    /// Fluid cells with a non-fluid face neighbour (or an air wall), split by colour.
    boundary: [Vec<u32>; 2],
}

impl Level {
    fn from_problem(p: &PoissonProblem) -> Self {
        let w = p.grid().walls().0;
        let solid = |a: usize, s: usize| w[a][s] == crate::grid::WallKind::Solid;
        Self {
            dims: p.grid().dims(),
            dim: p.grid().dim(),
            solid_wall: [0, 1, 2].map(|a| [solid(a, 0), solid(a, 1)]),
            fluid: p.fluid_mask().to_vec(),
            diag: p.diag_counts().to_vec(),
            boundary: boundary_cells(p),
        }
    }
    fn len(&self) -> usize {
        self.fluid.len()
    }
    /// Lines per parallel work item (about 16k cells).
    fn lines_per_chunk(&self) -> usize {
        (16384 / self.dims[0]).max(1)
    }
}

/// Per-level work vectors.
struct Scratch<T> {
    x: Vec<Vec<T>>,
    b: Vec<Vec<T>>,
    r: Vec<Vec<T>>,
}

enum AnyScratch {
    F64(Scratch<f64>),
    F32(Scratch<f32>),
}

/// How the coarsest level is solved.
enum CoarseSolve {
    /// Dense pseudo-inverse over the coarsest fluid cells (grid indices).
    Exact { cells: Vec<u32>, pinv: DenseMatrix },
    /// Sparse Cholesky over the coarsest fluid cells (compact numbering, floating regions
    /// pinned and projected), for coarsest levels too large for a dense pseudo-inverse.
    Sparse(Box<crate::poisson::GridCholesky>),
}

/// The MGPCG V-cycle preconditioner for a [`PoissonProblem`], on grid-layout vectors.
pub struct GridMultigrid {
    levels: Vec<Level>,
    coarse: CoarseSolve,
    params: MultigridParams,
    scratch: Mutex<AnyScratch>,
}

impl std::fmt::Debug for GridMultigrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridMultigrid")
            .field(
                "levels",
                &self.levels.iter().map(|l| l.dims).collect::<Vec<_>>(),
            )
            .field("params", &self.params)
            .finish()
    }
}

/// Coarsens flags by 2 per axis: air wins, then fluid, then solid.
pub fn coarsen(grid: &MacGrid) -> Result<MacGrid, PdeError> {
    let [nx, ny, nz] = grid.dims();
    let dim = grid.dim();
    let c = |n: usize| n.div_ceil(2);
    let shape: Vec<usize> = if dim == 2 {
        vec![c(nx), c(ny)]
    } else {
        vec![c(nx), c(ny), c(nz)]
    };
    let mut coarse = MacGrid::new(&shape, grid.walls())?;
    let [cx, cy, cz] = coarse.dims();
    for k in 0..cz {
        for j in 0..cy {
            for i in 0..cx {
                let (mut air, mut fluid) = (false, false);
                for dk in 0..if dim == 3 { 2 } else { 1 } {
                    for dj in 0..2 {
                        for di in 0..2 {
                            let (fi, fj, fk) = (2 * i + di, 2 * j + dj, 2 * k + dk);
                            if fi < nx && fj < ny && fk < nz {
                                match grid.flag(fi, fj, fk) {
                                    CellFlag::Air => air = true,
                                    CellFlag::Fluid => fluid = true,
                                    CellFlag::Solid => {}
                                }
                            }
                        }
                    }
                }
                let f = if air {
                    CellFlag::Air
                } else if fluid {
                    CellFlag::Fluid
                } else {
                    CellFlag::Solid
                };
                coarse.set(i, j, k, f);
            }
        }
    }
    Ok(coarse)
}

impl GridMultigrid {
    /// Builds the hierarchy. Cost: O(cells) for coarsening plus the coarsest solve's setup: a
    /// dense `O(m³)` pseudo-inverse for `m ≤ 512` coarsest unknowns, else a sparse Cholesky
    /// factorization (near-linear for the thin coarsest levels of extreme aspect ratios).
    ///
    /// Errors: parameters with no smoothing at all (the V-cycle would not be positive definite
    /// in general), linear-algebra failures of the coarsest solve.
    pub fn new(problem: &PoissonProblem, params: MultigridParams) -> Result<Self, PdeError> {
        if params.pre_smooth + params.post_smooth == 0 || params.pre_smooth != params.post_smooth {
            return Err(PdeError::Unsupported(format!(
                "the V-cycle needs equal, non-zero pre- and post-smoothing to be symmetric \
                 positive definite (got {} and {})",
                params.pre_smooth, params.post_smooth
            )));
        }
        let mut levels = vec![Level::from_problem(problem)];
        let mut grid = problem.grid().clone();
        let mut coarsest = None;
        loop {
            let [nx, ny, nz] = grid.dims();
            let active = if grid.dim() == 3 {
                nx.min(ny).min(nz)
            } else {
                nx.min(ny)
            };
            if grid.len() <= params.coarsest_cells || active < 4 {
                break;
            }
            let cg = coarsen(&grid)?;
            match PoissonProblem::new(cg.clone()) {
                Ok(cp) => {
                    levels.push(Level::from_problem(&cp));
                    coarsest = Some(cp);
                    grid = cg;
                }
                Err(PdeError::NoFluid) => break,
                Err(e) => return Err(e),
            }
        }
        let last = match &coarsest {
            Some(cp) => cp,
            None => problem,
        };
        // A dense pseudo-inverse up to 512 unknowns (a mat-vec of m² flops, no fill); above
        // that — grids whose short side stopped the coarsening early, e.g. 8 × 8 × 2048 — a
        // sparse Cholesky factorization, near-linear for such thin grids, where a dense
        // eigen-decomposition would cost O(m³) (4.7 s at m = 2048).
        const MAX_DENSE: usize = 512;
        let coarse = if last.num_fluid() <= MAX_DENSE {
            let a = last.assemble();
            let pinv = DenseMatrix::from_operator(&a).spsd_pseudo_inverse(1e-12)?;
            CoarseSolve::Exact {
                cells: last.fluid_cells().to_vec(),
                pinv,
            }
        } else {
            CoarseSolve::Sparse(Box::new(crate::poisson::GridCholesky::new(last)?))
        };
        let sizes: Vec<usize> = levels.iter().map(|l| l.len()).collect();
        let scratch = match params.precision {
            Precision::F64 => AnyScratch::F64(Scratch::new(&sizes)),
            Precision::F32 => AnyScratch::F32(Scratch::new(&sizes)),
        };
        Ok(Self {
            levels,
            coarse,
            params,
            scratch: Mutex::new(scratch),
        })
    }

    /// Number of levels (1 = no coarsening).
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }
    /// Shape `[nx, ny, nz]` of each level, finest first.
    pub fn level_dims(&self) -> Vec<[usize; 3]> {
        self.levels.iter().map(|l| l.dims).collect()
    }
    /// The parameters.
    pub fn params(&self) -> MultigridParams {
        self.params
    }

    fn vcycle<T: Real>(&self, s: &mut Scratch<T>, l: usize) {
        let lev = &self.levels[l];
        if l + 1 == self.levels.len() {
            self.coarse_solve(s, l);
            return;
        }
        fill(&mut s.x[l], T::default());
        for _ in 0..self.params.pre_smooth {
            rbgs(lev, &mut s.x[l], &s.b[l], 0);
            rbgs(lev, &mut s.x[l], &s.b[l], 1);
        }
        for _ in 0..self.params.boundary_sweeps {
            gs_cells(lev, &mut s.x[l], &s.b[l], &lev.boundary[0]);
            gs_cells(lev, &mut s.x[l], &s.b[l], &lev.boundary[1]);
        }
        residual(lev, &s.x[l], &s.b[l], &mut s.r[l]);
        let (_, coarse) = s.b.split_at_mut(l + 1);
        restrict(lev, &self.levels[l + 1], &s.r[l], &mut coarse[0]);
        self.vcycle(s, l + 1);
        let (xf, xc) = s.x.split_at_mut(l + 1);
        prolong_add(&self.levels[l + 1], lev, &xc[0], &mut xf[l]);
        for _ in 0..self.params.boundary_sweeps {
            gs_cells(lev, &mut s.x[l], &s.b[l], &lev.boundary[1]);
            gs_cells(lev, &mut s.x[l], &s.b[l], &lev.boundary[0]);
        }
        for _ in 0..self.params.post_smooth {
            rbgs(lev, &mut s.x[l], &s.b[l], 1);
            rbgs(lev, &mut s.x[l], &s.b[l], 0);
        }
    }

    fn coarse_solve<T: Real>(&self, s: &mut Scratch<T>, l: usize) {
        match &self.coarse {
            CoarseSolve::Exact { cells, pinv } => {
                let b = &s.b[l];
                let bc: Vec<f64> = cells.iter().map(|&c| b[c as usize].to_f64()).collect();
                let mut xc = vec![0.0; bc.len()];
                pinv.apply(&bc, &mut xc);
                let x = &mut s.x[l];
                fill(x, T::default());
                for (&c, &v) in cells.iter().zip(&xc) {
                    x[c as usize] = T::from_f64(v);
                }
            }
            CoarseSolve::Sparse(chol) => {
                let cells = chol.fluid_cells();
                let b = &s.b[l];
                let bc: Vec<f64> = cells.iter().map(|&c| b[c as usize].to_f64()).collect();
                // Only a NaN right-hand side fails; NaN then reaches the Krylov iteration,
                // which reports it.
                let xc = chol.solve(&bc).unwrap_or_else(|_| vec![f64::NAN; bc.len()]);
                let x = &mut s.x[l];
                fill(x, T::default());
                for (&c, &v) in cells.iter().zip(&xc) {
                    x[c as usize] = T::from_f64(v);
                }
            }
        }
    }

    fn apply_in<T: Real>(&self, s: &mut Scratch<T>, r: &[f64], z: &mut [f64]) {
        let fine = &self.levels[0];
        s.b[0]
            .par_iter_mut()
            .zip(r.par_iter())
            .zip(fine.fluid.par_iter())
            .with_min_len(4096)
            .for_each(|((b, &r), &f)| *b = if f != 0 { T::from_f64(r) } else { T::default() });
        self.vcycle(s, 0);
        z.par_iter_mut()
            .zip(s.x[0].par_iter())
            .with_min_len(4096)
            .for_each(|(z, &x)| *z = x.to_f64());
    }
}

impl<T: Real> Scratch<T> {
    fn new(sizes: &[usize]) -> Self {
        let v = || {
            sizes
                .iter()
                .map(|&n| vec![T::default(); n])
                .collect::<Vec<_>>()
        };
        Self {
            x: v(),
            b: v(),
            r: v(),
        }
    }
}

fn fill<T: Real>(v: &mut [T], a: T) {
    v.par_chunks_mut(16384).for_each(|c| c.fill(a));
}

/// Runs `f(line_range)` over blocks of x-lines in parallel.
fn par_lines(lev: &Level, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let nlines = lev.dims[1] * lev.dims[2];
    let per = lev.lines_per_chunk();
    (0..nlines.div_ceil(per))
        .into_par_iter()
        .for_each(|b| f(b * per..((b + 1) * per).min(nlines)));
}

/// Runs `f(first_line, block)` over blocks of whole x-lines of `v` in parallel.
fn par_line_chunks<T: Send>(lev: &Level, v: &mut [T], f: impl Fn(usize, &mut [T]) + Sync) {
    let nx = lev.dims[0];
    let per = lev.lines_per_chunk();
    v.par_chunks_mut(per * nx)
        .enumerate()
        .for_each(|(b, chunk)| f(b * per, chunk));
}

/// Start indices of the (up to 4) transverse neighbour lines of line `l` present in the grid.
#[inline(always)]
fn neighbour_lines(l: usize, dims: [usize; 3]) -> ([usize; 4], usize) {
    let [nx, ny, nz] = dims;
    let (j, k) = (l % ny, l / ny);
    let mut out = [0usize; 4];
    let mut m = 0;
    for (present, line) in [
        (j > 0, l.wrapping_sub(1)),
        (j + 1 < ny, l + 1),
        (k > 0, l.wrapping_sub(ny)),
        (k + 1 < nz, l + ny),
    ] {
        if present {
            out[m] = line * nx;
            m += 1;
        }
    }
    (out, m)
}

/// Gauss–Seidel update of the cells `i0, i0 + 2, …` of one line with `M` transverse neighbour
/// lines: `x_c ← (b_c + Σ_neighbours x_n) / diag_c` (multiplying by the rounded reciprocal).
///
/// # Safety
/// The caller owns the written cells; the neighbours read are not written concurrently.
#[inline(always)]
unsafe fn gs_line<T: Real, const M: usize>(
    xs: &SharedSlice<T>,
    b: &[T],
    diag: &[u8],
    inv: &[T; 7],
    base: usize,
    nx: usize,
    i0: usize,
    nb: [usize; 4],
) {
    let mut i = i0;
    while i < nx {
        let c = base + i;
        // SAFETY: indices are inside the grid; exclusivity per the function contract.
        unsafe {
            let mut s = b[c];
            for q in nb.iter().take(M) {
                s = s + xs.get(q + i);
            }
            if i > 0 {
                s = s + xs.get(c - 1);
            }
            if i + 1 < nx {
                s = s + xs.get(c + 1);
            }
            xs.set(c, s * inv[diag[c] as usize]);
        }
        i += 2;
    }
}

/// One red (`color = 0`) or black (`1`) Gauss–Seidel half-sweep: for the cells with
/// `(i + j + k) % 2 == color`, `x_c ← (b_c + Σ_neighbours x_n) / diag_c` (0 outside the fluid,
/// whose diagonal count is 0).
fn rbgs<T: Real>(lev: &Level, x: &mut [T], b: &[T], color: usize) {
    let d = lev.dims;
    let [nx, ny, _] = d;
    let xs = SharedSlice::new(x);
    // 1/diag for the possible diagonals 0..=6 (0 ↦ 0: non-fluid cells and walled-in cells
    // stay 0), correctly rounded in T.
    let inv: [T; 7] = std::array::from_fn(|d| {
        if d == 0 {
            T::default()
        } else {
            T::from_f64(1.0 / d as f64)
        }
    });
    par_lines(lev, |lines| {
        for l in lines {
            let (j, k) = (l % ny, l / ny);
            let base = l * nx;
            let i0 = (color + j + k) % 2;
            let (nb, m) = neighbour_lines(l, d);
            // SAFETY: this sweep writes only cells of `color`, each line by one thread; every
            // neighbour read has the other colour.
            unsafe {
                match m {
                    4 => gs_line::<T, 4>(&xs, b, &lev.diag, &inv, base, nx, i0, nb),
                    3 => gs_line::<T, 3>(&xs, b, &lev.diag, &inv, base, nx, i0, nb),
                    2 => gs_line::<T, 2>(&xs, b, &lev.diag, &inv, base, nx, i0, nb),
                    1 => gs_line::<T, 1>(&xs, b, &lev.diag, &inv, base, nx, i0, nb),
                    _ => gs_line::<T, 0>(&xs, b, &lev.diag, &inv, base, nx, i0, nb),
                }
            }
        }
    });
}

/// Fluid cells with a face neighbour that is not fluid (solid or air cell, or any domain
/// wall), by colour `(i + j + k) % 2`.
fn boundary_cells(p: &PoissonProblem) -> [Vec<u32>; 2] {
    let g = p.grid();
    let [nx, ny, nz] = g.dims();
    let ext = [nx, ny, nz];
    let st = g.strides();
    let fluid = p.fluid_mask();
    let mut out = [Vec::new(), Vec::new()];
    for &c in p.fluid_cells() {
        let c = c as usize;
        let co = g.coords(c);
        let near = (0..g.dim()).any(|a| {
            co[a] == 0 || co[a] + 1 == ext[a] || fluid[c - st[a]] == 0 || fluid[c + st[a]] == 0
        });
        if near {
            out[(co[0] + co[1] + co[2]) % 2].push(c as u32);
        }
    }
    out
}

/// Gauss–Seidel updates of the given cells, all of one colour (so independent).
fn gs_cells<T: Real>(lev: &Level, x: &mut [T], b: &[T], cells: &[u32]) {
    let [nx, ny, nz] = lev.dims;
    let inv: [T; 7] = std::array::from_fn(|d| {
        if d == 0 {
            T::default()
        } else {
            T::from_f64(1.0 / d as f64)
        }
    });
    let xs = SharedSlice::new(x);
    cells.par_chunks(4096).for_each(|chunk| {
        for &c in chunk {
            let c = c as usize;
            let (i, j, k) = (c % nx, (c / nx) % ny, c / (nx * ny));
            // SAFETY: the cells of one colour are updated by one thread each and only read
            // cells of the other colour.
            unsafe {
                let mut s = b[c];
                if i > 0 {
                    s = s + xs.get(c - 1);
                }
                if i + 1 < nx {
                    s = s + xs.get(c + 1);
                }
                if j > 0 {
                    s = s + xs.get(c - nx);
                }
                if j + 1 < ny {
                    s = s + xs.get(c + nx);
                }
                if k > 0 {
                    s = s + xs.get(c - nx * ny);
                }
                if k + 1 < nz {
                    s = s + xs.get(c + nx * ny);
                }
                xs.set(c, s * inv[lev.diag[c] as usize]);
            }
        }
    });
}

/// `r ← b − A x` on the fluid cells (0 elsewhere); `x` is zero outside the fluid.
fn residual<T: Real>(lev: &Level, x: &[T], b: &[T], r: &mut [T]) {
    let d = lev.dims;
    let nx = d[0];
    par_line_chunks(lev, r, |l0, rb| {
        for (q, rl) in rb.chunks_mut(nx).enumerate() {
            let l = l0 + q;
            let base = l * nx;
            let (nb, m) = neighbour_lines(l, d);
            let xl = &x[base..base + nx];
            let (bl, dl, fl) = (
                &b[base..base + nx],
                &lev.diag[base..base + nx],
                &lev.fluid[base..base + nx],
            );
            // Transverse sum first (vectorizes), then the line itself.
            rl.fill(T::default());
            for &o in nb.iter().take(m) {
                let xo = &x[o..o + nx];
                for (ri, &v) in rl.iter_mut().zip(xo) {
                    *ri = *ri + v;
                }
            }
            for i in 0..nx {
                let mut s = rl[i];
                if i > 0 {
                    s = s + xl[i - 1];
                }
                if i + 1 < nx {
                    s = s + xl[i + 1];
                }
                let v = bl[i] - (T::from_f64(dl[i] as f64) * xl[i] - s);
                rl[i] = if fl[i] != 0 { v } else { T::default() };
            }
        }
    });
}

/// The two coarse cells nearest to fine cell `f` along one axis, with trilinear weights ¾ and
/// ¼. Beyond the domain the ¼ goes to the nearest cell too at a solid (Neumann) wall —
/// reflection — and is dropped at an air (Dirichlet, zero) wall.
#[inline(always)]
fn parents(f: usize, nc: usize, solid: [bool; 2]) -> [(usize, f64); 2] {
    let p = f / 2;
    let (other, side) = if f.is_multiple_of(2) {
        (p.wrapping_sub(1), 0)
    } else {
        (p + 1, 1)
    };
    if other < nc {
        [(p, 0.75), (other, 0.25)]
    } else if solid[side] {
        [(p, 0.75), (p, 0.25)]
    } else {
        [(p, 0.75), (p, 0.0)]
    }
}

/// The fine cells along one axis that interpolate from coarse cell `ci`, with their weights
/// (the transpose of [`parents`]); unused slots have weight 0.
fn children(ci: usize, nf: usize, nc: usize, solid: [bool; 2]) -> [(usize, f64); 4] {
    let mut out = [(0usize, 0.0f64); 4];
    let lo = 2 * ci as isize - 1;
    for (slot, f) in out.iter_mut().zip(lo..lo + 4) {
        if f >= 0 && (f as usize) < nf {
            let w: f64 = parents(f as usize, nc, solid)
                .iter()
                .filter(|(p, _)| *p == ci)
                .map(|(_, w)| w)
                .sum();
            if w > 0.0 {
                *slot = (f as usize, w);
            }
        }
    }
    out
}

/// Coarse lines (as `(line index, weight)`) that fine line `(j, k)` interpolates from.
fn parent_lines(fine: &Level, coarse: &Level, l: usize) -> Vec<(usize, f64)> {
    let [_, ny, _] = fine.dims;
    let [_, cy, cz] = coarse.dims;
    let (j, k) = (l % ny, l / ny);
    let pj = parents(j, cy, fine.solid_wall[1]);
    let pk = if fine.dim == 3 {
        parents(k, cz, fine.solid_wall[2])
    } else {
        [(0, 1.0), (0, 0.0)]
    };
    let mut out = Vec::with_capacity(4);
    for &(kk, wk) in &pk {
        for &(jj, wj) in &pj {
            if wk * wj > 0.0 {
                out.push((jj + cy * kk, wk * wj));
            }
        }
    }
    out
}

/// `x_f += P x_c` on fine fluid cells: per fine line, the weighted sum of its (up to 4) coarse
/// parent lines, then the ¾ / ¼ interpolation along x.
fn prolong_add<T: Real>(coarse: &Level, fine: &Level, xc: &[T], xf: &mut [T]) {
    let nx = fine.dims[0];
    let cx = coarse.dims[0];
    let px: Vec<[(usize, f64); 2]> = (0..nx)
        .map(|i| parents(i, cx, fine.solid_wall[0]))
        .collect();
    par_line_chunks(fine, xf, |l0, xb| {
        let mut tmp = vec![0.0f64; cx];
        for (q, xl) in xb.chunks_mut(nx).enumerate() {
            let l = l0 + q;
            tmp.fill(0.0);
            for (cl, w) in parent_lines(fine, coarse, l) {
                for (t, v) in tmp.iter_mut().zip(&xc[cl * cx..(cl + 1) * cx]) {
                    *t += w * v.to_f64();
                }
            }
            let fl = &fine.fluid[l * nx..(l + 1) * nx];
            for i in 0..nx {
                if fl[i] != 0 {
                    let [(a, wa), (b, wb)] = px[i];
                    xl[i] = xl[i] + T::from_f64(wa * tmp[a] + wb * tmp[b]);
                }
            }
        }
    });
}

/// `b_c = (4 / 2^d) (Pᵀ r_f)` on coarse fluid cells (0 elsewhere): the exact transpose of
/// [`prolong_add`], per coarse line: the weighted sum of its (up to 16) child fine lines, then
/// the transposed interpolation along x.
fn restrict<T: Real>(fine: &Level, coarse: &Level, rf: &[T], bc: &mut [T]) {
    let [nx, ny, nz] = fine.dims;
    let [cx, cy, cz] = coarse.dims;
    let three = fine.dim == 3;
    let scale = if three { 0.5 } else { 1.0 };
    let chx: Vec<[(usize, f64); 4]> = (0..cx)
        .map(|i| children(i, nx, cx, fine.solid_wall[0]))
        .collect();
    par_line_chunks(coarse, bc, |l0, bb| {
        let mut tmp = vec![0.0f64; nx];
        for (q, bl) in bb.chunks_mut(cx).enumerate() {
            let l = l0 + q;
            let (j, k) = (l % cy, l / cy);
            let cj = children(j, ny, cy, fine.solid_wall[1]);
            let ck = if three {
                children(k, nz, cz, fine.solid_wall[2])
            } else {
                [(0, 1.0), (0, 0.0), (0, 0.0), (0, 0.0)]
            };
            tmp.fill(0.0);
            for &(fk, wk) in &ck {
                for &(fj, wj) in &cj {
                    let w = wk * wj;
                    if w > 0.0 {
                        let row = (fj + ny * fk) * nx;
                        for (t, v) in tmp.iter_mut().zip(&rf[row..row + nx]) {
                            *t += w * v.to_f64();
                        }
                    }
                }
            }
            let cf = &coarse.fluid[l * cx..(l + 1) * cx];
            for i in 0..cx {
                bl[i] = if cf[i] != 0 {
                    let s: f64 = chx[i].iter().map(|&(fi, w)| w * tmp[fi]).sum();
                    T::from_f64(scale * s)
                } else {
                    T::default()
                };
            }
        }
    });
}

impl Preconditioner for GridMultigrid {
    fn dim(&self) -> usize {
        self.levels[0].len()
    }
    /// One V-cycle, `z = M⁻¹ r`. Concurrent calls are serialized (the scratch is shared).
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        assert_eq!(r.len(), self.dim(), "multigrid apply: r length");
        assert_eq!(z.len(), self.dim(), "multigrid apply: z length");
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *guard {
            AnyScratch::F64(s) => self.apply_in(s, r, z),
            AnyScratch::F32(s) => self.apply_in(s, r, z),
        }
    }
    fn name(&self) -> String {
        format!(
            "multigrid V({},{}) {:?}, {} levels",
            self.params.pre_smooth,
            self.params.post_smooth,
            self.params.precision,
            self.levels.len()
        )
    }
}

impl SpdPreconditioner for GridMultigrid {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Walls;

    #[test]
    fn coarsening_keeps_air_and_fluid() {
        let mut g = MacGrid::new(&[5, 4], Walls::closed()).unwrap();
        g.set(4, 3, 0, CellFlag::Air);
        g.set(0, 0, 0, CellFlag::Solid);
        g.set(1, 0, 0, CellFlag::Solid);
        g.set(0, 1, 0, CellFlag::Solid);
        g.set(1, 1, 0, CellFlag::Solid);
        let c = coarsen(&g).unwrap();
        assert_eq!(c.shape(), vec![3, 2]);
        assert_eq!(c.flag(0, 0, 0), CellFlag::Solid);
        assert_eq!(c.flag(2, 1, 0), CellFlag::Air);
        assert_eq!(c.flag(1, 1, 0), CellFlag::Fluid);
    }

    /// Restriction is the scaled transpose of prolongation: ⟨R r, x⟩ = s ⟨r, P x⟩.
    #[test]
    fn restriction_is_scaled_transpose_of_prolongation() {
        for shape in [vec![9usize, 6, 5], vec![7, 10]] {
            let g = MacGrid::new(&shape, Walls::closed()).unwrap();
            let fine = Level::from_problem(&PoissonProblem::new(g.clone()).unwrap());
            let coarse = Level::from_problem(&PoissonProblem::new(coarsen(&g).unwrap()).unwrap());
            let r: Vec<f64> = (0..fine.len())
                .map(|i| ((i * 37) % 11) as f64 - 5.0)
                .collect();
            let x: Vec<f64> = (0..coarse.len())
                .map(|i| ((i * 13) % 7) as f64 - 3.0)
                .collect();
            let mut rc = vec![0.0; coarse.len()];
            restrict(&fine, &coarse, &r, &mut rc);
            let mut px = vec![0.0; fine.len()];
            prolong_add(&coarse, &fine, &x, &mut px);
            let lhs: f64 = rc.iter().zip(&x).map(|(a, b)| a * b).sum();
            let rhs: f64 = r.iter().zip(&px).map(|(a, b)| a * b).sum();
            let scale = if shape.len() == 3 { 0.5 } else { 1.0 };
            assert!(
                (lhs - scale * rhs).abs() < 1e-10 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }

    fn scenes() -> Vec<(String, PoissonProblem)> {
        let mut out = Vec::new();
        for dim in [2, 3] {
            let n = if dim == 2 { 40 } else { 20 };
            let shape = vec![n; dim];
            // Air on top (Dirichlet), a solid obstacle (Neumann) and a closed, all-Neumann box.
            let mut open = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
            let c = n as f64 / 2.0;
            open.paint(CellFlag::Solid, |p| {
                (p[0] - c).powi(2)
                    + (p[1] - c).powi(2)
                    + if dim == 3 { (p[2] - c).powi(2) } else { 0.0 }
                    < (n as f64 / 5.0).powi(2)
            });
            let mut pool = MacGrid::new(&shape, Walls::closed()).unwrap();
            pool.paint(CellFlag::Air, |p| p[dim - 1] > 0.7 * n as f64);
            let mut closed = open.clone();
            closed.set_walls(Walls::closed());
            for (name, g) in [("open", open), ("pool", pool), ("closed", closed)] {
                out.push((format!("{name}-{dim}d"), PoissonProblem::new(g).unwrap()));
            }
        }
        out
    }

    fn random_fluid(p: &PoissonProblem, seed: usize) -> Vec<f64> {
        let mut v: Vec<f64> = (0..p.num_cells())
            .map(|c| {
                let h = (c.wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % 1000;
                if p.fluid_mask()[c] == 1 {
                    h as f64 / 500.0 - 1.0
                } else {
                    0.0
                }
            })
            .collect();
        if let Some(ns) = p.null_space_grid() {
            ritz_linalg::NullSpace::project(ns, &mut v);
        }
        v
    }

    #[test]
    fn vcycle_is_symmetric_and_positive() {
        for (name, p) in scenes() {
            for (prec, tol) in [(Precision::F64, 1e-10), (Precision::F32, 1e-5)] {
                let m = GridMultigrid::new(
                    &p,
                    MultigridParams {
                        precision: prec,
                        coarsest_cells: 64,
                        ..Default::default()
                    },
                )
                .unwrap();
                assert!(m.num_levels() >= 2, "{name}");
                for seed in 0..3 {
                    let x = random_fluid(&p, 2 * seed);
                    let y = random_fluid(&p, 2 * seed + 1);
                    let (mut mx, mut my) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                    m.apply(&x, &mut mx);
                    m.apply(&y, &mut my);
                    let (a, b) = (
                        ritz_linalg::vector::dot(&mx, &y),
                        ritz_linalg::vector::dot(&x, &my),
                    );
                    let scale = ritz_linalg::vector::norm2(&mx) * ritz_linalg::vector::norm2(&y);
                    assert!((a - b).abs() <= tol * scale, "{name} {prec:?}: {a} vs {b}");
                    assert!(ritz_linalg::vector::dot(&mx, &x) > 0.0, "{name} {prec:?}");
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let p = &scenes()[0].1;
        let bad = MultigridParams {
            pre_smooth: 1,
            post_smooth: 2,
            ..Default::default()
        };
        assert!(matches!(
            GridMultigrid::new(p, bad),
            Err(PdeError::Unsupported(_))
        ));
    }
}
