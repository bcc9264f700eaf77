//! `cargo xtask bench --suite second-order`: M-FAC's dynamic inverse-Hessian-vector product at
//! large `d` next to its memory-bandwidth floor; regularized Newton against damped Newton and
//! gradient descent per curvature type on real and synthetic classification sets (tables and
//! plots of ‖∇f‖ against iterations and time); the Hessian spectrum of an MLP on the digits
//! (top eigenvalues, trace, SLQ density plot). Writes `second-order.json` and PNGs.

use crate::plot::{self, XySeries};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use ritz::second_order::data::{self, Dataset};
use ritz::second_order::spectra::{hutchpp, slq, top_eigenvalues};
use ritz::second_order::*;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Options of the suite.
pub struct SoArgs<'a> {
    /// M-FAC dimension.
    pub d: usize,
    /// M-FAC window.
    pub m: usize,
    /// Timed repetitions of the M-FAC product.
    pub repeat: usize,
    /// Gradient-descent iteration cap.
    pub gd_max_iters: usize,
    /// Output folder.
    pub out: &'a Path,
}

#[derive(Serialize)]
struct MfacReport {
    d: usize,
    m: usize,
    setup_s: f64,
    ihvp_s: Vec<f64>,
    ihvp_median_s: f64,
    bytes: f64,
    triad_bytes_per_s: f64,
    floor_s: f64,
    ratio_to_floor: f64,
}

#[derive(Serialize)]
struct RunReport {
    method: String,
    iterations: usize,
    gradients: usize,
    products: usize,
    seconds: f64,
    grad_norm: f64,
    value: f64,
    stop: String,
    /// (iteration, ‖∇f‖, seconds), thinned to ≤ 400 points.
    history: Vec<(usize, f64, f64)>,
}

#[derive(Serialize)]
struct ProblemReport {
    name: String,
    n: usize,
    d: usize,
    runs: Vec<RunReport>,
    plots: Vec<String>,
}

#[derive(Serialize)]
struct SpectrumReport {
    model: String,
    d: usize,
    top_eigenvalues: Vec<f64>,
    residual_bounds: Vec<f64>,
    trace_hutchpp: f64,
    trace_std_error: f64,
    slq_steps: usize,
    slq_probes: usize,
    seconds: f64,
    plot: String,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    threads: usize,
    mfac: MfacReport,
    newton: Vec<ProblemReport>,
    spectrum: SpectrumReport,
}

/// Runs the suite.
pub fn run(args: &SoArgs) -> Result<(), String> {
    // Parameters first, before any work or output.
    if args.d == 0 || args.m == 0 {
        return Err(format!(
            "--mfac-d and --mfac-m must be at least 1 (got {} and {})",
            args.d, args.m
        ));
    }
    ritz::second_order::mfac::check_window_memory(args.d, args.m).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let threads = rayon::current_num_threads();
    println!("second-order suite, {threads} threads\n");
    let mfac = bench_mfac(args)?;
    let newton = bench_newton(args)?;
    let spectrum = bench_spectrum(args)?;
    let report = Report {
        schema: "ritz-bench-second-order/1",
        threads,
        mfac,
        newton,
        spectrum,
    };
    println!();
    crate::write_json(&args.out.join("second-order.json"), &report)
}

