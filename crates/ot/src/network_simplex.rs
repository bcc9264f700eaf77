//! Exact optimal transport by the primal network simplex method with block-search pivoting
//! (Bonneel, van de Panne, Paris & Heidrich 2011, after LEMON's `NetworkSimplex`; the method
//! of POT's `ot.emd`).
//!
//! The transport problem is a min-cost flow on the bipartite graph of its support (sources =
//! rows, sinks = columns, uncapacitated arcs `i → j` of cost `C_ij`): every column of the
//! cost matrix for [`emd`], the stored entries of a sparse cost for [`emd_sparse`]. The method
//! keeps a *strongly feasible spanning tree* — a basic feasible flow — over the nodes and an
//! artificial root, starting from the star of artificial arcs (cost 0 out of the sources,
//! a big cost `M` into the sinks). Each pivot
//!
//! 1. scans the arcs in blocks of `√arcs` (cyclically, from where the last scan stopped) for
//!    the most negative reduced cost `C_ij + π_i − π_j` within the first block that has one
//!    (the dense scan is a vectorized minimum over a cost row minus the sink potentials);
//! 2. finds the cycle the entering arc closes in the tree (the join node, by subtree sizes)
//!    and the leaving arc — the blocking arc met last from the join, which keeps the tree
//!    strongly feasible and rules out cycling on degenerate pivots;
//! 3. pushes the flow around the cycle, re-hangs the cut subtree (parent, preorder thread,
//!    subtree sizes and last successors: work proportional to the moved stem and the changed
//!    paths), and shifts the potentials of the re-hung subtree.
//!
//! It stops when no arc has a reduced cost below `−tol` (`tol` ≈ `8 ε (nodes) max|C|`, the
//! rounding of the potentials): then `f = −π_rows`, `g = π_cols` is dual feasible to `tol`
//! and complementary slack with the plan, an optimality certificate ([`certificate`]).
//!
//! Cost: `O(nodes)` memory besides the costs (flows live on the tree, at most
//! `n + m − 1` non-zeros); per pivot a block scan (`√(n·m)` arcs) plus tree work, typically
//! a few times `n + m` pivots. Exact arithmetic is not assumed: flows are `f64`, flows within
//! `10⁻¹⁵ · mass` of zero are dropped from the plan.

use crate::error::OtError;
use crate::problem::{OtProblem, check_histogram};
use crate::solution::{HistoryEntry, OtSolution, StopReason, TransportPlan};
use ritz_linalg::{CsrMatrix, LinalgError, LinearOperator};
use serde::{Deserialize, Serialize};
use std::time::Instant;

const NONE: usize = usize::MAX;
/// The tree arc of a node points from it to its parent.
const UP: f64 = 1.0;
/// The tree arc of a node points from its parent to it.
const DOWN: f64 = -1.0;

/// Parameters of the network simplex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSimplexParams {
    /// Arcs scanned per pricing block; `None`: `⌈√arcs⌉` (at least 16), LEMON's and POT's
    /// choice.
    pub block_size: Option<usize>,
    /// Pivot limit; reaching it returns the current (feasible, not optimal) plan with
    /// [`StopReason::MaxIterations`]. The default has no practical limit: the strongly
    /// feasible pivot rule terminates.
    pub max_pivots: usize,
}

impl Default for NetworkSimplexParams {
    fn default() -> Self {
        Self {
            block_size: None,
            max_pivots: usize::MAX,
        }
    }
}

/// An optimality certificate for an exact solution: how far `(f, g)` is from dual feasible
/// and from complementary slackness, measured on every arc of the problem.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// `max(0, max_ij f_i + g_j − C_ij)` over the support of the cost: 0 for an exactly
    /// dual-feasible pair.
    pub dual_infeasibility: f64,
    /// `max |C_ij − f_i − g_j|` over the plan's non-zeros: 0 under complementary slackness.
    pub complementary_slackness: f64,
    /// `⟨C, P⟩ − (aᵀf + bᵀg)`.
    pub duality_gap: f64,
    /// `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁`.
    pub marginal_error: f64,
    /// The largest |cost|, the scale the other figures are to be read against.
    pub cost_scale: f64,
}

impl Certificate {
    /// True when every figure is below `rtol` relative to its scale (costs for the dual
    /// figures, `max(|⟨C, P⟩|, cost scale · mass)` for the gap, the mass for the marginals).
    pub fn holds(&self, rtol: f64, mass: f64) -> bool {
        let c = self.cost_scale.max(f64::MIN_POSITIVE);
        self.dual_infeasibility <= rtol * c
            && self.complementary_slackness <= rtol * c
            && self.duality_gap.abs() <= rtol * c * mass
            && self.marginal_error <= rtol * mass
    }
}

