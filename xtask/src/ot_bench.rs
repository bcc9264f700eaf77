//! `cargo xtask bench --suite ot`: by default the Sinkhorn-Newton-Sparse paper's random
//! assignment case (n = 500, η = 1200) — SNS against our Sinkhorn variants to the same
//! marginal error, the exact solver for reference; with `--ot-input DIR` a problem of the
//! user's own from files (`C.npy` + `a.npy` + `b.npy`, or point clouds `X.npy` + `Y.npy`
//! with optional weights; `ritz::ot::io`). With `--peers`, POT on the same input:
//! `sinkhorn_log`, and `ot.emd` (exact, with its result code checked) when the exact solver
//! runs. Writes a table, `ot.json` and `ot-convergence-*.png` (marginal error against time).

use crate::peers;
use crate::plot;
use ritz::ot::{
    Certificate, CostScale, EpsilonScaling, GroundCost, OtError, OtProblem, OtSolution,
    SinkhornParams, SnsParams, certificate, emd, sinkhorn, sinkhorn_epsilon_scaling, sinkhorn_log,
    sinkhorn_newton_sparse, sinkhorn_stabilized,
};
use serde::Serialize;
use std::path::Path;

/// Solvers run when `--solvers` names none.
pub const DEFAULT_SOLVERS: &[&str] = &[
    "sns",
    "sinkhorn-log",
    "sinkhorn-stabilized",
    "sinkhorn",
    "exact",
];

/// Solvers run on a file input when `--solvers` names none.
pub const DEFAULT_INPUT_SOLVERS: &[&str] = &["exact", "sns", "sinkhorn-log"];

/// Options of the OT suite (parsed by `bench`).
pub struct OtArgs<'a> {
    /// Problem size `n` (costs `n × n`).
    pub n: usize,
    /// Inverse regularization.
    pub eta: f64,
    /// Target marginal error for SNS; the Sinkhorns run to what SNS reached (or this).
    pub tol: f64,
    /// Random seeds of the cost matrices: one case per seed.
    pub seeds: Vec<u64>,
    /// Solvers to run.
    pub solvers: Vec<String>,
    /// Wall-clock limit per Sinkhorn run.
    pub time_limit_s: f64,
    /// Run POT's sinkhorn_log (on the first seed's case).
    pub peers: bool,
    /// POT's stop threshold (its criterion: ‖Pᵀ1 − b‖₂).
    pub pot_stop: f64,
    /// POT's iteration limit.
    pub pot_max_iters: usize,
    /// A problem folder (`ritz::ot::io::read_problem`) instead of the random assignments.
    pub input: Option<&'a Path>,
    /// Ground cost of a point-cloud input.
    pub ground: GroundCost,
    /// Cost scaling of the input.
    pub scale: CostScale,
    /// Runs of the exact solvers (ours and POT's `emd`); their median time is reported.
    pub repeat: usize,
    /// Point-cloud input solved with costs computed on the fly (no `n × m` array).
    pub on_the_fly: bool,
    /// Output folder.
    pub out: &'a Path,
}

#[derive(Serialize)]
struct Record {
    solver: String,
    iterations: usize,
    seconds: f64,
    seconds_per_iteration: f64,
    marginal_error: f64,
    transport_cost: f64,
    entropic_cost: f64,
    duality_gap: f64,
    stop: String,
    sns: Option<ritz::ot::SnsStats>,
    /// The exact solver's optimality certificate (dual feasibility, complementary slackness,
    /// gap), checked independently of the solver.
    certificate: Option<Certificate>,
    /// Every run's seconds when the solver ran `--repeat` times (`seconds` is their median).
    all_seconds: Vec<f64>,
    /// Threads the solver used.
    threads: usize,
    /// Peak resident memory of the process during this solve (Linux `VmHWM`, reset before
    /// it), bytes.
    peak_rss_bytes: Option<u64>,
    /// (iteration, marginal error, seconds), thinned to at most 400 points.
    history: Vec<(usize, f64, f64)>,
    /// Every (iteration, marginal error, seconds), for time-to-error comparisons.
    #[serde(skip)]
    full: Vec<(usize, f64, f64)>,
}

