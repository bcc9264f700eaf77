//! Fused preconditioned-CG kernels: the interface through which an operator and an SPD
//! preconditioner that know their own storage run the vector work of a PCG iteration.
//!
//! Generic PCG makes about 15 passes over `f64` vectors per iteration besides the
//! preconditioner: the mat-vec, the residual update, `rᵀz`, the direction update, and — for a
//! preconditioner that works in another layout or precision (a single-precision V-cycle) —
//! the conversions in and out. An implementor of [`FusedPcg`] keeps `r`, `p` and `z` in its
//! own layout, narrows `r` for its preconditioner inside the residual update, reads `z` in its
//! narrow form where PCG uses it (never widening it to a vector of its own), and may recompute
//! `A p` instead of storing it. The iteration
//! itself (stop test, breakdown checks, history) stays with the Krylov solver
//! (`ritz_krylov::pcg_fused`), so the result is the same PCG, in fewer passes.
//!
//! The contract, for the SPD operator `A` and SPD preconditioner `M` the implementor
//! represents: [`FusedPcg::start`] sets `r = b − A x`; [`FusedPcg::precondition`] sets
//! `z = M r` (projected onto the range of a singular `A`) and returns `rᵀz`;
//! [`FusedPcg::restart_direction`] sets `p = z`; [`FusedPcg::curvature`] returns `pᵀA p`;
//! [`FusedPcg::update_residual`] sets `r ← r − α A p` and returns `rᵀr` (recomputing `A p` where
//! that is cheaper than storing it, as for a stencil); [`FusedPcg::update_direction`] sets
//! `x ← x + α p` then `p ← z + β p`; [`FusedPcg::update_solution`] sets `x ← x + α p`;
//! [`FusedPcg::update_direction_curvature`] is the direction update followed by `pᵀA p`, which
//! an implementor may fuse into one pass.
//! Non-finite values propagate into the returned scalars (the solver reports them); none of the
//! methods fails.

/// The vector work of preconditioned CG, fused by an implementor that owns the vectors `r`,
/// `p`, `z`; `x` and `b` stay in the caller's layout. See the [module docs](self).
pub trait FusedPcg {
    /// Length of the caller's vectors (`x`, `b`).
    fn dim(&self) -> usize;
    /// `r ← b − A x`; returns `rᵀr`.
    fn start(&mut self, b: &[f64], x: &[f64]) -> f64;
    /// `z ← M r`, projected onto the range of `A` when it is singular; returns `rᵀz`.
    fn precondition(&mut self) -> f64;
    /// `p ← z`.
    fn restart_direction(&mut self);
    /// `pᵀA p`.
    fn curvature(&mut self) -> f64;
    /// `r ← r − α A p`; returns `rᵀr`.
    fn update_residual(&mut self, alpha: f64) -> f64;
    /// `x ← x + α p`, then `p ← z + β p`.
    fn update_direction(&mut self, alpha: f64, beta: f64, x: &mut [f64]);
    /// `x ← x + α p`.
    fn update_solution(&mut self, alpha: f64, x: &mut [f64]);
    /// [`FusedPcg::update_direction`], then returns the new `pᵀA p` ([`FusedPcg::curvature`]).
    /// An implementor may do both in one pass over `p` (the default calls the two).
    fn update_direction_curvature(&mut self, alpha: f64, beta: f64, x: &mut [f64]) -> f64 {
        self.update_direction(alpha, beta, x);
        self.curvature()
    }
}
