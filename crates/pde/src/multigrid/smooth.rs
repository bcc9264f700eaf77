//! Smoothing and residuals on one level, in the split [`Layout`](super::hierarchy::Layout):
//! red–black SOR half-sweeps, each with its weight `ω` (unit stride: they vectorize and stream
//! only the two colours' halves they touch), the extra sweeps over the cells next to a
//! non-fluid cell, and `r = b − A x`.

use super::Real;
use super::conductance::{Faces, SCALE};
#[cfg(test)]
use super::hierarchy::par_line_chunks;
use super::hierarchy::{
    BOUNDARY_BIT, FLUID_BIT, Layout, Level, SERIAL_BELOW, boundary_entry, interleave, par_lines,
};
use rayon::prelude::*;
use ritz_linalg::schedule::SharedSlice;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The Gauss–Seidel value of a cell from `sum = b + Σ neighbours`: `sum / diag`, 0 where the
/// diagonal count is 0 (non-fluid and walled-in cells, padding slots).
#[inline(always)]
fn relax<T: Real>(sum: T, code: u8) -> T {
    let d = code & 7;
    let v = sum / T::from_count(d.max(1));
    if d != 0 { v } else { T::default() }
}

/// The Gauss–Seidel value of a cell of an area-weighted level: `sum / diag`, 0 where the
/// diagonal is 0 (non-fluid and closed-in cells, padding slots).
#[inline(always)]
fn relax_weighted<T: Real>(sum: T, diag: f32) -> T {
    let v = sum / T::from_f32(diag.max(f32::MIN_POSITIVE));
    if diag > 0.0 { v } else { T::default() }
}

/// A stored conductance (times [`SCALE`]) as `T`.
#[inline(always)]
fn w<T: Real>(v: &[u8], m: usize) -> T {
    T::from_f32(v[m] as f32)
}

/// The conductances a line of colour `c` needs on an area-weighted level: per axis, those of
/// its cells' `+` faces and those of the `−` faces (the `+` faces of the neighbours, in the
/// other colour), aligned with the line's slots.
struct LineFaces<'a> {
    hi: [&'a [u8]; 3],
    lo: [&'a [u8]; 3],
    diag: &'a [f32],
}

impl<'a> LineFaces<'a> {
    #[inline(always)]
    fn new(faces: &'a Faces, lay: Layout, c: usize, o: usize, s: usize) -> Self {
        let (size, h) = (lay.size, lay.h());
        let own = |v: &'a [u8]| &v[c * size..][o..o + h];
        let other = |v: &'a [u8], back: usize| &v[(1 - c) * size..][o - back..][..h];
        // In 2D the z slices are placeholders (never read).
        let gz = &faces.g[if lay.three { 2 } else { 0 }];
        Self {
            hi: [own(&faces.g[0]), own(&faces.g[1]), own(gz)],
            diag: &faces.diag[c * size..][o..o + h],
            lo: [
                other(&faces.g[0], 1 - s),
                other(&faces.g[1], lay.w),
                other(gz, lay.dz()),
            ],
        }
    }
}

impl LineFaces<'_> {
    /// `Σ g · x` over the four faces of slot `m` (2D), times [`SCALE`]; `nb` = the x, x, y, y
    /// neighbours' lines (low, high).
    #[inline(always)]
    fn flux2<T: Real>(&self, m: usize, nb: [&[T]; 4]) -> T {
        w::<T>(self.lo[0], m) * nb[0][m]
            + w::<T>(self.hi[0], m) * nb[1][m]
            + w::<T>(self.lo[1], m) * nb[2][m]
            + w::<T>(self.hi[1], m) * nb[3][m]
    }
    /// The same over the six faces (3D), with the z neighbours' lines last.
    #[inline(always)]
    fn flux3<T: Real>(&self, m: usize, nb: [&[T]; 6]) -> T {
        self.flux2(m, [nb[0], nb[1], nb[2], nb[3]])
            + w::<T>(self.lo[2], m) * nb[4][m]
            + w::<T>(self.hi[2], m) * nb[5][m]
    }
}

