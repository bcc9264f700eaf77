//! The DCDM network (Kaneda et al., ICML 2023): a residual CNN mapping a normalized residual to
//! a search direction, approximating `A⁻¹` up to scale.
//!
//! Input one channel (the residual on the full grid, zeros outside fluid), no geometry channel.
//! All convolutions have 16 channels and 3×3×3 kernels (3×3 in 2D) with zero "same" padding;
//! the first is linear, the rest ReLU. Residual pairs `a = σ(c₂(σ(c₁ a))) + a`. Layout: linear
//! conv → `pre` full-resolution pairs → 2× average pool → `mid` half-resolution pairs → 2×
//! nearest upsample + skip from before the pool → `post` pairs → pointwise linear conv to one
//! channel. [`DcdmLayout::Small`] (the paper's 64-model) uses 2/3/2 pairs, 97,457 parameters
//! in 3D; [`DcdmLayout::Large`] (the 128-model) 3/5/3 pairs, 152,881 parameters.
//!
//! Cost per application: ≈ 61k (Small) or 92k (Large) multiply-adds per voxel in 3D.
//!
//! Two options change what surrounds the network, not the network (both off by default, which
//! is the paper's method; `cargo xtask train --model dcdm` turns both on, `--paper` off):
//!
//! - [`DcdmNetConfig::jacobi_skip`]: the direction is `f(r) + D⁻¹r`, with `D` the diagonal of
//!   `A`. With a net trained the paper's way, the iteration stagnates because the residuals
//!   it produces drift to localized, checkerboard-like patterns near walls and obstacles, on
//!   which `f(r)` is nearly orthogonal to `r`, so the A-norm progress of a step collapses and
//!   the residual stalls (figures in docs/neural.md). Those patterns are exactly what a Jacobi step handles; with
//!   the path in the training graph the network learns the correction to it, and the
//!   iteration no longer stagnates.
//! - [`DcdmNetConfig::rms_input`]: the input is scaled to root-mean-square 1 over the fluid
//!   cells instead of 2-norm 1. A ReLU network with biases is not scale-equivariant, and the
//!   paper's unit 2-norm makes per-cell amplitudes shrink with the grid (by 2× per doubling
//!   in 2D, 2.8× in 3D), so a net trained at 64² sees inputs at 256² that it never saw.
//!   Iteration counts with and without the options are in docs/neural.md.

use crate::error::NeuralError;
use crate::geometry::GridShape;
use crate::ops::{avg_pool, upsample_nearest};
use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig3d;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::tensor::{Tensor, activation::relu, backend::Backend};
use serde::{Deserialize, Serialize};

/// The two layouts of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DcdmLayout {
    /// The 64³ model: 2 / 3 / 2 residual pairs.
    Small,
    /// The 128³ model: 3 / 5 / 3 residual pairs.
    Large,
}

impl DcdmLayout {
    /// Residual pairs before the pool, at half resolution, and after the upsampling.
    pub fn pairs(&self) -> [usize; 3] {
        match self {
            DcdmLayout::Small => [2, 3, 2],
            DcdmLayout::Large => [3, 5, 3],
        }
    }
}

/// Configuration of [`DcdmNet`].
#[derive(Config, Debug)]
pub struct DcdmNetConfig {
    /// Spatial dimension, 2 or 3.
    pub dim: usize,
    /// Layout of the residual pairs.
    #[config(default = "DcdmLayout::Small")]
    pub layout: DcdmLayout,
    /// Channels of every hidden convolution.
    #[config(default = 16)]
    pub channels: usize,
    /// Add a Jacobi path: the direction is `f(r) + D⁻¹r` (see the module docs); `false` is
    /// the paper's `f(r)`.
    #[config(default = false)]
    pub jacobi_skip: bool,
    /// Scale each input to root-mean-square 1 over the fluid cells instead of 2-norm 1, so
    /// that the network sees the same amplitudes on every grid size (see the module docs);
    /// `false` is the paper's unit 2-norm.
    #[config(default = false)]
    pub rms_input: bool,
}

/// Two ReLU convolutions with an identity skip.
#[derive(Module, Debug)]
pub struct ResidualPair<B: Backend> {
    first: Conv3d<B>,
    second: Conv3d<B>,
}

impl<B: Backend> ResidualPair<B> {
    fn forward(&self, a: Tensor<B, 5>) -> Tensor<B, 5> {
        let h = relu(self.first.forward(a.clone()));
        relu(self.second.forward(h)) + a
    }
}

