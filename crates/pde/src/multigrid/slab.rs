//! The V-cycle split into slabs of planes across parts (processes): one part's share of
//! MGPCG's preconditioner, for `ritz-dist`.
//!
//! Each part computes the planes it owns along the slab axis (z in 3D, y in 2D) on the `split`
//! finest levels, with the serial kernels restricted to those planes, and fetches its
//! neighbours' boundary planes through a [`SlabExchange`]:
//!
//! * before each red–black half-sweep (whole-level or boundary), one plane per side of the
//!   colour the half-sweep reads — the red–black halo exchange per colour;
//! * before the fused residual–restriction, two planes of `x` and (once per cycle, when the
//!   level's right-hand side is known) one plane of `b` per side: the restriction of an owned
//!   coarse plane reads the residual of one fine plane beyond the slab;
//! * before the prolongation, one plane of the coarse `x` per side.
//!
//! The first level not split is **gathered**: each part's restriction fills its own planes
//! of that level's right-hand side (zero elsewhere), one element-wise sum over the parts gives
//! every part the whole level, and every part runs the serial V-cycle from there to the
//! coarsest solve — redundantly, so that no broadcast of the correction is needed. Levels are
//! gathered once they are small (a threshold the caller picks) or too thin to split.
//!
//! Every owned value is computed from the same inputs by the same kernels as in the serial
//! V-cycle: the split V-cycle is the serial one, up to nothing (each part's values equal the
//! serial cycle's, bit for bit, on its planes).
//!
//! Memory: a part holds a **window** of the split levels — the coarsening of the finest
//! planes `[a − 2^split, b + 2^split)` around its own `[a, b)`, whose levels line up with the
//! restriction as the whole grid's do (level `l` of the window is planes
//! `[a/2^l − 2^(split−l), b/2^l + 2^(split−l))`) — and the whole of the gathered levels,
//! built from the gathered level's flags and conductances (one sum each at setup). A part's
//! memory is its slab's share plus `2^(split+1)` planes of the finest level and the gathered
//! levels (under the gather threshold).

use super::conductance::{Conductance, face_dims};
use super::hierarchy::{Level, natural_from, split_from};
use super::profile::at_level;
use super::transfer::{prolong_add, residual_restrict};
use super::{AnyScratch, GridMultigrid, Kernel, MultigridParams, Real, Scratch};
use crate::error::PdeError;
use crate::grid::MacGrid;
use crate::poisson::PoissonProblem;
use ritz_linalg::Preconditioner;
use std::ops::Range;

/// The messages a split V-cycle sends (implemented by `ritz-dist` over its communicators).
pub trait SlabExchange {
    /// Sends `to_below` to the part owning the planes below this one's and `to_above` to the
    /// part above; receives what they send into `from_below` and `from_above`. A side with no
    /// neighbour has empty slices. Collective between neighbours; the lengths match the
    /// neighbours' sends by construction.
    fn exchange(
        &self,
        to_below: &[u8],
        to_above: &[u8],
        from_below: &mut [u8],
        from_above: &mut [u8],
    );
    /// Element-wise sum of `v` over all parts, the same result on every part. Collective.
    fn sum(&self, v: &mut [f64]);
}

/// One part's planes on each split level, in its window's coordinates.
#[derive(Debug, Clone)]
pub(super) struct SlabPart {
    /// Owned planes of the window's levels `0..=split` (level `split` only for the
    /// restriction into it and the prolongation from it).
    planes: Vec<Range<usize>>,
    /// Levels `0..split` are split; level `split` and coarser are gathered.
    split: usize,
    below: bool,
    above: bool,
    /// The window's first plane on level `split`, in the whole level's coordinates.
    window_start: usize,
}

/// How a part holds its V-cycle.
enum Cycle {
    /// Nothing split: the whole V-cycle on every part (one part: the serial V-cycle itself).
    Whole(Box<GridMultigrid>),
    /// The split levels' window (levels `0..=split`) and the gathered levels (`split..`).
    Split(Box<Split>),
}

/// The split case of [`Cycle`].
struct Split {
    window: GridMultigrid,
    tail: GridMultigrid,
    part: SlabPart,
}

