//! Geometry-aware stencil networks (after Lan et al., ICML 2024), linear in the residual.
//!
//! The geometry enters as a three-channel image (air, fluid, not-solid) per level, padded
//! with the wall values; levels come from coarsening the cell flags by 2 (air wins, then
//! fluid, as MGPCG). A *stencil block* turns a level's image into a spatially varying 27-point
//! (9-point in 2D) stencil with one 3×3×3 convolution (3 → 27 channels) and applies it to a
//! signal: `y(i) = Σ_p K_p(i) x(i + p)`. Stencils depend on the geometry only, so they are
//! computed once per solve and reused by every application ([`StencilNet::weights`]; the
//! plain-Rust [`crate::fast::FastStencil`] does the same on the CPU).
//!
//! Two variants share the building blocks:
//! - **V-net** (`symmetric = false`): a learned multigrid V-cycle. On each level: a stencil
//!   block on the residual (pre-smoothing), the level's Poisson operator to update the
//!   residual, 2× average pooling down, the coarse result upsampled trilinearly and added with
//!   a learned image-dependent scale `c_l` (level mixing), the operator again, and a second
//!   stencil block (post-smoothing). The coarsest level (side `coarsest`) is solved exactly
//!   with a cached dense pseudo-inverse. Keeping the true operator inside the network is
//!   what makes the iteration count independent of the grid size; the stencil blocks learn
//!   the smoothing, which is where the geometry matters. Not symmetric: use it with flexible
//!   conjugate directions. At initialization it is a damped-Jacobi V(1,1)-cycle.
//! - **SPD net** (`symmetric = true`): `z = Σ_{l<L} T_lᵀ K_lᵀ s_l² K_l T_l r + T_Lᵀ s_L² A_L⁺ T_L r`
//!   with `T_l = t_{l−1} R ⋯ t_0 R`, `R` full-weighting restriction, `Rᵀ` trilinear upsampling,
//!   `K_l` stencil blocks, `A_L⁺` the coarsest level's pseudo-inverse and `s_l`, `t_l` image
//!   scalars: an additive multilevel (BPX-like) map. Every term is symmetric positive
//!   semi-definite by construction and the finest one is definite when `K_0` is invertible,
//!   so plain PCG accepts it.
//!
//! Parameters: `levels` distinct parameter levels; deeper grids reuse the last level's
//! parameters, down to a coarsest side of `coarsest` cells, so one model runs on any grid
//! whose pooled sides are divisible by `2^(levels − 1)`.

use crate::error::NeuralError;
use crate::geometry::{Geometry, GridShape, plan_levels};
use crate::ops::{
    FlatLayout, avg_pool, laplacian, restrict_linear, sm_flat, sm_flat_t, split_taps,
    upsample_linear,
};
use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::PaddingConfig3d;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::tensor::{Tensor, TensorData, backend::Backend};

/// Configuration of [`StencilNet`].
#[derive(Config, Debug)]
pub struct StencilNetConfig {
    /// Spatial dimension, 2 or 3.
    pub dim: usize,
    /// Distinct parameter levels (grid sides must be divisible by `2^(levels − 1)`). The
    /// default 2 gives the finest level its own smoothers and shares the second set among all
    /// coarser levels, which is what lets a net trained at 32³ run unchanged at 128³ (figures
    /// in docs/neural.md, "Figures behind design choices").
    #[config(default = 2)]
    pub levels: usize,
    /// Pool while the smallest side stays at least this large.
    #[config(default = 4)]
    pub coarsest: usize,
    /// The SPD variant (a block followed by its transpose) instead of the V-net.
    #[config(default = false)]
    pub symmetric: bool,
    /// Standard deviation of the initial image-convolution weights (0: start exactly at the
    /// damped-Jacobi V-cycle / unit-block additive map; gradients still reach every weight).
    #[config(default = 0.0)]
    pub init_std: f64,
}

