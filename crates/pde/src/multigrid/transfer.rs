//! Grid transfers between levels: cell-centred trilinear prolongation `P` (added to the fine
//! iterate) and the restriction `R = (4 / 2^d) Pᵀ`, with reflection at solid walls and zero
//! beyond air walls.

use super::Real;
use super::hierarchy::{Level, par_line_chunks};

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

/// `x_f += P x_c` on fine fluid cells: per fine line, the weighted sum of its (up to 4) coarse
/// parent lines, then the ¾ / ¼ interpolation along x.
pub(super) fn prolong_add<T: Real>(coarse: &Level, fine: &Level, xc: &[T], xf: &mut [T]) {
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
            let (parents, count) = parent_lines(fine, coarse, l);
            for &(cl, w) in &parents[..count] {
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
pub(super) fn restrict<T: Real>(fine: &Level, coarse: &Level, rf: &[T], bc: &mut [T]) {
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