/// The arcs of the bipartite graph: all `n × m` pairs of a dense cost, or a CSR support.
#[derive(Clone, Copy)]
enum Arcs<'a> {
    Dense {
        cost: &'a [f64],
        m: usize,
    },
    Sparse {
        row_ptr: &'a [usize],
        col: &'a [u32],
        cost: &'a [f64],
    },
}

impl Arcs<'_> {
    fn len(&self) -> usize {
        match self {
            Arcs::Dense { cost, .. } | Arcs::Sparse { cost, .. } => cost.len(),
        }
    }

    fn cost(&self, k: usize) -> f64 {
        match self {
            Arcs::Dense { cost, .. } | Arcs::Sparse { cost, .. } => cost[k],
        }
    }

    /// `(row, column)` of arc `k`. Cost: O(1) dense, O(log n) sparse.
    fn ends(&self, k: usize) -> (usize, usize) {
        match *self {
            Arcs::Dense { m, .. } => (k / m, k % m),
            Arcs::Sparse { row_ptr, col, .. } => {
                (row_ptr.partition_point(|&p| p <= k) - 1, col[k] as usize)
            }
        }
    }

    /// Lowers `best` to the smallest reduced cost `C_k + π_i − π_j` among arcs `lo..hi` that
    /// is below it, with `arg` its arc.
    fn scan(
        &self,
        lo: usize,
        hi: usize,
        pi_row: &[f64],
        pi_col: &[f64],
        best: &mut f64,
        arg: &mut usize,
    ) {
        match *self {
            Arcs::Dense { cost, m } => {
                let mut k = lo;
                while k < hi {
                    let i = k / m;
                    let j0 = k - i * m;
                    let j1 = m.min(j0 + (hi - k));
                    let row = &cost[i * m + j0..i * m + j1];
                    let pc = &pi_col[j0..j1];
                    // rc < best  ⟺  C_ij − π_j < best − π_i.
                    let bar = *best - pi_row[i];
                    let low = min_difference(row, pc);
                    if low < bar {
                        let p = row
                            .iter()
                            .zip(pc)
                            .position(|(c, q)| c - q == low)
                            .unwrap_or(0);
                        *best = row[p] + pi_row[i] - pc[p];
                        *arg = i * m + j0 + p;
                    }
                    k += j1 - j0;
                }
            }
            Arcs::Sparse { row_ptr, col, cost } => {
                let mut i = row_ptr.partition_point(|&p| p <= lo) - 1;
                let mut k = lo;
                while k < hi {
                    let end = row_ptr[i + 1].min(hi);
                    let pr = pi_row[i];
                    for q in k..end {
                        let rc = cost[q] + pr - pi_col[col[q] as usize];
                        if rc < *best {
                            *best = rc;
                            *arg = q;
                        }
                    }
                    k = end;
                    i += 1;
                }
            }
        }
    }
}

/// `min_j (c_j − p_j)`, eight lanes at a time (∞ for empty slices).
fn min_difference(c: &[f64], p: &[f64]) -> f64 {
    let mut acc = [f64::INFINITY; 8];
    let (cc, cr) = c.split_at(c.len() / 8 * 8);
    let (pc, pr) = p.split_at(cc.len());
    for (x, y) in cc.chunks_exact(8).zip(pc.chunks_exact(8)) {
        for l in 0..8 {
            let v = x[l] - y[l];
            acc[l] = if v < acc[l] { v } else { acc[l] };
        }
    }
    for (x, y) in cr.iter().zip(pr) {
        let v = x - y;
        acc[0] = if v < acc[0] { v } else { acc[0] };
    }
    acc.into_iter()
        .fold(f64::INFINITY, |a, b| if b < a { b } else { a })
}

/// The spanning tree of the current basis, rooted at the artificial node `n + m`. Per node
/// `u`: its parent, the arc to it (`pred`, an arc id; artificial arcs are `arcs + u`), that
/// arc's direction and flow, the preorder successor (`thread`) and predecessor, the subtree
/// size and its last node in preorder, and the potential.
struct Tree {
    parent: Vec<usize>,
    pred: Vec<usize>,
    dir: Vec<f64>,
    flow: Vec<f64>,
    thread: Vec<usize>,
    rev_thread: Vec<usize>,
    succ_num: Vec<usize>,
    last_succ: Vec<usize>,
    pi: Vec<f64>,
    /// Scratch of the thread update.
    dirty: Vec<usize>,
}

/// One pivot's cycle: entering arc, the ends it joins, the node whose tree arc leaves.
struct Pivot {
    arc: usize,
    cost: f64,
    /// Row node and column node of the entering arc.
    tail: usize,
    head: usize,
    join: usize,
    u_in: usize,
    v_in: usize,
    u_out: usize,
    delta: f64,
}

