//! Sequential quadratic programming for `min f(x) s.t. c(x) = 0` with inexact Newton steps
//! and the exact augmented Lagrangian merit function (Hong, Na, Mahoney & Kolar, ICML 2023;
//! the merit function is Lucidi's, as simplified by Na, Anitescu & Kolar, 2023).
//!
//! With `G = ∂c/∂x`, `L = f + λᵀc` and `∇ₓL = ∇f + Gᵀλ`, an iteration
//!
//! 1. forms the Newton (KKT) system of the Lagrangian,
//!    `[[B, Gᵀ], [G, 0]] [Δx; Δλ] = −[∇ₓL; c]` with `B = ∇²ₓₓL + τI` (`τ = 0` unless a shift
//!    is needed, step 3);
//! 2. solves it — exactly ([`KktSolve::Exact`]: sparse LU), or inexactly by randomized
//!    sketch-and-project ([`KktSolve::Sketch`]) or MINRES ([`KktSolve::Minres`]) until the
//!    residual meets the **accuracy condition** `‖r‖ ≤ η ‖(∇ₓL, c)‖`, with `η = θ δ`
//!    (adaptive) or `η = min(θ δ, ‖(∇ₓL, c)‖^ρ)` (sharpened, [`SqpParams::sharpen`]);
//! 3. tests that the step is a descent direction of the merit function
//!    `ℒ_{μ,ν}(x, λ) = L + (μ/2)‖c‖² + (ν/2)‖∇ₓL‖²` ([`AugmentedLagrangian`]):
//!    `∇ℒ_{μ,ν}ᵀ(Δx, Δλ) ≤ −(ν/2) ‖(∇ₓL, c)‖²`. When it is not: if `B` lacks curvature along
//!    the step (`Δxᵀ B Δx < κ ‖Δx‖²`, a nonconvex problem) the shift `τ` grows tenfold,
//!    otherwise the penalties move (`μ ← ν̄² μ`, `ν ← ν / ν̄`) and the accuracy tightens
//!    (`δ ← δ / ν̄`); the system is solved again (warm-started) and tested again;
//! 4. takes the largest step `α ∈ {1, ½, ¼, …}` with the Armijo decrease
//!    `ℒ(x + αΔx, λ + αΔλ) ≤ ℒ(x, λ) + β α ∇ℒᵀ(Δx, Δλ)` — or, once the predicted decrease
//!    is below the rounding of `ℒ` (`|∇ℒᵀΔ| ≤ 10³ ε |ℒ|`), the one that lowers `‖(∇ₓL, c)‖`.
//!
//! Why this merit function: it is differentiable and exact — for `ν` small and `μ` large
//! enough its stationary points are the KKT points — and, unlike the ℓ₁ merit, it accepts unit
//! Newton steps near a solution (no Maratos effect), so the local rate of the Newton iteration
//! survives: linear with the fixed accuracy `θδ`, superlinear (order `1 + ρ`) with the
//! sharpened one, quadratic with exact solves.
//!
//! What is ours, not the paper's: the constants (`μ₀ = 10`, `ν₀ = 0.1`, `ν̄ = 2`, `θ = 0.5`,
//! `β = 10⁻⁴`), the Hessian shift for nonconvex problems (an inertia-free curvature test in the
//! spirit of IPOPT's), and the sharpened rule's form (an Eisenstat–Walker-type forcing term).
//!
//! Cost per iteration: one evaluation of `f, ∇f, c, G, ∇²ₓₓL` (plus `f, ∇f, c, G` per line
//! search trial), one KKT assembly (`O(nnz(G) + nnz(∇²L))`), and the solve: a sparse LU
//! (fill-dependent), or the sketching / MINRES iterations the accuracy condition asks for
//! (their count and flops are in the run record). Memory: the KKT matrix and a few vectors of
//! length `n + m` (plus the LU factors for the exact solve).
//!
//! Failure modes (typed errors, nothing panics): a starting point of the wrong length or with
//! NaN/∞, a problem that returns matrices of the wrong shape or non-finite values, a
//! rank-deficient constraint Jacobian ([`SecondOrderError::RankDeficientJacobian`]) or
//! linearized constraints with no solution ([`SecondOrderError::InconsistentConstraints`]) —
//! checked at `x₀` (dense, for `m · n ≤ 4·10⁶`) and whenever an exact KKT solve fails.
//! Non-convergence is a stop reason: `MaxIterations`, `TimeLimit`, or `Stalled` (no step
//! decreases the merit, or the penalty / shift updates run out).

use crate::constrained::{EqualityProblem, check_point};
use crate::error::SecondOrderError;
use faer::linalg::solvers::Solve;
use ritz_krylov::sketch::{Sketch, SketchParams, sketch_and_project};
use ritz_krylov::{Monitor, SolveParams, StopReason, minres::minres};
use ritz_linalg::{CsrMatrix, LinearOperator, vector};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How the KKT systems are solved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KktSolve {
    /// Sparse LU (faer, fill-reducing ordering, partial pivoting): exact to rounding.
    Exact,
    /// Randomized sketch-and-project ([`ritz_krylov::sketch`]), warm-started, run until the
    /// accuracy condition holds or `max_iters` sketch iterations.
    Sketch {
        /// The sketch.
        sketch: Sketch,
        /// Sketch iterations per solve.
        max_iters: usize,
        /// Seed (each solve draws from `seed` plus the iteration and attempt).
        seed: u64,
    },
    /// MINRES (the deterministic iterative reference), warm-started, run until the accuracy
    /// condition holds or `max_iters` iterations.
    Minres {
        /// Iterations per solve.
        max_iters: usize,
    },
}

impl KktSolve {
    /// A short name for reports (`exact`, `sketch-row`, `sketch-block-8`, `minres`).
    pub fn name(&self) -> String {
        match self {
            KktSolve::Exact => "exact".into(),
            KktSolve::Minres { .. } => "minres".into(),
            KktSolve::Sketch { sketch, .. } => match sketch {
                Sketch::Row => "sketch-row".into(),
                Sketch::Block { size } => format!("sketch-block-{size}"),
                Sketch::Gaussian { size } => format!("sketch-gaussian-{size}"),
                Sketch::Count { size } => format!("sketch-count-{size}"),
            },
        }
    }
}

