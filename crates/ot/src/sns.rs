//! Sinkhorn-Newton-Sparse (Tang et al., ICLR 2024): a short Sinkhorn warm-up, then
//! Newton steps on the concave dual with a sparsified Hessian.
//!
//! Dual `D(f, g) = aᵀf + bᵀg − (1/η) Σ P_ij`, `P = exp(η(f ⊕ g − C))`, gradient
//! `(a − P1, b − Pᵀ1)`, Hessian `−η [[diag(P1), P], [Pᵀ, diag(Pᵀ1)]]`. Each Newton step
//!
//! 1. keeps the `⌈density · max(n, m)⌉` largest entries of `P` (density `λ/n` of the paper;
//!    doubled after any step that fails to halve the error), with the exact diagonals `P1`,
//!    `Pᵀ1`; the kept block `P_s` is symmetric positive
//!    definite in the Hessian once one potential is fixed (`Δg_m = 0`: the Hessian's null
//!    direction `(1, −1)` is removed, the *consistent* system);
//! 2. eliminates `Δf` by the Schur complement `S = diag(Pᵀ1) − P_sᵀ diag(P1)⁻¹ P_s` (an
//!    M-matrix of size `m − 1`, weakly diagonally dominant) and solves `S Δg = r` with
//!    krylov's PCG (Jacobi), to a relative tolerance `min(0.1, √(err/mass))` (inexact Newton
//!    with a superlinear forcing term);
//! 3. backtracks from the full step until the Armijo condition holds on `D` or the marginal
//!    error decreases (near the solution `D` changes below rounding, the error does not).
//!
//! Cost per Newton step: one dense plan (`nm` exps) per line-search trial, an `O(nm)`
//! selection, and CG on an `(m−1)`-sized sparse system. Memory: two dense plans.
//!
//! For very small regularization (`η·range(C) > 2000`) the default η-continuation solves a
//! short sequence of problems with growing `η` (factor 4), each warm-starting the next: at
//! n = 60, η = 20,000 the single stage stalls at marginal error 0.14 after 220 iterations, the
//! continuation converges to 1e-11 in 63 (20 Sinkhorn + 43 Newton).

