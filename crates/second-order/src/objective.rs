//! The objective interface (value, gradient, curvature-vector products), an evaluation
//! counter, and curvature matrices as linalg [`LinearOperator`]s.
//!
//! Curvatures ([`Curvature`]): the exact Hessian `∇²f`, the generalized Gauss–Newton `Jᵀ H_ℓ J`
//! (equal to the Hessian for generalized linear models with canonical links: least squares,
//! logistic and softmax regression), and the empirical Fisher `(1/N) Σ ∇ℓ_i ∇ℓ_iᵀ`. An L2
//! regularizer `(λ/2)‖x‖²` adds `λI` to all three.

use crate::error::{SecondOrderError, check_finite, check_len};
use ritz_linalg::LinearOperator;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which curvature matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Curvature {
    /// The exact Hessian.
    Hessian,
    /// The (generalized) Gauss–Newton matrix.
    GaussNewton,
    /// The empirical Fisher `(1/N) Σ g_i g_iᵀ` of the per-sample loss gradients.
    EmpiricalFisher,
}

impl Curvature {
    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Curvature::Hessian => "hessian",
            Curvature::GaussNewton => "gauss-newton",
            Curvature::EmpiricalFisher => "fisher",
        }
    }
}

/// A twice-differentiable objective `f: ℝᵈ → ℝ`.
///
/// Slice lengths are preconditions of the methods (`x`, `v`, `out` of length `dim()`); the
/// optimizers and operators check user input once, up front.
pub trait Objective: Sync {
    /// Dimension `d`.
    fn dim(&self) -> usize;
    /// Short model name for errors and tables.
    fn name(&self) -> &'static str;
    /// `f(x)`.
    fn value(&self, x: &[f64]) -> f64;
    /// Writes `∇f(x)` into `g` and returns `f(x)`.
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64;
    /// `out = C(x) v` for curvature `kind`; `Unsupported` if the model lacks it.
    fn curvature_vp(
        &self,
        kind: Curvature,
        x: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), SecondOrderError>;
    /// `out = ∇²f(x) v`.
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        self.curvature_vp(Curvature::Hessian, x, v, out)
            .expect("every objective provides Hessian-vector products");
    }
}

/// Counts the evaluations made through it (thread-safe).
pub struct Counted<'a> {
    inner: &'a dyn Objective,
    values: AtomicUsize,
    gradients: AtomicUsize,
    products: AtomicUsize,
}

impl<'a> Counted<'a> {
    /// Wraps `inner` with zeroed counters.
    pub fn new(inner: &'a dyn Objective) -> Self {
        Self {
            inner,
            values: AtomicUsize::new(0),
            gradients: AtomicUsize::new(0),
            products: AtomicUsize::new(0),
        }
    }
    /// `(values, gradients, curvature-vector products)` evaluated so far.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.values.load(Ordering::Relaxed),
            self.gradients.load(Ordering::Relaxed),
            self.products.load(Ordering::Relaxed),
        )
    }
}

impl Objective for Counted<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.values.fetch_add(1, Ordering::Relaxed);
        self.inner.value(x)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        self.gradients.fetch_add(1, Ordering::Relaxed);
        self.inner.gradient(x, g)
    }
    fn curvature_vp(
        &self,
        kind: Curvature,
        x: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), SecondOrderError> {
        self.products.fetch_add(1, Ordering::Relaxed);
        self.inner.curvature_vp(kind, x, v, out)
    }
}

/// The curvature matrix `C(x) + shift·I` of an objective at a fixed point, as a symmetric
/// [`LinearOperator`] (Krylov solvers, Lanczos, dense assembly). Cost per apply: one
/// curvature-vector product.
pub struct CurvatureOperator<'a> {
    objective: &'a dyn Objective,
    x: Vec<f64>,
    kind: Curvature,
    shift: f64,
}

impl<'a> CurvatureOperator<'a> {
    /// Errors: `x` of the wrong length or non-finite, a non-finite shift, or a curvature the
    /// model does not provide.
    pub fn new(
        objective: &'a dyn Objective,
        x: &[f64],
        kind: Curvature,
        shift: f64,
    ) -> Result<Self, SecondOrderError> {
        check_len("point x", objective.dim(), x.len())?;
        check_finite("point x", x)?;
        if !shift.is_finite() {
            return Err(SecondOrderError::InvalidParameter(format!(
                "shift must be finite, got {shift}"
            )));
        }
        let d = objective.dim();
        let mut probe = vec![0.0; d];
        objective.curvature_vp(kind, x, &vec![0.0; d], &mut probe)?;
        Ok(Self {
            objective,
            x: x.to_vec(),
            kind,
            shift,
        })
    }
}

impl CurvatureOperator<'_> {
    /// Changes the shift (e.g. the regularization of a Newton system).
    pub fn set_shift(&mut self, shift: f64) {
        self.shift = shift;
    }
}

impl LinearOperator for CurvatureOperator<'_> {
    fn nrows(&self) -> usize {
        self.x.len()
    }
    fn ncols(&self) -> usize {
        self.x.len()
    }
    fn apply(&self, v: &[f64], y: &mut [f64]) {
        self.objective
            .curvature_vp(self.kind, &self.x, v, y)
            .expect("curvature checked at construction");
        if self.shift != 0.0 {
            for (y, v) in y.iter_mut().zip(v) {
                *y += self.shift * v;
            }
        }
    }
}

/// `Σ_i f(i, acc)` over `0..n` in parallel: each rayon task folds a contiguous range of samples
/// into its own length-`d` accumulator; the partial sums are added in a fixed order (results
/// are reproducible for a given thread count).
pub(crate) fn par_sum<F>(n: usize, d: usize, f: F) -> Vec<f64>
where
    F: Fn(std::ops::Range<usize>, &mut [f64]) + Sync,
{
    use rayon::prelude::*;
    let chunk = 64usize.max(n.div_ceil(4 * rayon::current_num_threads().max(1)));
    let parts: Vec<Vec<f64>> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![0.0; d];
            f(c * chunk..((c + 1) * chunk).min(n), &mut acc);
            acc
        })
        .collect();
    let mut out = vec![0.0; d];
    for p in parts {
        for (o, v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
    out
}
