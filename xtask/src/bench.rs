//! `cargo xtask bench`: solvers × problems → table, `bench.json`, convergence plots.

use crate::ProblemArgs;
use crate::peers;
use crate::plot;
use crate::problems::{self, ProblemKind, ProblemSpec};
use crate::solvers::{self, SolveRecord};
use indicatif::{ProgressBar, ProgressStyle};
use ritz::krylov::SolveParams;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The embedded default suite (about a minute on 2 cores).
const DEFAULT_CONFIG: &str = include_str!("../bench-default.json");
/// Solvers run on a problem whose config names none.
const DEFAULT_SOLVERS: &[&str] = &["cg", "ic0", "mic0"];

/// Arguments of `cargo xtask bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub problem: ProblemArgs,
    /// JSON config file (see docs/bench.md); default: the embedded xtask/bench-default.json.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Comma-separated solvers (overrides the config's lists).
    #[arg(long, value_delimiter = ',')]
    pub solvers: Option<Vec<String>>,
    /// Relative tolerance.
    #[arg(long)]
    pub tol: Option<f64>,
    /// Iteration limit.
    #[arg(long)]
    pub max_iters: Option<usize>,
    /// Output folder for bench.json and plots.
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Also run the Python peers (SciPy CG, PyAMG) on the same exported problems (creates .venv).
    #[arg(long)]
    pub peers: bool,
    /// Run every solve this many times and report the median setup and solve times.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Burn backend of the learned solvers' network forwards (dcdm; stencil nets run on the
    /// plain-Rust fast path on the CPU, through burn on cuda).
    #[arg(long, value_enum, default_value_t = crate::backend::BackendKind::Cpu)]
    pub backend: crate::backend::BackendKind,
    /// Folder with the learned solvers' weights `<model>-<dim>d.{json,bin}` (default: the
    /// shipped ones of crates/neural-precond/weights, embedded in the binary).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Suite: `poisson` (linear solvers on Poisson problems, the default), `ot` (optimal
    /// transport: the Sinkhorn-Newton-Sparse paper's random assignment case), `second-order`
    /// (M-FAC at large d, regularized Newton, Hessian spectrum) or `constrained`
    /// (equality-constrained SQP: exact vs sketched vs MINRES KKT solves).
    #[arg(long, default_value = "poisson")]
    pub suite: String,
    /// OT suite: problem size n (n × n costs).
    #[arg(long, default_value_t = 500)]
    pub ot_n: usize,
    /// OT suite: seeds of the random cost matrices, one case each (POT runs on the first).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub ot_seeds: Vec<u64>,
    /// OT suite: inverse regularization η (POT's reg = 1/η).
    #[arg(long, default_value_t = 1200.0)]
    pub eta: f64,
    /// OT suite: target marginal error (SNS runs to it; the Sinkhorns run to what SNS reached).
    #[arg(long, default_value_t = 1e-12)]
    pub ot_tol: f64,
    /// OT suite: wall-clock limit of each Sinkhorn run, seconds.
    #[arg(long, default_value_t = 600.0)]
    pub ot_time_limit: f64,
    /// OT suite with --peers: POT's stop threshold (its criterion ‖Pᵀ1 − b‖₂). 1e-6 by
    /// default; about 1e-13 matches the full-precision run (tens of minutes).
    #[arg(long, default_value_t = 1e-6)]
    pub pot_stop: f64,
    /// Directions kept by the flexible conjugate-direction solvers (fcd-ic0, stencil, dcdm):
    /// each new direction is A-orthogonalized against the last k. Default: 16 for dcdm, 2
    /// (the DCDM paper's value) for the others.
    #[arg(long)]
    pub fcd_k: Option<usize>,
    /// A folder of frames dumped by `cargo xtask simulate --dump`: one problem per selected
    /// frame (its flags and right-hand side), instead of the config's problems.
    #[arg(long)]
    pub frames: Option<PathBuf>,
    /// With --frames: take every k-th frame.
    #[arg(long, default_value_t = 10)]
    pub frame_every: usize,
    /// Second-order suite: M-FAC dimension d.
    #[arg(long, default_value_t = 1_000_000)]
    pub mfac_d: usize,
    /// Second-order suite: M-FAC window m.
    #[arg(long, default_value_t = 512)]
    pub mfac_m: usize,
    /// Second-order suite: gradient-descent iteration cap.
    #[arg(long, default_value_t = 20_000)]
    pub gd_max_iters: usize,
    /// Profile every solve per kernel (operator, Krylov vector work, each V-cycle kernel):
    /// seconds, modelled bytes per cell and passes per iteration, in bench.json and a table.
    #[arg(long)]
    pub profile: bool,
    /// OT suite with --peers: POT's iteration limit.
    #[arg(long, default_value_t = 1_000_000)]
    pub pot_max_iters: usize,
    /// OT suite: a problem folder instead of the random assignments — `C.npy` + `a.npy` +
    /// `b.npy`, or point clouds `X.npy` + `Y.npy` (+ optional weights `a.npy`, `b.npy`); see
    /// `cargo xtask ot-clouds`. Default solvers there: exact, sns, sinkhorn-log.
    #[arg(long)]
    pub ot_input: Option<PathBuf>,
    /// OT suite: ground cost of a point-cloud input (sqeuclidean, euclidean, cityblock,
    /// euclidean^P, minkowski:P).
    #[arg(long, default_value = "sqeuclidean")]
    pub ot_ground: String,
    /// OT suite: scale of the input's costs: none, or max (divide by the largest cost).
    #[arg(long, default_value = "none")]
    pub ot_cost_scale: String,
    /// OT suite: solve a point-cloud --ot-input with costs computed on the fly (no n × m
    /// array; solvers sns and sinkhorn-log; peak memory per solve in the JSON).
    #[arg(long)]
    pub ot_on_the_fly: bool,
    /// Constrained suite: wall-clock limit of each SQP run on the PDE problems, seconds
    /// (sketching runs there get at most 30 s, the small problems' runs at most 5 s).
    #[arg(long, default_value_t = 120.0)]
    pub sqp_time_limit: f64,
    /// Constrained suite: cells per side of the 2D Poisson-control grids (0: none).
    #[arg(long, value_delimiter = ',', default_value = "64,128,256")]
    pub control_2d: Vec<usize>,
    /// Constrained suite: cells per side of the 3D Poisson-control grids (0: none).
    #[arg(long, value_delimiter = ',', default_value = "16,32")]
    pub control_3d: Vec<usize>,
    /// Constrained suite: control cost α of the Poisson-control problems.
    #[arg(long, default_value_t = 1e-4)]
    pub control_alpha: f64,
}

