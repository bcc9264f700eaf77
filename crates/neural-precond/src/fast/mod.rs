//! Plain-Rust f32 inference for the stencil nets ([`crate::StencilNet`]), the path used in
//! solves. burn remains the training path; this one is checked against burn's forward to
//! 1e-5 relative in the tests.
//!
//! Setup (once per geometry): the image pyramid, the level scalars (means of the mixing
//! convolution, from separable window sums), and every level's stencil table. A cell whose
//! 3×3×3 image window is uniform (all fluid, all solid or all air) shares one precomputed
//! stencil; only cells near an interface get their own row, so the table is small and an
//! application streams one `u32` index per cell instead of 27 weights.
//!
//! Application: signals live in padded arrays (a zero halo of one cell), runs of all-fluid
//! cells are processed tap by tap as contiguous `axpy`s (vectorized), other cells by a scalar
//! gather; z-planes (rows in 2D) run in parallel with rayon. Cost per application ≈ 2 × 27
//! (V-net) or 2 × 27 (SPD, block and transpose) multiply-adds per fine cell plus 1/7 more
//! for the coarse levels; memory ≈ 20 bytes per cell.
//!
//! Files: `weights` (parameters out of burn, level scalars), `tables` (padded layout,
//! stencil tables); this file holds the hierarchy and the V-cycle.

mod tables;
mod weights;

use crate::error::NeuralError;
use crate::geometry::Geometry;
use crate::ops::LINEAR_TAPS;
use crate::stencil::StencilNet;
use burn::tensor::backend::Backend;
use rayon::prelude::*;
use std::sync::Mutex;
use tables::{Field, Layout};
use weights::{conv_mean, conv_params};

#[derive(Debug)]
struct FastLevel {
    lay: Layout,
    /// Pre-smoothing (V-net) or the block `K` (SPD); absent on the coarsest level.
    pre: Option<Field>,
    post: Option<Field>,
    /// `[c, 0]` (V-net) or `[s², t]` (SPD).
    mix: [f32; 2],
    /// Fluid mask and operator diagonal, padded layout.
    mask: Vec<f32>,
    diag: Vec<f32>,
}

/// Scratch signals of one level (padded).
#[derive(Debug)]
struct Buffers {
    x: Vec<f32>,
    y: Vec<f32>,
    z: Vec<f32>,
}

/// A stencil net prepared for one geometry: cached stencils, scratch buffers, f32 application.
#[derive(Debug)]
pub struct FastStencil {
    levels: Vec<FastLevel>,
    symmetric: bool,
    mask: Vec<f32>,
    /// The exact coarsest-level solve.
    coarse: CoarseSolve,
    scratch: Mutex<Vec<Buffers>>,
}

/// Coarsest levels up to this many cells are solved with a dense pseudo-inverse (a
/// mat-vec of `cells²` flops); larger ones — grids of extreme aspect ratio, whose short side
/// stops the coarsening early (a 2 × 8192 grid's coarsest level is a 1 × 4096 line) — with a
/// sparse Cholesky factorization, linear in the cells for such thin grids.
const DENSE_COARSEST: usize = 512;

/// The exact solve on the coarsest level: `A_L⁺ x`.
enum CoarseSolve {
    /// Pseudo-inverse, row-major.
    Dense(Vec<f32>),
    /// Sparse Cholesky of the level's operator.
    Sparse(Box<ritz_pde::poisson::GridCholesky>),
    /// No fluid cell on the level.
    Zero,
}

impl std::fmt::Debug for CoarseSolve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dense(inv) => write!(f, "Dense({} entries)", inv.len()),
            Self::Sparse(c) => c.fmt(f),
            Self::Zero => f.write_str("Zero"),
        }
    }
}

impl CoarseSolve {
    fn new(level: &crate::geometry::LevelGeometry) -> Result<Self, NeuralError> {
        if level.shape.cells() <= DENSE_COARSEST {
            return Ok(Self::Dense(level.pseudo_inverse()?));
        }
        let problem = match ritz_pde::PoissonProblem::new(level.grid.clone()) {
            Ok(p) => p,
            Err(ritz_pde::PdeError::NoFluid) => return Ok(Self::Zero),
            Err(e) => return Err(e.into()),
        };
        Ok(Self::Sparse(Box::new(
            ritz_pde::poisson::GridCholesky::new(&problem)?,
        )))
    }
}

