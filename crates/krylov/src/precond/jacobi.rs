//! Jacobi (diagonal) preconditioning.

use ritz_linalg::{LinalgError, LinearOperator, Preconditioner, SpdPreconditioner};

/// `z = D⁻¹ r`, with zero where the diagonal is zero (inactive cells of grid-layout vectors).
#[derive(Debug, Clone)]
pub struct Jacobi {
    inv_diag: Vec<f64>,
}

impl Jacobi {
    /// From the operator's diagonal. Errors if the operator exposes no diagonal, or a diagonal
    /// entry is negative or non-finite (the matrix cannot be SPD).
    pub fn new(a: &dyn LinearOperator) -> Result<Self, LinalgError> {
        let d = a.diagonal().ok_or_else(|| LinalgError::NotSpd {
            reason: "operator exposes no diagonal for Jacobi".into(),
        })?;
        Self::from_diagonal(&d)
    }
    /// From an explicit diagonal.
    pub fn from_diagonal(d: &[f64]) -> Result<Self, LinalgError> {
        ritz_linalg::error::check_finite("diagonal", d)?;
        if let Some(i) = d.iter().position(|&v| v < 0.0) {
            return Err(LinalgError::NotSpd {
                reason: format!("negative diagonal entry {} at row {i}", d[i]),
            });
        }
        Ok(Self {
            inv_diag: d
                .iter()
                .map(|&v| if v > 0.0 { 1.0 / v } else { 0.0 })
                .collect(),
        })
    }
}

impl Preconditioner for Jacobi {
    fn dim(&self) -> usize {
        self.inv_diag.len()
    }
    /// Cost: 3 passes, parallel.
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        use rayon::prelude::*;
        z.par_chunks_mut(ritz_linalg::vector::CHUNK)
            .zip(r.par_chunks(ritz_linalg::vector::CHUNK))
            .zip(self.inv_diag.par_chunks(ritz_linalg::vector::CHUNK))
            .for_each(|((z, r), d)| {
                for ((zi, ri), di) in z.iter_mut().zip(r).zip(d) {
                    *zi = ri * di;
                }
            });
    }
    fn name(&self) -> String {
        "Jacobi".into()
    }
}
impl SpdPreconditioner for Jacobi {}
