//! Area-weighted coarse operators: the face conductances of each coarse level.
//!
//! A coarse face covers `2^(d−1)` faces of the level below (4 in 3D, 2 in 2D). Its conductance
//! is the mean of theirs, so that at every level it is the fraction of the finest grid's faces
//! inside it that are open — a finest face is open when neither side is solid (at a domain
//! wall: an air wall next to a non-solid cell). A coarse fluid cell's row is then
//! `diag · x − Σ g · x_neighbour`, with `diag` the sum of its faces' conductances (air
//! neighbours and air walls count in `diag` only) — the unit Laplacian wherever every face is
//! open, but a channel that is half blocked at the finest level conducts half as much on the
//! coarse grids. Rediscretizing with unit coefficients instead makes the coarse grids of a
//! porous medium far more conductive than the fine one (grains shrink under coarsening), and
//! the coarse correction then overshoots in the narrow channels.

use super::hierarchy::{FLUID_BIT, boundary_entry};
use crate::grid::{CellFlag, MacGrid, WallKind};
use rayon::prelude::*;

/// Face conductances of one level in natural order: `g[a]` has, for each face normal to axis
/// `a`, one value, with `n_a + 1` faces per grid line along `a` (both domain walls included);
/// index `i + f₀ (j + f₁ k)` over the face grid `f = dims + e_a`. Values are dyadic fractions
/// (exact in `f32`).
#[derive(Debug, Clone)]
pub(super) struct Conductance {
    pub(super) dims: [usize; 3],
    pub(super) dim: usize,
    pub(super) g: [Vec<f32>; 3],
}

/// Conductances are kept as multiples of `1 / SCALE` (exact in `f32`, stored as `u8` in the
/// kernels' arrays): exact for the first three coarse levels in 3D (multiples of 1/4, 1/16,
/// 1/64), rounded below them, where levels are tiny. Every kernel and the coarsest solve use
/// the same rounded values, so the coarse operators stay symmetric and diagonally dominant.
pub(super) const SCALE: f32 = 128.0;

/// `g` rounded to a multiple of `1 / SCALE`; a positive conductance stays positive (a face
/// that conducts a little is not closed).
fn quantize(g: f32) -> f32 {
    if g > 0.0 {
        (g * SCALE).round().max(1.0) / SCALE
    } else {
        0.0
    }
}

/// Face-grid shape of axis `a`.
pub(super) fn face_dims(dims: [usize; 3], a: usize) -> [usize; 3] {
    let mut f = dims;
    f[a] += 1;
    f
}

/// Per axis below `dim`, a face array over that axis's face grid of `dims`, filled plane by
/// plane in parallel by `fill(axis, face_dims, plane_index, plane)`.
fn by_planes(
    dims: [usize; 3],
    dim: usize,
    fill: impl Fn(usize, [usize; 3], usize, &mut [f32]) + Sync,
) -> [Vec<f32>; 3] {
    [0, 1, 2].map(|a| {
        if a >= dim {
            return Vec::new();
        }
        let fd = face_dims(dims, a);
        let mut out = vec![0f32; fd.iter().product()];
        out.par_chunks_mut(fd[0] * fd[1])
            .enumerate()
            .for_each(|(k, plane)| fill(a, fd, k, plane));
        out
    })
}

impl Conductance {
    /// The conductances of `coarse` (the coarsening of the level below) from the faces of the
    /// level below, given as `fine(a, [i, j, k])` over that level's face grids of shape
    /// `fine_dims`. Cost: `2^(d−1)` fine faces read per coarse face, in parallel over planes.
    fn from_fine(
        coarse: &MacGrid,
        fine_dims: [usize; 3],
        fine: impl Fn(usize, [usize; 3]) -> f32 + Sync,
    ) -> Self {
        let dims = coarse.dims();
        let dim = coarse.dim();
        let share = 1.0 / (1u32 << (dim - 1)) as f32;
        let g = by_planes(dims, dim, |a, fd, k, plane| {
            for j in 0..fd[1] {
                for i in 0..fd[0] {
                    let c = [i, j, k];
                    let mut sum = 0f32;
                    // Along a: the fine face at twice the index (the last coarse face
                    // of an odd-length axis is the fine wall face). Across a: the
                    // children that exist.
                    let mut lo = [0usize; 3];
                    let mut n = [1usize; 3];
                    for b in 0..3 {
                        if b == a {
                            lo[b] = (2 * c[b]).min(fine_dims[b]);
                        } else if b < dim {
                            lo[b] = 2 * c[b];
                            n[b] = (fine_dims[b] - lo[b]).min(2);
                        }
                    }
                    for dk in 0..n[2] {
                        for dj in 0..n[1] {
                            for di in 0..n[0] {
                                sum += fine(a, [lo[0] + di, lo[1] + dj, lo[2] + dk]);
                            }
                        }
                    }
                    plane[i + fd[0] * j] = quantize(sum * share);
                }
            }
        });
        Self { dims, dim, g }
    }