fn to_padded(lay: &Layout, v: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; lay.len()];
    let [_, h, w] = lay.shape.dhw;
    lay.par_rows(&mut out, |row, z, y| {
        let src = &v[(z * h + y) * w..(z * h + y + 1) * w];
        row[lay.pads[2]..lay.pads[2] + w].copy_from_slice(src);
    });
    out
}

impl FastStencil {
    /// Prepares `net` for `geo`: the level hierarchy, the stencil tables (interface cells
    /// only) and the coarsest pseudo-inverse.
    ///
    /// Errors: wrong dimension or grid size, non-f32 or non-finite parameters, coarsest-solve
    /// failures.
    pub fn new<B: Backend>(net: &StencilNet<B>, geo: &Geometry) -> Result<Self, NeuralError> {
        let shapes = net.plan(geo.shape)?;
        let hier = geo.levels(&shapes)?;
        let n = shapes.len();
        let mut levels = Vec::with_capacity(n);
        for (l, lg) in hier.iter().enumerate() {
            let lay = Layout::new(lg.shape);
            let p = net.level_params(l);
            let coarsest = l + 1 == n;
            let pre = if coarsest {
                None
            } else {
                Some(Field::build(&lay, &lg.image, &conv_params(&p.pre)?))
            };
            let post = match (&p.post, coarsest) {
                (Some(c), false) => Some(Field::build(&lay, &lg.image, &conv_params(c)?)),
                _ => None,
            };
            let m = conv_mean(&lay, &lg.image, &conv_params(&p.mix)?);
            let mix = if net.is_symmetric() {
                [m[0] * m[0], m[1]]
            } else {
                [m[0], 0.0]
            };
            levels.push(FastLevel {
                mask: to_padded(&lay, &lg.mask),
                diag: to_padded(&lay, &lg.diag),
                lay,
                pre,
                post,
                mix,
            });
        }
        let coarse = CoarseSolve::new(hier.last().expect("a plan has a level"))?;
        let scratch = levels
            .iter()
            .map(|l| Buffers {
                x: vec![0.0; l.lay.len()],
                y: vec![0.0; l.lay.len()],
                z: vec![0.0; l.lay.len()],
            })
            .collect();
        Ok(Self {
            levels,
            symmetric: net.is_symmetric(),
            mask: geo.mask.clone(),
            coarse,
            scratch: Mutex::new(scratch),
        })
    }

    /// Number of grid cells (the length of `r` and `z`).
    pub fn cells(&self) -> usize {
        self.mask.len()
    }
    /// True for the SPD variant.
    pub fn is_symmetric(&self) -> bool {
        self.symmetric
    }
    /// Number of levels used on this grid.
    pub fn depth(&self) -> usize {
        self.levels.len()
    }
    /// Rows of the stencil tables (shared uniform rows plus interface cells), a measure of
    /// the setup's size.
    pub fn table_rows(&self) -> usize {
        self.levels
            .iter()
            .flat_map(|l| [&l.pre, &l.post])
            .flatten()
            .map(|f| f.table.len() / f.taps)
            .sum()
    }

    /// `z = f(r)` in grid layout (zero outside fluid), with `r` scaled by `scale` on the way in
    /// and `1/scale` on the way out (the map is linear, so this only guards the f32 range).
    ///
    /// Errors: wrong lengths.
    pub fn apply_f64(&self, r: &[f64], z: &mut [f64], scale: f64) -> Result<(), NeuralError> {
        let n = self.cells();
        crate::error::check_io_len(n, r.len(), z.len())?;
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let bufs = &mut *guard;
        let lay0 = &self.levels[0].lay;
        let w = lay0.shape.dhw[2];
        let mask = &self.mask;
        lay0.par_rows(&mut bufs[0].x, |row, zz, y| {
            let c0 = (zz * lay0.shape.dhw[1] + y) * w;
            for i in 0..w {
                row[lay0.pads[2] + i] = (r[c0 + i] * scale) as f32 * mask[c0 + i];
            }
        });
        if self.symmetric {
            self.additive(bufs);
        } else {
            self.vcycle(bufs, 0);
        }
        let inv = 1.0 / scale;
        let out_buf = &bufs[0].z;
        z.par_chunks_mut(w).enumerate().for_each(|(rr, zr)| {
            let (zz, y) = (rr / lay0.shape.dhw[1], rr % lay0.shape.dhw[1]);
            let base = lay0.row(zz, y);
            for i in 0..w {
                zr[i] = (out_buf[base + i] * mask[rr * w + i]) as f64 * inv;
            }
        });
        Ok(())
    }

