//! The multigrid hierarchy: one [`Level`] per grid (shape, diagonal counts and fluid mask in
//! the red–black split [`Layout`] of the V-cycle's vectors, boundary cells), coarsening by 2
//! per axis, and the parallel iteration over x-lines that every kernel of the V-cycle uses.

use super::Real;
use super::conductance::{Conductance, Faces};
use crate::error::PdeError;
use crate::grid::{CellFlag, MacGrid};
use crate::poisson::PoissonProblem;
use rayon::prelude::*;
use ritz_linalg::schedule::SharedSlice;

/// The red–black split storage of a level's V-cycle vectors.
///
/// Each colour (`(i + j + k) % 2`) is stored on its own, line by line: the cells of colour `c`
/// on grid line `(j, k)` are `i = 2m + s` with `s = (c + j + k) % 2`, stored at consecutive
/// slots `m`, with a zero slot at each end of a stored line and a zero ghost line (and in 3D a
/// zero ghost plane) around the grid. A half-sweep therefore streams only the colour it writes
/// and the colour it reads, with unit stride (it vectorizes), and every face neighbour of a
/// cell sits at a fixed offset in the other colour — outside the grid a slot that stays zero,
/// so the kernels need no bounds tests:
/// x-neighbours at `q − 1 + s` and `q + s`, y-neighbours at `q ∓ w`, z-neighbours at
/// `q ∓ w · ly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    pub(super) nx: usize,
    pub(super) ny: usize,
    pub(super) nz: usize,
    pub(super) three: bool,
    /// Slots per stored line: `⌈nx / 2⌉` cells and a zero slot at each end.
    pub(super) w: usize,
    /// Stored lines per plane: `ny` and a ghost line at each end.
    pub(super) ly: usize,
    /// Slots per colour.
    pub(super) size: usize,
}

impl Layout {
    pub(super) fn new(dims: [usize; 3], dim: usize) -> Self {
        let [nx, ny, nz] = dims;
        let three = dim == 3;
        let w = nx.div_ceil(2) + 2;
        let ly = ny + 2;
        let planes = if three { nz + 2 } else { 1 };
        Self {
            nx,
            ny,
            nz,
            three,
            w,
            ly,
            size: w * ly * planes,
        }
    }
    /// Cell slots per stored line (`⌈nx / 2⌉`).
    #[inline(always)]
    pub(super) fn h(&self) -> usize {
        self.w - 2
    }
    /// Grid lines (`ny · nz`).
    pub(super) fn lines(&self) -> usize {
        self.ny * self.nz
    }
    /// Slot of the first cell of grid line `l = j + ny k` in a colour's storage.
    #[inline(always)]
    pub(super) fn line(&self, l: usize) -> usize {
        let (j, k) = (l % self.ny, l / self.ny);
        ((j + 1) + self.ly * (k + self.three as usize)) * self.w + 1
    }
    /// The x offset `s` of colour `c` on grid line `l`: its cells are `i = 2m + s`.
    #[inline(always)]
    pub(super) fn shift(&self, l: usize, c: usize) -> usize {
        (c + l % self.ny + l / self.ny) % 2
    }
    /// Cells of colour `c` on grid line `l`.
    #[inline(always)]
    pub(super) fn count(&self, l: usize, c: usize) -> usize {
        (self.nx - self.shift(l, c)).div_ceil(2)
    }
    /// Global slots (`colour · size + slot`) of the stored lines holding grid line `l`'s even
    /// cells (`i = 0, 2, …`) and its odd cells (`i = 1, 3, …`).
    #[inline(always)]
    pub(super) fn parity_lines(&self, l: usize) -> (usize, usize) {
        let even = self.shift(l, 0);
        let o = self.line(l);
        (even * self.size + o, (1 - even) * self.size + o)
    }
    /// Offset between z-neighbours (0 in 2D, where there are none).
    #[inline(always)]
    pub(super) fn dz(&self) -> usize {
        if self.three { self.w * self.ly } else { 0 }
    }
    /// Colour and global slot (`colour · size + slot`) of grid cell `cell = i + nx (j + ny k)`.
    pub(super) fn global(&self, cell: usize) -> (usize, usize) {
        let (i, l) = (cell % self.nx, cell / self.nx);
        let c = (i + l % self.ny + l / self.ny) % 2;
        (c, c * self.size + self.line(l) + i / 2)
    }
}

