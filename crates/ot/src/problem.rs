//! Transport problems: two histograms and a cost matrix, built directly, from point clouds, or
//! from densities on regular 2D grids.
//!
//! An [`OtProblem`] is validated once when built (shapes, NaN/∞, negative mass, equal total
//! mass); every solver can then trust it. It stores the cost matrix row-major (`n × m`) and its
//! transpose, so that row and column sweeps both read memory contiguously: memory `16·n·m`
//! bytes.

use crate::error::OtError;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use ritz_linalg::LinalgError;
use ritz_linalg::error::{check_finite, check_len};
use serde::{Deserialize, Serialize};

/// Relative difference of total masses accepted as "equal" (rounding of normalized
/// histograms); the target histogram is then rescaled to the source's mass exactly.
pub const MASS_RTOL: f64 = 1e-9;

/// Ground cost between points `x, y ∈ ℝᵈ`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum GroundCost {
    /// `‖x − y‖₂²` (the W₂ cost).
    SquaredEuclidean,
    /// `‖x − y‖₁` (Manhattan, "cityblock").
    L1,
    /// `‖x − y‖₂^power` (the Wₚ cost for `power = p ≥ 1`; `power = 1` gives W₁).
    EuclideanPower {
        /// Exponent `p > 0`.
        power: f64,
    },
    /// `‖x − y‖_p = (Σ |x_k − y_k|^p)^{1/p}`, `p ≥ 1` (Minkowski distance).
    Minkowski {
        /// Norm exponent `p ≥ 1`.
        p: f64,
    },
}

impl GroundCost {
    pub(crate) fn validate(&self) -> Result<(), OtError> {
        match *self {
            GroundCost::EuclideanPower { power } if !(power > 0.0 && power.is_finite()) => Err(
                OtError::InvalidParameter(format!("Euclidean power must be > 0, got {power}")),
            ),
            GroundCost::Minkowski { p } if !(p >= 1.0 && p.is_finite()) => Err(
                OtError::InvalidParameter(format!("Minkowski p must be ≥ 1, got {p}")),
            ),
            _ => Ok(()),
        }
    }

    /// The cost between two points of equal length.
    pub fn eval(&self, x: &[f64], y: &[f64]) -> f64 {
        let sq = || x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
        match *self {
            GroundCost::SquaredEuclidean => sq(),
            GroundCost::L1 => x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum(),
            GroundCost::EuclideanPower { power } => sq().sqrt().powf(power),
            GroundCost::Minkowski { p } => x
                .iter()
                .zip(y)
                .map(|(a, b)| (a - b).abs().powf(p))
                .sum::<f64>()
                .powf(1.0 / p),
        }
    }
}

/// A density on a regular `rows × cols` grid of the unit square, row-major; cell `(i, j)` sits
/// at `((i + ½)/rows, (j + ½)/cols)`.
#[derive(Debug, Clone, PartialEq)]
pub struct GridDensity {
    /// Number of grid rows.
    pub rows: usize,
    /// Number of grid columns.
    pub cols: usize,
    /// `rows · cols` non-negative values, row-major.
    pub values: Vec<f64>,
}

impl GridDensity {
    /// Cell centres as a `(rows·cols) × 2` row-major point array.
    pub fn centres(&self) -> Vec<f64> {
        let mut p = Vec::with_capacity(2 * self.rows * self.cols);
        for i in 0..self.rows {
            for j in 0..self.cols {
                p.push((i as f64 + 0.5) / self.rows as f64);
                p.push((j as f64 + 0.5) / self.cols as f64);
            }
        }
        p
    }
}

/// A balanced transport problem: source histogram `a` (length `n`), target histogram `b`
/// (length `m`, rescaled to `Σ a`), cost `C` (`n × m`).
#[derive(Debug, Clone)]
pub struct OtProblem {
    n: usize,
    m: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    cost: Vec<f64>,
    cost_t: Vec<f64>,
}

/// Validates a histogram (finite, non-negative, positive mass); returns its mass.
pub(crate) fn check_histogram(what: &'static str, h: &[f64]) -> Result<f64, OtError> {
    check_finite(what, h)?;
    if let Some(index) = h.iter().position(|&v| v < 0.0) {
        return Err(OtError::Negative {
            what,
            index,
            value: h[index],
        });
    }
    let mass: f64 = h.iter().sum();
    if mass <= 0.0 {
        return Err(OtError::NoMass { what });
    }
    Ok(mass)
}

/// Errors unless the two masses agree to [`MASS_RTOL`] (relative).
pub(crate) fn check_masses(ma: f64, mb: f64) -> Result<(), OtError> {
    if (ma - mb).abs() > MASS_RTOL * ma.max(mb) {
        return Err(OtError::MassMismatch {
            source_mass: ma,
            target_mass: mb,
            tolerance: MASS_RTOL,
        });
    }
    Ok(())
}

