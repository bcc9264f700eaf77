//! Incomplete Cholesky preconditioners specialized to the MAC-grid Poisson matrix.
//!
//! For the 7-point (5-point) stencil, IC(0) fill-in never meets the stencil pattern, so the
//! factor is determined by one number per cell. Writing `A = L Lᵀ + R` with
//! `L_cc = √e_c` and `L_cj = A_cj / √e_j`, and storing `d_c = 1 / e_c`:
//!
//! * IC(0):  `e_c = A_cc − Σ_{lower fluid j} 1/e_j`
//! * MIC(0): `e_c = A_cc − Σ_j (1 + τ (u_j − 1)) / e_j`, where `u_j` counts the fluid upper
//!   neighbours of `j`: the dropped fill is moved to the diagonal (row sums preserved for
//!   `τ = 1`), with Bridson's safety `e_c ← A_cc` when `e_c < σ A_cc`.
//!
//! Applying `z = (L Lᵀ)⁻¹ r` then needs only `d`:
//! forward `w_c = d_c (r_c + Σ_lower w_j)`, backward `z_c = w_c + d_c Σ_upper z_m`.
//! `d` is stored in `f32` (the preconditioner stays exactly symmetric and positive definite; the
//! sweeps read 4 bytes per cell instead of 8). Non-fluid cells have `d = 0`, so the sweeps need
//! no flag tests. Each sweep is a wavefront over x-line segments run with
//! [`BlockSchedule`]; within a segment the recurrence is one
//! fused multiply-add per cell.
//!
//! Cost: setup O(cells), serial; apply ≈ 5 vector passes (r, z twice, d twice as f32).

use crate::error::PdeError;
use crate::poisson::PoissonProblem;
use ritz_linalg::schedule::{BlockSchedule, SharedSlice};
use ritz_linalg::{Preconditioner, SpdPreconditioner};
use std::ops::Range;

/// Which incomplete factorization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IcVariant {
    /// Zero-fill incomplete Cholesky.
    Ic0,
    /// Modified IC(0) with relaxation `tau` (Bridson: 0.97) and safety `sigma` (0.25).
    Mic0 {
        /// Fraction of the dropped fill moved to the diagonal.
        tau: f64,
        /// Pivots below `sigma · A_cc` are replaced by `A_cc`.
        sigma: f64,
    },
}

impl IcVariant {
    /// MIC(0) with the fluid-simulation defaults τ = 0.97, σ = 0.25.
    pub fn mic0() -> Self {
        Self::Mic0 {
            tau: 0.97,
            sigma: 0.25,
        }
    }
}

/// IC(0) / MIC(0) of a [`PoissonProblem`], acting on grid-layout vectors.
#[derive(Debug, Clone)]
pub struct GridIc0 {
    dims: [usize; 3],
    d: Vec<f32>,
    seg: usize,
    nseg: usize,
    slab: usize,
    nslab: usize,
    fwd: BlockSchedule,
    bwd: BlockSchedule,
    variant: IcVariant,
}

