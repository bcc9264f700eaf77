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
//! Memory: each part holds the whole hierarchy (its vectors and codes), computing only its
//! planes — a part's memory is the serial solver's. Storing only a window of planes is the
//! next step for grids beyond one node's memory.

use super::hierarchy::{Level, fill, natural_from, split_from};
use super::transfer::{prolong_add, residual_restrict};
use super::{AnyScratch, GridMultigrid, Kernel, Real, Scratch};
use crate::error::PdeError;
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

/// One part's planes on each split level.
#[derive(Debug, Clone)]
pub(super) struct SlabPart {
    /// Owned planes per level `0..=split` (level `split` only for the restriction into it).
    planes: Vec<Range<usize>>,
    /// Levels `0..split` are split; level `split` and coarser are gathered.
    split: usize,
    below: bool,
    above: bool,
}

/// One part's share of a V-cycle split into slabs (see the module docs): a preconditioner on
/// this part's cells, collective over the parts — every part applies it with its own residual
/// through the same [`SlabExchange`] pattern.
///
/// ```
/// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene, SlabMultigrid};
/// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
/// let mg = GridMultigrid::new(&p, MultigridParams::default())?;
/// // The lower half of the planes, the two finest levels split.
/// let part = SlabMultigrid::new(mg, 0..8, 2, false, true)?;
/// assert_eq!(part.dim(), 16 * 16 * 8);
/// # Ok::<(), ritz_pde::PdeError>(())
/// ```
pub struct SlabMultigrid {
    mg: GridMultigrid,
    part: SlabPart,
    /// The owned cells' flat indices in the finest grid.
    owned: Range<usize>,
}

impl std::fmt::Debug for SlabMultigrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabMultigrid")
            .field("mg", &self.mg)
            .field("planes", &self.part.planes)
            .field("split", &self.part.split)
            .finish()
    }
}

impl SlabMultigrid {
    /// This part's share of `mg` (built on the whole problem): it owns `planes` of the finest
    /// level's slab axis, splits the `split` finest levels (0: the whole V-cycle gathered)
    /// and has a neighbour `below` / `above`. On level `l` it owns planes
    /// `planes.start / 2^l .. planes.end / 2^l` (to the level's end for the last part).
    ///
    /// Cost: a binary search per level. Errors ([`PdeError::Unsupported`]): `split` not below
    /// the number of levels; plane bounds not multiples of `2^split` (the last part's end
    /// excepted) or outside the grid; fewer than two owned planes on a split level (the
    /// restriction reads two planes of each neighbour).
    pub fn new(
        mut mg: GridMultigrid,
        planes: Range<usize>,
        split: usize,
        below: bool,
        above: bool,
    ) -> Result<Self, PdeError> {
        let bad = |why: String| Err(PdeError::Unsupported(why));
        let n = mg.levels[0].planes();
        if split >= mg.levels.len() {
            return bad(format!(
                "{split} split levels of a {}-level V-cycle (one must be gathered)",
                mg.levels.len()
            ));
        }
        let unit = 1usize << split;
        let last = planes.end == n;
        if planes.start >= planes.end
            || planes.end > n
            || !planes.start.is_multiple_of(unit)
            || (!last && !planes.end.is_multiple_of(unit))
            || (planes.start == 0) == below
            || last == above
        {
            return bad(format!(
                "planes {planes:?} of {n} (neighbours below {below}, above {above}) do not \
                 align with {split} split levels (multiples of {unit})"
            ));
        }
        let mut owned = Vec::with_capacity(split + 1);
        for l in 0..=split {
            let nl = mg.levels[l].planes();
            let end = if last { nl } else { planes.end >> l };
            let r = planes.start >> l..end;
            if l < split && r.len() < 2 && (below || above) {
                return bad(format!(
                    "level {l} would own {} plane(s); a split level needs at least 2",
                    r.len()
                ));
            }
            owned.push(r);
        }
        for (l, r) in owned.iter().enumerate().take(split) {
            mg.levels[l].set_active(r.clone());
        }
        let plane = mg.levels[0].len() / n;
        let part = SlabPart {
            planes: owned,
            split,
            below,
            above,
        };
        Ok(Self {
            owned: planes.start * plane..planes.end * plane,
            mg,
            part,
        })
    }

    /// Number of owned cells (the length of the vectors [`SlabMultigrid::apply`] takes).
    pub fn dim(&self) -> usize {
        self.owned.len()
    }
    /// Levels split across the parts (the rest are gathered).
    pub fn split_levels(&self) -> usize {
        self.part.split
    }
    /// The whole V-cycle's parameters and levels.
    pub fn multigrid(&self) -> &GridMultigrid {
        &self.mg
    }

