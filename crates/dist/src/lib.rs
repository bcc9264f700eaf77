//! `ritz-dist`: MAC-grid Poisson solves on grids split across processes.
//!
//! - [`comm`]: the [`Communicator`](comm::Communicator) the solvers need (global sums and
//!   maxima — krylov's [`Reduction`](ritz_krylov::reduce::Reduction) — and neighbour
//!   send/receive), with [`ThreadComm`](comm::ThreadComm) (ranks as threads: every
//!   distributed path runs in `cargo test` without MPI) and, with feature `mpi`,
//!   `mpi_comm::MpiComm` over rsmpi and the system's Open MPI.
//! - [`slab`]: slabs of whole planes along the slowest axis, one per rank, with one ghost plane
//!   per neighbour; the distributed matrix-free operator (every owned entry of `A x` equals the
//!   serial one bit for bit) and the floating regions' null space projected across ranks.
//! - [`mg`]: MGPCG — pde's V-cycle split into the slabs (red–black halo exchange per colour,
//!   small levels gathered onto every rank), under krylov's PCG on split vectors ([`mgpcg`]).
//! - [`cg`]: krylov's CG on the split vectors — the same code as the serial solver, its inner
//!   products summed by the communicator (two all-reduces per iteration); NaN/Inf and shape
//!   checks agreed by all ranks, so one rank's bad input cannot leave the others waiting.
//!
//! One rank is the serial solver, bit for bit; more ranks take the serial iterations (± 1)
//! and reach the serial solution to the tolerance.
//!
//! ```
//! use ritz_dist::{cg, comm::ThreadComm, slab::SlabPoisson};
//! use ritz_krylov::SolveParams;
//! use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
//! let grid = Scene::Spheres.generate(3, 16, 0)?;
//! let b = RhsKind::SmoothDivergence.generate(&PoissonProblem::new(grid.clone())?, 0);
//! let iterations = ThreadComm::run(2, |c| {
//!     let a = SlabPoisson::new(&grid, c).unwrap();
//!     let bl = a.scatter(&b).unwrap();
//!     let mut x = vec![0.0; a.len()];
//!     cg(&a, &bl, &mut x, &SolveParams::default(), &mut ()).unwrap().iterations
//! });
//! assert_eq!(iterations[0], iterations[1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod comm;
pub mod error;
pub mod mg;
#[cfg(feature = "mpi")]
pub mod mpi_comm;
pub mod slab;

pub use error::DistError;
pub use mg::mgpcg;

use ritz_krylov::{Monitor, SolveInfo, SolveParams};
use slab::SlabPoisson;

/// Conjugate gradients on a distributed Poisson problem: `b` and `x` are this rank's parts.
///
/// Cost per iteration: one distributed product (two ghost-plane exchanges of one plane each),
/// two all-reduces, krylov's 10 vector passes over the owned cells. Collective: every rank
/// calls it with the same parameters and gets the same `SolveInfo`.
///
/// Errors: as [`ritz_krylov::cg()`], on every rank (a NaN on one rank fails them all).
pub fn cg(
    a: &SlabPoisson<'_>,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, DistError> {
    Ok(ritz_krylov::cg_with(a, b, x, params, monitor, a.comm())?)
}
