//! M-FAC (Frantar, Kurtic & Alistarh, NeurIPS 2021): inverse-Hessian-vector products with the
//! empirical Fisher `F = λI + (1/m) Σᵢ gᵢgᵢᵀ` of `m` gradients, without forming `F`.
//!
//! * [`StaticMfac`]: the recursive Sherman–Morrison form for a fixed set of gradients (pruning):
//!   `vᵢ = F_{i−1}⁻¹ gᵢ = λ⁻¹gᵢ − Σ_{j<i} (vⱼᵀgᵢ / dⱼ) vⱼ`, `dⱼ = m + gⱼᵀvⱼ`. Setup `O(dm²)`;
//!   `F⁻¹x = λ⁻¹x − Σᵢ (vᵢᵀx / dᵢ) vᵢ` in `O(dm)`; `diag(F⁻¹) = λ⁻¹ − Σᵢ vᵢ²/dᵢ`.
//! * [`DynamicMfac`]: a sliding window of the last `m` gradients (optimization), by Woodbury:
//!   `F⁻¹x = λ⁻¹x − λ⁻² Gᵀ (cI + λ⁻¹GGᵀ)⁻¹ G x` for the `c ≤ m` stored gradients. It keeps `G`
//!   (`m × d`) and the Gram matrix `GGᵀ`: a product costs `O(dm + m²)` (two passes over `G`, its
//!   memory-bandwidth floor), adding a gradient `O(dm + m³)` (one pass, a Cholesky of `m × m`).
//! * [`MfacOptimizer`]: `g += wd·θ; push g; u = F⁻¹g; v = μv + u; θ −= lr·v`.
//!
//! All `O(dm)` work is rayon-parallel (rows for `Gx`, column blocks for `Gᵀz`).

use crate::error::{SecondOrderError, check_finite, check_len};
use faer::linalg::solvers::Solve;
use rayon::prelude::*;

/// Columns per work item of `Gᵀz` (64 KiB of output, kept in L2 while all rows stream by).
const COL_BLOCK: usize = 8192;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut ac = a.chunks_exact(4);
    let mut bc = b.chunks_exact(4);
    for (x, y) in (&mut ac).zip(&mut bc) {
        for k in 0..4 {
            acc[k] = x[k].mul_add(y[k], acc[k]);
        }
    }
    for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
        acc[0] = x.mul_add(*y, acc[0]);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// `y_i = rows_i · x` for the rows of a row-major `k × d` matrix, parallel over rows.
fn rows_dot(rows: &[f64], d: usize, x: &[f64], y: &mut [f64]) {
    y.par_iter_mut()
        .enumerate()
        .for_each(|(i, yi)| *yi = dot(&rows[i * d..(i + 1) * d], x));
}

/// `out = a·x + Σ_i c_i rows_i`, parallel over column blocks (each block streams all rows).
fn combine(rows: &[f64], d: usize, c: &[f64], a: f64, x: &[f64], out: &mut [f64]) {
    out.par_chunks_mut(COL_BLOCK)
        .enumerate()
        .for_each(|(b, blk)| {
            let c0 = b * COL_BLOCK;
            for (o, xv) in blk.iter_mut().zip(&x[c0..]) {
                *o = a * xv;
            }
            for (i, &ci) in c.iter().enumerate() {
                if ci == 0.0 {
                    continue;
                }
                let row = &rows[i * d + c0..i * d + c0 + blk.len()];
                for (o, r) in blk.iter_mut().zip(row) {
                    *o = ci.mul_add(*r, *o);
                }
            }
        });
}

fn check_damping(lambda: f64) -> Result<(), SecondOrderError> {
    if lambda > 0.0 && lambda.is_finite() {
        Ok(())
    } else {
        Err(SecondOrderError::InvalidParameter(format!(
            "damping λ must be positive, got {lambda}"
        )))
    }
}

/// M-FAC for a fixed set of `m` gradients (recursive Sherman–Morrison).
#[derive(Debug, Clone)]
pub struct StaticMfac {
    d: usize,
    lambda: f64,
    /// `vᵢ = F_{i−1}⁻¹ gᵢ`, `m × d` row-major.
    v: Vec<f64>,
    /// `dᵢ = m + gᵢᵀvᵢ`.
    denom: Vec<f64>,
}

