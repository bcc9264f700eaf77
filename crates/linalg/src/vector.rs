//! Parallel BLAS-1 kernels on `f64` slices.
//!
//! Every kernel is memory-bandwidth bound: its cost is stated as the number of *vector passes*
//! (one pass = reading or writing `8 n` bytes). Fused kernels exist so that the Krylov loops
//! make as few passes as possible (CG needs 10 per iteration with a fused mat-vec).
//!
//! Work is split into fixed chunks of [`CHUNK`] entries processed by rayon; reductions sum the
//! per-chunk partial results in chunk order, so results are bitwise reproducible whatever the
//! number of threads. Below [`PAR_MIN`] entries everything runs on the calling thread.
//!
//! Slice lengths are preconditions (checked by `assert_eq!`): callers (the solvers) validate
//! user input once, up front, and return typed errors.

use rayon::prelude::*;

/// Entries per parallel work item (256 KiB of `f64`, a good fit for L2).
pub const CHUNK: usize = 1 << 15;
/// Below this length kernels run serially (thread hand-off costs more than the work).
pub const PAR_MIN: usize = 1 << 16;

#[inline]
fn reduce<F>(n: usize, f: F) -> f64
where
    F: Fn(std::ops::Range<usize>) -> f64 + Sync,
{
    if n < PAR_MIN {
        return f(0..n);
    }
    let parts: Vec<f64> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| f(c * CHUNK..((c + 1) * CHUNK).min(n)))
        .collect();
    parts.iter().sum()
}

/// Dot product with four independent accumulators (vectorizes, and is more accurate than a
/// single running sum).
#[inline]
fn dot_serial(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let xc = x.chunks_exact(4);
    let yc = y.chunks_exact(4);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for k in 0..4 {
            acc[k] += a[k] * b[k];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
}

/// `xᵀ y`. Cost: 2 passes.
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "dot: length mismatch");
    reduce(x.len(), |r| dot_serial(&x[r.clone()], &y[r]))
}

/// `‖x‖₂`, free of overflow and underflow: when `Σ xᵢ²` leaves the range where it is exact
/// to rounding (below 1e-280 or above 1e280, e.g. `x` scaled by 1e±150), the sum is redone on
/// `x` scaled by a power of two near `1/‖x‖∞`, as LAPACK's `dnrm2` does. Cost: 1 pass (3 in
/// that case).
pub fn norm2(x: &[f64]) -> f64 {
    let s = dot(x, x);
    if (1e-280..=1e280).contains(&s) || s == 0.0 && norm_inf(x) == 0.0 {
        return s.sqrt();
    }
    let m = norm_inf(x);
    if !(m.is_finite() && m > 0.0) {
        return if s.is_nan() { s } else { m };
    }
    let scale = pow2_near_inverse(m);
    let ss = reduce(x.len(), |r| {
        x[r].iter().map(|&v| (v * scale) * (v * scale)).sum::<f64>()
    });
    ss.sqrt() / scale
}

/// A power of two `2^k` with `2^k · m ∈ [0.5, 2)` for finite `m > 0` (scaling by it is exact
/// for normal numbers).
pub fn pow2_near_inverse(m: f64) -> f64 {
    let k = (-m.log2().round()).clamp(-1022.0, 1023.0) as i32;
    2f64.powi(k)
}

/// `‖x‖∞`. Cost: 1 pass.
pub fn norm_inf(x: &[f64]) -> f64 {
    if x.len() < PAR_MIN {
        return x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    }
    x.par_chunks(CHUNK)
        .map(|c| c.iter().fold(0.0f64, |m, v| m.max(v.abs())))
        .reduce(|| 0.0, f64::max)
}

/// Applies `f` to matching chunks of one mutable and up to two read-only slices, in parallel.
#[inline]
fn zip_mut<F>(y: &mut [f64], a: &[f64], b: &[f64], f: F)
where
    F: Fn(&mut [f64], &[f64], &[f64]) + Sync,
{
    if y.len() < PAR_MIN {
        return f(y, a, b);
    }
    let pa = a.len() == y.len();
    let pb = b.len() == y.len();
    y.par_chunks_mut(CHUNK).enumerate().for_each(|(c, yc)| {
        let r = c * CHUNK..c * CHUNK + yc.len();
        let ac = if pa { &a[r.clone()] } else { a };
        let bc = if pb { &b[r] } else { b };
        f(yc, ac, bc)
    });
}