/// Parameters of [`sqp`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SqpParams {
    /// Stop when `‖(∇ₓL, c)‖₂ ≤ max(tol, rtol · ‖(∇ₓL, c)‖₂ at x₀)`.
    pub tol: f64,
    /// Relative part of the stop test (0 by default).
    pub rtol: f64,
    /// SQP iterations.
    pub max_iters: usize,
    /// Wall-clock limit in seconds (`None`: none).
    pub time_limit_s: Option<f64>,
    /// The KKT solver.
    pub solve: KktSolve,
    /// Initial penalty on `‖c‖²` (`μ₀`).
    pub mu: f64,
    /// Initial penalty on `‖∇ₓL‖²` (`ν₀`).
    pub nu: f64,
    /// Penalty update factor `ν̄ > 1`.
    pub penalty_factor: f64,
    /// Accuracy constant `θ ∈ (0, 1)`: inexact solves stop at `‖r‖ ≤ θ δ ‖(∇ₓL, c)‖`.
    pub theta: f64,
    /// Sharpened accuracy `ρ ∈ (0, 1]`: `η = min(θδ, ‖(∇ₓL, c)‖^ρ)`, a superlinear local rate of
    /// order `1 + ρ`. `None`: the fixed accuracy (a linear rate).
    pub sharpen: Option<f64>,
    /// Armijo constant `β ∈ (0, 1)`.
    pub armijo: f64,
    /// Curvature threshold `κ` of the Hessian shift test `Δxᵀ B Δx ≥ κ ‖Δx‖²`.
    pub curvature: f64,
    /// Penalty / shift / accuracy updates allowed in one iteration before it stalls.
    pub max_updates: usize,
}

impl Default for SqpParams {
    fn default() -> Self {
        Self {
            tol: 1e-8,
            rtol: 0.0,
            max_iters: 500,
            time_limit_s: None,
            solve: KktSolve::Exact,
            mu: 10.0,
            nu: 0.1,
            penalty_factor: 2.0,
            theta: 0.5,
            sharpen: None,
            armijo: 1e-4,
            curvature: 1e-8,
            max_updates: 60,
        }
    }
}

impl SqpParams {
    fn validate(&self) -> Result<(), SecondOrderError> {
        let bad = |what: &str, v: f64| {
            Err(SecondOrderError::InvalidParameter(format!(
                "{what} out of range: {v}"
            )))
        };
        if !(self.tol >= 0.0 && self.rtol >= 0.0) || (self.tol == 0.0 && self.rtol == 0.0) {
            return bad("tol/rtol (≥ 0, one positive)", self.tol.max(self.rtol));
        }
        if !(self.mu > 0.0 && self.mu.is_finite()) {
            return bad("μ₀ (> 0)", self.mu);
        }
        if !(self.nu > 0.0 && self.nu.is_finite()) {
            return bad("ν₀ (> 0)", self.nu);
        }
        if !(self.penalty_factor > 1.0 && self.penalty_factor.is_finite()) {
            return bad("penalty factor ν̄ (> 1)", self.penalty_factor);
        }
        if !(self.theta > 0.0 && self.theta < 1.0) {
            return bad("θ (in (0, 1))", self.theta);
        }
        if let Some(r) = self.sharpen
            && !(r > 0.0 && r <= 1.0)
        {
            return bad("ρ (in (0, 1])", r);
        }
        if !(self.armijo > 0.0 && self.armijo < 1.0) {
            return bad("β (in (0, 1))", self.armijo);
        }
        if !(self.curvature >= 0.0 && self.curvature.is_finite()) {
            return bad("κ (≥ 0)", self.curvature);
        }
        match self.solve {
            KktSolve::Sketch { max_iters: 0, .. } | KktSolve::Minres { max_iters: 0 } => {
                bad("KKT solver iterations (≥ 1)", 0.0)
            }
            _ => Ok(()),
        }
    }
}

/// The problem's functions at one point `(x, λ)`: what the merit function and the KKT
/// system need.
pub struct Evaluation {
    /// `f(x)`.
    pub f: f64,
    /// `∇f(x)`.
    pub g: Vec<f64>,
    /// `c(x)`.
    pub c: Vec<f64>,
    /// `G = ∂c/∂x` (`m × n`).
    pub jac: CsrMatrix,
    /// `Gᵀ`.
    pub jac_t: CsrMatrix,
    /// `∇ₓL = ∇f + Gᵀλ`.
    pub grad_lagrangian: Vec<f64>,
}

impl Evaluation {
    /// Evaluates `p` at `(x, λ)`. Cost: one objective, gradient, constraint and Jacobian
    /// evaluation, one `Gᵀλ`. Errors: wrong lengths or non-finite values from the problem.
    pub fn new(
        p: &dyn EqualityProblem,
        x: &[f64],
        lambda: &[f64],
    ) -> Result<Self, SecondOrderError> {
        let (n, m) = (p.n(), p.m());
        let f = p.objective(x);
        if !f.is_finite() {
            return Err(ritz_linalg::LinalgError::NonFinite {
                what: "objective value",
                index: 0,
            }
            .into());
        }
        let mut g = vec![0.0; n];
        p.gradient(x, &mut g);
        crate::error::check_finite("objective gradient", &g)?;
        let mut c = vec![0.0; m];
        p.constraints(x, &mut c);
        crate::error::check_finite("constraint values", &c)?;
        let jac = p.jacobian_csr(x)?;
        crate::error::check_len("Jacobian rows (m)", m, jac.nrows())?;
        crate::error::check_len("Jacobian columns (n)", n, jac.ncols())?;
        let jac_t = jac.transpose();
        let mut grad_lagrangian = vec![0.0; n];
        jac_t.apply(lambda, &mut grad_lagrangian);
        vector::axpy(1.0, &g, &mut grad_lagrangian);
        Ok(Self {
            f,
            g,
            c,
            jac,
            jac_t,
            grad_lagrangian,
        })
    }

    /// `‖(∇ₓL, c)‖₂`, the KKT residual.
    pub fn kkt(&self) -> f64 {
        (vector::dot(&self.grad_lagrangian, &self.grad_lagrangian) + vector::dot(&self.c, &self.c))
            .sqrt()
    }
}

