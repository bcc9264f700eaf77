//! Right-hand sides for [`PoissonProblem`]s, in grid layout.
//!
//! A pressure projection solves `A p = −div(u*)` for an intermediate velocity `u*` stored on the
//! MAC faces. [`RhsKind`] generates such right-hand sides from seeded velocity fields (smooth
//! random, buoyant smoke blob) or white noise. Every generated vector has one value per cell,
//! zeros outside the fluid, has been made consistent by [`PoissonProblem::prepare_rhs`] (the
//! constant is projected out of every floating region) and is scaled to unit 2-norm unless it
//! is zero.
//!
//! # Face arrays
//!
//! Velocity component `a` (0 = x, 1 = y, 2 = z) lives on the faces normal to axis `a`. Its array
//! has the grid's extents `[nx, ny, nz]` with one more entry along axis `a` (see
//! [`face_dims`]), x fastest: face `(i, j, k)` of axis `a` has index
//! `i + fx (j + fy k)` with `[fx, fy, _] = face_dims(grid, a)`, and is the *low* face of cell
//! `(i, j, k)` (between cells `(i, j, k) − e_a` and `(i, j, k)`). Faces with index 0 or
//! `n_a` along `a` lie on the domain walls. In 2D the z array is empty. Face `(i, j, k)` of
//! axis x sits at `(i, j + ½, k + ½)` in cell units (cell centres at `i + ½`).
//!
//! Divergence with unit spacing: `div(u)_c = Σ_a u_a[high face of c] − u_a[low face of c]`.

use crate::error::PdeError;
use crate::grid::{CellFlag, MacGrid, WallKind};
use crate::poisson::PoissonProblem;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::f64::consts::PI;

/// How to make a right-hand side. [`RhsKind::generate`] builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RhsKind {
    /// `−div(u)` of a random smooth face velocity `u`: each component a sum of 8 Fourier modes
    /// with 1–4 periods per domain along each axis, amplitudes `N(0,1)/|k|` (low-frequency
    /// heavy) and random phases, like a simulator's intermediate velocity. Faces touching a
    /// solid cell or a solid domain wall are zeroed.
    SmoothDivergence,
    /// `−div(v)` of the buoyant upward velocity `v = dt β T` on the faces of the last axis,
    /// where `T` is a Gaussian smoke blob of width 0.1n centred near `(0.5, 0.2, 0.5)·n` (height
    /// 0.2n) with seeded jitter; solid faces zeroed. Zero if the blob misses the fluid.
    Buoyancy,
    /// I.i.d. `N(0, 1)` values on the fluid cells.
    WhiteNoise,
}

impl RhsKind {
    /// Every kind, in declaration order.
    pub const ALL: [RhsKind; 3] = [
        RhsKind::SmoothDivergence,
        RhsKind::Buoyancy,
        RhsKind::WhiteNoise,
    ];

