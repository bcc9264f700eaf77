//! Bench problems: built-in scenes, external npy flag grids, external MatrixMarket matrices.

use crate::ProblemArgs;
use ritz::linalg::io::{mtx, npy};
use ritz::linalg::{CsrMatrix, LinearOperator, RegionNullSpace};
use ritz::pde::poisson::AssembledPoisson;
use ritz::pde::rhs::RhsKind;
use ritz::pde::{MacGrid, PoissonProblem, Scene, WallPreset};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

fn smooth() -> String {
    "smooth".into()
}
fn open_top() -> String {
    "open-top".into()
}

/// One problem of a bench config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProblemSpec {
    /// A built-in scene.
    #[serde(rename_all = "snake_case")]
    Scene {
        scene: String,
        dim: usize,
        n: usize,
        #[serde(default)]
        seed: u64,
        #[serde(default = "smooth")]
        rhs: String,
        #[serde(default)]
        solvers: Vec<String>,
    },
    /// An npy grid of cell flags, with an npy right-hand side over the grid or a generated one.
    Flags {
        flags: PathBuf,
        #[serde(default)]
        rhs_npy: Option<PathBuf>,
        #[serde(default = "smooth")]
        rhs: String,
        #[serde(default = "open_top")]
        walls: String,
        #[serde(default)]
        seed: u64,
        #[serde(default)]
        solvers: Vec<String>,
    },
    /// A MatrixMarket matrix with an npy right-hand side (default: `b = A x*`, x* random).
    Mtx {
        mtx: PathBuf,
        #[serde(default)]
        rhs_npy: Option<PathBuf>,
        #[serde(default)]
        solvers: Vec<String>,
    },
}

impl ProblemSpec {
    /// From command-line arguments, if they name a problem.
    pub fn from_args(a: &ProblemArgs) -> Option<Self> {
        if let Some(m) = &a.mtx {
            return Some(Self::Mtx {
                mtx: m.clone(),
                rhs_npy: a.rhs_npy.clone(),
                solvers: vec![],
            });
        }
        if let Some(f) = &a.flags {
            return Some(Self::Flags {
                flags: f.clone(),
                rhs_npy: a.rhs_npy.clone(),
                rhs: a.rhs.clone(),
                walls: a.walls.clone(),
                seed: a.seed,
                solvers: vec![],
            });
        }
        a.scene.as_ref().map(|s| Self::Scene {
            scene: s.clone(),
            dim: a.dim,
            n: a.n,
            seed: a.seed,
            rhs: a.rhs.clone(),
            solvers: vec![],
        })
    }

    /// The solver list of this problem (may be empty: use the defaults).
    pub fn solvers(&self) -> &[String] {
        match self {
            Self::Scene { solvers, .. }
            | Self::Flags { solvers, .. }
            | Self::Mtx { solvers, .. } => solvers,
        }
    }
}

/// A loaded problem.
pub struct Problem {
    /// Short name used in tables, file names and JSON.
    pub name: String,
    /// Description of the source.
    pub source: String,
    /// The system.
    pub kind: ProblemKind,
    /// Seconds to build or load it.
    pub build_s: f64,
}

/// The two kinds of systems the bench knows.
pub enum ProblemKind {
    /// A MAC-grid Poisson problem (matrix-free on grid-layout vectors; assembled on demand).
    Grid {
        /// The operator.
        problem: Box<PoissonProblem>,
        /// Right-hand side, grid layout.
        b: Vec<f64>,
        /// Assembled matrix and compact right-hand side, built on first use.
        assembled: OnceLock<(AssembledPoisson, Vec<f64>, f64)>,
    },
    /// A sparse SPD matrix.
    Csr {
        /// The matrix.
        a: CsrMatrix,
        /// Right-hand side.
        b: Vec<f64>,
    },
}

impl Problem {
    /// Number of unknowns (fluid cells, or matrix rows).
    pub fn unknowns(&self) -> usize {
        match &self.kind {
            ProblemKind::Grid { problem, .. } => problem.num_fluid(),
            ProblemKind::Csr { a, .. } => a.nrows(),
        }
    }
    /// Grid cells (grid problems).
    pub fn cells(&self) -> Option<usize> {
        match &self.kind {
            ProblemKind::Grid { problem, .. } => Some(problem.num_cells()),
            ProblemKind::Csr { .. } => None,
        }
    }
    /// Seconds spent assembling the CSR matrix of a grid problem (0 for matrix problems).
    pub fn assembly_s(&self) -> f64 {
        self.assembled();
        match &self.kind {
            ProblemKind::Grid { assembled, .. } => assembled.get().map_or(0.0, |a| a.2),
            ProblemKind::Csr { .. } => 0.0,
        }
    }

