//! Equality-constrained problems `min f(x) s.t. c(x) = 0` (`x ∈ Rⁿ`, `c: Rⁿ → Rᵐ`): the
//! interface a constrained solver needs, the classic Hock–Schittkowski test problems with
//! exact derivatives, and constrained model fitting ([`ConstrainedModel`]). The
//! PDE-constrained problem is in [`crate::control`].
//!
//! [`EqualityProblem`] gives the objective, its gradient, the constraints, their Jacobian
//! (dense, `m × n`) and the Hessian of the Lagrangian `∇²f + Σ λᵢ ∇²cᵢ` (dense `n × n`, and
//! as a product with a vector).
//!
//! The test problems are written once, as formulas generic over a [`Scalar`]: evaluated on
//! `f64` they give values, on [`HyperDual`] numbers (`a + b ε₁ + c ε₂ + d ε₁ε₂`, `ε₁² =
//! ε₂² = 0`) exact first and second derivatives — no finite differences, no hand-written
//! derivatives to get wrong. Cost: `n` evaluations for a gradient or Jacobian,
//! `n(n + 1)/2` for a Hessian (the problems are small).

use crate::error::{SecondOrderError, check_finite, check_len};
use crate::objective::Objective;
use ritz_linalg::CsrMatrix;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// An equality-constrained problem.
pub trait EqualityProblem: Sync {
    /// A short name (`"HS28"`).
    fn name(&self) -> &str;
    /// Variables `n`.
    fn n(&self) -> usize;
    /// Constraints `m`.
    fn m(&self) -> usize;
    /// `f(x)`.
    fn objective(&self, x: &[f64]) -> f64;
    /// `g ← ∇f(x)`.
    fn gradient(&self, x: &[f64], g: &mut [f64]);
    /// `c ← c(x)`.
    fn constraints(&self, x: &[f64], c: &mut [f64]);
    /// `J ← ∂c/∂x`, row-major `m × n`.
    fn jacobian(&self, x: &[f64], j: &mut [f64]);
    /// `H ← ∇²f(x) + Σ λᵢ ∇²cᵢ(x)`, row-major `n × n`.
    fn hessian_lagrangian(&self, x: &[f64], lambda: &[f64], h: &mut [f64]);
    /// `G` as a sparse matrix (what the SQP solver reads). Default: the dense
    /// [`jacobian`](Self::jacobian) without its zeros (`O(mn)` time and memory: override it
    /// for large sparse problems).
    fn jacobian_csr(&self, x: &[f64]) -> Result<CsrMatrix, SecondOrderError> {
        let (m, n) = (self.m(), self.n());
        let mut j = vec![0.0; m * n];
        self.jacobian(x, &mut j);
        dense_to_csr(m, n, &j)
    }
    /// `∇²ₓₓL` as a sparse matrix (what the SQP solver reads). Default: the dense
    /// [`hessian_lagrangian`](Self::hessian_lagrangian) without its zeros (`O(n²)`).
    fn hessian_lagrangian_csr(
        &self,
        x: &[f64],
        lambda: &[f64],
    ) -> Result<CsrMatrix, SecondOrderError> {
        let n = self.n();
        let mut h = vec![0.0; n * n];
        self.hessian_lagrangian(x, lambda, &mut h);
        dense_to_csr(n, n, &h)
    }
    /// `out ← (∇²ₓₓL) v`. Default: from the dense Hessian.
    fn hessian_lagrangian_product(&self, x: &[f64], lambda: &[f64], v: &[f64], out: &mut [f64]) {
        let n = self.n();
        let mut h = vec![0.0; n * n];
        self.hessian_lagrangian(x, lambda, &mut h);
        for (i, o) in out.iter_mut().enumerate() {
            *o = h[i * n..(i + 1) * n]
                .iter()
                .zip(v)
                .map(|(a, b)| a * b)
                .sum();
        }
    }
}

/// A row-major dense matrix as CSR, zeros dropped. Errors: NaN/∞ entries.
fn dense_to_csr(rows: usize, cols: usize, a: &[f64]) -> Result<CsrMatrix, SecondOrderError> {
    let t: Vec<(usize, usize, f64)> = a
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(k, &v)| (k / cols.max(1), k % cols.max(1), v))
        .collect();
    Ok(CsrMatrix::from_triplets(rows, cols, &t)?)
}