/// A bench configuration file (schema in docs/bench.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Relative tolerance of every solve.
    pub tolerance: f64,
    /// Iteration limit of every solve.
    pub max_iters: usize,
    /// Problems, each with its solvers.
    pub problems: Vec<ProblemSpec>,
}

#[derive(Serialize)]
struct Machine {
    threads: usize,
    triad_bytes_per_s: f64,
}

#[derive(Serialize)]
struct ProblemReport {
    name: String,
    source: String,
    unknowns: usize,
    cells: Option<usize>,
    build_s: f64,
    solves: Vec<SolveRecord>,
    peers: Vec<peers::PeerResult>,
    /// Every error of this problem, as text (failed solves, peers, the problem itself, plots).
    errors: Vec<String>,
    /// The requested solves (and peers) that failed, by name; all of them when the problem
    /// itself could not be built.
    failed: Vec<FailedSolve>,
    plot: Option<String>,
}

/// A requested solve that failed.
#[derive(Serialize)]
struct FailedSolve {
    solver: String,
    error: String,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    machine: Machine,
    tolerance: f64,
    max_iters: usize,
    /// False while the run is in progress (the file is rewritten after every problem) or when
    /// it was interrupted.
    complete: bool,
    /// Number of requested solves (and peers) that failed; the command exits non-zero if any.
    failed_solves: usize,
    problems: Vec<ProblemReport>,
}