/// `y ← y + a x`. Cost: 3 passes.
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    assert_eq!(x.len(), y.len(), "axpy: length mismatch");
    zip_mut(y, x, &[], |y, x, _| {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi += a * xi;
        }
    });
}

/// `y ← x + b y`. Cost: 3 passes.
pub fn xpby(x: &[f64], b: f64, y: &mut [f64]) {
    assert_eq!(x.len(), y.len(), "xpby: length mismatch");
    zip_mut(y, x, &[], |y, x, _| {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi = xi + b * *yi;
        }
    });
}

/// `y ← a x`. Cost: 2 passes.
pub fn scale_into(a: f64, x: &[f64], y: &mut [f64]) {
    assert_eq!(x.len(), y.len(), "scale_into: length mismatch");
    zip_mut(y, x, &[], |y, x, _| {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi = a * xi;
        }
    });
}

/// `x ← a x`. Cost: 2 passes.
pub fn scale(a: f64, x: &mut [f64]) {
    zip_mut(x, &[], &[], |x, _, _| x.iter_mut().for_each(|v| *v *= a));
}

/// `y ← x`. Cost: 2 passes.
pub fn copy(x: &[f64], y: &mut [f64]) {
    assert_eq!(x.len(), y.len(), "copy: length mismatch");
    zip_mut(y, x, &[], |y, x, _| y.copy_from_slice(x));
}

/// `x ← v` for every entry. Cost: 1 pass.
pub fn fill(x: &mut [f64], v: f64) {
    zip_mut(x, &[], &[], |x, _, _| x.fill(v));
}

/// `z ← x − y`. Cost: 3 passes.
pub fn sub_into(x: &[f64], y: &[f64], z: &mut [f64]) {
    assert_eq!(x.len(), z.len(), "sub_into: length mismatch");
    assert_eq!(y.len(), z.len(), "sub_into: length mismatch");
    zip_mut(z, x, y, |z, x, y| {
        for ((zi, xi), yi) in z.iter_mut().zip(x).zip(y) {
            *zi = xi - yi;
        }
    });
}

/// `y ← b − y`. Cost: 3 passes.
pub fn sub_from(b: &[f64], y: &mut [f64]) {
    assert_eq!(b.len(), y.len(), "sub_from: length mismatch");
    zip_mut(y, b, &[], |y, b, _| {
        for (yi, bi) in y.iter_mut().zip(b) {
            *yi = bi - *yi;
        }
    });
}

/// `y ← y + a x` and returns `yᵀ y` of the updated `y` (the CG residual update fused with its
/// norm). Cost: 3 passes instead of 4.
pub fn axpy_norm2sq(a: f64, x: &[f64], y: &mut [f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "axpy_norm2sq: length mismatch");
    let n = y.len();
    let body = |y: &mut [f64], x: &[f64]| {
        let mut acc = [0.0f64; 4];
        let mut yc = y.chunks_exact_mut(4);
        let mut xc = x.chunks_exact(4);
        for (yy, xx) in (&mut yc).zip(&mut xc) {
            for k in 0..4 {
                yy[k] += a * xx[k];
                acc[k] += yy[k] * yy[k];
            }
        }
        let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (yi, xi) in yc.into_remainder().iter_mut().zip(xc.remainder()) {
            *yi += a * xi;
            s += *yi * *yi;
        }
        s
    };
    if n < PAR_MIN {
        return body(y, x);
    }
    let parts: Vec<f64> = y
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .map(|(yc, xc)| body(yc, xc))
        .collect();
    parts.iter().sum()
}

