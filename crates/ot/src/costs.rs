//! Where a solver reads its costs from: a stored `n × m` matrix ([`OtProblem`]) or costs
//! computed on the fly from two point clouds ([`CloudCosts`], memory `O((n + m)·d)`).
//!
//! The log-domain Sinkhorn and Sinkhorn-Newton-Sparse run on either through the [`Costs`]
//! trait: they read whole rows and columns (stored slices, or computed into a per-thread
//! buffer) and never hold an `n × m` array when the costs are not stored.

use crate::error::OtError;
use crate::io::{CostScale, PointClouds};
use crate::problem::{GroundCost, OtProblem, check_histogram, check_masses};
use rayon::prelude::*;

/// Read access to a transport problem's masses and costs.
pub trait Costs: Sync {
    /// Number of sources.
    fn n(&self) -> usize;
    /// Number of targets.
    fn m(&self) -> usize;
    /// Source masses `a`.
    fn source(&self) -> &[f64];
    /// Target masses `b` (`Σ b = Σ a`).
    fn target(&self) -> &[f64];
    /// Row `i` of `C`: the stored row, or computed into `buf` (length ≥ `m` when
    /// [`Costs::stored`] is false).
    fn row<'a>(&'a self, i: usize, buf: &'a mut [f64]) -> &'a [f64];
    /// Column `j` of `C` (as [`Costs::row`], `buf` length ≥ `n`).
    fn col<'a>(&'a self, j: usize, buf: &'a mut [f64]) -> &'a [f64];
    /// `C_ij`.
    fn entry(&self, i: usize, j: usize) -> f64;
    /// `(min, max)` of the costs.
    fn range(&self) -> (f64, f64);
    /// True when the costs are an `n × m` array in memory (solvers may then keep dense plans).
    fn stored(&self) -> bool {
        self.dense().is_some()
    }
    /// The stored row-major `n × m` costs, if any.
    fn dense(&self) -> Option<&[f64]>;
    /// `Σ a`.
    fn mass(&self) -> f64 {
        self.source().iter().sum()
    }
}

impl Costs for OtProblem {
    fn n(&self) -> usize {
        OtProblem::n(self)
    }
    fn m(&self) -> usize {
        OtProblem::m(self)
    }
    fn source(&self) -> &[f64] {
        OtProblem::source(self)
    }
    fn target(&self) -> &[f64] {
        OtProblem::target(self)
    }
    fn row<'a>(&'a self, i: usize, _: &'a mut [f64]) -> &'a [f64] {
        let m = OtProblem::m(self);
        &self.cost()[i * m..(i + 1) * m]
    }
    fn col<'a>(&'a self, j: usize, _: &'a mut [f64]) -> &'a [f64] {
        let n = OtProblem::n(self);
        &self.cost_t()[j * n..(j + 1) * n]
    }
    fn entry(&self, i: usize, j: usize) -> f64 {
        self.cost()[i * OtProblem::m(self) + j]
    }
    fn range(&self) -> (f64, f64) {
        self.cost()
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &c| {
                (l.min(c), h.max(c))
            })
    }
    fn dense(&self) -> Option<&[f64]> {
        Some(self.cost())
    }
}

/// Costs `C_ij = ground(x_i, y_j) / s` computed on the fly from two weighted point clouds
/// (`s` = the largest cost for [`CostScale::Max`], else 1). Memory `O((n + m)·d)`; a row or
/// column costs `O(m·d)` / `O(n·d)` flops (vectorized for the squared Euclidean cost: the
/// points are also stored one coordinate at a time).
#[derive(Debug, Clone)]
pub struct CloudCosts {
    clouds: PointClouds,
    ground: GroundCost,
    /// Coordinates one dimension at a time: `x_t[k][i]`, `y_t[k][j]`.
    x_t: Vec<Vec<f64>>,
    y_t: Vec<Vec<f64>>,
    inv_scale: f64,
    range: (f64, f64),
}

