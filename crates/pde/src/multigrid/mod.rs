//! Geometric multigrid on the MAC grid: the V-cycle preconditioner of MGPCG (McAdams, Sifakis,
//! Teran 2010), the production pressure solver of fluid simulation.
//!
//! * **Coarsening** by 2 along every axis (ceil for odd sizes) down to about 4³ cells (a 64-cell coarsest level costs nothing to solve exactly and needs no more iterations than 8³). A coarse
//!   cell is *air* if any child is air (Dirichlet conditions survive), else *fluid* if any child
//!   is fluid, else *solid*; domain walls are kept. The finest level is [`PoissonProblem`]'s
//!   unit-spacing stencil; the coarse levels' operators are either rediscretized the same way
//!   or, by default, **area-weighted** ([`CoarseOperator`]): each coarse face conducts the
//!   fraction of the finest faces inside it that are open, so a porous medium's narrow
//!   channels keep their conductance on coarse grids whose grains coarsening has shrunk
//!   (porous 128³: 22 → 16 iterations, docs/mgpcg.md).
//! * **Transfers**: cell-centred trilinear prolongation `P` (weights ¾, ¼ per axis) and
//!   restriction `R = (4 / 2^d) Pᵀ` — the transpose, scaled for the `h² → (2h)²` change of the
//!   unit-spacing stencil — so that the coarse-grid correction is symmetric.
//! * **Smoothing**: red–black SOR (Gauss–Seidel over-relaxed by `ω`,
//!   [`MultigridParams::relaxation`]), `ν₁` sweeps red→black before and `ν₂` sweeps
//!   black→red after the coarse correction (the adjoint order), plus extra sweeps over the
//!   cells next to a non-fluid cell (McAdams et al.'s boundary smoothing; its effect is in
//!   docs/results.md), mirrored the same way. The V-cycle is therefore a
//!   symmetric positive definite linear map — a valid [`SpdPreconditioner`] for plain PCG.
//! * **Coarsest level**: exact, through the dense pseudo-inverse of its matrix (floating
//!   regions make it singular; the pseudo-inverse is still symmetric), or, above 512 unknowns
//!   (coarsening stopped early by a short side), a sparse Cholesky factorization with the
//!   floating regions pinned and projected — the same map `A⁺`, so setup stays linear on any
//!   aspect ratio.
//! * Matrix-free and rayon-parallel (levels under 32k cells on the calling thread); the
//!   V-cycle runs in `f64` or `f32` ([`Precision`]) under `f64` Krylov arithmetic.
//! * **Storage**: red–black split — each colour `(i + j + k) % 2` stored on its own, line by
//!   line, with zero slots around every line and zero ghost lines and planes, so a half-sweep
//!   streams only the two colours' halves it touches, with unit stride and no bounds tests.
//! * **Fused MGPCG** ([`GridMultigrid::fused`], run by `ritz_krylov::pcg_fused`): PCG's own
//!   vectors in the same layout, the residual narrowed into the V-cycle inside its update, the
//!   V-cycle's output used in place — the iteration of PCG with this preconditioner, in fewer
//!   passes over memory (docs/mgpcg.md).
//!
//! Internal vectors are zero at non-fluid cells and padding slots at all times, so the kernels
//! need no flag test for neighbours: a non-fluid neighbour contributes its zero.
//!
//! Files: [`hierarchy`](self) the split layout, levels and coarsening; `export` the cycle in
//! natural order ([`CycleData`]); `conductance` the
//! area-weighted coarse operators; `smooth` Gauss–Seidel and residuals; `transfer` prolongation and the fused residual–restriction; `pcg` the fused
//! PCG kernels; [`profile`] per-kernel timing; this file holds the parameters and the cycle.
//!
//! Cost per V-cycle: `2(ν₁ + ν₂)` half-sweeps (each streaming half the cells' `x` and `b` of
//! one colour and the other colour's `x`), the boundary sweeps over their cells, one fused
//! residual–restriction and one prolongation on the fine grid, times 8/7 for the coarser
//! levels (3D). Setup: two parallel passes over the cells per level and the first touch of the
//! scratch (about 4 `f32` and, for fused MGPCG, 2 `f64` vectors of the grid's size).

mod conductance;
mod export;
mod hierarchy;
mod pcg;
pub mod profile;
mod slab;
mod smooth;
mod transfer;

pub use export::{CycleData, LevelData, MAX_DENSE_COARSEST};
pub use hierarchy::coarsen;
pub use pcg::MgpcgKernels;
pub use profile::{Kernel, KernelStats, MgpcgProfile};
pub use slab::{SlabExchange, SlabMultigrid};

use crate::error::PdeError;
use crate::poisson::PoissonProblem;
use conductance::Conductance;
use hierarchy::{Level, fill, natural_from, split_from};
use profile::{Recorder, at_level, start, stop};
use rayon::prelude::*;
use ritz_linalg::{DenseMatrix, LinearOperator, Preconditioner, SpdPreconditioner};
use smooth::{Stage, Start, gs_cells, half_sweep, wave};
use std::sync::Mutex;
use transfer::{prolong_add, prolong_ring_len, residual_restrict, ring_len};
#[cfg(test)]
use {smooth::residual, transfer::restrict};

/// Arithmetic of the V-cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    /// Double precision.
    F64,
    /// Single precision (half the memory traffic; the Krylov method stays in `f64`).
    F32,
}

/// The operator of the coarse levels.
///
/// ```
/// use ritz_pde::{CoarseOperator, GridMultigrid, MultigridParams, PoissonProblem, Scene};
/// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
/// for coarse_operator in [CoarseOperator::AreaWeighted, CoarseOperator::Rediscretized] {
///     let params = MultigridParams { coarse_operator, ..Default::default() };
///     assert!(GridMultigrid::new(&p, params)?.num_levels() >= 2);
/// }
/// # Ok::<(), ritz_pde::PdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CoarseOperator {
    /// The unit-coefficient Laplacian of the coarsened flags (rediscretization, as in McAdams
    /// et al.): cheapest to apply, but a porous medium's coarse grids, whose grains shrink
    /// under coarsening, conduct far more than its fine grid.
    Rediscretized,
    /// Face conductances averaged from the level below: each coarse face conducts the fraction
    /// of the finest faces inside it that are open. The same as `Rediscretized` where the
    /// fluid is open, and the coarse grids keep the fine grid's conductance in narrow
    /// channels. Costs seven more `f32` reads per coarse cell update (the coarse levels
    /// together are an eighth of the work in 3D).
    AreaWeighted,
}

/// Temporal blocking of the V-cycle's smoothing: each smoothing phase (the half-sweeps and
/// the boundary sweeps before, or after, the coarse correction) as one wavefront over the
/// planes, which loads each plane from memory once for all its half-sweeps instead of once
/// per half-sweep. The result is the same bit for bit; only the time differs.
///
/// ```
/// use ritz_pde::{Blocking, GridMultigrid, MultigridParams, PoissonProblem, Scene};
/// let p = PoissonProblem::new(Scene::Spheres.generate(3, 24, 0)?)?;
/// let x: Vec<f64> = (0..p.num_cells()).map(|c| (c % 7) as f64 * p.fluid_mask()[c] as f64).collect();
/// let mut out = Vec::new();
/// for temporal_blocking in [Blocking::Always, Blocking::Off] {
///     let mg = GridMultigrid::new(&p, MultigridParams { temporal_blocking, ..Default::default() })?;
///     let mut z = vec![0.0; x.len()];
///     ritz_linalg::Preconditioner::apply(&mg, &x, &mut z);
///     out.push(z);
/// }
/// assert_eq!(out[0], out[1]);
/// # Ok::<(), ritz_pde::PdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Blocking {
    /// The half-sweeps one after another, each a pass over the level (parallel over lines).
    Off,
    /// A wavefront on the levels whose smoothing data (`x`, `b`, cell codes) exceed the
    /// last-level cache, where it saves memory traffic; half-sweeps on the others, where
    /// the data stay in cache and the half-sweeps' finer parallel work balances better.
    Auto,
    /// A wavefront on every level wide enough for it (tests and measurements).
    Always,
}

