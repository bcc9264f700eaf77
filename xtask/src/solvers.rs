//! The bench's solves: one solver of ritz's catalogue ([`ritz::catalogue`]) built and run on
//! one bench problem, measured and checked against the true residual.

use crate::problems::{Problem, ProblemKind};
use ritz::krylov::{Monitor, SolveParams};
use ritz::linalg::vector;
use ritz::{BuildOptions, Solver, SolverSpec, System};
use serde::Serialize;

/// One solve's measurements, as written to bench.json.
#[derive(Debug, Clone, Serialize)]
pub struct SolveRecord {
    /// Solver name.
    pub solver: String,
    /// Iterations to the stop test.
    pub iterations: usize,
    /// Seconds of setup (preconditioner construction, factorization, Lanczos, assembly).
    pub setup_s: f64,
    /// Seconds of the iteration itself.
    pub solve_s: f64,
    /// Final recursive relative residual ‖r_k‖/‖b‖.
    pub relative_residual: f64,
    /// ‖b − A x‖/‖b‖ recomputed after the solve.
    pub true_relative_residual: f64,
    /// Stop reason.
    pub stop: String,
    /// Length of the vectors the solver iterates on (grid cells or unknowns).
    pub vector_len: usize,
    /// Number of runs; times are medians over them.
    pub repeats: usize,
    /// solve_s / iterations.
    pub time_per_iteration_s: f64,
    /// Time per iteration over the time of one f64 pass over `vector_len` at the triad
    /// bandwidth `triad_bytes_per_s`.
    pub passes_per_iteration: f64,
    /// The triad bandwidth measured next to this solver's runs (median over the repeats;
    /// each run's profile rows count passes against its own).
    pub triad_bytes_per_s: f64,
    /// ‖r_k‖/‖b‖ for every iteration.
    pub history: Vec<f64>,
    /// With `--profile`: where the solve's time went, per kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Vec<KernelRow>>,
}

/// One row of a solve's per-kernel profile (`--profile`).
#[derive(Debug, Clone, Serialize)]
pub struct KernelRow {
    /// For MGPCG its kernels ([`ritz::pde::multigrid::Kernel::name`]: the fused PCG kernels
    /// `operator`, `residual-update`, `rz-dot`, `direction-update`, then the V-cycle's) and
    /// `other` (the solve outside them: validation, the initial residual, the stop test);
    /// for the other solvers `operator` (mat-vec with its fused dot product), `vector-work`
    /// (the Krylov method's own updates and dot products) and `preconditioner`.
    pub kernel: String,
    /// Seconds per iteration.
    pub seconds_per_iteration: f64,
    /// Modelled bytes per fine cell per iteration (`null` where no model is given).
    pub bytes_per_cell: Option<f64>,
    /// Seconds per iteration over the time of one f64 pass over the vectors.
    pub passes_per_iteration: f64,
    /// MGPCG: seconds per iteration by multigrid level, finest first (the fused PCG kernels
    /// run on the finest; `null` for the other rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_per_iteration_by_level: Option<Vec<f64>>,
}

/// Modelled bytes per cell of the grid operator's fused mat-vec `q = A p, pᵀq`: p read and q
/// written in f64, the fluid mask and diagonal count read (1 byte each).
const OPERATOR_BYTES: f64 = 18.0;
/// Modelled bytes per cell of PCG's own vector work per iteration: `r −= αq` with `‖r‖²`
/// (3 f64 streams), `rᵀz` (2), `x += αp; p = z + βp` (5).
const PCG_VECTOR_BYTES: f64 = 80.0;

/// The per-kernel rows of a profiled solve of `iterations` iterations on vectors of length
/// `n`, with `pass_s` the time of one f64 pass over them.
fn kernel_rows(p: &ritz::SolveProfile, iterations: usize, n: usize, pass_s: f64) -> Vec<KernelRow> {
    let it = iterations.max(1) as f64;
    let row = |kernel: &str, seconds: f64, bytes: Option<f64>| KernelRow {
        kernel: kernel.to_string(),
        seconds_per_iteration: seconds / it,
        bytes_per_cell: bytes,
        passes_per_iteration: seconds / it / pass_s,
        seconds_per_iteration_by_level: None,
    };
    match &p.kernels {
        Some(v) => {
            // Levels with any time: the rows' by-level lists have this length.
            let levels = v
                .kernels
                .iter()
                .filter_map(|(_, st)| st.level_seconds.iter().rposition(|&t| t > 0.0))
                .max()
                .map_or(0, |l| l + 1);
            // Kernels this solve never called (the V-cycle's conversions out of fused MGPCG).
            let mut rows: Vec<KernelRow> = v
                .kernels
                .iter()
                .filter(|(_, st)| st.calls > 0)
                .map(|(k, st)| KernelRow {
                    seconds_per_iteration_by_level: Some(
                        st.level_seconds[..levels].iter().map(|t| t / it).collect(),
                    ),
                    ..row(k.name(), st.seconds, Some(st.bytes / n as f64 / it))
                })
                .collect();
            let rest = p.operator_s + p.preconditioner_s + p.vector_s;
            rows.push(row("other", rest, None));
            rows
        }
        None => vec![
            row("operator", p.operator_s, Some(OPERATOR_BYTES)),
            row("vector-work", p.vector_s, Some(PCG_VECTOR_BYTES)),
            row("preconditioner", p.preconditioner_s, None),
        ],
    }
}