impl Tree {
    /// The artificial star: sources (supply ≥ 0) send to the root at cost 0, sinks with
    /// demand receive from it at cost `big`.
    fn star(supply: &[f64], arcs: usize, big: f64) -> Self {
        let nodes = supply.len() + 1;
        let root = nodes - 1;
        let mut t = Tree {
            parent: vec![root; nodes],
            pred: (0..nodes).map(|u| arcs + u).collect(),
            dir: vec![UP; nodes],
            flow: vec![0.0; nodes],
            thread: (1..=nodes).collect(),
            rev_thread: (0..nodes)
                .map(|u| if u == 0 { root } else { u - 1 })
                .collect(),
            succ_num: vec![1; nodes],
            last_succ: (0..nodes).collect(),
            pi: vec![0.0; nodes],
            dirty: Vec::new(),
        };
        for (u, &s) in supply.iter().enumerate() {
            if s >= 0.0 {
                t.flow[u] = s;
            } else {
                t.dir[u] = DOWN;
                t.flow[u] = -s;
                t.pi[u] = big;
            }
        }
        t.parent[root] = NONE;
        t.pred[root] = NONE;
        t.thread[root] = 0;
        t.succ_num[root] = nodes;
        t.last_succ[root] = root - 1;
        t
    }

    /// The join node of the cycle closed by an arc between `u` and `v`.
    fn join(&self, mut u: usize, mut v: usize) -> usize {
        while u != v {
            if self.succ_num[u] < self.succ_num[v] {
                u = self.parent[u];
            } else {
                v = self.parent[v];
            }
        }
        u
    }

    /// Leaving arc of the cycle `tail → head` (flow pushed along the entering arc): the
    /// blocking arc met last when going around the cycle from the join in the flow's
    /// direction (first side strictly, second side with ties), which keeps the tree strongly
    /// feasible. Sets `u_in`, `v_in`, `u_out`, `delta`; `false` when nothing blocks (an
    /// unbounded problem — impossible with non-negative flows on a transport graph).
    fn leaving(&self, p: &mut Pivot) -> bool {
        let mut delta = f64::INFINITY;
        let mut side = 0;
        // Tail side: the flow runs from the join down to the tail.
        let mut u = p.tail;
        while u != p.join {
            if self.dir[u] == UP && self.flow[u] < delta {
                delta = self.flow[u];
                p.u_out = u;
                side = 1;
            }
            u = self.parent[u];
        }
        // Head side: the flow runs from the head up to the join.
        let mut u = p.head;
        while u != p.join {
            if self.dir[u] == DOWN && self.flow[u] <= delta {
                delta = self.flow[u];
                p.u_out = u;
                side = 2;
            }
            u = self.parent[u];
        }
        p.delta = delta;
        (p.u_in, p.v_in) = match side {
            1 => (p.tail, p.head),
            2 => (p.head, p.tail),
            _ => return false,
        };
        true
    }

    /// Pushes `delta` around the cycle; the leaving arc's flow becomes exactly 0.
    fn push(&mut self, p: &Pivot) {
        if p.delta > 0.0 {
            let mut u = p.tail;
            while u != p.join {
                self.flow[u] -= self.dir[u] * p.delta;
                u = self.parent[u];
            }
            let mut u = p.head;
            while u != p.join {
                self.flow[u] += self.dir[u] * p.delta;
                u = self.parent[u];
            }
        }
        self.flow[p.u_out] = 0.0;
    }

