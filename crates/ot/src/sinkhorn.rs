//! The Sinkhorn family for entropic OT: scaling form, stabilized scaling form (absorption),
//! log-domain, and ε-scaling.
//!
//! All four alternate exact row and column projections (one *iteration* = one row update and
//! one column update) and stop on the marginal error `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ ≤ tol`. After a
//! column update the column marginals are exact, and the row sums needed by the next row
//! update are the row marginals, so the error is known after every iteration at no extra cost.
//!
//! | solver | cost per iteration | valid for |
//! |---|---|---|
//! | [`sinkhorn`] | 2 dense mat-vecs | `η·max C` below about 700 (else `exp(−ηC)` underflows: typed error) |
//! | [`sinkhorn_stabilized`] | 2 mat-vecs, `2nm` exps per absorption | any `η` |
//! | [`sinkhorn_log`] | `2nm` exps (vectorized) | any `η` |
//! | [`sinkhorn_epsilon_scaling`] | as `sinkhorn_log`, over a decreasing-ε schedule | any `η` |
//!
//! Zero-mass bins are removed before iterating and re-inserted with zero plan rows/columns.

use crate::costs::{CloudCosts, Costs, lse_lines};
use crate::error::OtError;
use crate::kernels;
use crate::problem::{OtProblem, check_dense};
use crate::solution::{HistoryEntry, OtSolution, RunRecord, StopReason, finish_entropic};
use ritz_krylov::Monitor;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Parameters shared by the Sinkhorn solvers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SinkhornParams {
    /// Inverse regularization `η` (POT's `reg = 1/η`); must be positive.
    pub eta: f64,
    /// Stop when `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ ≤ tol`.
    pub tol: f64,
    /// Iteration limit (≥ 1).
    pub max_iters: usize,
    /// Optional wall-clock limit in seconds.
    pub time_limit_s: Option<f64>,
}

impl Default for SinkhornParams {
    fn default() -> Self {
        Self {
            eta: 100.0,
            tol: 1e-9,
            max_iters: 100_000,
            time_limit_s: None,
        }
    }
}

impl SinkhornParams {
    /// Errors on `η ≤ 0`, NaN tolerances, or a zero iteration limit.
    pub fn validate(&self) -> Result<(), OtError> {
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            return Err(OtError::InvalidParameter(format!(
                "η must be positive and finite, got {}",
                self.eta
            )));
        }
        if self.tol.is_nan() || self.tol < 0.0 {
            return Err(OtError::InvalidParameter(format!(
                "tol must be ≥ 0, got {}",
                self.tol
            )));
        }
        if self.max_iters == 0 {
            return Err(OtError::InvalidParameter("max_iters must be ≥ 1".into()));
        }
        if let Some(t) = self.time_limit_s
            && (t.is_nan() || t <= 0.0)
        {
            return Err(OtError::InvalidParameter(format!(
                "time limit must be positive, got {t}"
            )));
        }
        Ok(())
    }
}

/// Bookkeeping shared by the iterations: history, monitor, time limit, stop test.
pub(crate) struct Tracker<'m> {
    pub start: Instant,
    pub history: Vec<HistoryEntry>,
    time_limit_s: Option<f64>,
    tol: f64,
    monitor: &'m mut dyn Monitor,
}

impl<'m> Tracker<'m> {
    pub fn new(
        start: Instant,
        tol: f64,
        time_limit_s: Option<f64>,
        monitor: &'m mut dyn Monitor,
    ) -> Self {
        Self {
            start,
            history: Vec::new(),
            time_limit_s,
            tol,
            monitor,
        }
    }
    /// Records iteration `it` with error `err`; returns the stop reason if it must stop.
    pub fn record(&mut self, it: usize, err: f64, max_iters: usize) -> Option<StopReason> {
        let elapsed_s = self.start.elapsed().as_secs_f64();
        self.history.push(HistoryEntry {
            iteration: it,
            marginal_error: err,
            elapsed_s,
        });
        self.monitor.observe(it, err);
        if err <= self.tol {
            Some(StopReason::Converged)
        } else if it >= max_iters {
            Some(StopReason::MaxIterations)
        } else if self.time_limit_s.is_some_and(|t| elapsed_s >= t) {
            Some(StopReason::TimeLimit)
        } else {
            None
        }
    }
}

