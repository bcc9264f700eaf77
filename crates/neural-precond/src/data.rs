//! Training data: right-hand sides built from Ritz vectors, plus scene right-hand sides.
//!
//! For each training geometry, Lanczos with full reorthogonalization ([`ritz_krylov::lanczos`])
//! runs `lanczos_steps` steps on the grid operator from `A·N(0, 1)`. Ritz values below `1e-8`
//! (the null space of floating regions) are dropped; every sample is
//! `b = Σ_j c_j y_j / ‖·‖` with `c_j ~ low_weight·N(0, 1)` for the lowest `low_fraction` of the
//! Ritz vectors and `N(0, 1)` for the rest (the DCDM paper: 9× on the lowest `m/2 + 500` of
//! 10,000). Samples are formed as `Q_m (S c)` without building the Ritz vectors. For the
//! stencil nets, `rhs_samples` right-hand sides per geometry come from the scene generator
//! ([`RhsKind::SmoothDivergence`] and [`RhsKind::Buoyancy`], alternating).
//!
//! Each sample also carries `bᵀA⁻¹b` (an MGPCG solve), which the energy-norm loss needs.
//!
//! A dataset lives in a folder: `manifest.json` (the [`DatasetSpec`] and the geometries),
//! `flags-<g>.npy` (int8 cell flags, npy grid shape), `rhs-<g>.npy` (float32
//! `[samples, cells]`, grid layout) and `energy-<g>.npy` (float64 `[samples]`). Everything is reproducible from the spec's seed.

use crate::error::NeuralError;
use crate::geometry::Geometry;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use ritz_krylov::lanczos::{LanczosParams, lanczos};
use ritz_linalg::io::{read_npy, write_npy_f32, write_npy_f64, write_npy_i8};
use ritz_linalg::{LinearOperator, NullSpace};
use ritz_pde::rhs::RhsKind;
use ritz_pde::{MacGrid, PoissonProblem, Scene, Walls};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// 2 or 3.
    pub dim: usize,
    /// Grid side.
    pub n: usize,
    /// Scenes, used in turn for the geometries.
    pub scenes: Vec<Scene>,
    /// Number of geometries.
    pub geometries: usize,
    /// Master seed (geometry `g` uses scene seed `seed · 1000 + g`).
    pub seed: u64,
    /// Lanczos steps per geometry (capped at the number of fluid cells).
    pub lanczos_steps: usize,
    /// Ritz-vector samples per geometry.
    pub ritz_samples: usize,
    /// Scene right-hand sides per geometry.
    pub rhs_samples: usize,
    /// Fraction of the Ritz vectors (lowest first) drawn with the larger weight.
    pub low_fraction: f64,
    /// Weight of the low modes (the paper: 9).
    pub low_weight: f64,
    /// Samples `b = A w` per geometry with `w` white noise on the fluid cells: their solution
    /// is white, so they weight every eigenmode alike in the A-norm (the Ritz and scene samples
    /// are dominated by low modes). With the energy loss they keep the high-frequency end of
    /// the preconditioned spectrum in view.
    #[serde(default)]
    pub noise_samples: usize,
}

impl DatasetSpec {
    /// Checks ranges. Errors: [`NeuralError::Config`].
    pub fn validate(&self) -> Result<(), NeuralError> {
        let bad = |m: String| Err(NeuralError::Config(m));
        if self.dim != 2 && self.dim != 3 {
            return bad(format!("dataset dim must be 2 or 3, got {}", self.dim));
        }
        if self.n < 4 || self.scenes.is_empty() || self.geometries == 0 {
            return bad("dataset needs n ≥ 4, a scene and a geometry".into());
        }
        if self.ritz_samples + self.rhs_samples + self.noise_samples == 0 {
            return bad("dataset needs samples".into());
        }
        if self.ritz_samples > 0 && self.lanczos_steps < 2 {
            return bad("Ritz samples need at least 2 Lanczos steps".into());
        }
        if !(0.0..=1.0).contains(&self.low_fraction)
            || self.low_weight.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        {
            return bad("low_fraction must be in [0, 1] and low_weight positive".into());
        }
        Ok(())
    }
}

/// One training geometry and its right-hand sides.
#[derive(Debug, Clone)]
pub struct GeometrySamples {
    /// The Poisson problem.
    pub problem: PoissonProblem,
    /// Its network-side geometry.
    pub geometry: Geometry,
    /// Unit-norm right-hand sides in grid layout.
    pub rhs: Vec<Vec<f32>>,
    /// `bᵀA⁻¹b` of each right-hand side (for the energy-norm loss), from an MGPCG solve to
    /// 1e-10.
    pub energy: Vec<f64>,
}