    /// `z = f(r)` in f32, grid layout. Errors: wrong lengths.
    pub fn apply_f32(&self, r: &[f32], z: &mut [f32]) -> Result<(), NeuralError> {
        let r64: Vec<f64> = r.iter().map(|&v| v as f64).collect();
        let mut z64 = vec![0.0; z.len()];
        self.apply_f64(&r64, &mut z64, 1.0)?;
        for (a, b) in z.iter_mut().zip(&z64) {
            *a = *b as f32;
        }
        Ok(())
    }

    /// Dense coarsest solve: `out = A_L⁺ x` (interior cells of the padded layouts).
    fn coarse_solve(&self, x: &[f32], out: &mut [f32]) {
        let lv = self.levels.last().expect("levels");
        let lay = &lv.lay;
        let nc = lay.shape.cells();
        let [d, h, w] = lay.shape.dhw;
        let mut xc = Vec::with_capacity(nc);
        for z in 0..d {
            for y in 0..h {
                let b = lay.row(z, y);
                xc.extend_from_slice(&x[b..b + w]);
            }
        }
        match &self.coarse {
            CoarseSolve::Dense(inv) => lay.par_rows(out, |row, z, y| {
                for i in 0..w {
                    let c = (z * h + y) * w + i;
                    let r = &inv[c * nc..(c + 1) * nc];
                    row[lay.pads[2] + i] = r.iter().zip(&xc).map(|(a, b)| a * b).sum::<f32>();
                }
            }),
            CoarseSolve::Sparse(chol) => {
                let cells = chol.fluid_cells();
                let b: Vec<f64> = cells.iter().map(|&c| xc[c as usize] as f64).collect();
                // Only NaN input fails; NaN then reaches the Krylov iteration, which reports it.
                let x = chol.solve(&b).unwrap_or_else(|_| vec![f64::NAN; b.len()]);
                let mut zg = vec![0.0f64; nc];
                for (&c, &v) in cells.iter().zip(&x) {
                    zg[c as usize] = v;
                }
                lay.par_rows(out, |row, z, y| {
                    let c = (z * h + y) * w;
                    for (o, v) in row[lay.pads[2]..lay.pads[2] + w]
                        .iter_mut()
                        .zip(&zg[c..c + w])
                    {
                        *o = *v as f32;
                    }
                });
            }
            CoarseSolve::Zero => lay.par_rows(out, |row, _, _| {
                row[lay.pads[2]..lay.pads[2] + w].fill(0.0);
            }),
        }
    }