impl Report {
    /// Writes the report to `path` by an atomic rename, so that readers never see half a file.
    fn write(&self, path: &std::path::Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The solvers a problem runs: `--solvers`, else the config's list, else the defaults.
fn solver_names(args: &BenchArgs, spec: &ProblemSpec) -> Vec<String> {
    names_for(args.solvers.as_deref(), spec)
}

fn names_for(over: Option<&[String]>, spec: &ProblemSpec) -> Vec<String> {
    match (over, spec.solvers()) {
        (Some(s), _) => s.to_vec(),
        (None, s) if !s.is_empty() => s.to_vec(),
        _ => DEFAULT_SOLVERS.iter().map(|s| s.to_string()).collect(),
    }
}

/// Parses and validates a bench configuration (schema in docs/bench.md) without reading any
/// file it names: tolerances, every problem ([`problems::validate_spec`]) and every solver
/// name. Errors: all the problems found, one per line.
pub fn parse_config(text: &str) -> Result<Config, String> {
    let config: Config = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let params = SolveParams {
        rtol: config.tolerance,
        max_iters: config.max_iters,
        ..Default::default()
    };
    params.validate().map_err(|e| e.to_string())?;
    let mut errors: Vec<String> = config
        .problems
        .iter()
        .filter_map(|p| problems::validate_spec(p).err())
        .collect();
    errors.extend(unknown_solvers(None, &config.problems));
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors.join("\n"))
    }
}

/// Solver specs that do not parse or do not run on their problem's kind.
fn unknown_solvers(over: Option<&[String]>, specs: &[ProblemSpec]) -> Vec<String> {
    let mut errors = Vec::new();
    for spec in specs {
        let matrix = matches!(spec, ProblemSpec::Mtx { .. });
        for name in names_for(over, spec) {
            if let Err(e) = solvers::parse_for(&name, matrix) {
                errors.push(format!("{}: {e}", spec_label(spec)));
            }
        }
    }
    errors
}

