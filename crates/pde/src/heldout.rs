//! Held-out geometries: grid kinds unlike every training [`Scene`](crate::Scene), for measuring
//! solvers — learned ones above all — on geometry they never saw.
//!
//! - [`HeldOut::Porous`]: a porous medium — randomly packed solid grains filling about 45 % of
//!   a box open at the top; the pores form a connected maze of narrow channels, with isolated
//!   pores as floating regions.
//! - [`HeldOut::Liquid`]: a free-surface liquid — a wavy pool on a sloped solid floor with a
//!   falling drop above it, air everywhere else, walls closed: Dirichlet conditions on a
//!   curved free surface instead of a flat top.
//! - [`HeldOut::Maze`]: a maze — an 8 × 8 lattice of rooms whose thin walls leave one path
//!   between any two rooms (a random spanning tree; doors half a room wide), extruded through the height in 3D, in a
//!   closed box whose only air is a column in the last room: the pressure of the first room
//!   couples to the outlet through the whole maze, the hardest long-range case for a coarse
//!   grid.
//!
//! Generated like the scenes: a pure function of `(kind, dim, n, seed)`, shapes in units of
//! `n`, so one seed gives the same geometry at every resolution.

use crate::error::PdeError;
use crate::grid::{CellFlag, MacGrid, WallPreset};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::f64::consts::TAU;

/// A held-out geometry kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldOut {
    /// Packed random solid grains (radius 0.04n–0.08n), open top, the top 10 % grain-free.
    Porous,
    /// A wavy pool (mean depth 0.35n) on a sloped floor, a drop of radius 0.12n above it, air
    /// elsewhere, walls closed.
    Liquid,
    /// An 8 × 8 maze of rooms (walls n/48 thick, at least one cell), closed, with an air
    /// column in the last room.
    Maze,
}

impl HeldOut {
    /// Every kind.
    pub const ALL: [HeldOut; 3] = [HeldOut::Porous, HeldOut::Liquid, HeldOut::Maze];