/// Parameters of one level.
#[derive(Module, Debug)]
pub struct StencilLevel<B: Backend> {
    /// Image → pre-smoothing stencil (the only block of the SPD variant).
    pub pre: Conv3d<B>,
    /// Image → post-smoothing stencil (V-net only).
    pub post: Option<Conv3d<B>>,
    /// Image → level scalars: `[c]` (V-net: coarse-correction scale) or `[s, t]` (SPD).
    pub mix: Conv3d<B>,
}

/// A geometry-aware stencil network (see the module docs).
#[derive(Module, Debug)]
pub struct StencilNet<B: Backend> {
    /// Per-level parameters, finest first.
    pub levels: Vec<StencilLevel<B>>,
    dim: usize,
    coarsest: usize,
    symmetric: bool,
}

/// Geometry-dependent tensors of one level, computed once per geometry.
#[derive(Debug, Clone)]
pub struct LevelWeights<B: Backend> {
    /// Pre-smoothing stencil `[1, taps, D, H, W]` (absent on the coarsest level).
    pub pre: Option<Tensor<B, 5>>,
    /// Post-smoothing stencil (V-net, all but the coarsest level).
    pub post: Option<Tensor<B, 5>>,
    /// Level scalars `[1, k, 1, 1, 1]`: `[c]` (V-net) or `[s², t]` (SPD).
    pub mix: Tensor<B, 5>,
}

/// All geometry-dependent tensors of one geometry.
#[derive(Debug, Clone)]
pub struct StencilWeights<B: Backend> {
    /// Per-level tensors.
    pub levels: Vec<LevelWeights<B>>,
}

/// One geometry as tensors: per level the padded image, the fluid mask and the operator
/// diagonal, and the coarsest level's pseudo-inverse.
#[derive(Debug, Clone)]
pub struct GeometryBatch<B: Backend> {
    /// Level shapes, finest first (only the finest without a level plan).
    pub shapes: Vec<GridShape>,
    /// Padded images `[1, 3, Dp, Hp, Wp]` per level (empty without a level plan).
    pub images: Vec<Tensor<B, 5>>,
    /// Fluid masks `[1, 1, D, H, W]` per level.
    pub masks: Vec<Tensor<B, 5>>,
    /// Operator diagonals `[1, 1, D, H, W]` per level.
    pub diags: Vec<Tensor<B, 5>>,
    /// Coarsest-level pseudo-inverse `[cells, cells]` (with a level plan).
    pub coarse_inverse: Option<Tensor<B, 2>>,
    /// Finest fluid mask (= `masks[0]`).
    pub mask: Tensor<B, 5>,
    /// Finest diagonal (= `diags[0]`).
    pub diag: Tensor<B, 5>,
    /// Finest shape.
    pub shape: GridShape,
}

/// Stacks equally shaped grids into a `[B, C, D, H, W]` tensor (`C = len / cells`).
pub fn grid_tensor<B: Backend>(
    parts: &[&[f32]],
    shape: [usize; 3],
    device: &B::Device,
) -> Tensor<B, 5> {
    let cells: usize = shape.iter().product();
    let c = parts.first().map_or(1, |p| p.len() / cells.max(1));
    let mut data = Vec::with_capacity(parts.len() * c * cells);
    for p in parts {
        data.extend_from_slice(p);
    }
    Tensor::from_data(
        TensorData::new(data, [parts.len(), c, shape[0], shape[1], shape[2]]),
        device,
    )
}

