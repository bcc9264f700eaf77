//! `ritz-ot`: optimal transport between histograms, point clouds and grid densities.
//!
//! * Problems ([`OtProblem`]): histograms with a cost matrix, weighted point clouds with a
//!   [`GroundCost`] (squared Euclidean, L1, Euclidean to a power `p`, Minkowski `p`), densities
//!   on regular 2D grids ([`GridDensity`], W₁ / W₂), and the random assignment benchmark.
//!   Validated once: shapes, NaN/∞, negative mass and unequal total mass are typed
//!   [`OtError`]s; zero-mass bins are allowed.
//! * Entropic solvers ([`sinkhorn`](mod@sinkhorn)): Sinkhorn's scaling form, the stabilized
//!   (absorption) scaling form, log-domain Sinkhorn, ε-scaling — stable at `η = 1200` and
//!   beyond (vectorized log-sum-exp, rayon-parallel rows).
//! * [`sns::sinkhorn_newton_sparse`]: Sinkhorn warm-up, then Newton on the dual with a
//!   sparsified Hessian solved by krylov's PCG on the consistent Schur-complement system,
//!   with a backtracking line search. Tens of iterations where Sinkhorn needs tens of
//!   thousands.
//! * [`emd`] ([`network_simplex`]): exact OT by the network simplex with block-search
//!   pivoting (POT's `ot.emd` method), dense costs or sparse supports ([`emd_sparse`]), a
//!   sparse vertex plan and optimal dual potentials with an independent [`certificate`];
//!   [`exact::emd_ssp`] (successive shortest paths) is its test oracle.
//!
//! Every solver returns an [`OtSolution`]: plan (dense and/or CSR), dual potentials,
//! transport and entropic costs, the dual value (duality gap), marginal errors, and a
//! per-iteration history of marginal error against elapsed time, with a [`StopReason`].
//!
//! ```
//! use ritz_ot::{OtProblem, SnsParams, sinkhorn_newton_sparse};
//! let problem = OtProblem::random_assignment(100, 0)?;
//! let params = SnsParams { eta: 200.0, ..Default::default() };
//! let solution = sinkhorn_newton_sparse(&problem, &params, &mut ())?;
//! assert!(solution.marginal_error() < 1e-8);
//! # Ok::<(), ritz_ot::OtError>(())
//! ```
//!
//! Convention: `η` is the inverse regularization (POT's `reg = 1/η`); see [`solution`].

pub mod costs;
pub mod error;
pub mod exact;
pub mod io;
pub mod kernels;
pub mod network_simplex;
pub mod problem;
pub mod sinkhorn;
pub mod sns;
pub mod solution;

pub use costs::{CloudCosts, Costs};
pub use error::OtError;
pub use io::{CostScale, OtInput, PointClouds, read_clouds, read_problem};
pub use network_simplex::{
    Certificate, NetworkSimplexParams, certificate, certificate_sparse, emd, emd_sparse, emd_with,
};
pub use problem::{GridDensity, GroundCost, OtProblem};
pub use ritz_krylov::Monitor;
pub use sinkhorn::{
    EpsilonScaling, SinkhornParams, sinkhorn, sinkhorn_epsilon_scaling, sinkhorn_log,
    sinkhorn_log_on_the_fly, sinkhorn_stabilized,
};
pub use sns::{SnsParams, sinkhorn_newton_sparse, sns_on_the_fly};
pub use solution::{HistoryEntry, OtSolution, SnsStats, StopReason, TransportPlan};
