//! Curvature of burn models for second-order methods (ritz-second-order works on `f64`
//! vectors): read and write all float parameters of a burn model as one vector, read the
//! gradient as one vector, and a finite-difference Hessian-vector product (burn has no double
//! backward).
//!
//! Parameters are visited in declaration order (burn's `visit`/`map` order), each tensor
//! row-major. [`TanhMlp`] is a reference network whose flat layout is exactly that of
//! `ritz_second_order::models::Mlp` (`[W₁ (H×D), b₁, W₂ (O×H), b₂]`), so the two can be
//! compared.
//!
//! **Finite-difference HVP.** `Hv ≈ (∇f(θ + εv̂) − ∇f(θ − εv̂)) ‖v‖ / (2ε)`, `v̂ = v/‖v‖`,
//! two gradient evaluations. Its error is at most `ε² M₃ ‖v‖ / 6 + δ_g ‖v‖ / ε`, where `M₃`
//! bounds the third derivative along `v̂` and `δ_g` is the absolute rounding error of one
//! gradient. With burn's `f32` gradients `δ_g ≈ 6·10⁻⁸ ‖∇f‖`-ish (plus the loss's own
//! rounding), the best `ε ≈ (3δ_g/M₃)^{1/3}` is about 10⁻²–10⁻³ in parameter units, giving
//! 10⁻⁵–10⁻³ relative accuracy (the figure against the exact R-operator is in
//! docs/second-order.md): enough for Lanczos extreme eigenvalues, M-FAC-style preconditioning and
//! trust regions, not for 1e-8 oracle work (use the closed-form models).

use crate::error::NeuralError;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::backend::AutodiffBackend;

/// All float parameters of `m` as one `f64` vector. Cost: one device read per tensor.
pub fn flat_params<B: Backend, M: Module<B>>(m: &M) -> Vec<f64> {
    struct Read(Vec<f64>);
    impl<B: Backend> ModuleVisitor<B> for Read {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let v = param
                .val()
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default();
            self.0.extend(v.iter().map(|&x| x as f64));
        }
    }
    let mut r = Read(Vec::new());
    m.visit(&mut r);
    r.0
}

/// Returns `m` with its float parameters replaced by `theta` (rounded to the backend's float
/// type; gradient tracking preserved). Errors: `theta` of the wrong length or non-finite.
pub fn set_flat_params<B: Backend, M: Module<B>>(m: M, theta: &[f64]) -> Result<M, NeuralError> {
    let n = flat_params(&m).len();
    if theta.len() != n {
        return Err(NeuralError::Shape {
            what: "flat parameter vector",
            expected: n,
            found: theta.len(),
        });
    }
    if let Some(i) = theta.iter().position(|v| !v.is_finite()) {
        return Err(NeuralError::NonFinite(format!("flat parameter {i}")));
    }
    struct Write<'a> {
        theta: &'a [f64],
        at: usize,
    }
    impl<B: Backend> ModuleMapper<B> for Write<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let shape = tensor.shape();
            let k = shape.num_elements();
            let vals: Vec<f32> = self.theta[self.at..self.at + k]
                .iter()
                .map(|&x| x as f32)
                .collect();
            self.at += k;
            let grad = tensor.is_require_grad();
            let mut t = Tensor::<B, D>::from_data(TensorData::new(vals, shape), &tensor.device());
            if grad {
                t = t.require_grad();
            }
            Param::from_mapped_value(id, t, mapper)
        }
    }
    Ok(m.map(&mut Write { theta, at: 0 }))
}

/// The gradient of every float parameter of `m` from a backward pass, as one vector in
/// [`flat_params`] order (zeros for parameters without a gradient).
pub fn flat_gradient<B: AutodiffBackend, M: Module<B>>(m: &M, grads: &B::Gradients) -> Vec<f64> {
    struct Grad<'a, B: AutodiffBackend>(Vec<f64>, &'a B::Gradients);
    impl<B: AutodiffBackend> ModuleVisitor<B> for Grad<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let t = param.val();
            let k = t.shape().num_elements();
            match t.grad(self.1) {
                Some(g) => {
                    let v = g
                        .into_data()
                        .convert::<f32>()
                        .to_vec::<f32>()
                        .unwrap_or_default();
                    self.0.extend(v.iter().map(|&x| x as f64));
                }
                None => self.0.extend(std::iter::repeat_n(0.0, k)),
            }
        }
    }
    let mut g = Grad::<B>(Vec::new(), grads);
    m.visit(&mut g);
    g.0
}

/// Central finite-difference Hessian-vector product from a gradient oracle (see the module
/// docs for the error bound): `eps` is the step along the unit vector `v/‖v‖`. Returns zeros
/// for `v = 0`. Cost: two gradient evaluations.
pub fn fd_hvp(
    grad: &mut dyn FnMut(&[f64]) -> Vec<f64>,
    theta: &[f64],
    v: &[f64],
    eps: f64,
) -> Vec<f64> {
    let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if nv == 0.0 {
        return vec![0.0; v.len()];
    }
    let plus: Vec<f64> = theta.iter().zip(v).map(|(t, x)| t + eps * x / nv).collect();
    let minus: Vec<f64> = theta.iter().zip(v).map(|(t, x)| t - eps * x / nv).collect();
    let (gp, gm) = (grad(&plus), grad(&minus));
    gp.iter()
        .zip(&gm)
        .map(|(a, b)| (a - b) * nv / (2.0 * eps))
        .collect()
}

/// A one-hidden-layer tanh MLP with explicit parameters in `ritz_second_order`'s `Mlp` layout:
/// `ŷ = W₂ tanh(W₁x + b₁) + b₂`.
#[derive(Module, Debug)]
pub struct TanhMlp<B: Backend> {
    /// `H × D`.
    pub w1: Param<Tensor<B, 2>>,
    /// `H`.
    pub b1: Param<Tensor<B, 1>>,
    /// `O × H`.
    pub w2: Param<Tensor<B, 2>>,
    /// `O`.
    pub b2: Param<Tensor<B, 1>>,
}

impl<B: Backend> TanhMlp<B> {
    /// Zero-initialized sizes `inputs → hidden → outputs` (set values with
    /// [`set_flat_params`]).
    pub fn new(inputs: usize, hidden: usize, outputs: usize, device: &B::Device) -> Self {
        Self {
            w1: Param::from_tensor(Tensor::zeros([hidden, inputs], device)),
            b1: Param::from_tensor(Tensor::zeros([hidden], device)),
            w2: Param::from_tensor(Tensor::zeros([outputs, hidden], device)),
            b2: Param::from_tensor(Tensor::zeros([outputs], device)),
        }
    }

    /// Outputs for a batch `x` (`N × D`) → `N × O`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let a = x.matmul(self.w1.val().transpose()) + self.b1.val().unsqueeze();
        a.tanh().matmul(self.w2.val().transpose()) + self.b2.val().unsqueeze()
    }

    /// The squared loss `(1/2N) Σ ‖ŷᵢ − yᵢ‖²` (`y` is `N × O`).
    pub fn loss(&self, x: Tensor<B, 2>, y: Tensor<B, 2>) -> Tensor<B, 1> {
        let n = x.dims()[0] as f64;
        let r = self.forward(x) - y;
        (r.clone() * r).sum().div_scalar(2.0 * n)
    }
}