use crate::costs::{self, CloudCosts, Costs, finish_implicit, plan_row, plan_sums};
use crate::error::OtError;
use crate::kernels;
use crate::problem::OtProblem;
use crate::sinkhorn::{LogState, Tracker, stabilized_iterations};
use crate::solution::{OtSolution, RunRecord, SnsStats, StopReason, finish_entropic, l1_dist};
use rayon::prelude::*;
use ritz_krylov::precond::Jacobi;
use ritz_krylov::{Monitor, SolveParams, pcg};
use ritz_linalg::{CsrMatrix, LinearOperator};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Parameters of [`sinkhorn_newton_sparse`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SnsParams {
    /// Inverse regularization `η`.
    pub eta: f64,
    /// Stop when `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ ≤ tol`.
    pub tol: f64,
    /// Stage-1 log-domain Sinkhorn iterations (the paper uses 20).
    pub sinkhorn_iters: usize,
    /// Stage-2 Newton step limit.
    pub max_newton_iters: usize,
    /// Kept off-diagonal Hessian entries: `⌈density · max(n, m)⌉` in all (the paper's `λ`,
    /// 2 for easy and 15 for hard cases; 15 by default). Doubled whenever a Newton step
    /// reduces the marginal error by less than half.
    pub density: f64,
    /// The CG solve of each Newton step (inexact Newton): its relative tolerance is
    /// `√(marginal error / mass)`, clamped to `[1e-12, cg.rtol]`; `max_iters` and `dtol` apply
    /// as given. Default: `rtol` 0.1, 1 000 iterations.
    pub cg: SolveParams,
    /// Armijo constant of the backtracking line search.
    pub armijo: f64,
    /// Step halvings before the line search gives up (then one Sinkhorn iteration is taken).
    pub max_backtracks: usize,
    /// Optional wall-clock limit in seconds.
    pub time_limit_s: Option<f64>,
    /// η-continuation for very small regularization: `Some(q)` solves at `η/qᵏ, …, η/q, η`
    /// (each stage to 10⁻⁶ relative marginal error, warm-starting the next), starting where
    /// `η·range(C) ≤ 2000`. Default `Some(4)`: below that threshold (the paper's cases, e.g.
    /// η = 1200 with costs in [0, 1]) it is the paper's single stage; above it, a 20-step
    /// warm-up no longer reaches Newton's fast region and the single stage stalls. `None`
    /// forces the single stage.
    pub continuation: Option<f64>,
    /// Cap of the doubled density: at most `⌈max_density · max(n, m)⌉` kept entries (the
    /// sparse Hessian's memory: 24 bytes per entry with its transpose). `None` (default): no
    /// cap when the costs are stored (the dense plans are there anyway), 64 when they are
    /// computed on the fly ([`sns_on_the_fly`]). When two Newton steps in a row at the cap
    /// fail to halve the marginal error, the stage finishes with log-domain Sinkhorn (an
    /// entropic plan too dense for the cap: Newton with a truncated Hessian converges more
    /// slowly than Sinkhorn there); [`SnsStats::fallback_sinkhorn_iterations`] counts them.
    pub max_density: Option<f64>,
    /// Iteration limit of that Sinkhorn fallback.
    pub fallback_max_iters: usize,
}

impl Default for SnsParams {
    fn default() -> Self {
        Self {
            eta: 100.0,
            tol: 1e-9,
            sinkhorn_iters: 20,
            max_newton_iters: 200,
            density: 15.0,
            cg: SolveParams {
                rtol: 0.1,
                atol: 0.0,
                max_iters: 1_000,
                ..Default::default()
            },
            armijo: 1e-4,
            max_backtracks: 40,
            time_limit_s: None,
            continuation: Some(4.0),
            max_density: None,
            fallback_max_iters: 100_000,
        }
    }
}

impl SnsParams {
    /// Errors on non-positive `η`, density or limits, and NaN tolerances.
    pub fn validate(&self) -> Result<(), OtError> {
        let bad = |msg: String| Err(OtError::InvalidParameter(msg));
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            return bad(format!("η must be positive and finite, got {}", self.eta));
        }
        if self.tol.is_nan() || self.tol < 0.0 {
            return bad(format!("tol must be ≥ 0, got {}", self.tol));
        }
        if !(self.density > 0.0 && self.density.is_finite()) {
            return bad(format!("density must be positive, got {}", self.density));
        }
        if let Some(d) = self.max_density
            && (d.is_nan() || d <= 0.0)
        {
            return bad(format!("max_density must be positive, got {d}"));
        }
        if !(self.armijo > 0.0 && self.armijo < 0.5) {
            return bad(format!("armijo must lie in (0, 0.5), got {}", self.armijo));
        }
        if self.max_newton_iters == 0 {
            return bad("max_newton_iters must be ≥ 1".into());
        }
        self.cg
            .validate()
            .map_err(|e| OtError::InvalidParameter(format!("cg: {e}")))?;
        if let Some(t) = self.time_limit_s
            && (t.is_nan() || t <= 0.0)
        {
            return bad(format!("time limit must be positive, got {t}"));
        }
        if let Some(q) = self.continuation
            && (q.is_nan() || q <= 1.0 || q.is_infinite())
        {
            return bad(format!("continuation factor must be > 1, got {q}"));
        }
        Ok(())
    }
}

/// The Schur complement `S = diag(d2) − P_sᵀ diag(d1)⁻¹ P_s` on the first `m − 1` target
/// potentials, applied matrix-free. Cost per apply: two sparse mat-vecs.
struct Schur {
    d1_inv: Vec<f64>,
    d2: Vec<f64>,
    ps: CsrMatrix,
    pst: CsrMatrix,
    /// `diag(d1)⁻¹ P_s x`, reused across applications (CG calls `apply` every iteration).
    scratch: std::sync::Mutex<Vec<f64>>,
}

