//! `cargo xtask bench --suite constrained`: equality-constrained SQP with exact KKT solves
//! against randomized sketching (sketch-and-project) and MINRES under the adaptive and the
//! sharpened accuracy rules, on the Hock–Schittkowski problems, constrained logistic
//! regression (breast cancer, digits) and Poisson optimal control on the MAC grid (2D and 3D).
//! Writes `constrained.json` (every run with its record) and plots of the KKT residual
//! against iterations and seconds.

use crate::plot::{self, XySeries};
use ritz::krylov::sketch::Sketch;
use ritz::second_order::constrained::{
    ConstrainedModel, EqualityProblem, TestProblem, hock_schittkowski,
};
use ritz::second_order::data;
use ritz::second_order::sqp::{KktSolve, SqpParams, SqpResult, sqp};
use ritz::second_order::{LogisticRegression, StopReason};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Options of the suite.
pub struct CoArgs<'a> {
    /// Wall-clock limit of each SQP run on the PDE problems, seconds (sketching runs there get
    /// at most 30 s, the small problems' runs at most 5 s).
    pub time_limit_s: f64,
    /// Cells per side of the 2D Poisson-control grids.
    pub pde_2d: Vec<usize>,
    /// Cells per side of the 3D Poisson-control grids.
    pub pde_3d: Vec<usize>,
    /// Control cost α.
    pub alpha: f64,
    /// Timed repetitions of the small problems' runs (median reported).
    pub repeat: usize,
    /// Output folder.
    pub out: &'a Path,
}

#[derive(Serialize)]
struct RunReport {
    problem: String,
    family: &'static str,
    n: usize,
    m: usize,
    solver: String,
    stop: StopReason,
    iterations: usize,
    unit_steps: usize,
    kkt0: f64,
    kkt: f64,
    objective: f64,
    /// |f − f*| / max(1, |f*|) where the optimum is published.
    f_error: Option<f64>,
    /// ‖x − x*‖∞ where the minimizer is published.
    x_error: Option<f64>,
    /// The reduced Hessian is singular at x* (x* determined only to KKT^{1/3}).
    degenerate: bool,
    /// Median over the repetitions.
    seconds: f64,
    solve_seconds: f64,
    /// KKT solves (with re-solves after penalty / accuracy updates).
    solves: usize,
    /// Sketch or MINRES iterations, in all.
    inner_iterations: usize,
    inner_iterations_per_sqp_iteration: f64,
    /// Modelled flops of the inexact solves per SQP iteration (none for the LU).
    flops_per_sqp_iteration: Option<f64>,
    /// Peak resident memory of the run above the resident set before it, bytes (Linux; it
    /// sees the LU's fill, not allocations smaller than what the allocator already holds).
    peak_extra_bytes: Option<u64>,
    /// Working memory of an inexact KKT solve by model: the KKT matrix in CSR (12 bytes per
    /// nonzero + row pointers) and the solver's vectors (sketching: 5 of length n + m and a
    /// τ × τ Gram matrix; MINRES: 10).
    model_working_bytes: Option<u64>,
    /// The last (up to 4) ratios ‖KKT_{k+1}‖ / ‖KKT_k‖ above the rounding floor.
    local_ratios: Vec<f64>,
    /// Estimated local order log(e_{k+1}/e_k) / log(e_k/e_{k−1}) from the last three
    /// residuals above the rounding floor.
    local_order: Option<f64>,
    /// Final penalties μ, ν.
    mu: f64,
    nu: f64,
    /// (iteration, KKT, seconds, step), thinned to ≤ 400 points.
    history: Vec<(usize, f64, f64, f64)>,
}

#[derive(Serialize)]
struct WinReport {
    problem: String,
    n: usize,
    m: usize,
    exact_seconds: Option<f64>,
    /// The fastest converged inexact variant and its seconds.
    best_inexact: Option<(String, f64)>,
    /// The fastest converged sketching variant and its seconds.
    best_sketch: Option<(String, f64)>,
    sketch_wins: bool,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    threads: usize,
    tolerance: &'static str,
    runs: Vec<RunReport>,
    wins: Vec<WinReport>,
    plots: Vec<String>,
}

/// One problem of the suite with its variants.
struct Case {
    problem: Box<dyn EqualityProblem + Send>,
    family: &'static str,
    x0: Vec<f64>,
    known: Option<(f64, Vec<f64>, bool)>,
    variants: Vec<(String, SqpParams)>,
    repeat: usize,
    plot: bool,
}

fn sketch(size: usize, max_iters: usize) -> KktSolve {
    KktSolve::Sketch {
        sketch: Sketch::Block { size },
        max_iters,
        seed: 17,
    }
}