/// The exact augmented Lagrangian `ℒ_{μ,ν}(x, λ) = f + λᵀc + (μ/2)‖c‖² + (ν/2)‖∇ₓL‖²` and its
/// gradient
///
/// ```text
/// ∇ₓℒ = ∇ₓL + μ Gᵀc + ν ∇²ₓₓL ∇ₓL,     ∇_λℒ = c + ν G ∇ₓL.
/// ```
///
/// ```
/// use ritz_second_order::constrained::hock_schittkowski;
/// use ritz_second_order::sqp::AugmentedLagrangian;
/// let hs = hock_schittkowski();
/// let p = &*hs[4].problem; // HS28: a quadratic with one linear constraint
/// let merit = AugmentedLagrangian { mu: 10.0, nu: 0.1 };
/// let (x, lambda) = (vec![1.0, 2.0, -1.0], vec![0.5]);
/// let (mut gx, mut gl) = (vec![0.0; 3], vec![0.0; 1]);
/// let value = merit.gradient(p, &x, &lambda, &mut gx, &mut gl)?;
/// assert_eq!(value, merit.value(p, &x, &lambda)?);
/// // ∇_λℒ = c + ν G ∇ₓL: c = 1 + 4 − 3 − 1 = 1, ∇ₓL = (6, 8, 2) + 0.5 (1, 2, 3), G∇ₓL = 35.
/// assert!((gl[0] - (1.0 + 0.1 * 35.0)).abs() < 1e-12);
/// # Ok::<(), ritz_second_order::SecondOrderError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AugmentedLagrangian {
    /// Penalty on `‖c‖²`.
    pub mu: f64,
    /// Penalty on `‖∇ₓL‖²`.
    pub nu: f64,
}

impl AugmentedLagrangian {
    /// `ℒ_{μ,ν}` from an evaluation at `(x, λ)`.
    pub fn value_at(&self, e: &Evaluation, lambda: &[f64]) -> f64 {
        e.f + vector::dot(lambda, &e.c)
            + 0.5 * self.mu * vector::dot(&e.c, &e.c)
            + 0.5 * self.nu * vector::dot(&e.grad_lagrangian, &e.grad_lagrangian)
    }

    /// `ℒ_{μ,ν}(x, λ)`. Errors: see [`Evaluation::new`] and [`check_point`].
    pub fn value(
        &self,
        p: &dyn EqualityProblem,
        x: &[f64],
        lambda: &[f64],
    ) -> Result<f64, SecondOrderError> {
        check_point(p, x, Some(lambda))?;
        Ok(self.value_at(&Evaluation::new(p, x, lambda)?, lambda))
    }

    /// Writes `∇ₓℒ` into `gx`, `∇_λℒ` into `glambda`, and returns `ℒ`. Cost: one evaluation
    /// and one Hessian-of-the-Lagrangian product.
    pub fn gradient(
        &self,
        p: &dyn EqualityProblem,
        x: &[f64],
        lambda: &[f64],
        gx: &mut [f64],
        glambda: &mut [f64],
    ) -> Result<f64, SecondOrderError> {
        check_point(p, x, Some(lambda))?;
        crate::error::check_len("∇ₓℒ output", p.n(), gx.len())?;
        crate::error::check_len("∇_λℒ output", p.m(), glambda.len())?;
        let e = Evaluation::new(p, x, lambda)?;
        let mut hgl = vec![0.0; p.n()];
        p.hessian_lagrangian_product(x, lambda, &e.grad_lagrangian, &mut hgl);
        crate::error::check_finite("Hessian-of-the-Lagrangian product", &hgl)?;
        self.gradient_from(&e, &hgl, gx, glambda);
        Ok(self.value_at(&e, lambda))
    }

    /// The gradient from an evaluation and `∇²ₓₓL ∇ₓL`.
    fn gradient_from(&self, e: &Evaluation, hgl: &[f64], gx: &mut [f64], glambda: &mut [f64]) {
        e.jac_t.apply(&e.c, gx);
        for ((o, gl), h) in gx.iter_mut().zip(&e.grad_lagrangian).zip(hgl) {
            *o = gl + self.mu * *o + self.nu * h;
        }
        e.jac.apply(&e.grad_lagrangian, glambda);
        for (o, c) in glambda.iter_mut().zip(&e.c) {
            *o = c + self.nu * *o;
        }
    }
}

/// One iteration of the run record (iteration 0 is the starting point). The solver fields
/// describe the step that led to this iterate, summed over the re-solves of that iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SqpRecord {
    /// Iteration.
    pub iteration: usize,
    /// `f(x)`.
    pub objective: f64,
    /// `‖(∇ₓL, c)‖₂`.
    pub kkt: f64,
    /// `‖∇ₓL‖₂`.
    pub stationarity: f64,
    /// `‖c‖₂`.
    pub feasibility: f64,
    /// Step size `α` taken (0 at iteration 0).
    pub step: f64,
    /// Line-search halvings.
    pub backtracks: usize,
    /// `μ` used for the step.
    pub mu: f64,
    /// `ν` used for the step.
    pub nu: f64,
    /// `δ` used for the step.
    pub delta: f64,
    /// Hessian shift `τ` used for the step.
    pub shift: f64,
    /// The accuracy `η` the last solve was asked for (0: exact).
    pub accuracy: f64,
    /// `‖r‖ / ‖(∇ₓL, c)‖` reached by the last solve.
    pub solve_residual: f64,
    /// KKT solves (1 + re-solves after penalty, shift or accuracy updates).
    pub solves: usize,
    /// Iterations of the inexact solver (0 for the exact one).
    pub solver_iterations: usize,
    /// Floating-point operations of the inexact solver (model: [`Sketch::flops_per_iteration`]
    /// plus residual checks; MINRES: a mat-vec and 9 vector passes per iteration); `None` for
    /// the exact solve, whose fill is not exposed by the factorization.
    pub solver_flops: Option<f64>,
    /// Seconds in KKT assembly and solves for this step.
    pub solve_s: f64,
    /// Seconds since the start.
    pub elapsed_s: f64,
}