impl LinearOperator for Schur {
    fn nrows(&self) -> usize {
        self.d2.len()
    }
    fn ncols(&self) -> usize {
        self.d2.len()
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let mut t = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        self.ps.apply(x, &mut t);
        t.iter_mut().zip(&self.d1_inv).for_each(|(t, d)| *t *= d);
        self.pst.apply(&t, y);
        for ((y, d), x) in y.iter_mut().zip(&self.d2).zip(x) {
            *y = d * x - *y;
        }
    }
    fn diagonal(&self) -> Option<Vec<f64>> {
        let mut d = self.d2.clone();
        for i in 0..self.d1_inv.len() {
            let (cols, vals) = self.ps.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                d[j as usize] -= v * v * self.d1_inv[i];
            }
        }
        Some(d.into_iter().map(|v| v.max(0.0)).collect())
    }
}

/// A dense plan with its sums and dual value.
struct PlanState {
    p: Vec<f64>,
    rows: Vec<f64>,
    cols: Vec<f64>,
    dual: f64,
    err: f64,
}

impl PlanState {
    /// A state that keeps the dense plan only when the costs are stored.
    fn new<C: Costs>(c: &C) -> Self {
        let (n, m) = (c.n(), c.m());
        Self {
            p: if c.stored() {
                vec![0.0; n * m]
            } else {
                Vec::new()
            },
            rows: vec![0.0; n],
            cols: vec![0.0; m],
            dual: 0.0,
            err: 0.0,
        }
    }
    fn eval<C: Costs>(&mut self, pr: &C, eta: f64, f: &[f64], g: &[f64]) {
        match pr.dense() {
            Some(cost) => {
                kernels::gibbs(cost, f, g, eta, &mut self.p);
                kernels::row_col_sums(&self.p, pr.m(), &mut self.rows, &mut self.cols);
            }
            None => {
                let s = plan_sums(pr, eta, f, g);
                (self.rows, self.cols) = (s.rows, s.cols);
            }
        }
        let total: f64 = self.rows.iter().sum();
        self.dual = kernels::dot(pr.source(), f) + kernels::dot(pr.target(), g) - total / eta;
        self.err = l1_dist(&self.rows, pr.source()) + l1_dist(&self.cols, pr.target());
        if !self.err.is_finite() {
            self.dual = f64::NEG_INFINITY;
            self.err = f64::INFINITY;
        }
    }
}

