//! Closed-form models with exact gradients and curvature-vector products: least squares,
//! logistic regression, softmax regression, and a one-hidden-layer tanh MLP whose
//! Hessian-vector product is Pearlmutter's R-operator (exact, one forward and one backward
//! R-pass per sample).
//!
//! All losses are sample means plus an optional `(λ/2)‖θ‖²`. Cost of every evaluation: one pass
//! over the data (`O(N·d)`), rayon-parallel over samples.

use crate::data::Dataset;
use crate::error::{SecondOrderError, check_finite};
use crate::objective::{Curvature, Objective, par_sum};

fn add_l2(l2: f64, x: &[f64], out: &mut [f64]) {
    if l2 != 0.0 {
        for (o, v) in out.iter_mut().zip(x) {
            *o += l2 * v;
        }
    }
}

fn check_l2(l2: f64) -> Result<(), SecondOrderError> {
    if l2.is_finite() && l2 >= 0.0 {
        Ok(())
    } else {
        Err(SecondOrderError::InvalidParameter(format!(
            "L2 weight must be ≥ 0, got {l2}"
        )))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A generalized linear model `f(w) = (1/N) Σ ℓ(xᵢᵀw, yᵢ) + (λ/2)‖w‖²` through its per-sample
/// loss: `loss(z, y) → (ℓ, ℓ', ℓ'')`. Gradient `Xᵀℓ'/N`, Hessian = Gauss–Newton
/// `Xᵀ diag(ℓ'') X / N`, empirical Fisher `Xᵀ diag(ℓ'²) X / N` (each `+ λ`).
struct Glm<'a> {
    data: &'a Dataset,
    l2: f64,
    loss: SampleLoss,
}

/// A per-sample loss `(z, y) ↦ (ℓ, ∂ℓ/∂z, ∂²ℓ/∂z²)`.
type SampleLoss = fn(f64, f64) -> (f64, f64, f64);

impl Glm<'_> {
    fn value(&self, w: &[f64]) -> f64 {
        let d = self.data;
        let s = par_sum(d.n, 1, |r, acc| {
            for i in r {
                acc[0] += (self.loss)(dot(d.row(i), w), d.y[i]).0;
            }
        });
        s[0] / d.n as f64 + 0.5 * self.l2 * dot(w, w)
    }

    fn gradient(&self, w: &[f64], g: &mut [f64]) -> f64 {
        let d = self.data;
        let f = d.features;
        let s = par_sum(d.n, f + 1, |r, acc| {
            for i in r {
                let x = d.row(i);
                let (l, dl, _) = (self.loss)(dot(x, w), d.y[i]);
                acc[f] += l;
                for (a, xi) in acc[..f].iter_mut().zip(x) {
                    *a += dl * xi;
                }
            }
        });
        let inv = 1.0 / d.n as f64;
        for (gi, si) in g.iter_mut().zip(&s[..f]) {
            *gi = si * inv;
        }
        add_l2(self.l2, w, g);
        s[f] * inv + 0.5 * self.l2 * dot(w, w)
    }

    fn curvature_vp(&self, kind: Curvature, w: &[f64], v: &[f64], out: &mut [f64]) {
        let d = self.data;
        let s = par_sum(d.n, d.features, |r, acc| {
            for i in r {
                let x = d.row(i);
                let (_, dl, d2l) = (self.loss)(dot(x, w), d.y[i]);
                let weight = match kind {
                    Curvature::EmpiricalFisher => dl * dl,
                    _ => d2l,
                };
                let c = weight * dot(x, v);
                for (a, xi) in acc.iter_mut().zip(x) {
                    *a += c * xi;
                }
            }
        });
        for (o, si) in out.iter_mut().zip(&s) {
            *o = si / d.n as f64;
        }
        add_l2(self.l2, v, out);
    }
}