    /// The canonical name: "smooth", "buoyancy" or "noise".
    pub fn name(&self) -> &'static str {
        match self {
            RhsKind::SmoothDivergence => "smooth",
            RhsKind::Buoyancy => "buoyancy",
            RhsKind::WhiteNoise => "noise",
        }
    }

    /// Generates the right-hand side for `problem` in grid layout: length
    /// `problem.num_cells()`, zeros outside the fluid, consistent (projected by
    /// [`PoissonProblem::prepare_rhs`]) and of unit 2-norm unless zero. Deterministic in
    /// `(self, problem, seed)` and independent of the thread count.
    ///
    /// Cost: O(cells) time; the velocity kinds evaluate `8 · dim` sines per face (smooth) or one
    /// exponential per face of the last axis (buoyancy) and hold `dim` face arrays
    /// (≈ `dim` vectors). Never fails.
    pub fn generate(&self, problem: &PoissonProblem, seed: u64) -> Vec<f64> {
        let salt = (*self as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ salt);
        let grid = problem.grid();
        let dim = grid.dim();
        let ext = grid.dims();
        let mut b = match self {
            RhsKind::SmoothDivergence => {
                let faces: Vec<Vec<f64>> = (0..3)
                    .map(|a| {
                        if a >= dim {
                            return Vec::new();
                        }
                        let modes = random_modes(&mut rng, dim);
                        let mut u = face_field(grid, a, |x| {
                            modes
                                .iter()
                                .map(|m| {
                                    let arg: f64 = (0..dim)
                                        .map(|d| 2.0 * PI * m.k[d] * x[d] / ext[d] as f64)
                                        .sum();
                                    m.amp * (arg + m.phase).sin()
                                })
                                .sum()
                        });
                        zero_solid_faces_unchecked(grid, a, &mut u);
                        u
                    })
                    .collect();
                neg_divergence(problem, &faces)
            }
            RhsKind::Buoyancy => {
                let top = dim - 1;
                let width = 0.1 * (0..dim).map(|a| ext[a]).max().unwrap_or(1) as f64;
                let mut centre = [0.0; 3];
                for (a, c) in centre.iter_mut().enumerate().take(dim) {
                    let base = if a == top { 0.2 } else { 0.5 };
                    let jitter = 0.1 * rng.random::<f64>() - 0.05;
                    *c = (base + jitter) * ext[a] as f64;
                }
                // dt β = 1: the overall scale disappears in the normalization.
                let inv = 1.0 / (2.0 * width * width);
                let mut faces: Vec<Vec<f64>> = vec![Vec::new(); 3];
                let mut v = face_field(grid, top, |x| {
                    let r2: f64 = (0..dim).map(|a| (x[a] - centre[a]).powi(2)).sum();
                    (-r2 * inv).exp()
                });
                zero_solid_faces_unchecked(grid, top, &mut v);
                for a in 0..dim {
                    faces[a] = if a == top {
                        std::mem::take(&mut v)
                    } else {
                        vec![0.0; face_count(grid, a)]
                    };
                }
                neg_divergence(problem, &faces)
            }
            RhsKind::WhiteNoise => problem
                .fluid_mask()
                .iter()
                .map(|&f| {
                    if f != 0 {
                        rng.sample::<f64, _>(StandardNormal)
                    } else {
                        0.0
                    }
                })
                .collect(),
        };
        make_admissible(problem, &mut b);
        let norm = b.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            let s = 1.0 / norm;
            b.iter_mut().for_each(|v| *v *= s);
        }
        b
    }
}

impl std::fmt::Display for RhsKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RhsKind {
    type Err = PdeError;

    /// Parses "smooth"/"divergence", "buoyancy", "noise"/"white" (ASCII case and surrounding
    /// blanks ignored). Errors: [`PdeError::Unsupported`] naming the known kinds.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "smooth" | "divergence" => Ok(RhsKind::SmoothDivergence),
            "buoyancy" => Ok(RhsKind::Buoyancy),
            "noise" | "white" => Ok(RhsKind::WhiteNoise),
            _ => Err(PdeError::Unsupported(format!(
                "unknown right-hand side '{s}' (known: smooth, buoyancy, noise)"
            ))),
        }
    }
}

/// Extents `[fx, fy, fz]` of the face array of axis `axis`: the grid's `[nx, ny, nz]` plus one
/// along `axis`; `[0, 0, 0]` for `axis >= grid.dim()` (no z faces in 2D). O(1), never fails.
pub fn face_dims(grid: &MacGrid, axis: usize) -> [usize; 3] {
    if axis >= grid.dim() {
        return [0; 3];
    }
    let mut d = grid.dims();
    d[axis] += 1;
    d
}

/// Number of faces normal to `axis` (the length of its face array; 0 for `axis >= dim`).
/// O(1), never fails.
pub fn face_count(grid: &MacGrid, axis: usize) -> usize {
    face_dims(grid, axis).iter().product()
}

/// Evaluates `f` at the centre of every face normal to `axis` (face `(i, j, k)` of axis x at
/// `(i, j + ½, k + ½)`, and so on), in the face layout of the module docs. Rayon-parallel; the
/// result does not depend on the thread count. Cost: O(faces) calls of `f`. Returns an empty
/// vector for `axis >= grid.dim()`.
pub fn face_field(grid: &MacGrid, axis: usize, f: impl Fn([f64; 3]) -> f64 + Sync) -> Vec<f64> {
    let [fx, fy, _] = face_dims(grid, axis);
    let mut u = vec![0.0; face_count(grid, axis)];
    u.par_iter_mut().enumerate().for_each(|(idx, v)| {
        let co = [idx % fx, (idx / fx) % fy, idx / (fx * fy)];
        let mut x = co.map(|c| c as f64 + 0.5);
        x[axis] -= 0.5;
        *v = f(x);
    });
    u
}