/// The sparsified off-diagonal block: about the `keep` largest entries of `P` outside the last
/// column, as an `n × (m − 1)` CSR matrix. The threshold is the matching order statistic of
/// a regular sample of about `8·keep` entries (exact when that is all of them), so the cost is
/// one compare pass plus a selection on the sample. Without a stored plan (`cur.p` empty) the
/// entries are recomputed from the potentials: the sample entry by entry, then one pass over
/// the plan's rows.
fn sparsify<C: Costs>(
    pr: &C,
    cur: &PlanState,
    eta: f64,
    f: &[f64],
    g: &[f64],
    keep: usize,
) -> CsrMatrix {
    let (n, m) = (pr.n(), pr.m());
    let total = n * (m - 1);
    let keep = keep.clamp(1, total.max(1));
    // About 8 samples per kept entry, at most 2^20 (8 MB): enough for the order statistic.
    let stride = (total / (8 * keep).min(1 << 20)).max(1);
    let entry = |k: usize| {
        let (i, j) = (k / (m - 1), k % (m - 1));
        if cur.p.is_empty() {
            (eta * (f[i] + g[j] - pr.entry(i, j))).exp()
        } else {
            cur.p[i * m + j]
        }
    };
    let mut sample: Vec<f64> = (0..total).step_by(stride).map(entry).collect();
    let rank = (keep * sample.len())
        .div_ceil(total)
        .clamp(1, sample.len().max(1));
    let rho = if sample.is_empty() {
        f64::INFINITY
    } else {
        let (_, kth, _) = sample.select_nth_unstable_by(rank - 1, |a, b| b.total_cmp(a));
        *kth
    };
    let mut row_ptr = Vec::with_capacity(n + 1);
    let mut col_idx = Vec::with_capacity(2 * keep + n);
    let mut values = Vec::with_capacity(2 * keep + n);
    row_ptr.push(0);
    if cur.p.is_empty() {
        // Rows in parallel, each keeping its entries above the threshold.
        let kept: Vec<(Vec<u32>, Vec<f64>)> = (0..n)
            .into_par_iter()
            .with_min_len(8)
            .map_init(
                || (costs::buffer(pr, false), vec![0.0; m]),
                |(buf, prow), i| {
                    let crow = pr.row(i, buf);
                    plan_row(crow, f[i], g, eta, prow);
                    let mut out = (Vec::new(), Vec::new());
                    for (j, &v) in prow[..m - 1].iter().enumerate() {
                        if v >= rho && v > 0.0 {
                            out.0.push(j as u32);
                            out.1.push(v);
                        }
                    }
                    out
                },
            )
            .collect();
        for (c, v) in kept {
            col_idx.extend(c);
            values.extend(v);
            row_ptr.push(col_idx.len());
        }
    } else {
        for i in 0..n {
            for (j, &v) in cur.p[i * m..i * m + m - 1].iter().enumerate() {
                if v >= rho && v > 0.0 {
                    col_idx.push(j as u32);
                    values.push(v);
                }
            }
            row_ptr.push(col_idx.len());
        }
    }
    CsrMatrix::from_csr(n, m - 1, row_ptr, col_idx, values)
        .expect("finite entries, increasing columns")
}

/// Sinkhorn-Newton-Sparse from zero potentials. Iterations in the result: warm-up Sinkhorn
/// iterations plus Newton steps (see [`SnsStats`] for the split, CG iterations and line-search
/// trials).
///
/// Cost: see the module docs; typically tens of dense plan evaluations in all. Errors: invalid
/// parameters. Non-convergence is a stop reason ([`StopReason::Stalled`] when no step makes
/// progress in floating point).
pub fn sinkhorn_newton_sparse(
    problem: &OtProblem,
    params: &SnsParams,
    monitor: &mut dyn Monitor,
) -> Result<OtSolution, OtError> {
    params.validate()?;
    // The current and trial plans, and the final one.
    crate::problem::check_dense(
        "Sinkhorn-Newton-Sparse's plans",
        problem.n(),
        problem.m(),
        3,
    )?;
    let start = Instant::now();
    let support = problem.without_empty_bins();
    let pr = support.as_ref().map_or(problem, |s| &s.2);
    // Stage 1 with the stabilized scaling form: the same iterates as log-domain Sinkhorn, at
    // mat-vec instead of exp cost.
    let (f, g, rec) = sns_run(pr, params, monitor, start, |p, eta, iters, tr| {
        stabilized_iterations(p, eta, iters, tr)
    });
    Ok(finish_entropic(
        problem,
        support.as_ref(),
        params.eta,
        &f,
        &g,
        rec,
    ))
}

