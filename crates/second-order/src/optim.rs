//! Optimizers over an [`Objective`]: the gradient-normalized regularized Newton method
//! (Semenov, Jaggi & Doikov 2025) with an exact Hessian, Gauss–Newton or empirical-Fisher
//! curvature, and the baselines damped Newton and gradient descent.
//!
//! Regularized Newton: `x₊ = x − (C(x) + λI)⁻¹∇f(x)` with `λ = ‖∇f(x)‖/γ`; a step is accepted
//! when `f(x) − f(x₊) ≥ ‖∇f(x₊)‖² / (8λ)`, then `γ ← 2γ`; otherwise `γ ← γ/2` and the step is
//! retried (at most 40 times). `γ₀ = 1`.
//!
//! The linear systems `(C + λI)δ = g` are solved densely (the curvature assembled once per
//! iteration from `d` curvature-vector products, then one Cholesky per trial) when
//! `d ≤ dense_max`, else by krylov's CG, matrix-free, with [`LinearSolve::cg`]'s stop test.
//! Every result reports gradient evaluations, curvature-vector products and time per
//! iteration.

use crate::error::{SecondOrderError, check_finite, check_len};
use crate::objective::{Counted, Curvature, CurvatureOperator, Objective};
use faer::linalg::solvers::Solve;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How the Newton systems are solved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearSolve {
    /// Dense Cholesky up to this dimension, CG above.
    pub dense_max: usize,
    /// Stop test and iteration limit of the CG solves (default: `rtol` 1e-10, 10 000
    /// iterations).
    pub cg: ritz_krylov::SolveParams,
}

impl Default for LinearSolve {
    fn default() -> Self {
        Self {
            dense_max: 256,
            cg: ritz_krylov::SolveParams {
                rtol: 1e-10,
                atol: 0.0,
                max_iters: 10_000,
                ..Default::default()
            },
        }
    }
}

/// Why an optimizer stopped: the stop vocabulary shared with the Krylov and OT solvers.
/// Optimizers stop with `Converged` (`‖∇f‖ ≤ grad_tol`), `MaxIterations`, or `Stalled` (no
/// step was accepted — regularized Newton after 40 tries, line searches after 60 halvings —
/// so the iterate cannot be improved in floating point).
pub use ritz_krylov::StopReason;

/// An observer called after every iteration with `(iteration, ‖∇f‖)`; `()` is silent.
pub use ritz_krylov::Monitor;

/// One history entry, after each iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimRecord {
    /// Iteration.
    pub iteration: usize,
    /// `f(x)`.
    pub value: f64,
    /// `‖∇f(x)‖₂`.
    pub grad_norm: f64,
    /// Gradient evaluations so far.
    pub gradients: usize,
    /// Curvature-vector products so far.
    pub products: usize,
    /// Seconds since the start.
    pub elapsed_s: f64,
}

/// An optimizer's result.
#[derive(Debug, Clone, Serialize)]
pub struct OptimResult {
    /// Final iterate.
    pub x: Vec<f64>,
    /// History, starting with iteration 0.
    pub history: Vec<OptimRecord>,
    /// Why it stopped.
    pub stop: StopReason,
}