/// The other colour's lines around stored line `o` (colour-relative slot) of a line with x
/// offset `s`, `other` the other colour's first slot: x-neighbours low and high, y low and
/// high, z low and high (in 2D the z entries repeat the x ones and are not meant to be read).
///
/// # Safety
/// No thread may write those lines while the views live.
#[inline(always)]
unsafe fn neighbour_lines<'s, T>(
    lay: Layout,
    xs: &'s SharedSlice<'_, T>,
    other: usize,
    s: usize,
) -> [&'s [T]; 6] {
    let (h, dy, dz) = (lay.h(), lay.w, lay.dz());
    // SAFETY: the caller's contract; the ranges lie inside the colour (ghost lines, planes
    // and line-end slots surround every stored line).
    let nb = |from: usize| unsafe { xs.slice(from..from + h) };
    let (xl, xr) = (nb(other + s - 1), nb(other + s));
    let z = if lay.three {
        (nb(other - dz), nb(other + dz))
    } else {
        (xl, xr)
    };
    [xl, xr, nb(other - dy), nb(other + dy), z.0, z.1]
}

/// What a half-sweep may assume about the iterate before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// Both colours hold the current iterate.
    Warm,
    /// The colour written holds no iterate yet (its stale values are not read): the first
    /// black half-sweep from `x = 0`.
    Fresh,
    /// `x = 0`: neither colour is read — the first half-sweep from `x = 0`, which needs no
    /// zeroing of `x` beforehand (the next half-sweep, [`Start::Fresh`], writes the other
    /// colour without reading it).
    Zero,
}

/// The relaxed update of a cell: `(1 − ω) old + ω gs` from the Gauss–Seidel value `gs`
/// (red–black SOR; `ω = 1` is Gauss–Seidel), `keep = 1 − ω`.
#[inline(always)]
fn over<T: Real>(old: T, gs: T, w: T, keep: T) -> T {
    keep * old + w * gs
}

/// Writes line `$out` from the Gauss–Seidel values `$gs` (an expression of the slot `$m`):
/// relaxed against the old values, or, on a [`Start::Fresh`] or [`Start::Zero`] line, `ω gs`
/// without reading them (stale values may be anything, a NaN of an earlier failed solve
/// included). A macro, not a function taking a closure: the loops must stay plain
/// `for m in 0..h` over slices of length `h` to vectorize.
macro_rules! store {
    ($out:ident, $start:expr, $wk:expr, |$m:ident| $gs:expr) => {{
        let (w, keep) = $wk;
        let h = $out.len();
        if $start == Start::Warm {
            for $m in 0..h {
                $out[$m] = over($out[$m], $gs, w, keep);
            }
        } else {
            for $m in 0..h {
                $out[$m] = w * $gs;
            }
        }
    }};
}

/// `(ω, 1 − ω)` in `T`.
#[inline(always)]
fn weights<T: Real>(omega: f32) -> (T, T) {
    (T::from_f32(omega), T::from_f32(1.0 - omega))
}

/// One red (`c = 0`) or black (`1`) half-sweep of red–black SOR (Gauss–Seidel at `ω = 1`):
/// every cell of colour `c` ← `(1 − ω) x + ω (b + Σ neighbours) / diag` (0 outside the
/// fluid), from the iterate `start` describes.
pub(super) fn half_sweep<T: Real>(
    lev: &Level,
    x: &mut [T],
    b: &[T],
    c: usize,
    start: Start,
    omega: f32,
) {
    let xs = SharedSlice::new(x);
    par_lines(lev, |lines| {
        for l in lines {
            // SAFETY: each stored line of colour `c` is written by one thread only, and this
            // half-sweep reads nothing of colour `c` but `b` and the line it writes.
            unsafe { sweep_line(lev, &xs, b, l, c, start, omega) };
        }
    });
}

