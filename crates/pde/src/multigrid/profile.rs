//! Per-kernel timing of the V-cycle with a memory-traffic model, for finding what stands
//! above the bandwidth floor. Off by default; when on, each kernel call costs two clock reads.
//!
//! Bytes are the minimum traffic of the kernel as written — every array it streams read once
//! and every array it writes written once, at the V-cycle's precision (`t` bytes per value,
//! 1 byte per flag or diagonal count), neighbours assumed in cache — so `bytes / seconds` is
//! the bandwidth a kernel reaches and `bytes / (8 · fine cells)` its f64 passes.

use serde::Serialize;
use std::time::Instant;

/// The kernels of MGPCG: the fused PCG kernels and those of a V-cycle application
/// (serialized by [`Kernel::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Fused PCG: `pᵀA p` on its own (after a restart of the direction; every other
    /// iteration computes it inside [`Kernel::DirectionUpdate`]).
    Operator,
    /// Fused PCG: `r ← r − α q` with `rᵀr`, writing the V-cycle's right-hand side.
    ResidualUpdate,
    /// Fused PCG: `rᵀz` (with the projection of `z` onto the range, if singular).
    RzDot,
    /// Fused PCG: `x ← x + α p; p ← z + β p` with the new `pᵀA p` (one pass), or the last
    /// `x ← x + α p`.
    DirectionUpdate,
    /// `b = f32(r)` on the finest level (f64 residual in, V-cycle precision out): per
    /// application of the V-cycle as a preconditioner, once per solve in fused MGPCG.
    ConvertIn,
    /// Red–black Gauss–Seidel half-sweeps over whole levels; with temporal blocking, a whole
    /// smoothing phase (the boundary sweeps included) in one wavefront.
    Smooth,
    /// The extra Gauss–Seidel sweeps over the cells next to a non-fluid cell (on their own:
    /// without temporal blocking, or on levels too thin for a parallel wavefront).
    BoundarySmooth,
    /// `r = b − A x` restricted to the next level's right-hand side, in one pass.
    ResidualRestrict,
    /// Prolongation of the coarse correction, added to the iterate.
    Prolong,
    /// The exact solve on the coarsest level.
    Coarsest,
    /// `z = f64(x)` on the finest level (the V-cycle as a preconditioner; not in fused MGPCG).
    ConvertOut,
}

impl Kernel {
    /// The kebab-case name (also its serialized form).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Operator => "operator",
            Kernel::ResidualUpdate => "residual-update",
            Kernel::RzDot => "rz-dot",
            Kernel::DirectionUpdate => "direction-update",
            Kernel::ConvertIn => "convert-in",
            Kernel::Smooth => "smooth",
            Kernel::BoundarySmooth => "boundary-smooth",
            Kernel::ResidualRestrict => "residual-restrict",
            Kernel::Prolong => "prolong",
            Kernel::Coarsest => "coarsest",
            Kernel::ConvertOut => "convert-out",
        }
    }
}

impl Serialize for Kernel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Every kernel: the fused PCG kernels, then those of a V-cycle in its order.
pub const KERNELS: [Kernel; 11] = [
    Kernel::Operator,
    Kernel::ResidualUpdate,
    Kernel::RzDot,
    Kernel::DirectionUpdate,
    Kernel::ConvertIn,
    Kernel::Smooth,
    Kernel::BoundarySmooth,
    Kernel::ResidualRestrict,
    Kernel::Prolong,
    Kernel::Coarsest,
    Kernel::ConvertOut,
];

/// Levels a profile tells apart (a deeper level's time is added to the last of them).
pub const PROFILED_LEVELS: usize = 16;

/// Accumulated calls, seconds and modelled bytes of one kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct KernelStats {
    /// Calls (all levels).
    pub calls: u64,
    /// Seconds in all.
    pub seconds: f64,
    /// Modelled bytes moved in all.
    pub bytes: f64,
    /// Seconds by level, finest first (the fused PCG kernels run on the finest).
    pub level_seconds: [f64; PROFILED_LEVELS],
}

/// An MGPCG profile: V-cycle applications and the statistics of each kernel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MgpcgProfile {
    /// V-cycle applications profiled.
    pub applications: u64,
    /// Cells of the finest level (to express bytes per cell).
    pub fine_cells: usize,
    /// Per kernel, in V-cycle order.
    pub kernels: Vec<(Kernel, KernelStats)>,
}

impl MgpcgProfile {
    /// Seconds per application of all kernels together.
    pub fn seconds_per_application(&self) -> f64 {
        self.kernels.iter().map(|(_, s)| s.seconds).sum::<f64>() / self.applications.max(1) as f64
    }
}

/// The accumulators, kept with the V-cycle's scratch (so under its lock).
#[derive(Debug, Clone, Default)]
pub(super) struct Recorder {
    pub applications: u64,
    /// The level the kernels now recorded run on.
    pub level: usize,
    stats: [KernelStats; KERNELS.len()],
}

impl Recorder {
    /// Adds one call of `kernel` that started at `start` and moved `bytes`.
    pub fn add(&mut self, kernel: Kernel, start: Instant, bytes: f64) {
        let s = &mut self.stats[kernel as usize];
        let seconds = start.elapsed().as_secs_f64();
        s.calls += 1;
        s.seconds += seconds;
        s.bytes += bytes;
        s.level_seconds[self.level.min(PROFILED_LEVELS - 1)] += seconds;
    }
    pub fn report(&self, fine_cells: usize) -> MgpcgProfile {
        MgpcgProfile {
            applications: self.applications,
            fine_cells,
            kernels: KERNELS
                .iter()
                .map(|&k| (k, self.stats[k as usize]))
                .collect(),
        }
    }
}

/// Tells the recorder (when profiling is on) that the kernels from now on run on `level`.
#[inline]
pub(super) fn at_level(rec: &mut Option<Box<Recorder>>, level: usize) {
    if let Some(r) = rec.as_mut() {
        r.level = level;
    }
}

/// Starts timing when profiling is on.
#[inline]
pub(super) fn start(rec: &Option<Box<Recorder>>) -> Option<Instant> {
    rec.as_ref().map(|_| Instant::now())
}

/// Records a call started by [`start`].
#[inline]
pub(super) fn stop(
    rec: &mut Option<Box<Recorder>>,
    kernel: Kernel,
    t: Option<Instant>,
    bytes: f64,
) {
    if let (Some(r), Some(t)) = (rec.as_mut(), t) {
        r.add(kernel, t, bytes);
    }
}