/// Checks every problem and requested solver name against the catalogue of its problem's
/// kind, and the backend, before any work. Errors: all the problems found, one per line.
fn validate_plan(args: &BenchArgs, specs: &[ProblemSpec]) -> Result<(), String> {
    let mut errors: Vec<String> = specs
        .iter()
        .filter_map(|p| problems::validate_spec(p).err())
        .collect();
    errors.extend(unknown_solvers(args.solvers.as_deref(), specs));
    for spec in specs {
        // The budget of the solvers asked for (scenes: known before anything is read; flag
        // grids are checked again once read, in `run`).
        if let ProblemSpec::Scene { dim, n, .. } = spec {
            let per_cell = problems::bench_bytes_per_cell(&solver_names(args, spec));
            if let Err(e) = problems::check_bench_memory(&vec![*n; *dim], per_cell) {
                errors.push(e);
            }
        }
        for name in solver_names(args, spec) {
            let learned = name
                .parse::<ritz::SolverSpec>()
                .is_ok_and(|s| s.method.is_learned() && s.method != ritz::Method::Learned);
            if learned
                && args.backend == crate::backend::BackendKind::Cuda
                && !cfg!(feature = "cuda")
            {
                errors.push(crate::backend::no_cuda());
            }
        }
    }
    if args.fcd_k.is_some_and(|k| k > 1 << 20) {
        errors.push(format!(
            "--fcd-k {} is out of range (at most 2^20)",
            args.fcd_k.unwrap_or(0)
        ));
    }
    errors.dedup();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// A name for a problem that could not be built.
fn spec_label(spec: &ProblemSpec) -> String {
    match spec {
        ProblemSpec::Scene {
            scene,
            dim,
            n,
            seed,
            ..
        } => format!("scene {scene} {dim}D n={n} seed={seed}"),
        ProblemSpec::Flags { flags, .. } => format!("flags {}", flags.display()),
        ProblemSpec::Mtx { mtx, .. } => format!("matrix {}", mtx.display()),
    }
}

/// Runs the bench.
pub fn run(args: BenchArgs) -> Result<(), String> {
    match args.suite.as_str() {
        "poisson" => {}
        "ot" => {
            return crate::ot_bench::run(&crate::ot_bench::OtArgs {
                n: args.ot_n,
                eta: args.eta,
                tol: args.ot_tol,
                seeds: args.ot_seeds.clone(),
                solvers: args.solvers.clone().unwrap_or_else(|| {
                    let default = if args.ot_on_the_fly {
                        &["sns", "sinkhorn-log"][..]
                    } else if args.ot_input.is_some() {
                        crate::ot_bench::DEFAULT_INPUT_SOLVERS
                    } else {
                        crate::ot_bench::DEFAULT_SOLVERS
                    };
                    default.iter().map(|s| s.to_string()).collect()
                }),
                time_limit_s: args.ot_time_limit,
                peers: args.peers,
                pot_stop: args.pot_stop,
                pot_max_iters: args.pot_max_iters,
                input: args.ot_input.as_deref(),
                ground: args
                    .ot_ground
                    .parse()
                    .map_err(|e| format!("--ot-ground: {e}"))?,
                scale: args
                    .ot_cost_scale
                    .parse()
                    .map_err(|e| format!("--ot-cost-scale: {e}"))?,
                repeat: args.repeat,
                on_the_fly: args.ot_on_the_fly,
                out: &args.out,
            });
        }
        "second-order" => {
            return crate::second_order_bench::run(&crate::second_order_bench::SoArgs {
                d: args.mfac_d,
                m: args.mfac_m,
                repeat: args.repeat.max(5),
                gd_max_iters: args.gd_max_iters,
                out: &args.out,
            });
        }
        "constrained" => {
            return crate::constrained_bench::run(&crate::constrained_bench::CoArgs {
                time_limit_s: args.sqp_time_limit,
                pde_2d: args.control_2d.iter().copied().filter(|&s| s > 0).collect(),
                pde_3d: args.control_3d.iter().copied().filter(|&s| s > 0).collect(),
                alpha: args.control_alpha,
                repeat: args.repeat,
                out: &args.out,
            });
        }
        other => {
            return Err(format!(
                "unknown suite {other} (poisson, ot, second-order, constrained)"
            ));
        }
    }
    let mut config: Config = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            // Parsed only: the overrides below apply first, then everything is validated.
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => serde_json::from_str(DEFAULT_CONFIG).expect("embedded bench config is valid"),
    };
    if let Some(spec) = ProblemSpec::from_args(&args.problem) {
        config.problems = vec![spec];
    }
    if let Some(dir) = &args.frames {
        config.problems = frame_specs(dir, args.frame_every.max(1))?;
    }
    if let Some(t) = args.tol {
        config.tolerance = t;
    }
    if let Some(m) = args.max_iters {
        config.max_iters = m;
    }
    let params = SolveParams {
        rtol: config.tolerance,
        atol: 0.0,
        max_iters: config.max_iters,
        ..Default::default()
    };
    params.validate().map_err(|e| e.to_string())?;
    validate_plan(&args, &config.problems)?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    // A failing run must not leave the previous run's results looking like its own.
    let path = args.out.join("bench.json");
    std::fs::remove_file(&path).ok();
    let python = if args.peers {
        Some(peers::ensure_venv()?)
    } else {
        None
    };

    let options = ritz::BuildOptions {
        weights: args.weights.clone(),
        backend: args.backend.into(),
        params,
    };
    let threads = rayon::current_num_threads();
    let bw = ritz::linalg::vector::triad_bandwidth(1 << 24, 7);
    println!(
        "machine: {threads} threads, triad bandwidth {:.1} GB/s (one f64 pass over n entries = 8n / bandwidth)",
        bw / 1e9
    );
    println!(
        "tolerance ‖r‖ ≤ {:e}·‖b‖, at most {} iterations\n",
        params.rtol, params.max_iters
    );

    let mut report = Report {
        schema: "ritz-bench/1",
        machine: Machine {
            threads,
            triad_bytes_per_s: bw,
        },
        tolerance: params.rtol,
        max_iters: params.max_iters,
        complete: false,
        failed_solves: 0,
        problems: Vec::new(),
    };
    let mut requested = 0;
    for spec in &config.problems {
        let names = solver_names(&args, spec);
        requested += names.len();
        let problem = match problems::load(spec) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                report.failed_solves += names.len();
                report.problems.push(ProblemReport {
                    name: spec_label(spec),
                    source: spec_label(spec),
                    unknowns: 0,
                    cells: None,
                    build_s: 0.0,
                    solves: Vec::new(),
                    peers: Vec::new(),
                    errors: vec![e.clone()],
                    failed: names
                        .iter()
                        .map(|n| FailedSolve {
                            solver: n.clone(),
                            error: e.clone(),
                        })
                        .collect(),
                    plot: None,
                });
                report.write(&path)?;
                continue;
            }
        };
        println!(
            "== {} — {} unknowns{} (built in {:.2} s)",
            problem.name,
            problem.unknowns(),
            problem
                .cells()
                .map_or(String::new(), |c| format!(", {c} grid cells")),
            problem.build_s
        );
        let mut solves = Vec::new();
        let mut errors = Vec::new();
        let mut failed = Vec::new();
        // The budget of the solvers asked for, now that the grid is known (a flag grid's size
        // is only known once read); over it, none of them runs.
        let mut to_run = names.clone();
        if let ProblemKind::Grid { problem: p, .. } = &problem.kind {
            let per_cell = problems::bench_bytes_per_cell(&names);
            if let Err(e) = problems::check_bench_memory(&p.grid().shape(), per_cell) {
                eprintln!("error: {e}");
                failed.extend(names.iter().map(|n| FailedSolve {
                    solver: n.clone(),
                    error: e.clone(),
                }));
                errors.push(e);
                to_run.clear();
            }
        }
        // Round-robin: repeat r of every solver before repeat r + 1 of any, so that a drift
        // of the machine's speed over the minutes of a run reaches every solver alike (the
        // medians then compare solvers, not moments).
        let mut all_runs: Vec<Vec<SolveRecord>> = vec![Vec::new(); to_run.len()];
        let mut broken = vec![false; to_run.len()];
        for rep in 0..args.repeat.max(1) {
            for (i, name) in to_run.iter().enumerate() {
                if broken[i] {
                    continue;
                }
                let pb = ProgressBar::new(params.max_iters as u64);
                pb.set_style(
                    ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos:>5} it  {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                pb.set_prefix(if args.repeat > 1 {
                    format!("{name} #{}", rep + 1)
                } else {
                    name.clone()
                });
                let mut monitor = |it: usize, rel: f64| {
                    pb.set_position(it as u64);
                    if it.is_multiple_of(8) {
                        pb.set_message(format!("rel. residual {rel:.2e}"));
                    }
                };
                // The bandwidth of this moment: a shared machine's varies by tens of per
                // cent over minutes, so passes are counted against the triad measured next
                // to each solve (best of 5), not only the one at start.
                let bw_now = ritz::linalg::vector::triad_bandwidth(1 << 24, 5);
                let res = solvers::run(
                    &problem,
                    name,
                    &params,
                    &options,
                    args.fcd_k,
                    args.profile.then_some(bw_now),
                    &mut monitor,
                );
                pb.finish_and_clear();
                match res {
                    Ok(mut rec) => {
                        rec.triad_bytes_per_s = bw_now;
                        all_runs[i].push(rec)
                    }
                    Err(e) => {
                        eprintln!("  {e}");
                        failed.push(FailedSolve {
                            solver: name.clone(),
                            error: e.clone(),
                        });
                        errors.push(e);
                        broken[i] = true;
                    }
                }
            }
        }
        for (name, mut runs) in to_run.iter().zip(all_runs) {
            if runs.is_empty() {
                continue;
            }
            let median = |f: &dyn Fn(&SolveRecord) -> f64| {
                let mut v: Vec<f64> = runs.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let setup_s = median(&|r| r.setup_s);
            let solve_s = median(&|r| r.solve_s);
            let bw = median(&|r| r.triad_bytes_per_s);
            let profiles: Vec<_> = runs.iter().filter_map(|r| r.profile.clone()).collect();
            let mut rec = runs.pop().expect("non-empty");
            if !profiles.is_empty() {
                rec.profile = Some(solvers::median_rows(&profiles));
            }
            rec.setup_s = setup_s;
            rec.solve_s = solve_s;
            rec.triad_bytes_per_s = bw;
            rec.repeats = args.repeat.max(1);
            rec.time_per_iteration_s = solve_s / rec.iterations.max(1) as f64;
            // A direct solve has no iterations to compare with a vector pass.
            if rec.solver != "cholesky" {
                let pass = 8.0 * rec.vector_len as f64 / bw;
                rec.passes_per_iteration = rec.time_per_iteration_s / pass;
            }
            if rec.stop == "Diverged" {
                let error = format!(
                    "{name}: diverged (‖r‖ > dtol·‖b‖ after {} iterations)",
                    rec.iterations
                );
                eprintln!("  {error}");
                failed.push(FailedSolve {
                    solver: name.clone(),
                    error: error.clone(),
                });
                errors.push(error);
            }
            solves.push(rec);
        }
        let mut peer_records = Vec::new();
        if let Some(py) = &python {
            let dir = args.out.join("peers").join(&problem.name);
            let (a, b) = problems::write_problem(&problem, &dir)?;
            for (name, script) in peers::PEERS {
                eprintln!("  running peer {name} ...");
                match peers::run_peer(py, script, &a, &b, params.rtol, params.max_iters) {
                    Ok(r) => peer_records.push(r),
                    Err(e) => {
                        eprintln!("  {e}");
                        failed.push(FailedSolve {
                            solver: name.to_string(),
                            error: e.clone(),
                        });
                        errors.push(e);
                    }
                }
            }
        }
        print_table(&solves, &peer_records);
        print_profiles(&solves);
        let plot_path = args.out.join(format!("{}-convergence.png", problem.name));
        let series: Vec<plot::Series> = solves
            .iter()
            .filter(|s| s.solver != "cholesky")
            .map(|s| plot::Series {
                label: format!("{} ({} it)", s.solver, s.iterations),
                values: &s.history,
            })
            .collect();
        // A plot that cannot be drawn is reported but fails no solve.
        let plot = match plot::convergence(&plot_path, &problem.name, &series) {
            Ok(()) => Some(plot_path.display().to_string()),
            Err(e) => {
                eprintln!("  warning: {e}");
                errors.push(e);
                None
            }
        };
        println!();
        report.failed_solves += failed.len();
        report.problems.push(ProblemReport {
            name: problem.name.clone(),
            source: problem.source.clone(),
            unknowns: problem.unknowns(),
            cells: problem.cells(),
            build_s: problem.build_s,
            solves,
            peers: peer_records,
            errors,
            failed,
            plot,
        });
        report.write(&path)?;
    }
    report.complete = true;
    report.write(&path)?;
    println!(
        "wrote {} and convergence plots in {}",
        path.display(),
        args.out.display()
    );
    if report.failed_solves > 0 {
        return Err(format!(
            "{} of {} requested solves failed (recorded in {})",
            report.failed_solves,
            requested
                + if python.is_some() {
                    peers::PEERS.len() * config.problems.len()
                } else {
                    0
                },
            path.display()
        ));
    }
    Ok(())
}