/// Grid line `row` (natural order) from its even cells `even` and odd cells `odd` (as stored
/// in the split layout): an interleaving the compiler vectorizes, where a stride-2 loop per
/// colour runs scalar.
#[inline(always)]
pub(super) fn interleave<T: Copy>(even: &[T], odd: &[T], row: &mut [T]) {
    let (pairs, tail) = row.as_chunks_mut::<2>();
    for ((pr, &e), &o) in pairs.iter_mut().zip(even).zip(odd) {
        *pr = [e, o];
    }
    if let [t] = tail {
        *t = even[pairs.len()];
    }
}

/// Grid line `row` split into its even and odd cells (the inverse of [`interleave`]).
#[inline(always)]
pub(super) fn deinterleave<T: Copy>(row: &[T], even: &mut [T], odd: &mut [T]) {
    let (pairs, tail) = row.as_chunks::<2>();
    for ((x, e), o) in pairs.iter().zip(even.iter_mut()).zip(odd.iter_mut()) {
        (*e, *o) = (x[0], x[1]);
    }
    if let [t] = tail {
        even[pairs.len()] = *t;
    }
}

/// Per-cell code in the split layout: the diagonal count (0..=6) in bits 0–2, bit 3
/// ([`FLUID_BIT`]) set on fluid cells, bit 4 ([`BOUNDARY_BIT`]) on the boundary cells of
/// [`Level::boundary`]; 0 on every padding slot.
pub(super) const FLUID_BIT: u8 = 8;

/// Code bit of a boundary cell (a fluid cell in [`Level::boundary`]).
pub(super) const BOUNDARY_BIT: u8 = 16;

/// An entry of [`Level::boundary`]: the cell's slot within its colour, and its line's x offset
/// `s` (bit 31).
#[inline(always)]
pub(super) fn boundary_entry(e: u32) -> (usize, usize) {
    ((e & 0x7fff_ffff) as usize, (e >> 31) as usize)
}

/// One grid level: shape and stencil data, in the split layout.
#[derive(Debug, Clone)]
pub(super) struct Level {
    pub(super) dims: [usize; 3],
    pub(super) dim: usize,
    /// Per axis, whether the low / high domain wall is solid (Neumann).
    pub(super) solid_wall: [[bool; 2]; 3],
    pub(super) lay: Layout,
    /// Diagonal count and fluid bit per slot, both colours (`2 · size`).
    pub(super) code: Vec<u8>,
    /// Fluid cells with a non-fluid face neighbour (or a domain wall), by colour: the slot
    /// within the colour, with the line's x offset `s` in bit 31.
    pub(super) boundary: [Vec<u32>; 2],
    /// The area-weighted operator of a coarse level (`None`: the unit Laplacian of the flags,
    /// as on the finest level).
    pub(super) faces: Option<Box<Faces>>,
    /// The planes along the slab axis (z in 3D, y in 2D) the V-cycle's kernels compute: all
    /// of them, except on a distributed level of a [`super::SlabMultigrid`], where a part
    /// computes its own slab.
    pub(super) active: std::ops::Range<usize>,
    /// The entries of `boundary` (per colour) inside `active`.
    pub(super) boundary_active: [std::ops::Range<usize>; 2],
    /// The smoother's relaxation weights and the coarse-correction scale of this level
    /// ([`super::MultigridParams::weights`]).
    pub(super) weights: super::LevelWeights,
}