    /// Replaces the leaving arc by the entering one: the subtree cut off below `u_out` is
    /// re-rooted at `u_in` and hung under `v_in` (the stem from `u_in` up to `u_out`
    /// reversed), with its preorder block moved after `v_in`.
    fn rehang(&mut self, p: &Pivot) {
        let (u_in, v_in, u_out, join) = (p.u_in, p.v_in, p.u_out, p.join);
        let old_rev_thread = self.rev_thread[u_out];
        let old_succ_num = self.succ_num[u_out];
        let old_last_succ = self.last_succ[u_out];
        let v_out = self.parent[u_out];
        let in_dir = if u_in == p.tail { UP } else { DOWN };

        if u_in == u_out {
            self.parent[u_in] = v_in;
            self.pred[u_in] = p.arc;
            self.dir[u_in] = in_dir;
            self.flow[u_in] = p.delta;
            if self.thread[v_in] != u_out {
                // Move the block u_out ..= old_last_succ after v_in.
                let after = self.thread[old_last_succ];
                self.thread[old_rev_thread] = after;
                self.rev_thread[after] = old_rev_thread;
                let after = self.thread[v_in];
                self.thread[v_in] = u_out;
                self.rev_thread[u_out] = v_in;
                self.thread[old_last_succ] = after;
                self.rev_thread[after] = old_last_succ;
            }
        } else {
            // When v_in precedes u_out's block, the block is already where it must go.
            let thread_continue = if old_rev_thread == v_in {
                self.thread[old_last_succ]
            } else {
                self.thread[v_in]
            };
            // Walk the stem u_in → u_out: each stem node's part of the thread (its subtree
            // without the previous stem node's) follows the previous part.
            let mut stem = u_in;
            let mut par_stem = v_in;
            let mut last = self.last_succ[u_in];
            let mut after = self.thread[last];
            self.thread[v_in] = u_in;
            self.dirty.clear();
            self.dirty.push(v_in);
            while stem != u_out {
                let next_stem = self.parent[stem];
                self.thread[last] = next_stem;
                self.dirty.push(last);
                // Unlink stem's part from the thread.
                let before = self.rev_thread[stem];
                self.thread[before] = after;
                self.rev_thread[after] = before;
                self.parent[stem] = par_stem;
                par_stem = stem;
                stem = next_stem;
                last = if self.last_succ[stem] == self.last_succ[par_stem] {
                    self.rev_thread[par_stem]
                } else {
                    self.last_succ[stem]
                };
                after = self.thread[last];
            }
            self.parent[u_out] = par_stem;
            self.thread[last] = thread_continue;
            self.rev_thread[thread_continue] = last;
            self.last_succ[u_out] = last;
            if old_rev_thread != v_in {
                self.thread[old_rev_thread] = after;
                self.rev_thread[after] = old_rev_thread;
            }
            for &u in &self.dirty {
                self.rev_thread[self.thread[u]] = u;
            }
            // Tree arcs, flows, subtree sizes and last successors along the reversed stem.
            let mut size = 0;
            let last_of_block = self.last_succ[u_out];
            let mut u = u_out;
            while u != u_in {
                let q = self.parent[u];
                self.pred[u] = self.pred[q];
                self.dir[u] = -self.dir[q];
                self.flow[u] = self.flow[q];
                size += self.succ_num[u] - self.succ_num[q];
                self.succ_num[u] = size;
                self.last_succ[q] = last_of_block;
                u = q;
            }
            self.pred[u_in] = p.arc;
            self.dir[u_in] = in_dir;
            self.flow[u_in] = p.delta;
            self.succ_num[u_in] = old_succ_num;
        }

        // Last successors on the paths from v_in and from v_out to the root.
        let up_limit_out = if self.last_succ[join] == v_in {
            join
        } else {
            NONE
        };
        let last_succ_out = self.last_succ[u_out];
        let mut u = v_in;
        while u != NONE && self.last_succ[u] == v_in {
            self.last_succ[u] = last_succ_out;
            u = self.parent[u];
        }
        if join != old_rev_thread && v_in != old_rev_thread {
            let mut u = v_out;
            while u != up_limit_out && self.last_succ[u] == old_last_succ {
                self.last_succ[u] = old_rev_thread;
                u = self.parent[u];
            }
        } else if last_succ_out != old_last_succ {
            let mut u = v_out;
            while u != up_limit_out && self.last_succ[u] == old_last_succ {
                self.last_succ[u] = last_succ_out;
                u = self.parent[u];
            }
        }
        // Subtree sizes between v_in / v_out and the join.
        let mut u = v_in;
        while u != join {
            self.succ_num[u] += old_succ_num;
            u = self.parent[u];
        }
        let mut u = v_out;
        while u != join {
            self.succ_num[u] -= old_succ_num;
            u = self.parent[u];
        }
    }

    /// Makes the entering arc's reduced cost zero by shifting the potentials of the
    /// re-hung subtree (rooted at `u_in`).
    fn shift_potentials(&mut self, p: &Pivot) {
        let sigma = self.pi[p.v_in] - self.pi[p.u_in] - self.dir[p.u_in] * p.cost;
        let end = self.thread[self.last_succ[p.u_in]];
        let mut u = p.u_in;
        while u != end {
            self.pi[u] += sigma;
            u = self.thread[u];
        }
    }

    /// Recomputes every potential from the root along the thread (tree arcs at reduced cost
    /// 0), clearing accumulated rounding. Cost: O(nodes).
    fn refresh_potentials(&mut self, arcs: &Arcs, art_cost: &dyn Fn(usize) -> f64) {
        let root = self.pi.len() - 1;
        self.pi[root] = 0.0;
        let mut u = self.thread[root];
        while u != root {
            let k = self.pred[u];
            let c = if k < arcs.len() {
                arcs.cost(k)
            } else {
                art_cost(u)
            };
            // UP: arc u → parent, c + π_u − π_parent = 0.
            self.pi[u] = self.pi[self.parent[u]] - self.dir[u] * c;
            u = self.thread[u];
        }
    }

    /// Is arc `k` (between `row` and `col`, node ids) a tree arc?
    fn has_arc(&self, k: usize, row: usize, col: usize) -> bool {
        (self.parent[row] == col && self.pred[row] == k)
            || (self.parent[col] == row && self.pred[col] == k)
    }
}

/// What a run of the method produced, before it is dressed as an [`OtSolution`].
struct Run {
    /// `(row, column, flow)` of the plan's non-zeros, rows ascending.
    plan: Vec<(usize, usize, f64)>,
    f: Vec<f64>,
    g: Vec<f64>,
    pivots: usize,
    history: Vec<HistoryEntry>,
    stop: StopReason,
}