    /// The V-cycle on level `l`: input residual in `bufs[l].x`, result in `bufs[l].z`.
    fn vcycle(&self, bufs: &mut [Buffers], l: usize) {
        let n = self.levels.len();
        let lv = &self.levels[l];
        let lay = &lv.lay;
        if l + 1 == n {
            let (x, z) = (std::mem::take(&mut bufs[l].x), &mut bufs[l].z);
            self.coarse_solve(&x, z);
            bufs[l].x = x;
            mask_interior(lay, &mut bufs[l].z, &lv.mask);
            return;
        }
        {
            let b = &mut bufs[l];
            // z = K_pre r (masked); y = r − A z.
            lv.pre.as_ref().expect("pre").apply(lay, &b.x, &mut b.z);
            mask_interior(lay, &mut b.z, &lv.mask);
            residual(lay, &lv.mask, &lv.diag, &b.x, &b.z, &mut b.y);
        }
        {
            let (fine, coarse) = bufs.split_at_mut(l + 1);
            let cl = &self.levels[l + 1];
            pool(lay, &fine[l].y, &cl.lay, &mut coarse[0].x);
            mask_interior(&cl.lay, &mut coarse[0].x, &cl.mask);
        }
        self.vcycle(bufs, l + 1);
        let (fine, coarse) = bufs.split_at_mut(l + 1);
        let b = &mut fine[l];
        // z += c · P e (masked), into y as scratch first.
        upsample(&self.levels[l + 1].lay, &coarse[0].z, lay, &mut b.y);
        let c = lv.mix[0];
        {
            let (y, mask) = (&b.y, &lv.mask);
            lay.par_rows(&mut b.z, |row, zz, yy| {
                let base = lay.row(zz, yy);
                let x0 = lay.pads[2];
                for i in 0..lay.shape.dhw[2] {
                    row[x0 + i] += c * y[base + i] * mask[base + i];
                }
            });
        }
        // y = r − A z; z += K_post y (masked).
        residual(lay, &lv.mask, &lv.diag, &b.x, &b.z, &mut b.y);
        let post = lv.post.as_ref().expect("post");
        {
            // The level's residual input (x) is no longer needed: reuse it as scratch.
            let (y, mask) = (&b.y, &lv.mask);
            let mut tmp = std::mem::take(&mut b.x);
            post.apply(lay, y, &mut tmp);
            lay.par_rows(&mut b.z, |row, zz, yy| {
                let base = lay.row(zz, yy);
                let x0 = lay.pads[2];
                for i in 0..lay.shape.dhw[2] {
                    row[x0 + i] += tmp[base + i] * mask[base + i];
                }
            });
            b.x = tmp;
        }
    }

    /// The SPD additive map: input in `bufs[0].x`, result in `bufs[0].z`.
    fn additive(&self, bufs: &mut [Buffers]) {
        let n = self.levels.len();
        for l in 0..n - 1 {
            let (fine, coarse) = bufs.split_at_mut(l + 1);
            let lc = &self.levels[l + 1].lay;
            restrict(&self.levels[l].lay, &fine[l].x, lc, &mut coarse[0].x);
            scale_interior(lc, &mut coarse[0].x, self.levels[l].mix[1]);
        }
        for l in (0..n).rev() {
            let lv = &self.levels[l];
            let [s2, t] = lv.mix;
            {
                let b = &mut bufs[l];
                match &lv.pre {
                    Some(k) => {
                        k.apply(&lv.lay, &b.x, &mut b.y);
                        k.apply_t(&lv.lay, &b.y, &mut b.z);
                    }
                    None => {
                        let x = std::mem::take(&mut b.x);
                        self.coarse_solve(&x, &mut b.z);
                        b.x = x;
                    }
                }
            }
            if l + 1 < n {
                let (fine, coarse) = bufs.split_at_mut(l + 1);
                upsample(
                    &self.levels[l + 1].lay,
                    &coarse[0].z,
                    &lv.lay,
                    &mut fine[l].x,
                );
                let b = &mut fine[l];
                lv.lay.par_rows(&mut b.z, |row, zz, y| {
                    let base = lv.lay.row(zz, y);
                    let x0 = lv.lay.pads[2];
                    for i in 0..lv.lay.shape.dhw[2] {
                        row[x0 + i] = s2 * row[x0 + i] + t * b.x[base + i];
                    }
                });
            } else {
                scale_interior(&lv.lay, &mut bufs[l].z, s2);
            }
        }
    }
}

fn mask_interior(lay: &Layout, v: &mut [f32], mask: &[f32]) {
    lay.par_rows(v, |row, z, y| {
        let base = lay.row(z, y);
        let x0 = lay.pads[2];
        for i in 0..lay.shape.dhw[2] {
            row[x0 + i] *= mask[base + i];
        }
    });
}

/// `out = r − A x` on interior cells, with `A x = m ⊙ (d ⊙ x − Σ_faces (m ⊙ x)(nbr))`.
fn residual(lay: &Layout, mask: &[f32], diag: &[f32], r: &[f32], x: &[f32], out: &mut [f32]) {
    let [_, ph, pw] = lay.padded;
    let mut faces: Vec<usize> = vec![1, pw];
    if lay.shape.dim == 3 {
        faces.push(ph * pw);
    }
    lay.par_rows(out, |row, z, y| {
        let base = lay.row(z, y);
        let x0 = lay.pads[2];
        for i in 0..lay.shape.dhw[2] {
            let c = base + i;
            let mut nb = 0.0;
            for &f in &faces {
                nb += mask[c - f] * x[c - f] + mask[c + f] * x[c + f];
            }
            let ax = mask[c] * (diag[c] * mask[c] * x[c] - nb);
            row[x0 + i] = r[c] - ax;
        }
    });
}

