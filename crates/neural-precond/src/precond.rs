//! Adapters from the networks to ritz-krylov's preconditioner traits: f64 residual → f32
//! network → f64 direction.
//!
//! - [`StencilPreconditioner`]: a stencil net through the plain-Rust fast path
//!   ([`FastStencil`]); linear, for flexible conjugate directions.
//! - [`SpdStencilPreconditioner`]: the SPD stencil net; also implements
//!   [`SpdPreconditioner`], so plain PCG accepts it (symmetric and positive up to f32
//!   rounding). It can only be built from a symmetric net.
//! - [`BurnPreconditioner`]: any model through burn's forward on any backend (the DCDM CNN,
//!   or a stencil net on a GPU); nonlinear in general, so only flexible methods accept it.
//!
//! `apply` cannot return an error (the trait is infallible); a failure (which the solvers'
//! dimension checks exclude) fills `z` with NaN, which the solvers report as a non-finite
//! iterate.

use crate::error::NeuralError;
use crate::fast::FastStencil;
use crate::geometry::Geometry;
use crate::model::{AnyModel, LearnedModel};
use crate::stencil::{GeometryBatch, StencilNet, StencilWeights, grid_tensor};
use burn::tensor::{Tensor, backend::Backend};
use ritz_linalg::{Preconditioner, SpdPreconditioner};
use std::sync::Mutex;

fn inf_scale(r: &[f64]) -> f64 {
    let m = r.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
    if m > 0.0 && m.is_finite() {
        1.0 / m
    } else {
        1.0
    }
}

/// A stencil net on the fast f32 path (see the module docs). Cost per application: one
/// [`FastStencil`] application plus two conversions.
#[derive(Debug)]
pub struct StencilPreconditioner {
    fast: FastStencil,
    name: String,
}

impl StencilPreconditioner {
    /// Prepares `net` for the geometry of a problem (the per-solve setup).
    /// Errors: wrong dimension or grid size, bad parameters.
    pub fn new<B: Backend>(net: &StencilNet<B>, geo: &Geometry) -> Result<Self, NeuralError> {
        let name = if net.is_symmetric() {
            "stencil-spd"
        } else {
            "stencil"
        };
        Ok(Self {
            fast: FastStencil::new(net, geo)?,
            name: name.into(),
        })
    }
    /// The prepared fast path.
    pub fn fast(&self) -> &FastStencil {
        &self.fast
    }
}

impl Preconditioner for StencilPreconditioner {
    fn dim(&self) -> usize {
        self.fast.cells()
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        if self.fast.apply_f64(r, z, inf_scale(r)).is_err() {
            z.fill(f64::NAN);
        }
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// The SPD stencil net as a PCG preconditioner (see the module docs).
#[derive(Debug)]
pub struct SpdStencilPreconditioner(StencilPreconditioner);

impl SpdStencilPreconditioner {
    /// Errors: the net is not the symmetric variant ([`NeuralError::Config`]), or as
    /// [`StencilPreconditioner::new`].
    pub fn new<B: Backend>(net: &StencilNet<B>, geo: &Geometry) -> Result<Self, NeuralError> {
        if !net.is_symmetric() {
            return Err(NeuralError::Config(
                "only the symmetric stencil net is an SPD preconditioner".into(),
            ));
        }
        Ok(Self(StencilPreconditioner::new(net, geo)?))
    }
    /// The prepared fast path.
    pub fn fast(&self) -> &FastStencil {
        &self.0.fast
    }
}

impl Preconditioner for SpdStencilPreconditioner {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        self.0.apply(r, z)
    }
    fn name(&self) -> String {
        self.0.name()
    }
}
impl SpdPreconditioner for SpdStencilPreconditioner {}

struct BurnInner<B: Backend> {
    model: AnyModel<B>,
    geo: GeometryBatch<B>,
    weights: Option<StencilWeights<B>>,
}

/// Any model through burn's forward: `z = ‖r‖ f(r / ‖r‖)` (see the module docs). Cost per
/// application: one network forward on the chosen backend plus host–device copies.
pub struct BurnPreconditioner<B: Backend> {
    inner: Mutex<BurnInner<B>>,
    device: B::Device,
    geometry: Geometry,
    name: String,
}

impl<B: Backend> std::fmt::Debug for BurnPreconditioner<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BurnPreconditioner")
            .field("name", &self.name)
            .finish()
    }
}