/// Implements [`Objective`] for a model with `data` and `l2` fields through [`Glm`] with the
/// given per-sample loss.
macro_rules! glm_objective {
    ($model:ty, $name:literal, $loss:ident) => {
        impl $model {
            fn glm(&self) -> Glm<'_> {
                Glm {
                    data: &self.data,
                    l2: self.l2,
                    loss: $loss,
                }
            }
        }

        impl Objective for $model {
            fn dim(&self) -> usize {
                self.data.features
            }
            fn name(&self) -> &'static str {
                $name
            }
            fn value(&self, w: &[f64]) -> f64 {
                self.glm().value(w)
            }
            fn gradient(&self, w: &[f64], g: &mut [f64]) -> f64 {
                self.glm().gradient(w, g)
            }
            fn curvature_vp(
                &self,
                kind: Curvature,
                w: &[f64],
                v: &[f64],
                out: &mut [f64],
            ) -> Result<(), SecondOrderError> {
                self.glm().curvature_vp(kind, w, v, out);
                Ok(())
            }
        }
    };
}

/// Squared loss `½(z − y)²`.
fn squared(z: f64, y: f64) -> (f64, f64, f64) {
    let e = z - y;
    (0.5 * e * e, e, 1.0)
}

/// Logistic loss `log(1 + eᶻ) − yz`.
fn logistic(z: f64, y: f64) -> (f64, f64, f64) {
    let p = sigmoid(z);
    (softplus(z) - y * z, p - y, p * (1.0 - p))
}

/// `f(w) = (1/2N) ‖Xw − y‖² + (λ/2)‖w‖²`. Hessian = Gauss–Newton = `XᵀX/N + λI`.
pub struct LeastSquares {
    data: Dataset,
    l2: f64,
}

impl LeastSquares {
    /// Errors: a negative or non-finite `l2`.
    pub fn new(data: Dataset, l2: f64) -> Result<Self, SecondOrderError> {
        check_l2(l2)?;
        Ok(Self { data, l2 })
    }
}

