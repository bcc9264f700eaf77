//! Compressed sparse row matrices with a rayon-parallel mat-vec.
//!
//! Column indices are `u32` (a 7-point Poisson row then costs 12 bytes per entry instead of 16,
//! which is what a bandwidth-bound mat-vec is paid in). Rows are sorted by column and free of
//! duplicates. [`CsrMatrix::to_faer`] hands the matrix to faer for direct factorizations.

use crate::error::{LinalgError, check_finite, check_len};
use crate::operator::LinearOperator;
use rayon::prelude::*;

/// A sparse matrix in compressed sparse row format.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    nrows: usize,
    ncols: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<u32>,
    values: Vec<f64>,
    /// Row ranges of roughly equal nonzero count for the parallel mat-vec.
    row_chunks: Vec<usize>,
}

impl CsrMatrix {
    /// Builds a matrix from `(row, col, value)` triplets; duplicates are summed (the finite
    /// element / finite volume assembly convention). Explicit zeros are kept.
    ///
    /// Cost: O(nnz + nrows) time and memory (counting sort by row, then a sort per row).
    ///
    /// Errors: an index out of bounds, a NaN/Inf value, a dimension above `u32::MAX`, or sizes
    /// whose arrays exceed the available memory ([`LinalgError::OutOfMemory`], checked first).
    pub fn from_triplets(
        nrows: usize,
        ncols: usize,
        triplets: &[(usize, usize, f64)],
    ) -> Result<Self, LinalgError> {
        if ncols > u32::MAX as usize {
            return Err(LinalgError::TooLarge {
                what: "number of columns",
                value: ncols,
                max: u32::MAX as usize,
            });
        }
        // Peak: three row-pointer arrays and two copies of the column indices and values.
        let rows =
            crate::mem::bytes_of::<usize>(nrows.saturating_add(1)).and_then(|b| b.checked_mul(3));
        let entries =
            crate::mem::bytes_of::<(u32, f64)>(triplets.len()).and_then(|b| b.checked_mul(2));
        crate::mem::check(
            || {
                format!(
                    "a {nrows}×{ncols} CSR matrix with {} entries",
                    triplets.len()
                )
            },
            rows.zip(entries).and_then(|(r, e)| r.checked_add(e)),
        )?;
        let mut counts = vec![0usize; nrows + 1];
        for (k, &(i, j, v)) in triplets.iter().enumerate() {
            if i >= nrows || j >= ncols {
                return Err(LinalgError::IndexOutOfBounds {
                    row: i,
                    col: j,
                    nrows,
                    ncols,
                });
            }
            if !v.is_finite() {
                return Err(LinalgError::NonFinite {
                    what: "triplet value",
                    index: k,
                });
            }
            counts[i + 1] += 1;
        }
        for i in 0..nrows {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut cols = vec![0u32; triplets.len()];
        let mut vals = vec![0.0f64; triplets.len()];
        for &(i, j, v) in triplets {
            cols[next[i]] = j as u32;
            vals[next[i]] = v;
            next[i] += 1;
        }
        // Sort each row by column and merge duplicates.
        let mut row_ptr = Vec::with_capacity(nrows + 1);
        row_ptr.push(0);
        let mut col_idx = Vec::with_capacity(triplets.len());
        let mut values = Vec::with_capacity(triplets.len());
        let mut perm: Vec<usize> = Vec::new();
        for i in 0..nrows {
            let (a, b) = (counts[i], counts[i + 1]);
            perm.clear();
            perm.extend(a..b);
            perm.sort_unstable_by_key(|&k| cols[k]);
            let start = col_idx.len();
            for &k in &perm {
                if col_idx.len() > start && *col_idx.last().unwrap() == cols[k] {
                    *values.last_mut().unwrap() += vals[k];
                } else {
                    col_idx.push(cols[k]);
                    values.push(vals[k]);
                }
            }
            row_ptr.push(col_idx.len());
        }
        Ok(Self::from_parts_unchecked(
            nrows, ncols, row_ptr, col_idx, values,
        ))
    }

    /// Builds a matrix from CSR arrays, validating them: `row_ptr` non-decreasing of length
    /// `nrows + 1` starting at 0, columns in bounds and strictly increasing within each row,
    /// values finite. Cost: O(nnz).
    pub fn from_csr(
        nrows: usize,
        ncols: usize,
        row_ptr: Vec<usize>,
        col_idx: Vec<u32>,
        values: Vec<f64>,
    ) -> Result<Self, LinalgError> {
        check_len("row_ptr", nrows + 1, row_ptr.len())?;
        check_len("values", col_idx.len(), values.len())?;
        check_finite("values", &values)?;
        if row_ptr[0] != 0 || row_ptr[nrows] != col_idx.len() {
            return Err(LinalgError::Shape {
                what: "row_ptr end",
                expected: col_idx.len(),
                found: row_ptr[nrows],
            });
        }
        for i in 0..nrows {
            if row_ptr[i + 1] < row_ptr[i] {
                return Err(LinalgError::Shape {
                    what: "row_ptr (must be non-decreasing)",
                    expected: row_ptr[i],
                    found: row_ptr[i + 1],
                });
            }
            let row = &col_idx[row_ptr[i]..row_ptr[i + 1]];
            for (k, &j) in row.iter().enumerate() {
                if j as usize >= ncols || (k > 0 && row[k - 1] >= j) {
                    return Err(LinalgError::IndexOutOfBounds {
                        row: i,
                        col: j as usize,
                        nrows,
                        ncols,
                    });
                }
            }
        }
        Ok(Self::from_parts_unchecked(
            nrows, ncols, row_ptr, col_idx, values,
        ))
    }

    fn from_parts_unchecked(
        nrows: usize,
        ncols: usize,
        row_ptr: Vec<usize>,
        col_idx: Vec<u32>,
        values: Vec<f64>,
    ) -> Self {
        // Chunks of ~64k nonzeros, cut at row boundaries.
        const TARGET: usize = 1 << 16;
        let mut row_chunks = vec![0];
        let mut last = 0;
        for i in 0..nrows {
            if row_ptr[i + 1] - row_ptr[last] >= TARGET {
                row_chunks.push(i + 1);
                last = i + 1;
            }
        }
        if *row_chunks.last().unwrap() != nrows {
            row_chunks.push(nrows);
        }
        Self {
            nrows,
            ncols,
            row_ptr,
            col_idx,
            values,
            row_chunks,
        }
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }
    /// Row pointers (length `nrows + 1`).
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }
    /// Column indices, row by row.
    pub fn col_idx(&self) -> &[u32] {
        &self.col_idx
    }
    /// Values, row by row.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// Columns and values of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.row_ptr[i]..self.row_ptr[i + 1];
        (&self.col_idx[r.clone()], &self.values[r])
    }
    /// Entry `(i, j)` (0 if not stored). Cost: O(log row length).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (c, v) = self.row(i);
        match c.binary_search(&(j as u32)) {
            Ok(k) => v[k],
            Err(_) => 0.0,
        }
    }

    /// Iterates over stored `(row, col, value)` entries in row-major order.
    pub fn triplets(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        (0..self.nrows).flat_map(move |i| {
            let (c, v) = self.row(i);
            c.iter().zip(v).map(move |(&j, &x)| (i, j as usize, x))
        })
    }

    /// The transpose, in O(nnz).
    pub fn transpose(&self) -> CsrMatrix {
        let mut counts = vec![0usize; self.ncols + 1];
        for &j in &self.col_idx {
            counts[j as usize + 1] += 1;
        }
        for j in 0..self.ncols {
            counts[j + 1] += counts[j];
        }
        let mut next = counts.clone();
        let mut cols = vec![0u32; self.nnz()];
        let mut vals = vec![0.0; self.nnz()];
        for i in 0..self.nrows {
            let (c, v) = self.row(i);
            for (&j, &x) in c.iter().zip(v) {
                let k = next[j as usize];
                cols[k] = i as u32;
                vals[k] = x;
                next[j as usize] += 1;
            }
        }
        Self::from_parts_unchecked(self.ncols, self.nrows, counts, cols, vals)
    }

    /// Errors unless the matrix is square and numerically symmetric to relative tolerance
    /// `rtol` (entry-wise, relative to the largest absolute entry). Cost: O(nnz log).
    pub fn check_symmetric(&self, rtol: f64) -> Result<(), LinalgError> {
        if self.nrows != self.ncols {
            return Err(LinalgError::NotSquare {
                nrows: self.nrows,
                ncols: self.ncols,
            });
        }
        let scale = self.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, j, a) in self.triplets() {
            let b = self.get(j, i);
            if (a - b).abs() > rtol * scale {
                return Err(LinalgError::NotSymmetric {
                    row: i,
                    col: j,
                    a,
                    b,
                });
            }
        }
        Ok(())
    }

    /// The diagonal (0 where not stored).
    pub fn diag(&self) -> Vec<f64> {
        (0..self.nrows.min(self.ncols))
            .map(|i| self.get(i, i))
            .collect()
    }

    /// Converts to a faer sparse column matrix (for faer's sparse Cholesky / LU). For a
    /// symmetric matrix CSR and CSC coincide. Cost: O(nnz) copy.
    pub fn to_faer(&self) -> faer::sparse::SparseColMat<usize, f64> {
        let t = self.transpose();
        let symbolic = faer::sparse::SymbolicSparseColMat::new_checked(
            self.nrows,
            self.ncols,
            t.row_ptr.clone(),
            None,
            t.col_idx.iter().map(|&i| i as usize).collect(),
        );
        faer::sparse::SparseColMat::new(symbolic, t.values)
    }

    /// `y ← A x` for rows `rows`, writing `y[0..rows.len()]`.
    #[inline]
    fn spmv_rows(&self, rows: std::ops::Range<usize>, x: &[f64], y: &mut [f64]) {
        for (yi, i) in y.iter_mut().zip(rows) {
            let (a, b) = (self.row_ptr[i], self.row_ptr[i + 1]);
            let mut s = 0.0;
            for k in a..b {
                // SAFETY-free indexing: bounds were validated at construction, but we keep the
                // checked form; the compiler hoists most checks.
                s += self.values[k] * x[self.col_idx[k] as usize];
            }
            *yi = s;
        }
    }
}

