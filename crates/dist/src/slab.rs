//! Slab decomposition of a MAC grid and the distributed matrix-free Poisson operator.
//!
//! The grid is cut into slabs of whole planes along its slowest axis (z in 3D, y in 2D), one
//! slab per rank, in units of `2^d` planes so that a V-cycle can split `d` levels
//! ([`slab_decomposition`]). A rank keeps its slab plus one ghost plane on
//! each side that has a neighbour, as a local [`PoissonProblem`] on that extended grid: the
//! stencil of an owned cell next to a ghost plane then sees the neighbour's flags (fluid,
//! solid, air) exactly as the serial operator does, so every owned entry of `A x` is the serial
//! one, bit for bit. A product fills the ghost planes from the neighbours (two paired
//! send/receives of one plane each) and applies the local stencil.
//!
//! Vectors are a rank's owned cells in grid layout (x fastest), zero outside the fluid.
//! Floating (all-Neumann) regions are found from the slabs — each rank's regions, merged across
//! the slab interfaces by a union–find over the gathered region ids — and projected out
//! globally: one all-reduce of the per-region sums.
//!
//! With one rank the operator *is* the serial problem (no ghosts, no copies): CG on it is the
//! serial CG bit for bit.

use crate::comm::Communicator;
use crate::error::DistError;
use ritz_linalg::{LinearOperator, NullSpace};
use ritz_pde::{MacGrid, PoissonProblem};
use std::ops::Range;
use std::sync::Mutex;

