//! Fixed (parameter-free) grid operators in burn, all on `[batch, channels, D, H, W]` tensors
//! and all differentiable: the spatially varying stencil ("SM block") and its transpose, 2×
//! average pooling, nearest and trilinear 2× upsampling, full-weighting restriction (the exact
//! adjoint of trilinear upsampling), and the masked 7-point (5-point in 2D) Poisson operator.
//!
//! Each is a convolution with a small constant kernel or a reshape, so they run on every burn
//! backend and autodiff differentiates through them. 2D grids are `D = 1` tensors with
//! kernels of extent 1 along `D` (see [`GridShape`]).

use crate::geometry::GridShape;
use burn::tensor::module::{conv_transpose3d, conv3d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tensor, TensorData, backend::Backend};

/// 1-D weights of trilinear 2× upsampling with half-cell offsets (`align_corners = false`).
pub const LINEAR_TAPS: [f32; 4] = [0.25, 0.75, 0.75, 0.25];

/// Offsets `(dz, dy, dx)` of the stencil taps, in channel order: 27 in 3D, 9 in 2D.
pub fn tap_offsets(dim: usize) -> Vec<[isize; 3]> {
    let zr: &[isize] = if dim == 3 { &[-1, 0, 1] } else { &[0] };
    let mut v = Vec::new();
    for &dz in zr {
        for dy in -1..=1 {
            for dx in -1..=1 {
                v.push([dz, dy, dx]);
            }
        }
    }
    v
}

fn tensor5<B: Backend>(data: Vec<f32>, shape: [usize; 5], device: &B::Device) -> Tensor<B, 5> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// Zero padding by one cell on the padded axes of `s` (all three in 3D, `H` and `W` in 2D).
pub fn pad_zero<B: Backend>(x: Tensor<B, 5>, s: GridShape) -> Tensor<B, 5> {
    let p = s.pads();
    let mut x = x;
    for (a, &pa) in p.iter().enumerate() {
        if pa == 0 {
            continue;
        }
        let mut dims = x.dims();
        dims[2 + a] = 1;
        let z = Tensor::<B, 5>::zeros(dims, &x.device());
        x = Tensor::cat(vec![z.clone(), x, z], 2 + a);
    }
    x
}

/// A batch of `B` signals on one level, zero-padded and flattened to `[1, B·L]` (`L` padded
/// cells per signal): a shift by a tap offset is then a contiguous range, which CPU backends
/// multiply and add at memory speed (strided slices and broadcasts are several times slower).
/// Outputs are computed on the range `[s0, B·L − s0)` (`s0` = the largest offset); values that
/// land on halo cells are dropped when unflattening.
#[derive(Debug, Clone)]
pub struct FlatLayout {
    s: GridShape,
    batch: usize,
    len: usize,
    s0: usize,
    offsets: Vec<isize>,
}

impl FlatLayout {
    /// The layout of `batch` signals on grid `s`.
    pub fn new(s: GridShape, batch: usize) -> Self {
        let [pd, ph, pw] = s.padded();
        let _ = pd;
        let offsets: Vec<isize> = tap_offsets(s.dim)
            .iter()
            .map(|o| (o[0] * ph as isize + o[1]) * pw as isize + o[2])
            .collect();
        let s0 = offsets.iter().map(|o| o.unsigned_abs()).max().unwrap_or(0);
        Self {
            s,
            batch,
            len: s.padded().iter().product(),
            s0,
            offsets,
        }
    }
    fn total(&self) -> usize {
        self.batch * self.len
    }
    fn span(&self) -> usize {
        self.total() - 2 * self.s0
    }
    /// `[B, 1, D, H, W]` → padded, flattened `[1, B·L]`.
    fn flatten<B: Backend>(&self, x: Tensor<B, 5>) -> Tensor<B, 2> {
        let b = x.dims()[0];
        pad_zero(x, self.s).reshape([1, b * self.len])
    }
    /// A `[1, span]` result on the output range → `[B, 1, D, H, W]`.
    fn unflatten<B: Backend>(&self, y: Tensor<B, 2>) -> Tensor<B, 5> {
        let z = Tensor::<B, 2>::zeros([1, self.s0], &y.device());
        let [pd, ph, pw] = self.s.padded();
        let full: Tensor<B, 5> =
            Tensor::cat(vec![z.clone(), y, z], 1).reshape([self.batch, 1, pd, ph, pw]);
        let p = self.s.pads();
        let [d, h, w] = self.s.dhw;
        full.slice([
            0..self.batch,
            0..1,
            p[0]..p[0] + d,
            p[1]..p[1] + h,
            p[2]..p[2] + w,
        ])
    }
    fn window<B: Backend>(&self, xf: &Tensor<B, 2>, row: usize, shift: isize) -> Tensor<B, 2> {
        let a = (self.s0 as isize + shift) as usize;
        xf.clone().slice([row..row + 1, a..a + self.span()])
    }
}