/// The result of [`sqp`].
#[derive(Debug, Clone, Serialize)]
pub struct SqpResult {
    /// Final iterate.
    pub x: Vec<f64>,
    /// Final multipliers.
    pub lambda: Vec<f64>,
    /// Run record, iteration 0 first.
    pub history: Vec<SqpRecord>,
    /// Why it stopped.
    pub stop: StopReason,
}

impl SqpResult {
    /// The last KKT residual.
    pub fn kkt(&self) -> f64 {
        self.history.last().map_or(f64::INFINITY, |r| r.kkt)
    }
    /// SQP iterations made.
    pub fn iterations(&self) -> usize {
        self.history.last().map_or(0, |r| r.iteration)
    }
    /// Iterations that took the unit step.
    pub fn unit_steps(&self) -> usize {
        self.history.iter().filter(|r| r.step == 1.0).count()
    }
}

/// A KKT solve's outcome.
struct SolveOutcome {
    iterations: usize,
    flops: Option<f64>,
    /// `‖Kz − b‖ / ‖b‖`.
    residual: f64,
}

/// Assembles `[[H + τI, Gᵀ], [G, 0]]`.
fn kkt_matrix(h: &CsrMatrix, e: &Evaluation, tau: f64) -> Result<CsrMatrix, SecondOrderError> {
    let n = h.nrows();
    let m = e.jac.nrows();
    let mut t: Vec<(usize, usize, f64)> =
        Vec::with_capacity(h.nnz() + 2 * e.jac.nnz() + if tau > 0.0 { n } else { 0 });
    t.extend(h.triplets());
    if tau > 0.0 {
        t.extend((0..n).map(|i| (i, i, tau)));
    }
    for (i, j, v) in e.jac.triplets() {
        t.push((n + i, j, v));
        t.push((j, n + i, v));
    }
    Ok(CsrMatrix::from_triplets(n + m, n + m, &t)?)
}

/// Solves `K z = b` with the chosen solver to relative accuracy `eta` (ignored by the exact
/// solve), warm-starting the iterative ones from `z`.
fn solve_kkt(
    k: &CsrMatrix,
    b: &[f64],
    z: &mut [f64],
    solve: &KktSolve,
    eta: f64,
    seed: u64,
) -> Result<SolveOutcome, SecondOrderError> {
    let bnorm = vector::norm2(b);
    let relres = |z: &[f64]| {
        let mut r = vec![0.0; b.len()];
        k.apply(z, &mut r);
        vector::sub_from(b, &mut r);
        vector::norm2(&r) / bnorm.max(f64::MIN_POSITIVE)
    };
    match *solve {
        KktSolve::Exact => {
            let lu = k
                .to_faer()
                .sp_lu()
                .map_err(|e| SecondOrderError::SingularKkt(format!("sparse LU failed: {e:?}")))?;
            let col = faer::Mat::from_fn(b.len(), 1, |i, _| b[i]);
            let sol = lu.solve(&col);
            for (i, zi) in z.iter_mut().enumerate() {
                *zi = sol[(i, 0)];
            }
            // Iterative refinement (up to 3 steps, while the residual falls by 2×): the KKT
            // matrices of PDE problems are ill-conditioned enough for the LU's rounding to
            // show in the SQP's KKT residual.
            let mut residual = relres(z);
            let mut r = vec![0.0; b.len()];
            for _ in 0..3 {
                if residual <= 1e-15 || residual.is_nan() {
                    break;
                }
                k.apply(z, &mut r);
                let corr = lu.solve(faer::Mat::from_fn(b.len(), 1, |i, _| b[i] - r[i]));
                let trial: Vec<f64> = z
                    .iter()
                    .enumerate()
                    .map(|(i, zi)| zi + corr[(i, 0)])
                    .collect();
                let rt = relres(&trial);
                if rt >= 0.5 * residual || rt.is_nan() {
                    break;
                }
                z.copy_from_slice(&trial);
                residual = rt;
            }
            if !(residual.is_finite() && residual <= 1e-6) {
                return Err(SecondOrderError::SingularKkt(format!(
                    "the LU solve left a relative residual of {residual:e}"
                )));
            }
            Ok(SolveOutcome {
                iterations: 0,
                flops: None,
                residual,
            })
        }
        KktSolve::Sketch {
            sketch, max_iters, ..
        } => {
            let params = SketchParams {
                sketch,
                solve: SolveParams {
                    rtol: eta,
                    atol: 0.0,
                    max_iters,
                    ..Default::default()
                },
                check_every: None,
                seed,
            };
            let info = sketch_and_project(k, b, z, &params, &mut ())?;
            let flops = info.iterations as f64 * sketch.flops_per_iteration(k)
                + info.residual_history.len() as f64 * 2.0 * k.nnz() as f64;
            Ok(SolveOutcome {
                iterations: info.iterations,
                flops: Some(flops),
                residual: relres(z),
            })
        }
        KktSolve::Minres { max_iters } => {
            let params = SolveParams {
                rtol: eta,
                atol: 0.0,
                max_iters,
                ..Default::default()
            };
            let info = minres(k, b, z, &params, &mut ())?;
            let per = 2.0 * k.nnz() as f64 + 18.0 * b.len() as f64;
            Ok(SolveOutcome {
                iterations: info.iterations,
                flops: Some(info.iterations as f64 * per),
                residual: relres(z),
            })
        }
    }
}

