//! Smoothing and residuals on one level: red–black Gauss–Seidel half-sweeps, the extra
//! sweeps over the cells next to a non-fluid cell, and `r = b − A x`.

use super::Real;
use super::hierarchy::{Level, neighbour_lines, par_line_chunks, par_lines};
use crate::poisson::PoissonProblem;
use rayon::prelude::*;
use ritz_linalg::schedule::SharedSlice;

/// Gauss–Seidel update of the cells `i0, i0 + 2, …` of one line with `M` transverse neighbour
/// lines: `x_c ← (b_c + Σ_neighbours x_n) / diag_c` (multiplying by the rounded reciprocal).
///
/// # Safety
/// The caller owns the written cells; the neighbours read are not written concurrently.
#[inline(always)]
pub(super) unsafe fn gs_line<T: Real, const M: usize>(
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

/// `1/diag` for the possible diagonal counts 0..=6 (0 ↦ 0: non-fluid and walled-in cells stay
/// 0), correctly rounded in `T`.
fn inverse_diagonals<T: Real>() -> [T; 7] {
    std::array::from_fn(|d| {
        if d == 0 {
            T::default()
        } else {
            T::from_f64(1.0 / d as f64)
        }
    })
}

/// The half-sweep of colour `color` on line `l`.
///
/// # Safety
/// As [`gs_line`]: the caller owns the cells of `color` on this line, and no other thread
/// writes the other colour's cells this line reads.
#[inline(always)]
unsafe fn half_line<T: Real>(
    lev: &Level,
    xs: &SharedSlice<T>,
    b: &[T],
    inv: &[T; 7],
    l: usize,
    color: usize,
) {
    let [nx, ny, _] = lev.dims;
    let (j, k) = (l % ny, l / ny);
    let base = l * nx;
    let i0 = (color + j + k) % 2;
    let (nb, m) = neighbour_lines(l, lev.dims);
    // SAFETY: forwarded from the caller.
    unsafe {
        match m {
            4 => gs_line::<T, 4>(xs, b, &lev.diag, inv, base, nx, i0, nb),
            3 => gs_line::<T, 3>(xs, b, &lev.diag, inv, base, nx, i0, nb),
            2 => gs_line::<T, 2>(xs, b, &lev.diag, inv, base, nx, i0, nb),
            1 => gs_line::<T, 1>(xs, b, &lev.diag, inv, base, nx, i0, nb),
            _ => gs_line::<T, 0>(xs, b, &lev.diag, inv, base, nx, i0, nb),
        }
    }
}

/// One red (`color = 0`) or black (`1`) Gauss–Seidel half-sweep: for the cells with
/// `(i + j + k) % 2 == color`, `x_c ← (b_c + Σ_neighbours x_n) / diag_c` (0 outside the fluid,
/// whose diagonal count is 0).
pub(super) fn rbgs<T: Real>(lev: &Level, x: &mut [T], b: &[T], color: usize) {
    let xs = SharedSlice::new(x);
    let inv = inverse_diagonals::<T>();
    par_lines(lev, |lines| {
        for l in lines {
            // SAFETY: this sweep writes only cells of `color`, each line by one thread; every
            // neighbour read has the other colour.
            unsafe { half_line(lev, &xs, b, &inv, l, color) };
        }
    });
}

/// Fluid cells with a face neighbour that is not fluid (solid or air cell, or any domain
/// wall), by colour `(i + j + k) % 2`.
pub(super) fn boundary_cells(p: &PoissonProblem) -> [Vec<u32>; 2] {
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

/// Gauss–Seidel updates of the boundary cells of colour `color` (independent of each other),
/// with their precomputed in-grid neighbour masks.
pub(super) fn gs_cells<T: Real>(lev: &Level, x: &mut [T], b: &[T], color: usize) {
    let [nx, ny, _] = lev.dims;
    let plane = nx * ny;
    let inv = inverse_diagonals::<T>();
    let xs = SharedSlice::new(x);
    let (cells, masks) = (&lev.boundary[color], &lev.boundary_nb[color]);
    cells
        .par_chunks(4096)
        .zip(masks.par_chunks(4096))
        .for_each(|(chunk, mchunk)| {
            for (&c, &mk) in chunk.iter().zip(mchunk) {
                let c = c as usize;
                // SAFETY: the cells of one colour are updated by one thread each and only
                // read cells of the other colour; the mask keeps every index in the grid.
                unsafe {
                    let mut s = b[c];
                    if mk & 1 != 0 {
                        s = s + xs.get(c - 1);
                    }
                    if mk & 2 != 0 {
                        s = s + xs.get(c + 1);
                    }
                    if mk & 4 != 0 {
                        s = s + xs.get(c - nx);
                    }
                    if mk & 8 != 0 {
                        s = s + xs.get(c + nx);
                    }
                    if mk & 16 != 0 {
                        s = s + xs.get(c - plane);
                    }
                    if mk & 32 != 0 {
                        s = s + xs.get(c + plane);
                    }
                    xs.set(c, s * inv[lev.diag[c] as usize]);
                }
            }
        });
}

/// `r ← b − A x` on the fluid cells (0 elsewhere); `x` is zero outside the fluid.
pub(super) fn residual<T: Real>(lev: &Level, x: &[T], b: &[T], r: &mut [T]) {
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