/// One stencil tap's weights `[1 or B, 1, D, H, W]` in the flat layout of `lay`, repeated
/// over the batch when given once: `[1, B·L]`. Taps are kept as separate tensors so the
/// backward pass never scatters into a `taps`-times larger buffer.
pub fn flat_weights<B: Backend>(w: Tensor<B, 5>, lay: &FlatLayout) -> Tensor<B, 2> {
    let wb = w.dims()[0];
    let wf = lay.flatten(w);
    if wb == lay.batch {
        wf
    } else {
        Tensor::cat(vec![wf; lay.batch], 1)
    }
}

/// Spatially varying stencil: `y(i) = Σ_p w_p(i) x(i + p)` (zero beyond the grid), with one
/// weight tensor per tap from [`flat_weights`]. Shapes: `x [B, 1, D, H, W]` → the same.
/// Cost: `taps` contiguous multiply-adds over the batch.
pub fn sm_flat<B: Backend>(x: Tensor<B, 5>, wf: &[Tensor<B, 2>], lay: &FlatLayout) -> Tensor<B, 5> {
    let xf = lay.flatten(x);
    let mut y: Option<Tensor<B, 2>> = None;
    for (t, &off) in lay.offsets.iter().enumerate() {
        let term = lay.window(&xf, 0, off) * lay.window(&wf[t], 0, 0);
        y = Some(match y {
            None => term,
            Some(acc) => acc + term,
        });
    }
    lay.unflatten(y.expect("at least one tap"))
}

/// The transpose of [`sm_flat`] in the signal: `y(j) = Σ_p w_p(j − p) x(j − p)`.
pub fn sm_flat_t<B: Backend>(
    x: Tensor<B, 5>,
    wf: &[Tensor<B, 2>],
    lay: &FlatLayout,
) -> Tensor<B, 5> {
    let xf = lay.flatten(x);
    let mut y: Option<Tensor<B, 2>> = None;
    for (t, &off) in lay.offsets.iter().enumerate() {
        let term = lay.window(&xf, 0, -off) * lay.window(&wf[t], 0, -off);
        y = Some(match y {
            None => term,
            Some(acc) => acc + term,
        });
    }
    lay.unflatten(y.expect("at least one tap"))
}

/// Splits stencil weights `[1 or B, taps, D, H, W]` into per-tap flat tensors (see
/// [`flat_weights`]).
pub fn split_taps<B: Backend>(w: Tensor<B, 5>, lay: &FlatLayout) -> Vec<Tensor<B, 2>> {
    let t = w.dims()[1];
    (0..t)
        .map(|k| flat_weights(w.clone().narrow(1, k, 1), lay))
        .collect()
}

fn level_shape<B: Backend>(x: &Tensor<B, 5>, dim: usize) -> GridShape {
    let [_, _, d, h, w] = x.dims();
    GridShape {
        dim,
        dhw: [d, h, w],
    }
}

/// Spatially varying stencil `y(i) = Σ_p w_p(i) x(i + p)` in one call.
/// Shapes: `x [B, 1, D, H, W]`, `w [B or 1, taps, D, H, W]` → `[B, 1, D, H, W]` (one
/// stencil field can serve a batch of signals on the same geometry).
pub fn sm_block<B: Backend>(x: Tensor<B, 5>, w: Tensor<B, 5>, s: GridShape) -> Tensor<B, 5> {
    let lay = FlatLayout::new(level_shape(&x, s.dim), x.dims()[0]);
    let wf = split_taps(w, &lay);
    sm_flat(x, &wf, &lay)
}

/// The transpose of [`sm_block`] in the signal: `y(j) = Σ_p w_p(j − p) x(j − p)`.
pub fn sm_block_t<B: Backend>(x: Tensor<B, 5>, w: Tensor<B, 5>, s: GridShape) -> Tensor<B, 5> {
    let lay = FlatLayout::new(level_shape(&x, s.dim), x.dims()[0]);
    let wf = split_taps(w, &lay);
    sm_flat_t(x, &wf, &lay)
}

