//! Learned preconditioners for Poisson systems on MAC grids.
//!
//! - [`dcdm`]: the DCDM CNN of Kaneda et al. (ICML 2023), both published layouts, 2D and 3D.
//! - [`stencil`]: geometry-aware stencil V-nets (after Lan et al., ICML 2024) and an SPD
//!   variant that plain PCG accepts.
//! - [`fast`]: plain-Rust f32 inference for the stencil nets with per-solve cached stencils.
//! - [`data`], [`loss`], [`train`](mod@train): Ritz-vector training data, the scale-invariant
//!   loss with the Poisson operator inside the graph, and a resumable Adam trainer;
//!   [`recipe`]: the training configurations of the shipped networks.
//! - [`precond`]: adapters to ritz-linalg's preconditioner traits (f64 residual → f32 network
//!   → f64 direction), for ritz-krylov's iterations.
//! - [`device`]: PCG and flexible conjugate directions resident on one burn device (a GPU):
//!   only scalars cross to the host per iteration; `f64` iterative refinement on the host.
//! - [`model`]: the model zoo behind one interface, weight files and their checks;
//!   [`shipped`]: the trained weights embedded in the library.
//! - [`curvature`]: the bridge from burn to ritz-second-order — flat-parameter views of burn
//!   models and a finite-difference Hessian-vector product, so that second-order methods
//!   (M-FAC, Lanczos spectra) work on burn networks.
//!
//! Libraries stay generic over the burn backend `B`; binaries (xtask, examples) pick one. The
//! default CPU backend is burn-flex (feature `flex`); `ndarray` and `cuda` are features.
//!
//! The shipped stencil V-net as a preconditioner of the flexible conjugate-direction
//! iteration, on a geometry it never saw in training:
//!
//! ```
//! use ritz_krylov::{FcdParams, StopReason, fcd};
//! use ritz_neural_precond::{AnyModel, Geometry, StencilPreconditioner, burn::backend::Flex};
//! use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
//! let problem = PoissonProblem::new(Scene::Organic.generate(2, 64, 11)?)?;
//! let (_, model) = ritz_neural_precond::shipped::load_shipped::<Flex>("stencil", 2, &Default::default())?;
//! let AnyModel::Stencil(net) = model else { unreachable!() };
//! let m = StencilPreconditioner::new(&net, &Geometry::of(&problem))?;
//! let b = RhsKind::SmoothDivergence.generate(&problem, 1);
//! let mut x = vec![0.0; b.len()];
//! let info = fcd(&problem, &m, &b, &mut x, &FcdParams::default(), &mut ())?;
//! assert_eq!(info.stop, StopReason::Converged);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod curvature;
pub mod data;
pub mod dcdm;
pub mod device;
pub mod error;
pub mod fast;
pub mod geometry;
pub mod loss;
pub mod model;
pub mod ops;
pub mod precond;
pub mod recipe;
pub mod schedule;
pub mod shipped;
pub mod stencil;
pub mod train;

pub use burn;
pub use data::{Dataset, DatasetSpec};
pub use dcdm::{DcdmLayout, DcdmNet, DcdmNetConfig};
pub use error::NeuralError;
pub use fast::FastStencil;
pub use geometry::{Geometry, GridShape};
pub use model::{AnyModel, LearnedModel, ModelConfig, load_weights, save_weights};
pub use precond::{BurnPreconditioner, SpdStencilPreconditioner, StencilPreconditioner};
pub use stencil::{GeometryBatch, StencilNet, StencilNetConfig};
pub use train::{TrainConfig, TrainEvent, train};