/// Sinkhorn-Newton-Sparse on costs computed on the fly ([`CloudCosts`]): the method of
/// [`sinkhorn_newton_sparse`] without any `n × m` array — the warm-up runs log-domain
/// Sinkhorn, each plan evaluation is one pass over the costs, the sparsified Hessian is
/// picked from a sample and one more pass. The plan in the result is implicit (given by the
/// potentials, [`crate::TransportPlan::implicit`]).
///
/// Cost per Newton step: one pass (`n·m` exps) per line-search trial plus one for the
/// sparsification, CG on the sparse Schur system. Memory: `O((n + m)·d)` plus the sparse
/// Hessian (`density · max(n, m)` entries, doubled on slow steps) and a sample of 8× its
/// size. Errors: invalid parameters.
///
/// ```
/// use ritz_ot::{CostScale, PointClouds, SnsParams, costs::CloudCosts, sns::sns_on_the_fly};
/// let clouds = PointClouds::clustered(400, 300, 2, 0)?;
/// let costs = CloudCosts::new(clouds, "sqeuclidean".parse()?, CostScale::Max)?;
/// let s = sns_on_the_fly(&costs, &SnsParams { eta: 100.0, tol: 1e-9, ..Default::default() }, &mut ())?;
/// assert!(s.marginal_error() <= 1e-9 && s.plan.is_implicit());
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn sns_on_the_fly(
    costs: &CloudCosts,
    params: &SnsParams,
    monitor: &mut dyn Monitor,
) -> Result<OtSolution, OtError> {
    params.validate()?;
    let start = Instant::now();
    let (f, g, rec) = sns_run(costs, params, monitor, start, |p, eta, iters, tr| {
        let mut st = LogState::new(p, vec![0.0; p.n()], vec![0.0; p.m()]);
        let (it, stop) = st.iterate(p, eta, 0, iters, false, tr);
        (st.f, st.g, it, stop)
    });
    Ok(finish_implicit(costs, params.eta, f, g, rec))
}

/// The method on any costs without empty bins: the η-continuation stages, each a warm-up
/// (`stage1`, first stage only) and Newton steps. Returns the potentials and the record.
fn sns_run<C: Costs>(
    pr: &C,
    params: &SnsParams,
    monitor: &mut dyn Monitor,
    start: Instant,
    stage1: impl FnOnce(&C, f64, usize, &mut Tracker) -> (Vec<f64>, Vec<f64>, usize, StopReason),
) -> (Vec<f64>, Vec<f64>, RunRecord) {
    let eta = params.eta;
    let (n, m) = (pr.n(), pr.m());
    let max_iters = params.sinkhorn_iters + params.max_newton_iters;
    let mut stats = SnsStats::default();
    // η-continuation: the stages η/qᵏ, …, η/q, η, starting where η·range(C) ≤ 2000.
    let mut etas = vec![eta];
    if let Some(q) = params.continuation {
        let (lo, hi) = pr.range();
        let range = (hi - lo).max(f64::MIN_POSITIVE);
        while etas[0] * range > CONTINUATION_START {
            etas.insert(0, etas[0] / q);
        }
    }
    let mut history = Vec::new();
    let mut it = 0;
    let mut stop = None;
    let (mut f, mut g) = (vec![0.0; n], vec![0.0; m]);
    let mut stage1 = Some(stage1);
    for (k, &stage_eta) in etas.iter().enumerate() {
        let last = k + 1 == etas.len();
        let tol = if last {
            params.tol
        } else {
            STAGE_TOL * pr.mass()
        };
        let mut tr = Tracker::new(start, tol, params.time_limit_s, &mut *monitor);
        if k == 0
            && params.sinkhorn_iters > 0
            && let Some(warm_up) = stage1.take()
        {
            let (f1, g1, reached, s) = warm_up(pr, stage_eta, params.sinkhorn_iters, &mut tr);
            (f, g, it) = (f1, g1, reached);
            stats.sinkhorn_iterations = reached;
            if s != StopReason::MaxIterations {
                stop = Some(s);
            }
        }
        if stop.is_none() || !last {
            let (reached, s) = newton_stage(
                pr, stage_eta, &mut f, &mut g, params, it, max_iters, &mut tr, &mut stats, start,
            );
            it = reached;
            stop = Some(s);
        }
        // Keep one entry per iteration (a stage's start repeats the previous state).
        for h in tr.history.drain(..) {
            if history
                .last()
                .is_none_or(|l: &crate::solution::HistoryEntry| l.iteration < h.iteration)
            {
                history.push(h);
            }
        }
        if matches!(
            stop,
            Some(StopReason::TimeLimit | StopReason::MaxIterations)
        ) {
            break;
        }
        if !last {
            stop = None;
        }
    }
    stats.sinkhorn_iterations = stats.sinkhorn_iterations.min(it);
    let rec = RunRecord {
        iterations: it,
        history,
        stop: stop.unwrap_or(StopReason::MaxIterations),
        start,
        sns: Some(stats),
    };
    (f, g, rec)
}

