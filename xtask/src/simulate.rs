//! `cargo xtask simulate`: smoke past obstacles with pluggable pressure solvers.
//!
//! The first solver of `--solvers` drives the simulation; every other one solves the same
//! frame's system (same right-hand side, its own warm start) for comparison, so all solvers are
//! measured on identical systems. Preconditioners are built once: obstacles are static, so the
//! matrix is the same every frame. Writes `simulate.json` (per frame and solver: iterations,
//! seconds, residual; divergence before/after, smoke mass), density frames as PNG (2D: the
//! field; 3D: a mid-slice and an absorption-only volume rendering along y), and plots of
//! iterations and solve time per frame. `--dump` writes each frame's flags and right-hand side
//! as npy for `cargo xtask bench --frames` and `cargo xtask train --frames`.

use crate::backend::BackendKind;
use crate::plot::{self, XySeries};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use ritz::linalg::io::npy;
use ritz::pde::rhs::RhsKind;
use ritz::pde::smoke::{FrameReport, PressureSolver, Smoke, SmokeParams, sphere_scene};
use ritz::pde::{CellFlag, MacGrid, Scene};
use ritz::{BuildOptions, Solver, SolverSpec};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A `--dump` folder: its walls (`open-top` or `closed`), flag file, and the right-hand-side
/// files of every `every`-th frame, in frame order.
pub struct FrameDump {
    /// Domain walls as written in `meta.json`.
    pub walls: ritz::pde::WallPreset,
    /// `flags.npy` (int8 cell flags).
    pub flags: PathBuf,
    /// Selected `rhs_NNNN.npy` files.
    pub frames: Vec<PathBuf>,
}

impl FrameDump {
    /// Reads `meta.json` and lists the frames. Errors: unreadable folder or metadata, no frame.
    pub fn open(dir: &Path, every: usize) -> Result<Self, String> {
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", dir.display());
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("meta.json")).map_err(|e| err(&e))?,
        )
        .map_err(|e| err(&e))?;
        let mut frames: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| err(&e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("rhs_") && n.ends_with(".npy"))
            })
            .collect();
        frames.sort();
        let every = every.max(1);
        let frames: Vec<PathBuf> = frames
            .into_iter()
            .enumerate()
            .filter(|(k, _)| (k + 1) % every == 0)
            .map(|(_, p)| p)
            .collect();
        if frames.is_empty() {
            return Err(err(&"no rhs_*.npy frames selected"));
        }
        Ok(Self {
            walls: meta["walls"]
                .as_str()
                .unwrap_or("open-top")
                .parse()
                .map_err(|e| err(&e))?,
            flags: dir.join("flags.npy"),
            frames,
        })
    }
}

/// Arguments of `cargo xtask simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Scene: `sphere` (smoke past one sphere), or a pde scene without air cells (plume,
    /// spheres, organic, closed).
    #[arg(long, default_value = "sphere")]
    pub scene: String,
    /// 2 or 3.
    #[arg(long, default_value_t = 3)]
    pub dim: usize,
    /// Cells per axis.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Scene seed (random scenes).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frames to simulate.
    #[arg(long, default_value_t = 100)]
    pub frames: usize,
    /// Comma-separated pressure solvers; the first drives the simulation.
    #[arg(long, value_delimiter = ',', default_value = "mgpcg")]
    pub solvers: Vec<String>,
    /// Relative tolerance of the pressure solves.
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Iteration limit of the pressure solves.
    #[arg(long, default_value_t = 2000)]
    pub max_iters: usize,
    /// Start each solve from the previous frame's pressure.
    #[arg(long)]
    pub warm_start: bool,
    /// Write a density PNG every this many frames (0: none).
    #[arg(long, default_value_t = 1)]
    pub image_every: usize,
    /// Write each frame's flags and right-hand side as npy under `<out>/frames`.
    #[arg(long)]
    pub dump: bool,
    /// Output folder.
    #[arg(long, default_value = "sim-out")]
    pub out: PathBuf,
    /// Burn backend of learned solvers.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Folder with learned weights (default: the shipped ones, embedded in the binary).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Time step.
    #[arg(long, default_value_t = 1.0)]
    pub dt: f64,
}

