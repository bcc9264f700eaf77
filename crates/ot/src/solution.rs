//! What every solver returns: the plan (dense, and sparse when it is sparse), dual potentials,
//! costs, marginal errors, and a per-iteration history with elapsed time.
//!
//! Conventions: for regularization `η` (POT's `reg = 1/η`) the entropic problem is
//! `min ⟨C,P⟩ + (1/η) Σ P_ij (log P_ij − 1)` over plans with marginals `(a, b)`; its dual is
//! `max aᵀf + bᵀg − (1/η) Σ exp(η(f_i + g_j − C_ij))`, and the plan of potentials `(f, g)` is
//! `P_ij = exp(η(f_i + g_j − C_ij))`. The marginal error is `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁`.

use crate::error::OtError;
use crate::kernels;
use crate::problem::OtProblem;
use ritz_linalg::CsrMatrix;
use serde::{Deserialize, Serialize};

/// Why a solver stopped: the stop vocabulary shared with the Krylov solvers and optimizers
/// (OT solvers stop with `Converged`, `MaxIterations`, `TimeLimit` or `Stalled`).
pub use ritz_krylov::StopReason;

/// One history entry, recorded after each iteration (Sinkhorn: a row and a column update;
/// Newton: one accepted step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Iteration count so far.
    pub iteration: usize,
    /// `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁` of the current potentials.
    pub marginal_error: f64,
    /// Seconds since the solver started (setup included).
    pub elapsed_s: f64,
}

/// A transport plan, dense (row-major `n × m`: the entropic solvers' plans) and/or sparse
/// (CSR: the exact solver's vertex plans, and entropic plans with at most 10 % of their
/// entries above `10⁻¹⁵ · max P`).
#[derive(Debug, Clone)]
pub struct TransportPlan {
    /// Rows (`n`).
    pub n: usize,
    /// Columns (`m`).
    pub m: usize,
    /// Row-major entries (`None` for a plan held sparse only).
    pub dense: Option<Vec<f64>>,
    /// The non-zeros (for a dense plan: those above `10⁻¹⁵ · max P`, when they are few).
    pub sparse: Option<CsrMatrix>,
    /// Mass of the dense entries left out of `sparse` (0 when it is `None` or exact).
    pub sparse_dropped_mass: f64,
}

impl TransportPlan {
    /// Wraps a dense plan and builds the sparse form when the plan is sparse.
    pub fn new(n: usize, m: usize, dense: Vec<f64>) -> Self {
        let max = dense.iter().cloned().fold(0.0, f64::max);
        let cut = 1e-15 * max;
        let nnz = dense.iter().filter(|&&v| v > cut).count();
        let (sparse, dropped) = if nnz * 10 <= n * m && max > 0.0 {
            let mut row_ptr = Vec::with_capacity(n + 1);
            let mut col_idx = Vec::with_capacity(nnz);
            let mut values = Vec::with_capacity(nnz);
            let mut dropped = 0.0;
            row_ptr.push(0);
            for i in 0..n {
                for j in 0..m {
                    let v = dense[i * m + j];
                    if v > cut {
                        col_idx.push(j as u32);
                        values.push(v);
                    } else {
                        dropped += v;
                    }
                }
                row_ptr.push(col_idx.len());
            }
            (
                CsrMatrix::from_csr(n, m, row_ptr, col_idx, values).ok(),
                dropped,
            )
        } else {
            (None, 0.0)
        };
        Self {
            n,
            m,
            dense: Some(dense),
            sparse,
            sparse_dropped_mass: dropped,
        }
    }

    /// A plan held sparse only (no `n × m` array).
    pub fn from_sparse(plan: CsrMatrix) -> Self {
        use ritz_linalg::LinearOperator;
        Self {
            n: plan.nrows(),
            m: plan.ncols(),
            dense: None,
            sparse: Some(plan),
            sparse_dropped_mass: 0.0,
        }
    }

    /// A plan held by neither form: an entropic plan on costs computed on the fly, given by
    /// the solution's potentials (`P_ij = exp(η (f_i + g_j − C_ij))`). `get` returns 0 and
    /// `to_dense` an error for it.
    pub fn implicit(n: usize, m: usize) -> Self {
        Self {
            n,
            m,
            dense: None,
            sparse: None,
            sparse_dropped_mass: 0.0,
        }
    }

    /// True for a plan that is neither dense nor sparse ([`TransportPlan::implicit`]).
    pub fn is_implicit(&self) -> bool {
        self.dense.is_none() && self.sparse.is_none()
    }