    /// The first coarse level's conductances, from the finest grid's flags and walls. Cost:
    /// one pass over the fine cells per axis, x-line by x-line, in parallel over planes.
    pub(super) fn first(finest: &MacGrid, coarse: &MacGrid) -> Self {
        let [nx, ny, nz] = finest.dims();
        let (dim, dims) = (coarse.dim(), coarse.dims());
        let air = finest.walls().0.map(|w| w.map(|k| k == WallKind::Air));
        let open: Vec<u8> = finest
            .flags()
            .par_iter()
            .map(|&f| (f != CellFlag::Solid) as u8)
            .collect();
        let row = |j: usize, k: usize| &open[(j + ny * k) * nx..][..nx];
        let share = 1.0 / (1u32 << (dim - 1)) as f32;
        // Fine children along an axis across a face-parallel direction: 2c and 2c + 1 if inside.
        let kids = |c: usize, n: usize, three: bool| {
            let hi = if three { (2 * c + 2).min(n) } else { 1 };
            if three { 2 * c..hi } else { 0..hi }
        };
        let g = by_planes(dims, dim, |a, fd, kc, plane| {
            let mut acc = vec![0u8; fd[0]];
            for jc in 0..fd[1] {
                acc.fill(0);
                if a == 0 {
                    // Faces normal to x: along each fine row, between i − 1 and i.
                    for j in kids(jc, ny, true) {
                        for k in kids(kc, nz, dim == 3) {
                            let r = row(j, k);
                            for (ic, v) in acc.iter_mut().enumerate() {
                                let fi = (2 * ic).min(nx);
                                *v += if fi == 0 {
                                    air[0][0] as u8 & r[0]
                                } else if fi == nx {
                                    air[0][1] as u8 & r[nx - 1]
                                } else {
                                    r[fi - 1] & r[fi]
                                };
                            }
                        }
                    }
                } else {
                    // Faces normal to y (z): between two fine rows, the pairs of x
                    // children summed.
                    let (n, c) = if a == 1 { (ny, jc) } else { (nz, kc) };
                    let f = (2 * c).min(n);
                    let across: Vec<usize> = if a == 1 {
                        kids(kc, nz, dim == 3).collect()
                    } else {
                        kids(jc, ny, true).collect()
                    };
                    for t in across {
                        let at = |m: usize| if a == 1 { row(m, t) } else { row(t, m) };
                        let (lo, hi) = ((f > 0).then(|| at(f - 1)), (f < n).then(|| at(f)));
                        let face = |i: usize| match (lo, hi) {
                            (Some(l), Some(h)) => l[i] & h[i],
                            (None, Some(h)) => air[a][0] as u8 & h[i],
                            (Some(l), None) => air[a][1] as u8 & l[i],
                            (None, None) => 0,
                        };
                        for (ic, v) in acc.iter_mut().enumerate() {
                            let i = 2 * ic;
                            *v += face(i) + if i + 1 < nx { face(i + 1) } else { 0 };
                        }
                    }
                }
                for (dst, &v) in plane[jc * fd[0]..][..fd[0]].iter_mut().zip(&acc) {
                    *dst = v as f32 * share;
                }
            }
        });
        Self { dims, dim, g }
    }

    /// Every conductance `g` replaced by `f(g)`, rounded as the coarse levels' are (a positive
    /// one stays positive). Cost: one pass over the faces; `f` evaluated once per multiple of
    /// `1 / SCALE` in `[0, 1]` (every coarse conductance is one) and tabled.
    pub(super) fn mapped(&self, f: impl Fn(f32) -> f32 + Sync) -> Self {
        let steps = SCALE as usize;
        let table: Vec<f32> = (0..=steps).map(|k| quantize(f(k as f32 / SCALE))).collect();
        let map = |g: f32| {
            let k = (g * SCALE).round();
            match table.get(k as usize) {
                Some(&t) if k / SCALE == g => t,
                _ => quantize(f(g)),
            }
        };
        let g = self
            .g
            .each_ref()
            .map(|v| v.par_iter().map(|&g| map(g)).collect());
        Self {
            dims: self.dims,
            dim: self.dim,
            g,
        }
    }