/// Runs `run` on the problem without its zero-mass bins and expands the result.
fn with_support(
    problem: &OtProblem,
    eta: f64,
    run: impl FnOnce(&OtProblem) -> Result<(Vec<f64>, Vec<f64>, RunRecord), OtError>,
) -> Result<OtSolution, OtError> {
    let support = problem.without_empty_bins();
    let p = support.as_ref().map_or(problem, |s| &s.2);
    let (f, g, rec) = run(p)?;
    Ok(finish_entropic(problem, support.as_ref(), eta, &f, &g, rec))
}

/// Log-domain state: potentials and the two log-sum-exp buffers.
pub(crate) struct LogState {
    pub f: Vec<f64>,
    pub g: Vec<f64>,
    lse_r: Vec<f64>,
    lse_c: Vec<f64>,
    shift: Vec<f64>,
    log_a: Vec<f64>,
    log_b: Vec<f64>,
}

impl LogState {
    pub fn new<C: Costs>(p: &C, f: Vec<f64>, g: Vec<f64>) -> Self {
        Self {
            f,
            g,
            lse_r: vec![0.0; p.n()],
            lse_c: vec![0.0; p.m()],
            shift: vec![0.0; p.n().max(p.m())],
            log_a: p.source().iter().map(|v| v.ln()).collect(),
            log_b: p.target().iter().map(|v| v.ln()).collect(),
        }
    }

    /// Computes `lse_r_i = log Σ_j exp(η(g_j − C_ij))` and returns the row marginal error
    /// `Σ |exp(η f_i + lse_r_i) − a_i|` of the current potentials.
    pub(crate) fn row_pass<C: Costs>(&mut self, p: &C, eta: f64) -> f64 {
        let m = p.m();
        let shift = &mut self.shift[..m];
        shift
            .iter_mut()
            .zip(&self.g)
            .for_each(|(s, g)| *s = eta * g);
        lse_lines(p, false, shift, eta, &mut self.lse_r);
        self.lse_r
            .iter()
            .zip(&self.f)
            .zip(p.source())
            .map(|((l, f), a)| ((eta * f + l).exp() - a).abs())
            .sum()
    }

    /// Row update from the last `row_pass`, then a column update (columns become exact).
    pub(crate) fn update<C: Costs>(&mut self, p: &C, eta: f64) {
        for ((f, la), l) in self.f.iter_mut().zip(&self.log_a).zip(&self.lse_r) {
            *f = (la - l) / eta;
        }
        let n = p.n();
        let shift = &mut self.shift[..n];
        shift
            .iter_mut()
            .zip(&self.f)
            .for_each(|(s, f)| *s = eta * f);
        lse_lines(p, true, shift, eta, &mut self.lse_c);
        for ((g, lb), l) in self.g.iter_mut().zip(&self.log_b).zip(&self.lse_c) {
            *g = (lb - l) / eta;
        }
    }

    /// Runs log-domain iterations from the current potentials, numbered from `it0`, until
    /// `tracker` stops them or iteration `max_iters` is reached. The starting state is
    /// recorded only when `cols_exact` (its column marginals are exact, so the row error is
    /// the whole error). Returns the iteration reached and the stop reason. Cost per
    /// iteration: `2nm` exps.
    pub fn iterate<C: Costs>(
        &mut self,
        p: &C,
        eta: f64,
        it0: usize,
        max_iters: usize,
        cols_exact: bool,
        tracker: &mut Tracker,
    ) -> (usize, StopReason) {
        let mut it = it0;
        loop {
            let err = self.row_pass(p, eta);
            if (it > it0 || cols_exact)
                && let Some(stop) = tracker.record(it, err, max_iters)
            {
                return (it, stop);
            }
            if it >= max_iters {
                return (it, StopReason::MaxIterations);
            }
            self.update(p, eta);
            it += 1;
        }
    }
}