/// A catalogue solver built on the simulator's (constant) Poisson problem, with its own
/// warm-start vector when it only compares (does not drive).
struct SimSolver {
    name: String,
    solver: Solver,
    x: Vec<f64>,
}

#[derive(Serialize)]
struct SolveEntry {
    solver: String,
    iterations: usize,
    seconds: f64,
    relative_residual: f64,
}

#[derive(Serialize)]
struct FrameEntry {
    frame: usize,
    divergence_before: f64,
    divergence_after: f64,
    smoke_mass: f64,
    max_velocity: f64,
    advect_s: f64,
    solves: Vec<SolveEntry>,
}

#[derive(Serialize)]
struct SolverSummary {
    solver: String,
    setup_s: f64,
    median_iterations: f64,
    max_iterations: usize,
    median_solve_s: f64,
    total_solve_s: f64,
    /// Solve seconds per frame with the setup amortized over the frames:
    /// `(setup_s + total_solve_s) / frames` (the solver is built once per simulation).
    per_frame_s: f64,
    /// `per_frame_s` over the first (driving) solver's.
    per_frame_vs_first: f64,
    /// Iterations on the synthetic right-hand sides of the training data (smooth and buoyancy
    /// kinds) on the same grid, and the ratio of the frames' median to their mean.
    synthetic_iterations: Vec<(String, usize)>,
    frames_over_synthetic: f64,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    scene: String,
    dim: usize,
    n: usize,
    frames: usize,
    tolerance: f64,
    warm_start: bool,
    params: SmokeParams,
    solvers: Vec<SolverSummary>,
    records: Vec<FrameEntry>,
    plots: Vec<String>,
}

fn grid_for(args: &SimulateArgs) -> Result<MacGrid, String> {
    if args.scene == "sphere" {
        return sphere_scene(args.dim, args.n).map_err(|e| e.to_string());
    }
    let sc: Scene = args
        .scene
        .parse()
        .map_err(|e: ritz::pde::PdeError| e.to_string())?;
    sc.generate(args.dim, args.n, args.seed)
        .map_err(|e| e.to_string())
}