impl<B: Backend> GeometryBatch<B> {
    /// Builds the tensors of `geo` for the level plan `shapes` (empty: the finest level only,
    /// as for DCDM). Cost: O(cells), plus the dense coarsest inverse with a plan.
    ///
    /// Errors: a plan that does not match the geometry, coarsest-solve failures.
    pub fn new(
        geo: &Geometry,
        shapes: Vec<GridShape>,
        device: &B::Device,
    ) -> Result<Self, NeuralError> {
        let shape = geo.shape;
        let mask = grid_tensor(&[&geo.mask], shape.dhw, device);
        let diag = grid_tensor(&[&geo.diag], shape.dhw, device);
        if shapes.is_empty() {
            return Ok(Self {
                shapes: vec![shape],
                images: Vec::new(),
                masks: vec![mask.clone()],
                diags: vec![diag.clone()],
                coarse_inverse: None,
                mask,
                diag,
                shape,
            });
        }
        let levels = geo.levels(&shapes)?;
        let last = levels.last().expect("a plan has a level");
        let inv = last.pseudo_inverse()?;
        let nc = last.shape.cells();
        Ok(Self {
            images: levels
                .iter()
                .map(|l| grid_tensor(&[&l.image], l.shape.padded(), device))
                .collect(),
            masks: levels
                .iter()
                .map(|l| grid_tensor(&[&l.mask], l.shape.dhw, device))
                .collect(),
            diags: levels
                .iter()
                .map(|l| grid_tensor(&[&l.diag], l.shape.dhw, device))
                .collect(),
            coarse_inverse: Some(Tensor::from_data(TensorData::new(inv, [nc, nc]), device)),
            shapes,
            mask,
            diag,
            shape,
        })
    }
}

/// `[B, 1, D, H, W]` → `[B, 1, D, H, W]` through a dense `[cells, cells]` symmetric matrix.
fn dense_apply<B: Backend>(x: Tensor<B, 5>, m: &Tensor<B, 2>) -> Tensor<B, 5> {
    let [b, c, d, h, w] = x.dims();
    x.reshape([b, d * h * w])
        .matmul(m.clone())
        .reshape([b, c, d, h, w])
}

impl StencilNetConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), NeuralError> {
        if self.dim != 2 && self.dim != 3 {
            return Err(NeuralError::Config(format!(
                "dim must be 2 or 3, got {}",
                self.dim
            )));
        }
        if self.levels == 0 || self.levels > 10 {
            return Err(NeuralError::Config(format!(
                "levels must be in 1..=10, got {}",
                self.levels
            )));
        }
        if self.coarsest < 2 {
            return Err(NeuralError::Config("coarsest must be at least 2".into()));
        }
        if !(self.init_std.is_finite() && self.init_std >= 0.0) {
            return Err(NeuralError::Config(
                "init_std must be finite and ≥ 0".into(),
            ));
        }
        Ok(())
    }

    fn image_conv<B: Backend>(&self, out: usize, bias: Vec<f32>, device: &B::Device) -> Conv3d<B> {
        let k = if self.dim == 3 { [3, 3, 3] } else { [1, 3, 3] };
        let mut conv = Conv3dConfig::new([3, out], k)
            .with_padding(PaddingConfig3d::Valid)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: self.init_std,
            })
            .init(device);
        conv.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [out]),
            device,
        )));
        conv
    }

    /// Builds the network. Initial stencils are a multiple of the identity plus small
    /// geometry-dependent noise: damped Jacobi (`0.8 / 2d`) for the V-net, so it starts as a
    /// working V(1,1)-cycle with coarse-correction scale 3 (the h² scaling between levels is
    /// 4; 3 damps the overshoot of piecewise-constant restriction — docs/neural.md);
    /// the SPD net starts with unit blocks and transfer scales `t² · 2^d = 4`.
    ///
    /// Errors: an invalid configuration.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<StencilNet<B>, NeuralError> {
        self.validate()?;
        let taps = if self.dim == 3 { 27 } else { 9 };
        let centre_value = if self.symmetric {
            1.0
        } else {
            0.8 / (2 * self.dim) as f32
        };
        let mut centre = vec![0.0f32; taps];
        centre[taps / 2] = centre_value;
        let spd_transfer = (4.0f32 / (1u32 << self.dim) as f32).sqrt();
        let levels = (0..self.levels)
            .map(|_| StencilLevel {
                pre: self.image_conv(taps, centre.clone(), device),
                post: (!self.symmetric).then(|| self.image_conv(taps, centre.clone(), device)),
                mix: if self.symmetric {
                    self.image_conv(2, vec![1.0, spd_transfer], device)
                } else {
                    self.image_conv(1, vec![3.0], device)
                },
            })
            .collect();
        let net = StencilNet {
            levels,
            dim: self.dim,
            coarsest: self.coarsest,
            symmetric: self.symmetric,
        };
        // Materialize the lazily initialized parameters now (see `params_finite`).
        crate::model::params_finite(&net);
        Ok(net)
    }
}