impl CloudCosts {
    /// Validates the clouds and weights (shapes, finite values, non-negative weights of
    /// equal mass — `b` is rescaled to `Σ a` — and no zero weight: drop such points) and
    /// computes the cost range once (`O(n·m·d)`, parallel).
    ///
    /// ```
    /// use ritz_ot::{PointClouds, CostScale, costs::{CloudCosts, Costs}};
    /// let clouds = PointClouds::clustered(300, 200, 2, 0)?;
    /// let c = CloudCosts::new(clouds, "sqeuclidean".parse()?, CostScale::Max)?;
    /// assert_eq!(c.range().1, 1.0);
    /// # Ok::<(), ritz_ot::OtError>(())
    /// ```
    pub fn new(
        mut clouds: PointClouds,
        ground: GroundCost,
        scale: CostScale,
    ) -> Result<Self, OtError> {
        ground.validate()?;
        let dim = clouds.dim;
        if dim == 0 {
            return Err(OtError::InvalidParameter(
                "point dimension must be ≥ 1".into(),
            ));
        }
        let ma = check_histogram("source weights a", &clouds.a)?;
        let mb = check_histogram("target weights b", &clouds.b)?;
        check_masses(ma, mb)?;
        for (what, pts, w) in [
            ("source points", &clouds.x, &clouds.a),
            ("target points", &clouds.y, &clouds.b),
        ] {
            ritz_linalg::error::check_len(what, w.len() * dim, pts.len())?;
            ritz_linalg::error::check_finite(what, pts)?;
            if let Some(k) = w.iter().position(|&v| v == 0.0) {
                return Err(OtError::InvalidParameter(format!(
                    "{what}: weight 0 at index {k}; the on-the-fly solvers need positive weights (drop the point)"
                )));
            }
        }
        if ma != mb {
            clouds.b.iter_mut().for_each(|v| *v *= ma / mb);
        }
        let transpose = |p: &[f64]| -> Vec<Vec<f64>> {
            (0..dim)
                .map(|k| p.iter().skip(k).step_by(dim).copied().collect())
                .collect()
        };
        let mut c = Self {
            x_t: transpose(&clouds.x),
            y_t: transpose(&clouds.y),
            clouds,
            ground,
            inv_scale: 1.0,
            range: (0.0, 0.0),
        };
        let m = c.clouds.b.len();
        let range = (0..c.clouds.a.len())
            .into_par_iter()
            .fold(
                || (vec![0.0; m], (f64::INFINITY, f64::NEG_INFINITY)),
                |(mut buf, (lo, hi)), i| {
                    c.row_into(i, &mut buf);
                    let r = buf.iter().fold((lo, hi), |(l, h), &v| (l.min(v), h.max(v)));
                    (buf, r)
                },
            )
            .map(|(_, r)| r)
            .reduce(
                || (f64::INFINITY, f64::NEG_INFINITY),
                |a, b| (a.0.min(b.0), a.1.max(b.1)),
            );
        if scale == CostScale::Max {
            let max = range.0.abs().max(range.1.abs());
            if max > 0.0 {
                c.inv_scale = 1.0 / max;
            }
        }
        c.range = (range.0 * c.inv_scale, range.1 * c.inv_scale);
        if !(c.range.0.is_finite() && c.range.1.is_finite()) {
            return Err(OtError::InvalidParameter(
                "the ground costs overflow".into(),
            ));
        }
        Ok(c)
    }

    /// The clouds (with `b` rescaled to `Σ a`).
    pub fn clouds(&self) -> &PointClouds {
        &self.clouds
    }

    /// `out_j = C_ij` for all `j` (unscaled, then scaled).
    fn row_into(&self, i: usize, out: &mut [f64]) {
        let dim = self.clouds.dim;
        let xi = &self.clouds.x[i * dim..(i + 1) * dim];
        fill(&self.ground, xi, &self.y_t, &self.clouds.y, dim, out);
        if self.inv_scale != 1.0 {
            out.iter_mut().for_each(|v| *v *= self.inv_scale);
        }
    }

    fn col_into(&self, j: usize, out: &mut [f64]) {
        let dim = self.clouds.dim;
        let yj = &self.clouds.y[j * dim..(j + 1) * dim];
        // Every ground cost here is symmetric: C_ij = ground(y_j, x_i).
        fill(&self.ground, yj, &self.x_t, &self.clouds.x, dim, out);
        if self.inv_scale != 1.0 {
            out.iter_mut().for_each(|v| *v *= self.inv_scale);
        }
    }
}

