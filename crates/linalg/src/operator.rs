//! The [`LinearOperator`] trait: `y = A x` on `f64` slices.

use crate::nullspace::NullSpace;
use crate::vector;

/// A linear map `A: ℝⁿ → ℝᵐ` applied to contiguous `f64` slices.
///
/// Implementations should be parallel where it pays (all of ritz's are). Solvers check the
/// slice lengths of user input once, up front; inside `apply` a length mismatch is a violated
/// precondition and may panic.
pub trait LinearOperator: Sync {
    /// Number of rows `m` (length of `y`).
    fn nrows(&self) -> usize;
    /// Number of columns `n` (length of `x`).
    fn ncols(&self) -> usize;
    /// `y ← A x`.
    fn apply(&self, x: &[f64], y: &mut [f64]);
    /// `y ← A x` and returns `xᵀ y` (square operators). CG uses it for `pᵀ A p`; operators
    /// that can fuse the dot product into the mat-vec save two vector passes.
    fn apply_dot(&self, x: &[f64], y: &mut [f64]) -> f64 {
        self.apply(x, y);
        vector::dot(x, y)
    }
    /// The null space of a singular but symmetric positive *semi*-definite operator, if any.
    /// Solvers project right-hand sides and residuals with it, so singular consistent systems
    /// (all-Neumann Poisson regions) converge to the minimum-norm-in-each-region solution.
    fn null_space(&self) -> Option<&dyn NullSpace> {
        None
    }
    /// The diagonal of `A`, if cheaply available (used by the Jacobi preconditioner).
    fn diagonal(&self) -> Option<Vec<f64>> {
        None
    }
}

impl<T: LinearOperator + ?Sized> LinearOperator for &T {
    fn nrows(&self) -> usize {
        (**self).nrows()
    }
    fn ncols(&self) -> usize {
        (**self).ncols()
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        (**self).apply(x, y)
    }
    fn apply_dot(&self, x: &[f64], y: &mut [f64]) -> f64 {
        (**self).apply_dot(x, y)
    }
    fn null_space(&self) -> Option<&dyn NullSpace> {
        (**self).null_space()
    }
    fn diagonal(&self) -> Option<Vec<f64>> {
        (**self).diagonal()
    }
}

/// Computes the residual `r ← b − A x`. Cost: one mat-vec plus 3 passes.
pub fn residual(a: &dyn LinearOperator, b: &[f64], x: &[f64], r: &mut [f64]) {
    a.apply(x, r);
    vector::sub_from(b, r);
}
