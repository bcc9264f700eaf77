//! Grid transfers between levels: cell-centred trilinear prolongation `P` (added to the fine
//! iterate) and the restriction `R = (4 / 2^d) Pᵀ`, with reflection at solid walls and zero
//! beyond air walls. Iterates and right-hand sides are in the split layout; the residual the
//! restriction reads is in natural grid order.

use super::Real;
#[cfg(test)]
use super::hierarchy::par_lines;
use super::hierarchy::{FLUID_BIT, Level, SERIAL_BELOW, deinterleave, interleave};
use super::smooth::residual_line;
use rayon::prelude::*;
use ritz_linalg::schedule::SharedSlice;

/// The two coarse cells nearest to fine cell `f` along one axis, with trilinear weights ¾ and
/// ¼. Beyond the domain the ¼ goes to the nearest cell too at a solid (Neumann) wall —
/// reflection — and is dropped at an air (Dirichlet, zero) wall.
#[inline(always)]
pub(super) fn parents(f: usize, nc: usize, solid: [bool; 2]) -> [(usize, f64); 2] {
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
pub(super) fn children(ci: usize, nf: usize, nc: usize, solid: [bool; 2]) -> [(usize, f64); 4] {
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

/// Coarse lines (as `(line index, weight)`) that fine line `(j, k)` interpolates from: the
/// first `count` entries of the array (at most 4; no allocation).
pub(super) fn parent_lines(fine: &Level, coarse: &Level, l: usize) -> ([(usize, f64); 4], usize) {
    let [_, ny, _] = fine.dims;
    let [_, cy, cz] = coarse.dims;
    let (j, k) = (l % ny, l / ny);
    let pj = parents(j, cy, fine.solid_wall[1]);
    let pk = if fine.dim == 3 {
        parents(k, cz, fine.solid_wall[2])
    } else {
        [(0, 1.0), (0, 0.0)]
    };
    let mut out = [(0usize, 0.0f64); 4];
    let mut count = 0;
    for &(kk, wk) in &pk {
        for &(jj, wj) in &pj {
            if wk * wj > 0.0 {
                out[count] = (jj + cy * kk, wk * wj);
                count += 1;
            }
        }
    }
    (out, count)
}

/// Grid line `l` of a split-layout vector in natural order, into `row` (`nx` entries).
#[inline(always)]
fn natural_line<T: Real>(lev: &Level, v: &[T], l: usize, row: &mut [T]) {
    let lay = lev.lay;
    let (oe, oo) = lay.parity_lines(l);
    interleave(
        &v[oe..oe + lay.nx.div_ceil(2)],
        &v[oo..oo + lay.nx / 2],
        row,
    );
}

/// `x_f += α P x_c` on fine fluid cells (both in the split layout), fine slabs in order: the
/// (up to three) coarse slabs they interpolate from are put in natural order once, into a
/// ring (`ring`: [`prolong_ring_len`] entries) that stays in cache; per fine line, the
/// weighted sum of its (up to 4) parent lines from the ring, then the ¾ / ¼ interpolation along
/// x, which in the split layout is the same for every cell of a stored colour line (fine
/// `i = 2m + s` has parents `m` and `m − 1 + 2s`) and vectorizes; ghost values beyond the
/// coarse line carry the wall condition ([`parents`]).
pub(super) fn prolong_add<T: Real>(
    coarse: &Level,
    fine: &Level,
    xc: &[T],
    ring: &mut [T],
    xf: &mut [T],
    alpha: f32,
) {
    let lay = fine.lay;
    let cx = coarse.dims[0];
    let (per_f, per_c) = (fine.plane_lines(), coarse.plane_lines());
    let ns_c = coarse.planes();
    let slab_len = per_c * cx;
    let item = fine_slabs_per_item(fine);
    let outer_wall = fine.solid_wall[if fine.dim == 3 { 2 } else { 1 }];
    let [lo_solid, hi_solid] = fine.solid_wall[0];
    let (near_w, far_w) = (T::from_f32(0.75 * alpha), T::from_f32(0.25 * alpha));
    let xs = SharedSlice::new(xf);
    let body = |(it, ring): (usize, &mut [T])| {
        let mut held = [usize::MAX; 3];
        // tmp[1 + i] = interpolated coarse value i; tmp[0] and tmp[cx + 1] ghosts.
        let mut tmp = vec![T::default(); cx + 2];
        let first = fine.active.start;
        for fs in first + it * item..(first + (it + 1) * item).min(fine.active.end) {
            for (cs, w) in parents(fs, ns_c, outer_wall) {
                if w > 0.0 && held[cs % 3] != cs {
                    let slab = &mut ring[(cs % 3) * slab_len..][..slab_len];
                    for (q, row) in slab.chunks_mut(cx).enumerate() {
                        natural_line(coarse, xc, cs * per_c + q, row);
                    }
                    held[cs % 3] = cs;
                }
            }
            let ring = &*ring;
            for l in fs * per_f..(fs + 1) * per_f {
                tmp.fill(T::default());
                let (parents, count) = parent_lines(fine, coarse, l);
                for &(cl, w) in &parents[..count] {
                    let (cs, q) = (cl / per_c, cl % per_c);
                    let row = &ring[(cs % 3) * slab_len + q * cx..][..cx];
                    let w = T::from_f64(w);
                    for (t, &v) in tmp[1..=cx].iter_mut().zip(row) {
                        *t = *t + w * v;
                    }
                }
                tmp[0] = if lo_solid { tmp[1] } else { T::default() };
                tmp[cx + 1] = if hi_solid { tmp[cx] } else { T::default() };
                for c in 0..2 {
                    let (s, o, n) = (lay.shift(l, c), c * lay.size + lay.line(l), lay.count(l, c));
                    // SAFETY: each fine line's slots are written by one thread only.
                    let out = unsafe { xs.slice_mut(o..o + n) };
                    let (near, far) = (&tmp[1..1 + n], &tmp[2 * s..2 * s + n]);
                    let code = &fine.code[o..o + n];
                    for m in 0..n {
                        let v = out[m] + (near_w * near[m] + far_w * far[m]);
                        out[m] = if code[m] & FLUID_BIT != 0 { v } else { out[m] };
                    }
                }
            }
        }
    };
    if fine.len() < SERIAL_BELOW {
        ring.chunks_mut(3 * slab_len).enumerate().for_each(body);
    } else {
        ring.par_chunks_mut(3 * slab_len).enumerate().for_each(body);
    }
}

/// Fine slabs per parallel work item of [`prolong_add`].
fn fine_slabs_per_item(fine: &Level) -> usize {
    fine.planes().div_ceil(8).max(4)
}

/// Scratch entries [`prolong_add`] needs from `coarse` to `fine`: per work item, a ring of
/// three coarse slabs in natural order.
pub(super) fn prolong_ring_len(coarse: &Level, fine: &Level) -> usize {
    let items = fine.planes().div_ceil(fine_slabs_per_item(fine));
    items * 3 * coarse.plane_lines() * coarse.dims[0]
}

/// `b_c = (4 / 2^d) (Pᵀ r_f)` on coarse line `l` (0 off the fluid) into the split layout: the
/// weighted sum of its (up to 16) child fine lines, `row(slab, line in slab)` in natural order,
/// into `tmp` (`nx + 3` entries: the line at `1..=nx` between ghost entries), then the
/// transposed interpolation along x, `c_i = ¼ t_{2i−1} + ¾ t_{2i} + ¾ t_{2i+1} + ¼ t_{2i+2}`,
/// with `cn` ([`restrict_scratch_len`] entries) as scratch — both vectorized; the ghosts carry
/// the walls as in
/// [`children`]: beyond a solid wall the ¼ folds back onto the last cell, beyond an air wall
/// (or past an odd line's end) it is dropped.
#[inline]
fn restrict_line<'r, T: Real + 'r>(
    fine: &Level,
    coarse: &Level,
    l: usize,
    row: impl Fn(usize, usize) -> &'r [T],
    tmp: &mut [T],
    cn: &mut [T],
    bs: &SharedSlice<T>,
) {
    let [nx, ny, nz] = fine.dims;
    let [cx, cy, cz] = coarse.dims;
    let lay = coarse.lay;
    let three = fine.dim == 3;
    let scale = if three { 0.5 } else { 1.0 };
    // Children along the slab axis, and (3D) along y within a slab.
    let (outer, inner) = if three {
        let (j, k) = (l % cy, l / cy);
        (
            children(k, nz, cz, fine.solid_wall[2]),
            children(j, ny, cy, fine.solid_wall[1]),
        )
    } else {
        (
            children(l, ny, cy, fine.solid_wall[1]),
            [(0, 1.0), (0, 0.0), (0, 0.0), (0, 0.0)],
        )
    };
    let tmp = &mut tmp[..nx + 3];
    tmp.fill(T::default());
    for &(fs, ws) in &outer {
        for &(fj, wj) in &inner {
            let w = ws * wj;
            if w > 0.0 {
                let w = T::from_f64(scale * w);
                for (t, &v) in tmp[1..=nx].iter_mut().zip(&row(fs, fj)[..nx]) {
                    *t = *t + w * v;
                }
            }
        }
    }
    let [lo_solid, hi_solid] = fine.solid_wall[0];
    tmp[0] = if lo_solid { tmp[1] } else { T::default() };
    tmp[nx + 1] = if hi_solid && nx % 2 == 0 {
        tmp[nx]
    } else {
        T::default()
    };
    // Unit-stride loops only (a stride-2 loop runs scalar): `tmp` split into its even and
    // odd entries `e`, `o`, then `c_i = ¼ e_i + ¾ o_i + ¾ e_{i+1} + ¼ o_{i+1}`, then `c` split
    // by colour.
    let (eo, rest) = cn[..restrict_scratch_len(cx)].split_at_mut(2 * (cx + 1));
    let (e, o) = eo.split_at_mut(cx + 1);
    deinterleave(&tmp[..2 * (cx + 1)], e, o);
    let (c_all, rest) = rest.split_at_mut(cx);
    let (q, h) = (T::from_f64(0.25), T::from_f64(0.75));
    for (i, c) in c_all.iter_mut().enumerate() {
        *c = q * e[i] + h * o[i] + h * e[i + 1] + q * o[i + 1];
    }
    let (even, odd) = rest.split_at_mut(cx.div_ceil(2));
    deinterleave(c_all, even, odd);
    for c in 0..2 {
        let (s, o, n) = (lay.shift(l, c), c * lay.size + lay.line(l), lay.count(l, c));
        let row = if s == 0 { &*even } else { &*odd };
        // SAFETY: each coarse line's slots are written by one thread only.
        let out = unsafe { bs.slice_mut(o..o + n) };
        for ((b, &code), &v) in out.iter_mut().zip(&coarse.code[o..o + n]).zip(row) {
            *b = if code & FLUID_BIT != 0 {
                v
            } else {
                T::default()
            };
        }
    }
}

/// Scratch entries [`restrict_line`] needs besides its `tmp` line, for a coarse line of `cx`
/// cells.
fn restrict_scratch_len(cx: usize) -> usize {
    4 * cx + 2
}

/// `b_c = (4 / 2^d) (Pᵀ r_f)` on coarse fluid cells (0 elsewhere), from `r_f` in natural grid
/// order into `b_c` in the split layout: the exact transpose of [`prolong_add`].
#[cfg(test)]
pub(super) fn restrict<T: Real>(fine: &Level, coarse: &Level, rf: &[T], bc: &mut [T]) {
    let (nx, cx) = (fine.dims[0], coarse.dims[0]);
    let per = fine.plane_lines();
    let bs = SharedSlice::new(bc);
    par_lines(coarse, |lines| {
        let (mut tmp, mut cn) = (
            vec![T::default(); nx + 3],
            vec![T::default(); restrict_scratch_len(cx)],
        );
        for l in lines {
            let row = |fs: usize, fj: usize| &rf[(fj + per * fs) * nx..][..nx];
            restrict_line(fine, coarse, l, row, &mut tmp, &mut cn, &bs);
        }
    });
}

/// Coarse slabs per parallel work item of [`residual_restrict`] (each item recomputes the
/// residual of up to two fine slabs its neighbour also needs).
fn coarse_slabs_per_item(coarse: &Level) -> usize {
    coarse.planes().div_ceil(8).max(2)
}

/// Scratch entries [`residual_restrict`] needs for `fine`: per work item, a ring of four
/// fine slabs of residual.
pub(super) fn ring_len(fine: &Level, coarse: &Level) -> usize {
    let items = coarse.planes().div_ceil(coarse_slabs_per_item(coarse));
    items * 4 * fine.plane_lines() * fine.dims[0]
}

/// The residual `r = b − A x` of the fine level restricted to the coarse right-hand side, in
/// one pass: coarse slabs in order, each from the (up to four) fine slabs of residual it
/// needs, computed once into a ring of four slabs (`ring`: [`ring_len`] entries) that stays in
/// cache — the residual never goes to memory. Only the coarse slabs in `planes` (all of them
/// but when the coarse level is split across parts).
pub(super) fn residual_restrict<T: Real>(
    fine: &Level,
    coarse: &Level,
    planes: std::ops::Range<usize>,
    x: &[T],
    b: &[T],
    ring: &mut [T],
    bc: &mut [T],
) {
    let nx = fine.dims[0];
    let (per_f, per_c) = (fine.plane_lines(), coarse.plane_lines());
    let slab_len = per_f * nx;
    let three = fine.dim == 3;
    let (ns_f, ns_c) = (fine.planes(), coarse.planes());
    let item = coarse_slabs_per_item(coarse);
    let bs = SharedSlice::new(bc);
    let body = |(it, ring): (usize, &mut [T])| {
        let mut held = [usize::MAX; 4];
        let (mut tmp, mut cn) = (
            vec![T::default(); nx + 3],
            vec![T::default(); restrict_scratch_len(coarse.dims[0])],
        );
        let mut scratch = vec![T::default(); 2 * fine.lay.h()];
        for kc in planes.start + it * item..(planes.start + (it + 1) * item).min(planes.end) {
            let axis = if three { 2 } else { 1 };
            for (fs, w) in children(kc, ns_f, ns_c, fine.solid_wall[axis]) {
                if w > 0.0 && held[fs % 4] != fs {
                    let slab = &mut ring[(fs % 4) * slab_len..][..slab_len];
                    for (q, rl) in slab.chunks_mut(nx).enumerate() {
                        residual_line(fine, x, b, fs * per_f + q, rl, &mut scratch);
                    }
                    held[fs % 4] = fs;
                }
            }
            let ring = &*ring;
            for l in kc * per_c..(kc + 1) * per_c {
                let row = |fs: usize, fj: usize| &ring[(fs % 4) * slab_len + fj * nx..][..nx];
                restrict_line(fine, coarse, l, row, &mut tmp, &mut cn, &bs);
            }
        }
    };
    if fine.len() < SERIAL_BELOW {
        ring.chunks_mut(4 * slab_len).enumerate().for_each(body);
    } else {
        ring.par_chunks_mut(4 * slab_len).enumerate().for_each(body);
    }
}