/// Log-domain Sinkhorn, stable for any `η` (log-sum-exp with the row maximum factored out).
/// Starts from zero potentials.
///
/// Cost: `2nm` exps and `4nm` flops per iteration, rayon-parallel over rows; memory: the
/// problem plus `O(n + m)`. Errors: invalid parameters. Non-convergence is
/// [`StopReason::MaxIterations`] / [`StopReason::TimeLimit`].
///
/// ```
/// use ritz_ot::{OtProblem, SinkhornParams, StopReason, sinkhorn_log};
/// let p = OtProblem::random_assignment(60, 0)?;
/// let params = SinkhornParams { eta: 50.0, tol: 1e-9, ..Default::default() };
/// let s = sinkhorn_log(&p, &params, &mut ())?;
/// assert_eq!(s.stop, StopReason::Converged);
/// assert!(s.marginal_error() <= 1e-9 && s.duality_gap().abs() < 1e-6);
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn sinkhorn_log(
    problem: &OtProblem,
    params: &SinkhornParams,
    monitor: &mut dyn Monitor,
) -> Result<OtSolution, OtError> {
    params.validate()?;
    check_dense("the transport plan", problem.n(), problem.m(), 1)?;
    let start = Instant::now();
    with_support(problem, params.eta, |p| {
        let mut st = LogState::new(p, vec![0.0; p.n()], vec![0.0; p.m()]);
        let mut tr = Tracker::new(start, params.tol, params.time_limit_s, &mut *monitor);
        let (it, stop) = st.iterate(p, params.eta, 0, params.max_iters, false, &mut tr);
        Ok((st.f, st.g, RunRecord::plain(it, tr.history, stop, start)))
    })
}

/// Log-domain Sinkhorn on costs computed on the fly ([`CloudCosts`]): the iteration of
/// [`sinkhorn_log`] without any `n × m` array. The plan in the result is implicit (given by
/// the potentials, [`crate::TransportPlan::implicit`]).
///
/// Cost per iteration: two passes over the costs (`2nm` exps and `nm·d` flops for the costs),
/// rayon-parallel; memory `O((n + m)·d)` plus a row buffer per thread. Errors: invalid
/// parameters.
///
/// ```
/// use ritz_ot::{CostScale, PointClouds, SinkhornParams, costs::CloudCosts, sinkhorn_log_on_the_fly};
/// let clouds = PointClouds::clustered(300, 200, 3, 0)?;
/// let costs = CloudCosts::new(clouds, "sqeuclidean".parse()?, CostScale::Max)?;
/// let params = SinkhornParams { eta: 50.0, tol: 1e-9, ..Default::default() };
/// let s = sinkhorn_log_on_the_fly(&costs, &params, &mut ())?;
/// assert!(s.marginal_error() <= 1e-9 && s.plan.is_implicit());
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn sinkhorn_log_on_the_fly(
    costs: &CloudCosts,
    params: &SinkhornParams,
    monitor: &mut dyn Monitor,
) -> Result<OtSolution, OtError> {
    params.validate()?;
    let start = Instant::now();
    let mut st = LogState::new(costs, vec![0.0; costs.n()], vec![0.0; costs.m()]);
    let mut tr = Tracker::new(start, params.tol, params.time_limit_s, &mut *monitor);
    let (it, stop) = st.iterate(costs, params.eta, 0, params.max_iters, false, &mut tr);
    let rec = RunRecord::plain(it, tr.history, stop, start);
    Ok(crate::costs::finish_implicit(
        costs, params.eta, st.f, st.g, rec,
    ))
}

