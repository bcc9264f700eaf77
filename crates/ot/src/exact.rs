//! Exact (unregularized) optimal transport by successive shortest paths: the test oracle of
//! the network simplex ([`crate::network_simplex`], which [`crate::emd`] runs), for small
//! problems — an independent min-cost-flow method.
//!
//! The transport problem is a min-cost flow on the complete bipartite graph (sources = rows,
//! sinks = columns, uncapacitated arcs of cost `C_ij`). Each round runs Dijkstra with reduced
//! costs `C_ij + π_i − π_j ≥ 0` from every row with remaining supply to the nearest column
//! with remaining demand, raises the potentials, and pushes the bottleneck amount along the
//! path (forward arcs gain flow, backward arcs lose it). Potentials stay dual feasible and
//! complementary-slack throughout, so at the end `f = −π_rows`, `g = π_cols` is an optimal
//! dual pair: `f_i + g_j ≤ C_ij`, with equality on the support of the plan — an optimality
//! certificate the tests check independently.
//!
//! Cost: `O((n + m)²)` per round (dense Dijkstra) and typically `n + m − 1` rounds, so
//! `O((n + m)³)`: about a second at `n = m = 500`. Memory: the dense plan.

use crate::error::OtError;
use crate::problem::OtProblem;
use crate::solution::{HistoryEntry, OtSolution, StopReason, TransportPlan, marginal_errors};
use std::time::Instant;

const NONE: usize = usize::MAX;

