//! `cargo xtask`: ritz's developer and benchmark tasks.
//!
//! * `cargo xtask bench` — runs solvers on problems (embedded default suite, a JSON config, one
//!   built-in scene, a MatrixMarket matrix or an npy flag grid), prints a table, writes
//!   `bench-out/bench.json` and convergence plots. See `docs/bench.md`.
//! * `cargo xtask train` — trains a learned preconditioner (DCDM CNN, stencil V-net, SPD
//!   stencil net): data, resumable training, weights, log and curve. See `docs/neural.md`.
//! * `cargo xtask simulate` — smoke past obstacles with pluggable pressure solvers; frames as
//!   pictures, per-frame solver figures, optional dumps of every frame's system.
//! * `cargo xtask test` — all tests (creates the Python peers' venv first when it can).
//! * `cargo xtask venv` — creates `.venv` with the Python peers (NumPy, SciPy, PyAMG, POT).
//! * `cargo xtask lanczos` — Lanczos timing and accuracy on a problem.
//! * `cargo xtask export` — writes a built-in problem as MatrixMarket + npy files.
//! * `cargo xtask grid` — writes a held-out geometry (porous medium, free-surface liquid) as
//!   an npy flag grid.
//! * `cargo xtask fuzz` — runs the libFuzzer targets of `fuzz/` (parsers and validators).
//! * `cargo xtask mpi-bench` — distributed CG and MGPCG under `mpirun` against the serial
//!   solvers, with per-rank compute / halo / all-reduce timings. See `docs/scale-out.md`.

// The CLI's internals, a library so that the fuzz targets (`fuzz/`) reach the bench
// configuration's validator; the API for users is in the crates.
#![allow(missing_docs)]

mod backend;
pub mod bench;
mod constrained_bench;
mod fuzz;
mod gpu_check;
mod mpi_bench;
mod ot_bench;
mod peers;
mod plot;
pub mod problems;
mod rss;

/// Writes `value` as pretty JSON to `path` and says so (the suites' reports).
pub(crate) fn write_json<T: serde::Serialize>(
    path: &std::path::Path,
    value: &T,
) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
mod second_order_bench;
mod simulate;
mod solvers;
mod spectrum;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "xtask", about = "ritz developer tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Memory limit (e.g. 8G, 512M, bytes): every size that comes from input is checked
    /// against it, and against the memory available (MemAvailable, or the cgroup's limit when
    /// lower), before anything is allocated; a larger request is an error naming both.
    #[arg(long, global = true, value_parser = ritz::linalg::mem::parse_size)]
    mem_limit: Option<u64>,
}