/// Checks that the constraint Jacobian has full row rank and, if not, whether the linearized
/// constraints `G d = −c` still have a solution. Dense (`O(m² n + m³)`) up to `m · n ≤ 4·10⁶`,
/// else a sparse Cholesky of `GGᵀ` (which cannot tell the two failures apart).
pub fn check_constraint_jacobian(
    jac: &CsrMatrix,
    c: &[f64],
    iteration: usize,
) -> Result<(), SecondOrderError> {
    let (m, n) = (jac.nrows(), jac.ncols());
    if m == 0 {
        return Ok(());
    }
    if m > n {
        return Err(SecondOrderError::RankDeficientJacobian {
            iteration,
            rank: None,
            m,
        });
    }
    if m.saturating_mul(n) > 4_000_000 {
        let gram = {
            let jt = jac.transpose();
            let mut t = Vec::new();
            // (GGᵀ)_{ik} = Σ_j G_ij G_kj, row by row through Gᵀ's rows.
            for j in 0..n {
                let (rows, vals) = jt.row(j);
                for (a, &i) in rows.iter().enumerate() {
                    for (b, &k) in rows.iter().enumerate() {
                        t.push((i as usize, k as usize, vals[a] * vals[b]));
                    }
                }
            }
            CsrMatrix::from_triplets(m, m, &t)?
        };
        return match ritz_linalg::direct::SparseCholesky::new(&gram, None) {
            Ok(_) => Ok(()),
            Err(_) => Err(SecondOrderError::RankDeficientJacobian {
                iteration,
                rank: None,
                m,
            }),
        };
    }
    let gram = dense_gram(&jac.transpose(), m);
    let evd = gram
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| SecondOrderError::SingularKkt(format!("eigen decomposition of GGᵀ: {e:?}")))?;
    let (s, u) = (evd.S(), evd.U());
    let smax = (0..m).map(|k| s[k].abs()).fold(0.0f64, f64::max);
    let keep = |k: usize| smax > 0.0 && s[k] > 1e-13 * smax;
    let rank = (0..m).filter(|&k| keep(k)).count();
    if rank == m {
        return Ok(());
    }
    // The part of c outside range(G) = range(GGᵀ).
    let mut outside = c.to_vec();
    for k in (0..m).filter(|&k| keep(k)) {
        let coef: f64 = (0..m).map(|i| u[(i, k)] * c[i]).sum();
        for (i, o) in outside.iter_mut().enumerate() {
            *o -= coef * u[(i, k)];
        }
    }
    let residual = vector::norm2(&outside);
    if residual > 1e-8 * (1.0 + vector::norm2(c)) {
        Err(SecondOrderError::InconsistentConstraints {
            iteration,
            residual,
        })
    } else {
        Err(SecondOrderError::RankDeficientJacobian {
            iteration,
            rank: Some(rank),
            m,
        })
    }
}