    /// The next coarse level's conductances from this level's.
    pub(super) fn coarsen(&self, coarse: &MacGrid) -> Self {
        Self::from_fine(coarse, self.dims, |a, f| self.at(a, f))
    }

    /// Conductance of the face at `f` of axis `a`'s face grid.
    #[inline]
    fn at(&self, a: usize, f: [usize; 3]) -> f32 {
        let fd = face_dims(self.dims, a);
        self.g[a][f[0] + fd[0] * (f[1] + fd[1] * f[2])]
    }

    /// Conductance of the face of cell `c` on side `side` (0 low, 1 high) of axis `a`.
    #[inline]
    pub(super) fn face(&self, a: usize, c: [usize; 3], side: usize) -> f32 {
        let mut f = c;
        f[a] += side;
        self.at(a, f)
    }

    /// Diagonal of fluid cell `c`: the sum of its faces' conductances (every open face leads
    /// to a fluid or air cell or an air wall).
    pub(super) fn diag(&self, c: [usize; 3]) -> f32 {
        (0..self.dim)
            .map(|a| self.face(a, c, 0) + self.face(a, c, 1))
            .sum()
    }
}

/// The area-weighted operator of a level in the split layout: per axis the conductance of
/// each cell's face towards `+e_a` times [`SCALE`] (0 on padding slots), the diagonal (0 off
/// the fluid), and for the boundary sweeps, per colour and boundary cell in the order of
/// `Level::boundary`, its six faces' conductances (`−x, +x, −y, +y, −z, +z`) and its diagonal
/// in one record, so that a sweep streams them instead of gathering seven values per cell.
#[derive(Debug, Clone)]
pub(super) struct Faces {
    pub(super) g: [Vec<u8>; 3],
    pub(super) diag: Vec<f32>,
    pub(super) boundary: [Vec<[f32; 8]>; 2],
    /// Per colour and grid line: whether any of its cells has a partly open face or a closed
    /// face between non-solid cells — elsewhere the weighted stencil is the unit one, and the
    /// kernels take the unit path (fewer bytes).
    pub(super) weighted: [Vec<bool>; 2],
}

impl Faces {
    /// Whether line `l` of colour `c` needs the weighted kernels.
    #[inline(always)]
    pub(super) fn on(&self, c: usize, l: usize) -> bool {
        self.weighted[c][l]
    }