impl StaticMfac {
    /// From `m` gradients (`grads` is `m × d`, row-major) and damping `λ > 0`.
    /// Cost: `O(dm²)` time, `md` memory. Errors: ragged or non-finite gradients, bad `λ`.
    ///
    /// ```
    /// use ritz_second_order::StaticMfac;
    /// // Two gradients in d = 3: off their span the inverse is 1/λ.
    /// let m = StaticMfac::new(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 3, 0.5)?;
    /// let mut out = vec![0.0; 3];
    /// m.ihvp(&[0.0, 0.0, 1.0], &mut out)?;
    /// assert_eq!(out, vec![0.0, 0.0, 2.0]);
    /// # Ok::<(), ritz_second_order::SecondOrderError>(())
    /// ```
    pub fn new(grads: &[f64], d: usize, lambda: f64) -> Result<Self, SecondOrderError> {
        check_damping(lambda)?;
        if d == 0 || grads.is_empty() || !grads.len().is_multiple_of(d) {
            return Err(SecondOrderError::Linalg(ritz_linalg::LinalgError::Shape {
                what: "gradients (m × d)",
                expected: grads.len().div_ceil(d.max(1)) * d.max(1),
                found: grads.len(),
            }));
        }
        check_finite("gradients", grads)?;
        let m = grads.len() / d;
        let mut v = vec![0.0; m * d];
        let mut denom = vec![0.0; m];
        let mut coef = vec![0.0; m];
        for i in 0..m {
            let gi = &grads[i * d..(i + 1) * d];
            rows_dot(&v[..i * d], d, gi, &mut coef[..i]);
            for j in 0..i {
                coef[j] = -coef[j] / denom[j];
            }
            let (done, rest) = v.split_at_mut(i * d);
            combine(done, d, &coef[..i], 1.0 / lambda, gi, &mut rest[..d]);
            denom[i] = m as f64 + dot(gi, &rest[..d]);
        }
        Ok(Self {
            d,
            lambda,
            v,
            denom,
        })
    }

    /// `out = F⁻¹ x`. Cost: `O(dm)` (two passes over the stored vectors).
    pub fn ihvp(&self, x: &[f64], out: &mut [f64]) -> Result<(), SecondOrderError> {
        check_len("vector x", self.d, x.len())?;
        check_len("output", self.d, out.len())?;
        let m = self.denom.len();
        let mut c = vec![0.0; m];
        rows_dot(&self.v, self.d, x, &mut c);
        for (ci, di) in c.iter_mut().zip(&self.denom) {
            *ci = -*ci / di;
        }
        combine(&self.v, self.d, &c, 1.0 / self.lambda, x, out);
        Ok(())
    }

    /// `diag(F⁻¹)` (OBS pruning saliencies use it). Cost: `O(dm)`.
    pub fn inverse_diagonal(&self) -> Vec<f64> {
        let mut out = vec![1.0 / self.lambda; self.d];
        for (i, di) in self.denom.iter().enumerate() {
            for (o, vi) in out.iter_mut().zip(&self.v[i * self.d..(i + 1) * self.d]) {
                *o -= vi * vi / di;
            }
        }
        out
    }
}

/// M-FAC over a sliding window of the last `m` gradients (Woodbury form).
pub struct DynamicMfac {
    d: usize,
    m: usize,
    lambda: f64,
    /// Ring buffer of gradients, `m × d`.
    g: Vec<f64>,
    /// Gram matrix `GGᵀ` of the stored rows, `m × m`.
    gram: Vec<f64>,
    count: usize,
    next: usize,
    /// Cholesky factor of `cI + λ⁻¹GGᵀ` over the stored rows.
    llt: Option<faer::linalg::solvers::Llt<f64>>,
}