impl<B: Backend> StencilNet<B> {
    /// Spatial dimension of the model.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// True for the SPD variant.
    pub fn is_symmetric(&self) -> bool {
        self.symmetric
    }
    /// Number of distinct parameter levels.
    pub fn param_levels(&self) -> usize {
        self.levels.len()
    }
    /// Smallest side the level plan pools down to.
    pub fn coarsest(&self) -> usize {
        self.coarsest
    }

    /// The level plan for a grid. Errors: wrong dimension, or a pooled side not divisible by
    /// `2^(levels − 1)`.
    pub fn plan(&self, s: GridShape) -> Result<Vec<GridShape>, NeuralError> {
        if s.dim != self.dim {
            return Err(NeuralError::Dimension {
                model: self.dim,
                grid: s.dim,
            });
        }
        plan_levels(s, self.levels.len(), self.coarsest)
    }

    /// Multiply-adds of one application ([`StencilNet::apply`]) on the level plan `plan`:
    /// per level above the coarsest, the V-net's two stencil blocks (`taps` each) and two
    /// Poisson residuals (`2d + 1`) per cell, or the SPD variant's block and its transpose; the
    /// dense coarsest solve (`m²` for `m` coarsest cells). The per-geometry stencils
    /// ([`StencilNet::weights`]) and the grid transfers are not counted.
    pub fn macs(&self, plan: &[GridShape]) -> f64 {
        let Some((coarsest, levels)) = plan.split_last() else {
            return 0.0;
        };
        let per_cell = |s: &GridShape| {
            let taps = s.taps() as f64;
            if self.symmetric {
                2.0 * taps
            } else {
                2.0 * taps + 2.0 * (2 * s.dim + 1) as f64
            }
        };
        let m = coarsest.cells() as f64;
        levels
            .iter()
            .map(|s| per_cell(s) * s.cells() as f64)
            .sum::<f64>()
            + m * m
    }

    /// Parameters used at level `l` (the last parameter level serves every deeper level).
    pub fn level_params(&self, l: usize) -> &StencilLevel<B> {
        &self.levels[l.min(self.levels.len() - 1)]
    }

    /// Computes the stencils and level scalars of a geometry (built with
    /// [`StencilNet::plan`]'s shapes). Cost: up to two 3 → taps image convolutions per level.
    pub fn weights(&self, geo: &GeometryBatch<B>) -> StencilWeights<B> {
        let n = geo.shapes.len();
        let levels = (0..n)
            .map(|l| {
                let p = self.level_params(l);
                let img = geo.images[l].clone();
                let coarsest = l + 1 == n;
                let pre = (!coarsest).then(|| p.pre.forward(img.clone()));
                let post = if coarsest {
                    None
                } else {
                    p.post.as_ref().map(|c| c.forward(img.clone()))
                };
                let m = p.mix.forward(img).mean_dim(4).mean_dim(3).mean_dim(2);
                let mix = if self.symmetric {
                    // [s², t]: the block scale squared keeps each term semi-definite.
                    let s = m.clone().narrow(1, 0, 1);
                    Tensor::cat(vec![s.clone() * s, m.narrow(1, 1, 1)], 1)
                } else {
                    m
                };
                LevelWeights { pre, post, mix }
            })
            .collect();
        StencilWeights { levels }
    }

