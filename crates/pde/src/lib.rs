//! `ritz-pde`: pressure-Poisson problems on MAC grids, as in fluid simulation.
//!
//! * [`MacGrid`]: a 2D or 3D cell grid whose cells are [`CellFlag::Fluid`], [`CellFlag::Solid`]
//!   or [`CellFlag::Air`], with configurable domain walls ([`Walls`]).
//! * [`PoissonProblem`]: the 7-point (5-point in 2D) Laplacian over fluid cells — Neumann at
//!   solid faces, Dirichlet `p = 0` at air faces — both matrix-free (a rayon-parallel stencil on
//!   grid-layout vectors, the fast path) and assembled ([`PoissonProblem::assemble`], CSR over the
//!   compact fluid numbering). Fluid regions that touch no Dirichlet face are singular; their
//!   constant null space is exposed per connected region.
//! * [`heldout`]: held-out geometries (porous medium, free-surface liquid) unlike every
//!   training scene, for measuring solvers on geometry they never saw.
//! * [`scenes`]: seeded scene generators (smoke plume, spheres, dam-break pillars, organic shape,
//!   closed box); [`rhs`]: right-hand sides like the papers' (divergence of smooth or buoyant
//!   velocity fields) and white noise.
//! * [`smoke`]: an incompressible smoke simulator (advection, buoyancy, projection through any
//!   [`smoke::PressureSolver`]) whose frames give the Poisson systems of fluid simulation.
//! * [`ic`]: IC(0) / MIC(0) preconditioners specialized to the grid (the fluid-simulation
//!   standard), with parallel wavefront triangular sweeps.
//! * [`multigrid`]: the geometric multigrid V-cycle of MGPCG ([`GridMultigrid`], f32 or f64),
//!   an SPD preconditioner for plain PCG; [`poisson::GridCholesky`] solves the coarsest
//!   levels that stay large.
//!
//! Grid layout: cell `(i, j, k)` has index `i + nx (j + ny k)` (x fastest); in 2D `nz = 1`.
//! Grid-layout vectors hold zeros at non-fluid cells.
//!
//! ```
//! use ritz_linalg::LinearOperator;
//! use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
//! let grid = Scene::Pillars.generate(2, 64, 1)?; // a dam break, 64 × 64 cells
//! let problem = PoissonProblem::new(grid)?;
//! let b = RhsKind::WhiteNoise.generate(&problem, 7);
//! let mut ab = vec![0.0; b.len()];
//! problem.apply(&b, &mut ab); // the matrix-free 5-point Laplacian, grid layout
//! assert_eq!(ab.len(), 64 * 64);
//! assert!(problem.num_fluid() < 64 * 64);
//! # Ok::<(), ritz_pde::PdeError>(())
//! ```

pub mod error;
pub mod grid;
pub mod heldout;
pub mod ic;
pub mod multigrid;
pub mod poisson;
pub mod rhs;
pub mod scenes;
pub mod smoke;

pub use error::PdeError;
pub use grid::{CellFlag, MacGrid, WallKind, WallPreset, Walls, check_cell_memory};
pub use ic::{GridIc0, IcVariant};
pub use multigrid::{
    Blocking, CoarseOperator, CycleData, GridMultigrid, LevelData, LevelWeights, MultigridParams,
    Precision, RELAXATION, SCHEDULE_LEVELS, SCHEDULE_PER_LEVEL, SCHEDULE_SWEEPS, Schedule,
    SlabExchange, SlabMultigrid,
};
pub use poisson::{ExportedPaths, PoissonProblem};
pub use scenes::Scene;