/// The four variants: exact, MINRES, sketching with the adaptive and with the sharpened
/// accuracy (`ρ = 1`).
fn variants(
    base: SqpParams,
    block: usize,
    sketch_iters: usize,
    minres_iters: usize,
) -> Vec<(String, SqpParams)> {
    let sk = sketch(block, sketch_iters);
    let minres = KktSolve::Minres {
        max_iters: minres_iters,
    };
    vec![
        ("exact".into(), base),
        (
            "minres".into(),
            SqpParams {
                solve: minres,
                ..base
            },
        ),
        (
            "minres ρ=1".into(),
            SqpParams {
                solve: minres,
                sharpen: Some(1.0),
                ..base
            },
        ),
        (sk.name(), SqpParams { solve: sk, ..base }),
        (
            format!("{} ρ=1", sk.name()),
            SqpParams {
                solve: sk,
                sharpen: Some(1.0),
                ..base
            },
        ),
    ]
}

/// Runs the suite.
pub fn run(args: &CoArgs) -> Result<(), String> {
    if args.time_limit_s.is_nan() || args.time_limit_s <= 0.0 {
        return Err(format!(
            "--sqp-time-limit must be positive, got {}",
            args.time_limit_s
        ));
    }
    if args.alpha.is_nan() || args.alpha <= 0.0 || args.alpha.is_infinite() {
        return Err(format!(
            "--control-alpha must be positive, got {}",
            args.alpha
        ));
    }
    // Build every PDE problem first: a bad size fails before any work.
    let err = |e: ritz::second_order::SecondOrderError| e.to_string();
    let mut pde = Vec::new();
    for (dim, sides) in [(2usize, &args.pde_2d), (3, &args.pde_3d)] {
        for &s in sides {
            pde.push(
                ritz::control::poisson_control(&vec![s; dim], args.alpha)
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    std::fs::create_dir_all(args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let threads = rayon::current_num_threads();
    println!("constrained suite, {threads} threads\n");
    let small_limit = args.time_limit_s.min(5.0);
    let small = SqpParams {
        max_iters: 500,
        time_limit_s: Some(small_limit),
        ..Default::default()
    };
    let mut cases = Vec::new();
    for TestProblem {
        problem,
        x0,
        f_star,
        x_star,
        degenerate,
    } in hock_schittkowski()
    {
        let block = 2.min(problem.n() + problem.m());
        let plot = matches!(problem.name(), "HS7" | "HS56" | "HS78" | "HS46");
        cases.push(Case {
            problem,
            family: "hock-schittkowski",
            x0,
            known: Some((f_star, x_star, degenerate)),
            variants: variants(small, block, 100_000, 10_000),
            repeat: args.repeat.max(5),
            plot,
        });
    }
    let bc =
        LogisticRegression::new(data::breast_cancer().standardized(true), 1e-3).map_err(err)?;
    let mut digits = data::digits().standardized(true);
    for y in digits.y.iter_mut() {
        *y = f64::from(*y >= 5.0);
    }
    let dg = LogisticRegression::new(digits, 1e-3).map_err(err)?;
    for (name, model, seed) in [
        ("logistic breast-cancer", bc, 1u64),
        ("logistic digits ≥ 5", dg, 2),
    ] {
        let p = ConstrainedModel::gaussian(name, Box::new(model), 3, seed).map_err(err)?;
        let x0 = vec![0.1; p.n()];
        cases.push(Case {
            problem: Box::new(p),
            family: "logistic",
            x0,
            known: None,
            variants: variants(small, 4, 200_000, 10_000),
            repeat: args.repeat.max(3),
            plot: true,
        });
    }
    let big = SqpParams {
        tol: 0.0,
        rtol: 1e-8,
        max_iters: 200,
        time_limit_s: Some(args.time_limit_s),
        ..Default::default()
    };
    for p in pde {
        let x0 = vec![0.0; p.n()];
        // Sketching makes no measurable progress on these KKT systems (see docs): one
        // variant, at most 30 s, shows it.
        let mut v = variants(big, 16, 100_000, 100_000);
        v.pop();
        if let Some((_, sk)) = v.last_mut() {
            sk.time_limit_s = Some(args.time_limit_s.min(30.0));
        }
        cases.push(Case {
            problem: Box::new(p),
            family: "poisson-control",
            x0,
            known: None,
            variants: v,
            repeat: args.repeat.max(1),
            plot: true,
        });
    }

    let mut runs = Vec::new();
    let mut wins = Vec::new();
    let mut plots = Vec::new();
    for case in &cases {
        let p = &*case.problem;
        println!("== {} (n = {}, m = {})", p.name(), p.n(), p.m());
        println!(
            "{:<20} {:>5} {:>5} {:>10} {:>10} {:>9} {:>9} {:>11} {:>10} {:>9} {:>8} {:>14}",
            "solver",
            "iters",
            "unit",
            "KKT",
            "‖x−x*‖∞",
            "seconds",
            "solve s",
            "inner/iter",
            "flops/iter",
            "mem MB",
            "last rate",
            "stop"
        );
        let mut case_runs = Vec::new();
        for (label, params) in &case.variants {
            let mut times = Vec::new();
            let mut first: Option<(SqpResult, Option<u64>)> = None;
            for _ in 0..case.repeat {
                let before = crate::rss::current();
                crate::rss::reset_peak();
                let t = Instant::now();
                let res = sqp(p, &case.x0, None, params, &mut ())
                    .map_err(|e| format!("{} {label}: {e}", p.name()))?;
                times.push(t.elapsed().as_secs_f64());
                let extra = crate::rss::peak()
                    .zip(before)
                    .map(|(a, b)| a.saturating_sub(b));
                if first.is_none() {
                    first = Some((res, extra));
                }
            }
            times.sort_by(f64::total_cmp);
            let Some((res, extra)) = first else { continue };
            let mut r = report(case, label, &res, times[times.len() / 2], extra);
            r.model_working_bytes = working_bytes(p, &case.x0, &params.solve);
            print_row(&r);
            case_runs.push(r);
        }
        wins.push(win(p, &case_runs));
        if case.plot {
            plots.extend(plot_case(args.out, p.name(), &case_runs)?);
        }
        println!();
        runs.extend(case_runs);
    }
    println!("== where the sketching variant wins in wall time (converged runs only)");
    for w in &wins {
        println!(
            "{:<26} n {:>6} m {:>6}  exact {:>10}  best sketch {:>28}  {}",
            w.problem,
            w.n,
            w.m,
            w.exact_seconds.map_or("—".into(), |s| format!("{s:.2e} s")),
            w.best_sketch
                .as_ref()
                .map_or("did not converge".into(), |(l, s)| format!("{l} {s:.2e} s")),
            if w.sketch_wins { "sketch wins" } else { "" }
        );
    }
    let report = Report {
        schema: "ritz-bench-constrained/1",
        threads,
        tolerance: "‖(∇ₓL, c)‖₂ ≤ 1e-8 (small problems); ≤ 1e-8 · ‖(∇ₓL, c)‖₂ at x₀ (PDE)",
        runs,
        wins,
        plots,
    };
    println!();
    crate::write_json(&args.out.join("constrained.json"), &report)
}

fn report(
    case: &Case,
    label: &str,
    res: &SqpResult,
    seconds: f64,
    extra: Option<u64>,
) -> RunReport {
    let p = &*case.problem;
    let h = &res.history;
    let last = h.last().expect("a run records its start");
    let iterations = res.iterations();
    let inner: usize = h.iter().map(|r| r.solver_iterations).sum();
    let flops: Option<f64> = h.iter().filter_map(|r| r.solver_flops).reduce(|a, b| a + b);
    // Residuals above the rounding floor, for the local rates.
    let floor = 1e-13 * h[0].kkt.max(1.0);
    let kkts: Vec<f64> = h.iter().map(|r| r.kkt).filter(|&k| k > floor).collect();
    let ratios: Vec<f64> = kkts.windows(2).map(|w| w[1] / w[0]).collect();
    let local_ratios = ratios[ratios.len().saturating_sub(4)..].to_vec();
    let local_order = (kkts.len() >= 3).then(|| {
        let k = kkts.len();
        (kkts[k - 1] / kkts[k - 2]).ln() / (kkts[k - 2] / kkts[k - 3]).ln()
    });
    let stride = h.len().div_ceil(400).max(1);
    RunReport {
        problem: p.name().to_string(),
        family: case.family,
        n: p.n(),
        m: p.m(),
        solver: label.to_string(),
        stop: res.stop,
        iterations,
        unit_steps: res.unit_steps(),
        kkt0: h[0].kkt,
        kkt: last.kkt,
        objective: last.objective,
        f_error: case
            .known
            .as_ref()
            .map(|(f, _, _)| (last.objective - f).abs() / f.abs().max(1.0)),
        x_error: case.known.as_ref().map(|(_, x, _)| {
            res.x
                .iter()
                .zip(x)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        }),
        degenerate: case.known.as_ref().is_some_and(|k| k.2),
        seconds,
        solve_seconds: h.iter().map(|r| r.solve_s).sum(),
        solves: h.iter().map(|r| r.solves).sum(),
        inner_iterations: inner,
        inner_iterations_per_sqp_iteration: inner as f64 / iterations.max(1) as f64,
        flops_per_sqp_iteration: flops.map(|f| f / iterations.max(1) as f64),
        peak_extra_bytes: extra,
        model_working_bytes: None,
        local_ratios,
        local_order,
        mu: last.mu,
        nu: last.nu,
        history: h
            .iter()
            .enumerate()
            .filter(|(i, _)| i % stride == 0 || *i + 1 == h.len())
            .map(|(_, r)| (r.iteration, r.kkt, r.elapsed_s, r.step))
            .collect(),
    }
}

/// The model of [`RunReport::model_working_bytes`], from the KKT pattern at `x₀`.
fn working_bytes(p: &dyn EqualityProblem, x0: &[f64], solve: &KktSolve) -> Option<u64> {
    let vectors = match solve {
        KktSolve::Exact => return None,
        KktSolve::Sketch { sketch, .. } => {
            5.0 + (sketch.size() * sketch.size()) as f64 / (p.n() + p.m()) as f64
        }
        KktSolve::Minres { .. } => 10.0,
    };
    let jac = p.jacobian_csr(x0).ok()?;
    let hess = p.hessian_lagrangian_csr(x0, &vec![0.0; p.m()]).ok()?;
    let nm = (p.n() + p.m()) as f64;
    let nnz = (2 * jac.nnz() + hess.nnz() + p.n()) as f64;
    Some((12.0 * nnz + 8.0 * nm + 8.0 * vectors * nm) as u64)
}

fn print_row(r: &RunReport) {
    println!(
        "{:<20} {:>5} {:>5} {:>10.2e} {:>10} {:>9.2e} {:>9.2e} {:>11.0} {:>10} {:>9} {:>8} {:>14}",
        r.solver,
        r.iterations,
        r.unit_steps,
        r.kkt,
        r.x_error.map_or("—".into(), |e| format!("{e:.1e}")),
        r.seconds,
        r.solve_seconds,
        r.inner_iterations_per_sqp_iteration,
        r.flops_per_sqp_iteration
            .map_or("—".into(), |f| format!("{f:.1e}")),
        r.model_working_bytes
            .map(|b| format!("~{:.1}", b as f64 / 1e6))
            .or(r.peak_extra_bytes.map(|b| format!("{:.1}", b as f64 / 1e6)))
            .unwrap_or_else(|| "—".into()),
        r.local_ratios
            .last()
            .map_or("—".into(), |q| format!("{q:.1e}")),
        format!("{:?}", r.stop),
    );
}

fn win(p: &dyn EqualityProblem, runs: &[RunReport]) -> WinReport {
    let converged = |r: &&RunReport| r.stop == StopReason::Converged;
    let exact_seconds = runs
        .iter()
        .filter(converged)
        .find(|r| r.solver == "exact")
        .map(|r| r.seconds);
    let best = |pred: &dyn Fn(&RunReport) -> bool| {
        runs.iter()
            .filter(converged)
            .filter(|r| pred(r))
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
            .map(|r| (r.solver.clone(), r.seconds))
    };
    let best_sketch = best(&|r| r.solver.starts_with("sketch"));
    let sketch_wins = match (&best_sketch, exact_seconds) {
        (Some((_, s)), Some(e)) => *s < e,
        (Some(_), None) => true,
        _ => false,
    };
    WinReport {
        problem: p.name().to_string(),
        n: p.n(),
        m: p.m(),
        exact_seconds,
        best_inexact: best(&|r| r.solver != "exact"),
        best_sketch,
        sketch_wins,
    }
}

fn plot_case(out: &Path, name: &str, runs: &[RunReport]) -> Result<Vec<String>, String> {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let series = |x: fn(&(usize, f64, f64, f64)) -> f64| -> Vec<XySeries> {
        runs.iter()
            .map(|r| XySeries {
                label: r.solver.clone(),
                points: r.history.iter().map(|h| (x(h), h.1)).collect(),
            })
            .collect()
    };
    let mut files = Vec::new();
    for (suffix, x_desc, x, log_x) in [
        (
            "iterations",
            "SQP iteration",
            (|h: &(usize, f64, f64, f64)| h.0 as f64) as fn(&_) -> f64,
            false,
        ),
        ("seconds", "seconds", |h: &(usize, f64, f64, f64)| h.2, true),
    ] {
        let file = format!("constrained-{slug}-{suffix}.png");
        plot::xy_plot(
            &out.join(&file),
            &format!("{name}: KKT residual"),
            x_desc,
            "‖(∇ₓL, c)‖₂",
            &series(x),
            log_x,
        )?;
        files.push(file);
    }
    Ok(files)
}
