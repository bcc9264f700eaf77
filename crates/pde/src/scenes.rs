//! Seeded scene generators: square (2D) or cubic (3D) [`MacGrid`]s with fluid, solid and air
//! cells, modelled on the test scenes of fluid-simulation pressure solvers.
//!
//! Every random parameter is drawn in units of the grid size `n` from a portable generator
//! ([`Xoshiro256PlusPlus`]) seeded with the scene and the seed, so a scene
//!
//! * is a pure function of `(scene, dim, n, seed)`, independent of the number of threads (cells
//!   are classified by a pure per-cell predicate, in parallel);
//! * looks the same at every resolution (the same seed gives the same shapes at 32, 64, 128);
//! * always contains at least one fluid cell (each scene keeps some cells free by construction,
//!   documented per variant).
//!
//! The "top" is the high end of the last axis (y in 2D, z in 3D); gravity points down it.
//! Cell centres are at `i + 0.5` in cell units, the domain is `[0, n]^dim`.

use crate::error::PdeError;
use crate::grid::{CellFlag, MacGrid, Walls};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::f64::consts::PI;

/// A test scene. [`Scene::generate`] builds its grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scene {
    /// Smoke plume in an empty box: every cell fluid, walls closed except the top (Dirichlet
    /// there). Does not depend on the seed.
    Plume,
    /// Smoke past obstacles: open top, 3–8 random solid spheres (circles in 2D) of radius
    /// 0.06n–0.18n that never reach the top cell layer. Enclosed pockets become floating
    /// (singular) regions.
    Spheres,
    /// Dam break: walls closed except the top; a water column (fluid) in the low corner
    /// (`x < 0.4n`, in 3D also `y < 0.4n`, height `< 0.7n`), air elsewhere; 2–4 solid square
    /// pillars of width ≈ 0.06n standing on the floor (the first one inside the water).
    Pillars,
    /// A procedural organic solid (a sphere of radius 0.3n perturbed by 6 low-frequency
    /// waves) in a fluid box with an open top. The top cell layer stays fluid.
    Organic,
    /// The all-Neumann box: walls closed, no air, 1–3 random solid spheres. Every fluid region
    /// is floating (singular).
    Closed,
}

impl Scene {
    /// Every scene, in declaration order.
    pub const ALL: [Scene; 5] = [
        Scene::Plume,
        Scene::Spheres,
        Scene::Pillars,
        Scene::Organic,
        Scene::Closed,
    ];