/// Parameters of [`GridMultigrid`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultigridParams {
    /// Red–black SOR sweeps before the coarse correction.
    pub pre_smooth: usize,
    /// Sweeps after it (in the reverse colour order).
    pub post_smooth: usize,
    /// Stop coarsening once a level has at most this many cells.
    pub coarsest_cells: usize,
    /// Extra Gauss–Seidel sweeps over the cells next to a non-fluid cell, after the pre- and
    /// before the post-smoothing (McAdams et al.'s boundary smoothing: the error there is what
    /// the coarse grid, whose boundary is blurred by coarsening, corrects worst). Default 2:
    /// with area-weighted coarse operators two sweeps take less time per solve than four
    /// (McAdams et al.'s choice, and the best with rediscretized ones); docs/mgpcg.md.
    pub boundary_sweeps: usize,
    /// Arithmetic of the V-cycle.
    pub precision: Precision,
    /// The operator of the coarse levels.
    pub coarse_operator: CoarseOperator,
    /// Temporal blocking of the smoothing ([`Blocking`]; default [`Blocking::Auto`]).
    pub temporal_blocking: Blocking,
    /// The relaxation weight `ω` of every smoothing and boundary sweep: red–black SOR, `x ←
    /// (1 − ω) x + ω x_GS`; 1 is Gauss–Seidel. Any `0 < ω < 2` keeps the V-cycle symmetric
    /// and positive definite (the post-smoothing is the pre-smoothing's adjoint); over-
    /// relaxation damps the smooth error the coarse grid leaves near boundaries faster.
    /// Default: [`RELAXATION`], the best of the weights measured in docs/mgpcg.md.
    pub relaxation: f32,
    /// Per-level weights ([`Schedule`]: one `ω` per sweep, one for the boundary sweeps, a
    /// scale of the coarse correction, an exponent of the area-weighted coarse operator) that
    /// replace `relaxation` — hand-set, or learned from training geometry
    /// (`ritz_neural_precond::schedule`, the `learned` solver). `None` (the default): every
    /// sweep relaxes with `relaxation`, the coarse correction is added unscaled, the coarse
    /// operators are area-weighted as they are.
    pub schedule: Option<Schedule>,
}

/// [`GridMultigrid::modelled_passes`]: PCG's fused kernels per iteration (operator, residual
/// update, `rᵀz`, direction update, the rest), 14.0 passes at 128³ in docs/mgpcg.md.
pub const PCG_PASSES: f64 = 14.0;
/// [`GridMultigrid::modelled_passes`]: one red or black half-sweep over a whole level, per
/// cell of the level (9.2 passes for the 8 half-sweeps of V(2,2) on all levels at 128³).
pub const HALF_SWEEP_PASSES: f64 = 1.0;
/// [`GridMultigrid::modelled_passes`]: a level's fused residual–restriction and its
/// prolongation, per cell of the level (5.5 + 4.4 passes on all levels at 128³).
pub const TRANSFER_PASSES: f64 = 8.7;
/// [`GridMultigrid::modelled_passes`]: one boundary cell's update in a boundary sweep, in
/// passes per finest cell — a gather, far dearer per cell than a streamed half-sweep (12–15
/// on the spheres, porous and liquid grids of docs/mgpcg.md at 128³).
pub const BOUNDARY_CELL_PASSES: f64 = 13.0;

/// Whole-level sweeps per smoothing phase a [`Schedule`] weighs one by one (more are refused).
pub const SCHEDULE_SWEEPS: usize = 4;

/// Levels a [`Schedule`] weighs one by one; its last entry serves every coarser level.
pub const SCHEDULE_LEVELS: usize = 4;

/// The relaxation weights of one level of the V-cycle, the scale of the coarse correction it
/// receives, and the exponent of its coarse operator.
///
/// The V-cycle stays symmetric positive definite when every `ω` lies in `(0, 2)`: each SOR
/// half-sweep is then an `A`-self-adjoint contraction, and the post-smoothing runs the
/// pre-smoothing's half-sweeps in reverse order with the same weights (its adjoint). The
/// correction scale must be positive; past about 2 the cycle may stop being positive
/// definite, which the Krylov method reports as a breakdown — hence `(0, 2)` is required.
/// Any positive exponent keeps the coarse operator a symmetric, diagonally dominant
/// Laplacian; `(0, 4)` is required.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LevelWeights {
    /// `ω` of the whole-level sweeps, in pre-smoothing order (the post-smoothing uses them
    /// reversed): sweep `k` of a phase of `ν` sweeps uses entry `k`.
    pub sweeps: [f32; SCHEDULE_SWEEPS],
    /// `ω` of the boundary sweeps.
    pub boundary: f32,
    /// `α` in `x ← x + α P e_c`: the scale of the coarse-grid correction this level receives.
    pub correction: f32,
    /// `p` of an area-weighted coarse level's operator: each face conducts `g^p`, `g` the
    /// fraction of the finest faces inside it that are open (1: [`CoarseOperator::AreaWeighted`]
    /// itself). `p > 1` makes a partly blocked face conduct less than its open area — a
    /// narrow channel's resistance adds up along it. Unused on the finest level (the
    /// problem's own operator) and with [`CoarseOperator::Rediscretized`]. Changing it
    /// changes the hierarchy: [`GridMultigrid::set_schedule`] refuses that.
    #[serde(default = "unit_exponent")]
    pub conductance_exponent: f32,
    /// Whole-level sweeps of each smoothing phase on this level, 1 to [`SCHEDULE_SWEEPS`]
    /// (`None`: [`MultigridParams::pre_smooth`]). A coarse level's sweep costs an eighth of
    /// the finer one's (a quarter in 2D), so more sweeps there buy rate cheaply
    /// ([`GridMultigrid::modelled_passes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_count: Option<u8>,
}

fn unit_exponent() -> f32 {
    1.0
}

impl LevelWeights {
    /// Every sweep relaxed with `omega`, the coarse correction unscaled, the area-weighted
    /// coarse operator as it is.
    pub const fn uniform(omega: f32) -> Self {
        Self {
            sweeps: [omega; SCHEDULE_SWEEPS],
            boundary: omega,
            correction: 1.0,
            conductance_exponent: 1.0,
            sweep_count: None,
        }
    }
}

/// Scalars per level of a [`Schedule`] ([`Schedule::to_vec`]).
pub const SCHEDULE_PER_LEVEL: usize = SCHEDULE_SWEEPS + 3;

/// Per-level [`LevelWeights`] of a V-cycle (level 0 is the finest; the last entry serves
/// every level from [`SCHEDULE_LEVELS`]` − 1` down). A handful of scalars that cost nothing
/// per iteration: the V-cycle's kernels and bytes are those of uniform SOR, its setup that of
/// the area-weighted hierarchy.
///
/// ```
/// use ritz_pde::{GridMultigrid, LevelWeights, MultigridParams, PoissonProblem, Scene, Schedule};
/// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
/// let mut schedule = Schedule::uniform(1.3);
/// schedule.levels[0] = LevelWeights {
///     sweeps: [1.5, 1.1, 1.0, 1.0],
///     boundary: 1.2,
///     correction: 1.1,
///     conductance_exponent: 1.0,
///     sweep_count: None,
/// };
/// schedule.levels[2].sweep_count = Some(4); // four sweeps per phase on level 2
/// schedule.levels[1].conductance_exponent = 1.5;
/// let mg = GridMultigrid::new(&p, MultigridParams { schedule: Some(schedule), ..Default::default() })?;
/// assert!(mg.num_levels() >= 2);
/// // Weights outside (0, 2) are refused.
/// schedule.levels[1].boundary = 2.5;
/// assert!(GridMultigrid::new(&p, MultigridParams { schedule: Some(schedule), ..Default::default() }).is_err());
/// # Ok::<(), ritz_pde::PdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    /// The weights per level, finest first.
    pub levels: [LevelWeights; SCHEDULE_LEVELS],
}

impl Schedule {
    /// Every level [`LevelWeights::uniform`]`(omega)`: the same cycle as
    /// [`MultigridParams::relaxation`]` = omega` without a schedule.
    pub const fn uniform(omega: f32) -> Self {
        Self {
            levels: [LevelWeights::uniform(omega); SCHEDULE_LEVELS],
        }
    }
    /// The weights of level `l`.
    pub fn level(&self, l: usize) -> LevelWeights {
        self.levels[l.min(SCHEDULE_LEVELS - 1)]
    }
    /// The schedule of the hierarchy below level `k` (its level 0 is this one's level `k`).
    pub fn from_level(&self, k: usize) -> Self {
        Self {
            levels: std::array::from_fn(|l| self.level(k + l)),
        }
    }
    /// The schedule's scalars, level by level ([`SCHEDULE_PER_LEVEL`] each): the sweep
    /// weights, the boundary weight, the correction scale, the conductance exponent (what a
    /// learner varies).
    pub fn to_vec(&self) -> Vec<f32> {
        self.levels
            .iter()
            .flat_map(|w| {
                w.sweeps
                    .into_iter()
                    .chain([w.boundary, w.correction, w.conductance_exponent])
            })
            .collect()
    }
    /// The inverse of [`Schedule::to_vec`] (sweep counts `None`); `None` on a length other than
    /// `SCHEDULE_LEVELS · SCHEDULE_PER_LEVEL`.
    pub fn from_slice(v: &[f32]) -> Option<Self> {
        let per = SCHEDULE_PER_LEVEL;
        (v.len() == SCHEDULE_LEVELS * per).then(|| Self {
            levels: std::array::from_fn(|l| {
                let w = &v[l * per..(l + 1) * per];
                LevelWeights {
                    sweeps: std::array::from_fn(|k| w[k]),
                    boundary: w[SCHEDULE_SWEEPS],
                    correction: w[SCHEDULE_SWEEPS + 1],
                    conductance_exponent: w[SCHEDULE_SWEEPS + 2],
                    sweep_count: None,
                }
            }),
        })
    }
    /// The open interval entry `i` of [`Schedule::to_vec`] must lie in: `(0, 4)` for the
    /// conductance exponents, `(0, 2)` for the rest.
    pub fn range(i: usize) -> (f32, f32) {
        if i % SCHEDULE_PER_LEVEL == SCHEDULE_SWEEPS + 2 {
            (0.0, 4.0)
        } else {
            (0.0, 2.0)
        }
    }
    /// `Err` unless every entry lies in its [`Schedule::range`] (NaN included) and every
    /// sweep count in `1..=`[`SCHEDULE_SWEEPS`].
    pub fn validate(&self) -> Result<(), PdeError> {
        for (l, w) in self.levels.iter().enumerate() {
            if let Some(c) = w.sweep_count
                && (c == 0 || c as usize > SCHEDULE_SWEEPS)
            {
                return Err(PdeError::Unsupported(format!(
                    "level {l} of a relaxation schedule asks for {c} sweeps per smoothing \
                     phase; 1 to {SCHEDULE_SWEEPS} are weighed"
                )));
            }
        }
        for (i, w) in self.to_vec().into_iter().enumerate() {
            let (lo, hi) = Self::range(i);
            if !(w > lo && w < hi) {
                return Err(PdeError::Unsupported(format!(
                    "entry {i} of a relaxation schedule must lie in ({lo}, {hi}) for the \
                     V-cycle to be symmetric positive definite (got {w})"
                )));
            }
        }
        Ok(())
    }
    /// The conductance exponents per level (what the hierarchy depends on).
    fn exponents(&self) -> [f32; SCHEDULE_LEVELS] {
        self.levels.map(|w| w.conductance_exponent)
    }
}