/// Sets to zero every face of `axis` that touches a solid cell or lies on a solid domain wall
/// (the solid-boundary condition `u·n = 0`). Faces between fluid/air cells and on air walls keep
/// their values. Cost: O(faces).
///
/// Errors: [`PdeError::Shape`] if `u.len() != face_count(grid, axis)`.
pub fn zero_solid_faces(grid: &MacGrid, axis: usize, u: &mut [f64]) -> Result<(), PdeError> {
    let expected = face_count(grid, axis);
    if u.len() != expected {
        return Err(PdeError::Shape {
            what: "face array",
            expected,
            found: u.len(),
        });
    }
    zero_solid_faces_unchecked(grid, axis, u);
    Ok(())
}

/// [`zero_solid_faces`] for a correctly sized `u`.
fn zero_solid_faces_unchecked(grid: &MacGrid, axis: usize, u: &mut [f64]) {
    if u.is_empty() || axis >= grid.dim() {
        return;
    }
    let [fx, fy, _] = face_dims(grid, axis);
    let ext = grid.dims();
    let walls = grid.walls().0[axis];
    let flags = grid.flags();
    let stride = grid.strides()[axis];
    u.par_iter_mut().enumerate().for_each(|(idx, v)| {
        let co = [idx % fx, (idx / fx) % fy, idx / (fx * fy)];
        let solid = if co[axis] == 0 {
            walls[0] == WallKind::Solid
        } else if co[axis] == ext[axis] {
            walls[1] == WallKind::Solid
        } else {
            // Cells on both sides: (co) and (co − e_axis).
            let c = grid.index(co[0], co[1], co[2]);
            flags[c] == CellFlag::Solid || flags[c - stride] == CellFlag::Solid
        };
        if solid {
            *v = 0.0;
        }
    });
}

/// `div(u)` (unit spacing) at every fluid cell of `problem`, zeros elsewhere, grid layout.
/// `u[a]` is the face array of axis `a` (module docs); `u[2]` is ignored in 2D (pass `&[]`).
/// Rayon-parallel, deterministic. Cost: O(cells), one output vector.
///
/// Errors: [`PdeError::Shape`] if some `u[a]` (`a < dim`) is not `face_count(grid, a)`
/// long.
pub fn face_divergence(problem: &PoissonProblem, u: [&[f64]; 3]) -> Result<Vec<f64>, PdeError> {
    let grid = problem.grid();
    for (a, ua) in u.iter().enumerate().take(grid.dim()) {
        let expected = face_count(grid, a);
        if ua.len() != expected {
            return Err(PdeError::Shape {
                what: "face array",
                expected,
                found: ua.len(),
            });
        }
    }
    Ok(divergence_unchecked(problem, u))
}

/// The divergence kernel; requires correctly sized face arrays for the axes `< dim`.
fn divergence_unchecked(problem: &PoissonProblem, u: [&[f64]; 3]) -> Vec<f64> {
    let grid = problem.grid();
    let dim = grid.dim();
    let [nx, ny, _] = grid.dims();
    let fd = [0, 1, 2].map(|a| face_dims(grid, a));
    let fluid = problem.fluid_mask();
    let mut div = vec![0.0; problem.num_cells()];
    div.par_iter_mut().enumerate().for_each(|(c, out)| {
        if fluid[c] == 0 {
            return;
        }
        let (i, j, k) = (c % nx, (c / nx) % ny, c / (nx * ny));
        let mut s = 0.0;
        for a in 0..dim {
            let [fx, fy, _] = fd[a];
            let lo = i + fx * (j + fy * k);
            let step = [1, fx, fx * fy][a];
            s += u[a][lo + step] - u[a][lo];
        }
        *out = s;
    });
    div
}

/// `−div(u)` for face arrays built by this module (always correctly sized).
fn neg_divergence(problem: &PoissonProblem, faces: &[Vec<f64>]) -> Vec<f64> {
    let mut b = divergence_unchecked(problem, [&faces[0], &faces[1], &faces[2]]);
    b.iter_mut().for_each(|v| *v = -*v);
    b
}