/// `out_j = ground(p, q_j)` for the points `q` (row-major `pts`, coordinates `q_t`).
fn fill(
    ground: &GroundCost,
    p: &[f64],
    q_t: &[Vec<f64>],
    pts: &[f64],
    dim: usize,
    out: &mut [f64],
) {
    let count = q_t[0].len();
    let out = &mut out[..count];
    match ground {
        GroundCost::SquaredEuclidean => {
            out.fill(0.0);
            for (k, qk) in q_t.iter().enumerate() {
                let pk = p[k];
                for (o, &q) in out.iter_mut().zip(qk) {
                    let d = pk - q;
                    *o = d.mul_add(d, *o);
                }
            }
        }
        g => {
            for (j, o) in out.iter_mut().enumerate() {
                *o = g.eval(p, &pts[j * dim..(j + 1) * dim]);
            }
        }
    }
}

impl Costs for CloudCosts {
    fn n(&self) -> usize {
        self.clouds.a.len()
    }
    fn m(&self) -> usize {
        self.clouds.b.len()
    }
    fn source(&self) -> &[f64] {
        &self.clouds.a
    }
    fn target(&self) -> &[f64] {
        &self.clouds.b
    }
    fn row<'a>(&'a self, i: usize, buf: &'a mut [f64]) -> &'a [f64] {
        self.row_into(i, buf);
        &buf[..self.m()]
    }
    fn col<'a>(&'a self, j: usize, buf: &'a mut [f64]) -> &'a [f64] {
        self.col_into(j, buf);
        &buf[..self.n()]
    }
    fn entry(&self, i: usize, j: usize) -> f64 {
        let dim = self.clouds.dim;
        self.ground.eval(
            &self.clouds.x[i * dim..(i + 1) * dim],
            &self.clouds.y[j * dim..(j + 1) * dim],
        ) * self.inv_scale
    }
    fn range(&self) -> (f64, f64) {
        self.range
    }
    fn dense(&self) -> Option<&[f64]> {
        None
    }
}

/// The buffer a row (`by_cols = false`) or column visitor needs for `c`: empty when the
/// costs are stored.
pub(crate) fn buffer<C: Costs>(c: &C, by_cols: bool) -> Vec<f64> {
    if c.stored() {
        Vec::new()
    } else if by_cols {
        vec![0.0; c.n()]
    } else {
        vec![0.0; c.m()]
    }
}

/// `out_i = log Σ_j exp(shift_j − η C_ij)` over the rows of `C` (or, with `by_cols`, over
/// its columns: `out_j = log Σ_i exp(shift_i − η C_ij)`). Cost: one pass over the costs
/// (`n·m` exps), parallel.
pub(crate) fn lse_lines<C: Costs>(c: &C, by_cols: bool, shift: &[f64], eta: f64, out: &mut [f64]) {
    out.par_iter_mut()
        .with_min_len(crate::kernels::ROWS_PER_TASK)
        .enumerate()
        .for_each_init(
            || buffer(c, by_cols),
            |buf, (i, o)| {
                let line = if by_cols {
                    c.col(i, buf)
                } else {
                    c.row(i, buf)
                };
                let (mx, s) = crate::kernels::row_lse_parts(line, shift, eta);
                *o = mx + s.ln();
            },
        );
}

/// Sums of the plan `P_ij = exp(η (f_i + g_j − C_ij))`, computed a row at a time.
pub(crate) struct PlanSums {
    /// `P1`.
    pub rows: Vec<f64>,
    /// `Pᵀ1`.
    pub cols: Vec<f64>,
    /// `⟨C, P⟩`.
    pub transport: f64,
    /// `Σ P (log P − 1)`.
    pub entropy: f64,
}