/// 2× average pooling of every channel: `[B, C, D, H, W]` → `[B, C, D/fd, H/2, W/2]`.
pub fn avg_pool<B: Backend>(x: Tensor<B, 5>, s: GridShape) -> Tensor<B, 5> {
    let [b, c, d, h, w] = x.dims();
    let f = s.factors();
    let y: Tensor<B, 8> = x.reshape([b, c, d / f[0], f[0], h / 2, 2, w / 2, 2]);
    let y = y.mean_dim(7).mean_dim(5).mean_dim(3);
    y.reshape([b, c, d / f[0], h / 2, w / 2])
}

/// Nearest-neighbour 2× upsampling of every channel (the shape inverse of [`avg_pool`]).
pub fn upsample_nearest<B: Backend>(x: Tensor<B, 5>, s: GridShape) -> Tensor<B, 5> {
    let [b, c, d, h, w] = x.dims();
    let f = s.factors();
    let y: Tensor<B, 8> = x.reshape([b, c, d, 1, h, 1, w, 1]);
    let y = y.expand([b, c, d, f[0], h, 2, w, 2]);
    y.reshape([b, c, d * f[0], h * 2, w * 2])
}

fn linear_kernel<B: Backend>(s: GridShape, device: &B::Device) -> (Tensor<B, 5>, [usize; 3]) {
    let kd = if s.dim == 3 { 4 } else { 1 };
    let zt: Vec<f32> = if s.dim == 3 {
        LINEAR_TAPS.to_vec()
    } else {
        vec![1.0]
    };
    let mut w = Vec::with_capacity(kd * 16);
    for &a in &zt {
        for b in LINEAR_TAPS {
            for c in LINEAR_TAPS {
                w.push(a * b * c);
            }
        }
    }
    let pad = if s.dim == 3 { [1, 1, 1] } else { [0, 1, 1] };
    (tensor5(w, [1, 1, kd, 4, 4], device), pad)
}

/// Trilinear (bilinear in 2D) 2× upsampling of a one-channel signal on the coarse grid `s`
/// (zero beyond the grid): `[B, 1, D, H, W]` → `[B, 1, fd·D, 2H, 2W]`.
pub fn upsample_linear<B: Backend>(x: Tensor<B, 5>, s: GridShape) -> Tensor<B, 5> {
    let (k, pad) = linear_kernel::<B>(s, &x.device());
    let opts = ConvTransposeOptions::new(s.factors(), pad, [0, 0, 0], [1, 1, 1], 1);
    conv_transpose3d(x, k, None, opts)
}

/// Full-weighting restriction, the exact adjoint of [`upsample_linear`]; `s` is the fine
/// grid: `[B, 1, D, H, W]` → `[B, 1, D/fd, H/2, W/2]`.
pub fn restrict_linear<B: Backend>(x: Tensor<B, 5>, s: GridShape) -> Tensor<B, 5> {
    let (k, pad) = linear_kernel::<B>(s, &x.device());
    conv3d(x, k, None, ConvOptions::new(s.factors(), pad, [1, 1, 1], 1))
}

/// The Poisson operator in grid layout: `A x = m ⊙ (d ⊙ x̃ − Σ_faces x̃(nbr))` with
/// `x̃ = m ⊙ x`, `m` the fluid mask and `d` the diagonal (number of non-solid faces).
/// Equals [`ritz_pde::PoissonProblem`]'s operator. Shapes: all `[B, 1, D, H, W]`.
pub fn laplacian<B: Backend>(
    x: Tensor<B, 5>,
    mask: Tensor<B, 5>,
    diag: Tensor<B, 5>,
    s: GridShape,
) -> Tensor<B, 5> {
    let s = level_shape(&x, s.dim);
    let xm = x * mask.clone();
    let lay = FlatLayout::new(s, xm.dims()[0]);
    let xf = lay.flatten(xm.clone());
    let [_, ph, pw] = s.padded();
    let mut faces: Vec<isize> = vec![-(pw as isize), pw as isize, -1, 1];
    if s.dim == 3 {
        faces.extend([-((ph * pw) as isize), (ph * pw) as isize]);
    }
    let mut nb: Option<Tensor<B, 2>> = None;
    for off in faces {
        let term = lay.window(&xf, 0, off);
        nb = Some(match nb {
            None => term,
            Some(acc) => acc + term,
        });
    }
    let nb = lay.unflatten(nb.expect("faces"));
    (diag * xm - nb) * mask
}

/// Per-sample inner products over all but the batch axis: `[B, 1, D, H, W]` × 2 → `[B]`.
pub fn batch_dot<B: Backend>(a: Tensor<B, 5>, b: Tensor<B, 5>) -> Tensor<B, 1> {
    let [n, ..] = a.dims();
    (a * b).reshape([n as i32, -1]).sum_dim(1).reshape([n])
}