/// Checks `x` (length `n`, finite) and `λ` (length `m`, finite) for a problem.
pub fn check_point(
    p: &dyn EqualityProblem,
    x: &[f64],
    lambda: Option<&[f64]>,
) -> Result<(), SecondOrderError> {
    check_len("x (problem variables)", p.n(), x.len())?;
    check_finite("x", x)?;
    if let Some(l) = lambda {
        check_len("λ (one multiplier per constraint)", p.m(), l.len())?;
        check_finite("λ", l)?;
    }
    Ok(())
}

/// The arithmetic the test problems' formulas use.
pub trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// A constant.
    fn c(v: f64) -> Self;
    /// `sin`.
    fn sin(self) -> Self;
    /// `cos`.
    fn cos(self) -> Self;
    /// `ln`.
    fn ln(self) -> Self;
    /// `exp`.
    fn exp(self) -> Self;
    /// `√`.
    fn sqrt(self) -> Self;
    /// Integer power.
    fn powi(self, k: i32) -> Self {
        let mut r = Self::c(1.0);
        for _ in 0..k.unsigned_abs() {
            r = r * self;
        }
        if k < 0 { Self::c(1.0) / r } else { r }
    }
}

impl Scalar for f64 {
    fn c(v: f64) -> Self {
        v
    }
    fn sin(self) -> Self {
        f64::sin(self)
    }
    fn cos(self) -> Self {
        f64::cos(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn powi(self, k: i32) -> Self {
        f64::powi(self, k)
    }
}

/// A hyper-dual number `re + e1 ε₁ + e2 ε₂ + e12 ε₁ε₂` (Fike & Alonso): seeding `ε₁` along
/// `eᵢ` and `ε₂` along `eⱼ`, a formula returns `∂f/∂xᵢ` in `e1` and `∂²f/∂xᵢ∂xⱼ` in `e12`,
/// exact to rounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HyperDual {
    /// Value.
    pub re: f64,
    /// `ε₁` part.
    pub e1: f64,
    /// `ε₂` part.
    pub e2: f64,
    /// `ε₁ε₂` part.
    pub e12: f64,
}

impl HyperDual {
    /// `g(self)` from `g`, `g'`, `g''` at `self.re` (the chain rule to second order).
    fn chain(self, g: f64, d1: f64, d2: f64) -> Self {
        Self {
            re: g,
            e1: d1 * self.e1,
            e2: d1 * self.e2,
            e12: d1 * self.e12 + d2 * self.e1 * self.e2,
        }
    }
}

impl Add for HyperDual {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            re: self.re + o.re,
            e1: self.e1 + o.e1,
            e2: self.e2 + o.e2,
            e12: self.e12 + o.e12,
        }
    }
}

impl Sub for HyperDual {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        self + (-o)
    }
}

impl Neg for HyperDual {
    type Output = Self;
    fn neg(self) -> Self {
        Self {
            re: -self.re,
            e1: -self.e1,
            e2: -self.e2,
            e12: -self.e12,
        }
    }
}

impl Mul for HyperDual {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        Self {
            re: self.re * o.re,
            e1: self.re * o.e1 + self.e1 * o.re,
            e2: self.re * o.e2 + self.e2 * o.re,
            e12: self.re * o.e12 + self.e1 * o.e2 + self.e2 * o.e1 + self.e12 * o.re,
        }
    }
}

impl Div for HyperDual {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.re;
        self * o.chain(inv, -inv * inv, 2.0 * inv * inv * inv)
    }
}

impl Scalar for HyperDual {
    fn c(v: f64) -> Self {
        Self {
            re: v,
            e1: 0.0,
            e2: 0.0,
            e12: 0.0,
        }
    }
    fn sin(self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(s, c, -s)
    }
    fn cos(self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(c, -s, -c)
    }
    fn ln(self) -> Self {
        self.chain(self.re.ln(), 1.0 / self.re, -1.0 / (self.re * self.re))
    }
    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e, e)
    }
    fn sqrt(self) -> Self {
        let r = self.re.sqrt();
        self.chain(r, 0.5 / r, -0.25 / (r * self.re))
    }
    fn powi(self, k: i32) -> Self {
        let kf = f64::from(k);
        self.chain(
            self.re.powi(k),
            kf * self.re.powi(k - 1),
            kf * (kf - 1.0) * self.re.powi(k - 2),
        )
    }
}

