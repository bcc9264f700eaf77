//! The bench's solver catalogue: names → (setup, solve) on a problem.

use crate::problems::{Problem, ProblemKind};
use ritz_krylov::deflation::{Deflation, deflated_pcg};
use ritz_krylov::direct::SparseCholesky;
use ritz_krylov::lanczos::{LanczosParams, lanczos};
use ritz_krylov::precond::{IcOptions, IncompleteCholesky, Jacobi};
use ritz_krylov::{FcdParams, Monitor, SolveInfo, SolveParams, StopReason, cg, fcd, pcg};
use ritz_linalg::{LinearOperator, Preconditioner, SpdPreconditioner, vector};
use ritz_pde::{GridIc0, GridMultigrid, IcVariant, MultigridParams, PoissonProblem, Precision};
use serde::Serialize;
use std::time::Instant;

/// Solvers for grid problems (matrix-free grid layout unless suffixed `-csr`).
pub const GRID_SOLVERS: &[&str] = &[
    "cg",
    "jacobi",
    "ic0",
    "mic0",
    "mgpcg",
    "mgpcg-f64",
    "fcd-ic0",
    "deflated",
    "cg-csr",
    "ic0-csr",
    "mic0-csr",
    "cholesky",
    "dcdm",
    "stencil",
    "stencil-spd",
];
/// Solvers for matrix problems.
pub const CSR_SOLVERS: &[&str] = &[
    "cg", "jacobi", "ic0", "mic0", "fcd-ic0", "deflated", "cholesky",
];

/// Number of Ritz vectors and Lanczos steps of the `deflated` solver (the DCDM paper's
/// deflated-PCG baseline uses 16 Ritz vectors).
const DEFLATION_VECTORS: usize = 16;
const DEFLATION_LANCZOS_STEPS: usize = 80;

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

/// A solver with its preconditioner built (setup done), ready for any right-hand side.
pub enum Method {
    Cg,
    Pcg(Box<dyn SpdPreconditioner>),
    /// Flexible conjugate directions with `k` kept directions.
    Fcd(Box<dyn Preconditioner>, usize),
    Deflated(Jacobi, Deflation),
    Cholesky(SparseCholesky),
}

/// Runs solver `name` on `problem`.
pub fn run(
    problem: &Problem,
    name: &str,
    params: &SolveParams,
    learned: &crate::neural::LearnedContext,
    fcd_k: Option<usize>,
    monitor: &mut dyn Monitor,
) -> Result<SolveRecord, String> {
    let grid = match &problem.kind {
        ProblemKind::Grid { problem, b, .. } => Some((problem.as_ref(), b.as_slice())),
        ProblemKind::Csr { .. } => None,
    };
    let native = grid.is_some() && !name.ends_with("-csr") && name != "cholesky";
    let known = if grid.is_some() {
        GRID_SOLVERS
    } else {
        CSR_SOLVERS
    };
    if !known.contains(&name) {
        return Err(format!(
            "unknown solver '{name}' for this problem (known: {})",
            known.join(", ")
        ));
    }
    let (op, b): (&dyn LinearOperator, &[f64]) = match grid {
        Some((p, b)) if native => (p, b),
        _ => {
            let asm = problem.assembled();
            (asm.op, asm.b)
        }
    };
    let assembly = if native { 0.0 } else { problem.assembly_s() };
    let t_setup = Instant::now();
    let method = build_method(problem, name, grid, native, op, b, learned, fcd_k)?;
    let setup_s = t_setup.elapsed().as_secs_f64() + assembly;
    let mut x = vec![0.0; b.len()];
    let t = Instant::now();
    let info = solve_method(&method, op, b, &mut x, params, monitor)
        .map_err(|x| format!("{name}: {x}"))?;
    let solve_s = t.elapsed().as_secs_f64();
    // True residual, projected onto the range for singular problems.
    let mut r = vec![0.0; b.len()];
    ritz_linalg::operator::residual(op, b, &x, &mut r);
    let mut bp = b.to_vec();
    if let Some(ns) = op.null_space() {
        ns.project(&mut r);
        ns.project(&mut bp);
    }
    let true_rel = vector::norm2(&r) / vector::norm2(&bp).max(f64::MIN_POSITIVE);
    let mut history = info.residual_history.clone();
    if matches!(method, Method::Cholesky(_)) {
        history.push(true_rel);
    }
    Ok(SolveRecord {
        solver: name.to_string(),
        iterations: info.iterations,
        setup_s,
        solve_s,
        relative_residual: *history.last().unwrap_or(&0.0),
        true_relative_residual: true_rel,
        stop: format!("{:?}", info.stop),
        vector_len: b.len(),
        repeats: 1,
        time_per_iteration_s: solve_s / info.iterations.max(1) as f64,
        passes_per_iteration: f64::NAN,
        history,
    })
}