/// Row by row, the median of several profiles of one solve (same rows in the same order).
pub fn median_rows(runs: &[Vec<KernelRow>]) -> Vec<KernelRow> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let median = |f: &dyn Fn(&KernelRow) -> f64, i: usize| {
        let mut v: Vec<f64> = runs.iter().map(|r| f(&r[i])).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (0..first.len())
        .map(|i| KernelRow {
            kernel: first[i].kernel.clone(),
            seconds_per_iteration: median(&|r| r.seconds_per_iteration, i),
            bytes_per_cell: first[i].bytes_per_cell,
            passes_per_iteration: median(&|r| r.passes_per_iteration, i),
            seconds_per_iteration_by_level: first[i].seconds_per_iteration_by_level.as_ref().map(
                |v| {
                    (0..v.len())
                        .map(|l| {
                            median(
                                &|r| {
                                    r.seconds_per_iteration_by_level
                                        .as_ref()
                                        .and_then(|w| w.get(l).copied())
                                        .unwrap_or(0.0)
                                },
                                i,
                            )
                        })
                        .collect()
                },
            ),
        })
        .collect()
}

/// Parses solver `name` for a problem (`matrix`: a matrix problem, which the grid-only
/// solvers cannot take). Errors: the catalogue's, as text.
pub fn parse_for(name: &str, matrix: bool) -> Result<SolverSpec, String> {
    let spec: SolverSpec = name.parse().map_err(|e: ritz::RitzError| e.to_string())?;
    if matrix && !spec.runs_on_matrix() {
        return Err(format!(
            "solver '{name}' does not run on a matrix problem (matrix solvers: {})",
            SolverSpec::matrix_names().join(", ")
        ));
    }
    Ok(spec)
}

/// The problem as a system and its right-hand side.
pub fn system_of(problem: &Problem) -> (System<'_>, &[f64]) {
    match &problem.kind {
        ProblemKind::Grid { problem, b, .. } => (System::Grid(problem), b),
        ProblemKind::Csr { a, b } => (System::Matrix(a), b),
    }
}

/// Builds solver `name` on `problem` and solves its right-hand side from zero; `fcd_k` sets
/// the directions of flexible solvers whose spec leaves them open; `profile_with` (the triad
/// bandwidth, bytes per second) profiles the solve per kernel.
pub fn run(
    problem: &Problem,
    name: &str,
    params: &SolveParams,
    options: &BuildOptions,
    fcd_k: Option<usize>,
    profile_with: Option<f64>,
    monitor: &mut dyn Monitor,
) -> Result<SolveRecord, String> {
    let matrix = matches!(problem.kind, ProblemKind::Csr { .. });
    let spec = parse_for(name, matrix)?.with_default_k(fcd_k);
    let (system, b) = system_of(problem);
    let options = BuildOptions {
        params: *params,
        ..options.clone()
    };
    let mut solver = Solver::build_with(&spec, system, &options).map_err(|e| e.to_string())?;
    // The initial guess is live memory, as in a simulation (its pages are not first touched
    // inside the timed solve).
    let mut x = vec![0.0; b.len()];
    vector::fill(&mut x, 0.0);
    let (report, profile) = match profile_with {
        Some(bandwidth) => {
            let (r, p) = solver
                .solve_profiled(system, b, &mut x, monitor)
                .map_err(|e| e.to_string())?;
            let n = solver.vector_len();
            let rows = kernel_rows(&p, r.info.iterations, n, 8.0 * n as f64 / bandwidth);
            (r, Some(rows))
        }
        None => (
            solver
                .solve_monitored(system, b, &mut x, monitor)
                .map_err(|e| e.to_string())?,
            None,
        ),
    };
    // True residual, projected onto the range for singular problems.
    let op = system.operator();
    let mut r = vec![0.0; b.len()];
    ritz::linalg::operator::residual(op, b, &x, &mut r);
    let mut bp = b.to_vec();
    if let Some(ns) = op.null_space() {
        ns.project(&mut r);
        ns.project(&mut bp);
    }
    let true_rel = vector::norm2(&r) / vector::norm2(&bp).max(f64::MIN_POSITIVE);
    let info = report.info;
    Ok(SolveRecord {
        solver: name.to_string(),
        iterations: info.iterations,
        setup_s: solver.setup_s(),
        solve_s: report.solve_s,
        relative_residual: info.final_relative_residual(),
        true_relative_residual: true_rel,
        stop: format!("{:?}", info.stop),
        vector_len: solver.vector_len(),
        repeats: 1,
        time_per_iteration_s: report.solve_s / info.iterations.max(1) as f64,
        passes_per_iteration: f64::NAN,
        triad_bytes_per_s: f64::NAN,
        history: info.residual_history,
        profile,
    })
}