impl Level {
    /// The finest level, from its problem.
    pub(super) fn from_problem(p: &PoissonProblem) -> Self {
        Self::new(p.grid(), p.fluid_mask(), p.diag_counts())
    }

    /// A coarse level, from its grid alone (no [`PoissonProblem`]: no compact numbering or
    /// connected regions, which only the coarsest solve needs), with the area-weighted
    /// operator of `cond` if given. `None` without fluid.
    pub(super) fn from_grid(grid: &MacGrid, cond: Option<&Conductance>) -> Option<Self> {
        Self::from_grid_in(grid, cond, false)
    }

    /// [`Level::from_grid`], or with `empty_ok` a level even without fluid (a split V-cycle's
    /// window of a level whose fluid lies in other parts' planes).
    pub(super) fn from_grid_in(
        grid: &MacGrid,
        cond: Option<&Conductance>,
        empty_ok: bool,
    ) -> Option<Self> {
        let fluid: Vec<u8> = grid
            .flags()
            .par_iter()
            .map(|&f| (f == CellFlag::Fluid) as u8)
            .collect();
        if !empty_ok && !fluid.contains(&1) {
            return None;
        }
        let (diag, _) = crate::poisson::stencil_counts(grid);
        let mut level = Self::new(grid, &fluid, &diag);
        level.faces = cond.map(|c| Box::new(Faces::new(&level, c)));
        Some(level)
    }

    /// Cost: two parallel passes over the cells, line by line (no divisions per cell).
    fn new(grid: &MacGrid, fluid: &[u8], diag: &[u8]) -> Self {
        let w = grid.walls().0;
        let solid = |a: usize, s: usize| w[a][s] == crate::grid::WallKind::Solid;
        let dims = grid.dims();
        let lay = Layout::new(dims, grid.dim());
        let mut level = Self {
            dims,
            dim: grid.dim(),
            solid_wall: [0, 1, 2].map(|a| [solid(a, 0), solid(a, 1)]),
            lay,
            code: Vec::new(),
            boundary: Default::default(),
            faces: None,
            active: 0..0,
            boundary_active: [0..0, 0..0],
            weights: super::LevelWeights::uniform(1.0),
        };
        level.active = 0..level.planes();
        let mut code = super::touched(2 * lay.size);
        let cs = SharedSlice::new(&mut code);
        par_lines(&level, |lines| {
            for l in lines {
                let row = l * lay.nx;
                for c in 0..2 {
                    let (s, o, n) = (lay.shift(l, c), c * lay.size + lay.line(l), lay.count(l, c));
                    // SAFETY: each line's slots are written by one thread only.
                    let out = unsafe { cs.slice_mut(o..o + n) };
                    for (m, v) in out.iter_mut().enumerate() {
                        let cell = row + 2 * m + s;
                        *v = diag[cell] | if fluid[cell] != 0 { FLUID_BIT } else { 0 };
                    }
                }
            }
        });
        level.boundary = boundary_cells(&level, fluid);
        let cs = SharedSlice::new(&mut code);
        for c in 0..2 {
            level.boundary[c].par_chunks(4096).for_each(|chunk| {
                for &e in chunk {
                    let slot = c * lay.size + boundary_entry(e).0;
                    // SAFETY: the boundary cells are distinct slots, each set by one thread.
                    unsafe { cs.set(slot, cs.get(slot) | BOUNDARY_BIT) };
                }
            });
        }
        level.code = code;
        level.boundary_active = [0, 1].map(|c| 0..level.boundary[c].len());
        level
    }
    /// Grid lines per plane of the slab axis (`ny` in 3D, 1 in 2D): a plane is an xy-plane in
    /// 3D, an x-line in 2D — the unit along the outermost axis, which the transfers visit in
    /// order and a split V-cycle splits.
    pub(super) fn plane_lines(&self) -> usize {
        if self.dim == 3 { self.dims[1] } else { 1 }
    }
    /// Planes along the slab axis (`nz` in 3D, `ny` in 2D).
    pub(super) fn planes(&self) -> usize {
        if self.dim == 3 {
            self.dims[2]
        } else {
            self.dims[1]
        }
    }
    /// The grid lines of the active planes.
    pub(super) fn active_lines(&self) -> std::ops::Range<usize> {
        let per = self.plane_lines();
        self.active.start * per..self.active.end * per
    }
    /// Slots of one colour's plane `k` of the slab axis (with its ghost lines): a contiguous
    /// range of that colour's storage.
    pub(super) fn plane_slots(&self, k: usize) -> std::ops::Range<usize> {
        let len = if self.dim == 3 {
            self.lay.w * self.lay.ly
        } else {
            self.lay.w
        };
        (k + 1) * len..(k + 2) * len
    }
    /// Restricts the kernels to `planes` of the slab axis (see [`Level::active`]).
    pub(super) fn set_active(&mut self, planes: std::ops::Range<usize>) {
        let lines = planes.start * self.plane_lines()..planes.end * self.plane_lines();
        let (lo, hi) = (self.lay.line(lines.start), self.lay.line(lines.end));
        self.boundary_active = [0, 1].map(|c| {
            let slot = |&e: &u32| boundary_entry(e).0;
            let b = &self.boundary[c];
            b.partition_point(|e| slot(e) < lo)..b.partition_point(|e| slot(e) < hi)
        });
        self.active = planes;
    }
    /// Cells of the grid.
    pub(super) fn len(&self) -> usize {
        self.dims.iter().product()
    }
    /// Slots of a split-layout vector (both colours).
    pub(super) fn slots(&self) -> usize {
        2 * self.lay.size
    }
    /// Lines per parallel work item (about 16k cells).
    pub(super) fn lines_per_chunk(&self) -> usize {
        (16384 / self.dims[0]).max(1)
    }
}