/// Minimizes `f(x)` subject to `c(x) = 0` from `x₀` (multipliers from `λ₀`, zero when
/// `None`) by the SQP method of the [module](self) documentation. The monitor sees
/// `(iteration, ‖(∇ₓL, c)‖)`.
///
/// Errors and cost: see the [module](self) documentation.
///
/// ```
/// use ritz_second_order::constrained::hock_schittkowski;
/// use ritz_second_order::sqp::{SqpParams, sqp};
/// use ritz_second_order::StopReason;
/// let hs = hock_schittkowski();
/// let t = &hs[4]; // HS28
/// let res = sqp(&*t.problem, &t.x0, None, &SqpParams::default(), &mut ())?;
/// assert_eq!(res.stop, StopReason::Converged);
/// assert!(res.kkt() <= 1e-8);
/// assert!(res.x.iter().zip(&t.x_star).all(|(a, b)| (a - b).abs() < 1e-8));
/// # Ok::<(), ritz_second_order::SecondOrderError>(())
/// ```
pub fn sqp(
    p: &dyn EqualityProblem,
    x0: &[f64],
    lambda0: Option<&[f64]>,
    params: &SqpParams,
    monitor: &mut dyn Monitor,
) -> Result<SqpResult, SecondOrderError> {
    params.validate()?;
    check_point(p, x0, lambda0)?;
    let start = Instant::now();
    let (n, m) = (p.n(), p.m());
    let mut x = x0.to_vec();
    let mut lambda = lambda0.map_or_else(|| vec![0.0; m], <[f64]>::to_vec);
    let mut e = Evaluation::new(p, &x, &lambda)?;
    if m.saturating_mul(n) <= 4_000_000 {
        check_constraint_jacobian(&e.jac, &e.c, 0)?;
    }
    if lambda0.is_none() && m <= DENSE_SHIFT_MAX {
        lambda = least_squares_multipliers(&e)?;
        e = Evaluation::new(p, &x, &lambda)?;
    }
    let mut merit = AugmentedLagrangian {
        mu: params.mu,
        nu: params.nu,
    };
    let mut delta = 1.0f64;
    let mut tau = 0.0f64;
    let kkt0 = e.kkt();
    let target = params.tol.max(params.rtol * kkt0);
    // Scratch, allocated once.
    let nm = n + m;
    let mut b = vec![0.0; nm];
    let mut z = vec![0.0; nm];
    let mut hgl = vec![0.0; n];
    let (mut gx, mut gl) = (vec![0.0; n], vec![0.0; m]);
    let mut bz = vec![0.0; n];
    let (mut xt, mut lt) = (vec![0.0; n], vec![0.0; m]);
    let mut history = vec![record(
        0,
        &e,
        &merit,
        delta,
        tau,
        StepInfo::default(),
        &start,
    )];
    monitor.observe(0, kkt0);
    let finish = |x, lambda, history, stop| SqpResult {
        x,
        lambda,
        history,
        stop,
    };
    for it in 1..=params.max_iters {
        let kkt = e.kkt();
        if kkt <= target {
            return Ok(finish(x, lambda, history, StopReason::Converged));
        }
        if params
            .time_limit_s
            .is_some_and(|t| start.elapsed().as_secs_f64() >= t)
        {
            return Ok(finish(x, lambda, history, StopReason::TimeLimit));
        }
        let solve_start = Instant::now();
        let h = p.hessian_lagrangian_csr(&x, &lambda)?;
        crate::error::check_len("Hessian rows (n)", n, h.nrows())?;
        crate::error::check_len("Hessian columns (n)", n, h.ncols())?;
        h.apply(&e.grad_lagrangian, &mut hgl);
        for (bi, v) in b.iter_mut().zip(e.grad_lagrangian.iter().chain(&e.c)) {
            *bi = -v;
        }
        let dense_shift = n <= DENSE_SHIFT_MAX;
        tau = if dense_shift {
            reduced_hessian_shift(&h, &e.jac, params.curvature, kkt.sqrt())?
        } else if tau > 1e-10 {
            // Shifts carry over damped (a nonconvex region usually needs one again).
            tau / 4.0
        } else {
            0.0
        };
        let mut k = kkt_matrix(&h, &e, tau)?;
        vector::fill(&mut z, 0.0);
        let mut info = StepInfo::default();
        let mut updates = 0usize;
        // Whether the system or the accuracy changed since the last solve (an exact solve is
        // not repeated after a penalty update alone).
        let mut fresh = true;
        let descent = loop {
            if fresh {
                info.accuracy = match params.solve {
                    KktSolve::Exact => 0.0,
                    _ => {
                        let base = params.theta * delta;
                        params.sharpen.map_or(base, |rho| base.min(kkt.powf(rho)))
                    }
                };
                let seed = match params.solve {
                    KktSolve::Sketch { seed, .. } => seed
                        .wrapping_add((it as u64) << 20)
                        .wrapping_add(info.solves as u64),
                    _ => 0,
                };
                match solve_kkt(&k, &b, &mut z, &params.solve, info.accuracy, seed) {
                    Ok(out) => {
                        info.solves += 1;
                        info.solver_iterations += out.iterations;
                        if let Some(f) = out.flops {
                            *info.solver_flops.get_or_insert(0.0) += f;
                        }
                        info.solve_residual = out.residual;
                    }
                    Err(SecondOrderError::SingularKkt(why)) => {
                        // Either G lost rank (a typed error) or B is singular on G's null
                        // space (a shift fixes it).
                        check_constraint_jacobian(&e.jac, &e.c, it)?;
                        updates += 1;
                        if updates > params.max_updates {
                            return Err(SecondOrderError::SingularKkt(why));
                        }
                        tau = grow_shift(tau, &h);
                        k = kkt_matrix(&h, &e, tau)?;
                        vector::fill(&mut z, 0.0);
                        continue;
                    }
                    Err(err) => return Err(err),
                }
            }
            let (dx, dl) = z.split_at(n);
            merit.gradient_from(&e, &hgl, &mut gx, &mut gl);
            let slope = vector::dot(&gx, dx) + vector::dot(&gl, dl);
            if slope.is_finite() && slope <= -0.5 * merit.nu * kkt * kkt {
                break Some(slope);
            }
            updates += 1;
            if updates > params.max_updates
                || params
                    .time_limit_s
                    .is_some_and(|t| start.elapsed().as_secs_f64() >= t)
            {
                break None;
            }
            // Curvature along the step: Δxᵀ(H + τI)Δx.
            h.apply(dx, &mut bz);
            let dd = vector::dot(dx, dx);
            if !dense_shift && vector::dot(dx, &bz) + tau * dd < params.curvature * dd {
                tau = grow_shift(tau, &h);
                k = kkt_matrix(&h, &e, tau)?;
                vector::fill(&mut z, 0.0);
                fresh = true;
            } else {
                merit.mu *= params.penalty_factor * params.penalty_factor;
                merit.nu /= params.penalty_factor;
                fresh = !matches!(params.solve, KktSolve::Exact);
                if fresh {
                    delta /= params.penalty_factor;
                }
            }
        };
        let solve_s = solve_start.elapsed().as_secs_f64();
        let Some(slope) = descent else {
            return Ok(finish(x, lambda, history, StopReason::Stalled));
        };
        // Armijo backtracking on the merit function.
        let phi0 = merit.value_at(&e, &lambda);
        let (dx, dl) = z.split_at(n);
        // A decrease below the rounding of ℒ cannot be measured; there a trial that lowers the
        // KKT residual is accepted instead.
        let in_rounding = -slope <= 1e3 * f64::EPSILON * phi0.abs().max(1.0);
        let mut alpha = 1.0;
        let mut backtracks = 0;
        let accepted = loop {
            for ((t, xi), di) in xt.iter_mut().zip(&x).zip(dx) {
                *t = xi + alpha * di;
            }
            for ((t, li), di) in lt.iter_mut().zip(&lambda).zip(dl) {
                *t = li + alpha * di;
            }
            // A trial point where the problem is undefined (NaN) counts as no decrease.
            if let Ok(et) = Evaluation::new(p, &xt, &lt)
                && (merit.value_at(&et, &lt) <= phi0 + params.armijo * alpha * slope
                    || (in_rounding && et.kkt() < kkt))
            {
                break Some(et);
            }
            backtracks += 1;
            alpha *= 0.5;
            if backtracks > 60 {
                break None;
            }
        };
        let Some(et) = accepted else {
            return Ok(finish(x, lambda, history, StopReason::Stalled));
        };
        x.copy_from_slice(&xt);
        lambda.copy_from_slice(&lt);
        e = et;
        info.step = alpha;
        info.backtracks = backtracks;
        info.solve_s = solve_s;
        history.push(record(it, &e, &merit, delta, tau, info, &start));
        monitor.observe(it, e.kkt());
    }
    let stop = if e.kkt() <= target {
        StopReason::Converged
    } else {
        StopReason::MaxIterations
    };
    Ok(finish(x, lambda, history, stop))
}

/// Problems up to this many variables get the reduced-Hessian shift; larger ones the
/// curvature test along the step.
const DENSE_SHIFT_MAX: usize = 1000;

