//! Fused MGPCG ([`FusedPcg`]): PCG's vectors `r` and `p` in `f64`, stored in the V-cycle's
//! red–black split layout of the finest level; `z` is the V-cycle's own iterate, never widened
//! to a vector of its own; `A p` is recomputed where it is needed rather than stored. Per
//! iteration, in passes over the grid:
//!
//! * `r ← r − α A p` with `rᵀr`: `p`, the codes and `r` read, `r` and the V-cycle's right-hand
//!   side `b = T(r)` written (the conversion into the V-cycle is free);
//! * the V-cycle, then `rᵀz` reading `r` and the V-cycle's iterate (`T`);
//! * `x ← x + α p; p ← f64(z) + β p` (the caller's `x` in natural order, even and odd cells
//!   together so that it vectorizes) and, in the same pass, `pᵀA p` of the new `p`: plane by
//!   plane, each plane's stencil right after the update of the plane above it, from cache
//!   (`p` is unit-stride and mask-free in the split layout: ghost slots are zero, `p` is zero
//!   outside the fluid). `pᵀA p` on its own only for the first direction.
//!
//! About 76 bytes per cell for an f32 V-cycle, against 123 for generic PCG with a stored `q`
//! and the conversions; two `f64` vectors of scratch instead of four.

use super::hierarchy::{
    BOUNDARY_BIT, FLUID_BIT, Layout, Level, SERIAL_BELOW, deinterleave, par_line_chunks, par_sum,
};
use super::profile::{Kernel, start, stop};
use super::{AnyScratch, GridMultigrid, Real, Scratch};
use crate::error::PdeError;
use crate::poisson::PoissonProblem;
use rayon::prelude::*;
use ritz_linalg::FusedPcg;
use ritz_linalg::schedule::SharedSlice;
use std::sync::MutexGuard;

/// PCG's vectors in the split layout of the finest level (allocated and first touched with
/// the hierarchy, reused by every fused solve).
pub(super) struct PcgVectors {
    r: Vec<f64>,
    p: Vec<f64>,
}

impl PcgVectors {
    pub(super) fn new(slots: usize) -> Self {
        Self {
            r: super::touched(slots),
            p: super::touched(slots),
        }
    }
}

/// The fused MGPCG kernels of one solve, holding the V-cycle's scratch for its duration
/// (built by [`GridMultigrid::fused`]; run by `ritz_krylov::pcg_fused`).
pub struct MgpcgKernels<'a> {
    mg: &'a GridMultigrid,
    scratch: MutexGuard<'a, AnyScratch>,
}

impl std::fmt::Debug for MgpcgKernels<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MgpcgKernels")
            .field("multigrid", self.mg)
            .finish_non_exhaustive()
    }
}

impl GridMultigrid {
    /// The fused PCG kernels of MGPCG on `problem`, the problem this hierarchy was built on.
    /// Cost: nothing for that problem or a clone of it; for another one with the same cells,
    /// a pass over its flags to check that (the PCG vectors were allocated with the
    /// hierarchy). Concurrent solves with one hierarchy are serialized (the kernels hold
    /// the V-cycle's scratch).
    ///
    /// Errors: a problem whose shape, fluid cells or diagonal differ from the hierarchy's
    /// finest level.
    ///
    /// ```
    /// use ritz_linalg::FusedPcg;
    /// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene};
    /// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
    /// let mg = GridMultigrid::new(&p, MultigridParams::default())?;
    /// let k = mg.fused(&p)?;
    /// assert_eq!(k.dim(), p.num_cells());
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn fused<'a>(&'a self, problem: &PoissonProblem) -> Result<MgpcgKernels<'a>, PdeError> {
        let fine = &self.levels[0];
        let same = self.problem_id == Some(problem.id())
            || (problem.grid().dims() == fine.dims
                && problem.grid().dim() == fine.dim
                && same_cells(fine, problem));
        if !same {
            return Err(PdeError::Unsupported(
                "the fused MGPCG kernels need the problem the multigrid hierarchy was built on"
                    .into(),
            ));
        }
        let scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        Ok(MgpcgKernels { mg: self, scratch })
    }
}