/// One pass over the plan of potentials `(f, g)` without storing it. Cost: `n·m` exps,
/// parallel over rows (each worker keeps its own column sums).
pub(crate) fn plan_sums<C: Costs>(c: &C, eta: f64, f: &[f64], g: &[f64]) -> PlanSums {
    let (n, m) = (c.n(), c.m());
    let mut rows = vec![0.0; n];
    let (cols, transport, entropy) = rows
        .par_iter_mut()
        .enumerate()
        .with_min_len(crate::kernels::ROWS_PER_TASK)
        .fold(
            || (buffer(c, false), vec![0.0; m], vec![0.0; m], 0.0, 0.0),
            |(mut buf, mut p, mut cols, mut t, mut e), (i, r)| {
                let crow = c.row(i, &mut buf);
                plan_row(crow, f[i], g, eta, &mut p);
                let mut sum = 0.0;
                for j in 0..m {
                    let pij = p[j];
                    sum += pij;
                    cols[j] += pij;
                    if pij > 0.0 {
                        t += pij * crow[j];
                        e += pij * (eta * (f[i] + g[j] - crow[j]) - 1.0);
                    }
                }
                *r = sum;
                (buf, p, cols, t, e)
            },
        )
        .map(|(_, _, cols, t, e)| (cols, t, e))
        .reduce(
            || (vec![0.0; m], 0.0, 0.0),
            |(mut a, t1, e1), (b, t2, e2)| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                (a, t1 + t2, e1 + e2)
            },
        );
    PlanSums {
        rows,
        cols,
        transport,
        entropy,
    }
}

/// `out_j = exp(η (f_i + g_j − c_j))` for one cost row `c`.
pub(crate) fn plan_row(c: &[f64], fi: f64, g: &[f64], eta: f64, out: &mut [f64]) {
    for ((o, &cj), &gj) in out.iter_mut().zip(c).zip(g) {
        *o = eta * (fi + gj - cj);
    }
    crate::kernels::exp_in_place(&mut out[..c.len()]);
}

/// The result of an entropic solver on costs that are not stored: the plan stays implicit
/// (`P = exp(η (f ⊕ g − C))`, [`crate::TransportPlan::implicit`]); costs, dual value and
/// marginal errors come from one more pass.
pub(crate) fn finish_implicit<C: Costs>(
    c: &C,
    eta: f64,
    f: Vec<f64>,
    g: Vec<f64>,
    run: crate::solution::RunRecord,
) -> crate::OtSolution {
    let s = plan_sums(c, eta, &f, &g);
    let total: f64 = s.rows.iter().sum();
    let dual =
        crate::kernels::dot(c.source(), &f) + crate::kernels::dot(c.target(), &g) - total / eta;
    crate::OtSolution {
        plan: crate::TransportPlan::implicit(c.n(), c.m()),
        eta: Some(eta),
        transport_cost: s.transport,
        entropic_cost: s.transport + s.entropy / eta,
        dual_value: dual,
        source_marginal_error: crate::solution::l1_dist(&s.rows, c.source()),
        target_marginal_error: crate::solution::l1_dist(&s.cols, c.target()),
        f,
        g,
        iterations: run.iterations,
        history: run.history,
        stop: run.stop,
        elapsed_s: run.start.elapsed().as_secs_f64(),
        sns: run.sns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_compute_the_stored_problem() {
        let clouds = PointClouds::clustered(37, 23, 3, 4).unwrap();
        for ground in ["sqeuclidean", "euclidean", "cityblock", "minkowski:3"] {
            let g: GroundCost = ground.parse().unwrap();
            let lazy = CloudCosts::new(clouds.clone(), g, CostScale::Max).unwrap();
            let dense = clouds.problem(g, CostScale::Max).unwrap();
            let (mut r, mut c) = (vec![0.0; 23], vec![0.0; 37]);
            for i in 0..37 {
                let (a, b) = (lazy.row(i, &mut r), Costs::row(&dense, i, &mut []));
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-14, "{ground}");
                }
            }
            for j in 0..23 {
                let (a, b) = (lazy.col(j, &mut c), Costs::col(&dense, j, &mut []));
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-14, "{ground}");
                }
                assert!((lazy.entry(5, j) - dense.cost()[5 * 23 + j]).abs() < 1e-14);
            }
            let (lo, hi) = Costs::range(&dense);
            assert!((lazy.range().0 - lo).abs() < 1e-14 && (lazy.range().1 - hi).abs() < 1e-14);
        }
        let mut bad = clouds.clone();
        bad.a[3] = 0.0;
        assert!(CloudCosts::new(bad, GroundCost::L1, CostScale::None).is_err());
        let mut bad = clouds.clone();
        bad.x[1] = f64::NAN;
        assert!(CloudCosts::new(bad, GroundCost::L1, CostScale::None).is_err());
        let mut bad = clouds;
        bad.y.pop();
        assert!(CloudCosts::new(bad, GroundCost::L1, CostScale::None).is_err());
    }
}