/// The shift `τ` that makes the reduced Hessian `Zᵀ(H + τI)Z` positive definite (`Z` an
/// orthonormal basis of `null(G)`): 0 when its smallest eigenvalue `λ_min` is at least
/// `κ · max(1, max |H_ij|)`, else `max(−2λ_min, floor, 10⁻⁴ · max(1, max |H_ij|))` — the
/// negative curvature mirrored, and at least `floor` (the caller passes `‖(∇ₓL, c)‖^{1/2}`, a
/// Levenberg–Marquardt-type regularization that keeps steps bounded where the reduced Hessian
/// vanishes, e.g. a linear objective with zero multipliers). Dense: `O(n³)`.
fn reduced_hessian_shift(
    h: &CsrMatrix,
    jac: &CsrMatrix,
    kappa: f64,
    floor: f64,
) -> Result<f64, SecondOrderError> {
    let n = h.nrows();
    let scale = h.values().iter().fold(1.0f64, |a, v| a.max(v.abs()));
    let eig = |a: &faer::Mat<f64>| {
        a.self_adjoint_eigen(faer::Side::Lower).map_err(|e| {
            SecondOrderError::SingularKkt(format!("dense eigen decomposition failed: {e:?}"))
        })
    };
    // Null-space basis from the eigenvectors of GᵀG with (numerically) zero eigenvalues.
    let gtg = dense_gram(jac, n);
    let evd = eig(&gtg)?;
    let (s, u) = (evd.S(), evd.U());
    let smax = (0..n).map(|k| s[k].abs()).fold(0.0f64, f64::max);
    let null: Vec<usize> = (0..n)
        .filter(|&k| s[k] <= 1e-12 * smax.max(1e-300))
        .collect();
    if null.is_empty() {
        return Ok(0.0);
    }
    let mut hd = faer::Mat::<f64>::zeros(n, n);
    for (i, j, v) in h.triplets() {
        hd[(i, j)] += v;
    }
    let z = faer::Mat::from_fn(n, null.len(), |i, k| u[(i, null[k])]);
    let reduced = z.transpose() * &hd * &z;
    let ev = eig(&reduced)?;
    let rs = ev.S();
    let lmin = (0..null.len()).map(|k| rs[k]).fold(f64::INFINITY, f64::min);
    if lmin >= kappa * scale {
        Ok(0.0)
    } else {
        Ok((-2.0 * lmin).max(floor).max(1e-4 * scale))
    }
}

/// `Σᵢ rᵢ rᵢᵀ` over the rows `rᵢ` of `a` (length `dim`), dense: `GGᵀ` from `Gᵀ`, `GᵀG` from
/// `G`. Cost: `O(Σᵢ nnz(rᵢ)²)`.
fn dense_gram(a: &CsrMatrix, dim: usize) -> faer::Mat<f64> {
    let mut gram = faer::Mat::<f64>::zeros(dim, dim);
    for r in 0..a.nrows() {
        let (cols, vals) = a.row(r);
        for (p, &i) in cols.iter().enumerate() {
            for (q, &k) in cols.iter().enumerate() {
                gram[(i as usize, k as usize)] += vals[p] * vals[q];
            }
        }
    }
    gram
}

/// The least-squares multipliers `argmin_λ ‖∇f + Gᵀλ‖ = −(GGᵀ)⁻¹G∇f` (dense, `O(m²n + m³)`;
/// `G` has full row rank, checked before).
fn least_squares_multipliers(e: &Evaluation) -> Result<Vec<f64>, SecondOrderError> {
    let m = e.jac.nrows();
    let gram = dense_gram(&e.jac_t, m);
    let mut jg = vec![0.0; m];
    e.jac.apply(&e.g, &mut jg);
    let llt = gram
        .llt(faer::Side::Lower)
        .map_err(|_| SecondOrderError::RankDeficientJacobian {
            iteration: 0,
            rank: None,
            m,
        })?;
    let sol = llt.solve(faer::Mat::from_fn(m, 1, |i, _| -jg[i]));
    Ok((0..m).map(|i| sol[(i, 0)]).collect())
}

/// The next Hessian shift: tenfold, starting at `10⁻⁴ · max(1, max |H_ij|)`.
fn grow_shift(tau: f64, h: &CsrMatrix) -> f64 {
    let scale = h.values().iter().fold(1.0f64, |a, v| a.max(v.abs()));
    if tau <= 0.0 { 1e-4 * scale } else { 10.0 * tau }
}

/// What one step cost and took, for the run record.
#[derive(Default)]
struct StepInfo {
    step: f64,
    backtracks: usize,
    accuracy: f64,
    solve_residual: f64,
    solves: usize,
    solver_iterations: usize,
    solver_flops: Option<f64>,
    solve_s: f64,
}