    /// Scatters `cond` into the split layout of `lev` (whose boundary lists are built).
    /// Cost: one pass over the cells per axis and one over the boundary cells.
    pub(super) fn new(lev: &super::hierarchy::Level, cond: &Conductance) -> Self {
        let lay = lev.lay;
        // One pass over the cells, line by line: the `+` faces and the diagonal.
        let mut g: [Vec<u8>; 3] = [0, 1, 2].map(|a| {
            if a < lev.dim {
                super::touched(2 * lay.size)
            } else {
                Vec::new()
            }
        });
        let mut diag = super::touched::<f32>(2 * lay.size);
        let mut weighted = [vec![false; lay.lines()], vec![false; lay.lines()]];
        {
            use ritz_linalg::schedule::SharedSlice;
            let [g0, g1, g2] = &mut g;
            let gs = [
                SharedSlice::new(g0),
                SharedSlice::new(g1),
                SharedSlice::new(g2),
            ];
            let ds = SharedSlice::new(&mut diag);
            let [w0, w1] = &mut weighted;
            let ws = [SharedSlice::new(w0), SharedSlice::new(w1)];
            let ny = lev.dims[1];
            super::hierarchy::par_lines(lev, |lines| {
                for l in lines {
                    let (j, k) = (l % ny, l / ny);
                    for c in 0..2 {
                        let (s, o, n) =
                            (lay.shift(l, c), c * lay.size + lay.line(l), lay.count(l, c));
                        let mut partial = false;
                        for m in 0..n {
                            let (cell, slot) = ([2 * m + s, j, k], o + m);
                            let mut sum = 0.0;
                            for (a, ga) in gs.iter().enumerate().take(lev.dim) {
                                let (lo, hi) = (cond.face(a, cell, 0), cond.face(a, cell, 1));
                                sum += lo + hi;
                                partial |= lo.fract() != 0.0 || hi.fract() != 0.0;
                                // SAFETY: each line's slots are written by one thread only.
                                unsafe { ga.set(slot, (hi * SCALE) as u8) };
                            }
                            let code = lev.code[slot];
                            let fluid = code & FLUID_BIT != 0;
                            // Faces are 0 or 1 here: the stencil is the unit one iff every
                            // non-solid neighbour's face is open (the count matches).
                            partial |= fluid && sum != (code & 7) as f32;
                            // SAFETY: as above.
                            unsafe { ds.set(slot, if fluid { sum } else { 0.0 }) };
                        }
                        // SAFETY: each line is visited by one thread only.
                        unsafe { ws[c].set(l, partial) };
                    }
                }
            });
        }
        let (size, dy, dz) = (lay.size, lay.w, lay.dz());
        let boundary = [0, 1].map(|c| {
            let other = (1 - c) * size;
            let axis = |a: usize| &g[if lay.three { a } else { a.min(1) }];
            lev.boundary[c]
                .par_iter()
                .map(|&e| {
                    let (q, s) = boundary_entry(e);
                    let w = |a: usize, i: usize| axis(a)[i] as f32 / SCALE;
                    let mut rec = [0f32; 8];
                    rec[0] = w(0, other + q + s - 1);
                    rec[1] = w(0, c * size + q);
                    rec[2] = w(1, other + q - dy);
                    rec[3] = w(1, c * size + q);
                    if lay.three {
                        rec[4] = w(2, other + q - dz);
                        rec[5] = w(2, c * size + q);
                    }
                    rec[6] = diag[c * size + q];
                    rec
                })
                .collect()
        });
        Self {
            g,
            diag,
            boundary,
            weighted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{MacGrid, Walls};
    use crate::multigrid::hierarchy::coarsen;

    /// Hand-counted fractions on a 5 × 4 grid with an air top, a solid cell and an odd
    /// length (the last coarse column covers one fine column).
    #[test]
    fn conductances_count_open_finest_faces() {
        let mut g = MacGrid::new(&[5, 4], Walls::open_top(2)).unwrap();
        g.set(1, 0, 0, CellFlag::Solid);
        g.set(3, 1, 0, CellFlag::Solid);
        let c1 = coarsen(&g).unwrap();
        let k = Conductance::first(&g, &c1);
        assert_eq!(k.dims, [3, 2, 1]);
        // x face between coarse (0,0) and (1,0): fine faces (1,0)|(2,0) closed, (1,1)|(2,1) open.
        assert_eq!(k.face(0, [0, 0, 0], 1), 0.5);
        // Solid walls conduct nothing; the air top conducts through both open fine faces.
        assert_eq!(k.face(0, [0, 0, 0], 0), 0.0);
        assert_eq!(k.face(1, [0, 1, 0], 1), 1.0);
        // y face inside coarse column 0 at fine j = 2: (0,1)|(0,2) and (1,1)|(1,2), both open.
        assert_eq!(k.face(1, [0, 0, 0], 1), 1.0);
        // The odd last column has one fine column: half a coarse face.
        assert_eq!(k.face(1, [2, 0, 0], 1), 0.5);
        assert_eq!(k.face(0, [2, 0, 0], 1), 0.0);
        assert_eq!(k.diag([0, 1, 0]), 0.0 + 1.0 + 1.0 + 1.0);
        // The next level averages this one's faces (values of 1/4 are exact).
        let c2 = coarsen(&c1).unwrap();
        let k2 = k.coarsen(&c2);
        assert_eq!(k2.dims, [2, 1, 1]);
        // (3,0)|(4,0) open, (3,1)|(4,1) closed: the level-1 face below conducts 1/2.
        assert_eq!(k.face(0, [1, 0, 0], 1), 0.5);
        assert_eq!(k2.face(0, [0, 0, 0], 1), (0.5 + 1.0) / 2.0);
        assert_eq!(k2.face(1, [0, 0, 0], 1), (1.0 + 1.0) / 2.0);
    }

    /// Where every cell is fluid, the area-weighted operator is the unit Laplacian.
    #[test]
    fn open_fluid_conducts_fully() {
        let g = MacGrid::new(&[8, 8, 8], Walls::open_top(3)).unwrap();
        let c1 = coarsen(&g).unwrap();
        let k = Conductance::first(&g, &c1);
        for a in 0..3 {
            let inner: Vec<f32> = (0..4).map(|i| k.face(a, [i.min(3), 1, 1], 1)).collect();
            assert!(inner[..3].iter().all(|&v| v == 1.0), "{a}: {inner:?}");
        }
        assert_eq!(k.diag([1, 1, 1]), 6.0);
        assert_eq!(k.diag([0, 0, 0]), 3.0);
        assert_eq!(k.diag([1, 1, 3]), 6.0); // air wall above
    }

    /// The line-wise first level equals the face-by-face definition on random grids of odd
    /// and even lengths with every wall kind, 2D and 3D.
    #[test]
    fn first_level_matches_the_face_by_face_definition() {
        use crate::grid::WallKind::{Air, Solid};
        let cases = [
            (
                vec![9usize, 6, 5],
                Walls([[Air, Solid], [Solid, Air], [Air, Air]]),
            ),
            (
                vec![8, 7, 6],
                Walls([[Solid, Air], [Air, Solid], [Solid, Solid]]),
            ),
            (
                vec![7, 10],
                Walls([[Air, Air], [Solid, Air], [Solid, Solid]]),
            ),
            (vec![10, 9], Walls::closed()),
        ];
        for (seed, (shape, walls)) in cases.into_iter().enumerate() {
            let mut g = MacGrid::new(&shape, walls).unwrap();
            for c in 0..g.len() {
                let h = (c * 2654435761 + seed * 97) % 7;
                let [i, j, k] = g.coords(c);
                g.set(
                    i,
                    j,
                    k,
                    if h < 3 {
                        CellFlag::Solid
                    } else if h == 3 {
                        CellFlag::Air
                    } else {
                        CellFlag::Fluid
                    },
                );
            }
            let c1 = coarsen(&g).unwrap();
            let dims = g.dims();
            let w = g.walls().0;
            let open = |c: [usize; 3]| g.flag(c[0], c[1], c[2]) != CellFlag::Solid;
            let want = Conductance::from_fine(&c1, dims, |a, f| {
                let mut lo = f;
                let ok = if f[a] == 0 {
                    w[a][0] == WallKind::Air && open(f)
                } else if f[a] == dims[a] {
                    lo[a] -= 1;
                    w[a][1] == WallKind::Air && open(lo)
                } else {
                    lo[a] -= 1;
                    open(lo) && open(f)
                };
                ok as u8 as f32
            });
            let got = Conductance::first(&g, &c1);
            assert_eq!(got.g, want.g, "{shape:?}");
        }
    }

    #[test]
    fn small_positive_conductances_stay_open() {
        assert_eq!(quantize(1e-4), 1.0 / SCALE);
        assert_eq!(quantize(0.0), 0.0);
        assert_eq!(quantize(0.25), 0.25);
    }

    /// The tabled map equals the map applied face by face, on a level whose conductances
    /// take many values (a porous grid two levels down), and on values off the table.
    #[test]
    fn mapped_conductances_equal_the_map_face_by_face() {
        let mut g = MacGrid::new(&[19, 16, 13], Walls::open_top(3)).unwrap();
        g.paint(CellFlag::Solid, |p| {
            ((p[0] * 1.3).sin() + (p[1] * 2.1).cos() + (p[2] * 0.7).sin()) > 0.9
        });
        let c1 = coarsen(&g).unwrap();
        let c2 = coarsen(&c1).unwrap();
        let k = Conductance::first(&g, &c1).coarsen(&c2);
        let f = |g: f32| g.powf(1.37);
        let m = k.mapped(f);
        for a in 0..3 {
            assert!(
                k.g[a]
                    .iter()
                    .zip(&m.g[a])
                    .all(|(&g, &t)| t == quantize(f(g)))
            );
        }
        assert!(
            k.g.iter()
                .flatten()
                .filter(|&&v| v > 0.0 && v < 1.0)
                .count()
                > 10
        );
        let odd = Conductance {
            dims: [1, 1, 1],
            dim: 1,
            g: [vec![0.3, 1.5], Vec::new(), Vec::new()],
        };
        assert_eq!(odd.mapped(f).g[0], vec![quantize(f(0.3)), quantize(f(1.5))]);
    }
}