/// One part's share of a V-cycle split into slabs (see the module docs): a preconditioner on
/// this part's cells, collective over the parts — every part applies it with its own residual
/// through the same [`SlabExchange`] pattern.
///
/// ```
/// use ritz_pde::{MultigridParams, Scene, SlabExchange, SlabMultigrid};
/// /// One part alone: no neighbours, sums over itself.
/// struct Alone;
/// impl SlabExchange for Alone {
///     fn exchange(&self, _: &[u8], _: &[u8], _: &mut [u8], _: &mut [u8]) {}
///     fn sum(&self, _: &mut [f64]) {}
/// }
/// let grid = Scene::Spheres.generate(3, 16, 0)?;
/// // All 16 planes owned, two levels split (trivially, with no neighbours).
/// let part = SlabMultigrid::new(&grid, 0..16, 2, MultigridParams::default(), &Alone)?;
/// let r = vec![1.0; 16 * 16 * 16];
/// let mut z = vec![0.0; r.len()];
/// part.apply(&Alone, &r, &mut z);
/// assert_eq!(part.dim(), 16 * 16 * 16);
/// # Ok::<(), ritz_pde::PdeError>(())
/// ```
pub struct SlabMultigrid {
    cycle: Cycle,
    /// The owned cells' flat indices in the finest grid.
    owned: Range<usize>,
    params: MultigridParams,
}

impl std::fmt::Debug for SlabMultigrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabMultigrid")
            .field("owned", &self.owned)
            .field("split", &self.split_levels())
            .finish()
    }
}

impl SlabMultigrid {
    /// This part's share of the V-cycle of the problem on `grid` (the whole grid: only the
    /// part's window of planes is read), owning `planes` of the slab axis (z in 3D, y in 2D)
    /// and splitting the `split` finest levels (0: the whole V-cycle on every part). On level
    /// `l ≤ split` it owns planes `planes.start / 2^l .. planes.end / 2^l` (to the level's end
    /// for the last part).
    ///
    /// Collective: the parts sum the gathered level's flags and conductances through `link`.
    /// Cost: the window's hierarchy (its cells' share of the serial setup), two sums of the
    /// gathered level, and the gathered levels' setup with the coarsest solve on every part.
    ///
    /// Errors ([`PdeError::Unsupported`]): plane bounds not multiples of `2^split` (the last
    /// part's end excepted) or outside the grid; fewer than two owned planes on a split
    /// level; a grid whose coarsening runs out of fluid or size before the gathered level; and
    /// the hierarchy's own errors ([`GridMultigrid::new`]).
    pub fn new(
        grid: &MacGrid,
        planes: Range<usize>,
        split: usize,
        params: MultigridParams,
        link: &dyn SlabExchange,
    ) -> Result<Self, PdeError> {
        let axis = grid.dim() - 1;
        let n = grid.dims()[axis];
        let plane = grid.len() / n;
        let last = planes.end == n;
        if split == 0 {
            // Nothing split: every part builds the whole V-cycle (no messages).
            if planes.start >= planes.end || planes.end > n {
                return Err(PdeError::Unsupported(format!("planes {planes:?} of {n}")));
            }
            let p = PoissonProblem::new(grid.clone())?;
            let mg = GridMultigrid::new(&p, params)?;
            return Ok(Self {
                cycle: Cycle::Whole(Box::new(mg)),
                owned: planes.start * plane..planes.end * plane,
                params,
            });
        }
        // This part's window; every part learns whether all of them succeeded before the
        // collective steps, so that one part's error cannot leave the others waiting.
        let local = Self::window(grid, &planes, split, params);
        let mut failed = [f64::from(u8::from(local.is_err()))];
        link.sum(&mut failed);
        let (mut win, owned_planes, window) = match local {
            Err(e) => return Err(e),
            Ok(_) if failed[0] > 0.0 => {
                return Err(PdeError::Unsupported(
                    "another part could not build its share of the split V-cycle".into(),
                ));
            }
            Ok(w) => w,
        };
        let (below, above) = (planes.start > 0, !last);
        let owned = planes.start * plane..planes.end * plane;
        // The gathered level: every part's planes of its flags and conductances, summed.
        let (lgrid, lcond) = *win.window_last.take().ok_or_else(|| {
            PdeError::Unsupported("the split V-cycle's window lost its last level".into())
        })?;
        let window_start = window.start >> split;
        let mine = owned_planes[split].clone();
        let whole = gathered_level(
            grid,
            split,
            &lgrid,
            lcond.as_ref(),
            window_start,
            &mine,
            last,
            link,
        )?;
        let (tgrid, tcond) = whole;
        // The tail's level 0 is level `split` of the whole cycle.
        let tail_params = MultigridParams {
            schedule: params.schedule.map(|s| s.from_level(split)),
            ..params
        };
        let op = super::mapped(&tail_params, 0, tcond.as_ref());
        let first = Level::from_grid(&tgrid, op.as_deref()).ok_or_else(|| {
            PdeError::Unsupported(format!("level {split} of the grid has no fluid"))
        })?;
        let tail =
            GridMultigrid::build(first, tgrid, tcond, tail_params, super::Tail::Solve(None))?;
        Ok(Self {
            cycle: Cycle::Split(Box::new(Split {
                window: win,
                tail,
                part: SlabPart {
                    planes: owned_planes,
                    split,
                    below,
                    above,
                    window_start,
                },
            })),
            owned,
            params,
        })
    }