impl<B: Backend> BurnPreconditioner<B> {
    /// Prepares `model` for `geo` on `device`; stencil nets compute their stencils here once.
    /// Errors: wrong dimension or grid size.
    ///
    /// ```
    /// use ritz_krylov::{FcdParams, fcd};
    /// use ritz_neural_precond::{BurnPreconditioner, Geometry, burn::backend::Flex, shipped::load_shipped};
    /// use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
    /// let p = PoissonProblem::new(Scene::Organic.generate(2, 32, 5)?)?;
    /// let (_, dcdm) = load_shipped::<Flex>("dcdm", 2, &Default::default())?;
    /// let m = BurnPreconditioner::new(dcdm, &Geometry::of(&p), &Default::default())?;
    /// let b = RhsKind::SmoothDivergence.generate(&p, 0);
    /// let mut x = vec![0.0; b.len()];
    /// let params = FcdParams { k: 16, ..Default::default() }; // DCDM: nonlinear, so flexible
    /// assert!(fcd(&p, &m, &b, &mut x, &params, &mut ())?.converged());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        model: AnyModel<B>,
        geo: &Geometry,
        device: &B::Device,
    ) -> Result<Self, NeuralError> {
        let (plan, name) = match &model {
            AnyModel::Dcdm(m) => (m.plan(geo.shape)?, "dcdm"),
            AnyModel::Stencil(m) => (
                m.plan(geo.shape)?,
                if m.is_symmetric() {
                    "stencil-spd (burn)"
                } else {
                    "stencil (burn)"
                },
            ),
        };
        let batch = GeometryBatch::new(geo, plan, device)?;
        let weights = match &model {
            AnyModel::Stencil(m) => Some(m.weights(&batch)),
            AnyModel::Dcdm(_) => None,
        };
        Ok(Self {
            inner: Mutex::new(BurnInner {
                model,
                geo: batch,
                weights,
            }),
            device: device.clone(),
            geometry: geo.clone(),
            name: name.into(),
        })
    }

    /// `z = ‖r‖ f(r / ‖r‖)` in f32. Errors: wrong lengths, non-f32 output.
    pub fn try_apply(&self, r: &[f64], z: &mut [f64]) -> Result<(), NeuralError> {
        let n = self.geometry.mask.len();
        crate::error::check_io_len(n, r.len(), z.len())?;
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            z.fill(if norm == 0.0 { 0.0 } else { f64::NAN });
            return Ok(());
        }
        let rf: Vec<f32> = r.iter().map(|&v| (v / norm) as f32).collect();
        let x = grid_tensor::<B>(&[&rf], self.geometry.shape.dhw, &self.device);
        let out = self
            .forward(x)
            .into_data()
            .to_vec::<f32>()
            .map_err(|_| NeuralError::Config("network output is not f32".into()))?;
        for (zi, &o) in z.iter_mut().zip(&out) {
            *zi = o as f64 * norm;
        }
        Ok(())
    }
}

impl<B: Backend> BurnPreconditioner<B> {
    /// The network on a unit-norm input `x` (`[1, 1, D, H, W]`, on the device).
    fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match (&inner.model, &inner.weights) {
            (AnyModel::Stencil(m), Some(w)) => m.apply(w, &inner.geo, x),
            (AnyModel::Dcdm(d), _) => d.predict(&inner.geo, x),
            (AnyModel::Stencil(s), None) => s.predict(&inner.geo, x),
        }
    }

    /// `z = ‖r‖ f(r / ‖r‖)` with `r` and `z` on the device (`[1, 1, D, H, W]`): the norm is a
    /// one-element tensor, so nothing is read back (no synchronization). Used by the
    /// device-resident iterations ([`crate::device`]).
    pub fn forward_device(&self, r: Tensor<B, 5>) -> Tensor<B, 5> {
        let norm = r
            .clone()
            .powf_scalar(2.0)
            .sum()
            .sqrt()
            .clamp_min(f32::MIN_POSITIVE)
            .reshape([1, 1, 1, 1, 1]);
        self.forward(r / norm.clone()) * norm
    }

    /// True for the SPD stencil net (a symmetric positive definite linear map).
    pub fn is_spd(&self) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        matches!(&inner.model, AnyModel::Stencil(m) if m.is_symmetric())
    }
}

impl<B: Backend> Preconditioner for BurnPreconditioner<B> {
    fn dim(&self) -> usize {
        self.geometry.mask.len()
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        if self.try_apply(r, z).is_err() {
            z.fill(f64::NAN);
        }
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}