    /// Entry `P_ij`. Cost: O(1) dense, O(log row length) sparse.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        match (&self.dense, &self.sparse) {
            (Some(d), _) => d[i * self.m + j],
            (None, Some(s)) => s.get(i, j),
            (None, None) => 0.0,
        }
    }

    /// Number of entries that are not zero.
    pub fn nnz(&self) -> usize {
        match (&self.dense, &self.sparse) {
            (Some(d), _) => d.iter().filter(|&&v| v != 0.0).count(),
            (None, Some(s)) => s.values().iter().filter(|&&v| v != 0.0).count(),
            (None, None) => 0,
        }
    }

    /// Calls `visit(i, j, P_ij)` on every stored entry (all `n · m` of a dense plan), rows
    /// in order.
    pub fn for_each(&self, mut visit: impl FnMut(usize, usize, f64)) {
        match (&self.dense, &self.sparse) {
            (Some(d), _) => {
                for (k, &v) in d.iter().enumerate() {
                    visit(k / self.m, k % self.m, v);
                }
            }
            (None, Some(s)) => {
                for i in 0..self.n {
                    let (cols, vals) = s.row(i);
                    for (&j, &v) in cols.iter().zip(vals) {
                        visit(i, j as usize, v);
                    }
                }
            }
            (None, None) => {}
        }
    }

    /// The row-major `n × m` array (a copy; built from the sparse form when there is no
    /// dense one). Errors when it would not fit in memory.
    pub fn to_dense(&self) -> Result<Vec<f64>, OtError> {
        if let Some(d) = &self.dense {
            return Ok(d.clone());
        }
        if self.is_implicit() {
            return Err(OtError::InvalidParameter(
                "the plan is implicit (costs computed on the fly): evaluate it from the potentials"
                    .into(),
            ));
        }
        crate::problem::check_dense("the dense plan", self.n, self.m, 1)?;
        let mut d = vec![0.0; self.n * self.m];
        self.for_each(|i, j, v| d[i * self.m + j] = v);
        Ok(d)
    }
}

/// Statistics specific to Sinkhorn-Newton-Sparse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnsStats {
    /// Sinkhorn warm-up iterations (stage 1).
    pub sinkhorn_iterations: usize,
    /// Accepted Newton steps (stage 2).
    pub newton_iterations: usize,
    /// CG iterations summed over the Newton steps.
    pub cg_iterations: usize,
    /// Trial points evaluated by the line searches (each costs one dense plan).
    pub line_search_trials: usize,
    /// Off-diagonal non-zeros of each sparsified Hessian.
    pub hessian_nnz: Vec<usize>,
    /// Log-domain Sinkhorn iterations after Newton stalled at the Hessian's density cap
    /// ([`crate::SnsParams::max_density`]); 0 when Newton finished the job.
    #[serde(default)]
    pub fallback_sinkhorn_iterations: usize,
}

/// A solver's result.
#[derive(Debug, Clone)]
pub struct OtSolution {
    /// The transport plan.
    pub plan: TransportPlan,
    /// Source potential `f` (length `n`). For an empty source bin: its (soft) c-transform.
    pub f: Vec<f64>,
    /// Target potential `g` (length `m`).
    pub g: Vec<f64>,
    /// The regularization `η`, or `None` for the exact solver.
    pub eta: Option<f64>,
    /// `⟨C, P⟩`.
    pub transport_cost: f64,
    /// `⟨C, P⟩ + (1/η) Σ P (log P − 1)` (equals `transport_cost` for the exact solver).
    pub entropic_cost: f64,
    /// The dual objective at `(f, g)`; `entropic_cost − dual_value` is the duality gap.
    pub dual_value: f64,
    /// `‖P1 − a‖₁`.
    pub source_marginal_error: f64,
    /// `‖Pᵀ1 − b‖₁`.
    pub target_marginal_error: f64,
    /// Total iterations (for SNS: Sinkhorn warm-up + Newton steps).
    pub iterations: usize,
    /// Per-iteration marginal error and elapsed time.
    pub history: Vec<HistoryEntry>,
    /// Why it stopped.
    pub stop: StopReason,
    /// Wall time of the whole call, seconds.
    pub elapsed_s: f64,
    /// SNS details (`None` for the other solvers).
    pub sns: Option<SnsStats>,
}

impl OtSolution {
    /// `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁`.
    pub fn marginal_error(&self) -> f64 {
        self.source_marginal_error + self.target_marginal_error
    }
    /// `entropic_cost − dual_value` (≥ 0 up to rounding for a feasible plan; → 0 at the
    /// optimum).
    pub fn duality_gap(&self) -> f64 {
        self.entropic_cost - self.dual_value
    }
}