/// Runs `cargo xtask simulate`.
pub fn run(args: SimulateArgs) -> Result<(), String> {
    if args.solvers.is_empty() {
        return Err("--solvers needs at least one solver".into());
    }
    let specs: Vec<SolverSpec> = args
        .solvers
        .iter()
        .map(|s| crate::solvers::parse_for(s, false))
        .collect::<Result<_, _>>()?;
    if !(2..=3).contains(&args.dim) {
        return Err(format!("--dim must be 2 or 3, got {}", args.dim));
    }
    // The simulator's fields, then per solver one reference copy of each frame's system and
    // its preconditioner (the bench's per-cell budget), before anything is allocated.
    let per_cell =
        Smoke::BYTES_PER_CELL + args.solvers.len() * crate::problems::BENCH_BYTES_PER_CELL;
    ritz::pde::check_cell_memory(
        "a smoke simulation and its solvers",
        &vec![args.n; args.dim],
        per_cell,
    )
    .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let grid = grid_for(&args)?;
    let walls = grid.walls();
    let params = SmokeParams {
        dt: args.dt,
        warm_start: args.warm_start,
        ..Default::default()
    };
    let mut sim = Smoke::new(grid, params).map_err(|e| e.to_string())?;
    let options = BuildOptions {
        weights: args.weights.clone(),
        backend: args.backend.into(),
        params: ritz::krylov::SolveParams {
            rtol: args.tol,
            atol: 0.0,
            max_iters: args.max_iters,
            ..Default::default()
        },
    };
    // Build every solver once (static obstacles: the matrix never changes).
    let mut solvers = Vec::new();
    for (name, spec) in args.solvers.iter().zip(&specs) {
        solvers.push(SimSolver {
            name: name.clone(),
            solver: Solver::build_with(spec, sim.problem(), &options).map_err(|e| e.to_string())?,
            x: vec![0.0; sim.problem().num_cells()],
        });
    }
    println!(
        "simulate: {} {}D n = {}, {} frames, solvers {} (first drives), tol {:e}{}",
        args.scene,
        args.dim,
        args.n,
        args.frames,
        args.solvers.join(", "),
        args.tol,
        if args.warm_start { ", warm start" } else { "" }
    );
    let frames_dir = args.out.join("frames");
    if args.dump {
        std::fs::create_dir_all(&frames_dir)
            .map_err(|e| format!("{}: {e}", frames_dir.display()))?;
        let meta = serde_json::json!({
            "dim": args.dim,
            "shape": sim.problem().grid().npy_shape(),
            "walls": walls.name(args.dim).unwrap_or("closed"),
            "scene": args.scene,
        });
        std::fs::write(frames_dir.join("meta.json"), meta.to_string())
            .map_err(|e| e.to_string())?;
        let flags_path = frames_dir.join("flags.npy");
        npy::write_npy_i8(
            &flags_path,
            &sim.problem().grid().npy_shape(),
            &sim.problem().grid().codes(),
        )
        .map_err(|e| e.to_string())?;
    }
    let pb = ProgressBar::new(args.frames as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} frames  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix("simulate");
    let mut records = Vec::new();
    let (first, rest) = solvers.split_first_mut().expect("at least one solver");
    for _ in 0..args.frames {
        let t = Instant::now();
        let rep: FrameReport = sim.step(&mut first.solver).map_err(|e| e.to_string())?;
        let frame_s = t.elapsed().as_secs_f64();
        let mut solves = vec![SolveEntry {
            solver: first.name.clone(),
            iterations: rep.pressure.iterations,
            seconds: rep.pressure.seconds,
            relative_residual: rep.pressure.relative_residual,
        }];
        for s in rest.iter_mut() {
            let b = sim.last_rhs().to_vec();
            let mut x = if args.warm_start {
                s.x.clone()
            } else {
                vec![0.0; b.len()]
            };
            let st = PressureSolver::solve(&mut s.solver, sim.problem(), &b, &mut x)?;
            s.x = x;
            solves.push(SolveEntry {
                solver: s.name.clone(),
                iterations: st.iterations,
                seconds: st.seconds,
                relative_residual: st.relative_residual,
            });
        }
        if args.dump {
            let shape = sim.problem().grid().npy_shape();
            let path = frames_dir.join(format!("rhs_{:04}.npy", rep.frame));
            npy::write_npy_f64(&path, &shape, sim.last_rhs()).map_err(|e| e.to_string())?;
        }
        if args.image_every > 0 && rep.frame.is_multiple_of(args.image_every) {
            let path = args.out.join(format!("frame_{:04}.png", rep.frame));
            render(&sim, &path)?;
        }
        pb.set_message(format!(
            "{} its, div {:.1e} → {:.1e}, mass {:.0}",
            rep.pressure.iterations, rep.divergence_before, rep.divergence_after, rep.smoke_mass
        ));
        pb.inc(1);
        records.push(FrameEntry {
            frame: rep.frame,
            divergence_before: rep.divergence_before,
            divergence_after: rep.divergence_after,
            smoke_mass: rep.smoke_mass,
            max_velocity: rep.max_velocity,
            advect_s: frame_s - rep.pressure.seconds,
            solves,
        });
    }
    pb.finish_and_clear();

    // Summaries, with the synthetic right-hand sides of the training data on the same grid.
    let mut summaries = Vec::new();
    println!(
        "  {:<12} {:>8} {:>10} {:>9} {:>12} {:>11} {:>13} {:>8}  synthetic rhs (its)   frames / synthetic",
        "solver",
        "setup s",
        "median its",
        "max its",
        "median s",
        "total s",
        "s/frame+setup",
        "× first"
    );
    for (k, s) in solvers.iter_mut().enumerate() {
        let mut its: Vec<usize> = records.iter().map(|r| r.solves[k].iterations).collect();
        let mut secs: Vec<f64> = records.iter().map(|r| r.solves[k].seconds).collect();
        its.sort_unstable();
        secs.sort_by(f64::total_cmp);
        let median_its = its.get(its.len() / 2).copied().unwrap_or(0) as f64;
        let mut synthetic = Vec::new();
        for kind in [RhsKind::SmoothDivergence, RhsKind::Buoyancy] {
            let b = kind.generate(sim.problem(), 0);
            let mut x = vec![0.0; b.len()];
            let r = s
                .solver
                .solve(sim.problem(), &b, &mut x)
                .map_err(|e| e.to_string())?;
            synthetic.push((kind.name().to_string(), r.info.iterations));
        }
        let syn_mean = synthetic.iter().map(|x| x.1 as f64).sum::<f64>() / synthetic.len() as f64;
        let total_solve_s: f64 = secs.iter().sum();
        let per_frame_s = (s.solver.setup_s() + total_solve_s) / records.len().max(1) as f64;
        let first: f64 = summaries
            .first()
            .map_or(per_frame_s, |f: &SolverSummary| f.per_frame_s);
        let summary = SolverSummary {
            solver: s.name.clone(),
            setup_s: s.solver.setup_s(),
            median_iterations: median_its,
            max_iterations: its.last().copied().unwrap_or(0),
            median_solve_s: secs.get(secs.len() / 2).copied().unwrap_or(0.0),
            total_solve_s,
            per_frame_s,
            per_frame_vs_first: per_frame_s / first.max(f64::MIN_POSITIVE),
            frames_over_synthetic: median_its / syn_mean.max(1.0),
            synthetic_iterations: synthetic,
        };
        println!(
            "  {:<12} {:>8.3} {:>10.0} {:>9} {:>12.4} {:>11.2} {:>13.4} {:>8.2}  {:<20} {:.2}",
            summary.solver,
            summary.setup_s,
            summary.median_iterations,
            summary.max_iterations,
            summary.median_solve_s,
            summary.total_solve_s,
            summary.per_frame_s,
            summary.per_frame_vs_first,
            summary
                .synthetic_iterations
                .iter()
                .map(|(k, i)| format!("{k} {i}"))
                .collect::<Vec<_>>()
                .join(", "),
            summary.frames_over_synthetic
        );
        summaries.push(summary);
    }
    if let (Some(first), Some(last)) = (records.first(), records.last()) {
        println!(
            "  divergence after projection ≤ {:.1e} × before (worst frame); smoke mass {:.1} → {:.1}",
            records
                .iter()
                .map(|r| r.divergence_after / r.divergence_before.max(f64::MIN_POSITIVE))
                .fold(0.0, f64::max),
            first.smoke_mass,
            last.smoke_mass
        );
    }
    let mut plots = Vec::new();
    for (what, idx) in [("iterations", 0usize), ("solve-seconds", 1)] {
        let series: Vec<XySeries> = solvers
            .iter()
            .enumerate()
            .map(|(k, s)| XySeries {
                label: s.name.clone(),
                points: records
                    .iter()
                    .map(|r| {
                        let e = &r.solves[k];
                        (
                            r.frame as f64,
                            if idx == 0 {
                                e.iterations as f64
                            } else {
                                e.seconds
                            },
                        )
                    })
                    .collect(),
            })
            .collect();
        let path = args.out.join(format!("{what}.png"));
        plot::xy_plot(
            &path,
            &format!(
                "{} {}D n = {}: pressure solve {what} per frame",
                args.scene, args.dim, args.n
            ),
            "frame",
            what,
            &series,
            false,
        )?;
        plots.push(path.display().to_string());
    }
    let report = Report {
        schema: "ritz-simulate/1",
        scene: args.scene.clone(),
        dim: args.dim,
        n: args.n,
        frames: args.frames,
        tolerance: args.tol,
        warm_start: args.warm_start,
        params,
        solvers: summaries,
        records,
        plots,
    };
    let path = args.out.join("simulate.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "  wrote {} and frame images in {}",
        path.display(),
        args.out.display()
    );
    Ok(())
}