/// The half-sweep of colour `c` on grid line `l` (see [`half_sweep`]), `x` both colours.
///
/// # Safety
/// No other thread may access colour `c` of line `l`, nor write the other colour's lines this
/// one reads (the same line, its y neighbours and, in 3D, its z neighbours) meanwhile.
#[inline(always)]
unsafe fn sweep_line<T: Real>(
    lev: &Level,
    xs: &SharedSlice<T>,
    b: &[T],
    l: usize,
    c: usize,
    start: Start,
    omega: f32,
) {
    let lay = lev.lay;
    let (size, h) = (lay.size, lay.h());
    let (o, s) = (lay.line(l), lay.shift(l, c));
    let (own, other) = (c * size + o, (1 - c) * size + o);
    // SAFETY: the caller's contract (the range lies inside the colour).
    let out = unsafe { xs.slice_mut(own..own + h) };
    let (bl, cl) = (&b[own..own + h], &lev.code[own..own + h]);
    let wk = weights::<T>(omega);
    if let Some(faces) = lev.faces.as_deref().filter(|f| f.on(c, l)) {
        let f = LineFaces::new(faces, lay, c, o, s);
        if start == Start::Zero {
            store!(out, start, wk, |m| relax_weighted(bl[m], f.diag[m]));
            return;
        }
        // SAFETY: the caller's contract.
        let [xl, xr, yl, yh, zl, zh] = unsafe { neighbour_lines(lay, xs, other, s) };
        let unit = T::from_f32(1.0 / SCALE);
        if lay.three {
            store!(out, start, wk, |m| relax_weighted(
                bl[m] + f.flux3(m, [xl, xr, yl, yh, zl, zh]) * unit,
                f.diag[m]
            ));
        } else {
            store!(out, start, wk, |m| relax_weighted(
                bl[m] + f.flux2(m, [xl, xr, yl, yh]) * unit,
                f.diag[m]
            ));
        }
        return;
    }
    if start == Start::Zero {
        store!(out, start, wk, |m| relax(bl[m], cl[m]));
        return;
    }
    // SAFETY: the caller's contract.
    let [xl, xr, yl, yh, zl, zh] = unsafe { neighbour_lines(lay, xs, other, s) };
    if lay.three {
        store!(out, start, wk, |m| relax(
            bl[m] + xl[m] + xr[m] + yl[m] + yh[m] + zl[m] + zh[m],
            cl[m]
        ));
    } else {
        store!(out, start, wk, |m| relax(
            bl[m] + xl[m] + xr[m] + yl[m] + yh[m],
            cl[m]
        ));
    }
}

/// SOR updates (weight `omega`) of the boundary cells of colour `c` (independent of each
/// other) in the level's active planes.
pub(super) fn gs_cells<T: Real>(lev: &Level, x: &mut [T], b: &[T], c: usize, omega: f32) {
    let active = lev.boundary_active[c].clone();
    let xs = SharedSlice::new(x);
    // SAFETY: the cells of one colour are distinct and each updated by one thread; nothing
    // else of colour `c` is accessed, and the other colour is not written.
    let update = |r: std::ops::Range<usize>| unsafe { gs_range(lev, &xs, b, c, r, omega) };
    if active.len() < 8192 {
        update(active);
    } else {
        (0..active.len().div_ceil(4096))
            .into_par_iter()
            .for_each(|i| {
                update(active.start + 4096 * i..(active.start + 4096 * (i + 1)).min(active.end))
            });
    }
}

/// The boundary sweep of colour `c` on grid lines `lines`, whose boundary cells are the
/// entries `range` of the list: on a level of unit coefficients, a whole-line update
/// ([`boundary_line`]) where they are dense (an eighth of the line or more), else cell by cell
/// ([`gs_range`]) — the same arithmetic either way.
///
/// # Safety
/// As [`gs_range`], for the lines' cells of colour `c`.
unsafe fn boundary_lines<T: Real>(
    lev: &Level,
    xs: &SharedSlice<T>,
    b: &[T],
    c: usize,
    lines: std::ops::Range<usize>,
    range: std::ops::Range<usize>,
    omega: f32,
) {
    let cells = &lev.boundary[c];
    let (mut i, end, h) = (range.start, range.end, lev.lay.h());
    for l in lines {
        let last = lev.lay.line(l) + h;
        let mut j = i;
        while j < end && boundary_entry(cells[j]).0 < last {
            j += 1;
        }
        // SAFETY: the caller's contract.
        if 8 * (j - i) >= h && lev.faces.is_none() {
            unsafe { boundary_line(lev, xs, b, l, c, omega) };
        } else if j > i {
            unsafe { gs_range(lev, xs, b, c, i..j, omega) };
        }
        i = j;
    }
}