fn check_points(what: &'static str, p: &[f64], dim: usize) -> Result<usize, OtError> {
    if dim == 0 {
        return Err(OtError::InvalidParameter(
            "point dimension must be ≥ 1".into(),
        ));
    }
    if !p.len().is_multiple_of(dim) {
        return Err(OtError::Linalg(LinalgError::Shape {
            what,
            expected: p.len().div_ceil(dim) * dim,
            found: p.len(),
        }));
    }
    check_finite(what, p)?;
    Ok(p.len() / dim)
}

impl OtProblem {
    /// A problem from histograms and a row-major `n × m` cost matrix.
    ///
    /// Errors: empty or zero-mass histograms, negative or non-finite entries, a cost of the
    /// wrong length or with NaN/∞, total masses differing by more than [`MASS_RTOL`]
    /// (relative). Zero-mass bins are allowed. Cost: O(n·m) (the transpose is stored).
    pub fn new(a: Vec<f64>, b: Vec<f64>, cost: Vec<f64>) -> Result<Self, OtError> {
        let ma = check_histogram("source histogram a", &a)?;
        let mb = check_histogram("target histogram b", &b)?;
        check_masses(ma, mb)?;
        let (n, m) = (a.len(), b.len());
        check_len("cost matrix (n·m entries)", n * m, cost.len())?;
        check_finite("cost matrix", &cost)?;
        // The problem keeps the transpose of the cost too.
        check_dense("the transposed cost matrix", n, m, 1)?;
        let b = if ma == mb {
            b
        } else {
            b.iter().map(|v| v * (ma / mb)).collect()
        };
        let cost_t = transpose(&cost, n, m);
        Ok(Self {
            n,
            m,
            a,
            b,
            cost,
            cost_t,
        })
    }

    /// A problem between two weighted point clouds: `x` is `n × dim`, `y` is `m × dim`
    /// (row-major), `C_ij = ground(x_i, y_j)`. Errors as [`OtProblem::new`], plus ragged point
    /// arrays and invalid ground-cost exponents. Cost: O(n·m·dim).
    pub fn from_points(
        x: &[f64],
        y: &[f64],
        dim: usize,
        a: Vec<f64>,
        b: Vec<f64>,
        ground: GroundCost,
    ) -> Result<Self, OtError> {
        ground.validate()?;
        let n = check_points("source points", x, dim)?;
        let m = check_points("target points", y, dim)?;
        check_len("source weights vs. points", n, a.len())?;
        check_len("target weights vs. points", m, b.len())?;
        check_dense("a point-cloud cost matrix", n, m, 1)?;
        let mut cost = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                cost[i * m + j] =
                    ground.eval(&x[i * dim..(i + 1) * dim], &y[j * dim..(j + 1) * dim]);
            }
        }
        Self::new(a, b, cost)
    }

    /// Transport between two densities on regular grids of the unit square (the grids may
    /// differ in size). With `SquaredEuclidean` the optimal cost is W₂², with
    /// `EuclideanPower { power: 1.0 }` it is W₁. Errors: a grid whose value count is not
    /// `rows · cols`, plus those of [`OtProblem::new`]. The cost matrix is dense:
    /// `(rows·cols)²` entries, so grids up to about 64 × 64 are practical.
    pub fn from_grids(
        source: &GridDensity,
        target: &GridDensity,
        ground: GroundCost,
    ) -> Result<Self, OtError> {
        for (what, g) in [("source grid", source), ("target grid", target)] {
            check_len(what, g.rows * g.cols, g.values.len())?;
        }
        Self::from_points(
            &source.centres(),
            &target.centres(),
            2,
            source.values.clone(),
            target.values.clone(),
            ground,
        )
    }

    /// The random assignment problem of the Sinkhorn-Newton-Sparse paper: `n × n` costs drawn
    /// uniformly from `[0, 1)`, uniform marginals `1/n`. Reproducible by `seed`.
    pub fn random_assignment(n: usize, seed: u64) -> Result<Self, OtError> {
        if n == 0 {
            return Err(OtError::InvalidParameter("n must be ≥ 1".into()));
        }
        check_dense("a random assignment cost matrix", n, n, 1)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let cost: Vec<f64> = (0..n * n).map(|_| rng.random::<f64>()).collect();
        let h = vec![1.0 / n as f64; n];
        Self::new(h.clone(), h, cost)
    }

    /// Number of source bins `n`.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Number of target bins `m`.
    pub fn m(&self) -> usize {
        self.m
    }
    /// Source histogram `a`.
    pub fn source(&self) -> &[f64] {
        &self.a
    }
    /// Target histogram `b` (rescaled to `Σ a`).
    pub fn target(&self) -> &[f64] {
        &self.b
    }
    /// Total mass `Σ a`.
    pub fn mass(&self) -> f64 {
        self.a.iter().sum()
    }
    /// Cost matrix, row-major `n × m`.
    pub fn cost(&self) -> &[f64] {
        &self.cost
    }
    /// Transposed cost matrix, row-major `m × n`.
    pub fn cost_t(&self) -> &[f64] {
        &self.cost_t
    }

    /// `(rows kept, columns kept, reduced problem)` without zero-mass bins, or `None` when
    /// every bin has mass. Solvers work on the reduced problem and re-insert the bins.
    pub(crate) fn without_empty_bins(&self) -> Option<(Vec<usize>, Vec<usize>, OtProblem)> {
        if self.a.iter().all(|&v| v > 0.0) && self.b.iter().all(|&v| v > 0.0) {
            return None;
        }
        let rows: Vec<usize> = (0..self.n).filter(|&i| self.a[i] > 0.0).collect();
        let cols: Vec<usize> = (0..self.m).filter(|&j| self.b[j] > 0.0).collect();
        let mut cost = Vec::with_capacity(rows.len() * cols.len());
        for &i in &rows {
            cost.extend(cols.iter().map(|&j| self.cost[i * self.m + j]));
        }
        let (n, m) = (rows.len(), cols.len());
        let reduced = OtProblem {
            n,
            m,
            a: rows.iter().map(|&i| self.a[i]).collect(),
            b: cols.iter().map(|&j| self.b[j]).collect(),
            cost_t: transpose(&cost, n, m),
            cost,
        };
        Some((rows, cols, reduced))
    }
}