impl OptimResult {
    /// Last `‖∇f‖`.
    pub fn grad_norm(&self) -> f64 {
        self.history.last().map_or(f64::INFINITY, |r| r.grad_norm)
    }
    /// Total gradient evaluations.
    pub fn gradients(&self) -> usize {
        self.history.last().map_or(0, |r| r.gradients)
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn check_start(obj: &dyn Objective, x0: &[f64], grad_tol: f64) -> Result<(), SecondOrderError> {
    check_len("starting point", obj.dim(), x0.len())?;
    check_finite("starting point", x0)?;
    if grad_tol.is_nan() || grad_tol < 0.0 {
        return Err(SecondOrderError::InvalidParameter(format!(
            "grad_tol must be ≥ 0, got {grad_tol}"
        )));
    }
    Ok(())
}

struct Recorder<'a> {
    obj: &'a Counted<'a>,
    start: Instant,
    history: Vec<OptimRecord>,
    monitor: &'a mut dyn Monitor,
}

impl<'a> Recorder<'a> {
    fn new(obj: &'a Counted<'a>, monitor: &'a mut dyn Monitor) -> Self {
        Self {
            obj,
            start: Instant::now(),
            history: Vec::new(),
            monitor,
        }
    }
    fn finish(self, x: Vec<f64>, stop: StopReason) -> OptimResult {
        OptimResult {
            x,
            history: self.history,
            stop,
        }
    }
    fn record(&mut self, iteration: usize, value: f64, grad_norm: f64) {
        let (_, gradients, products) = self.obj.counts();
        self.history.push(OptimRecord {
            iteration,
            value,
            grad_norm,
            gradients,
            products,
            elapsed_s: self.start.elapsed().as_secs_f64(),
        });
        self.monitor.observe(iteration, grad_norm);
    }
}

/// Solver of `(C + λI) δ = r` at a fixed point for varying `λ`.
enum System<'a> {
    Dense {
        c: faer::Mat<f64>,
    },
    Cg {
        op: CurvatureOperator<'a>,
        solve: LinearSolve,
    },
}

impl<'a> System<'a> {
    fn new(
        obj: &'a dyn Objective,
        x: &[f64],
        kind: Curvature,
        solve: LinearSolve,
    ) -> Result<Self, SecondOrderError> {
        let d = obj.dim();
        if d <= solve.dense_max {
            let mut c = faer::Mat::<f64>::zeros(d, d);
            let mut e = vec![0.0; d];
            let mut col = vec![0.0; d];
            for j in 0..d {
                e[j] = 1.0;
                obj.curvature_vp(kind, x, &e, &mut col)?;
                e[j] = 0.0;
                for i in 0..d {
                    c[(i, j)] = col[i];
                }
            }
            // Symmetrize the rounding.
            for i in 0..d {
                for j in 0..i {
                    let s = 0.5 * (c[(i, j)] + c[(j, i)]);
                    c[(i, j)] = s;
                    c[(j, i)] = s;
                }
            }
            Ok(System::Dense { c })
        } else {
            Ok(System::Cg {
                op: CurvatureOperator::new(obj, x, kind, 0.0)?,
                solve,
            })
        }
    }

    /// `(C + λI)⁻¹ r`.
    fn solve(&mut self, lambda: f64, r: &[f64]) -> Result<Vec<f64>, SecondOrderError> {
        match self {
            System::Dense { c } => {
                let d = r.len();
                let a =
                    faer::Mat::from_fn(d, d, |i, j| c[(i, j)] + if i == j { lambda } else { 0.0 });
                let llt = a
                    .llt(faer::Side::Lower)
                    .map_err(|e| SecondOrderError::Cholesky(format!("C + λI: {e:?}")))?;
                let mut z = faer::Mat::from_fn(d, 1, |i, _| r[i]);
                llt.solve_in_place(&mut z);
                Ok((0..d).map(|i| z[(i, 0)]).collect())
            }
            System::Cg { op, solve } => {
                op.set_shift(lambda);
                let mut z = vec![0.0; r.len()];
                ritz_krylov::cg(op, r, &mut z, &solve.cg, &mut ())?;
                Ok(z)
            }
        }
    }
}

/// Parameters of [`regularized_newton`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegNewtonParams {
    /// Curvature used in place of the Hessian.
    pub curvature: Curvature,
    /// Initial `γ`.
    pub gamma0: f64,
    /// Stop when `‖∇f‖ ≤ grad_tol`.
    pub grad_tol: f64,
    /// Iteration limit.
    pub max_iters: usize,
    /// Retries of a step (halving `γ`) before giving up.
    pub max_tries: usize,
    /// Linear solves.
    pub solve: LinearSolve,
}

impl Default for RegNewtonParams {
    fn default() -> Self {
        Self {
            curvature: Curvature::Hessian,
            gamma0: 1.0,
            grad_tol: 1e-8,
            max_iters: 1000,
            max_tries: 40,
            solve: LinearSolve::default(),
        }
    }
}