/// Whether `problem`'s fluid mask and diagonal counts are the level's.
fn same_cells(lev: &Level, problem: &PoissonProblem) -> bool {
    let lay = lev.lay;
    let (fluid, diag) = (problem.fluid_mask(), problem.diag_counts());
    let bad = par_sum(lev, |lines| {
        // An integer count (the additions vectorize, unlike a running f64 sum).
        let mut bad = 0usize;
        for l in lines {
            let row = l * lay.nx;
            for c in 0..2 {
                let (s, o) = (lay.shift(l, c), c * lay.size + lay.line(l));
                for m in 0..lay.count(l, c) {
                    let cell = row + 2 * m + s;
                    let want = diag[cell] | if fluid[cell] != 0 { FLUID_BIT } else { 0 };
                    bad += (lev.code[o + m] & !BOUNDARY_BIT != want) as usize;
                }
            }
        }
        bad as f64
    });
    bad == 0.0
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $body:expr) => {
        match &mut *$self.scratch {
            AnyScratch::F64($s) => $body,
            AnyScratch::F32($s) => $body,
        }
    };
}

impl FusedPcg for MgpcgKernels<'_> {
    fn dim(&self) -> usize {
        self.mg.levels[0].len()
    }
    fn start(&mut self, b: &[f64], x: &[f64]) -> f64 {
        let mg = self.mg;
        dispatch!(self, s => start_residual(&mg.levels[0], s, b, x))
    }
    fn precondition(&mut self) -> f64 {
        let mg = self.mg;
        dispatch!(self, s => precondition(mg, s))
    }
    fn restart_direction(&mut self) {
        dispatch!(self, s => restart_direction(s))
    }
    fn curvature(&mut self) -> f64 {
        let mg = self.mg;
        dispatch!(self, s => curvature(&mg.levels[0], s))
    }
    fn update_residual(&mut self, alpha: f64) -> f64 {
        let mg = self.mg;
        dispatch!(self, s => update_residual(&mg.levels[0], s, alpha))
    }
    fn update_direction(&mut self, alpha: f64, beta: f64, x: &mut [f64]) {
        let mg = self.mg;
        dispatch!(self, s => update_x(&mg.levels[0], s, alpha, Some(beta), x))
    }
    fn update_solution(&mut self, alpha: f64, x: &mut [f64]) {
        let mg = self.mg;
        dispatch!(self, s => update_x(&mg.levels[0], s, alpha, None, x))
    }
    fn update_direction_curvature(&mut self, alpha: f64, beta: f64, x: &mut [f64]) -> f64 {
        let mg = self.mg;
        dispatch!(self, s => direction_curvature(&mg.levels[0], s, alpha, beta, x))
    }
}

/// `Σ a_i f64(b_i)` with eight independent accumulators: a single running sum is a chain of
/// dependent additions (4 cycles each) that the vector units cannot overlap — slower than
/// the memory traffic of the kernels it sits in.
#[inline]
fn dot8<T: Real>(a: &[f64], b: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k].to_f64();
        }
    }
    let tail: f64 = ar.iter().zip(br).map(|(x, y)| x * y.to_f64()).sum();
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Entries per parallel work item of the flat kernels (fixed, so sums are reproducible).
const CHUNK: usize = 1 << 14;

fn size_of<T>() -> f64 {
    std::mem::size_of::<T>() as f64
}

/// `(A p)` on the stored line of grid line `l` and colour `c`, into `out` (`h` entries; 0 off
/// the fluid and on padding slots).
#[inline(always)]
fn stencil(lev: &Level, p: &[f64], l: usize, c: usize, out: &mut [f64]) {
    let size = lev.lay.size;
    let own = &p[c * size + lev.lay.line(l)..][..lev.lay.h()];
    stencil_at(lev, own, &p[(1 - c) * size..][..size], 0, l, c, out);
}