/// Errors with `OutOfMemory` (as [`SecondOrderError::Linalg`]) unless a window of `m`
/// gradients of dimension `d` (`8md` bytes, plus the `m × m` Gram matrix) fits in the memory
/// available now. Call it before generating the gradients.
pub fn check_window_memory(d: usize, m: usize) -> Result<(), SecondOrderError> {
    let bytes = ritz_linalg::mem::product(&[m, d.saturating_add(m), 8]);
    ritz_linalg::mem::check(
        || format!("an M-FAC window of {m} gradients of dimension {d}"),
        bytes,
    )?;
    Ok(())
}

impl DynamicMfac {
    /// An empty window of `m` gradients of dimension `d` with damping `λ`. Memory `8md` bytes.
    /// Errors: zero sizes, bad `λ`, a window beyond the available memory
    /// ([`check_window_memory`]).
    pub fn new(d: usize, m: usize, lambda: f64) -> Result<Self, SecondOrderError> {
        check_damping(lambda)?;
        if d == 0 || m == 0 {
            return Err(SecondOrderError::InvalidParameter(
                "M-FAC needs d ≥ 1 and m ≥ 1".into(),
            ));
        }
        check_window_memory(d, m)?;
        Ok(Self {
            d,
            m,
            lambda,
            g: vec![0.0; m * d],
            gram: vec![0.0; m * m],
            count: 0,
            next: 0,
            llt: None,
        })
    }

    /// A full window from `m` gradients at once (`grads` is `m × d`, row-major; the oldest
    /// first). The Gram matrix is one parallel GEMM (faer), `O(m²d)`, instead of `m` pushes.
    /// Errors: as [`DynamicMfac::new`] and [`DynamicMfac::push`].
    pub fn from_gradients(
        d: usize,
        lambda: f64,
        grads: Vec<f64>,
    ) -> Result<Self, SecondOrderError> {
        if d == 0 || grads.is_empty() || !grads.len().is_multiple_of(d) {
            return Err(SecondOrderError::Linalg(ritz_linalg::LinalgError::Shape {
                what: "gradients (m × d)",
                expected: grads.len().div_ceil(d.max(1)) * d.max(1),
                found: grads.len(),
            }));
        }
        check_finite("gradients", &grads)?;
        let m = grads.len() / d;
        let mut s = Self::new(d, m, lambda)?;
        let g = faer::MatRef::from_row_major_slice(&grads, m, d);
        let mut gram = faer::Mat::<f64>::zeros(m, m);
        faer::linalg::matmul::matmul(
            gram.as_mut(),
            faer::Accum::Replace,
            g,
            g.transpose(),
            1.0,
            faer::Par::rayon(0),
        );
        for i in 0..m {
            for j in 0..m {
                s.gram[i * m + j] = 0.5 * (gram[(i, j)] + gram[(j, i)]);
            }
        }
        s.g = grads;
        s.count = m;
        s.next = 0;
        s.refactor()?;
        Ok(s)
    }

    /// Cholesky of `cI + λ⁻¹GGᵀ` over the stored rows.
    fn refactor(&mut self) -> Result<(), SecondOrderError> {
        let (c, m) = (self.count, self.m);
        let inv = 1.0 / self.lambda;
        let mat = faer::Mat::from_fn(c, c, |i, j| {
            inv * self.gram[i * m + j] + if i == j { c as f64 } else { 0.0 }
        });
        self.llt = Some(
            mat.llt(faer::Side::Lower)
                .map_err(|e| SecondOrderError::Cholesky(format!("M-FAC window: {e:?}")))?,
        );
        Ok(())
    }

    /// Gradients stored (≤ m).
    pub fn len(&self) -> usize {
        self.count
    }
    /// True before the first gradient.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Dimension `d`.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Adds a gradient, replacing the oldest once `m` are stored. Cost: one pass over `G`
    /// (`O(dm)`) and an `m × m` Cholesky (`O(m³)`). Errors: wrong length, NaN/∞, a factorization
    /// failure (cannot happen for finite input: the matrix is `cI + PSD`).
    pub fn push(&mut self, grad: &[f64]) -> Result<(), SecondOrderError> {
        check_len("gradient", self.d, grad.len())?;
        check_finite("gradient", grad)?;
        let (d, m, k) = (self.d, self.m, self.next);
        self.g[k * d..(k + 1) * d].copy_from_slice(grad);
        self.count = (self.count + 1).min(m);
        let c = self.count;
        let mut col = vec![0.0; c];
        rows_dot(&self.g[..c * d], d, grad, &mut col);
        for (i, v) in col.iter().enumerate() {
            self.gram[k * m + i] = *v;
            self.gram[i * m + k] = *v;
        }
        self.next = (k + 1) % m;
        self.refactor()
    }

