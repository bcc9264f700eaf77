//! Global sums for vectors split across processes.
//!
//! A Krylov solver's only global operations are its inner products and norms, its NaN/Inf and
//! shape checks, and the null-space projection (which the operator's
//! [`NullSpace`](ritz_linalg::NullSpace) does itself). With the vectors split across processes
//! (ritz-dist's MPI slabs) every process holds a part; the solvers compute each inner product on
//! their part and hand it to a [`Reduction`], which sums it over all parts — one all-reduce per
//! fused inner product. Every decision that follows (stop test, breakdown, scaling of `b`) then
//! uses the same numbers on every process, so no process leaves the iteration alone and
//! deadlocks the others.
//!
//! [`Local`] is the one-process reduction: nothing to sum, the serial path, bit for bit.
//!
//! ```
//! use ritz_krylov::reduce::{Local, Reduction};
//! let mut partial = [1.5, 2.0];
//! Local.sum(&mut partial);
//! assert_eq!(partial, [1.5, 2.0]);
//! assert_eq!(Local.sum1(3.0), 3.0);
//! ```

/// Sums partial values over every part of a split vector.
///
/// Implementations are collective: every part calls [`Reduction::sum`] the same number of
/// times, in the same order, with slices of the same length. Cost: one all-reduce of
/// `values.len()` doubles (nothing for [`Local`]).
pub trait Reduction: Sync {
    /// Replaces each entry of `values` by its sum over all parts.
    fn sum(&self, values: &mut [f64]);
    /// The sum of one value over all parts.
    fn sum1(&self, value: f64) -> f64 {
        let mut v = [value];
        self.sum(&mut v);
        v[0]
    }
    /// Replaces each entry of `values` by its maximum over all parts.
    fn max(&self, values: &mut [f64]);
    /// The maximum of one value over all parts.
    fn max1(&self, value: f64) -> f64 {
        let mut v = [value];
        self.max(&mut v);
        v[0]
    }
    /// Number of parts (processes).
    fn parts(&self) -> usize {
        1
    }
}

/// `‖x‖₂` of a vector split across the parts of `red`, free of overflow and underflow: for one
/// part exactly [`vector::norm2`](ritz_linalg::vector::norm2); otherwise the parts agree on the
/// largest magnitude first (one max-reduction) and sum squares scaled by a power of two near
/// its inverse (one sum), so that `10^±170 · x` has the norm of `x` times `10^±170`.
///
/// ```
/// use ritz_krylov::reduce::{Local, norm2};
/// assert_eq!(norm2(&Local, &[3.0, 4.0]), 5.0);
/// ```
pub fn norm2(red: &dyn Reduction, x: &[f64]) -> f64 {
    use ritz_linalg::vector;
    if red.parts() == 1 {
        return vector::norm2(x);
    }
    let m = red.max1(vector::norm_inf(x));
    if !(m.is_finite() && m > 0.0) {
        // Zero, or NaN/Inf somewhere: agree on that.
        let s = red.sum1(vector::dot(x, x));
        return if s.is_nan() { s } else { m };
    }
    let scale = vector::pow2_near_inverse(m);
    let local: f64 = x.iter().map(|v| (v * scale) * (v * scale)).sum();
    red.sum1(local).sqrt() / scale
}

/// One process holds the whole vector: sums are the values themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl Reduction for Local {
    #[inline]
    fn sum(&self, _: &mut [f64]) {}
    #[inline]
    fn max(&self, _: &mut [f64]) {}
}
