//! The scale-invariant training loss of DCDM: for each sample `b` and prediction `q = f(b)`,
//! `α = qᵀb / qᵀAq` and `loss = ‖b − α A q‖²`, averaged over the batch. `A` is the masked
//! Poisson operator applied inside the burn graph ([`crate::ops::laplacian`]), so gradients
//! flow through it. `α` is the exact line-search step, so the loss measures the direction,
//! not its scale: it is invariant to scaling `q` by any non-zero constant.
//!
//! [`energy_loss`] measures the same step in the norm conjugate-direction methods minimize:
//! the A-norm of the error after the exact line search, relative to before,
//! `1 − (qᵀb)² / (qᵀAq · bᵀA⁻¹b)` (the squared A-sine of the angle between `q` and the
//! solution `A⁻¹b`; `bᵀA⁻¹b` comes with the data). Measured here: training a multigrid-like
//! stencil net on the residual loss lowers that loss while the Krylov iteration counts grow
//! (the 2-norm of a residual is dominated by high frequencies that the next iterations remove
//! anyway), whereas the energy loss tracks iteration counts. See docs/neural.md.

use crate::ops::{batch_dot, laplacian};
use crate::stencil::GeometryBatch;
use burn::tensor::{Tensor, backend::Backend};

/// Batch mean of `‖b − α A q‖²` (see the module docs). Shapes: `q`, `b` `[B, 1, D, H, W]`.
/// A zero prediction (`qᵀAq = 0`) gives `‖b‖²`, never NaN.
pub fn scale_invariant_loss<B: Backend>(
    q: Tensor<B, 5>,
    b: Tensor<B, 5>,
    geo: &GeometryBatch<B>,
) -> Tensor<B, 1> {
    let [n, ..] = q.dims();
    let aq = laplacian(q.clone(), geo.mask.clone(), geo.diag.clone(), geo.shape);
    let qb = batch_dot(q.clone(), b.clone());
    let qaq = batch_dot(q, aq.clone()).clamp_min(1e-30);
    let alpha = (qb / qaq).reshape([n, 1, 1, 1, 1]);
    let res = b - aq * alpha;
    batch_dot(res.clone(), res).mean()
}

/// Batch mean of `1 − (qᵀb)² / (qᵀAq · bᵀA⁻¹b)` (see the module docs). `energy [B]` holds
/// `bᵀA⁻¹b`. Scale-invariant in `q`; in `[0, 1]` up to rounding.
pub fn energy_loss<B: Backend>(
    q: Tensor<B, 5>,
    b: Tensor<B, 5>,
    energy: Tensor<B, 1>,
    geo: &GeometryBatch<B>,
) -> Tensor<B, 1> {
    let aq = laplacian(q.clone(), geo.mask.clone(), geo.diag.clone(), geo.shape);
    let qb = batch_dot(q.clone(), b);
    let qaq = batch_dot(q, aq).clamp_min(1e-30);
    let ratio = qb.clone() * qb / (qaq * energy.clamp_min(1e-30));
    (ratio.neg().add_scalar(1.0)).mean()
}