/// The fused end of a CG step: `x ← x + α p` then `p ← r + β p`. Cost: 5 passes instead of 6.
pub fn cg_update_xp(alpha: f64, beta: f64, r: &[f64], x: &mut [f64], p: &mut [f64]) {
    assert_eq!(r.len(), x.len(), "cg_update_xp: length mismatch");
    assert_eq!(p.len(), x.len(), "cg_update_xp: length mismatch");
    let body = |x: &mut [f64], p: &mut [f64], r: &[f64]| {
        for ((xi, pi), ri) in x.iter_mut().zip(p.iter_mut()).zip(r) {
            *xi += alpha * *pi;
            *pi = ri + beta * *pi;
        }
    };
    if x.len() < PAR_MIN {
        return body(x, p, r);
    }
    x.par_chunks_mut(CHUNK)
        .zip(p.par_chunks_mut(CHUNK))
        .zip(r.par_chunks(CHUNK))
        .for_each(|((xc, pc), rc)| body(xc, pc, rc));
}

/// `n` fixed pseudo-random values in `[-0.5, 0.5)` (xorshift64 from a constant seed): a
/// reproducible vector with components along every eigenvector, for Lanczos start vectors and
/// manufactured solutions, without a random-number dependency. Cost: one pass.
///
/// ```
/// let v = ritz_linalg::vector::pseudo_random(4);
/// assert_eq!(v, ritz_linalg::vector::pseudo_random(4));
/// assert!(v.iter().all(|x| (-0.5..0.5).contains(x)));
/// ```
pub fn pseudo_random(n: usize) -> Vec<f64> {
    let mut s = 0x9E37_79B9_7F4A_7C15_u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

/// Index of the first NaN or infinite entry, if any. Cost: 1 pass.
pub fn first_non_finite(x: &[f64]) -> Option<usize> {
    x.iter().position(|v| !v.is_finite())
}

/// STREAM-style triad `a ← b + s c`, the reference for the memory-bandwidth floor; returns the
/// measured bandwidth in bytes per second (24 bytes per entry: two reads and one write), best of
/// `reps` repetitions. `n` should exceed the last-level cache several times (e.g. 2²⁴).
pub fn triad_bandwidth(n: usize, reps: usize) -> f64 {
    let b = vec![1.0f64; n];
    let c = vec![2.0f64; n];
    let mut a = vec![0.0f64; n];
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = std::time::Instant::now();
        zip_mut(&mut a, &b, &c, |a, b, c| {
            for ((ai, bi), ci) in a.iter_mut().zip(b).zip(c) {
                *ai = bi + 3.0 * ci;
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&mut a);
    }
    24.0 * n as f64 / best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: usize, s: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64) * s).sin()).collect()
    }

    #[test]
    fn kernels_match_serial_formulas() {
        for &n in &[0usize, 7, 1000, PAR_MIN + 123] {
            let x = v(n, 0.3);
            let y = v(n, 0.7);
            let d: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
            assert!((dot(&x, &y) - d).abs() <= 1e-9 * (1.0 + d.abs()));
            let mut y2 = y.clone();
            let s = axpy_norm2sq(-0.5, &x, &mut y2);
            let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| b - 0.5 * a).collect();
            assert_eq!(y2, want);
            let s2: f64 = want.iter().map(|a| a * a).sum();
            assert!((s - s2).abs() <= 1e-9 * (1.0 + s2));
            let (mut xx, mut pp) = (x.clone(), y.clone());
            cg_update_xp(2.0, 0.25, &x, &mut xx, &mut pp);
            for i in 0..n {
                assert_eq!(xx[i], x[i] + 2.0 * y[i]);
                assert_eq!(pp[i], x[i] + 0.25 * y[i]);
            }
            let mut z = vec![0.0; n];
            sub_into(&x, &y, &mut z);
            assert!(
                z.iter()
                    .zip(x.iter().zip(&y))
                    .all(|(z, (a, b))| *z == a - b)
            );
        }
    }

    #[test]
    fn reductions_are_deterministic() {
        let x = v(3 * PAR_MIN + 5, 0.11);
        let a = dot(&x, &x);
        for _ in 0..5 {
            assert_eq!(dot(&x, &x).to_bits(), a.to_bits());
        }
    }
}
