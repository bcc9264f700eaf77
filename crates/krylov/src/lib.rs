//! `ritz-krylov`: iterative solvers for symmetric positive (semi-)definite systems, and for
//! the indefinite (KKT) systems of constrained optimization.
//!
//! Every solver is a free function taking the operator, right-hand side, a mutable initial
//! guess (overwritten by the solution), a parameters struct with `Default`, and a [`Monitor`]
//! (an observer, separate from the stop test). Each returns a [`SolveInfo`]: iterations, the
//! relative residual history and a [`StopReason`]. Non-convergence is a stop reason; bad input
//! (shapes, NaN/Inf) and detected indefiniteness (`pᵀAp ≤ 0`) are [`KrylovError`]s; a residual
//! that grows past `dtol · ‖b‖` stops with [`StopReason::Diverged`]. A right-hand side of any
//! magnitude (`10^±150 · b`, `10^-170 · b`) takes the iterations of `b`: outside
//! `‖b‖ ∈ [2⁻⁶⁴, 2⁶⁴]` the system is scaled by an exact power of two first.
//!
//! * [`cg()`]: conjugate gradients with fused kernels (10 vector passes + one mat-vec per step).
//! * [`pcg()`]: preconditioned CG; the preconditioner must be an
//!   [`SpdPreconditioner`](ritz_linalg::SpdPreconditioner).
//! * [`cg_with`], [`pcg_with`], [`pcg_fused_with`]: the same iterations on vectors split
//!   across processes, their inner products summed by a [`reduce::Reduction`] (MPI in
//!   ritz-dist).
//! * [`fcd()`]: the flexible (truncated) conjugate-direction iteration of DCDM, for any — even
//!   nonlinear — [`Preconditioner`](ritz_linalg::Preconditioner).
//! * [`deflation`]: deflated PCG with a given basis (e.g. Ritz vectors).
//! * [`lanczos`]: Lanczos with full reorthogonalization; Ritz values and vectors.
//! * [`precond`]: Jacobi and CSR incomplete Cholesky IC(0) / MIC(0).
//! * [`direct`]: sparse Cholesky (faer), the exact reference.
//! * [`minres()`]: MINRES for symmetric indefinite systems.
//! * [`sketch`]: randomized iterative sketching (sketch-and-project: randomized Kaczmarz,
//!   block, Gaussian and count sketches) for general square systems.
//!
//! MGPCG on a 32³ scene, the solver most users run:
//!
//! ```
//! use ritz_krylov::{SolveParams, StopReason, pcg};
//! use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene, rhs::RhsKind};
//! let problem = PoissonProblem::new(Scene::Spheres.generate(3, 32, 0)?)?;
//! let b = RhsKind::SmoothDivergence.generate(&problem, 0);
//! let mg = GridMultigrid::new(&problem, MultigridParams::default())?;
//! let mut x = vec![0.0; b.len()];
//! let info = pcg(&problem, &mg, &b, &mut x, &SolveParams::default(), &mut ())?;
//! assert_eq!(info.stop, StopReason::Converged);
//! assert!(info.iterations < 20);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cg;
pub mod deflation;
pub mod direct;
pub mod error;
pub mod fcd;
pub mod lanczos;
pub mod minres;
pub mod precond;
pub mod reduce;
pub mod sketch;
pub mod solve;

pub use cg::{cg, cg_with, pcg, pcg_fused, pcg_fused_with, pcg_with};
pub use error::{KrylovError, Partial};
pub use fcd::{FcdParams, fcd};
pub use minres::minres;
pub use sketch::{Sketch, SketchParams, sketch_and_project};
pub use solve::{Monitor, SolveInfo, SolveParams, StopReason};