/// The DCDM convolutional network (see the module docs).
#[derive(Module, Debug)]
pub struct DcdmNet<B: Backend> {
    input: Conv3d<B>,
    pre: Vec<ResidualPair<B>>,
    mid: Vec<ResidualPair<B>>,
    post: Vec<ResidualPair<B>>,
    output: Conv3d<B>,
    dim: usize,
    jacobi_skip: bool,
    rms_input: bool,
}

impl DcdmNetConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), NeuralError> {
        if self.dim != 2 && self.dim != 3 {
            return Err(NeuralError::Config(format!(
                "dim must be 2 or 3, got {}",
                self.dim
            )));
        }
        if self.channels == 0 || self.channels > 1024 {
            return Err(NeuralError::Config(format!(
                "channels must be in 1..=1024, got {}",
                self.channels
            )));
        }
        Ok(())
    }

    fn conv(&self, cin: usize, cout: usize, full: bool) -> Conv3dConfig {
        let (k, p) = match (full, self.dim) {
            (false, _) => ([1, 1, 1], PaddingConfig3d::Valid),
            (true, 3) => ([3, 3, 3], PaddingConfig3d::Explicit(1, 1, 1)),
            (true, _) => ([1, 3, 3], PaddingConfig3d::Explicit(0, 1, 1)),
        };
        Conv3dConfig::new([cin, cout], k).with_padding(p)
    }

    /// Builds the network with Kaiming-uniform weights (burn's default), seeded by the backend.
    ///
    /// Errors: an invalid configuration.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<DcdmNet<B>, NeuralError> {
        self.validate()?;
        let c = self.channels;
        let pair = || ResidualPair {
            first: self.conv(c, c, true).init(device),
            second: self.conv(c, c, true).init(device),
        };
        let [a, b, d] = self.layout.pairs();
        let net = DcdmNet {
            input: self.conv(1, c, true).init(device),
            pre: (0..a).map(|_| pair()).collect(),
            mid: (0..b).map(|_| pair()).collect(),
            post: (0..d).map(|_| pair()).collect(),
            output: self.conv(c, 1, false).init(device),
            dim: self.dim,
            jacobi_skip: self.jacobi_skip,
            rms_input: self.rms_input,
        };
        // Materialize the lazily initialized parameters now (see `params_finite`).
        crate::model::params_finite(&net);
        Ok(net)
    }
}

impl<B: Backend> DcdmNet<B> {
    /// Spatial dimension of the model.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether directions are `f(r) + D⁻¹r` ([`DcdmNetConfig::jacobi_skip`]).
    pub fn has_jacobi_skip(&self) -> bool {
        self.jacobi_skip
    }

    /// Whether inputs are scaled to RMS 1 over the fluid cells ([`DcdmNetConfig::rms_input`]).
    pub fn has_rms_input(&self) -> bool {
        self.rms_input
    }

    /// Multiply-adds of one forward per grid cell: the convolutions' `k·c_in·c_out` per
    /// output cell (`k` = 27 in 3D, 9 in 2D), the half-resolution pairs at `2^-d` of the cells
    /// (3D Small: 60,928). Pooling, upsampling and activations are not counted.
    pub fn macs_per_cell(&self) -> f64 {
        let [c_out, c_in, kd, kh, kw] = self.input.weight.dims();
        let k = (kd * kh * kw) as f64;
        let c = c_out as f64;
        let pair = 2.0 * k * c * c;
        let full = (self.pre.len() + self.post.len()) as f64 * pair;
        let half = self.mid.len() as f64 * pair / f64::from(1u32 << self.dim);
        k * c_in as f64 * c + full + half + c
    }

    /// Checks that a grid fits the network: the right dimension and even pooled sides.
    pub fn check_shape(&self, s: GridShape) -> Result<(), NeuralError> {
        if s.dim != self.dim {
            return Err(NeuralError::Dimension {
                model: self.dim,
                grid: s.dim,
            });
        }
        crate::geometry::plan_levels(s, 2, 1).map(|_| ())
    }

    /// `[B, 1, D, H, W]` residuals → `[B, 1, D, H, W]` directions (not masked; callers mask).
    /// The pooled sides must be even ([`DcdmNet::check_shape`]).
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let s = GridShape {
            dim: self.dim,
            dhw: [0, 0, 0],
        };
        let mut a = self.input.forward(x);
        for p in &self.pre {
            a = p.forward(a);
        }
        let skip = a.clone();
        let mut h = avg_pool(a, s);
        for p in &self.mid {
            h = p.forward(h);
        }
        let mut a = upsample_nearest(h, s) + skip;
        for p in &self.post {
            a = p.forward(a);
        }
        self.output.forward(a)
    }
}