/// The planes of each of `parts` slabs of an axis of `n` planes: `n / parts` each, the first
/// `n % parts` slabs one more.
///
/// ```
/// use ritz_dist::slab::slab_planes;
/// assert_eq!(slab_planes(10, 3), vec![0..4, 4..7, 7..10]);
/// ```
pub fn slab_planes(n: usize, parts: usize) -> Vec<Range<usize>> {
    let (base, rem) = (n / parts.max(1), n % parts.max(1));
    let mut start = 0;
    (0..parts)
        .map(|r| {
            let len = base + usize::from(r < rem);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// The slabs of an axis of `n` planes for `parts` ranks, in whole units of `unit = 2^d`
/// planes (the last slab ends at `n`): `d ≤ 6` as large as keeps every slab at least one
/// unit long and none more than a quarter above the mean `n / parts`; else `unit = 1` and
/// [`slab_planes`]. A split V-cycle can split `d` levels: on level `l < d` every rank still
/// owns at least `2^(d − l) ≥ 2` planes.
///
/// ```
/// use ritz_dist::slab::slab_decomposition;
/// assert_eq!(slab_decomposition(128, 2), (64, vec![0..64, 64..128]));
/// assert_eq!(slab_decomposition(100, 3), (8, vec![0..40, 40..72, 72..100]));
/// ```
pub fn slab_decomposition(n: usize, parts: usize) -> (usize, Vec<Range<usize>>) {
    let parts = parts.max(1);
    let limit = 1.25 * n as f64 / parts as f64;
    for d in (1..=6).rev() {
        let unit = 1usize << d;
        let ranges: Vec<Range<usize>> = slab_planes(n.div_ceil(unit), parts)
            .into_iter()
            .map(|r| (r.start * unit).min(n)..(r.end * unit).min(n))
            .collect();
        if ranges
            .iter()
            .all(|r| r.len() >= unit && r.len() as f64 <= limit)
        {
            return (unit, ranges);
        }
    }
    (1, slab_planes(n, parts))
}

/// This rank's part of a distributed MAC-grid Poisson problem (see the module docs).
pub struct SlabPoisson<'c> {
    comm: &'c dyn Communicator,
    /// Cells per plane.
    plane: usize,
    /// Owned planes of the slab axis.
    planes: Range<usize>,
    /// Ghost planes below / above the owned ones.
    ghosts: [usize; 2],
    /// The decomposition's unit ([`slab_decomposition`]).
    unit: usize,
    /// The extended slab (`None` when it holds no fluid cell: its products are zero).
    local: Option<PoissonProblem>,
    /// The ghost planes' iterate below / above (empty without a neighbour there).
    ghost: Mutex<(Vec<f64>, Vec<f64>)>,
    null: Option<SlabNullSpace<'c>>,
    global_cells: usize,
}

impl<'c> SlabPoisson<'c> {
    /// This rank's slab of the Poisson problem on `grid` (the whole grid, the same on every
    /// rank).
    ///
    /// Cost: the local problem on the extended slab (a pass over its cells), and the floating
    /// regions merged across the slabs: each rank labels its slab's connected regions, the
    /// labels of the boundary planes go to the neighbours, and two all-reduces gather every
    /// rank's regions, air contacts and interface pairs for a union–find that every rank runs
    /// (small: regions, not cells). Memory: the slab's, plus the whole grid's flags the
    /// caller passes in. Collective.
    ///
    /// Errors: more ranks than planes along the slab axis ([`DistError::TooManyRanks`]); the
    /// problem's own errors (no fluid anywhere, sizes beyond memory).
    ///
    /// ```
    /// use ritz_dist::{comm::ThreadComm, slab::SlabPoisson};
    /// use ritz_pde::Scene;
    /// let grid = Scene::Spheres.generate(2, 32, 0)?;
    /// let lens = ThreadComm::run(2, |c| SlabPoisson::new(&grid, c).map(|p| p.len()));
    /// assert_eq!(lens.into_iter().map(|l| l.unwrap()).sum::<usize>(), 32 * 32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(grid: &MacGrid, comm: &'c dyn Communicator) -> Result<Self, DistError> {
        let dim = grid.dim();
        let dims = grid.dims();
        let axis = dim - 1;
        let n_axis = dims[axis];
        let (rank, size) = (comm.rank(), comm.size());
        if size > n_axis {
            return Err(DistError::TooManyRanks {
                ranks: size,
                planes: n_axis,
            });
        }
        let plane: usize = dims[..axis].iter().product();
        let (unit, all) = slab_decomposition(n_axis, size);
        let planes = all[rank].clone();
        let ghosts = [
            usize::from(planes.start > 0),
            usize::from(planes.end < n_axis),
        ];
        if size == 1 {
            let problem = PoissonProblem::new(grid.clone())?;
            return Ok(Self {
                comm,
                plane,
                planes,
                ghosts,
                unit,
                local: Some(problem),
                ghost: Mutex::new((Vec::new(), Vec::new())),
                null: None,
                global_cells: grid.len(),
            });
        }
        // The extended slab: owned planes and ghosts, the domain's walls except at ghost ends.
        let local_grid = grid.slab(planes.start - ghosts[0]..planes.end + ghosts[1])?;
        let local = match PoissonProblem::new(local_grid) {
            Ok(p) => Some(p),
            Err(ritz_pde::PdeError::NoFluid) => None,
            Err(e) => return Err(e.into()),
        };
        let null = floating_regions(local.as_ref(), ghosts, plane, planes.len(), comm);
        Ok(Self {
            comm,
            plane,
            planes,
            ghosts,
            unit,
            local,
            ghost: Mutex::new((vec![0.0; ghosts[0] * plane], vec![0.0; ghosts[1] * plane])),
            null,
            global_cells: grid.len(),
        })
    }

    /// Number of owned cells (the length of this rank's vectors).
    pub fn len(&self) -> usize {
        self.planes.len() * self.plane
    }
    /// True when this rank owns no cell (never: every rank owns at least one plane).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The owned cells' flat indices in the whole grid.
    pub fn owned(&self) -> Range<usize> {
        self.planes.start * self.plane..self.planes.end * self.plane
    }
    /// The owned planes along the slab axis.
    pub fn planes(&self) -> Range<usize> {
        self.planes.clone()
    }
    /// The decomposition's unit of planes ([`slab_decomposition`]).
    pub fn unit(&self) -> usize {
        self.unit
    }
    /// Whether a rank owns the planes below / above this one's.
    pub fn neighbours(&self) -> [bool; 2] {
        [self.ghosts[0] == 1, self.ghosts[1] == 1]
    }
    /// The communicator.
    pub fn comm(&self) -> &'c dyn Communicator {
        self.comm
    }
    /// This rank's part of a whole-grid vector (a copy of the owned entries).
    ///
    /// Errors: a vector whose length is not the grid's.
    pub fn scatter(&self, global: &[f64]) -> Result<Vec<f64>, DistError> {
        ritz_linalg::error::check_len("whole-grid vector", self.global_cells, global.len())?;
        Ok(global[self.owned()].to_vec())
    }
    /// The whole-grid vector from every rank's part, on every rank (one all-reduce of the
    /// whole grid: for checks and output, not for the iteration).
    pub fn gather(&self, local: &[f64]) -> Vec<f64> {
        let mut g = vec![0.0; self.global_cells];
        g[self.owned()].copy_from_slice(local);
        self.comm.sum(&mut g);
        g
    }

    /// Fills the ghost planes `below` / `above` from the neighbours: this rank's first owned
    /// plane goes down while the upper neighbour's first plane comes up, then the reverse.
    fn exchange(&self, x: &[f64], below: &mut [f64], above: &mut [f64]) {
        let (p, rank) = (self.plane, self.comm.rank());
        let down = (self.ghosts[0] == 1).then(|| rank - 1);
        let up = (self.ghosts[1] == 1).then(|| rank + 1);
        let n = x.len();
        self.comm.sendrecv(&x[..p], down, above, up);
        self.comm.sendrecv(&x[n - p..], up, below, down);
    }

    fn apply_local(&self, x: &[f64], y: &mut [f64]) -> f64 {
        assert_eq!(x.len(), self.len(), "slab apply: x length");
        assert_eq!(y.len(), self.len(), "slab apply: y length");
        if self.ghosts == [0, 0] {
            // One rank: the serial operator itself.
            return match &self.local {
                Some(p) => p.apply_dot(x, y),
                None => {
                    y.fill(0.0);
                    0.0
                }
            };
        }
        let mut guard = self.ghost.lock().unwrap_or_else(|e| e.into_inner());
        let (below, above) = &mut *guard;
        self.exchange(x, below, above);
        match &self.local {
            Some(p) => p.apply_slab(below, x, above, y),
            None => {
                y.fill(0.0);
                0.0
            }
        }
    }
}