impl Record {
    fn new(solver: &str, s: &OtSolution) -> Self {
        let step = s.history.len().div_ceil(400).max(1);
        let mut history: Vec<(usize, f64, f64)> = s
            .history
            .iter()
            .step_by(step)
            .map(|h| (h.iteration, h.marginal_error, h.elapsed_s))
            .collect();
        if let Some(h) = s.history.last()
            && history.last().map(|x| x.0) != Some(h.iteration)
        {
            history.push((h.iteration, h.marginal_error, h.elapsed_s));
        }
        Self {
            solver: solver.into(),
            iterations: s.iterations,
            seconds: s.elapsed_s,
            seconds_per_iteration: s.elapsed_s / s.iterations.max(1) as f64,
            marginal_error: s.marginal_error(),
            transport_cost: s.transport_cost,
            entropic_cost: s.entropic_cost,
            duality_gap: s.duality_gap(),
            stop: format!("{:?}", s.stop),
            sns: s.sns.clone(),
            certificate: None,
            all_seconds: vec![s.elapsed_s],
            threads: if solver == "exact" {
                1
            } else {
                rayon::current_num_threads()
            },
            peak_rss_bytes: None,
            history,
            full: s
                .history
                .iter()
                .map(|h| (h.iteration, h.marginal_error, h.elapsed_s))
                .collect(),
        }
    }
}

/// POT's result (see xtask/peers/pot_sinkhorn.py).
#[derive(Serialize, serde::Deserialize, Clone)]
struct PotRecord {
    solver: String,
    version: String,
    iterations: usize,
    seconds: f64,
    seconds_per_iteration: f64,
    marginal_error_l1: f64,
    transport_cost: f64,
    error_history: Vec<f64>,
    error_every: usize,
    /// Our sinkhorn-log's time to the same L1 marginal error, from its history (same run).
    #[serde(default)]
    ritz_log_seconds_to_same_error: Option<f64>,
    /// Our sinkhorn-log's iterations to the same L1 marginal error (the iterations are the same
    /// mathematics, so this matches POT's count up to its check interval).
    #[serde(default)]
    ritz_log_iterations_to_same_error: Option<usize>,
}

/// POT's `ot.emd` (see xtask/peers/pot_emd.py).
#[derive(Serialize, serde::Deserialize, Clone)]
struct PotEmdRecord {
    solver: String,
    version: String,
    threads: usize,
    num_iter_max: u64,
    seconds: f64,
    all_seconds: Vec<f64>,
    transport_cost: f64,
    /// 1 = optimal; anything else is a failed peer run.
    result_code: i64,
    warning: Option<String>,
    nnz: usize,
    marginal_error_l1: f64,
    /// Our exact solver's median time / POT's (same run, same input).
    #[serde(default)]
    time_ratio_ritz_over_pot: Option<f64>,
    /// |our optimal cost − POT's| / |POT's|.
    #[serde(default)]
    cost_relative_difference: Option<f64>,
}

#[derive(Serialize)]
struct Case {
    /// `seed N` for a random assignment, the folder for a file input.
    label: String,
    /// `random-assignment`, `cost-matrix` or `point-clouds`.
    kind: String,
    n: usize,
    m: usize,
    seed: u64,
    target_error: f64,
    solvers: Vec<Record>,
    errors: Vec<String>,
    /// Sinkhorn variant → its time / SNS's time, when it reached the target error.
    speedup_of_sns: Vec<(String, f64)>,
    pot: Option<PotRecord>,
    pot_emd: Option<PotEmdRecord>,
    /// POT's `sinkhorn_log` on the dense costs of an on-the-fly case.
    pot_clouds: Option<PotCloudsRecord>,
    plot: Option<String>,
}

/// POT's `sinkhorn_log` on a point-cloud folder (see xtask/peers/pot_sinkhorn_clouds.py).
#[derive(Serialize, serde::Deserialize, Clone)]
struct PotCloudsRecord {
    solver: String,
    version: String,
    n: usize,
    m: usize,
    iterations: usize,
    /// Seconds to build the dense cost matrix (not in `seconds`).
    cost_seconds: f64,
    seconds: f64,
    seconds_per_iteration: f64,
    marginal_error_l1: f64,
    transport_cost: f64,
    peak_rss_bytes: u64,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    threads: usize,
    problem: String,
    n: usize,
    eta: f64,
    tol: f64,
    cases: Vec<Case>,
    /// Per Sinkhorn variant: the median over the cases of its time / SNS's time.
    median_speedup_of_sns: Vec<(String, f64)>,
}