/// Runs [`PoissonProblem::prepare_rhs`], whose only failure modes (wrong length, non-finite
/// values) are excluded here: `b` has one value per cell, and non-finite values (which the
/// generators cannot produce) are replaced by zero first.
fn make_admissible(problem: &PoissonProblem, b: &mut [f64]) {
    debug_assert_eq!(b.len(), problem.num_cells());
    b.iter_mut()
        .filter(|v| !v.is_finite())
        .for_each(|v| *v = 0.0);
    let prepared = problem.prepare_rhs(b);
    debug_assert!(
        prepared.is_ok(),
        "prepare_rhs cannot fail here: {prepared:?}"
    );
}

/// One Fourier mode of the smooth velocity field.
struct Mode {
    /// Periods per domain along each axis.
    k: [f64; 3],
    amp: f64,
    phase: f64,
}

/// 8 random modes: integer wavenumbers in `−4..=4` per axis (not all zero), amplitude
/// `N(0,1)/|k|`, uniform phase.
fn random_modes(rng: &mut Xoshiro256PlusPlus, dim: usize) -> Vec<Mode> {
    (0..8)
        .map(|_| {
            let mut k = [0.0; 3];
            for kd in k.iter_mut().take(dim) {
                *kd = rng.random_range(-4..=4i32) as f64;
            }
            if k.iter().all(|&v| v == 0.0) {
                k[0] = 1.0;
            }
            let kn = k.iter().map(|v| v * v).sum::<f64>().sqrt();
            let amp = rng.sample::<f64, _>(StandardNormal) / kn;
            let phase = 2.0 * PI * rng.random::<f64>();
            Mode { k, amp, phase }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Walls;
    use crate::scenes::Scene;

    fn norm(v: &[f64]) -> f64 {
        v.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    #[test]
    fn names_parse_and_display() {
        for k in RhsKind::ALL {
            assert_eq!(k.name().parse::<RhsKind>().unwrap(), k);
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(
            "divergence".parse::<RhsKind>().unwrap(),
            RhsKind::SmoothDivergence
        );
        assert_eq!("White".parse::<RhsKind>().unwrap(), RhsKind::WhiteNoise);
        assert!("pink".parse::<RhsKind>().is_err());
    }

    #[test]
    fn rhs_are_finite_masked_normalized_and_consistent() {
        for scene in Scene::ALL {
            for dim in [2, 3] {
                let p = PoissonProblem::new(scene.generate(dim, 16, 11).unwrap()).unwrap();
                for kind in RhsKind::ALL {
                    let b = kind.generate(&p, 5);
                    let what = format!("{scene} {dim}D {kind}");
                    assert_eq!(b.len(), p.num_cells());
                    assert!(b.iter().all(|v| v.is_finite()), "{what}");
                    for (v, &f) in b.iter().zip(p.fluid_mask()) {
                        if f == 0 {
                            assert_eq!(*v, 0.0, "{what}");
                        }
                    }
                    assert!((norm(&b) - 1.0).abs() < 1e-12, "{what}: norm {}", norm(&b));
                    assert_eq!(b, kind.generate(&p, 5), "{what} not deterministic");
                    assert_ne!(b, kind.generate(&p, 6), "{what} ignores the seed");
                    if scene == Scene::Closed {
                        // Every region is floating: b sums to ~0 on each.
                        let (nreg, _) = p.region_counts();
                        let mut sums = vec![0.0; nreg];
                        for (v, &r) in b.iter().zip(p.regions()) {
                            if r != u32::MAX {
                                sums[r as usize] += v;
                            }
                        }
                        assert!(sums.iter().all(|s| s.abs() < 1e-12), "{what}: {sums:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn rhs_do_not_depend_on_the_thread_count() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let p = PoissonProblem::new(Scene::Closed.generate(3, 24, 2).unwrap()).unwrap();
        for kind in RhsKind::ALL {
            let a = one.install(|| kind.generate(&p, 4));
            assert_eq!(a, kind.generate(&p, 4), "{kind}");
        }
    }

    #[test]
    fn smooth_divergence_is_smoother_than_noise() {
        // Relative energy of the Laplacian: much lower for the smooth field.
        let p = PoissonProblem::new(Scene::Plume.generate(2, 64, 0).unwrap()).unwrap();
        use ritz_linalg::LinearOperator;
        let rough = |b: &[f64]| {
            let mut y = vec![0.0; b.len()];
            p.apply(b, &mut y);
            norm(&y) / norm(b)
        };
        let smooth = rough(&RhsKind::SmoothDivergence.generate(&p, 1));
        let noise = rough(&RhsKind::WhiteNoise.generate(&p, 1));
        assert!(smooth < 0.5 * noise, "smooth {smooth} vs noise {noise}");
    }

    #[test]
    fn uniform_flow_in_closed_box_is_divergence_free_inside() {
        for dim in [2, 3] {
            let n = 6;
            let g = MacGrid::new(&vec![n; dim], Walls::closed()).unwrap();
            let p = PoissonProblem::new(g).unwrap();
            let grid = p.grid();
            let mut faces: Vec<Vec<f64>> = (0..3)
                .map(|a| face_field(grid, a, |_| 1.0 + a as f64))
                .collect();
            for (a, f) in faces.iter_mut().enumerate() {
                zero_solid_faces(grid, a, f).unwrap();
            }
            let div = face_divergence(&p, [&faces[0], &faces[1], &faces[2]]).unwrap();
            for (c, &d) in div.iter().enumerate() {
                let co = grid.coords(c);
                let mut want = 0.0;
                for a in 0..dim {
                    // Wall faces are zero: +/- the speed next to the low/high wall.
                    if co[a] == 0 {
                        want += 1.0 + a as f64;
                    }
                    if co[a] == n - 1 {
                        want -= 1.0 + a as f64;
                    }
                }
                assert_eq!(d, want, "{dim}D cell {co:?}");
            }
            assert!(div.iter().sum::<f64>().abs() < 1e-12);
        }
    }

    #[test]
    fn stream_function_field_is_divergence_free() {
        // u_x = ∂ψ/∂y, u_y = −∂ψ/∂x with ψ at cell corners: exactly divergence-free. In 3D the
        // same (x, y) field, with u_z = 0, extended along z.
        for dim in [2, 3] {
            let shape: Vec<usize> = if dim == 2 { vec![9, 7] } else { vec![6, 5, 4] };
            let mut g = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
            g.paint(CellFlag::Air, |x| x[0] > 4.0 && x[1] > 3.0);
            let p = PoissonProblem::new(g).unwrap();
            let grid = p.grid();
            let psi = |x: f64, y: f64| (0.7 * x + 0.2).sin() * (0.5 * y).cos() + 0.1 * x * y;
            let ux = face_field(grid, 0, |x| psi(x[0], x[1] + 0.5) - psi(x[0], x[1] - 0.5));
            let uy = face_field(grid, 1, |x| {
                -(psi(x[0] + 0.5, x[1]) - psi(x[0] - 0.5, x[1]))
            });
            let uz = vec![0.0; face_count(grid, 2)];
            let div = face_divergence(&p, [&ux, &uy, &uz]).unwrap();
            assert!(div.iter().all(|d| d.abs() < 1e-12), "{dim}D");
            assert!(norm(&ux) > 1.0);
        }
    }

    #[test]
    fn face_layout_and_size_checks() {
        let g = MacGrid::new(&[3, 2], Walls::closed()).unwrap();
        assert_eq!(face_dims(&g, 0), [4, 2, 1]);
        assert_eq!(face_dims(&g, 1), [3, 3, 1]);
        assert_eq!(face_count(&g, 2), 0);
        let x = face_field(&g, 0, |x| x[0] + 10.0 * x[1]);
        assert_eq!(x[..4], [0.5 * 10.0, 1.0 + 5.0, 2.0 + 5.0, 3.0 + 5.0]);
        let p = PoissonProblem::new(g).unwrap();
        let short = vec![0.0; 3];
        assert!(matches!(
            face_divergence(&p, [&short, &short, &[]]),
            Err(PdeError::Shape { .. })
        ));
        let mut short = short;
        assert!(zero_solid_faces(p.grid(), 0, &mut short).is_err());
    }

    #[test]
    fn buoyancy_pushes_up_through_the_blob() {
        // In the open plume the upward flow grows towards the blob's centre, so div(v) > 0 below
        // it and < 0 above: b = −div(v) is negative below, positive above.
        let p = PoissonProblem::new(Scene::Plume.generate(2, 32, 0).unwrap()).unwrap();
        let b = RhsKind::Buoyancy.generate(&p, 3);
        let grid = p.grid();
        let (mut below, mut above) = (0.0, 0.0);
        for (c, v) in b.iter().enumerate() {
            let y = grid.coords(c)[1];
            if y < 5 {
                below += v;
            } else if (8..14).contains(&y) {
                above += v;
            }
        }
        assert!(below < 0.0 && above > 0.0, "below {below} above {above}");
    }
}