impl MultigridParams {
    /// The weights level `l` smooths with: the schedule's, else uniform `relaxation`.
    pub fn weights(&self, l: usize) -> LevelWeights {
        match &self.schedule {
            Some(s) => s.level(l),
            None => LevelWeights::uniform(self.relaxation),
        }
    }
    /// The whole-level sweeps of each smoothing phase of level `l`: the schedule's count,
    /// else [`MultigridParams::pre_smooth`] (equal to `post_smooth`: the cycle is symmetric).
    pub fn sweeps(&self, l: usize) -> usize {
        self.weights(l)
            .sweep_count
            .map_or(self.pre_smooth, usize::from)
    }
}

/// The default [`MultigridParams::relaxation`].
pub const RELAXATION: f32 = 1.3;

impl Default for MultigridParams {
    fn default() -> Self {
        Self {
            pre_smooth: 2,
            post_smooth: 2,
            coarsest_cells: 64,
            boundary_sweeps: 2,
            precision: Precision::F32,
            coarse_operator: CoarseOperator::AreaWeighted,
            temporal_blocking: Blocking::Auto,
            relaxation: RELAXATION,
            schedule: None,
        }
    }
}

/// How half-sweep `colour` of a smoothing's first sweep (`first`) or of a later one finds
/// the iterate: a pre-smoothing from `x = 0` starts red with nothing ([`Start::Zero`]) and
/// black with a stale colour of its own ([`Start::Fresh`]).
fn sweep_start(first: bool, colour: usize) -> Start {
    match (first, colour) {
        (true, 0) => Start::Zero,
        (true, _) => Start::Fresh,
        _ => Start::Warm,
    }
}

/// Level `l`'s area-weighted operator from its raw conductances `cond`: mapped by the
/// schedule's conductance exponent, or `cond` itself at exponent 1.
fn mapped<'c>(
    params: &MultigridParams,
    l: usize,
    cond: Option<&'c Conductance>,
) -> Option<std::borrow::Cow<'c, Conductance>> {
    let p = params.weights(l).conductance_exponent;
    cond.map(|c| {
        if p == 1.0 {
            std::borrow::Cow::Borrowed(c)
        } else {
            std::borrow::Cow::Owned(c.mapped(|g| g.powf(p)))
        }
    })
}

/// `Err` unless the relaxation weight and every entry of the schedule lie in their ranges and
/// the schedule weighs every sweep.
fn check_weights(params: &MultigridParams) -> Result<(), PdeError> {
    if !(params.relaxation > 0.0 && params.relaxation < 2.0) {
        return Err(PdeError::Unsupported(format!(
            "the relaxation weight must lie in (0, 2) for the V-cycle to be symmetric \
             positive definite (got {})",
            params.relaxation
        )));
    }
    if let Some(schedule) = &params.schedule {
        schedule.validate()?;
        if params.pre_smooth > SCHEDULE_SWEEPS {
            return Err(PdeError::Unsupported(format!(
                "a relaxation schedule weighs at most {SCHEDULE_SWEEPS} sweeps (got {})",
                params.pre_smooth
            )));
        }
    }
    Ok(())
}

/// The [`LevelWeights::sweeps`] entry of whole-level sweep `k` of a smoothing phase of
/// `sweeps`: in order before the coarse correction (`pre`), reversed after it (the adjoint).
fn sweep_weight(pre: bool, k: usize, sweeps: usize) -> usize {
    if pre { k } else { sweeps - 1 - k }
}

/// Bytes of this machine's last-level cache (Linux: the largest cache level in sysfs; 32 MiB
/// where that cannot be read). Read once.
fn last_level_cache() -> usize {
    static BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| {
        let read = |i: usize, f: &str| {
            std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu0/cache/index{i}/{f}"))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let size = |s: &str| {
            let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: usize = num.parse().ok()?;
            Some(match unit {
                "K" => n << 10,
                "M" => n << 20,
                "" => n,
                _ => return None,
            })
        };
        (0..8)
            .filter_map(|i| {
                Some((
                    read(i, "level")?.parse::<u32>().ok()?,
                    size(&read(i, "size")?)?,
                ))
            })
            .max()
            .map(|(_, bytes)| bytes)
            .unwrap_or(32 << 20)
    })
}

/// Floating-point types the V-cycle runs in.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + 'static
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// Conversion from `f64`.
    fn from_f64(v: f64) -> Self;
    /// Conversion to `f64`.
    fn to_f64(self) -> f64;
    /// Conversion of a diagonal count (vectorizes, unlike a table lookup).
    fn from_count(d: u8) -> Self;
    /// Conversion from `f32` (exact).
    fn from_f32(v: f32) -> Self;
    /// Appends the values' little-endian bytes to `out` (a message of a split V-cycle).
    fn put(v: &[Self], out: &mut Vec<u8>);
    /// Reads `out.len()` values from little-endian `bytes`.
    fn get(bytes: &[u8], out: &mut [Self]);
}

impl Real for f64 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_count(d: u8) -> Self {
        d as f64
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v as f64
    }
    fn put(v: &[Self], out: &mut Vec<u8>) {
        out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    fn get(bytes: &[u8], out: &mut [Self]) {
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            *o = f64::from_le_bytes(b.try_into().unwrap_or_default());
        }
    }
}

impl Real for f32 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_count(d: u8) -> Self {
        d as f32
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    fn put(v: &[Self], out: &mut Vec<u8>) {
        out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    fn get(bytes: &[u8], out: &mut [Self]) {
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes(b.try_into().unwrap_or_default());
        }
    }
}

/// Bytes per cell an area-weighted level's kernels read beyond the unit stencil's: the
/// conductances of the faces (one byte each, `2d`) and the `f32` diagonal, less the code.
fn weighted_bytes(lev: &Level) -> f64 {
    if lev.faces.is_some() {
        (2 * lev.dim) as f64 + 4.0 - 1.0
    } else {
        0.0
    }
}

/// The dense matrix of an area-weighted level over the fluid cells of `p` (its grid), in
/// their compact order.
fn weighted_matrix(p: &PoissonProblem, cond: &Conductance) -> Result<DenseMatrix, PdeError> {
    let grid = p.grid();
    let (cells, dims, strides) = (p.fluid_cells(), grid.dims(), grid.strides());
    let m = cells.len();
    let mut index = vec![usize::MAX; grid.len()];
    for (q, &c) in cells.iter().enumerate() {
        index[c as usize] = q;
    }
    let mut a = vec![0.0; m * m];
    for (q, &c) in cells.iter().enumerate() {
        let co = grid.coords(c as usize);
        a[q * m + q] = cond.diag(co) as f64;
        for ax in 0..grid.dim() {
            if co[ax] + 1 < dims[ax] {
                let r = index[c as usize + strides[ax]];
                if r != usize::MAX {
                    let g = cond.face(ax, co, 1) as f64;
                    a[q * m + r] = -g;
                    a[r * m + q] = -g;
                }
            }
        }
    }
    Ok(DenseMatrix::from_row_major(m, m, a)?)
}

/// Per-level work vectors — iterate and right-hand side in the split layout, the rings of
/// the fused residual–restriction and of the prolongation — and the profile accumulators when profiling is
/// on.
struct Scratch<T> {
    x: Vec<Vec<T>>,
    b: Vec<Vec<T>>,
    r: Vec<Vec<T>>,
    /// Fused MGPCG's vectors.
    pcg: pcg::PcgVectors,
    prof: Option<Box<Recorder>>,
}

enum AnyScratch {
    F64(Scratch<f64>),
    F32(Scratch<f32>),
}