    /// The canonical name: "plume", "spheres", "pillars", "organic" or "closed".
    pub fn name(&self) -> &'static str {
        match self {
            Scene::Plume => "plume",
            Scene::Spheres => "spheres",
            Scene::Pillars => "pillars",
            Scene::Organic => "organic",
            Scene::Closed => "closed",
        }
    }

    /// Builds the scene on an `n × n` (`dim = 2`) or `n × n × n` (`dim = 3`) grid, with domain
    /// walls set. Deterministic in `(self, dim, n, seed)`; different scenes draw different
    /// random streams from the same seed.
    ///
    /// Cost: O(n^dim) time (a few primitive tests per cell, rayon-parallel), one byte per cell
    /// plus the grid.
    ///
    /// Errors: [`PdeError::InvalidGrid`] if `dim` is not 2 or 3, if `n < 4`, or if the grid would
    /// have `2^32 − 1` cells or more.
    pub fn generate(&self, dim: usize, n: usize, seed: u64) -> Result<MacGrid, PdeError> {
        if !(2..=3).contains(&dim) {
            return Err(PdeError::InvalidGrid {
                shape: vec![n; dim],
                reason: "scenes are 2D or 3D".into(),
            });
        }
        if n < 4 {
            return Err(PdeError::InvalidGrid {
                shape: vec![n; dim],
                reason: "scenes need at least 4 cells per axis".into(),
            });
        }
        let salt = (*self as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ salt);
        let nf = n as f64;
        let top = dim - 1;
        match self {
            Scene::Plume => build(dim, n, Walls::open_top(dim), |_| CellFlag::Fluid),
            Scene::Spheres => {
                let count = rng.random_range(3..=8usize);
                // Keeping `c_top + r <= n - margin` (margin >= 1) leaves the top layer fluid.
                let margin = (0.1 * nf).max(1.0);
                let balls: Vec<Ball> = (0..count)
                    .map(|_| {
                        let r = nf * uniform(&mut rng, 0.06, 0.18);
                        let mut c = [0.0; 3];
                        for (a, ca) in c.iter_mut().enumerate().take(dim) {
                            let u = rng.random::<f64>();
                            *ca = if a == top {
                                let (lo, hi) = (0.1 * nf, nf - r - margin);
                                lo + u * (hi - lo).max(0.0)
                            } else {
                                nf * (0.1 + 0.8 * u)
                            };
                        }
                        Ball { c, r }
                    })
                    .collect();
                build(dim, n, Walls::open_top(dim), |p| {
                    if balls.iter().any(|b| b.contains(p, dim)) {
                        CellFlag::Solid
                    } else {
                        CellFlag::Fluid
                    }
                })
            }
            Scene::Pillars => {
                let count = rng.random_range(2..=4usize);
                let w = (0.06 * nf).max(1.0);
                // Pillars start at x >= 1, so cell (0, 0, 0) always holds water.
                let lo = 1.0 + 0.5 * w;
                let pillars: Vec<Pillar> = (0..count)
                    .map(|m| {
                        // The first pillar stands in the water column, the others anywhere.
                        let span = if m == 0 { 0.35 } else { 0.9 };
                        let hi = (span * nf).max(lo);
                        let mut c = [0.0; 2];
                        for cd in c.iter_mut().take(dim - 1) {
                            *cd = lo + rng.random::<f64>() * (hi - lo);
                        }
                        let h = nf * uniform(&mut rng, 0.4, 0.9);
                        Pillar {
                            c,
                            half: 0.5 * w,
                            h,
                        }
                    })
                    .collect();
                let (wx, wh) = (0.4 * nf, 0.7 * nf);
                build(dim, n, Walls::open_top(dim), |p| {
                    if pillars.iter().any(|q| q.contains(p, dim)) {
                        CellFlag::Solid
                    } else if p[0] < wx && p[top] < wh && (dim == 2 || p[1] < wx) {
                        CellFlag::Fluid
                    } else {
                        CellFlag::Air
                    }
                })
            }
            Scene::Organic => {
                let mut centre = [0.0; 3];
                for (a, ca) in centre.iter_mut().enumerate().take(dim) {
                    let base = if a == top { 0.42 } else { 0.5 };
                    *ca = nf * (base + uniform(&mut rng, -0.05, 0.05));
                }
                let radius = 0.3 * nf;
                let waves: Vec<Wave> = (0..6)
                    .map(|_| {
                        let mut dir = [0.0f64; 3];
                        for d in dir.iter_mut().take(dim) {
                            *d = rng.sample(StandardNormal);
                        }
                        let len = dir.iter().map(|d| d * d).sum::<f64>().sqrt();
                        if len > 1e-12 {
                            dir.iter_mut().for_each(|d| *d /= len);
                        } else {
                            dir = [1.0, 0.0, 0.0];
                        }
                        let kmag = 2.0 * PI * uniform(&mut rng, 1.0, 3.0) / nf;
                        Wave {
                            k: dir.map(|d| d * kmag),
                            amp: 0.15 * uniform(&mut rng, 0.6, 1.4),
                            phase: uniform(&mut rng, 0.0, 2.0 * PI),
                        }
                    })
                    .collect();
                let top_layer = nf - 1.0;
                build(dim, n, Walls::open_top(dim), |p| {
                    if p[top] > top_layer {
                        return CellFlag::Fluid;
                    }
                    let dist = (0..dim)
                        .map(|a| (p[a] - centre[a]).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    let f = dist / radius - 1.0
                        + waves
                            .iter()
                            .map(|w| {
                                let kp: f64 = (0..dim).map(|a| w.k[a] * p[a]).sum();
                                w.amp * (kp + w.phase).sin()
                            })
                            .sum::<f64>();
                    if f < 0.0 {
                        CellFlag::Solid
                    } else {
                        CellFlag::Fluid
                    }
                })
            }
            Scene::Closed => {
                // At most 3 balls of radius <= 0.18n cover fewer than n^dim cell centres for
                // n >= 4, so fluid remains.
                let count = rng.random_range(1..=3usize);
                let balls: Vec<Ball> = (0..count)
                    .map(|_| {
                        let r = nf * uniform(&mut rng, 0.06, 0.18);
                        let mut c = [0.0; 3];
                        for ca in c.iter_mut().take(dim) {
                            *ca = nf * uniform(&mut rng, 0.15, 0.85);
                        }
                        Ball { c, r }
                    })
                    .collect();
                build(dim, n, Walls::closed(), |p| {
                    if balls.iter().any(|b| b.contains(p, dim)) {
                        CellFlag::Solid
                    } else {
                        CellFlag::Fluid
                    }
                })
            }
        }
    }
}