/// Sinkhorn's scaling form (Sinkhorn–Knopp, POT's `sinkhorn`): `u = a ⊘ K v`, `v = b ⊘ Kᵀu`
/// with the Gibbs kernel `K = exp(−ηC)`.
///
/// Cost: `2nm` exps once, then two dense mat-vecs per iteration (the fastest iteration of the
/// family); memory: `K` and `Kᵀ` (`16nm` bytes). Errors: [`OtError::KernelUnderflow`] when
/// a row or column of `K` underflows to zero or the scalings overflow (large `η·C`: use
/// [`sinkhorn_stabilized`] or [`sinkhorn_log`]); invalid parameters.
///
/// ```
/// use ritz_ot::{OtProblem, SinkhornParams, sinkhorn};
/// let p = OtProblem::random_assignment(60, 0)?;
/// let params = SinkhornParams { eta: 50.0, tol: 1e-9, ..Default::default() };
/// let mut errors = Vec::new(); // a monitor: (iteration, marginal error)
/// let s = sinkhorn(&p, &params, &mut |_, e| errors.push(e))?;
/// assert_eq!(errors.len(), s.history.len());
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn sinkhorn(
    problem: &OtProblem,
    params: &SinkhornParams,
    monitor: &mut dyn Monitor,
) -> Result<OtSolution, OtError> {
    params.validate()?;
    check_dense(
        "the Gibbs kernel K, Kᵀ and the plan",
        problem.n(),
        problem.m(),
        3,
    )?;
    let start = Instant::now();
    let eta = params.eta;
    with_support(problem, eta, |p| {
        let (n, m) = (p.n(), p.m());
        let mut k = vec![0.0; n * m];
        let mut kt = vec![0.0; n * m];
        kernels::gibbs(p.cost(), &vec![0.0; n], &vec![0.0; m], eta, &mut k);
        kernels::gibbs(p.cost_t(), &vec![0.0; m], &vec![0.0; n], eta, &mut kt);
        let underflow = |detail: String| OtError::KernelUnderflow { eta, detail };
        if let Some(i) = (0..n).find(|&i| k[i * m..(i + 1) * m].iter().all(|&v| v == 0.0)) {
            return Err(underflow(format!("row {i} of exp(-ηC) is zero")));
        }
        if let Some(j) = (0..m).find(|&j| kt[j * n..(j + 1) * n].iter().all(|&v| v == 0.0)) {
            return Err(underflow(format!("column {j} of exp(-ηC) is zero")));
        }
        let mut u = vec![1.0; n];
        let mut v = vec![1.0; m];
        let mut kv = vec![0.0; n];
        let mut ktu = vec![0.0; m];
        let mut tr = Tracker::new(start, params.tol, params.time_limit_s, &mut *monitor);
        let mut it = 0;
        let stop = loop {
            kernels::matvec(&k, m, &v, &mut kv);
            if it > 0 {
                let err: f64 = (0..n).map(|i| (u[i] * kv[i] - p.source()[i]).abs()).sum();
                if let Some(s) = tr.record(it, err, params.max_iters) {
                    break s;
                }
            }
            for i in 0..n {
                u[i] = p.source()[i] / kv[i];
            }
            kernels::matvec(&kt, n, &u, &mut ktu);
            for j in 0..m {
                v[j] = p.target()[j] / ktu[j];
            }
            if let Some(i) = u.iter().chain(&v).position(|x| !x.is_finite() || *x == 0.0) {
                return Err(underflow(format!(
                    "scaling {} overflowed or underflowed at iteration {}",
                    i,
                    it + 1
                )));
            }
            it += 1;
        };
        let f = u.iter().map(|x| x.ln() / eta).collect();
        let g = v.iter().map(|x| x.ln() / eta).collect();
        Ok((f, g, RunRecord::plain(it, tr.history, stop, start)))
    })
}

/// Scalings beyond `[1/ABSORB, ABSORB]` are absorbed into the potentials.
const ABSORB: f64 = 1e30;

/// Stabilized scaling form (Schmitzer's absorption; POT's `sinkhorn_stabilized`): the plan is
/// `diag(u) K̃ diag(v)` with `K̃ = exp(η(f ⊕ g − C))`; when a scaling leaves `[10⁻³⁰, 10³⁰]`
/// it is absorbed into the potentials `(f, g)` and `K̃` is rebuilt. Starts with one log-domain
/// iteration, so every row and column of `K̃` carries its mass.
///
/// Cost: two dense mat-vecs per iteration plus `2nm` exps per absorption (rare once the
/// potentials settle); memory `16nm` bytes. Any `η`. Errors: invalid parameters.
///
/// ```
/// use ritz_ot::{OtProblem, SinkhornParams, sinkhorn_stabilized};
/// let p = OtProblem::random_assignment(60, 0)?;
/// // η·C up to 1000: exp(−ηC) underflows for most entries; the absorbed form iterates on.
/// let params = SinkhornParams { eta: 1000.0, max_iters: 500, ..Default::default() };
/// let s = sinkhorn_stabilized(&p, &params, &mut ())?;
/// assert!(s.marginal_error() < 0.1 * s.history[0].marginal_error);
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn sinkhorn_stabilized(
    problem: &OtProblem,
    params: &SinkhornParams,
    monitor: &mut dyn Monitor,
) -> Result<OtSolution, OtError> {
    params.validate()?;
    check_dense(
        "the Gibbs kernel K, Kᵀ and the plan",
        problem.n(),
        problem.m(),
        3,
    )?;
    let start = Instant::now();
    with_support(problem, params.eta, |p| {
        let mut tr = Tracker::new(start, params.tol, params.time_limit_s, &mut *monitor);
        let (f, g, it, stop) = stabilized_iterations(p, params.eta, params.max_iters, &mut tr);
        Ok((f, g, RunRecord::plain(it, tr.history, stop, start)))
    })
}