fn solve(
    a: &[f64],
    b: &[f64],
    arcs: Arcs,
    params: &NetworkSimplexParams,
    start: Instant,
) -> Result<Run, OtError> {
    let (n, m) = (a.len(), b.len());
    let narcs = arcs.len();
    let nodes = n + m + 1;
    let mass: f64 = a.iter().sum();
    let scale = match arcs {
        Arcs::Dense { cost, .. } | Arcs::Sparse { cost, .. } => {
            cost.iter().fold(0.0f64, |s, c| s.max(c.abs()))
        }
    };
    // Any path of real arcs costs less than `big` in absolute value.
    let big = (scale + 1.0) * nodes as f64;
    if !big.is_finite() {
        return Err(OtError::InvalidParameter(format!(
            "costs up to {scale:e} are too large for the network simplex's artificial arcs"
        )));
    }
    let tol = 8.0 * f64::EPSILON * nodes as f64 * scale.max(f64::MIN_POSITIVE);
    let supply: Vec<f64> = a.iter().copied().chain(b.iter().map(|v| -v)).collect();
    let mut tree = Tree::star(&supply, narcs, big);
    let art_cost = |u: usize| if supply[u] >= 0.0 { 0.0 } else { big };
    let block = params
        .block_size
        .unwrap_or_else(|| (narcs as f64).sqrt().ceil() as usize)
        .clamp(16.min(narcs.max(1)), narcs.max(1));
    let mut next = 0;
    let mut pivots = 0;
    let mut history = Vec::new();
    let every = nodes.max(1000);
    let mut stop = StopReason::Converged;
    let mut refreshed = false;
    // With no arcs at all nothing enters; the artificial flow reports the infeasibility.
    'pivots: loop {
        if pivots >= params.max_pivots {
            stop = StopReason::MaxIterations;
            break;
        }
        // Block search for the entering arc.
        let (pi_row, pi_col) = tree.pi.split_at(n);
        let mut scanned = 0;
        let mut entering = NONE;
        let mut rc = -tol;
        while scanned < narcs {
            let len = block.min(narcs - scanned);
            let end = next + len;
            if end <= narcs {
                arcs.scan(next, end, pi_row, pi_col, &mut rc, &mut entering);
            } else {
                arcs.scan(next, narcs, pi_row, pi_col, &mut rc, &mut entering);
                arcs.scan(0, end - narcs, pi_row, pi_col, &mut rc, &mut entering);
            }
            next = end % narcs;
            scanned += len;
            if entering != NONE {
                break;
            }
        }
        if entering == NONE {
            break 'pivots;
        }
        let (i, j) = arcs.ends(entering);
        let (tail, head) = (i, n + j);
        if tree.has_arc(entering, tail, head) {
            // A tree arc priced below −tol: the potentials drifted. Recompute them once.
            if refreshed {
                stop = StopReason::Stalled;
                break;
            }
            tree.refresh_potentials(&arcs, &art_cost);
            refreshed = true;
            continue;
        }
        refreshed = false;
        let mut p = Pivot {
            arc: entering,
            cost: arcs.cost(entering),
            tail,
            head,
            join: tree.join(tail, head),
            u_in: NONE,
            v_in: NONE,
            u_out: NONE,
            delta: 0.0,
        };
        if !tree.leaving(&mut p) {
            stop = StopReason::Stalled;
            break;
        }
        tree.push(&p);
        tree.rehang(&p);
        tree.shift_potentials(&p);
        #[cfg(test)]
        tree.check(&arcs, n, &supply, &art_cost, tol);
        pivots += 1;
        if pivots % every == 0 {
            history.push(HistoryEntry {
                iteration: pivots,
                marginal_error: artificial_flow(&tree, narcs),
                elapsed_s: start.elapsed().as_secs_f64(),
            });
        }
    }
    let unrouted = artificial_flow(&tree, narcs);
    history.push(HistoryEntry {
        iteration: pivots,
        marginal_error: unrouted,
        elapsed_s: start.elapsed().as_secs_f64(),
    });
    if stop == StopReason::Converged && unrouted > 1e-12 * mass {
        return Err(OtError::Infeasible { unrouted, mass });
    }
    let cut = 1e-15 * mass;
    let mut plan: Vec<(usize, usize, f64)> = (0..n + m)
        .filter(|&u| tree.pred[u] < narcs && tree.flow[u] > cut)
        .map(|u| {
            let (i, j) = arcs.ends(tree.pred[u]);
            (i, j, tree.flow[u])
        })
        .collect();
    plan.sort_unstable_by_key(|&(i, j, _)| (i, j));
    // Potentials with the root's offset removed: centre them on the sources' mean.
    let shift = tree.pi[..n].iter().sum::<f64>() / n as f64;
    let f = tree.pi[..n].iter().map(|p| shift - p).collect();
    let g = tree.pi[n..n + m].iter().map(|p| p - shift).collect();
    Ok(Run {
        plan,
        f,
        g,
        pivots,
        history,
        stop,
    })
}