    /// This part's window of the split levels (see the module docs), with its owned planes per
    /// level (window coordinates) and the window's planes of the finest level.
    #[allow(clippy::type_complexity)]
    fn window(
        grid: &MacGrid,
        planes: &Range<usize>,
        split: usize,
        params: MultigridParams,
    ) -> Result<(GridMultigrid, Vec<Range<usize>>, Range<usize>), PdeError> {
        let bad = |why: String| Err(PdeError::Unsupported(why));
        let n = grid.dims()[grid.dim() - 1];
        let unit = 1usize << split;
        let last = planes.end == n;
        if planes.start >= planes.end
            || planes.end > n
            || !planes.start.is_multiple_of(unit)
            || (!last && !planes.end.is_multiple_of(unit))
        {
            return bad(format!(
                "planes {planes:?} of {n} do not align with {split} split levels (multiples \
                 of {unit})"
            ));
        }
        let alone = planes.start == 0 && last;
        let window = planes.start.saturating_sub(unit)..(planes.end + unit).min(n);
        let wgrid = grid.slab(window.clone())?;
        let first = Level::from_grid_in(&wgrid, None, true)
            .ok_or_else(|| PdeError::Unsupported("an empty window".into()))?;
        let mut win =
            GridMultigrid::build(first, wgrid, None, params, super::Tail::Window(split + 1))?;
        let mut owned = Vec::with_capacity(split + 1);
        for l in 0..=split {
            let wl = win.levels[l].planes();
            let start = (planes.start >> l) - (window.start >> l);
            let end = if last {
                wl
            } else {
                (planes.end >> l) - (window.start >> l)
            };
            if l < split && end - start < 2 && !alone {
                return bad(format!(
                    "level {l} would own {} plane(s); a split level needs at least 2",
                    end - start
                ));
            }
            owned.push(start..end);
        }
        for (l, r) in owned.iter().enumerate() {
            win.levels[l].set_active(r.clone());
        }
        Ok((win, owned, window))
    }

    /// Number of owned cells (the length of the vectors [`SlabMultigrid::apply`] takes).
    pub fn dim(&self) -> usize {
        self.owned.len()
    }
    /// Levels split across the parts (the rest are gathered).
    pub fn split_levels(&self) -> usize {
        match &self.cycle {
            Cycle::Whole(_) => 0,
            Cycle::Split(sp) => sp.part.split,
        }
    }
    /// Number of levels of the whole V-cycle.
    pub fn num_levels(&self) -> usize {
        match &self.cycle {
            Cycle::Whole(mg) => mg.num_levels(),
            Cycle::Split(sp) => sp.part.split + sp.tail.num_levels(),
        }
    }
    /// The V-cycle's parameters.
    pub fn params(&self) -> MultigridParams {
        self.params
    }
    /// A short description (levels, split, arithmetic).
    pub fn name(&self) -> String {
        let p = self.params;
        format!(
            "multigrid V({},{}) {:?}, {} levels ({} split)",
            p.pre_smooth,
            p.post_smooth,
            p.precision,
            self.num_levels(),
            self.split_levels()
        )
    }