    /// The assembled view (built on first use for grid problems).
    pub fn assembled(&self) -> Assembled<'_> {
        match &self.kind {
            ProblemKind::Grid {
                problem,
                b,
                assembled,
            } => {
                let (asm, bc, _) = assembled.get_or_init(|| {
                    let t = Instant::now();
                    let asm = AssembledPoisson::new(problem);
                    let bc = problem
                        .to_compact(b)
                        .expect("grid rhs has the grid's length");
                    (asm, bc, t.elapsed().as_secs_f64())
                });
                Assembled {
                    op: asm,
                    matrix: &asm.matrix,
                    b: bc,
                    null_space: asm.null_space.as_ref(),
                }
            }
            ProblemKind::Csr { a, b } => Assembled {
                op: a,
                matrix: a,
                b,
                null_space: None,
            },
        }
    }
}

/// A problem as a sparse matrix over its unknowns.
pub struct Assembled<'a> {
    /// The operator (with its null space, if any).
    pub op: &'a dyn LinearOperator,
    /// The matrix.
    pub matrix: &'a CsrMatrix,
    /// Right-hand side over the unknowns.
    pub b: &'a [f64],
    /// Null space of floating regions, if any.
    pub null_space: Option<&'a RegionNullSpace>,
}

fn err<E: std::fmt::Display>(ctx: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{ctx}: {e}")
}

/// Checks a problem before any work: the scene, right-hand side and walls names, the
/// dimension, and for a scene the bench's memory budget. Files are read later, by [`load`].
pub fn validate_spec(spec: &ProblemSpec) -> Result<(), String> {
    match spec {
        ProblemSpec::Scene {
            scene, dim, n, rhs, ..
        } => {
            scene.parse::<Scene>().map_err(err("scene"))?;
            rhs.parse::<RhsKind>().map_err(err("rhs"))?;
            if !(2..=3).contains(dim) {
                return Err(format!("scene: dim must be 2 or 3, got {dim}"));
            }
            check_bench_memory(&vec![*n; *dim], BENCH_BYTES_PER_CELL)
        }
        ProblemSpec::Flags { rhs, walls, .. } => {
            rhs.parse::<RhsKind>().map_err(err("rhs"))?;
            walls
                .parse::<WallPreset>()
                .map(|_| ())
                .map_err(err("walls"))
        }
        ProblemSpec::Mtx { .. } => Ok(()),
    }
}

/// Bytes per grid cell a bench problem takes with its grid solvers: the Poisson problem (14),
/// the right-hand side, solution and true residual (24), a Krylov solver's scratch (≤ 40), the
/// preconditioner (multigrid hierarchy, IC(0) factor, stencil tables). Measured peaks at 256³
/// (16.8 M cells): MGPCG 80, the stencil net 141 bytes per cell.
pub const BENCH_BYTES_PER_CELL: usize = 160;

/// Extra bytes per grid cell of the solvers on the assembled matrix (`-csr`, `cholesky`, the
/// compact copies): measured at 128³, cg-csr + ic0-csr ≈ 170 bytes per cell more than the grid
/// solvers (a Cholesky factor's fill is checked by its own allocation, not here).
pub const CSR_BYTES_PER_CELL: usize = 192;

/// The bench's per-cell budget for the solvers `names`.
pub fn bench_bytes_per_cell(names: &[String]) -> usize {
    let csr = names.iter().any(|n| n.ends_with("-csr") || n == "cholesky");
    BENCH_BYTES_PER_CELL + if csr { CSR_BYTES_PER_CELL } else { 0 }
}

/// Checks a bench memory budget of `per_cell` bytes for a grid of `shape` before anything is
/// built.
pub fn check_bench_memory(shape: &[usize], per_cell: usize) -> Result<(), String> {
    ritz::pde::check_cell_memory("a bench problem and its solvers", shape, per_cell)
        .map_err(|e| e.to_string())
}