/// The iterations of [`sinkhorn_stabilized`] from zero potentials (no empty bins): returns
/// `(f, g, iterations, stop)`.
pub(crate) fn stabilized_iterations(
    p: &OtProblem,
    eta: f64,
    max_iters: usize,
    tr: &mut Tracker,
) -> (Vec<f64>, Vec<f64>, usize, StopReason) {
    let (n, m) = (p.n(), p.m());
    let mut log = LogState::new(p, vec![0.0; n], vec![0.0; m]);
    let (mut it, stop) = log.iterate(p, eta, 0, 1, false, tr);
    // `iterate` with a limit of 1 stops after one update; go on unless it converged outright.
    if stop == StopReason::Converged || max_iters == 1 {
        return (log.f, log.g, it, stop);
    }
    tr.history.clear(); // the first entry is re-recorded below
    let mut k = vec![0.0; n * m];
    let mut kt = vec![0.0; n * m];
    let rebuild = |f: &[f64], g: &[f64], k: &mut [f64], kt: &mut [f64]| {
        kernels::gibbs(p.cost(), f, g, eta, k);
        kernels::gibbs(p.cost_t(), g, f, eta, kt);
    };
    rebuild(&log.f, &log.g, &mut k, &mut kt);
    let mut u = vec![1.0; n];
    let mut v = vec![1.0; m];
    let mut kv = vec![0.0; n];
    let mut ktu = vec![0.0; m];
    let absorb = |f: &mut [f64], g: &mut [f64], u: &mut [f64], v: &mut [f64]| {
        for (fi, ui) in f.iter_mut().zip(u.iter_mut()) {
            *fi += ui.ln() / eta;
            *ui = 1.0;
        }
        for (gj, vj) in g.iter_mut().zip(v.iter_mut()) {
            *gj += vj.ln() / eta;
            *vj = 1.0;
        }
    };
    let stop = loop {
        kernels::matvec(&k, m, &v, &mut kv);
        let err: f64 = (0..n).map(|i| (u[i] * kv[i] - p.source()[i]).abs()).sum();
        if let Some(s) = tr.record(it, err, max_iters) {
            break s;
        }
        if kv.iter().any(|&x| !(x > 0.0 && x.is_finite())) {
            // Underflow of a whole row of K̃: re-anchor with a log-domain iteration.
            absorb(&mut log.f, &mut log.g, &mut u, &mut v);
            log.row_pass(p, eta);
            log.update(p, eta);
            rebuild(&log.f, &log.g, &mut k, &mut kt);
            it += 1;
            continue;
        }
        for i in 0..n {
            u[i] = p.source()[i] / kv[i];
        }
        kernels::matvec(&kt, n, &u, &mut ktu);
        for j in 0..m {
            v[j] = p.target()[j] / ktu[j];
        }
        it += 1;
        let out = |x: &f64| !(*x > 1.0 / ABSORB && *x < ABSORB);
        if u.iter().any(out) || v.iter().any(out) {
            absorb(&mut log.f, &mut log.g, &mut u, &mut v);
            rebuild(&log.f, &log.g, &mut k, &mut kt);
        }
    };
    absorb(&mut log.f, &mut log.g, &mut u, &mut v);
    (log.f, log.g, it, stop)
}

