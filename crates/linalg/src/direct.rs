//! Sparse Cholesky (faer's supernodal/simplicial LLᵀ with fill-reducing ordering): the exact
//! reference solve, and the exact coarsest-level solve of the multigrid hierarchies when the
//! coarsest level is too large for a dense pseudo-inverse.

use crate::{CsrMatrix, LinalgError, LinearOperator, NullSpace, RegionNullSpace};
use faer::linalg::solvers::Solve;

/// A sparse Cholesky factorization of an SPD (or, with a region null space, semi-definite)
/// matrix.
///
/// Singular matrices whose null space is spanned by region indicators (all-Neumann Poisson
/// regions) are handled by pinning the first unknown of each floating region to 0 — the
/// reduced system is SPD and, for a consistent right-hand side, its solution solves the full
/// system; the result is then projected to zero mean per region.
pub struct SparseCholesky {
    llt: faer::sparse::linalg::solvers::Llt<usize, f64>,
    pinned: Vec<usize>,
    null: Option<RegionNullSpace>,
    n: usize,
}

impl SparseCholesky {
    /// Factorizes. Cost: fill-dependent; for 3D Poisson O(n²) time and O(n^{4/3}) memory —
    /// fine to ~10⁶ unknowns, a reference, not the production solver.
    ///
    /// Errors: not square, or not positive definite (faer reports a non-positive pivot).
    ///
    /// ```
    /// use ritz_linalg::{CsrMatrix, direct::SparseCholesky};
    /// let t = [(0, 0, 4.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 3.0), (2, 2, 2.0)];
    /// let a = CsrMatrix::from_triplets(3, 3, &t)?;
    /// let x = SparseCholesky::new(&a, None)?.solve(&[5.0, 4.0, 2.0])?;
    /// assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-12));
    /// # Ok::<(), ritz_linalg::LinalgError>(())
    /// ```
    pub fn new(a: &CsrMatrix, null: Option<&RegionNullSpace>) -> Result<Self, LinalgError> {
        let n = a.nrows();
        if n != a.ncols() {
            return Err(LinalgError::NotSquare {
                nrows: n,
                ncols: a.ncols(),
            });
        }
        let mut pinned = Vec::new();
        if let Some(ns) = null {
            let mut seen = std::collections::HashSet::new();
            for (i, &l) in ns.labels().iter().enumerate() {
                if l != u32::MAX && seen.insert(l) {
                    pinned.push(i);
                }
            }
        }
        let mut is_pinned = vec![false; n];
        for &p in &pinned {
            is_pinned[p] = true;
        }
        let mut trip: Vec<faer::sparse::Triplet<usize, usize, f64>> = a
            .triplets()
            .filter(|&(i, j, _)| !is_pinned[i] && !is_pinned[j])
            .map(|(i, j, v)| faer::sparse::Triplet::new(i, j, v))
            .collect();
        trip.extend(
            pinned
                .iter()
                .map(|&p| faer::sparse::Triplet::new(p, p, 1.0)),
        );
        let m = faer::sparse::SparseColMat::<usize, f64>::try_new_from_triplets(n, n, &trip)
            .map_err(|e| LinalgError::NotSpd {
                reason: format!("faer could not build the matrix: {e:?}"),
            })?;
        let llt = m
            .sp_cholesky(faer::Side::Lower)
            .map_err(|e| LinalgError::NotSpd {
                reason: format!("sparse Cholesky failed: {e:?}"),
            })?;
        Ok(Self {
            llt,
            pinned,
            null: null.cloned(),
            n,
        })
    }

    /// Solves `A x = b` (b projected onto the range for singular matrices). Cost: two sparse
    /// triangular solves.
    pub fn solve(&self, b: &[f64]) -> Result<Vec<f64>, LinalgError> {
        crate::error::check_len("right-hand side", self.n, b.len())?;
        crate::error::check_finite("right-hand side", b)?;
        let mut rhs = b.to_vec();
        if let Some(ns) = &self.null {
            ns.project(&mut rhs);
        }
        for &p in &self.pinned {
            rhs[p] = 0.0;
        }
        let col = faer::Mat::from_fn(self.n, 1, |i, _| rhs[i]);
        let sol = self.llt.solve(&col);
        let mut x: Vec<f64> = (0..self.n).map(|i| sol[(i, 0)]).collect();
        if let Some(ns) = &self.null {
            ns.project(&mut x);
        }
        Ok(x)
    }
}