/// Flow still on artificial arcs (unrouted mass; 0 at a feasible vertex).
fn artificial_flow(tree: &Tree, narcs: usize) -> f64 {
    let root = tree.pi.len() - 1;
    (0..root)
        .filter(|&u| tree.pred[u] >= narcs)
        .map(|u| tree.flow[u].abs())
        .sum()
}

fn finish(
    a: &[f64],
    b: &[f64],
    arcs: Arcs,
    run: Run,
    start: Instant,
) -> Result<OtSolution, OtError> {
    let (n, m) = (a.len(), b.len());
    let mut rows = vec![0.0; n];
    let mut cols = vec![0.0; m];
    let mut row_ptr = vec![0usize; n + 1];
    let mut col_idx = Vec::with_capacity(run.plan.len());
    let mut values = Vec::with_capacity(run.plan.len());
    let mut transport = 0.0;
    for &(i, j, v) in &run.plan {
        rows[i] += v;
        cols[j] += v;
        row_ptr[i + 1] += 1;
        col_idx.push(j as u32);
        values.push(v);
        transport += v * cost_of(&arcs, i, j);
    }
    for i in 0..n {
        row_ptr[i + 1] += row_ptr[i];
    }
    let csr = CsrMatrix::from_csr(n, m, row_ptr, col_idx, values)?;
    let dual = crate::kernels::dot(a, &run.f) + crate::kernels::dot(b, &run.g);
    Ok(OtSolution {
        plan: TransportPlan::from_sparse(csr),
        f: run.f,
        g: run.g,
        eta: None,
        transport_cost: transport,
        entropic_cost: transport,
        dual_value: dual,
        source_marginal_error: crate::solution::l1_dist(&rows, a),
        target_marginal_error: crate::solution::l1_dist(&cols, b),
        iterations: run.pivots,
        history: run.history,
        stop: run.stop,
        elapsed_s: start.elapsed().as_secs_f64(),
        sns: None,
    })
}

/// `C_ij` of an arc known to exist.
fn cost_of(arcs: &Arcs, i: usize, j: usize) -> f64 {
    match *arcs {
        Arcs::Dense { cost, m } => cost[i * m + j],
        Arcs::Sparse { row_ptr, col, cost } => {
            let r = row_ptr[i]..row_ptr[i + 1];
            let q = col[r.clone()].binary_search(&(j as u32)).unwrap_or(0);
            cost[r.start + q]
        }
    }
}

/// Solves the exact transport problem `min ⟨C, P⟩` over plans with marginals `(a, b)` by the
/// network simplex with default [`NetworkSimplexParams`].
///
/// The plan is a vertex of the transport polytope (at most `n + m − 1` non-zeros), returned
/// sparse ([`TransportPlan::sparse`]); `f`, `g` are optimal dual potentials (check them with
/// [`certificate`]); `iterations` counts pivots; `eta` is `None`.
///
/// Errors: none beyond those of building the problem (it is validated); a pivot that finds
/// no blocking arc (impossible in exact arithmetic) ends the run with
/// [`StopReason::Stalled`] and the feasible plan reached. Cost: see the [module](self)
/// documentation; memory `O(n + m)` besides the problem.
///
/// ```
/// use ritz_ot::{OtProblem, emd, network_simplex::certificate};
/// let p = OtProblem::random_assignment(40, 0)?;
/// let s = emd(&p)?; // an optimal assignment: a permutation matrix over n
/// assert!(s.marginal_error() < 1e-12);
/// assert_eq!(s.plan.nnz(), 40);
/// assert!(certificate(&p, &s).holds(1e-12, p.mass()));
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn emd(problem: &OtProblem) -> Result<OtSolution, OtError> {
    emd_with(problem, &NetworkSimplexParams::default())
}

/// [`emd`] with explicit parameters.
pub fn emd_with(problem: &OtProblem, params: &NetworkSimplexParams) -> Result<OtSolution, OtError> {
    let start = Instant::now();
    let arcs = Arcs::Dense {
        cost: problem.cost(),
        m: problem.m(),
    };
    let run = solve(problem.source(), problem.target(), arcs, params, start)?;
    finish(problem.source(), problem.target(), arcs, run, start)
}

