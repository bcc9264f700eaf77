//! Distributed MGPCG: pde's V-cycle split into the slabs of a [`SlabPoisson`], under krylov's
//! PCG on split vectors.
//!
//! The `split` finest levels are computed by each rank on its own planes, with red–black
//! halo exchanges per colour ([`ritz_pde::SlabMultigrid`]); the first level under
//! [`SlabVcycleParams::gather_cells`] cells (or the first too thin to split) is gathered onto
//! every rank by one all-reduce and the rest of the V-cycle, coarsest solve included, runs on
//! each rank redundantly — one collective instead of a gather and a broadcast. The split
//! V-cycle computes the serial V-cycle's values on every rank's planes, so distributed MGPCG
//! takes the serial MGPCG's iterations; on one rank it *is* the serial solver, bit for bit.
//!
//! Memory: a rank holds its window of the split levels (its slab plus `2^split` planes on
//! each side at the finest level, fewer below) and the gathered levels whole.

use crate::comm::Communicator;
use crate::error::DistError;
use crate::slab::SlabPoisson;
use ritz_krylov::{Monitor, SolveInfo, SolveParams};
use ritz_linalg::{Preconditioner, SpdPreconditioner};
use ritz_pde::{MacGrid, MultigridParams, SlabExchange, SlabMultigrid};

/// Parameters of [`SlabVcycle`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlabVcycleParams {
    /// The V-cycle's own parameters (the serial MGPCG's defaults).
    pub multigrid: MultigridParams,
    /// Levels with fewer cells than this are gathered onto every rank (default 32768: below
    /// it the serial kernels run on one thread, and a level's exchanges cost more than its
    /// work).
    pub gather_cells: usize,
}

impl Default for SlabVcycleParams {
    fn default() -> Self {
        Self {
            multigrid: MultigridParams::default(),
            gather_cells: 1 << 15,
        }
    }
}

/// This rank's share of the MGPCG V-cycle on a [`SlabPoisson`]'s slabs: an SPD
/// preconditioner on the rank's cells, collective (every rank applies it once per call).
pub struct SlabVcycle<'c> {
    part: SlabMultigrid,
    link: Link<'c>,
}

impl<'c> SlabVcycle<'c> {
    /// The V-cycle of the problem on `grid` (the whole grid, as given to `a`), split along
    /// `a`'s slabs.
    ///
    /// Cost: the rank's window of the split levels (its share of the serial setup plus
    /// `2^(split+1)` finest planes), two all-reduces of the gathered level's flags and
    /// conductances, and the gathered levels' setup on every rank. Collective. Errors: the
    /// hierarchy's ([`ritz_pde::GridMultigrid::new`]) and [`SlabMultigrid::new`]'s.
    ///
    /// ```
    /// use ritz_dist::{comm::ThreadComm, mg::{SlabVcycle, SlabVcycleParams}, mgpcg, slab::SlabPoisson};
    /// use ritz_krylov::SolveParams;
    /// use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
    /// let grid = Scene::Spheres.generate(3, 32, 0)?;
    /// let b = RhsKind::SmoothDivergence.generate(&PoissonProblem::new(grid.clone())?, 0);
    /// let iterations = ThreadComm::run(2, |c| {
    ///     let a = SlabPoisson::new(&grid, c).unwrap();
    ///     let m = SlabVcycle::new(&grid, &a, SlabVcycleParams::default()).unwrap();
    ///     let mut x = vec![0.0; a.len()];
    ///     mgpcg(&a, &m, &a.scatter(&b).unwrap(), &mut x, &SolveParams::default(), &mut ())
    ///         .unwrap()
    ///         .iterations
    /// });
    /// assert_eq!(iterations[0], iterations[1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        grid: &MacGrid,
        a: &SlabPoisson<'c>,
        params: SlabVcycleParams,
    ) -> Result<Self, DistError> {
        // The levels the serial hierarchy would have (coarsening by 2, ceil, while a level
        // has more than `coarsest_cells` cells and every side at least 4).
        let (dim, mut dims) = (grid.dim(), grid.dims());
        let mp = params.multigrid;
        let mut split = 0;
        let by_unit = a.unit().trailing_zeros() as usize;
        while a.comm().size() > 1 && split < by_unit {
            let cells: usize = dims.iter().product();
            let side = dims[..dim].iter().copied().min().unwrap_or(0);
            if cells < params.gather_cells || cells <= mp.coarsest_cells || side < 4 {
                break;
            }
            split += 1;
            for d in dims.iter_mut().take(dim) {
                *d = d.div_ceil(2);
            }
        }
        let [below, above] = a.neighbours();
        let rank = a.comm().rank();
        let link = Link {
            comm: a.comm(),
            below: below.then(|| rank - 1),
            above: above.then(|| rank + 1),
        };
        let part = SlabMultigrid::new(grid, a.planes(), split, mp, &link)?;
        Ok(Self { part, link })
    }

    /// Levels split across the ranks (the coarser ones are gathered).
    pub fn split_levels(&self) -> usize {
        self.part.split_levels()
    }
    /// Number of levels of the V-cycle.
    pub fn num_levels(&self) -> usize {
        self.part.num_levels()
    }
}

impl Preconditioner for SlabVcycle<'_> {
    fn dim(&self) -> usize {
        self.part.dim()
    }
    /// One split V-cycle on this rank's residual. Collective.
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        self.part.apply(&self.link, r, z);
    }
    fn name(&self) -> String {
        self.part.name()
    }
}

/// The split V-cycle computes the serial V-cycle, an SPD map.
impl SpdPreconditioner for SlabVcycle<'_> {}

/// The split V-cycle's messages over a communicator.
struct Link<'c> {
    comm: &'c dyn Communicator,
    below: Option<usize>,
    above: Option<usize>,
}

impl SlabExchange for Link<'_> {
    fn exchange(
        &self,
        to_below: &[u8],
        to_above: &[u8],
        from_below: &mut [u8],
        from_above: &mut [u8],
    ) {
        // Downwards first (the lower planes go down while the upper neighbour's come), then
        // upwards: two paired exchanges, no cycle of waits.
        self.comm
            .sendrecv_bytes(to_below, self.below, from_above, self.above);
        self.comm
            .sendrecv_bytes(to_above, self.above, from_below, self.below);
    }
    fn sum(&self, v: &mut [f64]) {
        self.comm.sum(v);
    }
}

/// MGPCG on a distributed Poisson problem: krylov's PCG on split vectors (three all-reduces
/// per iteration) with the split V-cycle `m`. `b` and `x` are this rank's parts.
///
/// Cost per iteration: one distributed product, one split V-cycle, three all-reduces.
/// Collective. Errors: as [`ritz_krylov::pcg()`], on every rank.
pub fn mgpcg(
    a: &SlabPoisson<'_>,
    m: &SlabVcycle<'_>,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, DistError> {
    Ok(ritz_krylov::pcg_with(
        a,
        m,
        b,
        x,
        params,
        monitor,
        a.comm(),
    )?)
}