/// The per-kernel tables of profiled solves.
fn print_profiles(solves: &[SolveRecord]) {
    for s in solves {
        let Some(rows) = &s.profile else { continue };
        println!("  profile of {} (per iteration):", s.solver);
        println!(
            "    {:<18} {:>9} {:>10} {:>8}",
            "kernel", "ms", "bytes/cell", "passes"
        );
        for r in rows {
            println!(
                "    {:<18} {:>9.3} {:>10} {:>8.1}",
                r.kernel,
                r.seconds_per_iteration * 1e3,
                r.bytes_per_cell.map_or("-".into(), |b| format!("{b:.1}")),
                r.passes_per_iteration
            );
        }
    }
}

fn print_table(solves: &[SolveRecord], peers: &[peers::PeerResult]) {
    println!(
        "  {:<10} {:>6} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>8}",
        "solver",
        "iters",
        "setup s",
        "solve s",
        "total s",
        "rel.res",
        "true res",
        "ms/iter",
        "passes"
    );
    for s in solves {
        println!(
            "  {:<10} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>10.2e} {:>10.2e} {:>10.3} {:>8}",
            s.solver,
            s.iterations,
            s.setup_s,
            s.solve_s,
            s.setup_s + s.solve_s,
            s.relative_residual,
            s.true_relative_residual,
            s.time_per_iteration_s * 1e3,
            if s.passes_per_iteration.is_finite() {
                format!("{:.1}", s.passes_per_iteration)
            } else {
                "-".into()
            }
        );
    }
    for r in peers {
        println!(
            "  {:<10} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>10} {:>10.2e} {:>10.3} {:>8}",
            r.solver,
            r.iterations,
            r.setup_s,
            r.solve_s,
            r.setup_s + r.solve_s,
            "-",
            r.true_relative_residual,
            r.solve_s / r.iterations.max(1) as f64 * 1e3,
            "-"
        );
    }
    if let (Some(cg), Some(sp)) = (
        solves.iter().find(|s| s.solver == "cg"),
        peers.iter().find(|p| p.solver == "scipy-cg"),
    ) {
        let d = (cg.iterations as f64 - sp.iterations as f64).abs() / sp.iterations.max(1) as f64;
        println!(
            "  oracle: ritz cg {} vs scipy cg {} iterations ({:.2}% apart)",
            cg.iterations,
            sp.iterations,
            100.0 * d
        );
    }
    if let Some(amg) = peers.iter().find(|p| p.solver == "pyamg-sa") {
        let t = amg.setup_s + amg.solve_s;
        for s in solves.iter().filter(|s| s.solver.starts_with("mgpcg")) {
            println!(
                "  {} total {:.3} s = {:.3} × PyAMG's {:.3} s (setup + solve)",
                s.solver,
                s.setup_s + s.solve_s,
                (s.setup_s + s.solve_s) / t,
                t
            );
        }
    }
}

/// One `Flags` problem per selected frame of a `simulate --dump` folder.
fn frame_specs(dir: &std::path::Path, every: usize) -> Result<Vec<ProblemSpec>, String> {
    let dump = crate::simulate::FrameDump::open(dir, every)?;
    Ok(dump
        .frames
        .into_iter()
        .map(|rhs| ProblemSpec::Flags {
            flags: dump.flags.clone(),
            rhs_npy: Some(rhs),
            rhs: "smooth".into(),
            walls: dump.walls.to_string(),
            seed: 0,
            solvers: Vec::new(),
        })
        .collect())
}