impl std::fmt::Display for Scene {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scene {
    type Err = PdeError;

    /// Parses a canonical name or an alias ("smoke" → plume, "obstacles" → spheres,
    /// "dambreak"/"dam-break" → pillars, "closed-box"/"neumann" → closed), ignoring ASCII case
    /// and surrounding blanks. Errors: [`PdeError::UnknownScene`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plume" | "smoke" => Ok(Scene::Plume),
            "spheres" | "obstacles" => Ok(Scene::Spheres),
            "pillars" | "dambreak" | "dam-break" => Ok(Scene::Pillars),
            "organic" => Ok(Scene::Organic),
            "closed" | "closed-box" | "neumann" => Ok(Scene::Closed),
            _ => Err(PdeError::UnknownScene(s.to_string())),
        }
    }
}

/// Uniform in `[lo, hi)` (never panics, unlike an empty `random_range`).
fn uniform(rng: &mut Xoshiro256PlusPlus, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// A sphere (a disc in 2D).
struct Ball {
    c: [f64; 3],
    r: f64,
}

impl Ball {
    fn contains(&self, p: [f64; 3], dim: usize) -> bool {
        (0..dim).map(|a| (p[a] - self.c[a]).powi(2)).sum::<f64>() < self.r * self.r
    }
}

/// A square column on the floor: centre `c` in the horizontal axes, half width, height.
struct Pillar {
    c: [f64; 2],
    half: f64,
    h: f64,
}

impl Pillar {
    fn contains(&self, p: [f64; 3], dim: usize) -> bool {
        p[dim - 1] < self.h && (0..dim - 1).all(|a| (p[a] - self.c[a]).abs() < self.half)
    }
}

/// One perturbation wave of the organic shape.
struct Wave {
    k: [f64; 3],
    amp: f64,
    phase: f64,
}

/// Classifies every cell centre of an `n^dim` grid with `classify` (in parallel; the result
/// does not depend on the thread count since `classify` is pure).
fn build(
    dim: usize,
    n: usize,
    walls: Walls,
    classify: impl Fn([f64; 3]) -> CellFlag + Sync,
) -> Result<MacGrid, PdeError> {
    let shape = vec![n; dim];
    // Validates the shape (and the cell-count limit) before allocating the codes.
    let grid = MacGrid::new(&shape, walls)?;
    let [nx, ny, _] = grid.dims();
    let mut codes = vec![0i8; grid.len()];
    codes.par_iter_mut().enumerate().for_each(|(c, code)| {
        let (i, j, k) = (c % nx, (c / nx) % ny, c / (nx * ny));
        let p = [i as f64 + 0.5, j as f64 + 0.5, k as f64 + 0.5];
        *code = classify(p) as i8;
    });
    let grid = MacGrid::from_codes(&shape, &codes, walls)?;
    debug_assert!(
        grid.fluid_count() > 0,
        "scenes keep fluid cells by construction"
    );
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poisson::PoissonProblem;

    #[test]
    fn names_parse_and_display() {
        for s in Scene::ALL {
            assert_eq!(s.name().parse::<Scene>().unwrap(), s);
            assert_eq!(s.to_string(), s.name());
        }
        for (alias, s) in [
            ("smoke", Scene::Plume),
            ("Obstacles", Scene::Spheres),
            ("dambreak", Scene::Pillars),
            ("dam-break", Scene::Pillars),
            ("closed-box", Scene::Closed),
            (" neumann ", Scene::Closed),
        ] {
            assert_eq!(alias.parse::<Scene>().unwrap(), s);
        }
        assert!(matches!(
            "lake".parse::<Scene>(),
            Err(PdeError::UnknownScene(_))
        ));
    }

    #[test]
    fn bad_shapes_are_rejected() {
        for (dim, n) in [(1, 16), (4, 16), (2, 3), (3, 0)] {
            assert!(matches!(
                Scene::Spheres.generate(dim, n, 0),
                Err(PdeError::InvalidGrid { .. })
            ));
        }
    }

    #[test]
    fn scenes_are_deterministic_valid_and_seeded() {
        for scene in Scene::ALL {
            for dim in [2, 3] {
                let a = scene.generate(dim, 16, 7).unwrap();
                assert_eq!(a.shape(), vec![16; dim]);
                assert_eq!(a, scene.generate(dim, 16, 7).unwrap(), "{scene} {dim}D");
                let b = scene.generate(dim, 16, 8).unwrap();
                if scene == Scene::Plume {
                    assert_eq!(a, b);
                } else {
                    assert_ne!(a.flags(), b.flags(), "{scene} {dim}D ignores the seed");
                }
                assert!(a.fluid_count() > 0);
                let p = PoissonProblem::new(a).unwrap();
                let (regions, floating) = p.region_counts();
                if scene == Scene::Closed {
                    assert!(floating >= 1);
                    assert_eq!(regions, floating);
                } else {
                    assert!(regions > floating, "{scene} {dim}D has no region with air");
                }
            }
        }
    }

    #[test]
    fn scenes_have_fluid_for_many_seeds_and_sizes() {
        for scene in Scene::ALL {
            for dim in [2, 3] {
                for n in [4, 5, 6, 9] {
                    for seed in 0..40 {
                        let g = scene.generate(dim, n, seed).unwrap();
                        assert!(g.fluid_count() > 0, "{scene} {dim}D n={n} seed={seed}");
                        let p = PoissonProblem::new(g).unwrap();
                        let (regions, floating) = p.region_counts();
                        assert_eq!(scene == Scene::Closed, regions == floating);
                    }
                }
            }
        }
    }

    #[test]
    fn scenes_have_their_features() {
        let count = |g: &MacGrid, f: CellFlag| g.flags().iter().filter(|&&x| x == f).count();
        for dim in [2, 3] {
            let n: usize = 32;
            let cells = n.pow(dim as u32);
            let plume = Scene::Plume.generate(dim, n, 0).unwrap();
            assert_eq!(plume.fluid_count(), cells);
            assert_eq!(plume.walls(), Walls::open_top(dim));
            for seed in 0..5 {
                let s = Scene::Spheres.generate(dim, n, seed).unwrap();
                assert!(count(&s, CellFlag::Solid) > 0);
                assert_eq!(count(&s, CellFlag::Air), 0);
                let top: Vec<_> = (0..cells)
                    .filter(|&c| s.coords(c)[dim - 1] == n - 1)
                    .map(|c| s.flags()[c])
                    .collect();
                assert!(top.iter().all(|&f| f == CellFlag::Fluid));

                let d = Scene::Pillars.generate(dim, n, seed).unwrap();
                assert!(count(&d, CellFlag::Air) > cells / 2);
                assert!(count(&d, CellFlag::Solid) > 0);
                assert_eq!(d.flags()[0], CellFlag::Fluid);
                let water = d.fluid_count() as f64 / cells as f64;
                let full = if dim == 2 { 0.4 * 0.7 } else { 0.4 * 0.4 * 0.7 };
                assert!(water < full + 0.02 && water > 0.5 * full, "water {water}");

                let o = Scene::Organic.generate(dim, n, seed).unwrap();
                let solid = count(&o, CellFlag::Solid) as f64 / cells as f64;
                assert!(
                    solid > 0.02 && solid < 0.6,
                    "organic solid fraction {solid}"
                );

                let c = Scene::Closed.generate(dim, n, seed).unwrap();
                assert_eq!(c.walls(), Walls::closed());
                assert_eq!(count(&c, CellFlag::Air), 0);
                assert!(count(&c, CellFlag::Solid) > 0);
            }
        }
    }

    #[test]
    fn scenes_do_not_depend_on_the_thread_count() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for scene in Scene::ALL {
            let a = one.install(|| scene.generate(3, 24, 9).unwrap());
            assert_eq!(a, scene.generate(3, 24, 9).unwrap(), "{scene}");
        }
    }

    #[test]
    fn geometry_scales_with_resolution() {
        // Same seed, doubled resolution: the solid fraction stays about the same.
        for scene in [
            Scene::Spheres,
            Scene::Organic,
            Scene::Closed,
            Scene::Pillars,
        ] {
            let frac = |n: usize| {
                let g = scene.generate(2, n, 3).unwrap();
                g.fluid_count() as f64 / g.len() as f64
            };
            let (a, b) = (frac(64), frac(128));
            assert!((a - b).abs() < 0.03, "{scene}: {a} vs {b}");
        }
    }
}