/// SOR updates (weight `omega`) of the boundary cells `range` of the list of colour `c`.
///
/// # Safety
/// No other thread may access those cells, nor write their neighbours (other colour),
/// meanwhile.
unsafe fn gs_range<T: Real>(
    lev: &Level,
    xs: &SharedSlice<T>,
    b: &[T],
    c: usize,
    range: std::ops::Range<usize>,
    omega: f32,
) {
    let lay = lev.lay;
    let (size, dy, dz) = (lay.size, lay.w, lay.dz());
    let (own, other) = (c * size, (1 - c) * size);
    let (bc, cc) = (&b[own..own + size], &lev.code[own..own + size]);
    let cells = &lev.boundary[c][range.clone()];
    let (Some(&first), Some(&last)) = (cells.first(), cells.last()) else {
        return;
    };
    // The list is ascending: its first and last cells bound every cell of the range, and the
    // bounds keep every neighbour inside the colours (ghost slots surround each cell). One
    // test per range instead of one per cell (a boundary update is a few dozen instructions).
    let (lo, hi) = (boundary_entry(first).0, boundary_entry(last).0);
    assert!(lo <= hi && lo >= dz && lo > dy && hi + dz < size && hi + dy < size);
    // SAFETY (all reads and writes below): in bounds by the assertion; exclusivity is the
    // caller's contract.
    let o = |i: usize| unsafe { xs.get(other + i) };
    let (w, keep) = weights::<T>(omega);
    if let Some(faces) = &lev.faces {
        let records = &faces.boundary[c][range];
        for (&e, r) in cells.iter().zip(records) {
            let (q, s) = boundary_entry(e);
            let g = |i: usize| T::from_f32(r[i]);
            let mut sum = unsafe { *bc.get_unchecked(q) }
                + g(0) * o(q + s - 1)
                + g(1) * o(q + s)
                + g(2) * o(q - dy)
                + g(3) * o(q + dy);
            if lay.three {
                sum = sum + g(4) * o(q - dz) + g(5) * o(q + dz);
            }
            unsafe {
                xs.set(
                    own + q,
                    over(xs.get(own + q), relax_weighted(sum, r[6]), w, keep),
                )
            };
        }
        return;
    }
    // Scalar updates: multiplying by a tabled reciprocal beats a division here. The
    // reciprocals are [`recip`]'s, as in [`boundary_line`].
    let inv: [T; 8] = std::array::from_fn(|d| {
        if d == 0 || d > 6 {
            T::default()
        } else {
            recip(d as u8)
        }
    });
    for &e in cells {
        let (q, s) = boundary_entry(e);
        let (bq, code) = unsafe { (*bc.get_unchecked(q), *cc.get_unchecked(q)) };
        let mut sum = bq + o(q + s - 1) + o(q + s) + o(q - dy) + o(q + dy);
        if lay.three {
            sum = sum + o(q - dz) + o(q + dz);
        }
        unsafe {
            xs.set(
                own + q,
                over(xs.get(own + q), sum * inv[(code & 7) as usize], w, keep),
            )
        };
    }
}

/// `1 / d` in `T`, for a diagonal count `d ≥ 1` (vectorizes).
#[inline(always)]
fn recip<T: Real>(d: u8) -> T {
    T::from_count(1) / T::from_count(d)
}

/// The boundary sweep of colour `c` on grid line `l` of a unit-coefficient level, as a whole-line
/// update that keeps the cells without [`BOUNDARY_BIT`]: where a line holds many boundary
/// cells (a porous medium), cheaper than visiting them one by one, and the same arithmetic
/// as [`gs_range`].
///
/// # Safety
/// As [`sweep_line`].
#[inline(always)]
unsafe fn boundary_line<T: Real>(
    lev: &Level,
    xs: &SharedSlice<T>,
    b: &[T],
    l: usize,
    c: usize,
    omega: f32,
) {
    let lay = lev.lay;
    let (size, h) = (lay.size, lay.h());
    let (o, s) = (lay.line(l), lay.shift(l, c));
    let (own, other) = (c * size + o, (1 - c) * size + o);
    // SAFETY: the caller's contract, as in `sweep_line`.
    let out = unsafe { xs.slice_mut(own..own + h) };
    let [xl, xr, yl, yh, zl, zh] = unsafe { neighbour_lines(lay, xs, other, s) };
    let (bl, cl) = (&b[own..own + h], &lev.code[own..own + h]);
    let (w, keep) = weights::<T>(omega);
    let update = |m: usize, sum: T, old: T| {
        let d = cl[m] & 7;
        let v = if d != 0 {
            sum * recip::<T>(d.max(1))
        } else {
            T::default()
        };
        let v = over(old, v, w, keep);
        if cl[m] & BOUNDARY_BIT != 0 { v } else { old }
    };
    if lay.three {
        for m in 0..h {
            let sum = bl[m] + xl[m] + xr[m] + yl[m] + yh[m] + zl[m] + zh[m];
            out[m] = update(m, sum, out[m]);
        }
    } else {
        for m in 0..h {
            out[m] = update(m, bl[m] + xl[m] + xr[m] + yl[m] + yh[m], out[m]);
        }
    }
}

