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
    /// Time per iteration over the time of one f64 pass over `vector_len` at triad bandwidth.
    pub passes_per_iteration: f64,
    /// ‖r_k‖/‖b‖ for every iteration.
    pub history: Vec<f64>,
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
/// the directions of flexible solvers whose spec leaves them open.
pub fn run(
    problem: &Problem,
    name: &str,
    params: &SolveParams,
    options: &BuildOptions,
    fcd_k: Option<usize>,
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
    let mut x = vec![0.0; b.len()];
    let report = solver
        .solve_monitored(system, b, &mut x, monitor)
        .map_err(|e| e.to_string())?;
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
        history: info.residual_history,
    })
}