    /// One V-cycle on this part's residual `r` into `z` (both the owned cells, grid order).
    /// Collective: every part calls it once per application. Cost: the serial V-cycle's work
    /// on the owned planes of split levels plus the gathered levels' whole V-cycle; per split
    /// level `4 (ν + boundary sweeps) + 1` neighbour exchanges of one or two planes (one more
    /// when the next level is split too), and one sum of the gathered level's vector.
    ///
    /// Panics on lengths other than [`SlabMultigrid::dim`] (a bug in the caller).
    pub fn apply(&self, link: &dyn SlabExchange, r: &[f64], z: &mut [f64]) {
        assert_eq!(r.len(), self.dim(), "slab multigrid apply: r length");
        assert_eq!(z.len(), self.dim(), "slab multigrid apply: z length");
        match &self.cycle {
            Cycle::Whole(mg) if self.owned.len() == mg.levels[0].len() => mg.apply(r, z),
            Cycle::Whole(mg) => {
                // Gather the residual, run the whole cycle, keep the owned part.
                let mut full = vec![0.0; mg.levels[0].len()];
                full[self.owned.clone()].copy_from_slice(r);
                link.sum(&mut full);
                let mut zf = vec![0.0; full.len()];
                mg.apply(&full, &mut zf);
                z.copy_from_slice(&zf[self.owned.clone()]);
            }
            Cycle::Split(sp) => {
                let (window, tail, part) = (&sp.window, &sp.tail, &sp.part);
                let mut wg = window.scratch.lock().unwrap_or_else(|e| e.into_inner());
                let mut tg = tail.scratch.lock().unwrap_or_else(|e| e.into_inner());
                match (&mut *wg, &mut *tg) {
                    (AnyScratch::F64(ws), AnyScratch::F64(ts)) => {
                        window.apply_split(tail, ws, ts, part, link, r, z)
                    }
                    (AnyScratch::F32(ws), AnyScratch::F32(ts)) => {
                        window.apply_split(tail, ws, ts, part, link, r, z)
                    }
                    // Both are built with the same precision.
                    _ => z.fill(f64::NAN),
                }
            }
        }
    }
}

/// The whole level `split` on every part: each part's owned planes of its window's last
/// level (`mine`, window coordinates; the window starts at plane `window_start` of the level)
/// — flag codes and, when area-weighted, face conductances — summed over the parts.
#[allow(clippy::too_many_arguments)]
fn gathered_level(
    grid: &MacGrid,
    split: usize,
    lgrid: &MacGrid,
    lcond: Option<&Conductance>,
    window_start: usize,
    mine: &Range<usize>,
    last: bool,
    link: &dyn SlabExchange,
) -> Result<(MacGrid, Option<Conductance>), PdeError> {
    let dim = grid.dim();
    let axis = dim - 1;
    let mut dims = grid.dims();
    for d in dims.iter_mut().take(dim) {
        for _ in 0..split {
            *d = d.div_ceil(2);
        }
    }
    let plane: usize = dims[..axis].iter().product();
    let n = dims[axis];
    let codes = lgrid.codes();
    let mut whole = vec![0.0; plane * n];
    for k in mine.clone() {
        let g = window_start + k;
        for (w, &c) in whole[g * plane..(g + 1) * plane]
            .iter_mut()
            .zip(&codes[k * plane..(k + 1) * plane])
        {
            *w = c as f64;
        }
    }
    link.sum(&mut whole);
    let codes: Vec<i8> = whole.iter().map(|&c| c as i8).collect();
    let shape = dims[..dim].to_vec();
    let tgrid = MacGrid::from_codes(&shape, &codes, grid.walls())?;
    let tcond = match lcond {
        None => None,
        Some(c) => {
            let mut g: [Vec<f32>; 3] = Default::default();
            for (a, ga) in g.iter_mut().enumerate().take(dim) {
                let fd = face_dims(dims, a);
                let wfd = face_dims(c.dims, a);
                // Entries per plane of the slab axis, and this part's planes of faces (the
                // faces normal to the slab axis: its lower ones, and the domain's last).
                let blk: usize = fd[..axis].iter().product();
                let wblk: usize = wfd[..axis].iter().product();
                let end = if a == axis && last {
                    mine.end + 1
                } else {
                    mine.end
                };
                let mut vals = vec![0.0; fd.iter().product()];
                for k in mine.start..end {
                    let gk = window_start + k;
                    for (v, &w) in vals[gk * blk..(gk + 1) * blk]
                        .iter_mut()
                        .zip(&c.g[a][k * wblk..(k + 1) * wblk])
                    {
                        *v = w as f64;
                    }
                }
                link.sum(&mut vals);
                *ga = vals.iter().map(|&v| v as f32).collect();
            }
            Some(Conductance { dims, dim, g })
        }
    };
    Ok((tgrid, tcond))
}

