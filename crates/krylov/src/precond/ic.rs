//! Zero-fill incomplete Cholesky, IC(0), and its modified form MIC(0), for CSR matrices.
//!
//! Factorization: right-looking over columns on the upper triangle; fill-in outside the pattern
//! of `A` is dropped (IC(0)) or, for MIC(0), `τ` times it is subtracted from the two diagonal
//! entries it would have coupled (row sums of `L Lᵀ` match those of `A` for `τ = 1`; Bridson's
//! safety: a pivot below `σ A_jj` is reset to `A_jj`). For the 7-point Laplacian the two are the
//! classical IC(0) / MIC(0) of Meijerink–van der Vorst and Gustafsson.
//!
//! Application `z = (L Lᵀ)⁻¹ r`: two sparse triangular sweeps, each run in parallel over blocks
//! of consecutive rows with a dependency-driven schedule
//! ([`BlockSchedule`]); for grid-ordered Poisson matrices
//! this is a wavefront over grid lines.
//!
//! Singular (positive semi-definite) matrices: a pivot within `1e-10 · A_jj` of zero is a null
//! pivot; that row's inverse pivot is set to 0 (the solvers project the null space). A pivot
//! below that is a [`LinalgError::NotSpd`] error.

use ritz_linalg::schedule::{BlockSchedule, SharedSlice};
use ritz_linalg::{CsrMatrix, LinalgError, Preconditioner, SpdPreconditioner};

/// Options of [`IncompleteCholesky`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IcOptions {
    /// Fraction of dropped fill moved to the diagonal: 0 = IC(0), 1 = fully modified,
    /// 0.97 = the fluid-simulation default for MIC(0).
    pub tau: f64,
    /// MIC safety: pivots below `sigma · A_jj` are replaced by `A_jj` (only when `tau > 0`).
    pub sigma: f64,
    /// Rows per block of the parallel triangular sweeps.
    pub block_rows: usize,
}

impl IcOptions {
    /// IC(0).
    pub fn ic0() -> Self {
        Self {
            tau: 0.0,
            sigma: 0.0,
            block_rows: 128,
        }
    }
    /// MIC(0) with τ = 0.97, σ = 0.25.
    pub fn mic0() -> Self {
        Self {
            tau: 0.97,
            sigma: 0.25,
            block_rows: 128,
        }
    }
}

impl Default for IcOptions {
    fn default() -> Self {
        Self::ic0()
    }
}

/// A triangular factor without its diagonal, in CSR.
#[derive(Debug, Clone)]
struct Tri {
    ptr: Vec<usize>,
    col: Vec<u32>,
    val: Vec<f64>,
}

/// An incomplete Cholesky factorization `A ≈ L Lᵀ` with the sparsity of `A`.
#[derive(Debug, Clone)]
pub struct IncompleteCholesky {
    n: usize,
    lower: Tri,
    upper: Tri,
    inv_diag: Vec<f64>,
    block: usize,
    fwd: BlockSchedule,
    bwd: BlockSchedule,
    options: IcOptions,
}