/// [`stencil`] from the line's own values `own` and a window `other` of the other colour that
/// starts at its slot `base` and holds the line's neighbours.
#[inline(always)]
fn stencil_at(
    lev: &Level,
    own: &[f64],
    other: &[f64],
    base: usize,
    l: usize,
    c: usize,
    out: &mut [f64],
) {
    let lay = lev.lay;
    let (size, h, dy, dz) = (lay.size, lay.h(), lay.w, lay.dz());
    let (o, sh) = (lay.line(l), lay.shift(l, c));
    let code = &lev.code[c * size + o..][..h];
    let (own, out) = (&own[..h], &mut out[..h]);
    let o = o - base;
    let (xl, xr) = (&other[o + sh - 1..][..h], &other[o + sh..][..h]);
    let (yl, yh) = (&other[o - dy..][..h], &other[o + dy..][..h]);
    let value = |m: usize, sum: f64| {
        let v = (code[m] & 7) as f64 * own[m] - sum;
        if code[m] & FLUID_BIT != 0 { v } else { 0.0 }
    };
    if lay.three {
        let (zl, zh) = (&other[o - dz..][..h], &other[o + dz..][..h]);
        for m in 0..h {
            out[m] = value(m, xl[m] + xr[m] + yl[m] + yh[m] + zl[m] + zh[m]);
        }
    } else {
        for m in 0..h {
            out[m] = value(m, xl[m] + xr[m] + yl[m] + yh[m]);
        }
    }
}

/// `r ← b − A x` and the V-cycle's `b ← T(r)` on the fluid cells (0 elsewhere: entries of `b`
/// and `x` off the fluid are ignored, as the operator's rows and columns there are zero);
/// `p` holds `x` in the split layout meanwhile. Returns `rᵀr`.
fn start_residual<T: Real>(lev: &Level, s: &mut Scratch<T>, b: &[f64], x: &[f64]) -> f64 {
    let lay = lev.lay;
    let t0 = start(&s.prof);
    let v = &mut s.pcg;
    // From x = 0 (the usual start) r = b: no stencil, and x need not be split.
    let zero = x
        .par_chunks(CHUNK)
        .all(|c| c.iter().fold(true, |z, &v| z & (v == 0.0)));
    if !zero {
        super::hierarchy::split_from(lev, x, &mut v.p);
    }
    let (p, rs, bs) = (
        &v.p,
        SharedSlice::new(&mut v.r),
        SharedSlice::new(&mut s.b[0]),
    );
    let rr = par_sum(lev, |lines| {
        let (mut ap, mut bl) = (vec![0.0; lay.h()], vec![0.0; 2 * lay.h()]);
        let mut acc = 0.0;
        for l in lines {
            // b's line by colour (a stride-2 read per colour would not vectorize).
            let (even, odd) = bl.split_at_mut(lay.h());
            deinterleave(&b[l * lay.nx..][..lay.nx], even, odd);
            for c in 0..2 {
                let (o, n) = (c * lay.size + lay.line(l), lay.count(l, c));
                let row = if lay.shift(l, c) == 0 { &*even } else { &*odd };
                if zero {
                    ap.fill(0.0);
                } else {
                    stencil(lev, p, l, c, &mut ap);
                }
                // SAFETY: each line's slots are written by one thread only.
                let (r, bv) = unsafe { (rs.slice_mut(o..o + n), bs.slice_mut(o..o + n)) };
                for m in 0..n {
                    let fluid = lev.code[o + m] & FLUID_BIT != 0;
                    let val = if fluid { row[m] - ap[m] } else { 0.0 };
                    r[m] = val;
                    bv[m] = T::from_f64(val);
                }
                acc += dot8(r, r);
            }
        }
        acc
    });
    let n = lev.len() as f64;
    // x in; unless it is 0, p out, p in; codes, b in; r and the V-cycle's b out.
    let split = if zero { 0.0 } else { 16.0 };
    stop(
        &mut s.prof,
        Kernel::ConvertIn,
        t0,
        (8.0 + split + 1.0 + 8.0 + 8.0 + size_of::<T>()) * n,
    );
    rr
}