impl GridMultigrid {
    /// The split V-cycle on a window (`self`) and its gathered levels (`tail`).
    #[allow(clippy::too_many_arguments)]
    fn apply_split<T: Real>(
        &self,
        tail: &GridMultigrid,
        s: &mut Scratch<T>,
        ts: &mut Scratch<T>,
        part: &SlabPart,
        link: &dyn SlabExchange,
        r: &[f64],
        z: &mut [f64],
    ) {
        let fine = &self.levels[0];
        split_from(fine, r, &mut s.b[0]);
        self.vcycle_split(tail, s, ts, 0, part, link);
        natural_from(fine, &s.x[0], z);
    }

    /// The V-cycle from split level `l` (see the module docs).
    fn vcycle_split<T: Real>(
        &self,
        tail: &GridMultigrid,
        s: &mut Scratch<T>,
        ts: &mut Scratch<T>,
        l: usize,
        part: &SlabPart,
        link: &dyn SlabExchange,
    ) {
        // Pre- and post-smoothing make the same number of sweeps: the cycle is symmetric.
        let (sweeps, bs) = (self.params.sweeps(l), self.params.boundary_sweeps);
        let halo = Some((part, link));
        at_level(&mut s.prof, l);
        self.exchange(part, link, l, &mut s.b[l], &[0, 1], 1);
        self.smooth(s, l, sweeps, Kernel::Smooth, [0, 1], halo);
        self.smooth(s, l, bs, Kernel::BoundarySmooth, [0, 1], halo);
        self.exchange(part, link, l, &mut s.x[l], &[0, 1], 2);
        let (fine_b, coarse_b) = s.b.split_at_mut(l + 1);
        residual_restrict(
            &self.levels[l],
            &self.levels[l + 1],
            part.planes[l + 1].clone(),
            &s.x[l],
            &fine_b[l],
            &mut s.r[l],
            &mut coarse_b[0],
        );
        if l + 1 == part.split {
            self.gathered_cycle(tail, s, ts, part, link);
        } else {
            self.vcycle_split(tail, s, ts, l + 1, part, link);
            self.exchange(part, link, l + 1, &mut s.x[l + 1], &[0, 1], 1);
        }
        at_level(&mut s.prof, l);
        let (xf, xc) = s.x.split_at_mut(l + 1);
        prolong_add(
            &self.levels[l + 1],
            &self.levels[l],
            &xc[0],
            &mut s.r[l],
            &mut xf[l],
            self.levels[l].weights.correction,
        );
        self.smooth(s, l, bs, Kernel::BoundarySmooth, [1, 0], halo);
        self.smooth(s, l, sweeps, Kernel::Smooth, [1, 0], halo);
    }

    /// The gathered levels: this part's planes of the window's last right-hand side into the
    /// whole level (zero elsewhere), one sum, the serial V-cycle from there on every part,
    /// and the planes the prolongation reads back into the window.
    fn gathered_cycle<T: Real>(
        &self,
        tail: &GridMultigrid,
        s: &mut Scratch<T>,
        ts: &mut Scratch<T>,
        part: &SlabPart,
        link: &dyn SlabExchange,
    ) {
        let d = part.split;
        let (wl, tl) = (&self.levels[d], &tail.levels[0]);
        let flip = part.window_start % 2;
        let mine = part.planes[d].clone();
        let mut whole = vec![0.0; ts.b[0].len()];
        for c in 0..2 {
            for k in mine.clone() {
                let src = &s.b[d][c * wl.lay.size..][wl.plane_slots(k)];
                let dst = (c ^ flip) * tl.lay.size;
                for (w, v) in whole[dst..][tl.plane_slots(part.window_start + k)]
                    .iter_mut()
                    .zip(src)
                {
                    *w = v.to_f64();
                }
            }
        }
        link.sum(&mut whole);
        for (v, w) in ts.b[0].iter_mut().zip(&whole) {
            *v = T::from_f64(*w);
        }
        tail.vcycle(ts, 0);
        // The window's planes of the level (all of them lie in the whole level).
        for c in 0..2 {
            for k in 0..wl.planes() {
                let src = (c ^ flip) * tl.lay.size;
                let from = &ts.x[0][src..][tl.plane_slots(part.window_start + k)];
                s.x[d][c * wl.lay.size..][wl.plane_slots(k)].copy_from_slice(from);
            }
        }
    }