impl GridIc0 {
    /// Factorizes. A pivot within `1e-10 · A_cc` of zero (the end of a floating region's
    /// elimination) decouples its cell, as the CSR factorization does. Errors with `NotSpd` if
    /// a pivot is clearly negative (impossible for a Poisson M-matrix) or the parameters are out
    /// of range.
    ///
    /// ```
    /// use ritz_linalg::Preconditioner;
    /// use ritz_pde::{GridIc0, IcVariant, PoissonProblem, Scene, rhs::RhsKind};
    /// let p = PoissonProblem::new(Scene::Pillars.generate(3, 16, 0)?)?;
    /// let m = GridIc0::new(&p, IcVariant::mic0())?; // MIC(0), matrix-free on the grid
    /// let r = RhsKind::SmoothDivergence.generate(&p, 0);
    /// let mut z = vec![0.0; r.len()];
    /// m.apply(&r, &mut z);
    /// assert!(r.iter().zip(&z).map(|(a, b)| a * b).sum::<f64>() > 0.0);
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn new(problem: &PoissonProblem, variant: IcVariant) -> Result<Self, PdeError> {
        let grid = problem.grid();
        let [nx, ny, nz] = grid.dims();
        let fluid = problem.fluid_mask();
        let diag = problem.diag_counts();
        let st = grid.strides();
        let dim = grid.dim();
        let (tau, sigma) = match variant {
            IcVariant::Ic0 => (0.0, 0.0),
            IcVariant::Mic0 { tau, sigma } => {
                if !(0.0..=1.0).contains(&tau) || !(0.0..1.0).contains(&sigma) {
                    return Err(PdeError::Unsupported(format!(
                        "MIC(0) needs 0 ≤ τ ≤ 1 and 0 ≤ σ < 1, got τ = {tau}, σ = {sigma}"
                    )));
                }
                (tau, sigma)
            }
        };
        let n = grid.len();
        let mut e = vec![0.0f64; n];
        let mut d = vec![0.0f32; n];
        // Number of fluid upper neighbours of each cell.
        let upper = |c: usize| -> f64 {
            let co = grid.coords(c);
            let ext = [nx, ny, nz];
            (0..dim)
                .filter(|&a| co[a] + 1 < ext[a] && fluid[c + st[a]] == 1)
                .count() as f64
        };
        for c in 0..n {
            if fluid[c] == 0 {
                continue;
            }
            let acc = diag[c] as f64;
            let co = grid.coords(c);
            let mut ec = acc;
            for a in 0..dim {
                if co[a] > 0 {
                    let j = c - st[a];
                    if fluid[j] == 1 && e[j] > 0.0 {
                        ec -= (1.0 + tau * (upper(j) - 1.0)) / e[j];
                    }
                }
            }
            if tau > 0.0 && ec < sigma * acc {
                ec = acc;
            }
            if acc == 0.0 || ec.abs() <= 1e-10 * acc {
                // A null pivot: the last cell of a floating (all-Neumann) region, where the
                // singular M-matrix's elimination ends in 0 (exactly for a chain of cells), or a
                // fluid cell walled in on every side. Its value is fixed by the null-space
                // projection: the preconditioner decouples it (e = d = 0), as the CSR IC(0).
                continue;
            }
            if ec <= 0.0 || !ec.is_finite() {
                return Err(ritz_linalg::LinalgError::NotSpd {
                    reason: format!("IC(0) pivot {ec:e} at cell {c}"),
                }
                .into());
            }
            e[c] = ec;
            d[c] = (1.0 / ec) as f32;
        }
        // Blocks: (x-segment s, y-slab t, plane k), each a run of whole or partial x-lines,
        // contiguous in memory so that the sweeps stream. Block (s, t, k) depends on
        // (s-1, t, k), (s, t-1, k) and (s, t, k-1): a wavefront over slabs and planes in 3D,
        // over segments and rows in 2D.
        let threads = rayon::current_num_threads().max(1);
        let (nseg, nslab) = if dim == 3 {
            (1, (2 * threads).min(ny).max(1))
        } else {
            ((nx / 256).clamp(1, 4 * threads), ny)
        };
        let seg = nx.div_ceil(nseg);
        let slab = ny.div_ceil(nslab);
        let nslab = ny.div_ceil(slab);
        let fwd = BlockSchedule::forward(nseg * nslab * nz, |b, deps| {
            let s = b % nseg;
            let t = (b / nseg) % nslab;
            let k = b / (nseg * nslab);
            if s > 0 {
                deps.push(b - 1);
            }
            if t > 0 {
                deps.push(b - nseg);
            }
            if k > 0 {
                deps.push(b - nseg * nslab);
            }
        });
        let bwd = fwd.reversed();
        Ok(Self {
            dims: [nx, ny, nz],
            d,
            seg,
            nseg,
            slab,
            nslab,
            fwd,
            bwd,
            variant,
        })
    }