impl GeometrySamples {
    /// Bundles a problem with its samples (the network-side geometry is derived here).
    pub fn new(problem: PoissonProblem, rhs: Vec<Vec<f32>>, energy: Vec<f64>) -> Self {
        let geometry = Geometry::of(&problem);
        Self {
            problem,
            geometry,
            rhs,
            energy,
        }
    }
}

/// A dataset in memory.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// How it was made.
    pub spec: DatasetSpec,
    /// Geometries with their samples.
    pub geometries: Vec<GeometrySamples>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    spec: DatasetSpec,
    geometries: Vec<ManifestGeometry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestGeometry {
    scene: Scene,
    shape: Vec<usize>,
    walls: Walls,
    samples: usize,
}

const FORMAT: &str = "ritz-dataset/2";
/// Salt mixed into the seed of the Lanczos start vector and the coefficients.
const RITZ_SALT: u64 = 0x5eed_0f21_7a3c_9b41;

/// Ritz-vector right-hand sides for one problem (see the module docs). Cost: `steps`
/// mat-vecs and O(n·steps²) reorthogonalization, then O(n·steps) per sample.
///
/// Errors: Lanczos failures (e.g. a problem with fewer than 2 fluid cells).
pub fn ritz_samples(
    problem: &PoissonProblem,
    steps: usize,
    samples: usize,
    low_fraction: f64,
    low_weight: f64,
    seed: u64,
) -> Result<Vec<Vec<f32>>, NeuralError> {
    if samples == 0 {
        return Ok(Vec::new());
    }
    let n = problem.num_cells();
    let mask = problem.fluid_mask();
    let mut rng = StdRng::seed_from_u64(seed ^ RITZ_SALT);
    let z: Vec<f64> = (0..n)
        .map(|i| {
            let v: f64 = rng.sample(StandardNormal);
            v * mask[i] as f64
        })
        .collect();
    let mut start = vec![0.0; n];
    problem.apply(&z, &mut start);
    let steps = steps.min(problem.num_fluid()).max(1);
    let lz = lanczos(
        problem,
        &start,
        &LanczosParams {
            steps,
            ..Default::default()
        },
        &mut (),
    )?;
    let basis = lz.ritz_basis()?;
    let m = basis.values.len();
    let first = basis.values.iter().position(|&v| v >= 1e-8).unwrap_or(m);
    let kept = m - first;
    let low = first + (low_fraction * kept as f64).round() as usize;
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let c: Vec<f64> = (0..m)
            .map(|k| {
                if k < first {
                    0.0
                } else {
                    let v: f64 = rng.sample(StandardNormal);
                    if k < low { low_weight * v } else { v }
                }
            })
            .collect();
        let b = lz.combine(&basis, &c)?;
        out.push(unit_f32(&b));
    }
    Ok(out)
}

fn unit_f32(b: &[f64]) -> Vec<f32> {
    let norm = b.iter().map(|v| v * v).sum::<f64>().sqrt();
    let s = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    b.iter().map(|v| (v * s) as f32).collect()
}

/// Scene right-hand sides (alternating smooth divergence and buoyancy), admissible and unit
/// norm. Errors: from the problem's right-hand-side check.
pub fn scene_samples(
    problem: &PoissonProblem,
    samples: usize,
    seed: u64,
) -> Result<Vec<Vec<f32>>, NeuralError> {
    let kinds = [RhsKind::SmoothDivergence, RhsKind::Buoyancy];
    (0..samples)
        .map(|s| {
            let mut b = kinds[s % 2].generate(problem, seed.wrapping_add(s as u64));
            problem.prepare_rhs(&mut b)?;
            Ok(unit_f32(&b))
        })
        .collect()
}

/// `b = A w / ‖A w‖` for white `w` on the fluid cells, with `bᵀA⁻¹b = wᵀAw / ‖Aw‖²`
/// exactly (no solve). Cost: one mat-vec per sample.
pub fn noise_samples(
    problem: &PoissonProblem,
    samples: usize,
    seed: u64,
) -> (Vec<Vec<f32>>, Vec<f64>) {
    let n = problem.num_cells();
    let mask = problem.fluid_mask();
    let mut rng = StdRng::seed_from_u64(seed ^ RITZ_SALT.rotate_left(17));
    let mut rhs = Vec::with_capacity(samples);
    let mut energy = Vec::with_capacity(samples);
    for _ in 0..samples {
        let mut w: Vec<f64> = (0..n)
            .map(|i| {
                let v: f64 = rng.sample(StandardNormal);
                v * mask[i] as f64
            })
            .collect();
        if let Some(ns) = problem.null_space_grid() {
            ns.project(&mut w);
        }
        let mut b = vec![0.0; n];
        problem.apply(&w, &mut b);
        let bb: f64 = b.iter().map(|v| v * v).sum();
        let wab: f64 = w.iter().zip(&b).map(|(x, y)| x * y).sum();
        energy.push(wab / bb);
        rhs.push(unit_f32(&b));
    }
    (rhs, energy)
}

