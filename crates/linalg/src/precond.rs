//! Preconditioner traits.
//!
//! [`Preconditioner`] is any map `r ↦ z ≈ A⁻¹ r`, possibly nonlinear or varying between calls
//! (a neural network, an inner iterative solve). Only flexible methods (flexible conjugate
//! directions, FCG) may use such maps. [`SpdPreconditioner`] is a marker for maps that are
//! linear, symmetric and positive definite; plain PCG requires it in its type signature, so a
//! nonlinear preconditioner cannot be passed to PCG by mistake.

/// A map `r ↦ z` approximating the action of `A⁻¹`.
pub trait Preconditioner: Sync {
    /// Length of `r` and `z`.
    fn dim(&self) -> usize;
    /// `z ← M⁻¹ r`. `z` holds garbage on entry and must be fully written.
    fn apply(&self, r: &[f64], z: &mut [f64]);
    /// Short name for tables and logs.
    fn name(&self) -> String {
        "preconditioner".into()
    }
}

/// Marker: the preconditioner is a fixed linear map `z = M⁻¹ r` with `M⁻¹` symmetric positive
/// definite (on the range of the operator, for singular systems). Implement it only when this
/// holds exactly (up to rounding); PCG's convergence theory depends on it.
pub trait SpdPreconditioner: Preconditioner {}

impl<T: Preconditioner + ?Sized> Preconditioner for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        (**self).apply(r, z)
    }
    fn name(&self) -> String {
        (**self).name()
    }
}
impl<T: SpdPreconditioner + ?Sized> SpdPreconditioner for &T {}

/// `z = r`: turns PCG into CG. Cost: 2 passes.
#[derive(Debug, Clone, Copy)]
pub struct IdentityPreconditioner {
    /// Dimension.
    pub n: usize,
}

impl Preconditioner for IdentityPreconditioner {
    fn dim(&self) -> usize {
        self.n
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        crate::vector::copy(r, z);
    }
    fn name(&self) -> String {
        "identity".into()
    }
}
impl SpdPreconditioner for IdentityPreconditioner {}