fn bench_mfac(args: &SoArgs) -> Result<MfacReport, String> {
    let (d, m) = (args.d, args.m);
    println!(
        "== M-FAC dynamic IHVP, d = {d}, m = {m} (gradients: {:.1} GB of f64)",
        8.0 * d as f64 * m as f64 / 1e9
    );
    let bw = ritz::linalg::vector::triad_bandwidth(1 << 24, 7);
    let t = Instant::now();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let grads: Vec<f64> = (0..d * m).map(|_| rng.random::<f64>() - 0.5).collect();
    let mfac = DynamicMfac::from_gradients(d, 1e-5, grads).map_err(|e| e.to_string())?;
    let setup_s = t.elapsed().as_secs_f64();
    let x: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
    let mut out = vec![0.0; d];
    mfac.ihvp(&x, &mut out).map_err(|e| e.to_string())?; // warm-up
    let mut times = Vec::new();
    for _ in 0..args.repeat.max(1) {
        let t = Instant::now();
        mfac.ihvp(&x, &mut out).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let bytes = mfac.ihvp_bytes();
    let floor = bytes / bw;
    println!(
        "  setup (random gradients, Gram GEMM, Cholesky) {setup_s:.2} s; IHVP median of {} = {median:.3} s",
        times.len()
    );
    println!(
        "  floor: {:.1} GB read at triad {:.1} GB/s = {floor:.3} s → {:.2}× the floor",
        bytes / 1e9,
        bw / 1e9,
        median / floor
    );
    Ok(MfacReport {
        d,
        m,
        setup_s,
        ihvp_s: times,
        ihvp_median_s: median,
        bytes,
        triad_bytes_per_s: bw,
        floor_s: floor,
        ratio_to_floor: median / floor,
    })
}

fn report(method: &str, r: &OptimResult) -> RunReport {
    let last = r.history.last().expect("history starts at iteration 0");
    let step = r.history.len().div_ceil(400).max(1);
    let mut history: Vec<(usize, f64, f64)> = r
        .history
        .iter()
        .step_by(step)
        .map(|h| (h.iteration, h.grad_norm, h.elapsed_s))
        .collect();
    if history.last().map(|h| h.0) != Some(last.iteration) {
        history.push((last.iteration, last.grad_norm, last.elapsed_s));
    }
    RunReport {
        method: method.into(),
        iterations: last.iteration,
        gradients: last.gradients,
        products: last.products,
        seconds: last.elapsed_s,
        grad_norm: last.grad_norm,
        value: last.value,
        stop: format!("{:?}", r.stop),
        history,
    }
}

fn bench_newton(args: &SoArgs) -> Result<Vec<ProblemReport>, String> {
    let err = |e: SecondOrderError| e.to_string();
    let bc = data::breast_cancer().standardized(true);
    let digits = data::digits().standardized(true);
    let problems: Vec<(String, Box<dyn Objective>, Dataset)> = vec![
        (
            "breast-cancer logistic".into(),
            Box::new(LogisticRegression::new(bc.clone(), 0.0).map_err(err)?),
            bc.clone(),
        ),
        (
            "breast-cancer logistic, l2 1e-3".into(),
            Box::new(LogisticRegression::new(bc.clone(), 1e-3).map_err(err)?),
            bc,
        ),
        (
            "digits softmax, l2 1e-3".into(),
            Box::new(SoftmaxRegression::new(digits.clone(), 10, 1e-3).map_err(err)?),
            digits,
        ),
        (
            "synthetic separable logistic".into(),
            Box::new(
                LogisticRegression::new(data::synthetic_binary(2000, 50, true, 1), 0.0)
                    .map_err(err)?,
            ),
            data::synthetic_binary(2000, 50, true, 1),
        ),
        (
            "synthetic non-separable logistic".into(),
            Box::new(
                LogisticRegression::new(data::synthetic_binary(2000, 50, false, 2), 0.0)
                    .map_err(err)?,
            ),
            data::synthetic_binary(2000, 50, false, 2),
        ),
    ];
    let mut out = Vec::new();
    for (name, obj, data) in problems {
        println!(
            "\n== {name}: n = {}, d = {}, stop at ‖∇f‖ ≤ 1e-8",
            data.n,
            obj.dim()
        );
        let x0 = vec![0.0; obj.dim()];
        let mut runs = Vec::new();
        for kind in [
            Curvature::Hessian,
            Curvature::GaussNewton,
            Curvature::EmpiricalFisher,
        ] {
            let p = RegNewtonParams {
                curvature: kind,
                max_iters: 500,
                ..Default::default()
            };
            let r = regularized_newton(obj.as_ref(), &x0, &p, &mut ()).map_err(err)?;
            runs.push(report(&format!("reg-newton {}", kind.name()), &r));
        }
        let r = damped_newton(obj.as_ref(), &x0, &DampedNewtonParams::default(), &mut ())
            .map_err(err)?;
        runs.push(report("damped-newton hessian", &r));
        let r = gradient_descent(
            obj.as_ref(),
            &x0,
            &GdParams {
                max_iters: args.gd_max_iters,
                ..Default::default()
            },
            &mut (),
        )
        .map_err(err)?;
        runs.push(report("gradient descent (Armijo)", &r));
        println!(
            "  {:<26} {:>6} {:>8} {:>9} {:>9} {:>10} {:<14}",
            "method", "iters", "grads", "products", "seconds", "‖∇f‖", "stop"
        );
        for r in &runs {
            println!(
                "  {:<26} {:>6} {:>8} {:>9} {:>9.3} {:>10.2e} {:<14}",
                r.method, r.iterations, r.gradients, r.products, r.seconds, r.grad_norm, r.stop
            );
        }
        let gd = runs.last().expect("GD ran");
        let rn = &runs[0];
        if rn.stop == "Converged" {
            if gd.stop == "Converged" {
                println!(
                    "  gradients: reg-newton {} vs GD {} ({:.0}× fewer)",
                    rn.gradients,
                    gd.gradients,
                    gd.gradients as f64 / rn.gradients as f64
                );
            } else {
                println!(
                    "  gradients: reg-newton {} vs GD > {} (GD stopped at ‖∇f‖ {:.1e}; > {:.0}× fewer)",
                    rn.gradients,
                    gd.gradients,
                    gd.grad_norm,
                    gd.gradients as f64 / rn.gradients as f64
                );
            }
        }
        let slug: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut plots = Vec::new();
        for (axis, log_x, idx) in [("iteration", false, 0usize), ("seconds", true, 2)] {
            let series: Vec<XySeries> = runs
                .iter()
                .map(|r| XySeries {
                    label: format!("{} ({} grads)", r.method, r.gradients),
                    points: r
                        .history
                        .iter()
                        .map(|h| (if idx == 0 { h.0 as f64 } else { h.2 }, h.1))
                        .collect(),
                })
                .collect();
            let path = args.out.join(format!("newton-{slug}-{axis}.png"));
            plot::xy_plot(&path, &name, axis, "‖∇f‖", &series, log_x)?;
            plots.push(path.display().to_string());
        }
        out.push(ProblemReport {
            name,
            n: data.n,
            d: obj.dim(),
            runs,
            plots,
        });
    }
    Ok(out)
}

fn bench_spectrum(args: &SoArgs) -> Result<SpectrumReport, String> {
    let err = |e: SecondOrderError| e.to_string();
    let digits = data::digits().standardized(false);
    let mlp = Mlp::new(digits, 16, 10, 0.0).map_err(err)?;
    let d = mlp.dim();
    println!("\n== Hessian spectrum: MLP 64-16-10 (tanh, squared loss) on the digits, d = {d}");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let x0: Vec<f64> = (0..d).map(|_| 0.3 * (rng.random::<f64>() - 0.5)).collect();
    let t = Instant::now();
    let trained = gradient_descent(
        &mlp,
        &x0,
        &GdParams {
            max_iters: 300,
            grad_tol: 0.0,
            ..Default::default()
        },
        &mut (),
    )
    .map_err(err)?;
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let op = CurvatureOperator::new(&mlp, &trained.x, Curvature::Hessian, 0.0).map_err(err)?;
    let (top, bounds) = top_eigenvalues(&op, 3, 40, 1).map_err(err)?;
    let tr = hutchpp(&op, 90, 2).map_err(err)?;
    let (steps, probes) = (80, 8);
    let dens = slq(&op, steps, probes, 4).map_err(err)?;
    let seconds = t.elapsed().as_secs_f64();
    println!(
        "  after 300 GD steps ({train_s:.1} s, loss {:.4}): top eigenvalues {:?} (residual bounds {:?})",
        trained.history.last().map_or(f64::NAN, |h| h.value),
        top.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>(),
        bounds
            .iter()
            .map(|v| format!("{v:.1e}"))
            .collect::<Vec<_>>()
    );
    println!(
        "  trace (Hutch++, 90 HVPs) {:.4} ± {:.4}; SLQ {steps} steps × {probes} probes; {seconds:.1} s in all",
        tr.estimate, tr.std_error
    );
    let (lo, hi) = (dens.nodes[0], dens.nodes[dens.nodes.len() - 1]);
    let span = (hi - lo).max(1e-12);
    let grid: Vec<f64> = (0..=1000)
        .map(|k| lo - 0.05 * span + 1.1 * span * k as f64 / 1000.0)
        .collect();
    let sigma = 0.01 * span;
    let phi = dens.density(&grid, sigma);
    let series = vec![XySeries {
        label: format!("SLQ density, σ = {sigma:.2e}"),
        points: grid
            .iter()
            .zip(&phi)
            .map(|(t, p)| (*t, p.max(1e-6)))
            .collect(),
    }];
    let path = args.out.join("hessian-density.png");
    plot::xy_plot(
        &path,
        &format!("Hessian eigenvalue density, MLP on digits (d = {d})"),
        "eigenvalue",
        "density",
        &series,
        false,
    )?;
    println!("  plot: {}", path.display());
    Ok(SpectrumReport {
        model: "mlp-64-16-10-digits".into(),
        d,
        top_eigenvalues: top,
        residual_bounds: bounds,
        trace_hutchpp: tr.estimate,
        trace_std_error: tr.std_error,
        slq_steps: steps,
        slq_probes: probes,
        seconds,
        plot: path.display().to_string(),
    })
}