/// Runs the OT suite: one case per seed, then the median speedups.
pub fn run(args: &OtArgs) -> Result<(), String> {
    // Parameters and names first, before any work or output.
    if args.seeds.is_empty() {
        return Err("--ot-seeds needs at least one seed".into());
    }
    if !(args.eta > 0.0 && args.eta.is_finite()) {
        return Err(format!(
            "--eta must be positive and finite, got {}",
            args.eta
        ));
    }
    if !(args.tol > 0.0 && args.tol.is_finite()) {
        return Err(format!(
            "--ot-tol must be positive and finite, got {}",
            args.tol
        ));
    }
    if args.n == 0 {
        return Err("--ot-n must be at least 1".into());
    }
    const KNOWN: &[&str] = &[
        "sns",
        "sinkhorn-log",
        "sinkhorn-stabilized",
        "sinkhorn",
        "eps-scaling",
        "exact",
    ];
    if let Some(bad) = args.solvers.iter().find(|s| !KNOWN.contains(&s.as_str())) {
        return Err(format!("unknown OT solver {bad} ({})", KNOWN.join(", ")));
    }
    if args.repeat == 0 {
        return Err("--repeat must be at least 1".into());
    }
    if args.on_the_fly {
        return run_on_the_fly(args);
    }
    // A file input is read (and validated) before anything runs.
    let input = match args.input {
        Some(dir) => Some(
            ritz::ot::read_problem(dir, args.ground, args.scale)
                .map_err(|e| format!("--ot-input: {e}"))?,
        ),
        None => None,
    };
    let (n, m) = input
        .as_ref()
        .map_or((args.n, args.n), |i| (i.problem().n(), i.problem().m()));
    // The cost matrix, a kernel and its transpose, and a plan per solve.
    ritz::ot::problem::check_dense("the OT suite's dense matrices", n, m, 4)
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let threads = rayon::current_num_threads();
    match (&input, args.input) {
        (Some(i), Some(dir)) => println!(
            "OT suite: {} input {} (n = {n}, m = {m}{}), cost scale {}, η = {}, {threads} threads",
            i.kind(),
            dir.display(),
            match i {
                ritz::ot::OtInput::PointClouds(c, _) =>
                    format!(", dim {}, ground cost {}", c.dim, args.ground),
                ritz::ot::OtInput::CostMatrix(_) => String::new(),
            },
            args.scale,
            args.eta
        ),
        _ => println!(
            "OT suite: random assignment n = {}, costs U[0,1), uniform marginals, η = {}, seeds {:?}, {threads} threads",
            args.n, args.eta, args.seeds
        ),
    }
    println!("marginal error = ‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁");
    // Warm-up (thread pool start, allocator): a small untimed solve.
    if let Ok(w) = OtProblem::random_assignment(64, 12345) {
        let _ = sinkhorn_newton_sparse(
            &w,
            &SnsParams {
                eta: 100.0,
                ..Default::default()
            },
            &mut (),
        );
    }
    let mut cases = Vec::new();
    match (&input, args.input) {
        (Some(i), Some(dir)) => {
            let label = dir.display().to_string();
            cases.push(run_case(
                args,
                &label,
                i.kind(),
                0,
                i.problem(),
                args.peers,
            )?);
        }
        _ => {
            for (k, &seed) in args.seeds.iter().enumerate() {
                let p = OtProblem::random_assignment(args.n, seed).map_err(|e| e.to_string())?;
                let label = format!("seed {seed}");
                cases.push(run_case(
                    args,
                    &label,
                    "random-assignment",
                    seed,
                    &p,
                    args.peers && k == 0,
                )?);
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for c in &cases {
        for (name, _) in &c.speedup_of_sns {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let mut median = Vec::new();
    if cases.len() > 1 {
        println!(
            "
median over {} seeds:",
            cases.len()
        );
    }
    for name in names {
        let mut r: Vec<f64> = cases
            .iter()
            .filter_map(|c| c.speedup_of_sns.iter().find(|x| x.0 == name).map(|x| x.1))
            .collect();
        r.sort_by(f64::total_cmp);
        let m = r[r.len() / 2];
        if cases.len() > 1 {
            println!(
                "  SNS is {m:.0}× faster than {name} (per seed: {})",
                r.iter()
                    .map(|x| format!("{x:.0}×"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        median.push((name, m));
    }
    let report = Report {
        schema: "ritz-bench-ot/2",
        threads,
        problem: match &input {
            Some(i) => i.kind().into(),
            None => "random-assignment".into(),
        },
        n,
        eta: args.eta,
        tol: args.tol,
        cases,
        median_speedup_of_sns: median,
    };
    write_report(&report, args.out)
}

/// Writes `ot.json`; errors (the command exits non-zero) when any solve of the report failed.
fn write_report(report: &Report, out: &Path) -> Result<(), String> {
    let path = out.join("ot.json");
    crate::write_json(&path, report)?;
    let failed: usize = report.cases.iter().map(|c| c.errors.len()).sum();
    if failed > 0 {
        return Err(format!(
            "{failed} OT solves failed (recorded in {})",
            path.display()
        ));
    }
    Ok(())
}

/// One seed's case: every solver, the POT peer if asked, the table, the plot.
fn run_case(
    args: &OtArgs,
    label: &str,
    kind: &str,
    seed: u64,
    p: &OtProblem,
    peers: bool,
) -> Result<Case, String> {
    println!("\n== {label}");
    let mut records = Vec::new();
    let mut exact_times: Vec<f64> = Vec::new();
    let mut errors = Vec::new();
    let mut target = args.tol;
    let sns_first = args.solvers.iter().any(|s| s == "sns");
    let mut order: Vec<&String> = args.solvers.iter().filter(|s| *s == "sns").collect();
    order.extend(args.solvers.iter().filter(|s| *s != "sns"));
    for name in order {
        eprintln!("  running {name} ...");
        let sp = SinkhornParams {
            eta: args.eta,
            tol: target,
            max_iters: 10_000_000,
            time_limit_s: Some(args.time_limit_s),
        };
        let res: Result<OtSolution, OtError> = match name.as_str() {
            "sns" => sinkhorn_newton_sparse(
                p,
                &SnsParams {
                    eta: args.eta,
                    tol: args.tol,
                    ..Default::default()
                },
                &mut (),
            ),
            "sinkhorn-log" => sinkhorn_log(p, &sp, &mut ()),
            "sinkhorn-stabilized" => sinkhorn_stabilized(p, &sp, &mut ()),
            "sinkhorn" => sinkhorn(p, &sp, &mut ()),
            "eps-scaling" => sinkhorn_epsilon_scaling(p, &sp, &EpsilonScaling::default(), &mut ()),
            "exact" => {
                // Median of --repeat runs; the last run's solution is reported.
                let mut times = Vec::new();
                let mut last = emd(p);
                if let Ok(s) = &last {
                    times.push(s.elapsed_s);
                }
                for _ in 1..args.repeat {
                    last = emd(p);
                    if let Ok(s) = &last {
                        times.push(s.elapsed_s);
                    }
                }
                exact_times = times;
                last
            }
            other => {
                let e = format!(
                    "unknown OT solver {other} (sns, sinkhorn-log, sinkhorn-stabilized, sinkhorn, eps-scaling, exact)"
                );
                errors.push(e.clone());
                eprintln!("  {e}");
                continue;
            }
        };
        match res {
            Ok(s) => {
                if name == "sns" && sns_first {
                    // The Sinkhorns run to the error SNS reached (or the requested one).
                    target = s.marginal_error().max(args.tol);
                }
                let mut r = Record::new(name, &s);
                if name == "exact" {
                    r.certificate = Some(certificate(p, &s));
                    r.seconds = median(&exact_times);
                    r.seconds_per_iteration = r.seconds / s.iterations.max(1) as f64;
                    r.all_seconds = exact_times.clone();
                }
                records.push(r);
            }
            Err(e) => {
                let e = format!("{name}: {e}");
                eprintln!("  {e}");
                errors.push(e);
            }
        }
    }
    // The problem goes to the Python peers once, whichever of them run.
    let wants = |name: &str| peers && args.solvers.iter().any(|s| s == name);
    let exported = if wants("exact") || wants("sinkhorn-log") {
        recorded(export(p, args), &mut errors)
    } else {
        None
    };
    let pot_emd = match &exported {
        Some(files) if wants("exact") => recorded(run_pot_emd(files, args, &records), &mut errors),
        _ => None,
    };
    let pot = match &exported {
        Some(files) if wants("sinkhorn-log") => {
            recorded(run_pot(files, args, &records), &mut errors)
        }
        _ => None,
    };

    println!(
        "  {:<20} {:>8} {:>10} {:>10} {:>11} {:>12} {:>11} {:<14}",
        "solver", "iters", "seconds", "ms/iter", "marg. err", "⟨C,P⟩", "gap", "stop"
    );
    for r in &records {
        println!(
            "  {:<20} {:>8} {:>10.3} {:>10.4} {:>11.2e} {:>12.8} {:>11.1e} {:<14}",
            r.solver,
            r.iterations,
            r.seconds,
            r.seconds_per_iteration * 1e3,
            r.marginal_error,
            r.transport_cost,
            r.duality_gap,
            r.stop
        );
    }
    if let Some(q) = &pot {
        println!(
            "  {:<20} {:>8} {:>10.3} {:>10.4} {:>11.2e} {:>12.8} {:>11} {:<14}",
            format!("{} {}", q.solver, q.version),
            q.iterations,
            q.seconds,
            q.seconds_per_iteration * 1e3,
            q.marginal_error_l1,
            q.transport_cost,
            "-",
            format!("stopThr {:.0e}", args.pot_stop)
        );
    }
    if let Some(q) = &pot_emd {
        println!(
            "  {:<20} {:>8} {:>10.3} {:>10} {:>11.2e} {:>12.8} {:>11} {:<14}",
            format!("{} {}", q.solver, q.version),
            "-",
            q.seconds,
            "-",
            q.marginal_error_l1,
            q.transport_cost,
            "-",
            format!("result code {}", q.result_code)
        );
    }
    if let Some(e) = records.iter().find(|r| r.solver == "exact") {
        if let Some(c) = &e.certificate {
            println!(
                "\n  exact: {} pivots, median {:.3} s of {} run(s), 1 thread; certificate: dual infeasibility {:.1e}, complementary slackness {:.1e}, gap {:.1e} (cost scale {:.3e})",
                e.iterations,
                e.seconds,
                e.all_seconds.len(),
                c.dual_infeasibility,
                c.complementary_slackness,
                c.duality_gap,
                c.cost_scale
            );
        }
        if let Some(q) = &pot_emd {
            println!(
                "  exact vs POT ot.emd (numItermax {:e}, result code {}, 1 thread each): {:.3} s vs {:.3} s = {:.2}×; optimal costs differ by {:.1e} (relative)",
                q.num_iter_max as f64,
                q.result_code,
                e.seconds,
                q.seconds,
                q.time_ratio_ritz_over_pot.unwrap_or(f64::NAN),
                q.cost_relative_difference.unwrap_or(f64::NAN)
            );
        }
    }
    if let Some(sns) = records.iter().find(|r| r.solver == "sns") {
        let s = sns.sns.clone().unwrap_or_default();
        println!(
            "\n  SNS: {} iterations = {} Sinkhorn + {} Newton ({} CG iterations, {} line-search plans)",
            sns.iterations,
            s.sinkhorn_iterations,
            s.newton_iterations,
            s.cg_iterations,
            s.line_search_trials
        );
    }
    let mut speedups = Vec::new();
    if let Some(sns) = records.iter().find(|r| r.solver == "sns") {
        for r in records
            .iter()
            .filter(|r| r.solver.starts_with("sinkhorn") || r.solver == "eps-scaling")
        {
            // Converged = the solver's own stop test met the target on its tracked error (the
            // error recomputed from the final plan can differ in the last digits).
            if r.stop == "Converged" {
                let ratio = r.seconds / sns.seconds;
                println!(
                    "  {} to marginal error {:.1e}: {:.3} s = {:.0} × SNS's {:.3} s",
                    r.solver, target, r.seconds, ratio, sns.seconds
                );
                speedups.push((r.solver.clone(), ratio));
            } else {
                println!(
                    "  {} did not reach {:.1e} (best {:.2e}, {})",
                    r.solver, target, r.marginal_error, r.stop
                );
            }
        }
    }
    if let (Some(q), Some(ours)) = (&pot, records.iter().find(|r| r.solver == "sinkhorn-log")) {
        println!(
            "  per iteration: ritz sinkhorn-log {:.3} ms vs POT sinkhorn_log {:.3} ms ({:.1}× faster)",
            ours.seconds_per_iteration * 1e3,
            q.seconds_per_iteration * 1e3,
            q.seconds_per_iteration / ours.seconds_per_iteration
        );
        if let Some(t) = q.ritz_log_seconds_to_same_error {
            println!(
                "  to POT's final marginal error {:.2e}: ritz sinkhorn-log {:.3} s vs POT {:.3} s ({:.1}× faster)",
                q.marginal_error_l1,
                t,
                q.seconds,
                q.seconds / t
            );
        }
    }

    let file = if kind == "random-assignment" {
        format!("seed{seed}")
    } else {
        "input".to_string()
    };
    let plot_path = args.out.join(format!("ot-convergence-{file}.png"));
    let mut series: Vec<plot::XySeries> = records
        .iter()
        .filter(|r| r.solver != "exact")
        .map(|r| plot::XySeries {
            label: format!("{} ({} it)", r.solver, r.iterations),
            points: r.history.iter().map(|h| (h.2, h.1)).collect(),
        })
        .collect();
    if let Some(q) = &pot {
        series.push(plot::XySeries {
            label: format!(
                "POT sinkhorn_log ({} it; its ‖Pᵀ1−b‖₂, time = it × s/it)",
                q.iterations
            ),
            points: q
                .error_history
                .iter()
                .enumerate()
                .map(|(k, &e)| ((k * q.error_every + 1) as f64 * q.seconds_per_iteration, e))
                .collect(),
        });
    }
    let title = format!(
        "{kind} n = {}, m = {}, η = {}, {label}",
        p.n(),
        p.m(),
        args.eta
    );
    // Only the entropic solvers have a convergence history worth drawing.
    let plot = if series.is_empty() {
        Ok(None)
    } else {
        plot::error_vs_time(&plot_path, &title, &series).map(|()| Some(()))
    };
    let plot = match plot {
        Ok(None) => None,
        Ok(Some(())) => {
            println!("  plot: {}", plot_path.display());
            Some(plot_path.display().to_string())
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    Ok(Case {
        label: label.into(),
        kind: kind.into(),
        n: p.n(),
        m: p.m(),
        seed,
        target_error: target,
        solvers: records,
        errors,
        speedup_of_sns: speedups,
        pot,
        pot_emd,
        pot_clouds: None,
        plot,
    })
}

/// `Some(value)`, or `None` with the error printed and recorded.
fn recorded<T>(res: Result<T, String>, errors: &mut Vec<String>) -> Option<T> {
    match res {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("  {e}");
            errors.push(e);
            None
        }
    }
}

/// The median of a non-empty list (NaN for an empty one).
fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Writes the problem as `cost.npy`, `a.npy`, `b.npy` for the Python peers (once per run).
fn export(p: &OtProblem, args: &OtArgs) -> Result<[std::path::PathBuf; 3], String> {
    use ritz::linalg::io::npy::write_npy_f64;
    let dir = args.out.join("peers").join("ot");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (c, a, b) = (dir.join("cost.npy"), dir.join("a.npy"), dir.join("b.npy"));
    let werr = |e: ritz::linalg::IoError| format!("writing the OT problem: {e}");
    write_npy_f64(&c, &[p.n(), p.m()], p.cost()).map_err(werr)?;
    write_npy_f64(&a, &[p.n()], p.source()).map_err(werr)?;
    write_npy_f64(&b, &[p.m()], p.target()).map_err(werr)?;
    Ok([c, a, b])
}

/// POT's iteration limit for `ot.emd`: at least 1e8 (its default of 1e5 stops early with a
/// non-optimal plan and only a warning).
const POT_EMD_MAX_ITERS: u64 = 1_000_000_000;

/// Runs POT's `ot.emd` on the exported problem and compares it with our exact solve.
fn run_pot_emd(
    [c, a, b]: &[std::path::PathBuf; 3],
    args: &OtArgs,
    records: &[Record],
) -> Result<PotEmdRecord, String> {
    let py = peers::ensure_venv()?;
    eprintln!(
        "  running POT ot.emd (numItermax {POT_EMD_MAX_ITERS:e}, {} run(s)) ...",
        args.repeat
    );
    let mut r: PotEmdRecord = peers::run_script(
        &py,
        "pot_emd.py",
        &[
            c.as_os_str().into(),
            a.as_os_str().into(),
            b.as_os_str().into(),
            POT_EMD_MAX_ITERS.to_string().into(),
            args.repeat.to_string().into(),
        ],
    )?;
    if let Some(ours) = records.iter().find(|x| x.solver == "exact") {
        r.time_ratio_ritz_over_pot = Some(ours.seconds / r.seconds);
        r.cost_relative_difference = Some(
            (ours.transport_cost - r.transport_cost).abs() / r.transport_cost.abs().max(1e-300),
        );
    }
    if r.result_code != 1 {
        return Err(format!(
            "POT ot.emd did not reach an optimal plan (result code {}, {})",
            r.result_code,
            r.warning.as_deref().unwrap_or("no warning")
        ));
    }
    Ok(r)
}

/// Runs POT's `sinkhorn_log` on the exported problem.
fn run_pot(
    [c, a, b]: &[std::path::PathBuf; 3],
    args: &OtArgs,
    records: &[Record],
) -> Result<PotRecord, String> {
    let py = peers::ensure_venv()?;
    eprintln!(
        "  running POT sinkhorn_log (stopThr {:e}, ≤ {} iterations) ...",
        args.pot_stop, args.pot_max_iters
    );
    let mut r: PotRecord = peers::run_script(
        &py,
        "pot_sinkhorn.py",
        &[
            c.as_os_str().into(),
            a.as_os_str().into(),
            b.as_os_str().into(),
            format!("{:e}", 1.0 / args.eta).into(),
            format!("{:e}", args.pot_stop).into(),
            args.pot_max_iters.to_string().into(),
        ],
    )?;
    // Our log-domain Sinkhorn's time to POT's final error, from its per-iteration history.
    if let Some(ours) = records.iter().find(|x| x.solver == "sinkhorn-log") {
        let hit = ours.full.iter().find(|h| h.1 <= r.marginal_error_l1);
        r.ritz_log_seconds_to_same_error = hit.map(|h| h.2);
        r.ritz_log_iterations_to_same_error = hit.map(|h| h.0);
    }
    Ok(r)
}

/// Solvers that run with costs computed on the fly.
const ON_THE_FLY: &[&str] = &["sns", "sinkhorn-log"];

/// `--ot-on-the-fly`: a point-cloud folder solved by SNS and log-domain Sinkhorn with costs
/// computed on the fly; peak memory per solve. POT needs the dense costs, so it runs in a
/// separate, dense run at a size it can hold.
fn run_on_the_fly(args: &OtArgs) -> Result<(), String> {
    let Some(dir) = args.input else {
        return Err("--ot-on-the-fly needs --ot-input with a point-cloud folder".into());
    };
    if let Some(bad) = args
        .solvers
        .iter()
        .find(|s| !ON_THE_FLY.contains(&s.as_str()))
    {
        return Err(format!(
            "{bad} does not run on the fly (--ot-on-the-fly runs {})",
            ON_THE_FLY.join(", ")
        ));
    }
    let pot_metric = match args.ground.to_string().as_str() {
        m @ ("sqeuclidean" | "euclidean" | "cityblock") => m.to_string(),
        other => {
            if args.peers {
                return Err(format!(
                    "--peers on the fly: POT's ot.dist has no ground cost {other} here (sqeuclidean, euclidean, cityblock)"
                ));
            }
            String::new()
        }
    };
    let clouds = ritz::ot::read_clouds(dir).map_err(|e| format!("--ot-input: {e}"))?;
    let costs = ritz::ot::CloudCosts::new(clouds, args.ground, args.scale)
        .map_err(|e| format!("--ot-input: {e}"))?;
    use ritz::ot::Costs;
    let (n, m, dim) = (costs.n(), costs.m(), costs.clouds().dim);
    std::fs::create_dir_all(args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let threads = rayon::current_num_threads();
    println!(
        "OT suite on the fly: point clouds {} (n = {n}, m = {m}, dim {dim}), ground cost {}, cost scale {}, η = {}, {threads} threads; no n × m array ({:.1} GB if stored)",
        dir.display(),
        args.ground,
        args.scale,
        args.eta,
        (n * m * 8) as f64 / 1e9
    );
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut target = args.tol;
    let mut order: Vec<&String> = args.solvers.iter().filter(|s| *s == "sns").collect();
    order.extend(args.solvers.iter().filter(|s| *s != "sns"));
    for name in order {
        eprintln!("  running {name} on the fly ...");
        crate::rss::reset_peak();
        let res = if name == "sns" {
            ritz::ot::sns_on_the_fly(
                &costs,
                &SnsParams {
                    eta: args.eta,
                    tol: args.tol,
                    time_limit_s: Some(args.time_limit_s),
                    ..Default::default()
                },
                &mut (),
            )
        } else {
            ritz::ot::sinkhorn_log_on_the_fly(
                &costs,
                &SinkhornParams {
                    eta: args.eta,
                    tol: target,
                    max_iters: 10_000_000,
                    time_limit_s: Some(args.time_limit_s),
                },
                &mut (),
            )
        };
        match res {
            Ok(s) => {
                if name == "sns" {
                    target = s.marginal_error().max(args.tol);
                }
                let mut r = Record::new(name, &s);
                r.peak_rss_bytes = crate::rss::peak();
                records.push(r);
            }
            Err(e) => {
                let e = format!("{name}: {e}");
                eprintln!("  {e}");
                errors.push(e);
            }
        }
    }
    println!(
        "  {:<14} {:>8} {:>10} {:>10} {:>11} {:>12} {:>11} {:>10} {:<14}",
        "solver", "iters", "seconds", "ms/iter", "marg. err", "⟨C,P⟩", "gap", "peak RSS", "stop"
    );
    for r in &records {
        println!(
            "  {:<14} {:>8} {:>10.3} {:>10.1} {:>11.2e} {:>12.8} {:>11.1e} {:>10} {:<14}",
            r.solver,
            r.iterations,
            r.seconds,
            r.seconds_per_iteration * 1e3,
            r.marginal_error,
            r.transport_cost,
            r.duality_gap,
            r.peak_rss_bytes
                .map_or("-".into(), |b| format!("{:.0} MB", b as f64 / 1e6)),
            r.stop
        );
    }
    let pot_clouds = if args.peers {
        match run_pot_clouds(dir, &pot_metric, n, m, args) {
            Ok(q) => {
                println!(
                    "  {:<14} {:>8} {:>10.3} {:>10.1} {:>11.2e} {:>12.8} {:>11} {:>10} {:<14}",
                    format!("POT {}", q.version),
                    q.iterations,
                    q.seconds,
                    q.seconds_per_iteration * 1e3,
                    q.marginal_error_l1,
                    q.transport_cost,
                    "-",
                    format!("{:.0} MB", q.peak_rss_bytes as f64 / 1e6),
                    format!("+ {:.1} s for C", q.cost_seconds)
                );
                Some(q)
            }
            Err(e) => {
                eprintln!("  {e}");
                errors.push(e);
                None
            }
        }
    } else {
        None
    };
    let case = Case {
        label: dir.display().to_string(),
        kind: "point-clouds-on-the-fly".into(),
        n,
        m,
        seed: 0,
        target_error: target,
        solvers: records,
        errors,
        speedup_of_sns: Vec::new(),
        pot: None,
        pot_emd: None,
        pot_clouds,
        plot: None,
    };
    let report = Report {
        schema: "ritz-bench-ot/2",
        threads,
        problem: "point-clouds-on-the-fly".into(),
        n,
        eta: args.eta,
        tol: args.tol,
        cases: vec![case],
        median_speedup_of_sns: Vec::new(),
    };
    write_report(&report, args.out)
}

/// Runs POT's `sinkhorn_log` on the dense costs of a point-cloud folder, if they fit: POT holds
/// the cost matrix and about three temporaries of its size.
fn run_pot_clouds(
    dir: &Path,
    metric: &str,
    n: usize,
    m: usize,
    args: &OtArgs,
) -> Result<PotCloudsRecord, String> {
    ritz::ot::problem::check_dense("POT's dense cost and its temporaries", n, m, 4)
        .map_err(|e| format!("POT peer: {e}"))?;
    let py = peers::ensure_venv()?;
    eprintln!(
        "  running POT sinkhorn_log on the dense costs (stopThr {:e}, ≤ {} iterations) ...",
        args.pot_stop, args.pot_max_iters
    );
    peers::run_script(
        &py,
        "pot_sinkhorn_clouds.py",
        &[
            dir.as_os_str().into(),
            metric.into(),
            args.scale.to_string().into(),
            format!("{:e}", 1.0 / args.eta).into(),
            format!("{:e}", args.pot_stop).into(),
            args.pot_max_iters.to_string().into(),
        ],
    )
}
