//! `ritz`: learned and classical iterative solvers for large sparse SPD systems — the facade.
//!
//! One dependency for a program: the ritz crates as modules, and the solver catalogue with
//! the trained weights inside.
//!
//! - [`linalg`]: sparse matrices, operators, preconditioner traits, MatrixMarket/npy I/O.
//! - [`pde`]: MAC-grid pressure-Poisson problems, scenes, MGPCG's multigrid, grid IC(0), the
//!   smoke simulator.
//! - [`krylov`]: CG, PCG, flexible conjugate directions, deflated PCG, Lanczos, Cholesky.
//! - [`neural`] (feature `learned`, default): the DCDM CNN and stencil V-nets (burn), their
//!   training, fast inference and shipped weights.
//! - [`ot`]: optimal transport (Sinkhorn, Sinkhorn–Newton-Sparse, exact).
//! - [`second_order`]: Hessian operators and spectra, M-FAC, regularized Newton,
//!   equality-constrained SQP.
//! - [`control`]: the Poisson optimal-control problem on the MAC grid (pde's stencil under
//!   second-order's PDE-constrained problem).
//! - [`catalogue`]: every solver by name (`"mgpcg"`, `"mic0-csr"`, `"dcdm:k=16"`; [`CATALOGUE`]
//!   lists them), built once on a problem into a reusable [`Solver`] that reports setup and
//!   solve times and is the simulator's pressure solver.
//!
//! Without default features (`default-features = false`) burn is not compiled and the
//! learned solvers are refused with [`RitzError::FeatureDisabled`]; feature `cuda` adds
//! burn-cuda ([`Backend::Cuda`]).
//!
//! Solve a Poisson system with MGPCG:
//!
//! ```
//! use ritz::pde::{PoissonProblem, Scene, rhs::RhsKind};
//! let problem = PoissonProblem::new(Scene::Pillars.generate(3, 32, 1)?)?; // a dam break
//! let b = RhsKind::SmoothDivergence.generate(&problem, 0);
//! let mut solver = ritz::Solver::build(&"mgpcg".parse()?, &problem)?;
//! let mut x = vec![0.0; b.len()];
//! let report = solver.solve(&problem, &b, &mut x)?;
//! assert!(report.info.converged() && report.info.iterations < 20);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Run the smoke simulator with the shipped stencil net as its pressure solver:
//!
//! ```
//! use ritz::pde::smoke::{Smoke, SmokeParams, sphere_scene};
//! let mut sim = Smoke::new(sphere_scene(2, 48)?, SmokeParams::default())?;
//! let mut solver = ritz::Solver::build(&"stencil".parse()?, sim.problem())?;
//! for _ in 0..3 {
//!     let frame = sim.step(&mut solver)?;
//!     assert!(frame.divergence_after < 1e-4 * frame.divergence_before.max(1e-300));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalogue;
pub mod control;
pub mod error;
#[cfg(feature = "learned")]
pub mod learned;
pub mod solver;

pub use catalogue::{CATALOGUE, Entry, Method, Relaxation, SolverSpec};
pub use error::{Failure, RitzError};
#[cfg(feature = "learned")]
pub use learned::load_model;
pub use solver::{Backend, BuildOptions, SolveProfile, SolveReport, Solver, System};

pub use ritz_krylov as krylov;
pub use ritz_linalg as linalg;
#[cfg(feature = "learned")]
pub use ritz_neural_precond as neural;
pub use ritz_ot as ot;
pub use ritz_pde as pde;
pub use ritz_second_order as second_order;