    /// `out = F⁻¹ x` (`λ⁻¹x` while empty). Cost: two passes over the stored gradients
    /// (`16·c·d` bytes) plus `O(c²)`.
    pub fn ihvp(&self, x: &[f64], out: &mut [f64]) -> Result<(), SecondOrderError> {
        check_len("vector x", self.d, x.len())?;
        check_len("output", self.d, out.len())?;
        let c = self.count;
        let inv = 1.0 / self.lambda;
        let Some(llt) = &self.llt else {
            out.iter_mut().zip(x).for_each(|(o, v)| *o = inv * v);
            return Ok(());
        };
        let mut y = vec![0.0; c];
        rows_dot(&self.g[..c * self.d], self.d, x, &mut y);
        let mut z = faer::Mat::from_fn(c, 1, |i, _| y[i]);
        llt.solve_in_place(&mut z);
        let coef: Vec<f64> = (0..c).map(|i| -inv * inv * z[(i, 0)]).collect();
        combine(&self.g[..c * self.d], self.d, &coef, inv, x, out);
        Ok(())
    }

    /// Bytes one [`DynamicMfac::ihvp`] must read at least: the stored gradients twice.
    pub fn ihvp_bytes(&self) -> f64 {
        16.0 * (self.count * self.d) as f64
    }
}

/// Parameters of [`MfacOptimizer`] (the reference implementation's defaults, except `m`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MfacParams {
    /// Window size `m`.
    pub window: usize,
    /// Damping `λ`.
    pub damping: f64,
    /// Learning rate.
    pub lr: f64,
    /// Momentum `μ` (0 disables it).
    pub momentum: f64,
    /// Weight decay added to the gradient.
    pub weight_decay: f64,
}

impl Default for MfacParams {
    fn default() -> Self {
        Self {
            window: 512,
            damping: 1e-5,
            lr: 1e-3,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// The M-FAC optimizer over a flat parameter vector.
pub struct MfacOptimizer {
    params: MfacParams,
    mfac: DynamicMfac,
    velocity: Vec<f64>,
    step: Vec<f64>,
}

impl MfacOptimizer {
    /// For `d` parameters. Errors: as [`DynamicMfac::new`], a negative learning rate or momentum.
    pub fn new(d: usize, params: MfacParams) -> Result<Self, SecondOrderError> {
        let lr_ok = params.lr >= 0.0 && params.lr.is_finite();
        let ok = lr_ok && (0.0..1.0).contains(&params.momentum) && params.weight_decay.is_finite();
        if !ok {
            return Err(SecondOrderError::InvalidParameter(format!(
                "M-FAC needs lr ≥ 0, momentum in [0, 1), finite weight decay: {params:?}"
            )));
        }
        Ok(Self {
            mfac: DynamicMfac::new(d, params.window, params.damping)?,
            params,
            velocity: vec![0.0; d],
            step: vec![0.0; d],
        })
    }

    /// One step: `θ ← θ − lr·(μv + F⁻¹(g + wd·θ))`. Errors: wrong lengths, NaN/∞ gradient.
    pub fn step(&mut self, theta: &mut [f64], grad: &[f64]) -> Result<(), SecondOrderError> {
        check_len("parameters", self.mfac.dim(), theta.len())?;
        let g: Vec<f64> = grad
            .iter()
            .zip(theta.iter())
            .map(|(g, t)| g + self.params.weight_decay * t)
            .collect();
        self.mfac.push(&g)?;
        self.mfac.ihvp(&g, &mut self.step)?;
        for ((t, v), u) in theta.iter_mut().zip(&mut self.velocity).zip(&self.step) {
            *v = self.params.momentum * *v + u;
            *t -= self.params.lr * *v;
        }
        Ok(())
    }
}