    /// Applies the network with precomputed weights: `[B, 1, D, H, W]` → the same, zero
    /// outside fluid. Linear in `r`.
    pub fn apply(
        &self,
        w: &StencilWeights<B>,
        geo: &GeometryBatch<B>,
        r: Tensor<B, 5>,
    ) -> Tensor<B, 5> {
        let x0 = r * geo.mask.clone();
        let z = if self.symmetric {
            self.additive(w, geo, x0)
        } else {
            self.vcycle(w, geo, 0, x0)
        };
        z * geo.mask.clone()
    }

    fn coarse_solve(&self, geo: &GeometryBatch<B>, r: Tensor<B, 5>) -> Tensor<B, 5> {
        let inv = geo
            .coarse_inverse
            .as_ref()
            .expect("a geometry batch with a level plan has a coarsest inverse");
        dense_apply(r, inv)
    }

    fn vcycle(
        &self,
        w: &StencilWeights<B>,
        geo: &GeometryBatch<B>,
        l: usize,
        r: Tensor<B, 5>,
    ) -> Tensor<B, 5> {
        let n = geo.shapes.len();
        if l + 1 == n {
            return self.coarse_solve(geo, r) * geo.masks[l].clone();
        }
        let s = geo.shapes[l];
        let lw = &w.levels[l];
        let (mask, diag) = (&geo.masks[l], &geo.diags[l]);
        let lay = FlatLayout::new(s, r.dims()[0]);
        let pre = lw.pre.clone().expect("fine levels have a pre-smoother");
        let x = sm_flat(r.clone(), &split_taps(pre, &lay), &lay) * mask.clone();
        let r1 = r.clone() - laplacian(x.clone(), mask.clone(), diag.clone(), s);
        let rc = avg_pool(r1, s) * geo.masks[l + 1].clone();
        let e = self.vcycle(w, geo, l + 1, rc);
        let x = x + upsample_linear(e, geo.shapes[l + 1]) * lw.mix.clone() * mask.clone();
        let r2 = r - laplacian(x.clone(), mask.clone(), diag.clone(), s);
        let post = lw
            .post
            .clone()
            .expect("fine levels of the V-net have a post-smoother");
        x + sm_flat(r2, &split_taps(post, &lay), &lay) * mask.clone()
    }

    fn additive(
        &self,
        w: &StencilWeights<B>,
        geo: &GeometryBatch<B>,
        x0: Tensor<B, 5>,
    ) -> Tensor<B, 5> {
        let n = geo.shapes.len();
        let mut xs = vec![x0];
        for l in 0..n - 1 {
            let t = w.levels[l].mix.clone().narrow(1, 1, 1);
            let next = restrict_linear(xs[l].clone(), geo.shapes[l]) * t;
            xs.push(next);
        }
        let mut z: Option<Tensor<B, 5>> = None;
        for l in (0..n).rev() {
            let lw = &w.levels[l];
            let s2 = lw.mix.clone().narrow(1, 0, 1);
            let v = match &lw.pre {
                Some(k) => {
                    let lay = FlatLayout::new(geo.shapes[l], xs[l].dims()[0]);
                    let wf = split_taps(k.clone(), &lay);
                    let u = sm_flat(xs[l].clone(), &wf, &lay);
                    sm_flat_t(u, &wf, &lay) * s2
                }
                None => self.coarse_solve(geo, xs[l].clone()) * s2,
            };
            z = Some(match z {
                None => v,
                Some(zc) => {
                    let t = lw.mix.clone().narrow(1, 1, 1);
                    v + upsample_linear(zc, geo.shapes[l + 1]) * t
                }
            });
        }
        z.expect("at least one level")
    }

    /// `weights` then `apply`.
    pub fn forward(&self, geo: &GeometryBatch<B>, r: Tensor<B, 5>) -> Tensor<B, 5> {
        let w = self.weights(geo);
        self.apply(&w, geo, r)
    }
}