/// One V-cycle on the loaded right-hand side, the iterate projected onto the range when the
/// problem is singular; returns `rᵀz`.
fn precondition<T: Real>(mg: &GridMultigrid, s: &mut Scratch<T>) -> f64 {
    if let Some(p) = s.prof.as_mut() {
        p.applications += 1;
    }
    mg.vcycle(s, 0);
    let t0 = start(&s.prof);
    let z = &mut s.x[0];
    for region in &mg.floating {
        let mean =
            region.iter().map(|&q| z[q as usize].to_f64()).sum::<f64>() / region.len() as f64;
        for &q in region {
            z[q as usize] = T::from_f64(z[q as usize].to_f64() - mean);
        }
    }
    let r = &s.pcg.r;
    let z = &s.x[0];
    let parts: Vec<f64> = r
        .par_chunks(CHUNK)
        .zip(z.par_chunks(CHUNK))
        .map(|(r, z)| dot8(r, z))
        .collect();
    let n = mg.levels[0].len() as f64;
    stop(&mut s.prof, Kernel::RzDot, t0, (8.0 + size_of::<T>()) * n);
    parts.iter().sum()
}

/// `p ← f64(z)`.
fn restart_direction<T: Real>(s: &mut Scratch<T>) {
    let z = &s.x[0];
    let p = &mut s.pcg.p;
    p.par_chunks_mut(CHUNK)
        .zip(z.par_chunks(CHUNK))
        .for_each(|(p, z)| p.iter_mut().zip(z).for_each(|(p, z)| *p = z.to_f64()));
}

/// `pᵀA p`.
fn curvature<T: Real>(lev: &Level, s: &mut Scratch<T>) -> f64 {
    let lay = lev.lay;
    let t0 = start(&s.prof);
    let p = &s.pcg.p;
    let pap = par_sum(lev, |lines| {
        let mut ap = vec![0.0; lay.h()];
        let mut acc = 0.0;
        for l in lines {
            for c in 0..2 {
                stencil(lev, p, l, c, &mut ap);
                let own = &p[c * lay.size + lay.line(l)..][..lay.h()];
                acc += dot8(own, &ap);
            }
        }
        acc
    });
    stop(&mut s.prof, Kernel::Operator, t0, 9.0 * lev.len() as f64);
    pap
}

/// `r ← r − α A p` and `b ← T(r)`; returns `rᵀr`.
fn update_residual<T: Real>(lev: &Level, s: &mut Scratch<T>, alpha: f64) -> f64 {
    let lay = lev.lay;
    let (size, h) = (lay.size, lay.h());
    let t0 = start(&s.prof);
    let v = &mut s.pcg;
    let (p, rs, bs) = (
        &v.p,
        SharedSlice::new(&mut v.r),
        SharedSlice::new(&mut s.b[0]),
    );
    let rr = par_sum(lev, |lines| {
        let mut ap = vec![0.0; h];
        let mut acc = 0.0;
        for l in lines {
            for c in 0..2 {
                let o = c * size + lay.line(l);
                stencil(lev, p, l, c, &mut ap);
                // SAFETY: each stored line is written by one thread only.
                let (r, b) = unsafe { (rs.slice_mut(o..o + h), bs.slice_mut(o..o + h)) };
                for m in 0..h {
                    r[m] -= alpha * ap[m];
                    b[m] = T::from_f64(r[m]);
                }
                acc += dot8(r, r);
            }
        }
        acc
    });
    stop(
        &mut s.prof,
        Kernel::ResidualUpdate,
        t0,
        (25.0 + size_of::<T>()) * lev.len() as f64,
    );
    rr
}

/// `x ← x + α p` on grid line `l` (`row`, natural order), then with `beta`:
/// `p ← f64(z) + β p` on its cells.
///
/// # Safety
/// No other thread may access `p` on line `l` meanwhile.
#[inline(always)]
unsafe fn update_line<T: Real>(
    lay: Layout,
    ps: &SharedSlice<f64>,
    z: &[T],
    l: usize,
    row: &mut [f64],
    alpha: f64,
    beta: Option<f64>,
) {
    let nx = lay.nx;
    let (oe, oo) = lay.parity_lines(l);
    // SAFETY: the caller's contract.
    let (pe, po) = unsafe {
        (
            ps.slice_mut(oe..oe + nx.div_ceil(2)),
            ps.slice_mut(oo..oo + nx / 2),
        )
    };
    // x in natural order: even and odd cells together (a stride-2 loop per colour would not
    // vectorize).
    let (pairs, tail) = row.as_chunks_mut::<2>();
    for ((x, &e), &o) in pairs.iter_mut().zip(&*pe).zip(&*po) {
        x[0] += alpha * e;
        x[1] += alpha * o;
    }
    if let [t] = tail {
        *t += alpha * pe[pairs.len()];
    }
    if let Some(beta) = beta {
        for (p, o) in [(pe, oe), (po, oo)] {
            for (p, z) in p.iter_mut().zip(&z[o..]) {
                *p = z.to_f64() + beta * *p;
            }
        }
    }
}