/// One stage of a [`wave`]: an SOR half-sweep (weight `omega`) of `colour` over the whole
/// level (from the iterate `start` describes) or over its boundary cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stage {
    /// A whole-level half-sweep ([`half_sweep`]).
    Sweep {
        colour: usize,
        start: Start,
        omega: f32,
    },
    /// A half-sweep over the boundary cells ([`gs_cells`]).
    Boundary { colour: usize, omega: f32 },
}

/// `chunks + 1` plane cuts (first 0, last the plane count) that give each chunk of a [`wave`]
/// about the same work — whole-level stages cost per slot, boundary stages per boundary cell
/// (a porous medium's grains make some planes several times dearer than others) — with at
/// least `2 · stages + 1` planes per chunk; equal widths if the balanced cuts are too close
/// (the caller makes sure `chunks` equal widths are wide enough).
fn balanced_cuts(
    lev: &Level,
    stages: &[Stage],
    start: &[Vec<usize>; 2],
    chunks: usize,
) -> Vec<usize> {
    let planes = lev.planes();
    let even: Vec<usize> = (0..=chunks).map(|i| i * planes / chunks).collect();
    let slots = lev.plane_slots(0).len() as f64;
    let full = stages
        .iter()
        .filter(|s| matches!(s, Stage::Sweep { .. }))
        .count() as f64;
    let cost = |k: usize| {
        let cells: usize = (0..2)
            .filter(|&c| !start[c].is_empty())
            .map(|c| start[c][k + 1] - start[c][k])
            .sum();
        // Both colours' slots per whole-level stage pair; a boundary cell about eight slots.
        full * slots + 8.0 * cells as f64 * (stages.len() as f64 - full) / 2.0
    };
    let total: f64 = (0..planes).map(cost).sum();
    let mut cuts = vec![0];
    let mut acc = 0.0;
    for k in 0..planes {
        if acc >= cuts.len() as f64 * total / chunks as f64 && cuts.len() < chunks {
            cuts.push(k);
        }
        acc += cost(k);
    }
    cuts.push(planes);
    // Each chunk but the last also fills in the triangle at its upper cut (about d − 1
    // planes' worth of stages more than it saves at that cut): cuts lowered by (d − 1) / 2.
    let shift = (stages.len() - 1) / 2;
    let wide = |cuts: &[usize]| {
        cuts.len() == chunks + 1 && cuts.windows(2).all(|w| w[1] > w[0] + 2 * stages.len())
    };
    for mut c in [cuts, even] {
        for v in &mut c[1..chunks] {
            *v = v.saturating_sub(shift);
        }
        if wide(&c) {
            return c;
        }
    }
    (0..=chunks).map(|i| i * planes / chunks).collect()
}