impl LinearOperator for CsrMatrix {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    /// Parallel over row chunks of ~64k nonzeros. Cost: `12 nnz + 8 (nrows + ncols)` bytes of
    /// traffic (plus the row pointers).
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        assert_eq!(x.len(), self.ncols, "CSR apply: x length");
        assert_eq!(y.len(), self.nrows, "CSR apply: y length");
        if self.row_chunks.len() <= 2 {
            return self.spmv_rows(0..self.nrows, x, y);
        }
        // Split y into the row chunks and process them in parallel.
        let mut parts: Vec<(std::ops::Range<usize>, &mut [f64])> = Vec::new();
        let mut rest = y;
        for w in self.row_chunks.windows(2) {
            let (head, tail) = rest.split_at_mut(w[1] - w[0]);
            parts.push((w[0]..w[1], head));
            rest = tail;
        }
        parts
            .into_par_iter()
            .for_each(|(rows, yc)| self.spmv_rows(rows, x, yc));
    }
    fn diagonal(&self) -> Option<Vec<f64>> {
        Some(self.diag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets_sum_duplicates_and_sort() {
        let a =
            CsrMatrix::from_triplets(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 0, 3.0), (1, 2, 4.0)])
                .unwrap();
        assert_eq!(a.row_ptr(), &[0, 1, 3]);
        assert_eq!(a.col_idx(), &[1, 0, 2]);
        assert_eq!(a.values(), &[2.0, 3.0, 5.0]);
        let mut y = vec![0.0; 2];
        a.apply(&[1.0, 2.0, 3.0], &mut y);
        assert_eq!(y, vec![4.0, 18.0]);
        assert_eq!(a.transpose().transpose(), a);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(matches!(
            CsrMatrix::from_triplets(2, 2, &[(2, 0, 1.0)]),
            Err(LinalgError::IndexOutOfBounds { .. })
        ));
        assert!(matches!(
            CsrMatrix::from_triplets(2, 2, &[(0, 0, f64::NAN)]),
            Err(LinalgError::NonFinite { .. })
        ));
        let a = CsrMatrix::from_triplets(2, 2, &[(0, 1, 1.0), (1, 0, 2.0)]).unwrap();
        assert!(matches!(
            a.check_symmetric(1e-12),
            Err(LinalgError::NotSymmetric { .. })
        ));
    }

    #[test]
    fn parallel_matvec_matches_serial() {
        let n = 200_000;
        let mut t = Vec::new();
        for i in 0..n {
            t.push((i, i, 4.0));
            if i > 0 {
                t.push((i, i - 1, -1.0));
            }
            if i + 1 < n {
                t.push((i, i + 1, -1.0));
            }
        }
        let a = CsrMatrix::from_triplets(n, n, &t).unwrap();
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.01).cos()).collect();
        let mut y = vec![0.0; n];
        a.apply(&x, &mut y);
        let mut y2 = vec![0.0; n];
        a.spmv_rows(0..n, &x, &mut y2);
        assert_eq!(y, y2);
    }
}