/// How the coarsest level is solved.
enum CoarseSolve {
    /// Dense pseudo-inverse over the coarsest fluid cells.
    Exact { pinv: DenseMatrix },
    /// Sparse Cholesky over the coarsest fluid cells (compact numbering, floating regions
    /// pinned and projected), for coarsest levels too large for a dense pseudo-inverse.
    Sparse(Box<crate::poisson::GridCholesky>),
    /// None: the window of a split V-cycle, whose coarse levels are gathered instead.
    None,
}

/// What ends a hierarchy: the coarsest solve (of the finest problem's grid when nothing is
/// coarsened), or a window of a split V-cycle with this many levels.
#[derive(Clone, Copy)]
enum Tail<'a> {
    Solve(Option<&'a PoissonProblem>),
    Window(usize),
}

/// The MGPCG V-cycle preconditioner for a [`PoissonProblem`], on grid-layout vectors.
pub struct GridMultigrid {
    levels: Vec<Level>,
    coarse: CoarseSolve,
    /// Split-layout slot of each coarsest unknown.
    coarse_slots: Vec<usize>,
    /// Split-layout slots of each floating region of the finest level (fused MGPCG projects
    /// `z` over them).
    floating: Vec<Vec<u32>>,
    params: MultigridParams,
    scratch: Mutex<AnyScratch>,
    /// A split V-cycle's window: its last level's grid and conductances (gathered into the
    /// whole level by the parts).
    window_last: Option<Box<(crate::grid::MacGrid, Option<Conductance>)>>,
    /// [`PoissonProblem::id`] of the problem the hierarchy was built on (the fused kernels
    /// accept it without comparing cells).
    problem_id: Option<u64>,
}

impl std::fmt::Debug for GridMultigrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridMultigrid")
            .field(
                "levels",
                &self.levels.iter().map(|l| l.dims).collect::<Vec<_>>(),
            )
            .field("params", &self.params)
            .finish()
    }
}

impl GridMultigrid {
    /// Builds the hierarchy. Cost: O(cells) for coarsening plus the coarsest solve's setup: a
    /// dense `O(m³)` pseudo-inverse for `m ≤ 512` coarsest unknowns, else a sparse Cholesky
    /// factorization (near-linear for the thin coarsest levels of extreme aspect ratios).
    /// Memory: about two `f32` (`f64` with [`Precision::F64`]) split-layout vectors per level
    /// and two `f64` ones for fused MGPCG, all first touched here so that no solve pays for
    /// their page faults.
    ///
    /// Errors: parameters with no smoothing at all (the V-cycle would not be positive definite
    /// in general), linear-algebra failures of the coarsest solve.
    ///
    /// ```
    /// use ritz_linalg::Preconditioner;
    /// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene, rhs::RhsKind};
    /// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
    /// let mg = GridMultigrid::new(&p, MultigridParams::default())?;
    /// let r = RhsKind::SmoothDivergence.generate(&p, 0);
    /// let mut z = vec![0.0; r.len()];
    /// mg.apply(&r, &mut z); // one V-cycle: z ≈ A⁻¹ r, an SPD map
    /// assert!(mg.num_levels() >= 2 && r.iter().zip(&z).map(|(a, b)| a * b).sum::<f64>() > 0.0);
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn new(problem: &PoissonProblem, params: MultigridParams) -> Result<Self, PdeError> {
        let mut mg = Self::build(
            Level::from_problem(problem),
            problem.grid().clone(),
            None,
            params,
            Tail::Solve(Some(problem)),
        )?;
        mg.problem_id = Some(problem.id());
        Ok(mg)
    }