/// A problem written as generic formulas; [`EqualityProblem`] follows from it.
pub trait Formula: Sync {
    /// Name.
    fn name(&self) -> &'static str;
    /// Variables.
    fn n(&self) -> usize;
    /// Constraints.
    fn m(&self) -> usize;
    /// `f`.
    fn f<T: Scalar>(&self, x: &[T]) -> T;
    /// `c` into `out` (length `m`).
    fn c<T: Scalar>(&self, x: &[T], out: &mut [T]);
}

/// `x` as hyper-duals with `ε₁` along `eᵢ` and `ε₂` along `eⱼ` (either may be absent).
fn seeded(x: &[f64], i: Option<usize>, j: Option<usize>) -> Vec<HyperDual> {
    x.iter()
        .enumerate()
        .map(|(k, &v)| HyperDual {
            re: v,
            e1: if Some(k) == i { 1.0 } else { 0.0 },
            e2: if Some(k) == j { 1.0 } else { 0.0 },
            e12: 0.0,
        })
        .collect()
}

impl<F: Formula> EqualityProblem for F {
    fn name(&self) -> &str {
        Formula::name(self)
    }
    fn n(&self) -> usize {
        Formula::n(self)
    }
    fn m(&self) -> usize {
        Formula::m(self)
    }
    fn objective(&self, x: &[f64]) -> f64 {
        self.f(x)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        for (i, gi) in g.iter_mut().enumerate() {
            *gi = self.f(&seeded(x, Some(i), None)).e1;
        }
    }
    fn constraints(&self, x: &[f64], c: &mut [f64]) {
        self.c(x, c);
    }
    fn jacobian(&self, x: &[f64], j: &mut [f64]) {
        let (n, m) = (Formula::n(self), Formula::m(self));
        let mut out = vec![HyperDual::c(0.0); m];
        for i in 0..n {
            self.c(&seeded(x, Some(i), None), &mut out);
            for (r, o) in out.iter().enumerate() {
                j[r * n + i] = o.e1;
            }
        }
    }
    fn hessian_lagrangian(&self, x: &[f64], lambda: &[f64], h: &mut [f64]) {
        let (n, m) = (Formula::n(self), Formula::m(self));
        let mut out = vec![HyperDual::c(0.0); m];
        for i in 0..n {
            for j in 0..=i {
                let xs = seeded(x, Some(i), Some(j));
                let mut v = self.f(&xs).e12;
                self.c(&xs, &mut out);
                v += out.iter().zip(lambda).map(|(o, l)| l * o.e12).sum::<f64>();
                h[i * n + j] = v;
                h[j * n + i] = v;
            }
        }
    }
}

/// A test problem with its published starting point and solution.
pub struct TestProblem {
    /// The problem.
    pub problem: Box<dyn EqualityProblem + Send>,
    /// Starting point.
    pub x0: Vec<f64>,
    /// Optimal value.
    pub f_star: f64,
    /// A minimizer (every problem here has one known in closed form or to 7+ digits).
    pub x_star: Vec<f64>,
    /// The reduced Hessian of the Lagrangian is singular at `x*` (HS26, 46, 49: quartic and
    /// sixth-power terms with zero multipliers). The minimizer is then determined only to
    /// about `‖(∇ₓL, c)‖^{1/3}` (`^{1/5}` for sixth powers): `x*` cannot be reproduced to
    /// `10⁻⁶` in double precision by any method, `f*` can.
    pub degenerate: bool,
}

/// Declares a problem: a unit struct with its [`Formula`].
macro_rules! formula {
    ($ty:ident, $name:literal, n = $n:literal, m = $m:literal,
     |$x:ident, $k:ident| f: $f:expr, c: [$($c:expr),+ $(,)?]) => {
        /// A Hock–Schittkowski problem (see [`hock_schittkowski`]).
        pub struct $ty;
        impl Formula for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn n(&self) -> usize {
                $n
            }
            fn m(&self) -> usize {
                $m
            }
            #[allow(unused_variables)]
            fn f<T: Scalar>(&self, $x: &[T]) -> T {
                let $k = T::c;
                $f
            }
            #[allow(unused_variables)]
            fn c<T: Scalar>(&self, $x: &[T], out: &mut [T]) {
                let $k = T::c;
                let v = [$($c),+];
                out.copy_from_slice(&v);
            }
        }
    };
}