impl IncompleteCholesky {
    /// Factorizes `a`, which must be square and symmetric (only its upper triangle is read;
    /// symmetry is not re-checked here — see [`CsrMatrix::check_symmetric`]).
    ///
    /// Cost: O(Σ_j c_j² log) where `c_j` is the number of entries right of the diagonal in row
    /// `j` (≈ 10 lookups per row for the 7-point stencil).
    ///
    /// Errors: not square, a missing or non-positive diagonal entry, a negative pivot
    /// (`NotSpd`), options out of range.
    ///
    /// ```
    /// use ritz_krylov::precond::{IcOptions, IncompleteCholesky};
    /// use ritz_krylov::{SolveParams, pcg};
    /// use ritz_pde::{PoissonProblem, Scene, poisson::AssembledPoisson, rhs::RhsKind};
    /// let p = PoissonProblem::new(Scene::Closed.generate(2, 32, 0)?)?;
    /// let a = AssembledPoisson::new(&p); // CSR over the fluid cells, with its null space
    /// let b = p.to_compact(&RhsKind::SmoothDivergence.generate(&p, 0))?;
    /// let m = IncompleteCholesky::new(&a.matrix, IcOptions::mic0())?;
    /// let mut x = vec![0.0; b.len()];
    /// assert!(pcg(&a, &m, &b, &mut x, &SolveParams::default(), &mut ())?.converged());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(a: &CsrMatrix, options: IcOptions) -> Result<Self, LinalgError> {
        use ritz_linalg::LinearOperator;
        let n = a.nrows();
        if n != a.ncols() {
            return Err(LinalgError::NotSquare {
                nrows: n,
                ncols: a.ncols(),
            });
        }
        if !(0.0..=1.0).contains(&options.tau) || !(0.0..1.0).contains(&options.sigma) {
            return Err(LinalgError::NotSpd {
                reason: format!(
                    "invalid IC options τ = {}, σ = {} (need 0 ≤ τ ≤ 1, 0 ≤ σ < 1)",
                    options.tau, options.sigma
                ),
            });
        }
        // Upper triangle including the diagonal (first in each row).
        let mut ptr = vec![0usize];
        let mut col = Vec::new();
        let mut val = Vec::new();
        let mut orig = vec![0.0; n];
        for i in 0..n {
            let (c, v) = a.row(i);
            let start = c.partition_point(|&j| (j as usize) < i);
            let has_diag = start < c.len() && c[start] as usize == i;
            let dii = if has_diag { v[start] } else { 0.0 };
            let row_is_zero = v.iter().all(|&x| x == 0.0);
            // A zero row is a one-unknown null space (e.g. a fluid cell walled in by solids);
            // otherwise a positive semi-definite matrix needs a positive diagonal.
            if !(dii > 0.0 || row_is_zero) {
                return Err(LinalgError::NotSpd {
                    reason: format!("diagonal entry of row {i} is {dii}, but the row is not zero"),
                });
            }
            orig[i] = dii;
            if has_diag {
                col.extend_from_slice(&c[start..]);
                val.extend_from_slice(&v[start..]);
            } else {
                col.push(i as u32);
                val.push(0.0);
                col.extend_from_slice(&c[start..]);
                val.extend_from_slice(&v[start..]);
            }
            ptr.push(col.len());
        }
        let (tau, sigma) = (options.tau, options.sigma);
        let mut inv_diag = vec![0.0; n];
        for j in 0..n {
            let (a0, a1) = (ptr[j], ptr[j + 1]);
            let mut d = val[a0];
            if tau > 0.0 && d < sigma * orig[j] {
                d = orig[j];
            }
            if d.abs() <= 1e-10 * orig[j] || orig[j] == 0.0 {
                // Null pivot (singular matrix): decouple this row.
                val[a0] = 1.0;
                for e in a0 + 1..a1 {
                    val[e] = 0.0;
                }
                inv_diag[j] = 0.0;
                continue;
            }
            if d <= 0.0 || !d.is_finite() {
                return Err(LinalgError::NotSpd {
                    reason: format!("incomplete Cholesky pivot {d:e} at row {j}"),
                });
            }
            let ljj = d.sqrt();
            val[a0] = ljj;
            inv_diag[j] = 1.0 / ljj;
            for e in a0 + 1..a1 {
                val[e] /= ljj;
            }
            for e1 in a0 + 1..a1 {
                let i = col[e1] as usize;
                let li = val[e1];
                for e2 in e1..a1 {
                    let m = col[e2] as usize;
                    let v = li * val[e2];
                    let row_i = &col[ptr[i]..ptr[i + 1]];
                    match row_i.binary_search(&(m as u32)) {
                        Ok(p) => val[ptr[i] + p] -= v,
                        Err(_) => {
                            if tau > 0.0 {
                                val[ptr[i]] -= tau * v;
                                val[ptr[m]] -= tau * v;
                            }
                        }
                    }
                }
            }
        }
        // Strip diagonals: upper = Lᵀ off-diagonal part; lower = its transpose.
        let mut up = Tri {
            ptr: vec![0],
            col: Vec::with_capacity(col.len() - n),
            val: Vec::with_capacity(col.len() - n),
        };
        for j in 0..n {
            up.col.extend_from_slice(&col[ptr[j] + 1..ptr[j + 1]]);
            up.val.extend_from_slice(&val[ptr[j] + 1..ptr[j + 1]]);
            up.ptr.push(up.col.len());
        }
        let lower = {
            let u = CsrMatrix::from_csr(n, n, up.ptr.clone(), up.col.clone(), up.val.clone())?;
            let t = u.transpose();
            Tri {
                ptr: t.row_ptr().to_vec(),
                col: t.col_idx().to_vec(),
                val: t.values().to_vec(),
            }
        };
        let block = options.block_rows.max(1);
        let nb = n.div_ceil(block);
        let fwd = BlockSchedule::forward(nb, |b, deps| {
            for i in b * block..((b + 1) * block).min(n) {
                for &j in &lower.col[lower.ptr[i]..lower.ptr[i + 1]] {
                    deps.push(j as usize / block);
                }
            }
        });
        let bwd = fwd.reversed();
        Ok(Self {
            n,
            lower,
            upper: up,
            inv_diag,
            block,
            fwd,
            bwd,
            options,
        })
    }

    /// The options used.
    pub fn options(&self) -> IcOptions {
        self.options
    }
    /// Number of dependency levels of the forward sweep (parallelism = blocks / levels).
    pub fn sweep_levels(&self) -> usize {
        self.fwd.levels()
    }
}