fn scale_interior(lay: &Layout, v: &mut [f32], s: f32) {
    lay.par_rows(v, |row, _, _| {
        let x0 = lay.pads[2];
        for e in &mut row[x0..x0 + lay.shape.dhw[2]] {
            *e *= s;
        }
    });
}

/// 2× average pooling, fine → coarse (padded layouts).
fn pool(fine: &Layout, x: &[f32], coarse: &Layout, out: &mut [f32]) {
    let f = fine.shape.factors();
    let inv = 1.0 / (f[0] * f[1] * f[2]) as f32;
    coarse.par_rows(out, |row, z, y| {
        let x0 = coarse.pads[2];
        for i in 0..coarse.shape.dhw[2] {
            let mut s = 0.0;
            for dz in 0..f[0] {
                for dy in 0..2 {
                    let b = fine.row(z * f[0] + dz, 2 * y + dy) + 2 * i;
                    s += x[b] + x[b + 1];
                }
            }
            row[x0 + i] = s * inv;
        }
    });
}

/// Full-weighting restriction (adjoint of [`upsample`]), fine → coarse (padded layouts).
fn restrict(fine: &Layout, x: &[f32], coarse: &Layout, out: &mut [f32]) {
    let three = fine.shape.dim == 3;
    let [_, fph, fpw] = fine.padded;
    coarse.par_rows(out, |row, z, y| {
        let x0 = coarse.pads[2];
        for i in 0..coarse.shape.dhw[2] {
            let mut s = 0.0;
            let zr: &[(usize, f32)] = &if three {
                [
                    (0, LINEAR_TAPS[0]),
                    (1, LINEAR_TAPS[1]),
                    (2, LINEAR_TAPS[2]),
                    (3, LINEAR_TAPS[3]),
                ]
            } else {
                [(0, 1.0), (0, 0.0), (0, 0.0), (0, 0.0)]
            };
            for &(a, wa) in zr {
                if wa == 0.0 {
                    continue;
                }
                // Padded fine coordinate of 2m + a − 1 is 2m + a (3D); 2D keeps z.
                let zp = if three { 2 * z + a } else { z };
                for (b, wb) in LINEAR_TAPS.iter().enumerate() {
                    let yp = 2 * y + b;
                    let r = (zp * fph + yp) * fpw + 2 * i;
                    let mut t = 0.0;
                    for (c, wc) in LINEAR_TAPS.iter().enumerate() {
                        t += wc * x[r + c];
                    }
                    s += wa * wb * t;
                }
            }
            row[x0 + i] = s;
        }
    });
}

/// Trilinear 2× upsampling, coarse → fine (padded layouts; zero beyond the grid).
fn upsample(coarse: &Layout, x: &[f32], fine: &Layout, out: &mut [f32]) {
    let three = fine.shape.dim == 3;
    // Per fine coordinate f = 2m + e: taps (coarse padded coordinate, weight).
    let axis = |f: usize, pad: usize| -> [(usize, f32); 2] {
        let (m, e) = (f / 2, f % 2);
        let c = m + pad;
        if e == 0 {
            [(c, 0.75), (c - 1, 0.25)]
        } else {
            [(c, 0.75), (c + 1, 0.25)]
        }
    };
    let [_, cph, cpw] = coarse.padded;
    fine.par_rows(out, |row, z, y| {
        let x0 = fine.pads[2];
        let zs: [(usize, f32); 2] = if three {
            axis(z, 1)
        } else {
            [(z, 1.0), (z, 0.0)]
        };
        let ys = axis(y, 1);
        for i in 0..fine.shape.dhw[2] {
            let xs = axis(i, 1);
            let mut s = 0.0;
            for &(zc, wz) in &zs {
                if wz == 0.0 {
                    continue;
                }
                for &(yc, wy) in &ys {
                    let r = (zc * cph + yc) * cpw;
                    s += wz * wy * (xs[0].1 * x[r + xs[0].0] + xs[1].1 * x[r + xs[1].0]);
                }
            }
            row[x0 + i] = s;
        }
    });
}