formula!(Hs6, "HS6", n = 2, m = 1, |x, k| f: (k(1.0) - x[0]).powi(2),
    c: [k(10.0) * (x[1] - x[0].powi(2))]);
formula!(Hs7, "HS7", n = 2, m = 1, |x, k| f: (k(1.0) + x[0].powi(2)).ln() - x[1],
    c: [(k(1.0) + x[0].powi(2)).powi(2) + x[1].powi(2) - k(4.0)]);
formula!(Hs26, "HS26", n = 3, m = 1, |x, k| f: (x[0] - x[1]).powi(2) + (x[1] - x[2]).powi(4),
    c: [(k(1.0) + x[1].powi(2)) * x[0] + x[2].powi(4) - k(3.0)]);
formula!(Hs27, "HS27", n = 3, m = 1,
    |x, k| f: k(0.01) * (x[0] - k(1.0)).powi(2) + (x[1] - x[0].powi(2)).powi(2),
    c: [x[0] + x[2].powi(2) + k(1.0)]);
formula!(Hs28, "HS28", n = 3, m = 1, |x, k| f: (x[0] + x[1]).powi(2) + (x[1] + x[2]).powi(2),
    c: [x[0] + k(2.0) * x[1] + k(3.0) * x[2] - k(1.0)]);
formula!(Hs39, "HS39", n = 4, m = 2, |x, k| f: -x[0],
    c: [x[1] - x[0].powi(3) - x[2].powi(2), x[0].powi(2) - x[1] - x[3].powi(2)]);
formula!(Hs40, "HS40", n = 4, m = 3, |x, k| f: -x[0] * x[1] * x[2] * x[3],
c: [
    x[0].powi(3) + x[1].powi(2) - k(1.0),
    x[0].powi(2) * x[3] - x[2],
    x[3].powi(2) - x[1],
]);
formula!(Hs42, "HS42", n = 4, m = 2,
    |x, k| f: (x[0] - k(1.0)).powi(2) + (x[1] - k(2.0)).powi(2) + (x[2] - k(3.0)).powi(2)
        + (x[3] - k(4.0)).powi(2),
    c: [x[0] - k(2.0), x[2].powi(2) + x[3].powi(2) - k(2.0)]);