    /// The hierarchy from its finest `level` (of `grid`, with the conductances `cond` when it
    /// is itself an area-weighted coarse level): coarsening while the level is large, then
    /// the coarsest solve — or, for the window of a split V-cycle ([`Tail::Window`]), only the
    /// given number of levels and no coarsest solve (the split cycle gathers instead).
    fn build(
        first: Level,
        mut grid: crate::grid::MacGrid,
        mut cond: Option<Conductance>,
        params: MultigridParams,
        tail: Tail<'_>,
    ) -> Result<Self, PdeError> {
        if params.pre_smooth + params.post_smooth == 0 || params.pre_smooth != params.post_smooth {
            return Err(PdeError::Unsupported(format!(
                "the V-cycle needs equal, non-zero pre- and post-smoothing to be symmetric \
                 positive definite (got {} and {})",
                params.pre_smooth, params.post_smooth
            )));
        }
        check_weights(&params)?;
        let finest_problem = match tail {
            Tail::Solve(p) => p,
            Tail::Window(_) => None,
        };
        let mut levels = vec![first];
        let mut coarsest_grid = None;
        let weighted = params.coarse_operator == CoarseOperator::AreaWeighted;
        loop {
            if let Tail::Window(n) = tail {
                if levels.len() == n {
                    break;
                }
            } else {
                let [nx, ny, nz] = grid.dims();
                let active = if grid.dim() == 3 {
                    nx.min(ny).min(nz)
                } else {
                    nx.min(ny)
                };
                if grid.len() <= params.coarsest_cells || active < 4 {
                    break;
                }
            }
            let cg = coarsen(&grid)?;
            let cc = weighted.then(|| match &cond {
                None => Conductance::first(&grid, &cg),
                Some(c) => c.coarsen(&cg),
            });
            let window = matches!(tail, Tail::Window(_));
            // The level's operator maps its raw conductances; the next level coarsens the raw
            // ones (`cond`).
            let op = mapped(&params, levels.len(), cc.as_ref());
            match Level::from_grid_in(&cg, op.as_deref(), window) {
                Some(level) => {
                    levels.push(level);
                    coarsest_grid = Some(cg.clone());
                    grid = cg;
                    cond = cc;
                }
                None => break,
            }
        }
        for (l, lev) in levels.iter_mut().enumerate() {
            lev.weights = params.weights(l);
        }
        if let Tail::Window(n) = tail {
            if levels.len() < n {
                return Err(PdeError::Unsupported(format!(
                    "the split V-cycle's window has {} levels with fluid, {n} needed",
                    levels.len()
                )));
            }
            let scratch = match params.precision {
                Precision::F64 => AnyScratch::F64(Scratch::new(&levels)),
                Precision::F32 => AnyScratch::F32(Scratch::new(&levels)),
            };
            return Ok(Self {
                levels,
                coarse: CoarseSolve::None,
                coarse_slots: Vec::new(),
                floating: Vec::new(),
                params,
                scratch: Mutex::new(scratch),
                window_last: Some(Box::new((grid, cond))),
                problem_id: None,
            });
        }
        // Only the coarsest level needs a problem (its matrix, regions and numbering).
        let coarsest = match (coarsest_grid, finest_problem) {
            (Some(g), _) => Some(PoissonProblem::new(g)?),
            (None, Some(_)) => None,
            (None, None) => Some(PoissonProblem::new(grid.clone())?),
        };
        let last = match (&coarsest, finest_problem) {
            (Some(cp), _) => cp,
            (None, Some(p)) => p,
            (None, None) => unreachable!("a coarsest problem is built when there is no finest"),
        };
        // A dense pseudo-inverse up to 512 unknowns (a mat-vec of m² flops, no fill); above
        // that — grids whose short side stopped the coarsening early, e.g. 8 × 8 × 2048 — a
        // sparse Cholesky factorization, near-linear for such thin grids, where a dense
        // eigen-decomposition would cost O(m³) (4.7 s at m = 2048).
        const MAX_DENSE: usize = 512;
        // The sparse factorization is of the coarsest grid's unit Laplacian even when the
        // levels above are area-weighted (any SPSD coarsest solve keeps the V-cycle SPD).
        let coarse = if last.num_fluid() <= MAX_DENSE {
            let a = match mapped(&params, levels.len() - 1, cond.as_ref()) {
                Some(c) => weighted_matrix(last, &c)?,
                None => DenseMatrix::from_operator(&last.assemble()),
            };
            let pinv = a.spsd_pseudo_inverse(1e-12)?;
            CoarseSolve::Exact { pinv }
        } else {
            CoarseSolve::Sparse(Box::new(crate::poisson::GridCholesky::new(last)?))
        };
        let scratch = match params.precision {
            Precision::F64 => AnyScratch::F64(Scratch::new(&levels)),
            Precision::F32 => AnyScratch::F32(Scratch::new(&levels)),
        };
        let lay = levels[levels.len() - 1].lay;
        let coarse_slots = last
            .fluid_cells()
            .iter()
            .map(|&c| lay.global(c as usize).1)
            .collect();
        let floating = finest_problem
            .and_then(|p| p.null_space_grid())
            .map(|ns| {
                ns.regions()
                    .map(|cells| {
                        cells
                            .iter()
                            .map(|&c| levels[0].lay.global(c as usize).1 as u32)
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            levels,
            coarse,
            coarse_slots,
            floating,
            params,
            scratch: Mutex::new(scratch),
            window_last: None,
            problem_id: None,
        })
    }

    /// Number of levels (1 = no coarsening).
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }
    /// Shape `[nx, ny, nz]` of each level, finest first.
    pub fn level_dims(&self) -> Vec<[usize; 3]> {
        self.levels.iter().map(|l| l.dims).collect()
    }
    /// The parameters.
    pub fn params(&self) -> MultigridParams {
        self.params
    }
    /// The modelled time of one MGPCG iteration with this hierarchy and cycle, in passes over
    /// the finest grid (one pass: one f64 vector streamed at the triad bandwidth), from the
    /// per-kernel times measured at 128³ (docs/mgpcg.md): the fused PCG kernels
    /// [`PCG_PASSES`]; per smoothed level holding a fraction `f` of the finest level's cells,
    /// `f · (4ν ·` [`HALF_SWEEP_PASSES`] `+` [`TRANSFER_PASSES`]`)` for its `ν` sweeps each way
    /// and its residual–restriction and prolongation, and [`BOUNDARY_CELL_PASSES`] per
    /// boundary cell (over the finest level's cells) and boundary sweep, four of them per
    /// boundary sweep count (both colours, both phases). A model for comparing cycles — a
    /// learner's cost, where timing would be noise — not a timing. Cost: O(levels).
    ///
    /// ```
    /// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene, Schedule};
    /// let p = PoissonProblem::new(Scene::Spheres.generate(3, 32, 0)?)?;
    /// let mut mg = GridMultigrid::new(&p, MultigridParams::default())?;
    /// let v22 = mg.modelled_passes();
    /// let mut s = Schedule::uniform(1.3);
    /// s.levels[1].sweep_count = Some(4);
    /// mg.set_schedule(Some(s))?;
    /// // Two more sweeps each way on an eighth of the cells: one pass more.
    /// assert!((mg.modelled_passes() - v22 - 1.0).abs() < 0.05);
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn modelled_passes(&self) -> f64 {
        let finest = self.levels[0].len() as f64;
        let smoothed = self.levels.len() - 1;
        let bs = self.params.boundary_sweeps as f64;
        PCG_PASSES
            + self.levels[..smoothed]
                .iter()
                .enumerate()
                .map(|(l, lev)| {
                    let f = lev.len() as f64 / finest;
                    let boundary = (lev.boundary[0].len() + lev.boundary[1].len()) as f64 / finest;
                    f * (4.0 * self.params.sweeps(l) as f64 * HALF_SWEEP_PASSES + TRANSFER_PASSES)
                        + 4.0 * bs * BOUNDARY_CELL_PASSES * boundary
                })
                .sum::<f64>()
    }
    /// Gives the V-cycle new relaxation weights ([`MultigridParams::schedule`]; `None`: uniform
    /// [`MultigridParams::relaxation`]) without rebuilding the hierarchy: a learner's step, or
    /// one hierarchy serving several schedules. Cost: a write per level.
    ///
    /// Errors (the weights unchanged): a weight outside its range, more sweeps than a
    /// schedule weighs, or other conductance exponents (they change the coarse operators:
    /// build a new hierarchy).
    ///
    /// ```
    /// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene, Schedule};
    /// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
    /// let mut mg = GridMultigrid::new(&p, MultigridParams::default())?;
    /// mg.set_schedule(Some(Schedule::uniform(1.1)))?;
    /// assert_eq!(mg.params().schedule, Some(Schedule::uniform(1.1)));
    /// assert!(mg.set_schedule(Some(Schedule::uniform(0.0))).is_err());
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn set_schedule(&mut self, schedule: Option<Schedule>) -> Result<(), PdeError> {
        let params = MultigridParams {
            schedule,
            ..self.params
        };
        check_weights(&params)?;
        let exponents = |p: &MultigridParams| p.schedule.map(|s| s.exponents());
        let unit = [1.0; SCHEDULE_LEVELS];
        if exponents(&params).unwrap_or(unit) != exponents(&self.params).unwrap_or(unit) {
            return Err(PdeError::Unsupported(
                "new conductance exponents change the coarse operators: build a new hierarchy"
                    .into(),
            ));
        }
        for (l, lev) in self.levels.iter_mut().enumerate() {
            lev.weights = params.weights(l);
        }
        self.params = params;
        Ok(())
    }

    /// Turns the per-kernel profile on (clearing it) or off. Cost when on: two clock reads
    /// per kernel call.
    pub fn set_profiling(&self, on: bool) {
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let prof = match &mut *guard {
            AnyScratch::F64(s) => &mut s.prof,
            AnyScratch::F32(s) => &mut s.prof,
        };
        *prof = on.then(Box::default);
    }

    /// The per-kernel profile since [`GridMultigrid::set_profiling`] turned it on (`None`
    /// when off).
    pub fn profile(&self) -> Option<MgpcgProfile> {
        let guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let prof = match &*guard {
            AnyScratch::F64(s) => &s.prof,
            AnyScratch::F32(s) => &s.prof,
        };
        prof.as_ref().map(|r| r.report(self.levels[0].len()))
    }

    fn vcycle<T: Real>(&self, s: &mut Scratch<T>, l: usize) {
        at_level(&mut s.prof, l);
        let lev = &self.levels[l];
        if l + 1 == self.levels.len() {
            let t0 = start(&s.prof);
            self.coarse_solve(s, l);
            let m = self.coarse_slots.len();
            stop(&mut s.prof, Kernel::Coarsest, t0, 8.0 * (m * m) as f64);
            return;
        }
        // Modelled bytes (t bytes per value, 1 per cell code).
        let n = lev.len() as f64;
        let t = std::mem::size_of::<T>() as f64;
        let nc = self.levels[l + 1].len() as f64;
        // Pre-smoothing from x = 0: red, black, …, then the boundary sweeps.
        self.smoothing_phase(s, l, true);
        let t0 = start(&s.prof);
        let (fine_b, coarse_b) = s.b.split_at_mut(l + 1);
        let coarse = &self.levels[l + 1];
        residual_restrict(
            lev,
            coarse,
            coarse.active.clone(),
            &s.x[l],
            &fine_b[l],
            &mut s.r[l],
            &mut coarse_b[0],
        );
        // x, b, codes (and an area-weighted level's conductances and diagonal) in; the
        // coarse right-hand side out (the residual stays in cache).
        stop(
            &mut s.prof,
            Kernel::ResidualRestrict,
            t0,
            (2.0 * t + 1.0 + weighted_bytes(lev)) * n + (t + 1.0) * nc,
        );
        self.vcycle(s, l + 1);
        at_level(&mut s.prof, l);
        let t0 = start(&s.prof);
        let (xf, xc) = s.x.split_at_mut(l + 1);
        let alpha = lev.weights.correction;
        prolong_add(
            &self.levels[l + 1],
            lev,
            &xc[0],
            &mut s.r[l],
            &mut xf[l],
            alpha,
        );
        stop(
            &mut s.prof,
            Kernel::Prolong,
            t0,
            (2.0 * t + 1.0) * n + t * nc,
        );
        // The adjoint order: boundary sweeps first, colours reversed.
        self.smoothing_phase(s, l, false);
    }

    /// The pre-smoothing (`pre`: from `x = 0`, red first, then the boundary sweeps) or the
    /// post-smoothing (its adjoint: boundary sweeps first, black first) of level `l`: one
    /// [`wave`] with temporal blocking, else the half-sweeps one by one.
    fn smoothing_phase<T: Real>(&self, s: &mut Scratch<T>, l: usize, pre: bool) {
        let (bs, order) = (
            self.params.boundary_sweeps,
            if pre { [0, 1] } else { [1, 0] },
        );
        // Pre- and post-smoothing are equal (checked at build): the cycle is symmetric.
        let sweeps = self.params.sweeps(l);
        let lev = &self.levels[l];
        // A level run in parallel needs two chunks of 2 · stages + 1 planes for a wave; below
        // that the half-sweeps (parallel over lines) are faster than a serial wave.
        let stages = 2 * (sweeps + bs);
        let parallel = lev.len() >= hierarchy::SERIAL_BELOW && rayon::current_num_threads() > 1;
        let data = lev.slots() * (2 * std::mem::size_of::<T>() + 1);
        let wave_pays = match self.params.temporal_blocking {
            Blocking::Off => false,
            Blocking::Auto => data > last_level_cache(),
            Blocking::Always => true,
        };
        if !wave_pays || (parallel && lev.planes() < 2 * (2 * stages + 1)) {
            if pre {
                self.smooth(s, l, sweeps, Kernel::Smooth, order, None);
                self.smooth(s, l, bs, Kernel::BoundarySmooth, order, None);
            } else {
                self.smooth(s, l, bs, Kernel::BoundarySmooth, order, None);
                self.smooth(s, l, sweeps, Kernel::Smooth, order, None);
            }
            return;
        }
        let weights = lev.weights;
        let full = (0..sweeps).flat_map(|k| {
            let omega = weights.sweeps[sweep_weight(pre, k, sweeps)];
            order.map(move |colour| Stage::Sweep {
                colour,
                start: sweep_start(pre && k == 0, colour),
                omega,
            })
        });
        let boundary = (0..bs).flat_map(|_| {
            order.map(|colour| Stage::Boundary {
                colour,
                omega: weights.boundary,
            })
        });
        let stages: Vec<Stage> = if pre {
            full.chain(boundary).collect()
        } else {
            boundary.chain(full).collect()
        };
        let t0 = start(&s.prof);
        wave(lev, &mut s.x[l], &s.b[l], &stages);
        // One pass: x read and written, b and the codes (or conductances and diagonal) read;
        // the boundary sweeps' records, once per sweep.
        let t = std::mem::size_of::<T>() as f64;
        let record = if lev.faces.is_some() { 32.0 } else { 0.0 };
        let bytes = (3.0 * t + 1.0 + weighted_bytes(lev)) * lev.len() as f64
            + (record + 4.0) * (bs * (lev.boundary[0].len() + lev.boundary[1].len())) as f64;
        stop(&mut s.prof, Kernel::Smooth, t0, bytes);
    }

    /// `sweeps` red–black SOR sweeps on level `l`, each a half-sweep per colour in `order`:
    /// over the whole level ([`Kernel::Smooth`]) or its boundary cells
    /// ([`Kernel::BoundarySmooth`]). Whole-level pre-smoothing (`order = [0, 1]`) starts from
    /// `x = 0`: its first half-sweep reads no `x`.
    ///
    /// On a level split across parts (`halo`), each half-sweep first fetches the neighbours'
    /// boundary plane of the colour it reads.
    fn smooth<T: Real>(
        &self,
        s: &mut Scratch<T>,
        l: usize,
        sweeps: usize,
        kernel: Kernel,
        order: [usize; 2],
        halo: Option<(&slab::SlabPart, &dyn SlabExchange)>,
    ) {
        let lev = &self.levels[l];
        let t = std::mem::size_of::<T>() as f64;
        let half = lev.len() as f64 / 2.0;
        let first = kernel == Kernel::Smooth && order == [0, 1];
        for sweep in 0..sweeps {
            for color in order {
                let from = sweep_start(first && sweep == 0, color);
                let omega = if kernel == Kernel::Smooth {
                    lev.weights.sweeps[sweep_weight(order == [0, 1], sweep, sweeps)]
                } else {
                    lev.weights.boundary
                };
                if let (Some((part, link)), false) = (halo, from == Start::Zero) {
                    self.exchange(part, link, l, &mut s.x[l], &[1 - color], 1);
                }
                let t0 = start(&s.prof);
                let bytes = if kernel == Kernel::Smooth {
                    half_sweep(lev, &mut s.x[l], &s.b[l], color, from, omega);
                    // Own colour: b, code (or conductances and diagonal), x written (and
                    // read when relaxed against it); other colour: x read unless zero.
                    let own_read = (from == Start::Warm && omega != 1.0) as u8 as f64;
                    let other_read = (from != Start::Zero) as u8 as f64;
                    ((2.0 + own_read + other_read) * t + 1.0 + weighted_bytes(lev)) * half
                } else {
                    gs_cells(lev, &mut s.x[l], &s.b[l], color, omega);
                    // Entry, b, x read and written, the code or an area-weighted level's
                    // record of conductances.
                    let record = if lev.faces.is_some() { 32.0 } else { 1.0 };
                    (4.0 + 3.0 * t + record) * lev.boundary[color].len() as f64
                };
                stop(&mut s.prof, kernel, t0, bytes);
            }
        }
    }

    fn coarse_solve<T: Real>(&self, s: &mut Scratch<T>, l: usize) {
        let b = &s.b[l];
        let bc: Vec<f64> = self.coarse_slots.iter().map(|&q| b[q].to_f64()).collect();
        let xc = match &self.coarse {
            CoarseSolve::Exact { pinv, .. } => {
                let mut xc = vec![0.0; bc.len()];
                pinv.apply(&bc, &mut xc);
                xc
            }
            // Only a NaN right-hand side fails; NaN then reaches the Krylov iteration, which
            // reports it.
            CoarseSolve::Sparse(chol) => {
                chol.solve(&bc).unwrap_or_else(|_| vec![f64::NAN; bc.len()])
            }
            CoarseSolve::None => vec![0.0; bc.len()],
        };
        let x = &mut s.x[l];
        fill(x, T::default());
        for (&q, &v) in self.coarse_slots.iter().zip(&xc) {
            x[q] = T::from_f64(v);
        }
    }

    fn apply_in<T: Real>(&self, s: &mut Scratch<T>, r: &[f64], z: &mut [f64]) {
        let fine = &self.levels[0];
        let n = fine.len() as f64;
        let t = std::mem::size_of::<T>() as f64;
        if let Some(p) = s.prof.as_mut() {
            p.applications += 1;
        }
        let t0 = start(&s.prof);
        split_from(fine, r, &mut s.b[0]);
        stop(&mut s.prof, Kernel::ConvertIn, t0, (9.0 + t) * n);
        self.vcycle(s, 0);
        let t0 = start(&s.prof);
        natural_from(fine, &s.x[0], z);
        stop(&mut s.prof, Kernel::ConvertOut, t0, (t + 8.0) * n);
    }
}

/// A zeroed vector whose memory is already mapped: its pages are first touched here, in
/// parallel (first touches cost about 0.5 ms per MB on this kind of machine — 20 times the
/// time to write the memory), so that the setup pays for them once, not the first solve.
pub(crate) fn touched<T: Copy + Send + Sync + Default>(n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    v.par_chunks_mut(1 << 14).for_each(|c| c.fill(T::default()));
    v
}

impl<T: Real> Scratch<T> {
    fn new(levels: &[Level]) -> Self {
        let v =
            |n: &dyn Fn(&Level) -> usize| levels.iter().map(|l| touched(n(l))).collect::<Vec<_>>();
        let ring = |l: usize| match levels.get(l + 1) {
            Some(coarse) => ring_len(&levels[l], coarse).max(prolong_ring_len(coarse, &levels[l])),
            None => 0,
        };
        Self {
            x: v(&Level::slots),
            b: v(&Level::slots),
            r: (0..levels.len()).map(|l| touched(ring(l))).collect(),
            pcg: pcg::PcgVectors::new(levels[0].slots()),
            prof: None,
        }
    }
}

impl Preconditioner for GridMultigrid {
    fn dim(&self) -> usize {
        self.levels[0].len()
    }
    /// One V-cycle, `z = M⁻¹ r`. Concurrent calls are serialized (the scratch is shared).
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        assert_eq!(r.len(), self.dim(), "multigrid apply: r length");
        assert_eq!(z.len(), self.dim(), "multigrid apply: z length");
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *guard {
            AnyScratch::F64(s) => self.apply_in(s, r, z),
            AnyScratch::F32(s) => self.apply_in(s, r, z),
        }
    }
    fn name(&self) -> String {
        format!(
            "multigrid V({},{}) {:?}, {} levels",
            self.params.pre_smooth,
            self.params.post_smooth,
            self.params.precision,
            self.levels.len()
        )
    }
}