/// `x ← x + α p` (natural order), then with `beta`: `p ← f64(z) + β p`.
fn update_x<T: Real>(
    lev: &Level,
    s: &mut Scratch<T>,
    alpha: f64,
    beta: Option<f64>,
    x: &mut [f64],
) {
    let lay = lev.lay;
    let t0 = start(&s.prof);
    let z = &s.x[0];
    let ps = SharedSlice::new(&mut s.pcg.p);
    par_line_chunks(lev, x, |l0, block| {
        for (i, row) in block.chunks_mut(lay.nx).enumerate() {
            // SAFETY: each line's slots are written by one thread only.
            unsafe { update_line(lay, &ps, z, l0 + i, row, alpha, beta) };
        }
    });
    let bytes = if beta.is_some() {
        32.0 + size_of::<T>()
    } else {
        24.0
    };
    stop(
        &mut s.prof,
        Kernel::DirectionUpdate,
        t0,
        bytes * lev.len() as f64,
    );
}

/// `pᵀA p` on plane `k` of the slab axis.
///
/// # Safety
/// No thread may write `p` on planes `k − 1 ..= k + 1` meanwhile.
unsafe fn plane_curvature(lev: &Level, ps: &SharedSlice<f64>, k: usize, ap: &mut [f64]) -> f64 {
    let (lay, per) = (lev.lay, lev.plane_lines());
    // The other colour's planes k − 1 ..= k + 1 (ghost planes at the domain's ends).
    let base = lev.plane_slots(k).start - lev.plane_slots(0).len();
    let len = 3 * lev.plane_slots(0).len();
    let mut acc = 0.0;
    for c in 0..2 {
        let o = (1 - c) * lay.size + base;
        // SAFETY: the caller's contract; inside the colour (ghost planes surround the grid).
        let other = unsafe { ps.slice(o..o + len) };
        for l in k * per..(k + 1) * per {
            let at = c * lay.size + lay.line(l);
            let own = unsafe { ps.slice(at..at + lay.h()) };
            stencil_at(lev, own, other, base, l, c, ap);
            acc += dot8(own, ap);
        }
    }
    acc
}