    /// "porous", "liquid" or "maze".
    pub fn name(self) -> &'static str {
        match self {
            HeldOut::Porous => "porous",
            HeldOut::Liquid => "liquid",
            HeldOut::Maze => "maze",
        }
    }

    /// The domain walls of this kind (for writing and reading its flag files).
    pub fn walls(self) -> WallPreset {
        match self {
            HeldOut::Porous => WallPreset::OpenTop,
            HeldOut::Liquid | HeldOut::Maze => WallPreset::Closed,
        }
    }

    /// Builds the geometry on an `n^dim` grid. Cost: O(n^dim) plus the grains' volume.
    /// A maze needs `n ≥ 16` (rooms of two cells and walls of one).
    ///
    /// Errors: [`PdeError::InvalidGrid`] for `dim` not 2 or 3 or `n < 8`.
    ///
    /// ```
    /// use ritz_pde::{PoissonProblem, heldout::HeldOut};
    /// let grid = HeldOut::Porous.generate(3, 32, 0)?;
    /// let solid = grid.len() - grid.fluid_count();
    /// assert!(solid > grid.len() / 4 && solid < grid.len() * 3 / 5);
    /// PoissonProblem::new(grid)?;
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn generate(self, dim: usize, n: usize, seed: u64) -> Result<MacGrid, PdeError> {
        if !(2..=3).contains(&dim) || n < 8 {
            return Err(PdeError::InvalidGrid {
                shape: vec![n; dim],
                reason: "held-out geometries are 2D or 3D with at least 8 cells per axis".into(),
            });
        }
        if self == HeldOut::Maze && n < 16 {
            return Err(PdeError::InvalidGrid {
                shape: vec![n; dim],
                reason: "a maze needs at least 16 cells per axis".into(),
            });
        }
        let mut g = MacGrid::new(&vec![n; dim], self.walls().walls(dim))?;
        let salt = 0xA076_1D64_78BD_642F_u64.wrapping_mul(self as u64 + 11);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ salt);
        let nf = n as f64;
        let top = dim - 1;
        let ext = |a: usize| if a < dim { n } else { 1 };
        match self {
            HeldOut::Porous => {
                // Grains until the expected solid fraction is about 45 % (Poisson overlap:
                // 1 − exp(−count · v̄ / V)); the top 10 % stays free so that pores reach the
                // open top.
                let mean_r = 0.06 * nf;
                let v = if dim == 3 {
                    4.0 / 3.0 * std::f64::consts::PI * mean_r.powi(3)
                } else {
                    std::f64::consts::PI * mean_r * mean_r
                };
                let count = ((-(0.55f64).ln()) * nf.powi(dim as i32) / v).ceil() as usize;
                for _ in 0..count {
                    let r = nf * (0.04 + 0.04 * rng.random::<f64>());
                    let mut c = [0.5; 3];
                    for (a, ca) in c.iter_mut().enumerate().take(dim) {
                        let hi = if a == top { 0.9 * nf - r } else { nf };
                        *ca = rng.random::<f64>() * hi.max(1.0);
                    }
                    let lo = |a: usize| ((c[a] - r).floor().max(0.0)) as usize;
                    let hi = |a: usize| ((c[a] + r).ceil() as usize).min(ext(a));
                    for k in if dim == 3 { lo(2)..hi(2) } else { 0..1 } {
                        for j in lo(1)..hi(1) {
                            for i in lo(0)..hi(0) {
                                let p = [i as f64 + 0.5, j as f64 + 0.5, k as f64 + 0.5];
                                let d2: f64 = (0..dim).map(|a| (p[a] - c[a]).powi(2)).sum();
                                if d2 <= r * r {
                                    g.set(i, j, k, CellFlag::Solid);
                                }
                            }
                        }
                    }
                }
            }
            HeldOut::Liquid => {
                let phase = [rng.random::<f64>(), rng.random::<f64>()].map(|u| u * TAU);
                let drop = [
                    nf * (0.3 + 0.4 * rng.random::<f64>()),
                    nf * (0.3 + 0.4 * rng.random::<f64>()),
                ];
                for k in 0..ext(2) {
                    for j in 0..ext(1) {
                        for i in 0..n {
                            let p = [i as f64 + 0.5, j as f64 + 0.5, k as f64 + 0.5];
                            let h = p[top];
                            let (x, y) = (p[0] / nf, if dim == 3 { p[1] / nf } else { 0.5 });
                            let floor = nf * 0.15 * x;
                            let surface = nf
                                * (0.35
                                    + 0.04 * (TAU * x + phase[0]).sin()
                                    + 0.03 * (1.5 * TAU * y + phase[1]).sin());
                            let dz = h - 0.75 * nf;
                            let dx = p[0] - drop[0];
                            let dy = if dim == 3 { p[1] - drop[1] } else { 0.0 };
                            let in_drop = dx * dx + dy * dy + dz * dz <= (0.12 * nf).powi(2);
                            let f = if h < floor {
                                CellFlag::Solid
                            } else if h < surface || in_drop {
                                CellFlag::Fluid
                            } else {
                                CellFlag::Air
                            };
                            g.set(i, j, k, f);
                        }
                    }
                }
            }
            HeldOut::Maze => maze(&mut g, n, dim, &mut rng),
        }
        Ok(g)
    }
}

/// Rooms per side of a [`HeldOut::Maze`].
const ROOMS: usize = 8;