impl SpdPreconditioner for GridMultigrid {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{CellFlag, MacGrid, Walls};

    #[test]
    fn coarsening_keeps_air_and_fluid() {
        let mut g = MacGrid::new(&[5, 4], Walls::closed()).unwrap();
        g.set(4, 3, 0, CellFlag::Air);
        g.set(0, 0, 0, CellFlag::Solid);
        g.set(1, 0, 0, CellFlag::Solid);
        g.set(0, 1, 0, CellFlag::Solid);
        g.set(1, 1, 0, CellFlag::Solid);
        let c = coarsen(&g).unwrap();
        assert_eq!(c.shape(), vec![3, 2]);
        assert_eq!(c.flag(0, 0, 0), CellFlag::Solid);
        assert_eq!(c.flag(2, 1, 0), CellFlag::Air);
        assert_eq!(c.flag(1, 1, 0), CellFlag::Fluid);
    }

    /// Restriction is the scaled transpose of prolongation: ⟨R r, x⟩ = s ⟨r, P x⟩.
    #[test]
    fn restriction_is_scaled_transpose_of_prolongation() {
        use crate::grid::WallKind::{Air, Solid};
        // Odd and even lengths, solid and air walls on every side.
        let mixed = Walls([[Air, Solid], [Solid, Air], [Air, Air]]);
        let other = Walls([[Solid, Air], [Air, Solid], [Solid, Solid]]);
        let cases = [
            (vec![9usize, 6, 5], Walls::closed()),
            (vec![7, 10], Walls::closed()),
            (vec![9, 6, 5], mixed),
            (vec![8, 7, 6], mixed),
            (vec![10, 9, 7], other),
            (vec![7, 10], mixed),
            (vec![10, 7], other),
        ];
        for (shape, walls) in cases {
            let g = MacGrid::new(&shape, walls).unwrap();
            let fine = Level::from_problem(&PoissonProblem::new(g.clone()).unwrap());
            let coarse = Level::from_problem(&PoissonProblem::new(coarsen(&g).unwrap()).unwrap());
            let r: Vec<f64> = (0..fine.len())
                .map(|i| ((i * 37) % 11) as f64 - 5.0)
                .collect();
            let x: Vec<f64> = (0..coarse.len())
                .map(|i| ((i * 13) % 7) as f64 - 3.0)
                .collect();
            // Restriction reads natural order and writes the split layout; prolongation
            // works in the split layout.
            let mut rc_split = vec![0.0; coarse.slots()];
            restrict(&fine, &coarse, &r, &mut rc_split);
            let mut rc = vec![0.0; coarse.len()];
            natural_from(&coarse, &rc_split, &mut rc);
            let mut x_split = vec![0.0; coarse.slots()];
            split_from(&coarse, &x, &mut x_split);
            let mut px_split = vec![0.0; fine.slots()];
            let mut ring = vec![0.0; prolong_ring_len(&coarse, &fine)];
            prolong_add(&coarse, &fine, &x_split, &mut ring, &mut px_split, 1.0);
            let mut px = vec![0.0; fine.len()];
            natural_from(&fine, &px_split, &mut px);
            let lhs: f64 = rc.iter().zip(&x).map(|(a, b)| a * b).sum();
            let rhs: f64 = r.iter().zip(&px).map(|(a, b)| a * b).sum();
            let scale = if shape.len() == 3 { 0.5 } else { 1.0 };
            assert!(
                (lhs - scale * rhs).abs() < 1e-10 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }

    /// The fused residual–restriction equals the residual followed by the restriction.
    #[test]
    fn fused_residual_restriction_matches_the_two_kernels() {
        let odd = [vec![9usize, 6, 5], vec![7, 10], vec![11, 9, 13]].map(|shape| {
            let g = MacGrid::new(&shape, Walls::open_top(shape.len())).unwrap();
            (format!("{shape:?}"), PoissonProblem::new(g).unwrap())
        });
        for (name, p) in scenes().into_iter().chain(odd) {
            let m = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
            let (fine, coarse) = (&m.levels[0], &m.levels[1]);
            let mut x = vec![0.0f64; fine.slots()];
            let mut b = vec![0.0f64; fine.slots()];
            split_from(fine, &random_fluid(&p, 1), &mut x);
            split_from(fine, &random_fluid(&p, 2), &mut b);
            let mut r = vec![0.0; fine.len()];
            residual(fine, &x, &b, &mut r);
            let mut want = vec![0.0; coarse.slots()];
            restrict(fine, coarse, &r, &mut want);
            let mut ring = vec![0.0; ring_len(fine, coarse)];
            let mut got = vec![0.0; coarse.slots()];
            let all = coarse.active.clone();
            residual_restrict(fine, coarse, all, &x, &b, &mut ring, &mut got);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{name}: {g} vs {w}"
                );
            }
        }
    }