/// The iteration-independent pieces of a result, filled in by [`finish_entropic`] /
/// [`finish_exact`].
pub(crate) struct RunRecord {
    pub iterations: usize,
    pub history: Vec<HistoryEntry>,
    pub stop: StopReason,
    pub start: std::time::Instant,
    pub sns: Option<SnsStats>,
}

impl RunRecord {
    /// The record of a solver without SNS statistics.
    pub fn plain(
        iterations: usize,
        history: Vec<HistoryEntry>,
        stop: StopReason,
        start: std::time::Instant,
    ) -> Self {
        Self {
            iterations,
            history,
            stop,
            start,
            sns: None,
        }
    }
}

/// Marginal errors `(‖P1 − a‖₁, ‖Pᵀ1 − b‖₁)` of a dense plan.
pub(crate) fn marginal_errors(p: &OtProblem, plan: &[f64]) -> (f64, f64) {
    let mut rs = vec![0.0; p.n()];
    let mut cs = vec![0.0; p.m()];
    kernels::row_col_sums(plan, p.m(), &mut rs, &mut cs);
    (l1_dist(&rs, p.source()), l1_dist(&cs, p.target()))
}

/// `‖x − y‖₁`.
pub(crate) fn l1_dist(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum()
}

/// Builds the result of an entropic solver from potentials `(f, g)` of the problem it ran on
/// (`reduced`, with zero-mass bins removed, when `support` is given), expanding to the full
/// problem: empty bins get zero plan rows/columns and their soft c-transform as potential.
pub(crate) fn finish_entropic(
    full: &OtProblem,
    support: Option<&(Vec<usize>, Vec<usize>, OtProblem)>,
    eta: f64,
    f_run: &[f64],
    g_run: &[f64],
    run: RunRecord,
) -> OtSolution {
    let (n, m) = (full.n(), full.m());
    let (f, g) = match support {
        None => (f_run.to_vec(), g_run.to_vec()),
        Some((rows, cols, _)) => {
            let mut f = vec![f64::NAN; n];
            let mut g = vec![f64::NAN; m];
            for (k, &i) in rows.iter().enumerate() {
                f[i] = f_run[k];
            }
            for (k, &j) in cols.iter().enumerate() {
                g[j] = g_run[k];
            }
            // Soft c-transforms over the kept bins: f_i = −(1/η) log Σ_j exp(η(g_j − C_ij)).
            let gs: Vec<f64> = cols.iter().map(|&j| eta * g[j]).collect();
            for i in (0..n).filter(|i| full.source()[*i] == 0.0) {
                let crow: Vec<f64> = cols.iter().map(|&j| full.cost()[i * m + j]).collect();
                let (mx, s) = kernels::row_lse_parts(&crow, &gs, eta);
                f[i] = -(mx + s.ln()) / eta;
            }
            let fs: Vec<f64> = rows.iter().map(|&i| eta * f[i]).collect();
            for j in (0..m).filter(|j| full.target()[*j] == 0.0) {
                let ccol: Vec<f64> = rows.iter().map(|&i| full.cost_t()[j * n + i]).collect();
                let (mx, s) = kernels::row_lse_parts(&ccol, &fs, eta);
                g[j] = -(mx + s.ln()) / eta;
            }
            (f, g)
        }
    };
    let mut plan = vec![0.0; n * m];
    kernels::gibbs(full.cost(), &f, &g, eta, &mut plan);
    if support.is_some() {
        for i in 0..n {
            for j in 0..m {
                if full.source()[i] == 0.0 || full.target()[j] == 0.0 {
                    plan[i * m + j] = 0.0;
                }
            }
        }
    }
    let c = full.cost();
    let mut transport = 0.0;
    let mut entropy = 0.0; // Σ P (log P − 1)
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..m {
            let pij = plan[i * m + j];
            if pij > 0.0 {
                let k = i * m + j;
                transport += c[k] * pij;
                entropy += pij * (eta * (f[i] + g[j] - c[k]) - 1.0);
                total += pij;
            }
        }
    }
    let dual = kernels::dot(full.source(), &f) + kernels::dot(full.target(), &g) - total / eta;
    let (ea, eb) = marginal_errors(full, &plan);
    OtSolution {
        plan: TransportPlan::new(n, m, plan),
        f,
        g,
        eta: Some(eta),
        transport_cost: transport,
        entropic_cost: transport + entropy / eta,
        dual_value: dual,
        source_marginal_error: ea,
        target_marginal_error: eb,
        iterations: run.iterations,
        history: run.history,
        stop: run.stop,
        elapsed_s: run.start.elapsed().as_secs_f64(),
        sns: run.sns,
    }
}