/// `bᵀA⁻¹b` for each right-hand side: an f64 MGPCG solve to 1e-10 each. Cost: about ten
/// V-cycles per sample.
///
/// Errors: a solve that does not converge.
pub fn energies(problem: &PoissonProblem, rhs: &[Vec<f32>]) -> Result<Vec<f64>, NeuralError> {
    use ritz_pde::{GridMultigrid, MultigridParams, Precision};
    let mg = GridMultigrid::new(
        problem,
        MultigridParams {
            precision: Precision::F64,
            ..Default::default()
        },
    )?;
    let params = ritz_krylov::SolveParams {
        rtol: 1e-10,
        max_iters: 500,
        ..Default::default()
    };
    rhs.iter()
        .map(|b| {
            let b: Vec<f64> = b.iter().map(|&v| v as f64).collect();
            let mut x = vec![0.0; b.len()];
            let info = ritz_krylov::pcg(problem, &mg, &b, &mut x, &params, &mut ())?;
            if !info.converged() {
                return Err(NeuralError::Config(format!(
                    "energy solve stopped at {:?}",
                    info.stop
                )));
            }
            Ok(x.iter().zip(&b).map(|(a, c)| a * c).sum())
        })
        .collect()
}

impl Dataset {
    /// Generates a dataset from its spec. Cost: dominated by Lanczos, about
    /// `geometries × lanczos_steps²` vector operations.
    ///
    /// Errors: an invalid spec, a data set beyond the available memory, scene generation or
    /// Lanczos failures.
    pub fn generate(spec: &DatasetSpec) -> Result<Self, NeuralError> {
        spec.validate()?;
        // Kept: every geometry's f32 right-hand sides and its problem and geometry tensors
        // (~64 bytes per cell); transient: one Lanczos basis of f64 vectors.
        let samples = spec.ritz_samples + spec.rhs_samples + spec.noise_samples;
        let per_cell = spec
            .geometries
            .saturating_mul(samples.saturating_mul(4).saturating_add(64))
            .saturating_add(spec.lanczos_steps.saturating_mul(8));
        ritz_pde::check_cell_memory("a training data set", &vec![spec.n; spec.dim], per_cell)?;
        let mut geometries = Vec::with_capacity(spec.geometries);
        for g in 0..spec.geometries {
            let scene = spec.scenes[g % spec.scenes.len()];
            let gseed = spec.seed.wrapping_mul(1000).wrapping_add(g as u64);
            let grid = scene.generate(spec.dim, spec.n, gseed)?;
            let problem = PoissonProblem::new(grid)?;
            let mut rhs = ritz_samples(
                &problem,
                spec.lanczos_steps,
                spec.ritz_samples,
                spec.low_fraction,
                spec.low_weight,
                gseed,
            )?;
            rhs.extend(scene_samples(&problem, spec.rhs_samples, gseed)?);
            let mut energy = energies(&problem, &rhs)?;
            let (nb, ne) = noise_samples(&problem, spec.noise_samples, gseed);
            rhs.extend(nb);
            energy.extend(ne);
            geometries.push(GeometrySamples::new(problem, rhs, energy));
        }
        Ok(Self {
            spec: spec.clone(),
            geometries,
        })
    }