/// Fluid cells with a face neighbour that is not fluid (solid or air cell, or any domain
/// wall), by colour `(i + j + k) % 2`, ascending: the slot within the colour, with the line's
/// x offset `s` in bit 31. Cost: one parallel pass over the cells.
fn boundary_cells(lev: &Level, fluid: &[u8]) -> [Vec<u32>; 2] {
    let lay = lev.lay;
    let [nx, ny, nz] = lev.dims;
    let plane = nx * ny;
    let per = lev.lines_per_chunk();
    let parts: Vec<[Vec<u32>; 2]> = (0..lay.lines().div_ceil(per))
        .into_par_iter()
        .map(|b| {
            let mut out = [Vec::new(), Vec::new()];
            for l in b * per..((b + 1) * per).min(lay.lines()) {
                let (j, k, row) = (l % ny, l / ny, l * nx);
                let edge = j == 0 || j + 1 == ny || (lay.three && (k == 0 || k + 1 == nz));
                for i in 0..nx {
                    let cell = row + i;
                    if fluid[cell] == 0 {
                        continue;
                    }
                    // Short-circuits keep every index read inside the grid.
                    let near = edge
                        || i == 0
                        || i + 1 == nx
                        || fluid[cell - 1] == 0
                        || fluid[cell + 1] == 0
                        || fluid[cell - nx] == 0
                        || fluid[cell + nx] == 0
                        || (lay.three && (fluid[cell - plane] == 0 || fluid[cell + plane] == 0));
                    if near {
                        let c = (i + j + k) % 2;
                        let slot = (lay.line(l) + i / 2) as u32;
                        out[c].push(slot | ((lay.shift(l, c) as u32) << 31));
                    }
                }
            }
            out
        })
        .collect();
    [0, 1].map(|c| parts.iter().flat_map(|p| p[c].iter().copied()).collect())
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

/// `v ← T(natural)` on the fluid cells of a split-layout vector (0 on the other cells; padding
/// slots untouched, so they stay 0); `natural` holds the active planes' cells (all of them but
/// on a distributed level). Cost: one pass over each.
pub(super) fn split_from<T: Real>(lev: &Level, natural: &[f64], v: &mut [T]) {
    let lay = lev.lay;
    let vs = SharedSlice::new(v);
    let l0 = lev.active_lines().start;
    par_lines(lev, |lines| {
        // The line by colour first (a stride-2 read per colour would not vectorize).
        let mut split = vec![0.0; 2 * lay.h()];
        for l in lines {
            let (even, odd) = split.split_at_mut(lay.h());
            deinterleave(&natural[(l - l0) * lay.nx..][..lay.nx], even, odd);
            for c in 0..2 {
                let (s, o, n) = (lay.shift(l, c), c * lay.size + lay.line(l), lay.count(l, c));
                let row = if s == 0 { &*even } else { &*odd };
                // SAFETY: each line's slots are written by one thread only.
                let out = unsafe { vs.slice_mut(o..o + n) };
                for ((x, &code), &v) in out.iter_mut().zip(&lev.code[o..o + n]).zip(row) {
                    *x = if code & FLUID_BIT != 0 {
                        T::from_f64(v)
                    } else {
                        T::default()
                    };
                }
            }
        }
    });
}

/// `natural ← f64(v)` for a split-layout vector (`natural`: the active planes' cells). Cost:
/// one pass over each.
pub(super) fn natural_from<T: Real>(lev: &Level, v: &[T], natural: &mut [f64]) {
    let lay = lev.lay;
    par_line_chunks(lev, natural, |l0, block| {
        for (q, row) in block.chunks_mut(lay.nx).enumerate() {
            let l = l0 + q;
            for c in 0..2 {
                let (s, o, n) = (lay.shift(l, c), c * lay.size + lay.line(l), lay.count(l, c));
                for (m, &x) in v[o..o + n].iter().enumerate() {
                    row[2 * m + s] = x.to_f64();
                }
            }
        }
    });
}

/// Runs `f(line_range)` over blocks of x-lines in parallel.
/// Only the lines of the level's active planes (all of them but on a distributed level).
pub(super) fn par_lines(lev: &Level, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let lines = lev.active_lines();
    if lev.len() < SERIAL_BELOW {
        return f(lines);
    }
    let per = lev.lines_per_chunk();
    (0..lines.len().div_ceil(per))
        .into_par_iter()
        .for_each(|b| f(lines.start + b * per..(lines.start + (b + 1) * per).min(lines.end)));
}

/// Levels with fewer cells run their kernels on the calling thread: waking the pool costs
/// more than the work (a V-cycle makes dozens of kernel calls per level).
pub(super) const SERIAL_BELOW: usize = 1 << 15;

/// Runs `f(line_range)` over the same blocks of x-lines as [`par_lines`] and returns the sum
/// of the results, added in block order (reproducible whatever the number of threads).
pub(super) fn par_sum(lev: &Level, f: impl Fn(std::ops::Range<usize>) -> f64 + Sync) -> f64 {
    let nlines = lev.lay.lines();
    let per = lev.lines_per_chunk();
    if lev.len() < SERIAL_BELOW {
        return (0..nlines.div_ceil(per))
            .map(|b| f(b * per..((b + 1) * per).min(nlines)))
            .sum();
    }
    let parts: Vec<f64> = (0..nlines.div_ceil(per))
        .into_par_iter()
        .map(|b| f(b * per..((b + 1) * per).min(nlines)))
        .collect();
    parts.iter().sum()
}

/// Runs `f(first_line, block)` over blocks of whole x-lines of `v` in parallel: `v` holds the
/// lines of the level's active planes (all of them but on a distributed level).
pub(super) fn par_line_chunks<T: Send>(
    lev: &Level,
    v: &mut [T],
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let nx = lev.dims[0];
    let per = lev.lines_per_chunk();
    let l0 = lev.active_lines().start;
    v.par_chunks_mut(per * nx)
        .enumerate()
        .for_each(|(b, chunk)| f(l0 + b * per, chunk));
}