/// The exact transport problem on a sparse support: `cost` (`n × m` CSR) lists the allowed
/// pairs `(i, j)` and their costs; every other pair is forbidden. `b` is rescaled to `Σ a`
/// as in [`OtProblem::new`].
///
/// Errors: the histogram errors of [`OtProblem::new`], a cost of the wrong shape
/// (`LinalgError::Shape`) or not finite, and [`OtError::Infeasible`] when the support cannot
/// carry the marginals (some mass has no allowed path). Cost: as [`emd`] with `nnz` arcs.
///
/// ```
/// use ritz_ot::network_simplex::emd_sparse;
/// use ritz_linalg::CsrMatrix;
/// // Two sources, two sinks; the pair (1, 0) is forbidden.
/// let c = CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 0.0), (1, 1, 2.0)])?;
/// let s = emd_sparse(&[0.5, 0.5], &[0.5, 0.5], &c, &Default::default())?;
/// assert!((s.transport_cost - 1.5).abs() < 1e-15);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn emd_sparse(
    a: &[f64],
    b: &[f64],
    cost: &CsrMatrix,
    params: &NetworkSimplexParams,
) -> Result<OtSolution, OtError> {
    let start = Instant::now();
    let ma = check_histogram("source histogram a", a)?;
    let mb = check_histogram("target histogram b", b)?;
    crate::problem::check_masses(ma, mb)?;
    if cost.nrows() != a.len() || cost.ncols() != b.len() {
        return Err(OtError::Linalg(LinalgError::Shape {
            what: "sparse cost (rows × columns = n × m)",
            expected: a.len() * b.len(),
            found: cost.nrows() * cost.ncols(),
        }));
    }
    let b: Vec<f64> = b.iter().map(|v| v * (ma / mb)).collect();
    let arcs = Arcs::Sparse {
        row_ptr: cost.row_ptr(),
        col: cost.col_idx(),
        cost: cost.values(),
    };
    let run = solve(a, &b, arcs, params, start)?;
    finish(a, &b, arcs, run, start)
}

fn certify(a: &[f64], b: &[f64], arcs: Arcs, s: &OtSolution) -> Certificate {
    let (n, m) = (a.len(), b.len());
    let mut infeasible = 0.0f64;
    let mut scale = 0.0f64;
    for i in 0..n {
        let (cols, costs): (Box<dyn Iterator<Item = usize>>, &[f64]) = match arcs {
            Arcs::Dense { cost, m } => (Box::new(0..m), &cost[i * m..(i + 1) * m]),
            Arcs::Sparse { row_ptr, col, cost } => {
                let r = row_ptr[i]..row_ptr[i + 1];
                (
                    Box::new(col[r.clone()].iter().map(|&j| j as usize)),
                    &cost[r],
                )
            }
        };
        for (j, &c) in cols.zip(costs) {
            infeasible = infeasible.max(s.f[i] + s.g[j] - c);
            scale = scale.max(c.abs());
        }
    }
    let mut slack = 0.0f64;
    let mut rows = vec![0.0; n];
    let mut colsum = vec![0.0; m];
    let mut transport = 0.0;
    s.plan.for_each(|i, j, v| {
        if v != 0.0 {
            let c = cost_of(&arcs, i, j);
            slack = slack.max((c - s.f[i] - s.g[j]).abs());
            transport += v * c;
        }
        rows[i] += v;
        colsum[j] += v;
    });
    let dual = crate::kernels::dot(a, &s.f) + crate::kernels::dot(b, &s.g);
    Certificate {
        dual_infeasibility: infeasible.max(0.0),
        complementary_slackness: slack,
        duality_gap: transport - dual,
        marginal_error: crate::solution::l1_dist(&rows, a) + crate::solution::l1_dist(&colsum, b),
        cost_scale: scale,
    }
}

/// Checks a solution of `problem` independently of the solver that produced it: dual
/// feasibility of `(f, g)` on every pair, complementary slackness on the plan's support, the
/// duality gap and the marginals. Cost: O(n·m).
pub fn certificate(problem: &OtProblem, solution: &OtSolution) -> Certificate {
    let arcs = Arcs::Dense {
        cost: problem.cost(),
        m: problem.m(),
    };
    certify(problem.source(), problem.target(), arcs, solution)
}

