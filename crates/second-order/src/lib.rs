//! `ritz-second-order`: curvature for optimization and machine learning.
//!
//! * [`objective`]: the [`Objective`] interface (value, gradient, curvature-vector products for
//!   the Hessian, Gauss–Newton and empirical Fisher), an evaluation counter, and curvature
//!   matrices as linalg operators.
//! * [`models`]: least squares, logistic and softmax regression, and a one-hidden-layer MLP with
//!   an exact Hessian-vector product (Pearlmutter's R-operator).
//! * [`data`]: datasets, CSV, standardization, two real datasets shipped in `data/` (UCI
//!   breast cancer and handwritten digits), seeded synthetic sets.
//! * [`spectra`]: top eigenvalues (Lanczos), trace (Hutchinson, Hutch++), spectral density
//!   (stochastic Lanczos quadrature, Gaussian broadening).
//! * [`mfac`]: M-FAC inverse-Hessian-vector products, static and sliding-window, and the
//!   M-FAC optimizer.
//! * [`optim`]: gradient-normalized regularized Newton (adaptive γ), damped Newton, gradient
//!   descent.
//! * [`constrained`]: equality-constrained problems (objective, constraints, Jacobian,
//!   Hessian of the Lagrangian) and the Hock–Schittkowski test set with exact derivatives by
//!   hyper-dual numbers.
//! * [`control`]: distributed control of a linear elliptic equation (PDE-constrained; the
//!   Poisson case on the MAC grid is built by the facade's `ritz::control`).
//! * [`sqp`]: SQP with the exact augmented Lagrangian merit function and exact, sketched
//!   (sketch-and-project) or MINRES solves of the KKT systems under an adaptive accuracy
//!   condition.
//!
//! burn has no double backward; a finite-difference HVP adapter for burn models lives in
//! `ritz_neural_precond::curvature`, checked against [`models::Mlp`]'s exact HVP.
//!
//! Every optimizer takes a monitor (`()`, or any `FnMut(iteration, ‖∇f‖)`) and stops with the
//! [`StopReason`] vocabulary shared with the Krylov and optimal-transport solvers.
//!
//! Regularized Newton on the UCI breast-cancer set (logistic regression, ℓ₂ = 1e-3):
//!
//! ```
//! use ritz_second_order::{LogisticRegression, Objective, RegNewtonParams, regularized_newton};
//! let obj = LogisticRegression::new(ritz_second_order::data::breast_cancer(), 1e-3)?;
//! let x0 = vec![0.0; obj.dim()];
//! let res = regularized_newton(&obj, &x0, &RegNewtonParams::default(), &mut ())?;
//! assert!(res.grad_norm() <= 1e-8);
//! assert!(res.history.len() < 100);
//! # Ok::<(), ritz_second_order::SecondOrderError>(())
//! ```

pub mod constrained;
pub mod control;
pub mod data;
pub mod error;
pub mod mfac;
pub mod models;
pub mod objective;
pub mod optim;
pub mod spectra;
pub mod sqp;

pub use data::Dataset;
pub use error::SecondOrderError;
pub use mfac::{DynamicMfac, MfacOptimizer, MfacParams, StaticMfac};
pub use models::{LeastSquares, LogisticRegression, Mlp, SoftmaxRegression};
pub use objective::{Counted, Curvature, CurvatureOperator, Objective};
pub use optim::{
    DampedNewtonParams, GdParams, LinearSolve, OptimResult, RegNewtonParams, StopReason,
    damped_newton, gradient_descent, regularized_newton,
};
pub use ritz_krylov::Monitor;