impl Preconditioner for IncompleteCholesky {
    fn dim(&self) -> usize {
        self.n
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        assert_eq!(r.len(), self.n, "IC apply: r length");
        assert_eq!(z.len(), self.n, "IC apply: z length");
        let n = self.n;
        let bs = self.block;
        let zs = SharedSlice::new(z);
        let (lo, up, inv) = (&self.lower, &self.upper, &self.inv_diag);
        self.fwd.run(|b| {
            let rows = b * bs..((b + 1) * bs).min(n);
            for i in rows {
                let mut s = r[i];
                for e in lo.ptr[i]..lo.ptr[i + 1] {
                    // SAFETY: column j < i lies in this block (earlier row, written by this
                    // thread) or in a dependency block (complete).
                    s -= lo.val[e]
                        * unsafe { zs.slice(lo.col[e] as usize..lo.col[e] as usize + 1)[0] };
                }
                // SAFETY: row i belongs to this block only.
                unsafe { zs.slice_mut(i..i + 1)[0] = s * inv[i] };
            }
        });
        self.bwd.run(|b| {
            let rows = b * bs..((b + 1) * bs).min(n);
            for i in rows.rev() {
                // SAFETY: as above with the reversed dependencies.
                let mut s = unsafe { zs.slice(i..i + 1)[0] };
                for e in up.ptr[i]..up.ptr[i + 1] {
                    s -= up.val[e]
                        * unsafe { zs.slice(up.col[e] as usize..up.col[e] as usize + 1)[0] };
                }
                unsafe { zs.slice_mut(i..i + 1)[0] = s * inv[i] };
            }
        });
    }
    fn name(&self) -> String {
        if self.options.tau > 0.0 {
            "MIC(0)".into()
        } else {
            "IC(0)".into()
        }
    }
}

impl SpdPreconditioner for IncompleteCholesky {}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a tridiagonal matrix IC(0) drops nothing: it is the exact Cholesky factorization.
    #[test]
    fn exact_on_tridiagonal() {
        let n = 300;
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 2.5));
            if i > 0 {
                t.push((i, i - 1, -1.0));
                t.push((i - 1, i, -1.0));
            }
        }
        let a = CsrMatrix::from_triplets(n, n, &t).unwrap();
        let ic = IncompleteCholesky::new(
            &a,
            IcOptions {
                block_rows: 7,
                ..IcOptions::ic0()
            },
        )
        .unwrap();
        let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.3).cos()).collect();
        let mut z = vec![0.0; n];
        ic.apply(&b, &mut z);
        let mut az = vec![0.0; n];
        ritz_linalg::LinearOperator::apply(&a, &z, &mut az);
        for i in 0..n {
            assert!((az[i] - b[i]).abs() < 1e-12);
        }
    }

    #[test]
    fn indefinite_matrix_is_rejected() {
        let a =
            CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 2.0), (1, 0, 2.0), (1, 1, 1.0)])
                .unwrap();
        assert!(matches!(
            IncompleteCholesky::new(&a, IcOptions::ic0()),
            Err(LinalgError::NotSpd { .. })
        ));
    }
}