/// [`certificate`] for a solution of [`emd_sparse`] (dual feasibility on the support only;
/// `b` is rescaled to `Σ a` as the solver did). Cost: O(nnz).
pub fn certificate_sparse(
    a: &[f64],
    b: &[f64],
    cost: &CsrMatrix,
    solution: &OtSolution,
) -> Certificate {
    let (ma, mb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    let b: Vec<f64> = b.iter().map(|v| v * (ma / mb)).collect();
    let arcs = Arcs::Sparse {
        row_ptr: cost.row_ptr(),
        col: cost.col_idx(),
        cost: cost.values(),
    };
    certify(a, &b, arcs, solution)
}

#[cfg(test)]
impl Tree {
    /// Every invariant of the basis tree (test builds check it after each pivot).
    fn check(
        &self,
        arcs: &Arcs,
        n: usize,
        supply: &[f64],
        art_cost: &dyn Fn(usize) -> f64,
        tol: f64,
    ) {
        let nodes = self.pi.len();
        let root = nodes - 1;
        // The thread visits every node once, parents before children, subtrees contiguous.
        let mut order = Vec::with_capacity(nodes);
        let mut pos = vec![NONE; nodes];
        let mut u = root;
        loop {
            assert_eq!(pos[u], NONE, "thread revisits {u}");
            pos[u] = order.len();
            order.push(u);
            assert_eq!(self.rev_thread[self.thread[u]], u, "rev_thread at {u}");
            u = self.thread[u];
            if u == root {
                break;
            }
        }
        assert_eq!(order.len(), nodes, "thread misses nodes");
        let mut size = vec![1usize; nodes];
        for &u in order.iter().rev() {
            if u != root {
                assert!(pos[self.parent[u]] < pos[u], "parent after child at {u}");
                size[self.parent[u]] += size[u];
            }
        }
        for u in 0..nodes {
            assert_eq!(self.succ_num[u], size[u], "succ_num at {u}");
            assert_eq!(
                self.last_succ[u],
                order[pos[u] + size[u] - 1],
                "last_succ at {u}"
            );
        }
        // Tree arcs join each node to its parent, in the recorded direction, at reduced
        // cost 0; the flows balance the supplies.
        let mut net = supply.to_vec();
        for u in 0..root {
            let (k, par) = (self.pred[u], self.parent[u]);
            let c = if k < arcs.len() {
                let (i, j) = arcs.ends(k);
                let (tail, head) = (i, n + j);
                assert!(
                    (u, par) == (tail, head) || (u, par) == (head, tail),
                    "arc of {u}"
                );
                assert_eq!(self.dir[u] == UP, u == tail, "direction at {u}");
                arcs.cost(k)
            } else {
                assert_eq!(k, arcs.len() + u);
                assert_eq!(par, root);
                art_cost(u)
            };
            let rc = c + self.dir[u] * (self.pi[u] - self.pi[par]);
            assert!(
                rc.abs() <= 4.0 * tol.max(1e-12),
                "reduced cost {rc:e} of the tree arc at {u}"
            );
            assert!(self.flow[u] >= -1e-12, "negative flow at {u}");
            // UP: flow leaves u.
            net[u] -= self.dir[u] * self.flow[u];
            if par != root {
                net[par] += self.dir[u] * self.flow[u];
            }
        }
        for (u, r) in net.iter().enumerate() {
            assert!(r.abs() < 1e-9, "node {u} unbalanced by {r:e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small LCG for test data.
    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / ((1u64 << 53) as f64)
        }
    }

    #[test]
    fn tree_invariants_hold_through_every_pivot() {
        // Random real costs, integer costs with ties and equal masses (degenerate pivots),
        // zero-mass bins, n ≠ m, a single row and a single column.
        for (n, m, seed) in [
            (1, 5, 0),
            (6, 1, 1),
            (5, 7, 2),
            (9, 4, 3),
            (12, 12, 4),
            (20, 13, 5),
        ] {
            for kind in 0..3 {
                let mut r = lcg(seed * 3 + kind);
                let mut a: Vec<f64> = (0..n).map(|_| if kind == 1 { 1.0 } else { r() }).collect();
                let mut b: Vec<f64> = (0..m).map(|_| if kind == 1 { 1.0 } else { r() }).collect();
                if kind == 2 && n > 2 && m > 2 {
                    a[1] = 0.0;
                    b[m - 1] = 0.0;
                }
                let c: Vec<f64> = (0..n * m)
                    .map(|_| if kind == 1 { (r() * 4.0).floor() } else { r() })
                    .collect();
                let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
                b.iter_mut().for_each(|v| *v *= sa / sb);
                let p = OtProblem::new(a.clone(), b, c).unwrap();
                for block in [None, Some(1), Some(3)] {
                    let params = NetworkSimplexParams {
                        block_size: block,
                        ..Default::default()
                    };
                    let s = emd_with(&p, &params).unwrap();
                    assert_eq!(s.stop, StopReason::Converged);
                    let cert = certificate(&p, &s);
                    assert!(cert.holds(1e-12, sa), "{n}×{m} kind {kind}: {cert:?}");
                }
            }
        }
    }

    #[test]
    fn pivot_limit_returns_a_feasible_plan() {
        let p = OtProblem::random_assignment(30, 1).unwrap();
        let params = NetworkSimplexParams {
            max_pivots: 5,
            ..Default::default()
        };
        let s = emd_with(&p, &params).unwrap();
        assert_eq!(s.stop, StopReason::MaxIterations);
        assert_eq!(s.iterations, 5);
    }

    #[test]
    fn min_difference_is_the_minimum() {
        let mut r = lcg(9);
        for len in [0, 1, 7, 8, 9, 31] {
            let c: Vec<f64> = (0..len).map(|_| r()).collect();
            let p: Vec<f64> = (0..len).map(|_| r()).collect();
            let want = c
                .iter()
                .zip(&p)
                .map(|(x, y)| x - y)
                .fold(f64::INFINITY, f64::min);
            assert_eq!(min_difference(&c, &p), want);
        }
    }
}