impl LinearOperator for SlabPoisson<'_> {
    fn nrows(&self) -> usize {
        self.len()
    }
    fn ncols(&self) -> usize {
        self.len()
    }
    /// `y = A x` on the owned cells: two ghost-plane exchanges, the local stencil. Collective.
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        self.apply_local(x, y);
    }
    /// The product with this rank's part of `xᵀ A x` (krylov sums it over the ranks).
    fn apply_dot(&self, x: &[f64], y: &mut [f64]) -> f64 {
        self.apply_local(x, y)
    }
    fn null_space(&self) -> Option<&dyn NullSpace> {
        if self.ghosts == [0, 0] {
            return self.local.as_ref().and_then(|p| p.null_space());
        }
        self.null.as_ref().map(|n| n as &dyn NullSpace)
    }
}

/// The constants on floating regions, projected out across the ranks.
struct SlabNullSpace<'c> {
    comm: &'c dyn Communicator,
    /// Region of each owned cell (`u32::MAX`: none).
    labels: Vec<u32>,
    /// Cells of each region in the whole grid.
    counts: Vec<f64>,
}

impl NullSpace for SlabNullSpace<'_> {
    fn dim(&self) -> usize {
        self.counts.len()
    }
    /// Subtracts each region's mean: local sums, one all-reduce, a pass. Collective.
    fn project(&self, v: &mut [f64]) {
        let mut sums = vec![0.0; self.counts.len()];
        for (&l, &x) in self.labels.iter().zip(v.iter()) {
            if let Some(s) = sums.get_mut(l as usize) {
                *s += x;
            }
        }
        self.comm.sum(&mut sums);
        for (m, c) in sums.iter_mut().zip(&self.counts) {
            *m /= c.max(1.0);
        }
        for (&l, x) in self.labels.iter().zip(v.iter_mut()) {
            if let Some(m) = sums.get(l as usize) {
                *x -= m;
            }
        }
    }
}