/// Loads or builds a problem.
pub fn load(spec: &ProblemSpec) -> Result<Problem, String> {
    let t = Instant::now();
    let (name, source, kind) = match spec {
        ProblemSpec::Scene {
            scene,
            dim,
            n,
            seed,
            rhs,
            ..
        } => {
            let sc: Scene = scene.parse().map_err(err("scene"))?;
            let kind: RhsKind = rhs.parse().map_err(err("rhs"))?;
            if !(2..=3).contains(dim) {
                return Err(format!("scene: --dim must be 2 or 3, got {dim}"));
            }
            check_bench_memory(&vec![*n; *dim], BENCH_BYTES_PER_CELL)?;
            let grid = sc.generate(*dim, *n, *seed).map_err(err("scene"))?;
            let problem = PoissonProblem::new(grid).map_err(err("problem"))?;
            let b = kind.generate(&problem, *seed);
            (
                format!("{}-{dim}d-{n}-s{seed}-{}", sc.name(), kind.name()),
                format!(
                    "scene {} {dim}D n={n} seed={seed} rhs={}",
                    sc.name(),
                    kind.name()
                ),
                grid_kind(problem, b),
            )
        }
        ProblemSpec::Flags {
            flags,
            rhs_npy,
            rhs,
            walls,
            seed,
            ..
        } => {
            let walls: WallPreset = walls.parse().map_err(err("walls"))?;
            let grid = MacGrid::read_flags_npy(flags, walls).map_err(|e| e.to_string())?;
            check_bench_memory(&grid.shape(), BENCH_BYTES_PER_CELL)?;
            let npy_shape = grid.npy_shape();
            let problem = PoissonProblem::new(grid).map_err(err("problem"))?;
            let b = match rhs_npy {
                Some(path) => {
                    let ctx = format!("rhs {}", path.display());
                    let r = npy::read_npy(path).map_err(err(&ctx))?;
                    if r.shape != npy_shape {
                        return Err(format!(
                            "rhs: shape {:?} does not match the flag grid {:?}",
                            r.shape, npy_shape
                        ));
                    }
                    let mut b = r.to_f64();
                    problem.prepare_rhs(&mut b).map_err(err(&ctx))?;
                    b
                }
                None => {
                    let kind: RhsKind = rhs.parse().map_err(err("rhs"))?;
                    kind.generate(&problem, *seed)
                }
            };
            let stem = match rhs_npy {
                Some(r) => format!("{}-{}", file_stem(flags), file_stem(r)),
                None => file_stem(flags),
            };
            (
                format!("flags-{stem}"),
                format!("flags {} shape {:?}", flags.display(), npy_shape),
                grid_kind(problem, b),
            )
        }
        ProblemSpec::Mtx {
            mtx: path, rhs_npy, ..
        } => {
            let ctx = format!("matrix {}", path.display());
            let a = mtx::read_matrix_market(path).map_err(err(&ctx))?;
            a.check_symmetric(1e-12).map_err(err(&ctx))?;
            let b = match rhs_npy {
                Some(p) => {
                    let r = npy::read_npy(p).map_err(err(&format!("rhs {}", p.display())))?;
                    let b = r.to_f64();
                    if b.len() != a.nrows() {
                        return Err(format!(
                            "rhs: {} values for a matrix with {} rows",
                            b.len(),
                            a.nrows()
                        ));
                    }
                    b
                }
                None => {
                    // b = A x* with a fixed pseudo-random x* (consistent even if A is singular).
                    let xs = ritz::linalg::vector::pseudo_random(a.ncols());
                    let mut b = vec![0.0; a.nrows()];
                    a.apply(&xs, &mut b);
                    b
                }
            };
            ritz::linalg::error::check_finite("right-hand side", &b).map_err(err("rhs"))?;
            let stem = file_stem(path);
            (
                format!("mtx-{stem}"),
                format!("matrix {}", path.display()),
                ProblemKind::Csr { a, b },
            )
        }
    };
    Ok(Problem {
        name,
        source,
        kind,
        build_s: t.elapsed().as_secs_f64(),
    })
}

fn grid_kind(problem: PoissonProblem, b: Vec<f64>) -> ProblemKind {
    ProblemKind::Grid {
        problem: Box::new(problem),
        b,
        assembled: OnceLock::new(),
    }
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into())
}

/// Writes `A.mtx` (symmetric) and `b.npy` (compact) for any problem, plus `flags.npy` and
/// `b_grid.npy` for grid problems. Returns the paths of A and b.
pub fn write_problem(p: &Problem, out: &Path) -> Result<(PathBuf, PathBuf), String> {
    match &p.kind {
        ProblemKind::Grid { problem, b, .. } => {
            let paths = problem.export(b, out).map_err(err("export"))?;
            Ok((paths.matrix, paths.rhs))
        }
        ProblemKind::Csr { a, b } => {
            std::fs::create_dir_all(out).map_err(err("create output folder"))?;
            let (ap, bp) = (out.join("A.mtx"), out.join("b.npy"));
            mtx::write_matrix_market(&ap, a, mtx::MtxSymmetry::Symmetric)
                .map_err(err("write A"))?;
            npy::write_npy_f64(&bp, &[b.len()], b).map_err(err("write b"))?;
            Ok((ap, bp))
        }
    }
}

/// `cargo xtask export`.
pub fn export(args: &ProblemArgs, out: &Path) -> Result<(), String> {
    let spec =
        ProblemSpec::from_args(args).ok_or("export needs a problem: --scene, --flags or --mtx")?;
    let p = load(&spec)?;
    let (a, b) = write_problem(&p, out)?;
    println!(
        "{}: {} unknowns -> {}, {}",
        p.name,
        p.unknowns(),
        a.display(),
        b.display()
    );
    Ok(())
}

/// `cargo xtask grid`: a held-out geometry ([`ritz::pde::heldout`]) as an npy flag grid.
pub fn write_heldout(
    kind: &str,
    dim: usize,
    n: usize,
    seed: u64,
    out: &Path,
) -> Result<(), String> {
    let h: ritz::pde::heldout::HeldOut = kind.parse().map_err(err("--kind"))?;
    ritz::pde::check_cell_memory("a held-out grid", &vec![n; dim], 2).map_err(err("grid"))?;
    let g = h.generate(dim, n, seed).map_err(err("grid"))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err("create output folder"))?;
    }
    npy::write_npy_i8(out, &g.npy_shape(), &g.codes()).map_err(err("write flags"))?;
    println!(
        "{h} {dim}D n = {n} seed {seed}: {} fluid of {} cells -> {} (bench with --flags {} --walls {})",
        g.fluid_count(),
        g.len(),
        out.display(),
        out.display(),
        h.walls()
    );
    Ok(())
}