    /// One V-cycle on this part's residual `r` into `z` (both the owned cells, grid order).
    /// Collective: every part calls it once per application. Cost: the serial V-cycle's work
    /// on the owned planes of split levels plus the gathered levels' whole V-cycle; per split
    /// level `4 (ν + boundary sweeps) + 3` neighbour exchanges of one or two planes, and one
    /// sum of the first gathered level's vector.
    ///
    /// Panics on lengths other than [`SlabMultigrid::dim`] (a bug in the caller).
    pub fn apply(&self, link: &dyn SlabExchange, r: &[f64], z: &mut [f64]) {
        assert_eq!(r.len(), self.dim(), "slab multigrid apply: r length");
        assert_eq!(z.len(), self.dim(), "slab multigrid apply: z length");
        if !self.part.below && !self.part.above {
            // One part: the serial V-cycle itself.
            return self.mg.apply(r, z);
        }
        if self.part.split == 0 {
            // Nothing split: gather the residual, run the serial cycle, keep the owned part.
            let mut full = vec![0.0; self.mg.levels[0].len()];
            full[self.owned.clone()].copy_from_slice(r);
            link.sum(&mut full);
            let mut zf = vec![0.0; full.len()];
            self.mg.apply(&full, &mut zf);
            z.copy_from_slice(&zf[self.owned.clone()]);
            return;
        }
        let mut guard = self.mg.scratch.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *guard {
            AnyScratch::F64(s) => self.apply_in(s, link, r, z),
            AnyScratch::F32(s) => self.apply_in(s, link, r, z),
        }
    }

    fn apply_in<T: Real>(
        &self,
        s: &mut Scratch<T>,
        link: &dyn SlabExchange,
        r: &[f64],
        z: &mut [f64],
    ) {
        let fine = &self.mg.levels[0];
        split_from(fine, r, &mut s.b[0]);
        self.mg.vcycle_split(s, 0, &self.part, link);
        natural_from(fine, &s.x[0], z);
    }
}

impl GridMultigrid {
    /// The V-cycle from split level `l` (see the module docs).
    fn vcycle_split<T: Real>(
        &self,
        s: &mut Scratch<T>,
        l: usize,
        part: &SlabPart,
        link: &dyn SlabExchange,
    ) {
        if l == part.split {
            // Gathered: each part filled its planes (zero elsewhere); the sum is the level.
            let mut whole: Vec<f64> = s.b[l].iter().map(|v| v.to_f64()).collect();
            link.sum(&mut whole);
            for (v, w) in s.b[l].iter_mut().zip(&whole) {
                *v = T::from_f64(*w);
            }
            self.vcycle(s, l);
            return;
        }
        let (pre, post, bs) = (
            self.params.pre_smooth,
            self.params.post_smooth,
            self.params.boundary_sweeps,
        );
        let halo = Some((part, link));
        self.exchange(part, link, l, &mut s.b[l], &[0, 1], 1);
        self.smooth(s, l, pre, Kernel::Smooth, [0, 1], halo);
        self.smooth(s, l, bs, Kernel::BoundarySmooth, [0, 1], halo);
        self.exchange(part, link, l, &mut s.x[l], &[0, 1], 2);
        let (fine_b, coarse_b) = s.b.split_at_mut(l + 1);
        if l + 1 == part.split {
            fill(&mut coarse_b[0], T::default());
        }
        residual_restrict(
            &self.levels[l],
            &self.levels[l + 1],
            part.planes[l + 1].clone(),
            &s.x[l],
            &fine_b[l],
            &mut s.r[l],
            &mut coarse_b[0],
        );
        self.vcycle_split(s, l + 1, part, link);
        if l + 1 < part.split {
            self.exchange(part, link, l + 1, &mut s.x[l + 1], &[0, 1], 1);
        }
        let (xf, xc) = s.x.split_at_mut(l + 1);
        prolong_add(
            &self.levels[l + 1],
            &self.levels[l],
            &xc[0],
            &mut s.r[l],
            &mut xf[l],
        );
        self.smooth(s, l, bs, Kernel::BoundarySmooth, [1, 0], halo);
        self.smooth(s, l, post, Kernel::Smooth, [1, 0], halo);
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
    use crate::{MultigridParams, PoissonProblem, Scene};

    fn mg() -> GridMultigrid {
        let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0).unwrap()).unwrap();
        GridMultigrid::new(&p, MultigridParams::default()).unwrap()
    }

    #[test]
    fn parts_that_do_not_align_with_the_split_levels_are_rejected() {
        // Misaligned start, misaligned end, neighbour flags that contradict the planes, too
        // many split levels, a split level with one plane.
        for (planes, split, below, above) in [
            (2..8, 2, true, true),
            (0..6, 2, false, true),
            (0..8, 2, true, true),
            (8..16, 2, true, true),
            (0..8, 9, false, true),
            (0..4, 3, false, true),
        ] {
            let r = SlabMultigrid::new(mg(), planes.clone(), split, below, above);
            assert!(
                matches!(r, Err(PdeError::Unsupported(_))),
                "{planes:?} split {split}"
            );
        }
        assert!(SlabMultigrid::new(mg(), 8..16, 2, true, false).is_ok());
    }
}
