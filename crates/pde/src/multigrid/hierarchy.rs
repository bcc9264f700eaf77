//! The multigrid hierarchy: one [`Level`] per grid (shape, fluid mask, diagonal counts,
//! boundary cells), coarsening by 2 per axis, and the parallel iteration over x-lines that
//! every kernel of the V-cycle uses.

use super::Real;
use super::smooth::boundary_cells;
use crate::error::PdeError;
use crate::grid::{CellFlag, MacGrid};
use crate::poisson::PoissonProblem;
use rayon::prelude::*;

/// One grid level: shape and stencil data.
#[derive(Debug, Clone)]
pub(super) struct Level {
    pub(super) dims: [usize; 3],
    pub(super) dim: usize,
    /// Per axis, whether the low / high domain wall is solid (Neumann).
    pub(super) solid_wall: [[bool; 2]; 3],
    pub(super) fluid: Vec<u8>,
    pub(super) diag: Vec<u8>,
    /// Fluid cells with a non-fluid face neighbour (or an air wall), split by colour.
    pub(super) boundary: [Vec<u32>; 2],
    /// For each boundary cell, which of its six face neighbours lie inside the grid (bit
    /// `2a + s` for axis `a`, low/high side `s`): the sweep over them needs no coordinates.
    pub(super) boundary_nb: [Vec<u8>; 2],
}

impl Level {
    pub(super) fn from_problem(p: &PoissonProblem) -> Self {
        let w = p.grid().walls().0;
        let solid = |a: usize, s: usize| w[a][s] == crate::grid::WallKind::Solid;
        Self {
            dims: p.grid().dims(),
            dim: p.grid().dim(),
            solid_wall: [0, 1, 2].map(|a| [solid(a, 0), solid(a, 1)]),
            fluid: p.fluid_mask().to_vec(),
            diag: p.diag_counts().to_vec(),
            boundary: boundary_cells(p),
            boundary_nb: Default::default(),
        }
        .with_neighbour_masks()
    }
    fn with_neighbour_masks(mut self) -> Self {
        let [nx, ny, nz] = self.dims;
        for (cells, masks) in self.boundary.iter().zip(self.boundary_nb.iter_mut()) {
            *masks = cells
                .iter()
                .map(|&c| {
                    let c = c as usize;
                    let (i, j, k) = (c % nx, (c / nx) % ny, c / (nx * ny));
                    let bits = [i > 0, i + 1 < nx, j > 0, j + 1 < ny, k > 0, k + 1 < nz];
                    bits.iter()
                        .enumerate()
                        .fold(0u8, |m, (b, &on)| m | ((on as u8) << b))
                })
                .collect();
        }
        self
    }
    pub(super) fn len(&self) -> usize {
        self.fluid.len()
    }
    /// Lines per parallel work item (about 16k cells).
    pub(super) fn lines_per_chunk(&self) -> usize {
        (16384 / self.dims[0]).max(1)
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

pub(super) fn fill<T: Real>(v: &mut [T], a: T) {
    v.par_chunks_mut(16384).for_each(|c| c.fill(a));
}

/// Runs `f(line_range)` over blocks of x-lines in parallel.
pub(super) fn par_lines(lev: &Level, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let nlines = lev.dims[1] * lev.dims[2];
    let per = lev.lines_per_chunk();
    (0..nlines.div_ceil(per))
        .into_par_iter()
        .for_each(|b| f(b * per..((b + 1) * per).min(nlines)));
}

/// Runs `f(first_line, block)` over blocks of whole x-lines of `v` in parallel.
pub(super) fn par_line_chunks<T: Send>(
    lev: &Level,
    v: &mut [T],
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let nx = lev.dims[0];
    let per = lev.lines_per_chunk();
    v.par_chunks_mut(per * nx)
        .enumerate()
        .for_each(|(b, chunk)| f(b * per, chunk));
}

/// Start indices of the (up to 4) transverse neighbour lines of line `l` present in the grid.
#[inline(always)]
pub(super) fn neighbour_lines(l: usize, dims: [usize; 3]) -> ([usize; 4], usize) {
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