/// Default cap of the Hessian density on the fly (see [`SnsParams::max_density`]).
const ON_THE_FLY_MAX_DENSITY: f64 = 64.0;

/// `η·range(C)` below which the continuation's first stage starts (a 20-step Sinkhorn
/// warm-up lands in Newton's fast region there).
const CONTINUATION_START: f64 = 2000.0;
/// Marginal error (relative to the mass) at which an intermediate continuation stage stops.
const STAGE_TOL: f64 = 1e-6;

/// Newton steps at one `η` from `(f, g)` until `tracker` stops them; returns the iteration
/// count reached and the stop reason.
fn newton_stage<C: Costs>(
    pr: &C,
    eta: f64,
    f: &mut Vec<f64>,
    g: &mut Vec<f64>,
    params: &SnsParams,
    it0: usize,
    max_iters: usize,
    tr: &mut Tracker,
    stats: &mut SnsStats,
    start: Instant,
) -> (usize, StopReason) {
    let (n, m) = (pr.n(), pr.m());
    let mut it = it0;
    let mut cur = PlanState::new(pr);
    let mut trial = PlanState::new(pr);
    cur.eval(pr, eta, f, g);
    let mut stop = tr.record(it, cur.err, max_iters);
    let max_density = match params.max_density {
        Some(d) => d,
        None if pr.stored() => f64::INFINITY,
        None => ON_THE_FLY_MAX_DENSITY,
    };
    let cap = (max_density.max(params.density) * n.max(m) as f64)
        .ceil()
        .min(usize::MAX as f64) as usize;
    let mut slow_at_cap = 0;
    let mut keep = (params.density * n.max(m) as f64).ceil() as usize;
    let mut df = vec![0.0; n];
    let mut dg = vec![0.0; m];
    let mut ft = vec![0.0; n];
    let mut gt = vec![0.0; m];
    while stop.is_none() {
        let grad_f: Vec<f64> = pr
            .source()
            .iter()
            .zip(&cur.rows)
            .map(|(a, r)| a - r)
            .collect();
        let grad_g: Vec<f64> = pr
            .target()
            .iter()
            .zip(&cur.cols)
            .map(|(b, c)| b - c)
            .collect();
        let accepted = m > 1 && {
            newton_direction(
                pr,
                eta,
                &cur,
                (f.as_slice(), g.as_slice()),
                &grad_f,
                &grad_g,
                keep,
                params,
                &mut df,
                &mut dg,
                stats,
            );
            let slope = kernels::dot(&grad_f, &df) + kernels::dot(&grad_g, &dg);
            let mut alpha = 1.0;
            let mut ok = false;
            for _ in 0..=params.max_backtracks {
                for (t, (x, d)) in ft.iter_mut().zip(f.iter().zip(&df)) {
                    *t = x + alpha * d;
                }
                for (t, (x, d)) in gt.iter_mut().zip(g.iter().zip(&dg)) {
                    *t = x + alpha * d;
                }
                trial.eval(pr, eta, &ft, &gt);
                stats.line_search_trials += 1;
                if trial.dual >= cur.dual + params.armijo * alpha * slope || trial.err < cur.err {
                    ok = true;
                    break;
                }
                alpha *= 0.5;
            }
            ok
        };
        if accepted {
            if trial.err > 0.5 * cur.err {
                // Slow progress: the sparsified Hessian misses mass; keep twice as much.
                slow_at_cap = if keep >= cap.min(n * m) {
                    slow_at_cap + 1
                } else {
                    0
                };
                keep = (2 * keep).min(cap).min(n * m);
            } else {
                slow_at_cap = 0;
            }
            std::mem::swap(f, &mut ft);
            std::mem::swap(g, &mut gt);
            std::mem::swap(&mut cur, &mut trial);
            stats.newton_iterations += 1;
            if slow_at_cap >= 2 && keep < n * m {
                // The plan is too dense for the cap: finish with log-domain Sinkhorn.
                it += 1;
                if let Some(s) = tr.record(it, cur.err, max_iters) {
                    return (it, s);
                }
                let mut st = LogState::new(pr, f.clone(), g.clone());
                let (reached, s) =
                    st.iterate(pr, eta, it, it + params.fallback_max_iters, false, tr);
                stats.fallback_sinkhorn_iterations += reached - it;
                *f = st.f;
                *g = st.g;
                return (reached, s);
            }
        } else {
            // No Newton progress: one Sinkhorn iteration instead, stall if it does not help.
            let before = cur.err;
            let mut st = LogState::new(pr, f.clone(), g.clone());
            let mut silent = ();
            let mut scratch = Tracker::new(start, 0.0, None, &mut silent);
            st.iterate(pr, eta, 0, 1, false, &mut scratch);
            *f = st.f;
            *g = st.g;
            cur.eval(pr, eta, f, g);
            if cur.err.is_nan() || cur.err >= before {
                it += 1;
                tr.record(it, cur.err, max_iters);
                return (it, StopReason::Stalled);
            }
        }
        it += 1;
        stop = tr.record(it, cur.err, max_iters);
    }
    (it, stop.unwrap_or(StopReason::MaxIterations))
}