/// Where a single problem comes from (overrides the config's problem list).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProblemArgs {
    /// Built-in scene: plume, spheres, pillars, organic, closed.
    #[arg(long)]
    pub scene: Option<String>,
    /// Grid dimension for --scene (2 or 3).
    #[arg(long, default_value_t = 3)]
    pub dim: usize,
    /// Cells per axis for --scene.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Scene and right-hand-side seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Right-hand side for --scene / --flags: smooth, buoyancy, noise.
    #[arg(long, default_value = "smooth")]
    pub rhs: String,
    /// External matrix (MatrixMarket, coordinate real, symmetric or general SPD).
    #[arg(long)]
    pub mtx: Option<PathBuf>,
    /// External cell-flag grid (npy int8: 0 fluid, 1 solid, 2 air; 2D or 3D, C order).
    #[arg(long)]
    pub flags: Option<PathBuf>,
    /// Right-hand side as npy: a vector for --mtx, a grid (same shape as the flags) for --flags.
    /// Without it, --flags uses the generated --rhs kind.
    #[arg(long)]
    pub rhs_npy: Option<PathBuf>,
    /// Domain walls for --flags: closed or open-top.
    #[arg(long, default_value = "open-top")]
    pub walls: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Benchmark solvers (default: the embedded suite, about half a minute on 2 cores).
    Bench(Box<bench::BenchArgs>),
    /// Train a learned preconditioner (resumable; see docs/neural.md).
    Train(train::TrainArgs),
    /// Smoke simulation with pluggable pressure solvers: per-frame JSON, PNG frames, plots,
    /// optional npy dumps of every frame's system (see docs/simulate.md).
    Simulate(simulate::SimulateArgs),
    /// Run every test: creates the Python peers' venv when possible (the SciPy oracle test and
    /// the Python package's tests are skipped without it), then `cargo test --workspace` with
    /// any extra arguments, then the Python package's pytest suite.
    Test {
        /// Extra arguments for cargo test.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Lanczos with full reorthogonalization on a problem: time, extreme Ritz values, orthogonality.
    Lanczos {
        #[command(flatten)]
        problem: ProblemArgs,
        /// Number of Lanczos steps.
        #[arg(long, default_value_t = 1000)]
        steps: usize,
        /// Output folder for lanczos.json.
        #[arg(long, default_value = "bench-out")]
        out: PathBuf,
    },
    /// Create .venv with the Python peers (NumPy, SciPy, PyAMG, POT) from
    /// xtask/peers/requirements.txt.
    Venv,
    /// Fuzz the parsers and validators (cargo-fuzz on stable, installed when missing):
    /// MatrixMarket, npy, cell flags, weights, bench configuration.
    Fuzz(fuzz::FuzzArgs),
    /// Distributed CG and MGPCG (ritz-dist) under mpirun against the serial solvers, with
    /// per-rank compute / halo / all-reduce timings (docs/scale-out.md; needs Open MPI).
    MpiBench(mpi_bench::MpiBenchArgs),
    /// Write a held-out geometry (porous medium, free-surface liquid) as an npy flag grid
    /// for `bench --flags` / `--walls` (it prints the walls to use).
    Grid {
        /// porous, liquid or maze.
        #[arg(long)]
        kind: String,
        /// 2 or 3.
        #[arg(long, default_value_t = 3)]
        dim: usize,
        /// Cells per axis.
        #[arg(long, default_value_t = 128)]
        n: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output npy file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write two non-uniformly weighted point clouds, clustered or uniform in the unit box
    /// (`X.npy`, `Y.npy`, `a.npy`, `b.npy`), for `bench --suite ot --ot-input`
    /// (`ritz::ot::PointClouds`).
    OtClouds {
        /// clustered (5 and 7 blobs) or uniform (the unit box).
        #[arg(long, default_value = "clustered")]
        kind: String,
        /// Source points.
        #[arg(long, default_value_t = 1000)]
        n: usize,
        /// Target points (default: n).
        #[arg(long)]
        m: Option<usize>,
        /// Dimension.
        #[arg(long, default_value_t = 2)]
        dim: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Everything a GPU machine should measure, in one run of the built binary: device and
    /// libraries, network parity against the CPU, forward/backward times, host vs device
    /// solves, training epochs (`gpu-check.json`; `--backend cpu` is a dry run on burn-flex).
    GpuCheck(gpu_check::GpuCheckArgs),
    /// Write a problem's matrix (MatrixMarket), right-hand side and flags (npy).
    Export {
        #[command(flatten)]
        problem: ProblemArgs,
        /// Output folder.
        #[arg(long, default_value = "export")]
        out: PathBuf,
    },
}

/// Parses the command line and runs the command; exits 1 on error.
pub fn main_cli() {
    let cli = Cli::parse();
    ritz::linalg::mem::set_limit(cli.mem_limit);
    let res = match cli.cmd {
        Cmd::Bench(args) => bench::run(*args),
        Cmd::Train(args) => train::run_train(args),
        Cmd::Simulate(args) => simulate::run(args),
        Cmd::Test { args } => run_tests(&args),
        Cmd::Lanczos {
            problem,
            steps,
            out,
        } => spectrum::run(&problem, steps, &out),
        Cmd::Venv => peers::ensure_venv().map(|p| println!("python peers ready: {}", p.display())),
        Cmd::Export { problem, out } => problems::export(&problem, &out),
        Cmd::Grid {
            kind,
            dim,
            n,
            seed,
            out,
        } => problems::write_heldout(&kind, dim, n, seed, &out),
        Cmd::Fuzz(args) => fuzz::run(&args),
        Cmd::GpuCheck(args) => gpu_check::run(&args),
        Cmd::MpiBench(args) => mpi_bench::run(&args),
        Cmd::OtClouds {
            kind,
            n,
            m,
            dim,
            seed,
            out,
        } => match kind.as_str() {
            "clustered" => ritz::ot::PointClouds::clustered(n, m.unwrap_or(n), dim, seed),
            "uniform" => ritz::ot::PointClouds::uniform(n, m.unwrap_or(n), dim, seed),
            other => Err(ritz::ot::OtError::InvalidParameter(format!(
                "--kind {other} (clustered, uniform)"
            ))),
        }
        .and_then(|c| c.write(&out))
        .map(|()| {
            println!(
                "wrote {n} + {} points in {dim}D to {} (X.npy, Y.npy, a.npy, b.npy)",
                m.unwrap_or(n),
                out.display()
            )
        })
        .map_err(|e| e.to_string()),
    };
    if let Err(e) = res {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// `cargo xtask test`: peers first (best effort), then the workspace tests, then the Python
/// package's pytest suite (built into the venv by `maturin develop`).
fn run_tests(extra: &[String]) -> Result<(), String> {
    let venv = peers::ensure_venv();
    if let Err(e) = &venv {
        eprintln!(
            "warning: Python peers unavailable ({e}); the SciPy oracle test and the Python \
             package's tests will be skipped"
        );
    }
    let mut args = vec!["test".to_string(), "--workspace".to_string()];
    args.extend(extra.iter().cloned());
    run_cargo("cargo test", &args)?;
    match venv {
        Ok(py) => python_tests(&py),
        Err(_) => Ok(()),
    }
}

/// Builds `crates/python` into the venv (`maturin develop`, the dev profile: it reuses the
/// dependencies `cargo test` compiled) and runs its pytest suite with the docstring examples.
fn python_tests(py: &std::path::Path) -> Result<(), String> {
    let root = peers::root();
    let venv = root.join(".venv");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths).map_err(|e| e.to_string())?;
    let run = |what: &str, cmd: &mut std::process::Command| {
        run_status(what, cmd.env("VIRTUAL_ENV", &venv).env("PATH", &path))
    };
    let t = std::time::Instant::now();
    run(
        "maturin develop",
        std::process::Command::new(peers::maturin(py))
            .args(["develop", "--quiet"])
            .current_dir(root.join("crates/python")),
    )?;
    let built = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    run(
        "pytest",
        std::process::Command::new(py)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(root.join("crates/python")),
    )?;
    eprintln!(
        "python package: built in {built:.1} s, pytest in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The cargo running this task (`$CARGO`), else `cargo` from the PATH.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs `cargo ARGS` in the repository root; errors name `what` when it cannot start or fails.
pub(crate) fn run_cargo(what: &str, args: &[String]) -> Result<(), String> {
    run_status(
        what,
        std::process::Command::new(cargo())
            .current_dir(peers::root())
            .args(args),
    )
}

/// Runs `cmd` to completion; errors name `what` when it cannot start or fails.
pub(crate) fn run_status(what: &str, cmd: &mut std::process::Command) -> Result<(), String> {
    let st = cmd
        .status()
        .map_err(|e| format!("{what} failed to start: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({st})"))
    }
}