/// Runs `stages` (half-sweeps in order) in one pass over the level: a wavefront over the
/// planes of the slab axis, stage `j` on plane `t − j` at step `t`, so that each plane's `x`,
/// `b` and codes are loaded from memory once for all stages and reused from cache (temporal
/// blocking). Every stage reads only the other colour on the plane and its two neighbours, so
/// the result is that of the half-sweeps one after another, bit for bit.
///
/// In parallel, the planes are cut into chunks of at least `2 · stages + 1` planes (balanced
/// by work, [`balanced_cuts`]): each chunk runs its wave on a trapezoid (stage `j` stops `j`
/// planes short of each cut), then fills in the triangle missing around its upper cut, stage
/// by stage, as soon as the chunk above has run its first `2 · stages` steps (a progress
/// counter; the chunks are started highest first, so the wait always ends). Cost: the
/// half-sweeps' arithmetic; memory traffic of about one read of `x`, `b` and the codes and one
/// write of `x`. Only on a level whose active planes are all of its planes.
pub(super) fn wave<T: Real>(lev: &Level, x: &mut [T], b: &[T], stages: &[Stage]) {
    let planes = lev.planes();
    debug_assert_eq!(lev.active, 0..planes);
    let (d, per) = (stages.len(), lev.plane_lines());
    if d == 0 {
        return;
    }
    // Boundary cells of each colour per plane: entries `start[c][k]..start[c][k + 1]`.
    let plane_len = lev.plane_slots(0).len();
    let start: [Vec<usize>; 2] = [0, 1].map(|c| {
        let cells = &lev.boundary[c];
        let boundary = |s: &Stage| matches!(s, Stage::Boundary { colour, .. } if *colour == c);
        if !stages.iter().any(boundary) {
            return Vec::new();
        }
        (0..=planes)
            .map(|k| {
                let first = (k + 1) * plane_len;
                cells.partition_point(|&e| boundary_entry(e).0 < first)
            })
            .collect()
    });
    let xs = SharedSlice::new(x);
    // SAFETY (for every call): the wave's order runs a stage on a plane only after the stage
    // before it on the neighbouring planes, and before the stage after it there; concurrent
    // chunks and triangles stay more than one plane apart at every stage.
    let run = |j: usize, k: usize| match stages[j] {
        Stage::Sweep {
            colour,
            start: from,
            omega,
        } => {
            for l in k * per..(k + 1) * per {
                unsafe { sweep_line(lev, &xs, b, l, colour, from, omega) };
            }
        }
        Stage::Boundary { colour, omega } => {
            let (s, lines) = (&start[colour], k * per..(k + 1) * per);
            unsafe { boundary_lines(lev, &xs, b, colour, lines, s[k]..s[k + 1], omega) };
        }
    };
    let chunks = if lev.len() < SERIAL_BELOW {
        1
    } else {
        (planes / (2 * d + 1))
            .min(rayon::current_num_threads())
            .max(1)
    };
    let cuts = balanced_cuts(lev, stages, &start, chunks);
    // Steps of its wave each chunk has completed (its trapezoid's step t, counted from 1).
    let done: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
    // Chunk i: its trapezoid — stage j on [a + j, e − j), whole at the domain's ends — in
    // wave order; then the triangle left at its upper cut e (stage j on [e − j, e + j),
    // stages in order), once chunk i + 1 has run every step that reads or writes it.
    let chunk = |i: usize| {
        let (a, e) = (cuts[i], cuts[i + 1]);
        let lo = |j: usize| if a > 0 { a + j } else { a };
        let hi = |j: usize| if e < planes { e - j } else { e };
        for t in lo(0)..hi(0) + d - 1 {
            for j in 0..d.min(t + 1) {
                let k = t - j;
                if k >= lo(j) && k < hi(j) {
                    run(j, k);
                }
            }
            done[i].store(t + 1 - lo(0), Ordering::Release);
        }
        if e < planes {
            // Chunk i + 1 writes or reads the triangle's planes up to its step 2d.
            let need = (2 * d).min(cuts[i + 2] - e + d - 1);
            let mut spins = 0u32;
            while done[i + 1].load(Ordering::Acquire) < need {
                spins += 1;
                if spins < 1 << 10 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            for j in 1..d {
                for k in e - j..e + j {
                    run(j, k);
                }
            }
        }
    };
    // Nested joins with the highest chunk first: chunk i + 1 has always started (here or on
    // another thread) before chunk i can wait for it.
    fn chain(from: usize, to: usize, chunk: &(impl Fn(usize) + Sync)) {
        if from + 1 == to {
            chunk(from);
        } else {
            rayon::join(|| chunk(to - 1), || chain(from, to - 1, chunk));
        }
    }
    chain(0, chunks, &chunk);
}

/// `r ← b − A x` on the fluid cells (0 elsewhere), written in natural grid order (the
/// restriction's input); `x` and `b` in the split layout, `x` zero outside the fluid.
#[cfg(test)]
pub(super) fn residual<T: Real>(lev: &Level, x: &[T], b: &[T], r: &mut [T]) {
    let lay = lev.lay;
    par_line_chunks(lev, r, |l0, rb| {
        let mut tmp = vec![T::default(); 2 * lay.h()];
        for (q, rl) in rb.chunks_mut(lay.nx).enumerate() {
            residual_line(lev, x, b, l0 + q, rl, &mut tmp);
        }
    });
}

/// `r ← b − A x` on grid line `l` into `rl` (natural order, `nx` entries; 0 off the fluid),
/// with `tmp` (`2 h` entries) as scratch.
#[inline]
pub(super) fn residual_line<T: Real>(
    lev: &Level,
    x: &[T],
    b: &[T],
    l: usize,
    rl: &mut [T],
    tmp: &mut [T],
) {
    let lay = lev.lay;
    let (size, h, dy, dz) = (lay.size, lay.h(), lay.w, lay.dz());
    let o = lay.line(l);
    let tmp = &mut tmp[..2 * h];
    for c in 0..2 {
        let s = lay.shift(l, c);
        let tmp = &mut tmp[c * h..][..h];
        let (own, other) = (&x[c * size..][o..o + h], &x[(1 - c) * size..][..size]);
        let (bl, cl) = (&b[c * size..][o..o + h], &lev.code[c * size..][o..o + h]);
        let (xl, xr) = (&other[o + s - 1..][..h], &other[o + s..][..h]);
        let (yl, yh) = (&other[o - dy..][..h], &other[o + dy..][..h]);
        let value = |m: usize, diag: T, sum: T| {
            let v = bl[m] - (diag * own[m] - sum);
            if cl[m] & FLUID_BIT != 0 {
                v
            } else {
                T::default()
            }
        };
        // Separate loops for 3D and 2D: a test inside the loop keeps it from vectorizing.
        let z = lay
            .three
            .then(|| (&other[o - dz..][..h], &other[o + dz..][..h]));
        if let Some(faces) = lev.faces.as_deref().filter(|f| f.on(c, l)) {
            let f = LineFaces::new(faces, lay, c, o, s);
            let unit = T::from_f32(1.0 / SCALE);
            let diag = |m: usize| T::from_f32(f.diag[m]);
            if let Some((zl, zh)) = z {
                for m in 0..h {
                    tmp[m] = value(m, diag(m), f.flux3(m, [xl, xr, yl, yh, zl, zh]) * unit);
                }
            } else {
                for m in 0..h {
                    tmp[m] = value(m, diag(m), f.flux2(m, [xl, xr, yl, yh]) * unit);
                }
            }
        } else {
            let count = |m: usize| T::from_count(cl[m] & 7);
            if let Some((zl, zh)) = z {
                for m in 0..h {
                    tmp[m] = value(m, count(m), xl[m] + xr[m] + yl[m] + yh[m] + zl[m] + zh[m]);
                }
            } else {
                for m in 0..h {
                    tmp[m] = value(m, count(m), xl[m] + xr[m] + yl[m] + yh[m]);
                }
            }
        }
    }
    let (t0, t1) = tmp.split_at(h);
    let (even, odd) = if lay.shift(l, 0) == 0 {
        (t0, t1)
    } else {
        (t1, t0)
    };
    interleave(even, odd, rl);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{CellFlag, MacGrid, Walls};
    use crate::poisson::PoissonProblem;

    /// The line-by-line boundary sweep of the wavefront (whole-line updates where boundary
    /// cells are dense) against the cell-by-cell one, bit for bit, on porous grids with many boundary cells,
    /// 3D and 2D, in f32 and f64.
    #[test]
    fn boundary_lines_are_the_cell_by_cell_sweep() {
        for shape in [vec![40, 36, 44], vec![300, 280]] {
            let dim = shape.len();
            let mut g = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
            g.paint(CellFlag::Solid, |p| {
                (p[0] * 0.9).sin() + (p[1] * 1.3).cos() + (p[2] * 0.7).sin() > 1.0
            });
            let lev = Level::from_problem(&PoissonProblem::new(g).unwrap());
            assert!(lev.boundary[0].len() >= 8192);
            fn check<T: Real + PartialEq + std::fmt::Debug>(lev: &Level, omega: f32) {
                let v = |q: usize, s: usize| {
                    T::from_f64(((q * 2654435761 + s) % 1000) as f64 / 500.0 - 1.0)
                };
                let x: Vec<T> = (0..lev.slots()).map(|q| v(q, 1)).collect();
                let b: Vec<T> = (0..lev.slots()).map(|q| v(q, 7)).collect();
                for c in 0..2 {
                    let (mut x1, mut x2) = (x.clone(), x.clone());
                    let (lines, all) = (0..lev.lay.lines(), 0..lev.boundary[c].len());
                    let xs = SharedSlice::new(&mut x1);
                    unsafe { boundary_lines(lev, &xs, &b, c, lines, all.clone(), omega) };
                    let xs = SharedSlice::new(&mut x2);
                    unsafe { gs_range(lev, &xs, &b, c, all, omega) };
                    assert!(x1 == x2, "colour {c}");
                    assert!(x1 != x, "colour {c}");
                }
            }
            // Gauss–Seidel and over-relaxed.
            for omega in [1.0, 1.3] {
                check::<f32>(&lev, omega);
                check::<f64>(&lev, omega);
            }
        }
    }
}