    fn scenes() -> Vec<(String, PoissonProblem)> {
        let mut out = Vec::new();
        for dim in [2, 3] {
            let n = if dim == 2 { 40 } else { 20 };
            let shape = vec![n; dim];
            // Air on top (Dirichlet), a solid obstacle (Neumann) and a closed, all-Neumann box.
            let mut open = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
            let c = n as f64 / 2.0;
            open.paint(CellFlag::Solid, |p| {
                (p[0] - c).powi(2)
                    + (p[1] - c).powi(2)
                    + if dim == 3 { (p[2] - c).powi(2) } else { 0.0 }
                    < (n as f64 / 5.0).powi(2)
            });
            let mut pool = MacGrid::new(&shape, Walls::closed()).unwrap();
            pool.paint(CellFlag::Air, |p| p[dim - 1] > 0.7 * n as f64);
            let mut closed = open.clone();
            closed.set_walls(Walls::closed());
            for (name, g) in [("open", open), ("pool", pool), ("closed", closed)] {
                out.push((format!("{name}-{dim}d"), PoissonProblem::new(g).unwrap()));
            }
        }
        out
    }

    fn random_fluid(p: &PoissonProblem, seed: usize) -> Vec<f64> {
        let mut v: Vec<f64> = (0..p.num_cells())
            .map(|c| {
                let h = (c.wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % 1000;
                if p.fluid_mask()[c] == 1 {
                    h as f64 / 500.0 - 1.0
                } else {
                    0.0
                }
            })
            .collect();
        if let Some(ns) = p.null_space_grid() {
            ritz_linalg::NullSpace::project(ns, &mut v);
        }
        v
    }

    /// Temporal blocking changes the order of the work, not the arithmetic: the V-cycle with
    /// wavefront smoothing equals the one with half-sweeps one by one, bit for bit — on grids
    /// large enough for several chunks per level (run in a pool of 4 threads so that the
    /// chunked path runs whatever the machine), with obstacles, air and floating regions.
    #[test]
    fn temporal_blocking_is_bit_identical() {
        let mut grids = Vec::new();
        for (dim, n) in [(3usize, 40usize), (2, 200)] {
            let shape = vec![n; dim];
            let mut g = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
            g.paint(CellFlag::Solid, |p| {
                let q = |a: f64| (a * 0.61).sin();
                q(p[0]) + q(p[1] * 1.3) + if dim == 3 { q(p[2] * 0.7) } else { 0.0 } > 1.1
            });
            // A closed pocket (a floating region) in the middle.
            let c = n as f64 / 2.0;
            let r = |p: [f64; 3]| {
                (p[0] - c).abs().max((p[1] - c).abs()).max(if dim == 3 {
                    (p[2] - c).abs()
                } else {
                    0.0
                })
            };
            g.paint(CellFlag::Solid, |p| (4.0..6.0).contains(&r(p)));
            grids.push(PoissonProblem::new(g).unwrap());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for p in grids {
            for (precision, coarse_operator) in [
                (Precision::F32, CoarseOperator::AreaWeighted),
                (Precision::F64, CoarseOperator::Rediscretized),
            ] {
                let out: Vec<Vec<f64>> = [Blocking::Always, Blocking::Off]
                    .map(|temporal_blocking| {
                        let params = MultigridParams {
                            precision,
                            coarse_operator,
                            temporal_blocking,
                            ..Default::default()
                        };
                        let m = GridMultigrid::new(&p, params).unwrap();
                        assert!(m.num_levels() >= 3);
                        let x = random_fluid(&p, 7);
                        let mut y = vec![0.0; x.len()];
                        pool.install(|| m.apply(&x, &mut y));
                        y
                    })
                    .into();
                assert!(out[0].iter().any(|&v| v != 0.0));
                assert!(out[0] == out[1], "{:?} {precision:?}", p.grid().dims());
            }
        }
    }

    #[test]
    fn vcycle_is_symmetric_and_positive() {
        // Gauss–Seidel, the default over-relaxation and a strong one; under-relaxation; a
        // schedule (relaxation 0 stands for it) with different weights per sweep and level,
        // scaled corrections and conductance exponents.
        let cases = [
            (
                Precision::F64,
                1e-10,
                CoarseOperator::AreaWeighted,
                RELAXATION,
            ),
            (
                Precision::F32,
                1e-5,
                CoarseOperator::AreaWeighted,
                RELAXATION,
            ),
            (
                Precision::F64,
                1e-10,
                CoarseOperator::Rediscretized,
                RELAXATION,
            ),
            (Precision::F64, 1e-10, CoarseOperator::AreaWeighted, 1.0),
            (Precision::F64, 1e-10, CoarseOperator::AreaWeighted, 1.8),
            (Precision::F32, 1e-5, CoarseOperator::Rediscretized, 0.7),
            (Precision::F64, 1e-10, CoarseOperator::AreaWeighted, 0.0),
            (Precision::F32, 1e-5, CoarseOperator::AreaWeighted, 0.0),
        ];
        let mut schedule = Schedule::uniform(1.3);
        for (l, w) in schedule.levels.iter_mut().enumerate() {
            w.sweeps = [1.6, 0.9, 1.2, 1.8].map(|v| v - 0.1 * l as f32);
            w.boundary = 1.7 - 0.2 * l as f32;
            w.correction = 1.4 - 0.2 * l as f32;
            w.conductance_exponent = 1.0 + 0.5 * l as f32;
            // Sweep counts of their own on some levels: 2, 4, 1, 3.
            w.sweep_count = [None, Some(4), Some(1), Some(3)][l];
        }
        for (name, p) in scenes() {
            for (prec, tol, coarse_operator, relaxation) in cases {
                let scheduled = relaxation == 0.0;
                let m = GridMultigrid::new(
                    &p,
                    MultigridParams {
                        precision: prec,
                        coarsest_cells: 64,
                        coarse_operator,
                        relaxation: if scheduled { RELAXATION } else { relaxation },
                        schedule: scheduled.then_some(schedule),
                        ..Default::default()
                    },
                )
                .unwrap();
                assert!(m.num_levels() >= 2, "{name}");
                for seed in 0..3 {
                    let x = random_fluid(&p, 2 * seed);
                    let y = random_fluid(&p, 2 * seed + 1);
                    let (mut mx, mut my) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                    m.apply(&x, &mut mx);
                    m.apply(&y, &mut my);
                    let (a, b) = (
                        ritz_linalg::vector::dot(&mx, &y),
                        ritz_linalg::vector::dot(&x, &my),
                    );
                    let scale = ritz_linalg::vector::norm2(&mx) * ritz_linalg::vector::norm2(&y);
                    assert!((a - b).abs() <= tol * scale, "{name} {prec:?}: {a} vs {b}");
                    assert!(ritz_linalg::vector::dot(&mx, &x) > 0.0, "{name} {prec:?}");
                }
            }
        }
    }

    /// Reweighing a hierarchy gives the cycle of one built with the new weights, bit for bit;
    /// new conductance exponents, or weights out of range, are refused and change nothing.
    #[test]
    fn set_schedule_is_building_with_the_schedule() {
        let p = PoissonProblem::new(crate::Scene::Organic.generate(3, 24, 2).unwrap()).unwrap();
        let mut schedule = Schedule::uniform(1.1);
        schedule.levels[0].sweeps[..2].copy_from_slice(&[1.5, 0.8]);
        schedule.levels[1].correction = 1.3;
        schedule.levels[1].sweep_count = Some(3);
        let built = scheduled(&p, schedule);
        let mut reweighed = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
        reweighed.set_schedule(Some(schedule)).unwrap();
        let x = random_fluid(&p, 3);
        let apply = |m: &GridMultigrid| {
            let mut z = vec![0.0; x.len()];
            m.apply(&x, &mut z);
            z
        };
        let want = apply(&built);
        assert_eq!(want, apply(&reweighed));
        let mut other = schedule;
        other.levels[2].conductance_exponent = 1.5;
        assert!(reweighed.set_schedule(Some(other)).is_err());
        other = schedule;
        other.levels[0].boundary = f32::NAN;
        assert!(reweighed.set_schedule(Some(other)).is_err());
        other = schedule;
        other.levels[1].sweep_count = Some(0);
        assert!(reweighed.set_schedule(Some(other)).is_err());
        assert_eq!(reweighed.params().schedule, Some(schedule));
        assert_eq!(want, apply(&reweighed));
        // Back to uniform weights: the default cycle.
        reweighed.set_schedule(None).unwrap();
        let default = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
        assert_eq!(apply(&default), apply(&reweighed));
    }

    /// The split-layout kernels of an area-weighted level against its dense matrix assembled
    /// in natural order: the residual is `b − A x`, and after a half-sweep (or a boundary
    /// sweep) of colour `c` the residual vanishes on the cells it updated.
    #[test]
    fn area_weighted_kernels_match_the_dense_operator() {
        let mut porous = MacGrid::new(&[13, 10, 9], Walls::open_top(3)).unwrap();
        porous.paint(CellFlag::Solid, |p| {
            ((p[0] * 1.7).sin() + (p[1] * 2.3).cos() + (p[2] * 1.1).sin()) > 1.2
        });
        let extra = [(
            "porous-odd-3d".to_string(),
            PoissonProblem::new(porous).unwrap(),
        )];
        for (name, p) in scenes().into_iter().chain(extra) {
            let c1 = coarsen(p.grid()).unwrap();
            let k = Conductance::first(p.grid(), &c1);
            let lev = Level::from_grid(&c1, Some(&k)).unwrap();
            let cp = PoissonProblem::new(c1).unwrap();
            let a = weighted_matrix(&cp, &k).unwrap();
            let m = cp.num_fluid();
            let cells = cp.fluid_cells();
            let residual_of = |xs: &[f64], bs: &[f64]| {
                let (mut xn, mut bn) = (vec![0.0; lev.len()], vec![0.0; lev.len()]);
                natural_from(&lev, xs, &mut xn);
                natural_from(&lev, bs, &mut bn);
                (0..m)
                    .map(|q| {
                        let ax: f64 = (0..m).map(|r| a.get(q, r) * xn[cells[r] as usize]).sum();
                        bn[cells[q] as usize] - ax
                    })
                    .collect::<Vec<f64>>()
            };
            let colour = |c: u32| {
                let co = cp.grid().coords(c as usize);
                (co[0] + co[1] + co[2]) % 2
            };
            let mut x = vec![0.0f64; lev.slots()];
            let mut b = vec![0.0f64; lev.slots()];
            split_from(&lev, &random_fluid(&cp, 3), &mut x);
            split_from(&lev, &random_fluid(&cp, 4), &mut b);
            let want = residual_of(&x, &b);
            let mut got = vec![0.0; lev.len()];
            residual(&lev, &x, &b, &mut got);
            for (q, &c) in cells.iter().enumerate() {
                let g = got[c as usize];
                assert!(
                    (g - want[q]).abs() < 1e-12 * (1.0 + g.abs()),
                    "{name}: {g} vs {}",
                    want[q]
                );
            }
            let boundary: Vec<bool> = {
                let mut v = vec![false; lev.slots()];
                for c in 0..2 {
                    for &e in &lev.boundary[c] {
                        v[c * lev.lay.size + hierarchy::boundary_entry(e).0] = true;
                    }
                }
                v
            };
            for c in 0..2 {
                for sweep in 0..2 {
                    if sweep == 0 {
                        smooth::half_sweep(&lev, &mut x, &b, c, smooth::Start::Warm, 1.0);
                    } else {
                        gs_cells(&lev, &mut x, &b, c, 1.0);
                    }
                    let r = residual_of(&x, &b);
                    for (q, &cell) in cells.iter().enumerate() {
                        let slot = lev.lay.global(cell as usize).1;
                        let updated = colour(cell) == c && (sweep == 0 || boundary[slot]);
                        if updated && a.get(q, q) > 0.0 {
                            assert!(
                                r[q].abs() < 1e-12,
                                "{name} colour {c} sweep {sweep}: {}",
                                r[q]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let p = &scenes()[0].1;
        let bad = MultigridParams {
            pre_smooth: 1,
            post_smooth: 2,
            ..Default::default()
        };
        assert!(matches!(
            GridMultigrid::new(p, bad),
            Err(PdeError::Unsupported(_))
        ));
        // A relaxation weight outside (0, 2) would make the V-cycle indefinite.
        for relaxation in [0.0, 2.0, -1.0, f32::NAN] {
            let bad = MultigridParams {
                relaxation,
                ..Default::default()
            };
            assert!(
                matches!(GridMultigrid::new(p, bad), Err(PdeError::Unsupported(_))),
                "{relaxation}"
            );
        }
        // Every schedule entry outside its range; more sweeps than a schedule weighs.
        let n = SCHEDULE_LEVELS * SCHEDULE_PER_LEVEL;
        for i in 0..n {
            let (lo, hi) = Schedule::range(i);
            for w in [lo, hi, f32::NAN] {
                let mut v = Schedule::uniform(1.0).to_vec();
                v[i] = w;
                let bad = MultigridParams {
                    schedule: Schedule::from_slice(&v),
                    ..Default::default()
                };
                assert!(GridMultigrid::new(p, bad).is_err(), "entry {i} = {w}");
            }
        }
        assert!(Schedule::from_slice(&vec![1.0; n - 1]).is_none());
        let sweeps = SCHEDULE_SWEEPS + 1;
        let bad = MultigridParams {
            pre_smooth: sweeps,
            post_smooth: sweeps,
            schedule: Some(Schedule::uniform(1.0)),
            ..Default::default()
        };
        assert!(GridMultigrid::new(p, bad).is_err());
        // A level's sweep count outside 1..=SCHEDULE_SWEEPS.
        for count in [0, SCHEDULE_SWEEPS as u8 + 1] {
            let mut schedule = Schedule::uniform(1.0);
            schedule.levels[2].sweep_count = Some(count);
            let bad = MultigridParams {
                schedule: Some(schedule),
                ..Default::default()
            };
            assert!(GridMultigrid::new(p, bad).is_err(), "{count} sweeps");
        }
    }

    /// The default cycle with `schedule`.
    fn scheduled(p: &PoissonProblem, schedule: Schedule) -> GridMultigrid {
        let params = MultigridParams {
            schedule: Some(schedule),
            ..Default::default()
        };
        GridMultigrid::new(p, params).unwrap()
    }

    /// A level's sweep count changes that level's cycle only, and the modelled cost by the
    /// sweeps' share; the default cycle models PCG's passes plus every level's work.
    #[test]
    fn sweep_counts_change_the_cycle_and_its_modelled_cost() {
        let p = PoissonProblem::new(crate::Scene::Spheres.generate(3, 32, 1).unwrap()).unwrap();
        let default = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
        let mut counted = Schedule::uniform(RELAXATION);
        counted.levels[1].sweep_count = Some(2);
        let same = scheduled(&p, counted);
        counted.levels[1].sweep_count = Some(4);
        let more = scheduled(&p, counted);
        let x = random_fluid(&p, 5);
        let apply = |m: &GridMultigrid| {
            let mut z = vec![0.0; x.len()];
            m.apply(&x, &mut z);
            z
        };
        assert_eq!(apply(&default), apply(&same));
        assert_ne!(apply(&default), apply(&more));
        assert_eq!(default.modelled_passes(), same.modelled_passes());
        // Two sweeps more each way, two half-sweeps each, on the 16³ level of a 32³ grid.
        let extra = 2.0 * 2.0 * 2.0 * HALF_SWEEP_PASSES / 8.0;
        assert!((more.modelled_passes() - default.modelled_passes() - extra).abs() < 1e-9);
        assert!(default.modelled_passes() > PCG_PASSES + 4.0 * 2.0 * HALF_SWEEP_PASSES);
    }
}