    /// Fills `depth` planes beyond each end of this part's planes of level `l` in `v` (the
    /// given colours) with the neighbours' boundary planes: one message each way.
    pub(super) fn exchange<T: Real>(
        &self,
        part: &SlabPart,
        link: &dyn SlabExchange,
        l: usize,
        v: &mut [T],
        colours: &[usize],
        depth: usize,
    ) {
        let lev: &Level = &self.levels[l];
        let size = lev.lay.size;
        let own = part.planes[l].clone();
        let pack = |ks: Range<usize>| {
            let mut out = Vec::new();
            for &c in colours {
                for k in ks.clone() {
                    T::put(&v[c * size..][lev.plane_slots(k)], &mut out);
                }
            }
            out
        };
        let down = if part.below {
            pack(own.start..own.start + depth)
        } else {
            Vec::new()
        };
        let up = if part.above {
            pack(own.end - depth..own.end)
        } else {
            Vec::new()
        };
        let (mut from_below, mut from_above) = (vec![0u8; down.len()], vec![0u8; up.len()]);
        link.exchange(&down, &up, &mut from_below, &mut from_above);
        let bytes = std::mem::size_of::<T>();
        let mut unpack = |ks: Range<usize>, msg: &[u8]| {
            let mut at = 0;
            for &c in colours {
                for k in ks.clone() {
                    let slots = lev.plane_slots(k);
                    let n = slots.len();
                    T::get(&msg[at..at + n * bytes], &mut v[c * size..][slots]);
                    at += n * bytes;
                }
            }
        };
        if part.below {
            unpack(own.start - depth..own.start, &from_below);
        }
        if part.above {
            unpack(own.end..own.end + depth, &from_above);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scene;

    struct Alone;
    impl SlabExchange for Alone {
        fn exchange(&self, _: &[u8], _: &[u8], _: &mut [u8], _: &mut [u8]) {}
        fn sum(&self, _: &mut [f64]) {}
    }

    #[test]
    fn parts_that_do_not_align_with_the_split_levels_are_rejected() {
        let grid = Scene::Spheres.generate(3, 16, 0).unwrap();
        let params = MultigridParams::default();
        // Misaligned start, misaligned end, an empty range, beyond the grid.
        for (planes, split) in [(2..8, 2), (0..6, 2), (8..8, 1), (8..20, 2)] {
            let r = SlabMultigrid::new(&grid, planes.clone(), split, params, &Alone);
            assert!(
                matches!(r, Err(PdeError::Unsupported(_))),
                "{planes:?} split {split}"
            );
        }
    }

    #[test]
    fn one_part_splitting_levels_is_the_serial_vcycle() {
        // No neighbours: the window is the grid, the gathered level the whole level; with
        // the default weights and with a schedule whose every level differs (the tail's
        // levels take the schedule's entries from the split level on).
        let mut schedule = crate::Schedule::uniform(1.2);
        for (l, w) in schedule.levels.iter_mut().enumerate() {
            w.sweeps[1] = 1.0 + 0.15 * l as f32;
            w.boundary = 1.5 - 0.1 * l as f32;
            w.correction = 0.9 + 0.1 * l as f32;
            w.conductance_exponent = 1.0 + 0.2 * l as f32;
            w.sweep_count = [Some(1), Some(3), None, Some(4)][l];
        }
        let cases = [
            MultigridParams::default(),
            MultigridParams {
                schedule: Some(schedule),
                ..Default::default()
            },
        ];
        for (dim, params) in [2, 3].into_iter().flat_map(|d| cases.map(|c| (d, c))) {
            let grid = Scene::Pillars.generate(dim, 32, 1).unwrap();
            let p = PoissonProblem::new(grid.clone()).unwrap();
            let mg = GridMultigrid::new(&p, params).unwrap();
            let r: Vec<f64> = (0..grid.len())
                .map(|i| ((i * 7 % 13) as f64).cos())
                .collect();
            let (mut want, mut got) = (vec![0.0; r.len()], vec![0.0; r.len()]);
            mg.apply(&r, &mut want);
            let n = grid.dims()[dim - 1];
            let part = SlabMultigrid::new(&grid, 0..n, 2, params, &Alone);
            let part = part.unwrap();
            assert_eq!(part.split_levels(), 2);
            assert_eq!(part.num_levels(), mg.num_levels());
            part.apply(&Alone, &r, &mut got);
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
        }
    }
}