    /// The factorization variant.
    pub fn variant(&self) -> IcVariant {
        self.variant
    }

    /// `(x range, y range, k)` of block `b`.
    #[inline]
    fn block(&self, b: usize) -> (Range<usize>, Range<usize>, usize) {
        let [nx, ny, _] = self.dims;
        let s = b % self.nseg;
        let t = (b / self.nseg) % self.nslab;
        let k = b / (self.nseg * self.nslab);
        (
            s * self.seg..((s + 1) * self.seg).min(nx),
            t * self.slab..((t + 1) * self.slab).min(ny),
            k,
        )
    }
}

impl Preconditioner for GridIc0 {
    fn dim(&self) -> usize {
        self.d.len()
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        assert_eq!(r.len(), self.d.len(), "IC apply: r length");
        assert_eq!(z.len(), self.d.len(), "IC apply: z length");
        let [nx, ny, nz] = self.dims;
        let d = &self.d;
        let zs = SharedSlice::new(z);
        // Forward: w_c = d_c (r_c + w_{c-1} + w_{c-nx} + w_{c-nx ny}); w is stored in z.
        self.fwd.run(|b| {
            let (seg, js, k) = self.block(b);
            for j in js {
                let l = j + ny * k;
                let base = l * nx;
                let cells = base + seg.start..base + seg.end;
                // SAFETY: this block writes only its own cells; it reads cells of the blocks it
                // depends on (x-predecessor segment, line j-1, line k-1), which are complete.
                let w = unsafe { zs.slice_mut(cells.clone()) };
                let (rr, dd) = (&r[cells.clone()], &d[cells.clone()]);
                // t = r + (w from line j-1) + (w from line k-1), vectorized.
                for (i, wi) in w.iter_mut().enumerate() {
                    *wi = rr[i];
                }
                if j > 0 {
                    let o = unsafe { zs.slice(cells.start - nx..cells.end - nx) };
                    w.iter_mut().zip(o).for_each(|(a, b)| *a += b);
                }
                if k > 0 {
                    let o = unsafe { zs.slice(cells.start - nx * ny..cells.end - nx * ny) };
                    w.iter_mut().zip(o).for_each(|(a, b)| *a += b);
                }
                // a_c = d_c t_c (vectorized), then the recurrence w_c = a_c + d_c w_{c-1}: one
                // fused multiply-add of latency per cell.
                for (wi, &di) in w.iter_mut().zip(dd) {
                    *wi *= di as f64;
                }
                let prev = if seg.start > 0 {
                    unsafe { zs.slice(cells.start - 1..cells.start)[0] }
                } else {
                    0.0
                };
                first_order_recurrence(w, dd, prev);
            }
        });
        // Backward: z_c = w_c + d_c (z_{c+1} + z_{c+nx} + z_{c+nx ny}), in place.
        self.bwd.run(|b| {
            let (seg, js, k) = self.block(b);
            for j in js.rev() {
                let l = j + ny * k;
                let base = l * nx;
                let cells = base + seg.start..base + seg.end;
                let dd = &d[cells.clone()];
                // SAFETY: as above, with the dependencies reversed (line j+1, line k+1 and the
                // x-successor segment are final).
                let w = unsafe { zs.slice_mut(cells.clone()) };
                // Upper neighbours from lines j+1 and k+1, vectorized.
                for (off, present) in [(nx, j + 1 < ny), (nx * ny, k + 1 < nz)] {
                    if present {
                        let o = unsafe { zs.slice(cells.start + off..cells.end + off) };
                        for ((wi, &di), oi) in w.iter_mut().zip(dd).zip(o) {
                            *wi += di as f64 * oi;
                        }
                    }
                }
                let next = if seg.end < nx {
                    unsafe { zs.slice(cells.end..cells.end + 1)[0] }
                } else {
                    0.0
                };
                first_order_recurrence_rev(w, dd, next);
            }
        });
    }

