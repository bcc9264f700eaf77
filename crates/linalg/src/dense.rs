//! Small dense matrices: reference operators for tests and oracles, and the bridge to faer's
//! dense solvers and eigen decompositions.

use crate::error::{LinalgError, check_finite, check_len};
use crate::operator::LinearOperator;

/// A row-major dense matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseMatrix {
    nrows: usize,
    ncols: usize,
    data: Vec<f64>,
}

impl DenseMatrix {
    /// Wraps row-major `data` (length `nrows · ncols`, finite).
    pub fn from_row_major(nrows: usize, ncols: usize, data: Vec<f64>) -> Result<Self, LinalgError> {
        check_len("dense matrix data", nrows * ncols, data.len())?;
        check_finite("dense matrix data", &data)?;
        Ok(Self { nrows, ncols, data })
    }
    /// The zero matrix.
    pub fn zeros(nrows: usize, ncols: usize) -> Self {
        Self {
            nrows,
            ncols,
            data: vec![0.0; nrows * ncols],
        }
    }
    /// Materializes any operator column by column (`n` mat-vecs; for small `n` only).
    pub fn from_operator(a: &dyn LinearOperator) -> Self {
        let (m, n) = (a.nrows(), a.ncols());
        let mut out = Self::zeros(m, n);
        let mut e = vec![0.0; n];
        let mut col = vec![0.0; m];
        for j in 0..n {
            e[j] = 1.0;
            a.apply(&e, &mut col);
            e[j] = 0.0;
            for i in 0..m {
                out.data[i * n + j] = col[i];
            }
        }
        out
    }
    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.ncols + j]
    }
    /// Row-major entries.
    pub fn data(&self) -> &[f64] {
        &self.data
    }
    /// Copies into a faer dense matrix.
    pub fn to_faer(&self) -> faer::Mat<f64> {
        faer::Mat::from_fn(self.nrows, self.ncols, |i, j| self.get(i, j))
    }
    /// Eigenvalues of a symmetric matrix, ascending (faer's self-adjoint eigensolver; only the
    /// lower triangle is read). Cost: O(n³).
    pub fn symmetric_eigenvalues(&self) -> Result<Vec<f64>, LinalgError> {
        if self.nrows != self.ncols {
            return Err(LinalgError::NotSquare {
                nrows: self.nrows,
                ncols: self.ncols,
            });
        }
        let m = self.to_faer();
        let ev =
            m.self_adjoint_eigenvalues(faer::Side::Lower)
                .map_err(|e| LinalgError::NotSpd {
                    reason: format!("eigen decomposition failed: {e:?}"),
                })?;
        let mut ev: Vec<f64> = ev.into_iter().collect();
        ev.sort_by(|a, b| a.total_cmp(b));
        Ok(ev)
    }
}

impl DenseMatrix {
    /// The Moore–Penrose pseudo-inverse of a symmetric positive semi-definite matrix, from
    /// faer's self-adjoint eigen decomposition: eigenvalues below `rtol · λ_max` are treated as
    /// zero (the null space). Symmetric by construction. Cost: O(n³); for small coarse-grid
    /// matrices.
    ///
    /// Errors: not square, non-finite entries, a negative eigenvalue below `−rtol · λ_max`
    /// (the matrix is indefinite).
    pub fn spsd_pseudo_inverse(&self, rtol: f64) -> Result<DenseMatrix, LinalgError> {
        let n = self.nrows;
        if n != self.ncols {
            return Err(LinalgError::NotSquare {
                nrows: n,
                ncols: self.ncols,
            });
        }
        check_finite("dense matrix", &self.data)?;
        let evd = self
            .to_faer()
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| LinalgError::NotSpd {
                reason: format!("eigen decomposition failed: {e:?}"),
            })?;
        let (s, u) = (evd.S(), evd.U());
        let lmax = (0..n).map(|k| s[k].abs()).fold(0.0f64, f64::max);
        let mut out = Self::zeros(n, n);
        for k in 0..n {
            let l = s[k];
            if l < -rtol * lmax {
                return Err(LinalgError::NotSpd {
                    reason: format!("eigenvalue {l:e} < 0"),
                });
            }
            if l <= rtol * lmax {
                continue;
            }
            for i in 0..n {
                let a = u[(i, k)] / l;
                for j in 0..n {
                    out.data[i * n + j] += a * u[(j, k)];
                }
            }
        }
        Ok(out)
    }
}

impl LinearOperator for DenseMatrix {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        assert_eq!(x.len(), self.ncols, "dense apply: x length");
        assert_eq!(y.len(), self.nrows, "dense apply: y length");
        for (i, yi) in y.iter_mut().enumerate() {
            let row = &self.data[i * self.ncols..(i + 1) * self.ncols];
            *yi = row.iter().zip(x).map(|(a, b)| a * b).sum();
        }
    }
    fn diagonal(&self) -> Option<Vec<f64>> {
        Some(
            (0..self.nrows.min(self.ncols))
                .map(|i| self.get(i, i))
                .collect(),
        )
    }
}
