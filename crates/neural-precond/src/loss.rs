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
//!
//! [`unrolled_energy_loss`] follows the iteration itself for `K` steps: each step feeds the
//! current residual to the network, A-orthogonalizes the direction against the earlier ones
//! (the flexible conjugate-direction method with all directions kept) and takes the exact
//! step. The loss is the geometric-mean energy reduction per step, `(E_K / E_0)^{1/K}`, with
//! gradients through every step, including the residuals the network itself produced. A
//! one-step loss sees only the data's right-hand sides; after the first step the iteration
//! feeds the network residuals shaped by its own errors, which the data never shows. With
//! `K = 1` it equals the energy loss.

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

/// Batch mean over samples of `(E_K / E_0)^{1/K}`: the energy `E = eᵀAe` of the error after
/// `steps = K` steps of the flexible conjugate-direction iteration from `x = 0`, relative to
/// `E_0 = bᵀA⁻¹b` (`energy [B]`), as a geometric mean per step (see the module docs).
/// `predict` maps residuals to directions (the network); directions are A-orthogonalized
/// against all earlier ones, so `E_K = E_0 − Σ_j (p_jᵀ r_j)² / p_jᵀAp_j` exactly.
///
/// Cost: `K` network applications and `K` operator applications per sample, forward and
/// backward; memory grows linearly in `K`. A zero direction removes nothing and never gives
/// NaN; the relative energy is floored at 1e-12 (f32 rounding of `E_0 − Σ`).
pub fn unrolled_energy_loss<B: Backend>(
    predict: impl Fn(Tensor<B, 5>) -> Tensor<B, 5>,
    b: Tensor<B, 5>,
    energy: Tensor<B, 1>,
    geo: &GeometryBatch<B>,
    steps: usize,
) -> Tensor<B, 1> {
    let steps = steps.max(1);
    let [n, ..] = b.dims();
    let col = |t: Tensor<B, 1>| t.reshape([n, 1, 1, 1, 1]);
    let mut r = b;
    // Kept directions: (p, Ap, pᵀAp).
    let mut kept: Vec<(Tensor<B, 5>, Tensor<B, 5>, Tensor<B, 1>)> = Vec::with_capacity(steps);
    let mut removed = Tensor::<B, 1>::zeros([n], &r.device());
    for j in 0..steps {
        let mut p = predict(r.clone());
        let mut ap = laplacian(p.clone(), geo.mask.clone(), geo.diag.clone(), geo.shape);
        for (pi, api, papi) in &kept {
            let beta = col(batch_dot(api.clone(), p.clone()) / papi.clone());
            p = p - pi.clone() * beta.clone();
            ap = ap - api.clone() * beta;
        }
        let pap = batch_dot(p.clone(), ap.clone()).clamp_min(1e-30);
        let pr = batch_dot(p.clone(), r.clone());
        removed = removed + pr.clone() * pr.clone() / pap.clone();
        if j + 1 < steps {
            r = r - ap.clone() * col(pr / pap.clone());
            kept.push((p, ap, pap));
        }
    }
    let rel = (removed / energy.clamp_min(1e-30))
        .neg()
        .add_scalar(1.0)
        .clamp_min(1e-12);
    (rel.log() / steps as f64).exp().mean()
}