/// `x ← x + α p; p ← f64(z) + β p`, then `pᵀA p` of the new `p`, in one pass: planes of the
/// slab axis in order, the curvature of plane `k − 1` right after the update of plane `k`,
/// while the three planes it reads are in cache. In parallel the planes are cut into chunks;
/// a chunk's first and last planes, whose stencils read a neighbour chunk's `p`, get their
/// curvature after all updates. The sum is added plane by plane in order (the same whatever
/// the number of threads).
fn direction_curvature<T: Real>(
    lev: &Level,
    s: &mut Scratch<T>,
    alpha: f64,
    beta: f64,
    x: &mut [f64],
) -> f64 {
    let (lay, per, planes) = (lev.lay, lev.plane_lines(), lev.planes());
    let t0 = start(&s.prof);
    let z = &s.x[0];
    let mut sums = vec![0.0; planes];
    let ps = SharedSlice::new(&mut s.pcg.p);
    let xs = SharedSlice::new(x);
    let ss = SharedSlice::new(&mut sums);
    let plane_len = per * lay.nx;
    let chunks = if lev.len() < SERIAL_BELOW {
        1
    } else {
        (planes / 4).clamp(1, rayon::current_num_threads())
    };
    let cut = |i: usize| i * planes / chunks;
    let body = |i: usize| {
        let (a, e) = (cut(i), cut(i + 1));
        let mut ap = vec![0.0; lay.h()];
        for k in a..e {
            // SAFETY: the chunk's planes of x and p are written by this thread only.
            let rows = unsafe { xs.slice_mut(k * plane_len..(k + 1) * plane_len) };
            for (q, row) in rows.chunks_mut(lay.nx).enumerate() {
                unsafe { update_line(lay, &ps, z, k * per + q, row, alpha, Some(beta)) };
            }
            // Plane k − 1's stencil reads planes k − 2 ..= k, all updated by this thread
            // unless k − 1 is the chunk's first plane next to another chunk.
            if k > a && (k - 1 > a || a == 0) {
                // SAFETY: p of planes k − 2 ..= k is not written by any thread any more; each
                // plane's sum is written by one thread.
                unsafe { ss.set(k - 1, plane_curvature(lev, &ps, k - 1, &mut ap)) };
            }
        }
        if e == planes && e > a && (e - 1 > a || a == 0) {
            // SAFETY: as above (the ghost plane beyond the last one is never written).
            unsafe { ss.set(e - 1, plane_curvature(lev, &ps, e - 1, &mut ap)) };
        }
    };
    if chunks == 1 {
        body(0);
    } else {
        (0..chunks).into_par_iter().for_each(body);
        // The planes next to a cut, now that every plane of p is final.
        let rest: Vec<(usize, f64)> = (1..chunks)
            .into_par_iter()
            .flat_map_iter(|i| {
                let c = cut(i);
                let mut ap = vec![0.0; lay.h()];
                // SAFETY: no thread writes p any more.
                [c - 1, c].map(|k| (k, unsafe { plane_curvature(lev, &ps, k, &mut ap) }))
            })
            .collect();
        for (k, v) in rest {
            sums[k] = v;
        }
    }
    let n = lev.len() as f64;
    // The direction update's traffic; the curvature reads planes still in cache.
    stop(
        &mut s.prof,
        Kernel::DirectionUpdate,
        t0,
        (32.0 + size_of::<T>() + 1.0) * n,
    );
    sums.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{CellFlag, MacGrid, Walls};
    use crate::multigrid::MultigridParams;

    /// The one-pass direction update with curvature against the two kernels it fuses, on a
    /// grid large enough to be cut into chunks (a pool of 4 threads), 2D and 3D: the same
    /// `x` and `p` bit for bit, the same `pᵀA p` up to the order of the sum.
    #[test]
    fn direction_curvature_is_the_two_kernels() {
        for shape in [vec![48, 40, 44], vec![300, 260]] {
            let dim = shape.len();
            let mut g = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
            g.paint(CellFlag::Solid, |p| {
                (p[0] * 0.37).sin() + (p[1] * 0.23).cos() + (p[2] * 0.5).sin() > 1.4
            });
            let p = PoissonProblem::new(g).unwrap();
            let b: Vec<f64> = (0..p.num_cells())
                .map(|c| ((c * 7919) % 1000) as f64 / 500.0 - 1.0)
                .collect();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(4)
                .build()
                .unwrap();
            let run = |fused: bool| {
                let mg = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
                let mut x = vec![0.25; b.len()];
                pool.install(|| {
                    let mut k = mg.fused(&p).unwrap();
                    k.start(&b, &x);
                    k.precondition();
                    k.restart_direction();
                    k.update_residual(0.3);
                    k.precondition();
                    let pap = if fused {
                        k.update_direction_curvature(0.3, 0.7, &mut x)
                    } else {
                        k.update_direction(0.3, 0.7, &mut x);
                        k.curvature()
                    };
                    let again = k.curvature();
                    (x, pap, again)
                })
            };
            let (x1, pap1, again1) = run(false);
            let (x2, pap2, again2) = run(true);
            assert!(x1 == x2, "{shape:?}");
            assert!(
                pap1 > 0.0 && again1 == again2 && pap1 == again1,
                "{shape:?}"
            );
            assert!(
                (pap2 - pap1).abs() <= 1e-12 * pap1,
                "{shape:?}: {pap2} vs {pap1}"
            );
        }
    }
}