/// The gradient-normalized regularized Newton method with adaptive `γ` (see the module docs).
///
/// Errors: a bad start point or parameters, an unsupported curvature, a failed linear solve.
pub fn regularized_newton(
    obj: &dyn Objective,
    x0: &[f64],
    params: &RegNewtonParams,
    monitor: &mut dyn Monitor,
) -> Result<OptimResult, SecondOrderError> {
    check_start(obj, x0, params.grad_tol)?;
    if !(params.gamma0 > 0.0 && params.gamma0.is_finite()) {
        return Err(SecondOrderError::InvalidParameter(format!(
            "γ₀ must be positive, got {}",
            params.gamma0
        )));
    }
    let counted = Counted::new(obj);
    let mut rec = Recorder::new(&counted, monitor);
    let d = obj.dim();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; d];
    let mut f = counted.gradient(&x, &mut g);
    let mut gamma = params.gamma0;
    let mut xt = vec![0.0; d];
    let mut gt = vec![0.0; d];
    rec.record(0, f, norm(&g));
    let mut stop = StopReason::MaxIterations;
    for it in 1..=params.max_iters {
        let gn = norm(&g);
        if gn <= params.grad_tol {
            stop = StopReason::Converged;
            break;
        }
        let mut system = System::new(&counted, &x, params.curvature, params.solve)?;
        let mut accepted = None;
        for _ in 0..params.max_tries {
            let lambda = gn / gamma;
            let delta = system.solve(lambda, &g)?;
            for ((t, xi), di) in xt.iter_mut().zip(&x).zip(&delta) {
                *t = xi - di;
            }
            let ft = counted.gradient(&xt, &mut gt);
            let gtn = norm(&gt);
            if ft.is_finite() && f - ft >= gtn * gtn / (8.0 * lambda) {
                gamma *= 2.0;
                accepted = Some(ft);
                break;
            }
            gamma *= 0.5;
        }
        let Some(ft) = accepted else {
            stop = StopReason::Stalled;
            break;
        };
        std::mem::swap(&mut x, &mut xt);
        std::mem::swap(&mut g, &mut gt);
        f = ft;
        rec.record(it, f, norm(&g));
        if norm(&g) <= params.grad_tol {
            stop = StopReason::Converged;
            break;
        }
    }
    Ok(rec.finish(x, stop))
}

/// Parameters of [`damped_newton`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DampedNewtonParams {
    /// Curvature used in place of the Hessian.
    pub curvature: Curvature,
    /// Fixed damping added to the curvature (keeps singular curvatures solvable).
    pub damping: f64,
    /// Stop when `‖∇f‖ ≤ grad_tol`.
    pub grad_tol: f64,
    /// Iteration limit.
    pub max_iters: usize,
    /// Armijo constant of the backtracking line search.
    pub armijo: f64,
    /// Linear solves.
    pub solve: LinearSolve,
}

impl Default for DampedNewtonParams {
    fn default() -> Self {
        Self {
            curvature: Curvature::Hessian,
            damping: 1e-10,
            grad_tol: 1e-8,
            max_iters: 1000,
            armijo: 1e-4,
            solve: LinearSolve::default(),
        }
    }
}

/// Armijo backtracking along `dir` from `x` (halving from step `t0`): returns the accepted
/// step, or `None` after 60 halvings.
fn backtrack(
    obj: &Counted,
    x: &[f64],
    f: f64,
    slope: f64,
    dir: &[f64],
    t0: f64,
    armijo: f64,
    xt: &mut [f64],
) -> Option<(f64, f64)> {
    let mut t = t0;
    for _ in 0..60 {
        for ((o, xi), di) in xt.iter_mut().zip(x).zip(dir) {
            *o = xi + t * di;
        }
        let ft = obj.value(xt);
        if ft.is_finite() && ft <= f + armijo * t * slope {
            return Some((t, ft));
        }
        t *= 0.5;
    }
    None
}