    /// Total number of samples.
    pub fn len(&self) -> usize {
        self.geometries.iter().map(|g| g.rhs.len()).sum()
    }
    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the dataset into `dir` (created if needed). Errors: [`NeuralError::Save`], I/O.
    pub fn save(&self, dir: &Path) -> Result<(), NeuralError> {
        let serr = |e: &dyn std::fmt::Display| NeuralError::Save {
            path: dir.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| serr(&e))?;
        let mut entries = Vec::new();
        for (g, gs) in self.geometries.iter().enumerate() {
            let grid = gs.problem.grid();
            write_npy_i8(
                dir.join(format!("flags-{g}.npy")),
                &grid.npy_shape(),
                &grid.codes(),
            )?;
            let cells = gs.problem.num_cells();
            let mut flat = Vec::with_capacity(gs.rhs.len() * cells);
            for b in &gs.rhs {
                flat.extend_from_slice(b);
            }
            write_npy_f32(
                dir.join(format!("rhs-{g}.npy")),
                &[gs.rhs.len(), cells],
                &flat,
            )?;
            write_npy_f64(
                dir.join(format!("energy-{g}.npy")),
                &[gs.energy.len()],
                &gs.energy,
            )?;
            entries.push(ManifestGeometry {
                scene: self.spec.scenes[g % self.spec.scenes.len()],
                shape: grid.shape(),
                walls: grid.walls(),
                samples: gs.rhs.len(),
            });
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            spec: self.spec.clone(),
            geometries: entries,
        };
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| serr(&e))?;
        std::fs::write(dir.join("manifest.json"), text).map_err(|e| serr(&e))
    }

    /// Reads a dataset written by [`Dataset::save`].
    ///
    /// Errors: [`NeuralError::Load`] for a missing or inconsistent manifest or array, npy
    /// errors, non-finite samples.
    pub fn load(dir: &Path) -> Result<Self, NeuralError> {
        let lerr = |path: &Path, e: &dyn std::fmt::Display| NeuralError::Load {
            what: "dataset",
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mpath = dir.join("manifest.json");
        let text = std::fs::read_to_string(&mpath).map_err(|e| lerr(&mpath, &e))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| lerr(&mpath, &e))?;
        if manifest.format != FORMAT {
            return Err(lerr(&mpath, &format!("format {:?}", manifest.format)));
        }
        let mut geometries = Vec::with_capacity(manifest.geometries.len());
        for (g, mg) in manifest.geometries.iter().enumerate() {
            let fpath = dir.join(format!("flags-{g}.npy"));
            let codes = read_npy(&fpath)?.to_i8()?;
            let grid = MacGrid::from_codes(&mg.shape, &codes, mg.walls)?;
            let problem = PoissonProblem::new(grid)?;
            let rpath = dir.join(format!("rhs-{g}.npy"));
            let arr = read_npy(&rpath)?;
            let cells = problem.num_cells();
            if arr.shape != [mg.samples, cells] {
                return Err(lerr(
                    &rpath,
                    &format!("shape {:?}, expected [{}, {cells}]", arr.shape, mg.samples),
                ));
            }
            let data = arr.to_f64();
            if data.iter().any(|v| !v.is_finite()) {
                return Err(NeuralError::NonFinite(rpath.display().to_string()));
            }
            let rhs = data
                .chunks(cells)
                .map(|c| c.iter().map(|&v| v as f32).collect())
                .collect();
            let epath = dir.join(format!("energy-{g}.npy"));
            let energy = read_npy(&epath)?.to_f64();
            if energy.len() != mg.samples || energy.iter().any(|e| !(e.is_finite() && *e >= 0.0)) {
                return Err(lerr(&epath, &"energies missing, negative or non-finite"));
            }
            geometries.push(GeometrySamples::new(problem, rhs, energy));
        }
        Ok(Self {
            spec: manifest.spec,
            geometries,
        })
    }

    /// Loads `dir` if it holds a dataset made from `spec`, otherwise generates one and saves
    /// it there. Errors: as [`Dataset::generate`] and [`Dataset::save`].
    pub fn load_or_generate(spec: &DatasetSpec, dir: &Path) -> Result<Self, NeuralError> {
        if let Ok(d) = Self::load(dir)
            && d.spec == *spec
        {
            return Ok(d);
        }
        let d = Self::generate(spec)?;
        d.save(dir)?;
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DatasetSpec {
        DatasetSpec {
            dim: 2,
            n: 16,
            scenes: vec![Scene::Spheres, Scene::Closed],
            geometries: 2,
            seed: 3,
            lanczos_steps: 40,
            ritz_samples: 3,
            rhs_samples: 2,
            low_fraction: 0.55,
            low_weight: 9.0,
            noise_samples: 2,
        }
    }

    #[test]
    fn samples_are_unit_admissible_and_reproducible() {
        let a = Dataset::generate(&spec()).unwrap();
        let b = Dataset::generate(&spec()).unwrap();
        assert_eq!(a.len(), 14);
        for (ga, gb) in a.geometries.iter().zip(&b.geometries) {
            assert_eq!(ga.rhs, gb.rhs);
            for r in &ga.rhs {
                let norm: f64 = r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
                assert!((norm - 1.0).abs() < 1e-5);
                let mask = ga.problem.fluid_mask();
                assert!(r.iter().zip(mask).all(|(v, &m)| m == 1 || *v == 0.0));
            }
        }
        // The closed box is all-Neumann: samples must have zero mean on the fluid.
        let closed = &a.geometries[1];
        for r in &closed.rhs {
            let s: f64 = r.iter().map(|&v| v as f64).sum();
            assert!(s.abs() < 1e-4, "mean {s}");
        }
    }

    #[test]
    fn save_load_round_trip_and_bad_files() {
        let dir = std::env::temp_dir().join(format!("ritz-data-{}", std::process::id()));
        let a = Dataset::generate(&spec()).unwrap();
        a.save(&dir).unwrap();
        let b = Dataset::load(&dir).unwrap();
        assert_eq!(a.spec, b.spec);
        assert_eq!(a.geometries[1].rhs, b.geometries[1].rhs);
        std::fs::write(dir.join("rhs-1.npy"), b"not an npy file").unwrap();
        assert!(Dataset::load(&dir).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