/// Fills the `scale × scale` pixel block of image cell `(col, row)`.
fn fill_cell(
    root: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    col: usize,
    row: usize,
    scale: u32,
    color: RGBColor,
) -> Result<(), String> {
    let (x0, y0) = ((col as u32 * scale) as i32, (row as u32 * scale) as i32);
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + scale as i32, y0 + scale as i32)],
        color.filled(),
    ))
    .map_err(|x| x.to_string())
}

/// Smoke colour over the dark background for opacity `a` in [0, 1].
fn shade(a: f64) -> RGBColor {
    let bg = [18.0, 22.0, 38.0];
    let c = |k: usize| (bg[k] + (245.0 - bg[k]) * a.clamp(0.0, 1.0)) as u8;
    RGBColor(c(0), c(1), c(2))
}

const SOLID: RGBColor = RGBColor(150, 120, 90);

/// Writes a density picture: 2D the field; 3D a mid-slice (x–z at y = ny/2) and an
/// absorption-only volume rendering along y, side by side. Vertical axis up.
fn render(sim: &Smoke, path: &Path) -> Result<(), String> {
    let g = sim.problem().grid();
    let [nx, ny, nz] = g.dims();
    let rho = sim.density();
    let flags = g.flags();
    let scale = (512 / nx.max(1)).clamp(1, 8) as u32;
    let e = |x: &dyn std::fmt::Display| format!("image {}: {x}", path.display());
    if g.dim() == 2 {
        let (w, h) = (nx as u32 * scale, ny as u32 * scale);
        let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
        for j in 0..ny {
            for i in 0..nx {
                let c = g.index(i, j, 0);
                let col = if flags[c] == CellFlag::Solid {
                    SOLID
                } else {
                    shade(1.0 - (-2.0 * rho[c]).exp())
                };
                fill_cell(&root, i, ny - 1 - j, scale, col).map_err(|x| e(&x))?;
            }
        }
        root.present().map_err(|x| e(&x))?;
        return Ok(());
    }
    let (w, h) = (2 * nx as u32 * scale + scale, nz as u32 * scale);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let yslice = ny / 2;
    let kappa = 0.35;
    for k in 0..nz {
        for i in 0..nx {
            // Mid-slice.
            let c = g.index(i, yslice, k);
            let col = if flags[c] == CellFlag::Solid {
                SOLID
            } else {
                shade(1.0 - (-2.0 * rho[c]).exp())
            };
            fill_cell(&root, i, nz - 1 - k, scale, col).map_err(|x| e(&x))?;
            // Absorption-only rendering along +y (front to back), solids opaque.
            let mut t = 1.0;
            let mut acc = [0.0f64; 3];
            for j in 0..ny {
                let c = g.index(i, j, k);
                if flags[c] == CellFlag::Solid {
                    let s = [SOLID.0, SOLID.1, SOLID.2];
                    for q in 0..3 {
                        acc[q] += t * s[q] as f64 * (0.6 + 0.4 * (1.0 - j as f64 / ny as f64));
                    }
                    t = 0.0;
                    break;
                }
                let alpha = 1.0 - (-kappa * rho[c]).exp();
                for q in acc.iter_mut() {
                    *q += t * alpha * 245.0;
                }
                t *= 1.0 - alpha;
            }
            let bg = [18.0, 22.0, 38.0];
            let px = RGBColor(
                (acc[0] + t * bg[0]).min(255.0) as u8,
                (acc[1] + t * bg[1]).min(255.0) as u8,
                (acc[2] + t * bg[2]).min(255.0) as u8,
            );
            fill_cell(&root, nx + 1 + i, nz - 1 - k, scale, px).map_err(|x| e(&x))?;
        }
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