/// Row-major transpose of an `n × m` matrix.
pub(crate) fn transpose(x: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            t[j * n + i] = x[i * m + j];
        }
    }
    t
}

/// Errors with `OutOfMemory` (as [`OtError::Linalg`]) unless `copies` dense `n × m` arrays of
/// `f64` fit in the memory available now. Every solver calls it before its dense allocations.
pub fn check_dense(what: &str, n: usize, m: usize, copies: usize) -> Result<(), OtError> {
    ritz_linalg::mem::check(
        || format!("{copies} × {what} ({n} × {m} f64)"),
        ritz_linalg::mem::product(&[n, m, copies, 8]),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors() {
        let c = vec![0.0; 4];
        assert!(matches!(
            OtProblem::new(vec![0.5, 0.5], vec![0.5, 0.6], c.clone()),
            Err(OtError::MassMismatch { .. })
        ));
        assert!(matches!(
            OtProblem::new(vec![0.5, -0.5], vec![0.5, 0.5], c.clone()),
            Err(OtError::Negative { index: 1, .. })
        ));
        assert!(matches!(
            OtProblem::new(vec![0.5, f64::NAN], vec![0.5, 0.5], c.clone()),
            Err(OtError::Linalg(LinalgError::NonFinite { index: 1, .. }))
        ));
        assert!(matches!(
            OtProblem::new(vec![0.5, 0.5], vec![0.5, 0.5], vec![0.0; 3]),
            Err(OtError::Linalg(LinalgError::Shape { .. }))
        ));
        assert!(matches!(
            OtProblem::new(
                vec![0.5, 0.5],
                vec![0.5, 0.5],
                vec![0.0, f64::INFINITY, 0.0, 0.0]
            ),
            Err(OtError::Linalg(LinalgError::NonFinite { index: 1, .. }))
        ));
        assert!(matches!(
            OtProblem::new(vec![], vec![1.0], vec![]),
            Err(OtError::NoMass { .. })
        ));
        assert!(matches!(
            OtProblem::from_points(
                &[0.0, 1.0, 2.0],
                &[0.0, 1.0],
                2,
                vec![1.0],
                vec![1.0],
                GroundCost::L1
            ),
            Err(OtError::Linalg(LinalgError::Shape { .. }))
        ));
        assert!(matches!(
            OtProblem::from_points(
                &[0.0],
                &[1.0],
                1,
                vec![1.0],
                vec![1.0],
                GroundCost::Minkowski { p: 0.5 }
            ),
            Err(OtError::InvalidParameter(_))
        ));
    }

    #[test]
    fn ground_costs_and_rescaling() {
        let x = [0.0, 0.0];
        let y = [3.0, 4.0];
        assert_eq!(GroundCost::SquaredEuclidean.eval(&x, &y), 25.0);
        assert_eq!(GroundCost::L1.eval(&x, &y), 7.0);
        assert!((GroundCost::EuclideanPower { power: 1.0 }.eval(&x, &y) - 5.0).abs() < 1e-15);
        assert!((GroundCost::Minkowski { p: 2.0 }.eval(&x, &y) - 5.0).abs() < 1e-15);
        let p = OtProblem::new(vec![0.5, 0.5], vec![0.25, 0.75 + 1e-12], vec![0.0; 4]).unwrap();
        assert!((p.target().iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let g = GridDensity {
            rows: 2,
            cols: 3,
            values: vec![1.0; 6],
        };
        assert_eq!(&g.centres()[..4], &[0.25, 1.0 / 6.0, 0.25, 0.5]);
    }
}