/// The floating regions of the whole grid, found from the slabs (see [`SlabPoisson::new`]):
/// `None` when every region touches air. Collective.
fn floating_regions<'c>(
    local: Option<&PoissonProblem>,
    ghosts: [usize; 2],
    plane: usize,
    owned_planes: usize,
    comm: &'c dyn Communicator,
) -> Option<SlabNullSpace<'c>> {
    let (rank, size) = (comm.rank(), comm.size());
    let n_ext = (ghosts[0] + owned_planes + ghosts[1]) * plane;
    let no_region = vec![u32::MAX; n_ext];
    let (region, air): (&[u32], &[bool]) = match local {
        Some(p) => (p.regions(), p.region_has_air()),
        None => (&no_region, &[]),
    };
    // Global region ids: this rank's local ids after the lower ranks'.
    let mut counts = vec![0.0; size];
    counts[rank] = air.len() as f64;
    comm.sum(&mut counts);
    let offset: usize = counts[..rank].iter().map(|&c| c as usize).sum();
    let total: usize = counts.iter().map(|&c| c as usize).sum();
    let global = |r: u32| {
        if r == u32::MAX {
            -1.0
        } else {
            (offset + r as usize) as f64
        }
    };
    // The neighbours' ids of the cells of this rank's ghost planes.
    let lo = ghosts[0] * plane;
    let hi = lo + owned_planes * plane;
    let first: Vec<f64> = region[lo..lo + plane].iter().map(|&r| global(r)).collect();
    let last: Vec<f64> = region[hi - plane..hi].iter().map(|&r| global(r)).collect();
    let down = (ghosts[0] == 1).then(|| rank - 1);
    let up = (ghosts[1] == 1).then(|| rank + 1);
    let (mut from_below, mut from_above) =
        (vec![0.0; ghosts[0] * plane], vec![0.0; ghosts[1] * plane]);
    comm.sendrecv(&first, down, &mut from_above, up);
    comm.sendrecv(&last, up, &mut from_below, down);
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (mine, theirs) in [(&region[..lo], &from_below), (&region[hi..], &from_above)] {
        for (&m, &t) in mine.iter().zip(theirs.iter()) {
            if m != u32::MAX && t >= 0.0 {
                pairs.push((offset + m as usize, t as usize));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    // Every rank's air contacts and pairs, on every rank (sums of disjoint slots).
    let mut grounded = vec![0.0; total];
    for (r, &a) in air.iter().enumerate() {
        grounded[offset + r] = f64::from(u8::from(a));
    }
    comm.sum(&mut grounded);
    let mut npairs = vec![0.0; size];
    npairs[rank] = pairs.len() as f64;
    comm.sum(&mut npairs);
    let pair_offset: usize = npairs[..rank].iter().map(|&c| c as usize).sum();
    let all_pairs: usize = npairs.iter().map(|&c| c as usize).sum();
    let mut flat = vec![0.0; 2 * all_pairs];
    for (i, &(a, b)) in pairs.iter().enumerate() {
        flat[2 * (pair_offset + i)] = a as f64;
        flat[2 * (pair_offset + i) + 1] = b as f64;
    }
    comm.sum(&mut flat);
    // Union–find over the regions (the same on every rank); a class floats when none of its
    // regions touches air; floating classes are numbered by their smallest region id.
    let mut parent: Vec<usize> = (0..total).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for pair in flat.chunks_exact(2) {
        let (a, b) = (
            find(&mut parent, pair[0] as usize),
            find(&mut parent, pair[1] as usize),
        );
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut root_air = vec![false; total];
    for i in 0..total {
        let r = find(&mut parent, i);
        root_air[r] |= grounded[i] > 0.0;
    }
    let mut float_id = vec![u32::MAX; total];
    let mut nfloat = 0u32;
    for i in 0..total {
        if find(&mut parent, i) == i && !root_air[i] {
            float_id[i] = nfloat;
            nfloat += 1;
        }
    }
    if nfloat == 0 {
        return None;
    }
    let labels: Vec<u32> = region[lo..hi]
        .iter()
        .map(|&r| {
            if r == u32::MAX {
                u32::MAX
            } else {
                float_id[find(&mut parent, offset + r as usize)]
            }
        })
        .collect();
    let mut cells = vec![0.0; nfloat as usize];
    for &l in &labels {
        if let Some(c) = cells.get_mut(l as usize) {
            *c += 1.0;
        }
    }
    comm.sum(&mut cells);
    Some(SlabNullSpace {
        comm,
        labels,
        counts: cells,
    })
}