/// The ε-scaling schedule of [`sinkhorn_epsilon_scaling`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpsilonScaling {
    /// First `η`; `None`: `10 / (max C − min C)` (a smooth, quickly solved problem).
    pub eta_start: Option<f64>,
    /// `η` grows by this factor per stage (> 1).
    pub factor: f64,
    /// Marginal error (relative to the mass) at which an intermediate stage stops.
    pub stage_tol: f64,
    /// Iteration limit of an intermediate stage.
    pub stage_max_iters: usize,
}

impl Default for EpsilonScaling {
    fn default() -> Self {
        Self {
            eta_start: None,
            factor: 4.0,
            stage_tol: 1e-4,
            stage_max_iters: 2_000,
        }
    }
}

/// Log-domain Sinkhorn with ε-scaling: solves a sequence of problems with `η` growing
/// geometrically from `schedule.eta_start` to `params.eta`, each warm-started from the last;
/// the final stage runs to `params.tol`. `iterations` and the history count every stage.
///
/// Cost: as [`sinkhorn_log`] per iteration. Errors: invalid parameters or schedule.
///
/// ```
/// use ritz_ot::{EpsilonScaling, OtProblem, SinkhornParams, sinkhorn_epsilon_scaling};
/// let p = OtProblem::random_assignment(60, 0)?;
/// let params = SinkhornParams { eta: 1000.0, tol: 1e-6, ..Default::default() };
/// let s = sinkhorn_epsilon_scaling(&p, &params, &EpsilonScaling::default(), &mut ())?;
/// assert!(s.marginal_error() <= 1e-6);
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn sinkhorn_epsilon_scaling(
    problem: &OtProblem,
    params: &SinkhornParams,
    schedule: &EpsilonScaling,
    monitor: &mut dyn Monitor,
) -> Result<OtSolution, OtError> {
    params.validate()?;
    check_dense(
        "the Gibbs kernel K, Kᵀ and the plan",
        problem.n(),
        problem.m(),
        3,
    )?;
    if !(schedule.factor > 1.0 && schedule.factor.is_finite()) {
        return Err(OtError::InvalidParameter(format!(
            "ε-scaling factor must be > 1, got {}",
            schedule.factor
        )));
    }
    if schedule.stage_tol.is_nan() || schedule.stage_tol < 0.0 || schedule.stage_max_iters == 0 {
        return Err(OtError::InvalidParameter(
            "ε-scaling stage_tol must be ≥ 0 and stage_max_iters ≥ 1".into(),
        ));
    }
    let start = Instant::now();
    with_support(problem, params.eta, |p| {
        let (lo, hi) = p
            .cost()
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &c| {
                (l.min(c), h.max(c))
            });
        let range = (hi - lo).max(f64::MIN_POSITIVE);
        let mut eta = schedule.eta_start.unwrap_or(10.0 / range).min(params.eta);
        if !(eta > 0.0 && eta.is_finite()) {
            return Err(OtError::InvalidParameter(format!(
                "ε-scaling eta_start must be positive, got {eta}"
            )));
        }
        let mut st = LogState::new(p, vec![0.0; p.n()], vec![0.0; p.m()]);
        let mut it = 0;
        let mut history = Vec::new();
        while eta < params.eta {
            let mut tr = Tracker::new(
                start,
                schedule.stage_tol * p.mass(),
                params.time_limit_s,
                &mut *monitor,
            );
            let limit = (it + schedule.stage_max_iters).min(params.max_iters);
            let (reached, stop) = st.iterate(p, eta, it, limit, false, &mut tr);
            history.append(&mut tr.history);
            it = reached;
            if stop == StopReason::TimeLimit || it >= params.max_iters {
                // Report the state honestly: its error refers to the intermediate η.
                return Ok((st.f, st.g, RunRecord::plain(it, history, stop, start)));
            }
            eta = (eta * schedule.factor).min(params.eta);
        }
        let mut tr = Tracker::new(start, params.tol, params.time_limit_s, &mut *monitor);
        let (reached, stop) = st.iterate(p, params.eta, it, params.max_iters, false, &mut tr);
        history.append(&mut tr.history);
        Ok((st.f, st.g, RunRecord::plain(reached, history, stop, start)))
    })
}