fn record(
    iteration: usize,
    e: &Evaluation,
    merit: &AugmentedLagrangian,
    delta: f64,
    shift: f64,
    s: StepInfo,
    start: &Instant,
) -> SqpRecord {
    SqpRecord {
        iteration,
        objective: e.f,
        kkt: e.kkt(),
        stationarity: vector::norm2(&e.grad_lagrangian),
        feasibility: vector::norm2(&e.c),
        step: s.step,
        backtracks: s.backtracks,
        mu: merit.mu,
        nu: merit.nu,
        delta,
        shift,
        accuracy: s.accuracy,
        solve_residual: s.solve_residual,
        solves: s.solves,
        solver_iterations: s.solver_iterations,
        solver_flops: s.solver_flops,
        solve_s: s.solve_s,
        elapsed_s: start.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constrained::{Formula, Scalar, hock_schittkowski};

    /// `x₀² + x₁²` subject to `x₀ = 0` and `x₀ = 1`: contradictory.
    struct Contradictory;
    impl Formula for Contradictory {
        fn name(&self) -> &'static str {
            "contradictory"
        }
        fn n(&self) -> usize {
            2
        }
        fn m(&self) -> usize {
            2
        }
        fn f<T: Scalar>(&self, x: &[T]) -> T {
            x[0] * x[0] + x[1] * x[1]
        }
        fn c<T: Scalar>(&self, x: &[T], out: &mut [T]) {
            out[0] = x[0];
            out[1] = x[0] - T::c(1.0);
        }
    }

    /// `x₀² + x₁²` subject to `x₀ + x₁ = 1` stated twice: consistent, rank 1.
    struct Redundant;
    impl Formula for Redundant {
        fn name(&self) -> &'static str {
            "redundant"
        }
        fn n(&self) -> usize {
            2
        }
        fn m(&self) -> usize {
            2
        }
        fn f<T: Scalar>(&self, x: &[T]) -> T {
            x[0] * x[0] + x[1] * x[1]
        }
        fn c<T: Scalar>(&self, x: &[T], out: &mut [T]) {
            out[0] = x[0] + x[1] - T::c(1.0);
            out[1] = T::c(2.0) * (x[0] + x[1]) - T::c(2.0);
        }
    }

    #[test]
    fn merit_gradient_matches_finite_differences() {
        let merit = AugmentedLagrangian { mu: 3.0, nu: 0.2 };
        for t in hock_schittkowski() {
            let p = &*t.problem;
            let (n, m) = (p.n(), p.m());
            // A point off the solution and off the start, multipliers of mixed sign.
            let x: Vec<f64> = (0..n)
                .map(|i| 0.5 * (t.x0[i] + t.x_star[i]) + 0.1 * (i as f64 - 1.0))
                .collect();
            let lambda: Vec<f64> = (0..m).map(|i| 0.7 - 0.4 * i as f64).collect();
            let (mut gx, mut gl) = (vec![0.0; n], vec![0.0; m]);
            merit.gradient(p, &x, &lambda, &mut gx, &mut gl).unwrap();
            let value = |x: &[f64], l: &[f64]| merit.value(p, x, l).unwrap();
            let scale = 1.0 + gx.iter().chain(&gl).fold(0.0f64, |a, v| a.max(v.abs()));
            for i in 0..n + m {
                let h = 1e-6;
                let (mut xp, mut xm, mut lp, mut lm) =
                    (x.clone(), x.clone(), lambda.clone(), lambda.clone());
                if i < n {
                    xp[i] += h;
                    xm[i] -= h;
                } else {
                    lp[i - n] += h;
                    lm[i - n] -= h;
                }
                let fd = (value(&xp, &lp) - value(&xm, &lm)) / (2.0 * h);
                let exact = if i < n { gx[i] } else { gl[i - n] };
                assert!(
                    (fd - exact).abs() <= 1e-6 * scale,
                    "{} component {i}: fd {fd} vs {exact}",
                    p.name()
                );
            }
        }
    }

    #[test]
    fn contradictory_constraints_are_a_typed_error() {
        let err = sqp(
            &Contradictory,
            &[0.5, 0.0],
            None,
            &SqpParams::default(),
            &mut (),
        );
        match err {
            Err(SecondOrderError::InconsistentConstraints {
                iteration,
                residual,
            }) => {
                assert_eq!(iteration, 0);
                // c = (0.5, −0.5) is orthogonal to range(G) = span(1, 1).
                assert!((residual - 0.5f64.hypot(0.5)).abs() < 1e-12);
            }
            other => panic!("expected InconsistentConstraints, got {other:?}"),
        }
    }

    #[test]
    fn rank_deficient_jacobian_is_a_typed_error() {
        let err = sqp(
            &Redundant,
            &[3.0, -1.0],
            None,
            &SqpParams::default(),
            &mut (),
        );
        assert!(
            matches!(
                err,
                Err(SecondOrderError::RankDeficientJacobian {
                    iteration: 0,
                    rank: Some(1),
                    m: 2
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let hs = hock_schittkowski();
        let p = &*hs[4].problem;
        let d = SqpParams::default();
        assert!(matches!(
            sqp(p, &[1.0, 2.0], None, &d, &mut ()),
            Err(SecondOrderError::Linalg(
                ritz_linalg::LinalgError::Shape { .. }
            ))
        ));
        assert!(matches!(
            sqp(p, &[1.0, f64::NAN, 0.0], None, &d, &mut ()),
            Err(SecondOrderError::Linalg(
                ritz_linalg::LinalgError::NonFinite { .. }
            ))
        ));
        assert!(matches!(
            sqp(p, &[1.0, 2.0, 3.0], Some(&[1.0, 2.0]), &d, &mut ()),
            Err(SecondOrderError::Linalg(
                ritz_linalg::LinalgError::Shape { .. }
            ))
        ));
        for bad in [
            SqpParams { theta: 1.0, ..d },
            SqpParams {
                penalty_factor: 1.0,
                ..d
            },
            SqpParams {
                sharpen: Some(0.0),
                ..d
            },
            SqpParams { tol: 0.0, ..d },
            SqpParams { mu: f64::NAN, ..d },
            SqpParams {
                solve: KktSolve::Minres { max_iters: 0 },
                ..d
            },
        ] {
            assert!(matches!(
                sqp(p, &[1.0, 2.0, 3.0], None, &bad, &mut ()),
                Err(SecondOrderError::InvalidParameter(_))
            ));
        }
    }

    #[test]
    fn every_kkt_solver_reaches_the_same_solution() {
        let hs = hock_schittkowski();
        let t = &hs[13]; // HS52: three linear constraints, five variables
        let solvers = [
            KktSolve::Exact,
            KktSolve::Minres { max_iters: 1000 },
            KktSolve::Sketch {
                sketch: Sketch::Row,
                max_iters: 1_000_000,
                seed: 1,
            },
            KktSolve::Sketch {
                sketch: Sketch::Block { size: 3 },
                max_iters: 1_000_000,
                seed: 2,
            },
            KktSolve::Sketch {
                sketch: Sketch::Gaussian { size: 3 },
                max_iters: 1_000_000,
                seed: 3,
            },
            KktSolve::Sketch {
                sketch: Sketch::Count { size: 4 },
                max_iters: 1_000_000,
                seed: 4,
            },
        ];
        for solve in solvers {
            let params = SqpParams {
                solve,
                ..Default::default()
            };
            let res = sqp(&*t.problem, &t.x0, None, &params, &mut ()).unwrap();
            assert_eq!(res.stop, StopReason::Converged, "{}", solve.name());
            assert!(res.kkt() <= 1e-8);
            for (a, b) in res.x.iter().zip(&t.x_star) {
                assert!((a - b).abs() < 1e-7, "{}: {a} vs {b}", solve.name());
            }
            let inexact = !matches!(solve, KktSolve::Exact);
            let its: usize = res.history.iter().map(|r| r.solver_iterations).sum();
            assert_eq!(inexact, its > 0);
            assert_eq!(inexact, res.history[1].solver_flops.is_some());
        }
    }

    #[test]
    fn nonconvex_start_is_shifted_and_reaches_the_minimizer() {
        // HS7 from (2, 2): the reduced Hessian is indefinite at the start, and the maximizer
        // (0, −√3) is a KKT point too; the shift steers to the minimizer (0, √3).
        let hs = hock_schittkowski();
        let t = &hs[1];
        let res = sqp(&*t.problem, &t.x0, None, &SqpParams::default(), &mut ()).unwrap();
        assert!(res.history.iter().any(|r| r.shift > 0.0));
        assert!((res.x[1] - 3f64.sqrt()).abs() < 1e-8, "{:?}", res.x);
    }
}