formula!(Hs46, "HS46", n = 5, m = 2,
|x, k| f: (x[0] - x[1]).powi(2) + (x[2] - k(1.0)).powi(2) + (x[3] - k(1.0)).powi(4)
    + (x[4] - k(1.0)).powi(6),
c: [
    x[0].powi(2) * x[3] + (x[3] - x[4]).sin() - k(1.0),
    x[1] + x[2].powi(4) * x[3].powi(2) - k(2.0),
]);
formula!(Hs48, "HS48", n = 5, m = 2,
|x, k| f: (x[0] - k(1.0)).powi(2) + (x[1] - x[2]).powi(2) + (x[3] - x[4]).powi(2),
c: [
    x[0] + x[1] + x[2] + x[3] + x[4] - k(5.0),
    x[2] - k(2.0) * (x[3] + x[4]) + k(3.0),
]);
formula!(Hs49, "HS49", n = 5, m = 2,
|x, k| f: (x[0] - x[1]).powi(2) + (x[2] - k(1.0)).powi(2) + (x[3] - k(1.0)).powi(4)
    + (x[4] - k(1.0)).powi(6),
c: [
    x[0] + x[1] + x[2] + k(4.0) * x[3] - k(7.0),
    x[2] + k(5.0) * x[4] - k(6.0),
]);
formula!(Hs50, "HS50", n = 5, m = 3,
|x, k| f: (x[0] - x[1]).powi(2) + (x[1] - x[2]).powi(2) + (x[2] - x[3]).powi(4)
    + (x[3] - x[4]).powi(2),
c: [
    x[0] + k(2.0) * x[1] + k(3.0) * x[2] - k(6.0),
    x[1] + k(2.0) * x[2] + k(3.0) * x[3] - k(6.0),
    x[2] + k(2.0) * x[3] + k(3.0) * x[4] - k(6.0),
]);
formula!(Hs51, "HS51", n = 5, m = 3,
|x, k| f: (x[0] - x[1]).powi(2) + (x[1] + x[2] - k(2.0)).powi(2) + (x[3] - k(1.0)).powi(2)
    + (x[4] - k(1.0)).powi(2),
c: [
    x[0] + k(3.0) * x[1] - k(4.0),
    x[2] + x[3] - k(2.0) * x[4],
    x[1] - x[4],
]);
formula!(Hs52, "HS52", n = 5, m = 3,
|x, k| f: (k(4.0) * x[0] - x[1]).powi(2) + (x[1] + x[2] - k(2.0)).powi(2)
    + (x[3] - k(1.0)).powi(2) + (x[4] - k(1.0)).powi(2),
c: [
    x[0] + k(3.0) * x[1],
    x[2] + x[3] - k(2.0) * x[4],
    x[1] - x[4],
]);
formula!(Hs56, "HS56", n = 7, m = 4, |x, k| f: -x[0] * x[1] * x[2],
c: [
    x[0] - k(4.2) * x[3].sin().powi(2),
    x[1] - k(4.2) * x[4].sin().powi(2),
    x[2] - k(4.2) * x[5].sin().powi(2),
    x[0] + k(2.0) * x[1] + k(2.0) * x[2] - k(7.2) * x[6].sin().powi(2),
]);
formula!(Hs77, "HS77", n = 5, m = 2,
|x, k| f: (x[0] - k(1.0)).powi(2) + (x[0] - x[1]).powi(2) + (x[2] - k(1.0)).powi(2)
    + (x[3] - k(1.0)).powi(4) + (x[4] - k(1.0)).powi(6),
c: [
    x[0].powi(2) * x[3] + (x[3] - x[4]).sin() - k(2.0 * std::f64::consts::SQRT_2),
    x[1] + x[2].powi(4) * x[3].powi(2) - k(8.0 + std::f64::consts::SQRT_2),
]);
formula!(Hs78, "HS78", n = 5, m = 3, |x, k| f: x[0] * x[1] * x[2] * x[3] * x[4],
c: [
    x[0].powi(2) + x[1].powi(2) + x[2].powi(2) + x[3].powi(2) + x[4].powi(2) - k(10.0),
    x[1] * x[2] - k(5.0) * x[3] * x[4],
    x[0].powi(3) + x[1].powi(3) + k(1.0),
]);
formula!(Hs79, "HS79", n = 5, m = 3,
|x, k| f: (x[0] - k(1.0)).powi(2) + (x[0] - x[1]).powi(2) + (x[1] - x[2]).powi(2)
    + (x[2] - x[3]).powi(4) + (x[3] - x[4]).powi(4),
c: [
    x[0] + x[1].powi(2) + x[2].powi(3) - k(2.0 + 3.0 * std::f64::consts::SQRT_2),
    x[1] - x[2].powi(2) + x[3] + k(2.0 - 2.0 * std::f64::consts::SQRT_2),
    x[0] * x[4] - k(2.0),
]);