/// Solves the exact transport problem `min ⟨C, P⟩` over plans with marginals `(a, b)`.
///
/// The result's plan has at most `n + m − 1` non-zeros (a vertex of the transport polytope)
/// and is also given in sparse form when sparse; `f`, `g` are optimal dual potentials;
/// `eta` is `None`; `iterations` counts augmenting paths. Masses are real numbers: supplies
/// and demands below `10⁻¹⁵ · mass` left by rounding are treated as zero.
///
/// Errors: none beyond those of building the problem (it is validated); an internal failure to
/// find a path (impossible in exact arithmetic) is reported as [`StopReason::Stalled`].
///
/// ```
/// use ritz_ot::{OtProblem, exact::emd_ssp};
/// let p = OtProblem::random_assignment(40, 0)?;
/// let s = emd_ssp(&p)?; // an optimal assignment: a permutation matrix over n
/// assert!(s.marginal_error() < 1e-12);
/// assert_eq!(s.plan.nnz(), 40);
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn emd_ssp(problem: &OtProblem) -> Result<OtSolution, OtError> {
    let start = Instant::now();
    let (n, m) = (problem.n(), problem.m());
    let c = problem.cost();
    let ct = problem.cost_t();
    let mass = problem.mass();
    let tiny = 1e-15 * mass;
    let mut supply = problem.source().to_vec();
    let mut demand = problem.target().to_vec();
    crate::problem::check_dense("the exact solver's flow", n, m, 1)?;
    let mut flow = vec![0.0; n * m];
    // Potentials: reduced cost of arc i → j is C_ij + pr[i] − pc[j] ≥ 0.
    let mut pr = vec![0.0; n];
    let mut pc: Vec<f64> = (0..m)
        .map(|j| {
            ct[j * n..(j + 1) * n]
                .iter()
                .cloned()
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let mut dr = vec![0.0; n];
    let mut dc = vec![0.0; m];
    let mut done_r = vec![false; n];
    let mut done_c = vec![false; m];
    let mut pred_c = vec![NONE; m]; // row feeding column j on the path
    let mut pred_r = vec![NONE; n]; // column whose backward arc reaches row i (NONE = source)
    let mut history = Vec::new();
    let mut rounds = 0;
    let mut stop = StopReason::Converged;
    let max_rounds = 4 * (n + m) * (n + m) + 16;
    loop {
        if !supply.iter().any(|&s| s > tiny) || !demand.iter().any(|&d| d > tiny) {
            break;
        }
        if rounds >= max_rounds {
            stop = StopReason::Stalled;
            break;
        }
        // Dijkstra from all rows with supply.
        for i in 0..n {
            dr[i] = if supply[i] > tiny { 0.0 } else { f64::INFINITY };
            done_r[i] = false;
            pred_r[i] = NONE;
        }
        dc.iter_mut().for_each(|d| *d = f64::INFINITY);
        done_c.iter_mut().for_each(|d| *d = false);
        let target = loop {
            let (mut best, mut node) = (f64::INFINITY, NONE);
            for i in 0..n {
                if !done_r[i] && dr[i] < best {
                    (best, node) = (dr[i], i);
                }
            }
            for j in 0..m {
                if !done_c[j] && dc[j] < best {
                    (best, node) = (dc[j], n + j);
                }
            }
            if node == NONE {
                break NONE;
            }
            if node < n {
                let i = node;
                done_r[i] = true;
                let row = &c[i * m..(i + 1) * m];
                for j in 0..m {
                    let d = best + (row[j] + pr[i] - pc[j]).max(0.0);
                    if !done_c[j] && d < dc[j] {
                        dc[j] = d;
                        pred_c[j] = i;
                    }
                }
            } else {
                let j = node - n;
                done_c[j] = true;
                if demand[j] > tiny {
                    break j;
                }
                for i in 0..n {
                    if flow[i * m + j] > 0.0 && !done_r[i] {
                        let d = best + (-ct[j * n + i] + pc[j] - pr[i]).max(0.0);
                        if d < dr[i] {
                            dr[i] = d;
                            pred_r[i] = j;
                        }
                    }
                }
            }
        };
        if target == NONE {
            stop = StopReason::Stalled;
            break;
        }
        let dist = dc[target];
        for i in 0..n {
            pr[i] += dr[i].min(dist);
        }
        for j in 0..m {
            pc[j] += dc[j].min(dist);
        }
        // Bottleneck along the path target ← row ← (column ← row)* ← source row.
        let mut delta = demand[target];
        let mut j = target;
        let source = loop {
            let i = pred_c[j];
            match pred_r[i] {
                NONE => break i,
                jb => {
                    delta = delta.min(flow[i * m + jb]);
                    j = jb;
                }
            }
        };
        delta = delta.min(supply[source]);
        let mut j = target;
        loop {
            let i = pred_c[j];
            flow[i * m + j] += delta;
            match pred_r[i] {
                NONE => break,
                jb => {
                    let f = &mut flow[i * m + jb];
                    *f = if *f - delta <= tiny { 0.0 } else { *f - delta };
                    j = jb;
                }
            }
        }
        supply[source] = if supply[source] - delta <= tiny {
            0.0
        } else {
            supply[source] - delta
        };
        demand[target] = if demand[target] - delta <= tiny {
            0.0
        } else {
            demand[target] - delta
        };
        rounds += 1;
        history.push(HistoryEntry {
            iteration: rounds,
            marginal_error: supply.iter().sum::<f64>() + demand.iter().sum::<f64>(),
            elapsed_s: start.elapsed().as_secs_f64(),
        });
    }
    let f: Vec<f64> = pr.iter().map(|p| -p).collect();
    let g = pc;
    let transport: f64 = flow.iter().zip(c).map(|(p, c)| p * c).sum();
    let dual =
        crate::kernels::dot(problem.source(), &f) + crate::kernels::dot(problem.target(), &g);
    let (ea, eb) = marginal_errors(problem, &flow);
    Ok(OtSolution {
        plan: TransportPlan::new(n, m, flow),
        f,
        g,
        eta: None,
        transport_cost: transport,
        entropic_cost: transport,
        dual_value: dual,
        source_marginal_error: ea,
        target_marginal_error: eb,
        iterations: rounds,
        history,
        stop,
        elapsed_s: start.elapsed().as_secs_f64(),
        sns: None,
    })
}