/// Solves the sparsified Newton system for `(Δf, Δg)` (with `Δg_{m−1} = 0`).
fn newton_direction<C: Costs>(
    pr: &C,
    eta: f64,
    cur: &PlanState,
    (f, g): (&[f64], &[f64]),
    grad_f: &[f64],
    grad_g: &[f64],
    keep: usize,
    params: &SnsParams,
    df: &mut [f64],
    dg: &mut [f64],
    stats: &mut SnsStats,
) {
    let (n, m) = (pr.n(), pr.m());
    let ps = sparsify(pr, cur, eta, f, g, keep);
    stats.hessian_nnz.push(ps.nnz());
    let pst = ps.transpose();
    let d1_inv: Vec<f64> = cur
        .rows
        .iter()
        .map(|r| 1.0 / r.max(f64::MIN_POSITIVE))
        .collect();
    let schur = Schur {
        d2: cur.cols[..m - 1].to_vec(),
        d1_inv,
        scratch: std::sync::Mutex::new(vec![0.0; n]),
        ps,
        pst,
    };
    // (1/η)-scaled system: [[D1, Ps], [Psᵀ, D2]] (Δf, Δg) = (∇_f, ∇_g) / η.
    let rf: Vec<f64> = grad_f.iter().map(|v| v / eta).collect();
    let t: Vec<f64> = rf.iter().zip(&schur.d1_inv).map(|(r, d)| r * d).collect();
    let mut rhs = vec![0.0; m - 1];
    schur.pst.apply(&t, &mut rhs);
    for (r, gg) in rhs.iter_mut().zip(grad_g) {
        *r = gg / eta - *r;
    }
    let cg = SolveParams {
        rtol: (cur.err / pr.mass()).sqrt().max(1e-12).min(params.cg.rtol),
        ..params.cg
    };
    let mut x = vec![0.0; m - 1];
    if let Ok(jac) = Jacobi::new(&schur) {
        // Rounding can break PCG's positivity checks on a nearly singular S; the iterate so
        // far is still a useful direction (the line search safeguards it), so a breakdown is
        // not fatal: its partial result counts.
        stats.cg_iterations += match pcg(&schur, &jac, &rhs, &mut x, &cg, &mut ()) {
            Ok(info) => info.iterations,
            Err(e) => e.partial().map_or(0, |p| p.iteration),
        };
    }
    dg[..m - 1].copy_from_slice(&x);
    dg[m - 1] = 0.0;
    let mut psx = vec![0.0; n];
    schur.ps.apply(&x, &mut psx);
    for i in 0..n {
        df[i] = (rf[i] - psx[i]) * schur.d1_inv[i];
    }
}