/// The equality-constrained Hock–Schittkowski problems of the SQP paper's CUTEst set (Hock &
/// Schittkowski, *Test Examples for Nonlinear Programming Codes*, 1981): HS6, 7, 26, 27, 28,
/// 39, 40, 42, 46, 48, 49, 50, 51, 52, 56, 77, 78, 79 — their published starting points,
/// optimal values and minimizers (closed forms where they exist, else the book's digits).
/// HS47 is left out: its published solution (f = 0) is a local one — SLSQP from the
/// published start reaches f = −0.0267 — so "the known optimum" is ambiguous there.
pub fn hock_schittkowski() -> Vec<TestProblem> {
    let s2 = std::f64::consts::SQRT_2;
    let one5 = vec![1.0; 5];
    let a56 = (1.0f64 / 4.2).sqrt().asin();
    let b56 = (5.0f64 / 7.2).sqrt().asin();
    let t =
        |problem: Box<dyn EqualityProblem + Send>, x0: Vec<f64>, f_star: f64, x_star: Vec<f64>| {
            TestProblem {
                degenerate: matches!(problem.name(), "HS26" | "HS46" | "HS49"),
                problem,
                x0,
                f_star,
                x_star,
            }
        };
    vec![
        t(Box::new(Hs6), vec![-1.2, 1.0], 0.0, vec![1.0, 1.0]),
        t(
            Box::new(Hs7),
            vec![2.0, 2.0],
            -3f64.sqrt(),
            vec![0.0, 3f64.sqrt()],
        ),
        t(
            Box::new(Hs26),
            vec![-2.6, 2.0, 2.0],
            0.0,
            vec![1.0, 1.0, 1.0],
        ),
        t(
            Box::new(Hs27),
            vec![2.0, 2.0, 2.0],
            0.04,
            vec![-1.0, 1.0, 0.0],
        ),
        t(
            Box::new(Hs28),
            vec![-4.0, 1.0, 1.0],
            0.0,
            vec![0.5, -0.5, 0.5],
        ),
        t(Box::new(Hs39), vec![2.0; 4], -1.0, vec![1.0, 1.0, 0.0, 0.0]),
        t(
            Box::new(Hs40),
            vec![0.8; 4],
            -0.25,
            vec![
                2f64.powf(-1.0 / 3.0),
                2f64.powf(-0.5),
                2f64.powf(-11.0 / 12.0),
                2f64.powf(-0.25),
            ],
        ),
        t(
            Box::new(Hs42),
            vec![1.0; 4],
            28.0 - 10.0 * s2,
            vec![2.0, 2.0, 0.6 * s2, 0.8 * s2],
        ),
        t(
            Box::new(Hs46),
            vec![0.5 * s2, 1.75, 0.5, 2.0, 2.0],
            0.0,
            one5.clone(),
        ),
        t(
            Box::new(Hs48),
            vec![3.0, 5.0, -3.0, 2.0, -2.0],
            0.0,
            one5.clone(),
        ),
        t(
            Box::new(Hs49),
            vec![10.0, 7.0, 2.0, -3.0, 0.8],
            0.0,
            one5.clone(),
        ),
        t(
            Box::new(Hs50),
            vec![35.0, -31.0, 11.0, 5.0, -5.0],
            0.0,
            one5.clone(),
        ),
        t(Box::new(Hs51), vec![2.5, 0.5, 2.0, -1.0, 0.5], 0.0, one5),
        t(
            Box::new(Hs52),
            vec![2.0; 5],
            1859.0 / 349.0,
            [-33.0, 11.0, 180.0, -158.0, 11.0]
                .iter()
                .map(|v| v / 349.0)
                .collect(),
        ),
        t(
            Box::new(Hs56),
            vec![1.0, 1.0, 1.0, a56, a56, a56, b56],
            -3.456,
            vec![
                2.4,
                1.2,
                1.2,
                (2.4f64 / 4.2).sqrt().asin(),
                (1.2f64 / 4.2).sqrt().asin(),
                (1.2f64 / 4.2).sqrt().asin(),
                std::f64::consts::FRAC_PI_2,
            ],
        ),
        t(
            Box::new(Hs77),
            vec![2.0; 5],
            0.24150513,
            vec![1.166172, 1.182111, 1.380257, 1.506036, 0.6109203],
        ),
        t(
            Box::new(Hs78),
            vec![-2.0, 1.5, 2.0, -1.0, -1.0],
            -2.91970041,
            // (The book prints x₄ = −0.7636413, x₅ = −0.7636450; the problem is symmetric in
            // x₄, x₅ and SciPy's SLSQP from x₀ gives both −0.7636431.)
            vec![-1.7171436, 1.5957097, 1.8272458, -0.7636431, -0.7636431],
        ),
        t(
            Box::new(Hs79),
            vec![2.0; 5],
            0.0787768209,
            vec![1.191127, 1.362603, 1.472818, 1.635017, 1.679081],
        ),
    ]
}