glm_objective!(LeastSquares, "least squares", squared);

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + eᶻ)`, stable.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Binary logistic regression, labels in {0, 1}:
/// `f(w) = (1/N) Σ [log(1 + e^{zᵢ}) − yᵢ zᵢ] + (λ/2)‖w‖²`, `z = Xw`.
/// Hessian = Gauss–Newton = `Xᵀ diag(σ(1 − σ)) X / N + λI`; empirical Fisher
/// `Xᵀ diag((σ − y)²) X / N + λI`.
pub struct LogisticRegression {
    data: Dataset,
    l2: f64,
}

impl LogisticRegression {
    /// Errors: a label other than 0 or 1, a negative `l2`.
    pub fn new(data: Dataset, l2: f64) -> Result<Self, SecondOrderError> {
        check_l2(l2)?;
        if let Some(row) = data.y.iter().position(|&y| y != 0.0 && y != 1.0) {
            return Err(SecondOrderError::BadLabel {
                row,
                label: data.y[row],
                classes: 2,
            });
        }
        Ok(Self { data, l2 })
    }
}

glm_objective!(LogisticRegression, "logistic regression", logistic);

/// Multinomial (softmax) regression with `K` classes, labels in `0..K`; parameters `W` (`K × D`,
/// row-major, flattened): `f(W) = (1/N) Σ [LSE(W xᵢ) − (W xᵢ)_{yᵢ}] + (λ/2)‖W‖²`.
/// Hessian = Gauss–Newton: `V ↦ (1/N) Σ (diag(p) − ppᵀ)(V xᵢ) xᵢᵀ + λV`.
pub struct SoftmaxRegression {
    data: Dataset,
    classes: usize,
    l2: f64,
}

impl SoftmaxRegression {
    /// Errors: fewer than 2 classes, a label outside `0..classes` or not an integer, a negative
    /// `l2`.
    pub fn new(data: Dataset, classes: usize, l2: f64) -> Result<Self, SecondOrderError> {
        check_l2(l2)?;
        if classes < 2 {
            return Err(SecondOrderError::InvalidParameter(
                "softmax regression needs ≥ 2 classes".into(),
            ));
        }
        if let Some(row) = data
            .y
            .iter()
            .position(|&y| !(y >= 0.0 && y < classes as f64 && y.fract() == 0.0))
        {
            return Err(SecondOrderError::BadLabel {
                row,
                label: data.y[row],
                classes,
            });
        }
        Ok(Self { data, classes, l2 })
    }

    /// Class probabilities `p = softmax(W x)` and the logits' log-sum-exp.
    fn probs(&self, w: &[f64], x: &[f64], p: &mut [f64]) -> f64 {
        let f = self.data.features;
        for (k, pk) in p.iter_mut().enumerate() {
            *pk = dot(&w[k * f..(k + 1) * f], x);
        }
        let m = p.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut s = 0.0;
        for pk in p.iter_mut() {
            *pk = (*pk - m).exp();
            s += *pk;
        }
        p.iter_mut().for_each(|pk| *pk /= s);
        m + s.ln()
    }
}

impl Objective for SoftmaxRegression {
    fn dim(&self) -> usize {
        self.classes * self.data.features
    }
    fn name(&self) -> &'static str {
        "softmax regression"
    }
    fn value(&self, w: &[f64]) -> f64 {
        let mut g = vec![0.0; self.dim()];
        self.gradient(w, &mut g)
    }
    fn gradient(&self, w: &[f64], g: &mut [f64]) -> f64 {
        let d = &self.data;
        let (f, k) = (d.features, self.classes);
        let s = par_sum(d.n, k * f + 1, |r, acc| {
            let mut p = vec![0.0; k];
            for i in r {
                let x = d.row(i);
                let lse = self.probs(w, x, &mut p);
                let y = d.y[i] as usize;
                acc[k * f] += lse - dot(&w[y * f..(y + 1) * f], x);
                p[y] -= 1.0;
                for c in 0..k {
                    for (a, xi) in acc[c * f..(c + 1) * f].iter_mut().zip(x) {
                        *a += p[c] * xi;
                    }
                }
            }
        });
        let inv = 1.0 / d.n as f64;
        for (gi, si) in g.iter_mut().zip(&s[..k * f]) {
            *gi = si * inv;
        }
        add_l2(self.l2, w, g);
        s[k * f] * inv + 0.5 * self.l2 * dot(w, w)
    }
    fn curvature_vp(
        &self,
        kind: Curvature,
        w: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), SecondOrderError> {
        let d = &self.data;
        let (f, k) = (d.features, self.classes);
        let s = par_sum(d.n, k * f, |r, acc| {
            let mut p = vec![0.0; k];
            let mut u = vec![0.0; k];
            for i in r {
                let x = d.row(i);
                self.probs(w, x, &mut p);
                for (c, uc) in u.iter_mut().enumerate() {
                    *uc = dot(&v[c * f..(c + 1) * f], x);
                }
                if kind == Curvature::EmpiricalFisher {
                    // g_i = (p − e_y) xᵀ; F v = Σ (g_iᵀ v) g_i.
                    p[d.y[i] as usize] -= 1.0;
                    let gv = dot(&p, &u);
                    for c in 0..k {
                        for (a, xi) in acc[c * f..(c + 1) * f].iter_mut().zip(x) {
                            *a += gv * p[c] * xi;
                        }
                    }
                } else {
                    let pu = dot(&p, &u);
                    for c in 0..k {
                        let sc = p[c] * (u[c] - pu);
                        for (a, xi) in acc[c * f..(c + 1) * f].iter_mut().zip(x) {
                            *a += sc * xi;
                        }
                    }
                }
            }
        });
        for (o, si) in out.iter_mut().zip(&s) {
            *o = si / d.n as f64;
        }
        add_l2(self.l2, v, out);
        Ok(())
    }
}

/// A one-hidden-layer MLP `ŷ = W₂ tanh(W₁ x + b₁) + b₂` with squared loss
/// `f(θ) = (1/2N) Σ ‖ŷᵢ − yᵢ‖² + (λ/2)‖θ‖²`. Parameters `θ = [W₁ (H×D), b₁ (H), W₂ (O×H),
/// b₂ (O)]`, row-major, in that order. The targets are the dataset's `y` when `O = 1`, or its
/// one-hot labels when `O = classes`.
///
/// Curvatures: the exact Hessian by the R-operator, the Gauss–Newton `JᵀJ/N + λI`, and the
/// empirical Fisher.
pub struct Mlp {
    data: Dataset,
    hidden: usize,
    outputs: usize,
    l2: f64,
}

/// Per-sample forward state.
struct Forward {
    h: Vec<f64>,
    out: Vec<f64>,
}

impl Mlp {
    /// An MLP with `hidden` tanh units and `outputs` outputs (1: regression on `y`; more: one-hot
    /// targets from integer labels). Errors: zero sizes, labels outside `0..outputs`.
    pub fn new(
        data: Dataset,
        hidden: usize,
        outputs: usize,
        l2: f64,
    ) -> Result<Self, SecondOrderError> {
        check_l2(l2)?;
        if hidden == 0 || outputs == 0 {
            return Err(SecondOrderError::InvalidParameter(
                "MLP sizes must be ≥ 1".into(),
            ));
        }
        if outputs > 1
            && let Some(row) = data
                .y
                .iter()
                .position(|&y| !(y >= 0.0 && y < outputs as f64 && y.fract() == 0.0))
        {
            return Err(SecondOrderError::BadLabel {
                row,
                label: data.y[row],
                classes: outputs,
            });
        }
        check_finite("MLP targets", &data.y)?;
        Ok(Self {
            data,
            hidden,
            outputs,
            l2,
        })
    }

    /// Offsets of `(W₁, b₁, W₂, b₂)` in θ.
    fn offsets(&self) -> (usize, usize, usize, usize) {
        let (d, h) = (self.data.features, self.hidden);
        let b1 = h * d;
        let w2 = b1 + h;
        let b2 = w2 + self.outputs * h;
        (0, b1, w2, b2)
    }

    fn target(&self, i: usize, t: &mut [f64]) {
        if self.outputs == 1 {
            t[0] = self.data.y[i];
        } else {
            t.iter_mut().for_each(|v| *v = 0.0);
            t[self.data.y[i] as usize] = 1.0;
        }
    }

    /// The network's outputs `ŷ(θ, x)` for one input. Errors: wrong lengths.
    pub fn predict(&self, theta: &[f64], x: &[f64]) -> Result<Vec<f64>, SecondOrderError> {
        crate::error::check_len("parameters", self.dim(), theta.len())?;
        crate::error::check_len("input", self.data.features, x.len())?;
        Ok(self.forward(theta, x).out)
    }

    fn forward(&self, th: &[f64], x: &[f64]) -> Forward {
        let (d, hn, o) = (self.data.features, self.hidden, self.outputs);
        let (_, b1, w2, b2) = self.offsets();
        let h: Vec<f64> = (0..hn)
            .map(|j| (dot(&th[j * d..(j + 1) * d], x) + th[b1 + j]).tanh())
            .collect();
        let out = (0..o)
            .map(|k| dot(&th[w2 + k * hn..w2 + (k + 1) * hn], &h) + th[b2 + k])
            .collect();
        Forward { h, out }
    }

    /// Adds the gradient of `½‖ŷ − t‖²` at one sample, back-propagating `delta = ŷ − t` (or
    /// any output-space vector: Gauss–Newton products back-propagate `J v`), scaled by `s`.
    fn backprop(
        &self,
        th: &[f64],
        x: &[f64],
        fw: &Forward,
        delta: &[f64],
        s: f64,
        acc: &mut [f64],
    ) {
        let (d, hn, o) = (self.data.features, self.hidden, self.outputs);
        let (_, b1, w2, b2) = self.offsets();
        for k in 0..o {
            for j in 0..hn {
                acc[w2 + k * hn + j] += s * delta[k] * fw.h[j];
            }
            acc[b2 + k] += s * delta[k];
        }
        for j in 0..hn {
            let dh: f64 = (0..o).map(|k| th[w2 + k * hn + j] * delta[k]).sum();
            let da = (1.0 - fw.h[j] * fw.h[j]) * dh * s;
            for (a, xi) in acc[j * d..(j + 1) * d].iter_mut().zip(x) {
                *a += da * xi;
            }
            acc[b1 + j] += da;
        }
    }
}

impl Objective for Mlp {
    fn dim(&self) -> usize {
        self.offsets().3 + self.outputs
    }
    fn name(&self) -> &'static str {
        "MLP"
    }
    fn value(&self, th: &[f64]) -> f64 {
        let d = &self.data;
        let s = par_sum(d.n, 1, |r, acc| {
            let mut t = vec![0.0; self.outputs];
            for i in r {
                let fw = self.forward(th, d.row(i));
                self.target(i, &mut t);
                acc[0] += 0.5
                    * fw.out
                        .iter()
                        .zip(&t)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>();
            }
        });
        s[0] / d.n as f64 + 0.5 * self.l2 * dot(th, th)
    }
    fn gradient(&self, th: &[f64], g: &mut [f64]) -> f64 {
        let d = &self.data;
        let p = self.dim();
        let s = par_sum(d.n, p + 1, |r, acc| {
            let mut t = vec![0.0; self.outputs];
            for i in r {
                let x = d.row(i);
                let fw = self.forward(th, x);
                self.target(i, &mut t);
                let delta: Vec<f64> = fw.out.iter().zip(&t).map(|(a, b)| a - b).collect();
                acc[p] += 0.5 * dot(&delta, &delta);
                self.backprop(th, x, &fw, &delta, 1.0, &mut acc[..p]);
            }
        });
        let inv = 1.0 / d.n as f64;
        for (gi, si) in g.iter_mut().zip(&s[..p]) {
            *gi = si * inv;
        }
        add_l2(self.l2, th, g);
        s[p] * inv + 0.5 * self.l2 * dot(th, th)
    }
    fn curvature_vp(
        &self,
        kind: Curvature,
        th: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<(), SecondOrderError> {
        let d = &self.data;
        let p = self.dim();
        let (dn, hn, o) = (d.features, self.hidden, self.outputs);
        let (_, b1, w2, b2) = self.offsets();
        let s = par_sum(d.n, p, |r, acc| {
            let mut t = vec![0.0; o];
            let mut gi = vec![0.0; p];
            for i in r {
                let x = d.row(i);
                let fw = self.forward(th, x);
                self.target(i, &mut t);
                let delta: Vec<f64> = fw.out.iter().zip(&t).map(|(a, b)| a - b).collect();
                if kind == Curvature::EmpiricalFisher {
                    gi.iter_mut().for_each(|v| *v = 0.0);
                    self.backprop(th, x, &fw, &delta, 1.0, &mut gi);
                    let c = dot(&gi, v);
                    for (a, g) in acc.iter_mut().zip(&gi) {
                        *a += c * g;
                    }
                    continue;
                }
                // Forward R-pass: R{a₁} = V₁x + c₁, R{h} = (1 − h²) R{a₁},
                // R{ŷ} = V₂h + W₂R{h} + c₂.
                let ra: Vec<f64> = (0..hn)
                    .map(|j| dot(&v[j * dn..(j + 1) * dn], x) + v[b1 + j])
                    .collect();
                let rh: Vec<f64> = (0..hn).map(|j| (1.0 - fw.h[j] * fw.h[j]) * ra[j]).collect();
                let rout: Vec<f64> = (0..o)
                    .map(|k| {
                        dot(&v[w2 + k * hn..w2 + (k + 1) * hn], &fw.h)
                            + dot(&th[w2 + k * hn..w2 + (k + 1) * hn], &rh)
                            + v[b2 + k]
                    })
                    .collect();
                if kind == Curvature::GaussNewton {
                    // Jᵀ (J v): back-propagate R{ŷ} through the unperturbed network.
                    self.backprop(th, x, &fw, &rout, 1.0, acc);
                    continue;
                }
                // Backward R-pass of the gradient: R{δ} = R{ŷ}.
                for k in 0..o {
                    for j in 0..hn {
                        acc[w2 + k * hn + j] += rout[k] * fw.h[j] + delta[k] * rh[j];
                    }
                    acc[b2 + k] += rout[k];
                }
                for j in 0..hn {
                    let dh: f64 = (0..o).map(|k| th[w2 + k * hn + j] * delta[k]).sum();
                    let rdh: f64 = (0..o)
                        .map(|k| v[w2 + k * hn + j] * delta[k] + th[w2 + k * hn + j] * rout[k])
                        .sum();
                    let one_m = 1.0 - fw.h[j] * fw.h[j];
                    let rda = one_m * rdh - 2.0 * fw.h[j] * rh[j] * dh;
                    for (a, xi) in acc[j * dn..(j + 1) * dn].iter_mut().zip(x) {
                        *a += rda * xi;
                    }
                    acc[b1 + j] += rda;
                }
            }
        });
        for (o, si) in out.iter_mut().zip(&s) {
            *o = si / d.n as f64;
        }
        add_l2(self.l2, v, out);
        Ok(())
    }
}