/// Damped Newton: `δ = −(C + εI)⁻¹∇f`, Armijo backtracking from the unit step.
///
/// Errors: as [`regularized_newton`].
pub fn damped_newton(
    obj: &dyn Objective,
    x0: &[f64],
    params: &DampedNewtonParams,
    monitor: &mut dyn Monitor,
) -> Result<OptimResult, SecondOrderError> {
    check_start(obj, x0, params.grad_tol)?;
    let counted = Counted::new(obj);
    let mut rec = Recorder::new(&counted, monitor);
    let d = obj.dim();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; d];
    let mut f = counted.gradient(&x, &mut g);
    let mut xt = vec![0.0; d];
    rec.record(0, f, norm(&g));
    let mut stop = StopReason::MaxIterations;
    for it in 1..=params.max_iters {
        if norm(&g) <= params.grad_tol {
            stop = StopReason::Converged;
            break;
        }
        let mut system = System::new(&counted, &x, params.curvature, params.solve)?;
        let dir: Vec<f64> = system
            .solve(params.damping, &g)?
            .iter()
            .map(|v| -v)
            .collect();
        let slope: f64 = dir.iter().zip(&g).map(|(a, b)| a * b).sum();
        match backtrack(&counted, &x, f, slope, &dir, 1.0, params.armijo, &mut xt) {
            Some(_) => std::mem::swap(&mut x, &mut xt),
            None => {
                stop = StopReason::Stalled;
                break;
            }
        }
        f = counted.gradient(&x, &mut g);
        rec.record(it, f, norm(&g));
    }
    if norm(&g) <= params.grad_tol {
        stop = StopReason::Converged;
    }
    Ok(rec.finish(x, stop))
}

/// Parameters of [`gradient_descent`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GdParams {
    /// Fixed step (e.g. `1/L`); `None`: Armijo backtracking, starting each iteration from twice
    /// the last accepted step.
    pub step: Option<f64>,
    /// Stop when `‖∇f‖ ≤ grad_tol`.
    pub grad_tol: f64,
    /// Iteration limit (= gradient evaluations).
    pub max_iters: usize,
    /// Armijo constant.
    pub armijo: f64,
}

impl Default for GdParams {
    fn default() -> Self {
        Self {
            step: None,
            grad_tol: 1e-8,
            max_iters: 100_000,
            armijo: 1e-4,
        }
    }
}

/// Gradient descent with a fixed step or Armijo backtracking (one gradient per iteration;
/// backtracking adds function values only).
///
/// Errors: a bad start point, a non-positive fixed step.
pub fn gradient_descent(
    obj: &dyn Objective,
    x0: &[f64],
    params: &GdParams,
    monitor: &mut dyn Monitor,
) -> Result<OptimResult, SecondOrderError> {
    check_start(obj, x0, params.grad_tol)?;
    if let Some(t) = params.step
        && !(t > 0.0 && t.is_finite())
    {
        return Err(SecondOrderError::InvalidParameter(format!(
            "step must be positive, got {t}"
        )));
    }
    let counted = Counted::new(obj);
    let mut rec = Recorder::new(&counted, monitor);
    let d = obj.dim();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; d];
    let mut f = counted.gradient(&x, &mut g);
    let mut xt = vec![0.0; d];
    let mut t = 1.0;
    rec.record(0, f, norm(&g));
    let mut stop = StopReason::MaxIterations;
    for it in 1..=params.max_iters {
        let gn = norm(&g);
        if gn <= params.grad_tol {
            stop = StopReason::Converged;
            break;
        }
        let dir: Vec<f64> = g.iter().map(|v| -v).collect();
        match params.step {
            Some(step) => {
                for ((o, xi), di) in xt.iter_mut().zip(&x).zip(&dir) {
                    *o = xi + step * di;
                }
                std::mem::swap(&mut x, &mut xt);
            }
            None => match backtrack(
                &counted,
                &x,
                f,
                -gn * gn,
                &dir,
                2.0 * t,
                params.armijo,
                &mut xt,
            ) {
                Some((ts, _)) => {
                    t = ts;
                    std::mem::swap(&mut x, &mut xt);
                }
                None => {
                    stop = StopReason::Stalled;
                    break;
                }
            },
        }
        f = counted.gradient(&x, &mut g);
        rec.record(it, f, norm(&g));
    }
    if norm(&g) <= params.grad_tol {
        stop = StopReason::Converged;
    }
    Ok(rec.finish(x, stop))
}
