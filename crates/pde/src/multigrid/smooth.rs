//! Smoothing and residuals on one level, in the split [`Layout`](super::hierarchy::Layout):
//! red–black Gauss–Seidel half-sweeps (unit stride: they vectorize and stream only the two
//! colours' halves they touch), the extra sweeps over the cells next to a non-fluid cell, and
//! `r = b − A x`.

use super::Real;
use super::conductance::{Faces, SCALE};
#[cfg(test)]
use super::hierarchy::par_line_chunks;
use super::hierarchy::{FLUID_BIT, Layout, Level, par_lines};
use rayon::prelude::*;
use ritz_linalg::schedule::SharedSlice;

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

/// The two colours of a split vector: (colour `c`, the other one).
#[inline(always)]
fn colours<T>(x: &mut [T], size: usize, c: usize) -> (&mut [T], &[T]) {
    let (lo, hi) = x.split_at_mut(size);
    if c == 0 { (lo, hi) } else { (hi, lo) }
}

/// One red (`c = 0`) or black (`1`) Gauss–Seidel half-sweep: every cell of colour `c` ←
/// `(b + Σ neighbours) / diag` (0 outside the fluid). With `from_zero` the other colour is
/// taken as 0 without being read: the first half-sweep from `x = 0`, which needs no zeroing
/// of `x` beforehand (the next half-sweep overwrites the other colour).
pub(super) fn half_sweep<T: Real>(lev: &Level, x: &mut [T], b: &[T], c: usize, from_zero: bool) {
    let lay = lev.lay;
    let (size, h, dy, dz) = (lay.size, lay.h(), lay.w, lay.dz());
    let (own, other) = colours(x, size, c);
    let (bc, cc) = (&b[c * size..][..size], &lev.code[c * size..][..size]);
    let xs = SharedSlice::new(own);
    par_lines(lev, |lines| {
        for l in lines {
            let (o, s) = (lay.line(l), lay.shift(l, c));
            // SAFETY: each stored line of colour `c` is written by one thread only, and this
            // half-sweep reads nothing of colour `c` but `b`.
            let out = unsafe { xs.slice_mut(o..o + h) };
            let (bl, cl) = (&bc[o..o + h], &cc[o..o + h]);
            if let Some(faces) = lev.faces.as_deref().filter(|f| f.on(c, l)) {
                let f = LineFaces::new(faces, lay, c, o, s);
                if from_zero {
                    for m in 0..h {
                        out[m] = relax_weighted(bl[m], f.diag[m]);
                    }
                    continue;
                }
                let (xl, xr) = (&other[o + s - 1..][..h], &other[o + s..][..h]);
                let (yl, yh) = (&other[o - dy..][..h], &other[o + dy..][..h]);
                let unit = T::from_f32(1.0 / SCALE);
                if lay.three {
                    let (zl, zh) = (&other[o - dz..][..h], &other[o + dz..][..h]);
                    for m in 0..h {
                        let flux = f.flux3(m, [xl, xr, yl, yh, zl, zh]);
                        out[m] = relax_weighted(bl[m] + flux * unit, f.diag[m]);
                    }
                } else {
                    for m in 0..h {
                        let flux = f.flux2(m, [xl, xr, yl, yh]);
                        out[m] = relax_weighted(bl[m] + flux * unit, f.diag[m]);
                    }
                }
                continue;
            }
            if from_zero {
                for m in 0..h {
                    out[m] = relax(bl[m], cl[m]);
                }
                continue;
            }
            let (xl, xr) = (&other[o + s - 1..][..h], &other[o + s..][..h]);
            let (yl, yh) = (&other[o - dy..][..h], &other[o + dy..][..h]);
            if lay.three {
                let (zl, zh) = (&other[o - dz..][..h], &other[o + dz..][..h]);
                for m in 0..h {
                    let sum = bl[m] + xl[m] + xr[m] + yl[m] + yh[m] + zl[m] + zh[m];
                    out[m] = relax(sum, cl[m]);
                }
            } else {
                for m in 0..h {
                    out[m] = relax(bl[m] + xl[m] + xr[m] + yl[m] + yh[m], cl[m]);
                }
            }
        }
    });
}