/// Directions a flexible solver keeps when `--fcd-k` is not given: 16 for `dcdm`, 2 (the
/// DCDM paper's choice) for the others. The DCDM network is nonlinear, so truncating the
/// A-orthogonalization to 2 directions loses conjugacy; measured with the shipped 2D net at
/// 256² (4× its training size), keeping 2 / 8 / 16 / 32 directions took 859 / 291 / 173 /
/// 142 iterations (docs/neural.md), while the extra dot products cost under 1 % of a
/// network forward.
pub fn default_fcd_k(solver: &str) -> usize {
    if solver == "dcdm" { 16 } else { 2 }
}

/// Builds solver `name` (preconditioner setup, factorization, Lanczos) for `problem`; `op` and
/// `b` are the operator and right-hand side it will iterate on (grid-native or assembled).
pub fn build_method(
    problem: &Problem,
    name: &str,
    grid: Option<(&PoissonProblem, &[f64])>,
    native: bool,
    op: &dyn LinearOperator,
    b: &[f64],
    learned: &crate::neural::LearnedContext,
    fcd_k: Option<usize>,
) -> Result<Method, String> {
    let e = |x: ritz_krylov::KrylovError| format!("{name}: {x}");
    let base = name.trim_end_matches("-csr");
    let fcd_k = fcd_k.unwrap_or(default_fcd_k(base));
    Ok(match (base, grid) {
        ("cg", _) => Method::Cg,
        ("jacobi", _) => Method::Pcg(Box::new(
            Jacobi::new(op).map_err(|x| format!("{name}: {x}"))?,
        )),
        ("ic0" | "mic0" | "fcd-ic0", Some((p, _))) if native => {
            let v = if base == "mic0" {
                IcVariant::mic0()
            } else {
                IcVariant::Ic0
            };
            let m = GridIc0::new(p, v).map_err(|x| format!("{name}: {x}"))?;
            if base == "fcd-ic0" {
                Method::Fcd(Box::new(m), fcd_k)
            } else {
                Method::Pcg(Box::new(m))
            }
        }
        ("mgpcg" | "mgpcg-f64", Some((p, _))) => {
            let mp = MultigridParams {
                precision: if base == "mgpcg" {
                    Precision::F32
                } else {
                    Precision::F64
                },
                ..Default::default()
            };
            Method::Pcg(Box::new(
                GridMultigrid::new(p, mp).map_err(|x| format!("{name}: {x}"))?,
            ))
        }
        ("ic0" | "mic0" | "fcd-ic0", _) => {
            let o = if base == "mic0" {
                IcOptions::mic0()
            } else {
                IcOptions::ic0()
            };
            let m = IncompleteCholesky::new(problem.assembled().matrix, o)
                .map_err(|x| format!("{name}: {x}"))?;
            if base == "fcd-ic0" {
                Method::Fcd(Box::new(m), fcd_k)
            } else {
                Method::Pcg(Box::new(m))
            }
        }
        ("deflated", _) => {
            let lp = LanczosParams {
                steps: DEFLATION_LANCZOS_STEPS.min(b.len()),
                ..Default::default()
            };
            let lz = lanczos(op, b, &lp).map_err(e)?;
            let k = DEFLATION_VECTORS.min(lz.steps());
            let ritz = lz.ritz_pairs(0..k).map_err(e)?;
            let defl = Deflation::new(op, ritz.vectors).map_err(e)?;
            Method::Deflated(Jacobi::new(op).map_err(|x| format!("{name}: {x}"))?, defl)
        }
        ("dcdm" | "stencil" | "stencil-spd", Some((p, _))) => {
            match crate::neural::prepare(base, p, learned)? {
                crate::neural::Learned::Flexible(m) => Method::Fcd(m, fcd_k),
                crate::neural::Learned::Spd(m) => Method::Pcg(m),
            }
        }
        ("cholesky", _) => {
            let asm = problem.assembled();
            Method::Cholesky(
                SparseCholesky::new(asm.matrix, asm.null_space)
                    .map_err(|x| format!("{name}: {x}"))?,
            )
        }
        _ => return Err(format!("unknown solver '{name}'")),
    })
}

/// Solves `op x = b` with a built method, starting from the given `x`.
pub fn solve_method(
    method: &Method,
    op: &dyn LinearOperator,
    b: &[f64],
    x: &mut Vec<f64>,
    params: &SolveParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, String> {
    let e = |x: ritz_krylov::KrylovError| x.to_string();
    Ok(match &method {
        Method::Cg => cg(op, b, x, params, monitor).map_err(e)?,
        Method::Pcg(m) => pcg(op, &**m, b, x, params, monitor).map_err(e)?,
        Method::Fcd(m, k) => {
            let fp = FcdParams {
                solve: *params,
                k: *k,
                ..Default::default()
            };
            fcd(op, &**m, b, x, &fp, monitor).map_err(e)?
        }
        Method::Deflated(m, d) => deflated_pcg(op, m, d, b, x, params, monitor).map_err(e)?,
        Method::Cholesky(f) => {
            *x = f.solve(b).map_err(|x| x.to_string())?;
            SolveInfo {
                iterations: 1,
                residual_history: vec![1.0],
                stop: StopReason::Converged,
                rhs_norm: vector::norm2(b),
            }
        }
    })
}