/// Carves a maze into `g` (all fluid on entry): walls on the room lattice, a random spanning
/// tree of the rooms (depth-first, from room 0) opening a door (the middle half of the wall)
/// per tree edge, an air column in the corner of the last room.
fn maze(g: &mut MacGrid, n: usize, dim: usize, rng: &mut Xoshiro256PlusPlus) {
    let pitch = n as f64 / ROOMS as f64;
    let t = (n / 48).max(1);
    // The room of coordinate `x` along an axis, and whether `x` lies in the wall before it.
    let room = |x: usize| ((x as f64 / pitch) as usize).min(ROOMS - 1);
    let start = |r: usize| (r as f64 * pitch).ceil() as usize;
    let in_wall = |x: usize| room(x) > 0 && x - start(room(x)) < t;
    // Doors span the middle half of a room's side.
    let door = |x: usize| {
        let f = (x - start(room(x))) as f64 / pitch;
        (0.25..0.75).contains(&f)
    };
    // Open passages: `open[r][0]` the wall between room r and its +x neighbour, `[1]` +y.
    let mut open = [[false; 2]; ROOMS * ROOMS];
    let mut seen = [false; ROOMS * ROOMS];
    let mut stack = vec![0usize];
    seen[0] = true;
    while let Some(&r) = stack.last() {
        let (x, y) = (r % ROOMS, r / ROOMS);
        let mut next = Vec::with_capacity(4);
        if x + 1 < ROOMS && !seen[r + 1] {
            next.push((r + 1, r, 0));
        }
        if x > 0 && !seen[r - 1] {
            next.push((r - 1, r - 1, 0));
        }
        if y + 1 < ROOMS && !seen[r + ROOMS] {
            next.push((r + ROOMS, r, 1));
        }
        if y > 0 && !seen[r - ROOMS] {
            next.push((r - ROOMS, r - ROOMS, 1));
        }
        if next.is_empty() {
            stack.pop();
            continue;
        }
        let (to, wall, axis) = next[rng.random_range(0..next.len())];
        open[wall][axis] = true;
        seen[to] = true;
        stack.push(to);
    }
    let nz = if dim == 3 { n } else { 1 };
    for k in 0..nz {
        for j in 0..n {
            for i in 0..n {
                let (rx, ry) = (room(i), room(j));
                let (wx, wy) = (in_wall(i), in_wall(j));
                let solid = match (wx, wy) {
                    (true, true) => true,
                    // The wall between rooms rx − 1 and rx, at row ry.
                    (true, false) => !(open[ry * ROOMS + rx - 1][0] && door(j)),
                    (false, true) => !(open[(ry - 1) * ROOMS + rx][1] && door(i)),
                    (false, false) => false,
                };
                if solid {
                    g.set(i, j, k, CellFlag::Solid);
                }
            }
        }
    }
    // The outlet: an air column over the last room's far quarter.
    let from = n - (n / (2 * ROOMS)).max(1);
    for k in 0..nz {
        for j in from..n {
            for i in from..n {
                g.set(i, j, k, CellFlag::Air);
            }
        }
    }
}

impl std::fmt::Display for HeldOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for HeldOut {
    type Err = PdeError;
    /// Parses "porous", "liquid" or "maze". Errors: another name ([`PdeError::Unsupported`]).
    fn from_str(s: &str) -> Result<Self, PdeError> {
        HeldOut::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| {
                PdeError::Unsupported(format!("unknown geometry '{s}' (porous, liquid, maze)"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poisson::PoissonProblem;

    #[test]
    fn held_out_grids_are_deterministic_and_solvable() {
        for h in HeldOut::ALL {
            for dim in [2, 3] {
                let a = h.generate(dim, 24, 5).unwrap();
                let b = h.generate(dim, 24, 5).unwrap();
                assert_eq!(a.codes(), b.codes(), "{h} {dim}D");
                assert_ne!(a.codes(), h.generate(dim, 24, 6).unwrap().codes(), "{h}");
                let p = PoissonProblem::new(a).unwrap();
                assert!(p.num_fluid() > 24usize.pow(dim as u32) / 10, "{h} {dim}D");
                assert_eq!(h.name().parse::<HeldOut>().unwrap(), h);
            }
        }
        assert!(HeldOut::Liquid.generate(3, 4, 0).is_err());
        assert!(HeldOut::Maze.generate(2, 12, 0).is_err());
    }

    /// The maze is one connected region (a spanning tree leaves every room reachable) that
    /// reaches the outlet; its walls take between a twentieth and a third of the cells.
    #[test]
    fn the_maze_is_connected_to_its_outlet() {
        for dim in [2, 3] {
            let g = HeldOut::Maze.generate(dim, 64, 3).unwrap();
            let p = PoissonProblem::new(g.clone()).unwrap();
            // No floating region: every fluid cell reaches the air.
            assert!(p.null_space_grid().is_none(), "{dim}D");
            let solid = g
                .codes()
                .iter()
                .filter(|&&c| c == CellFlag::Solid as i8)
                .count();
            assert!(
                solid > g.len() / 20 && solid < g.len() / 3,
                "{dim}D: {solid}"
            );
        }
    }
}