/// Gauss–Seidel updates of the boundary cells of colour `c` (independent of each other) in
/// the level's active planes.
pub(super) fn gs_cells<T: Real>(lev: &Level, x: &mut [T], b: &[T], c: usize) {
    let lay = lev.lay;
    let (size, dy, dz) = (lay.size, lay.w, lay.dz());
    let (own, other) = colours(x, size, c);
    let (bc, cc) = (&b[c * size..][..size], &lev.code[c * size..][..size]);
    let xs = SharedSlice::new(own);
    // Scalar updates: multiplying by a tabled reciprocal beats a division here.
    let inv: [T; 8] = std::array::from_fn(|d| {
        if d == 0 || d > 6 {
            T::default()
        } else {
            T::from_f64(1.0 / d as f64)
        }
    });
    let active = lev.boundary_active[c].clone();
    let cells = &lev.boundary[c][active.clone()];
    if let Some(faces) = &lev.faces {
        let records = &faces.boundary[c][active];
        let update = |(chunk, recs): (&[u32], &[[f32; 8]])| {
            for (&e, r) in chunk.iter().zip(recs) {
                let (q, s) = ((e & 0x7fff_ffff) as usize, (e >> 31) as usize);
                assert!(q + dz < size && q >= dz && q + dy < size && q > dy);
                let w = |i: usize| T::from_f32(r[i]);
                // SAFETY: as in the unit-coefficient sweep below.
                unsafe {
                    let o = |i: usize| *other.get_unchecked(i);
                    let mut sum = *bc.get_unchecked(q)
                        + w(0) * o(q + s - 1)
                        + w(1) * o(q + s)
                        + w(2) * o(q - dy)
                        + w(3) * o(q + dy);
                    if lay.three {
                        sum = sum + w(4) * o(q - dz) + w(5) * o(q + dz);
                    }
                    xs.set(q, relax_weighted(sum, r[6]));
                }
            }
        };
        if cells.len() < 8192 {
            update((cells, records));
        } else {
            cells
                .par_chunks(4096)
                .zip(records.par_chunks(4096))
                .for_each(update);
        }
        return;
    }
    let update = |chunk: &[u32]| {
        for &e in chunk {
            let (q, s) = ((e & 0x7fff_ffff) as usize, (e >> 31) as usize);
            assert!(q + dz < size && q >= dz && q + dy < size && q > dy);
            // SAFETY: the assertion keeps every index in bounds (ghost slots surround each
            // cell); the cells of one colour are distinct and each updated by one thread, and
            // nothing else of colour `c` is accessed.
            unsafe {
                let o = |i: usize| *other.get_unchecked(i);
                let mut sum =
                    *bc.get_unchecked(q) + o(q + s - 1) + o(q + s) + o(q - dy) + o(q + dy);
                if lay.three {
                    sum = sum + o(q - dz) + o(q + dz);
                }
                xs.set(q, sum * inv[(*cc.get_unchecked(q) & 7) as usize]);
            }
        }
    };
    if cells.len() < 8192 {
        update(cells);
    } else {
        cells.par_chunks(4096).for_each(update);
    }
}

/// `r ← b − A x` on the fluid cells (0 elsewhere), written in natural grid order (the
/// restriction's input); `x` and `b` in the split layout, `x` zero outside the fluid.
#[cfg(test)]
pub(super) fn residual<T: Real>(lev: &Level, x: &[T], b: &[T], r: &mut [T]) {
    let lay = lev.lay;
    par_line_chunks(lev, r, |l0, rb| {
        let mut tmp = vec![T::default(); lay.h()];
        for (q, rl) in rb.chunks_mut(lay.nx).enumerate() {
            residual_line(lev, x, b, l0 + q, rl, &mut tmp);
        }
    });
}

/// `r ← b − A x` on grid line `l` into `rl` (natural order, `nx` entries; 0 off the fluid),
/// with `tmp` (`h` entries) as scratch.
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
    let tmp = &mut tmp[..h];
    for c in 0..2 {
        let s = lay.shift(l, c);
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
        for m in 0..lay.count(l, c) {
            rl[2 * m + s] = tmp[m];
        }
    }
}