/// A model's training loss under equality constraints — the constrained-regression problems
/// of the SQP paper: `min f(w)` (any [`Objective`], e.g. [`LogisticRegression`](crate::LogisticRegression))
/// subject to linear constraints `A w = b` and, optionally, the sphere `‖w‖² = r²`.
///
/// Derivatives: `∇f` from the objective; the Hessian of the Lagrangian is `∇²f + 2λ_r I`
/// (`λ_r` the sphere's multiplier), assembled densely from `n` Hessian-vector products
/// (`O(n · HVP)` per SQP iteration) or applied as one product.
pub struct ConstrainedModel {
    name: String,
    objective: Box<dyn Objective + Send>,
    a: Vec<f64>,
    b: Vec<f64>,
    radius: Option<f64>,
}

impl ConstrainedModel {
    /// `min f(w)` s.t. `A w = b` (`A` row-major `k × n`) and, with `radius = Some(r)`,
    /// `‖w‖² = r²`.
    ///
    /// Errors: `A`'s length not a multiple of `n` or not `b.len() · n`, NaN/∞ in `A` or `b`,
    /// a radius that is not positive and finite.
    pub fn new(
        name: impl Into<String>,
        objective: Box<dyn Objective + Send>,
        a: Vec<f64>,
        b: Vec<f64>,
        radius: Option<f64>,
    ) -> Result<Self, SecondOrderError> {
        let n = objective.dim();
        check_len("A (k × n, row-major)", b.len() * n, a.len())?;
        check_finite("A", &a)?;
        check_finite("b", &b)?;
        if let Some(r) = radius
            && !(r > 0.0 && r.is_finite())
        {
            return Err(SecondOrderError::InvalidParameter(format!(
                "the sphere's radius must be positive and finite, got {r}"
            )));
        }
        Ok(Self {
            name: name.into(),
            objective,
            a,
            b,
            radius,
        })
    }

    /// The paper's kind of instance: `k` linear constraints with independent `N(0, 1)`
    /// entries in `A` and `b` (seeded), and the unit sphere `‖w‖² = 1`.
    ///
    /// ```
    /// use ritz_second_order::constrained::{ConstrainedModel, EqualityProblem};
    /// use ritz_second_order::sqp::{SqpParams, sqp};
    /// use ritz_second_order::{LogisticRegression, data};
    /// let model = LogisticRegression::new(data::breast_cancer().standardized(true), 1e-3)?;
    /// let p = ConstrainedModel::gaussian("breast cancer", Box::new(model), 3, 1)?;
    /// let res = sqp(&p, &vec![0.1; p.n()], None, &SqpParams::default(), &mut ())?;
    /// assert!(res.kkt() <= 1e-8);
    /// let norm2: f64 = res.x.iter().map(|w| w * w).sum();
    /// assert!((norm2 - 1.0).abs() < 1e-8);
    /// # Ok::<(), ritz_second_order::SecondOrderError>(())
    /// ```
    pub fn gaussian(
        name: impl Into<String>,
        objective: Box<dyn Objective + Send>,
        k: usize,
        seed: u64,
    ) -> Result<Self, SecondOrderError> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let n = objective.dim();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut draw = |len: usize| -> Vec<f64> {
            (0..len).map(|_| StandardNormal.sample(&mut rng)).collect()
        };
        let a = draw(k * n);
        let b = draw(k);
        Self::new(name, objective, a, b, Some(1.0))
    }
}