    fn name(&self) -> String {
        match self.variant {
            IcVariant::Ic0 => "IC(0)".into(),
            IcVariant::Mic0 { .. } => "MIC(0)".into(),
        }
    }
}

impl SpdPreconditioner for GridIc0 {}

/// `w_i ← w_i + d_i w_{i−1}` in order, with `w_{−1} = prev`: the triangular-sweep recurrence.
/// Unrolled by four so that the loop-carried chain is one fused multiply-add per four cells:
/// `w_{i+k} = P_k + Q_k w_{i−1}` with `P_k = w_{i+k} + d_{i+k} P_{k−1}`, `Q_k = d_{i+k} Q_{k−1}`
/// computed off the chain.
#[inline(always)]
fn first_order_recurrence(w: &mut [f64], d: &[f32], mut prev: f64) {
    let n = w.len();
    let mut i = 0;
    while i + 4 <= n {
        let (d0, d1, d2, d3) = (
            d[i] as f64,
            d[i + 1] as f64,
            d[i + 2] as f64,
            d[i + 3] as f64,
        );
        let p0 = w[i];
        let p1 = d1.mul_add(p0, w[i + 1]);
        let p2 = d2.mul_add(p1, w[i + 2]);
        let p3 = d3.mul_add(p2, w[i + 3]);
        let q1 = d1 * d0;
        let q2 = d2 * q1;
        let q3 = d3 * q2;
        w[i] = d0.mul_add(prev, p0);
        w[i + 1] = q1.mul_add(prev, p1);
        w[i + 2] = q2.mul_add(prev, p2);
        prev = q3.mul_add(prev, p3);
        w[i + 3] = prev;
        i += 4;
    }
    for (wi, &di) in w[i..].iter_mut().zip(&d[i..]) {
        prev = (di as f64).mul_add(prev, *wi);
        *wi = prev;
    }
}

/// The same recurrence in reverse order: `w_i ← w_i + d_i w_{i+1}`, `w_n = next`.
#[inline(always)]
fn first_order_recurrence_rev(w: &mut [f64], d: &[f32], mut next: f64) {
    let n = w.len();
    let mut end = n;
    while end >= 4 {
        let i = end - 4;
        let (d0, d1, d2, d3) = (
            d[i + 3] as f64,
            d[i + 2] as f64,
            d[i + 1] as f64,
            d[i] as f64,
        );
        let p0 = w[i + 3];
        let p1 = d1.mul_add(p0, w[i + 2]);
        let p2 = d2.mul_add(p1, w[i + 1]);
        let p3 = d3.mul_add(p2, w[i]);
        let q1 = d1 * d0;
        let q2 = d2 * q1;
        let q3 = d3 * q2;
        w[i + 3] = d0.mul_add(next, p0);
        w[i + 2] = q1.mul_add(next, p1);
        w[i + 1] = q2.mul_add(next, p2);
        next = q3.mul_add(next, p3);
        w[i] = next;
        end = i;
    }
    for (wi, &di) in w[..end].iter_mut().zip(&d[..end]).rev() {
        next = (di as f64).mul_add(next, *wi);
        *wi = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrolled_recurrences_match_the_plain_ones() {
        for n in [0usize, 1, 3, 4, 5, 11, 64] {
            let d: Vec<f32> = (0..n).map(|i| 0.1 + 0.05 * (i % 7) as f32).collect();
            let w0: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
            let (mut a, mut b) = (w0.clone(), w0.clone());
            first_order_recurrence(&mut a, &d, 0.3);
            let mut prev = 0.3;
            for i in 0..n {
                prev = w0[i] + d[i] as f64 * prev;
                assert!((a[i] - prev).abs() < 1e-14, "n = {n}, i = {i}");
            }
            first_order_recurrence_rev(&mut b, &d, -0.2);
            let mut next = -0.2;
            for i in (0..n).rev() {
                next = w0[i] + d[i] as f64 * next;
                assert!((b[i] - next).abs() < 1e-14, "n = {n}, i = {i}");
            }
        }
    }
}