impl EqualityProblem for ConstrainedModel {
    fn name(&self) -> &str {
        &self.name
    }
    fn n(&self) -> usize {
        self.objective.dim()
    }
    fn m(&self) -> usize {
        self.b.len() + usize::from(self.radius.is_some())
    }
    fn objective(&self, x: &[f64]) -> f64 {
        self.objective.value(x)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.objective.gradient(x, g);
    }
    fn constraints(&self, x: &[f64], c: &mut [f64]) {
        let n = self.n();
        for (i, ci) in c.iter_mut().take(self.b.len()).enumerate() {
            let row = &self.a[i * n..(i + 1) * n];
            *ci = row.iter().zip(x).map(|(a, w)| a * w).sum::<f64>() - self.b[i];
        }
        if let Some(r) = self.radius {
            c[self.b.len()] = x.iter().map(|w| w * w).sum::<f64>() - r * r;
        }
    }
    fn jacobian(&self, x: &[f64], j: &mut [f64]) {
        j[..self.a.len()].copy_from_slice(&self.a);
        if self.radius.is_some() {
            for (o, w) in j[self.a.len()..].iter_mut().zip(x) {
                *o = 2.0 * w;
            }
        }
    }
    fn hessian_lagrangian(&self, x: &[f64], lambda: &[f64], h: &mut [f64]) {
        let n = self.n();
        let mut e = vec![0.0; n];
        let mut col = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            self.hessian_lagrangian_product(x, lambda, &e, &mut col);
            e[j] = 0.0;
            for (i, v) in col.iter().enumerate() {
                h[i * n + j] = *v;
            }
        }
    }
    fn hessian_lagrangian_product(&self, x: &[f64], lambda: &[f64], v: &[f64], out: &mut [f64]) {
        self.objective.hvp(x, v, out);
        if self.radius.is_some() {
            let l = 2.0 * lambda[self.b.len()];
            for (o, vi) in out.iter_mut().zip(v) {
                *o += l * vi;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences of a function of `x`.
    fn fd(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
        let h = 1e-6 * (1.0 + x[i].abs());
        let (mut a, mut b) = (x.to_vec(), x.to_vec());
        a[i] += h;
        b[i] -= h;
        (f(&a) - f(&b)) / (2.0 * h)
    }

    #[test]
    fn hyper_dual_derivatives_match_finite_differences() {
        for tp in hock_schittkowski() {
            let p = &tp.problem;
            let (n, m) = (p.n(), p.m());
            let x: Vec<f64> = tp.x0.iter().map(|v| v + 0.1).collect();
            let lambda: Vec<f64> = (0..m).map(|r| 0.5 - r as f64 * 0.3).collect();
            let mut g = vec![0.0; n];
            p.gradient(&x, &mut g);
            let mut jac = vec![0.0; m * n];
            p.jacobian(&x, &mut jac);
            let mut h = vec![0.0; n * n];
            p.hessian_lagrangian(&x, &lambda, &mut h);
            for i in 0..n {
                let gi = fd(&|y| p.objective(y), &x, i);
                assert!(
                    (g[i] - gi).abs() < 1e-6 * (1.0 + gi.abs()),
                    "{} ∂f/∂x{i}",
                    p.name()
                );
                for r in 0..m {
                    let ci = |y: &[f64]| {
                        let mut c = vec![0.0; m];
                        p.constraints(y, &mut c);
                        c[r]
                    };
                    let d = fd(&ci, &x, i);
                    assert!(
                        (jac[r * n + i] - d).abs() < 1e-6 * (1.0 + d.abs()),
                        "{} J",
                        p.name()
                    );
                }
                // Column i of ∇²L: differences of ∇L = ∇f + Jᵀλ.
                for j in 0..n {
                    let lj = |y: &[f64]| {
                        let mut g = vec![0.0; n];
                        p.gradient(y, &mut g);
                        let mut jac = vec![0.0; m * n];
                        p.jacobian(y, &mut jac);
                        g[j] + (0..m).map(|r| lambda[r] * jac[r * n + j]).sum::<f64>()
                    };
                    let d = fd(&lj, &x, i);
                    assert!(
                        (h[j * n + i] - d).abs() < 1e-5 * (1.0 + d.abs()),
                        "{} H[{j},{i}] {} vs {d}",
                        p.name(),
                        h[j * n + i]
                    );
                }
            }
        }
    }

    #[test]
    fn published_solutions_are_feasible_and_optimal_values_match() {
        let problems = hock_schittkowski();
        assert!(problems.len() >= 15);
        for tp in &problems {
            let p = &tp.problem;
            let mut c = vec![0.0; p.m()];
            p.constraints(&tp.x_star, &mut c);
            let viol = c.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            assert!(viol < 1e-5, "{}: ‖c(x*)‖∞ = {viol:e}", p.name());
            let f = p.objective(&tp.x_star);
            assert!(
                (f - tp.f_star).abs() < 1e-5 * (1.0 + tp.f_star.abs()),
                "{}: f(x*) = {f}, published {}",
                p.name(),
                tp.f_star
            );
            assert_eq!(tp.x0.len(), p.n());
        }
    }
}
