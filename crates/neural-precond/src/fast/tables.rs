//! Stencil tables: the padded layout of a level and, per padded cell, an index into a table
//! of stencil rows — one shared row per uniform 3×3×3 image window (all fluid, all solid, all
//! air), one row per interface cell — with their application and transpose.

use super::weights::ConvParams;
use crate::geometry::GridShape;
use crate::ops::tap_offsets;
use rayon::prelude::*;

/// A level's stencil: per padded cell an index into `table` (rows of `taps` weights).
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) taps: usize,
    pub(super) index: Vec<u32>,
    pub(super) table: Vec<f32>,
}

/// Padded-layout geometry of one level.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) shape: GridShape,
    pub(super) padded: [usize; 3],
    pub(super) pads: [usize; 3],
    /// Flat offsets of the taps in the padded layout.
    pub(super) offsets: Vec<isize>,
}

impl Layout {
    pub(super) fn new(shape: GridShape) -> Self {
        let padded = shape.padded();
        let offsets = tap_offsets(shape.dim)
            .iter()
            .map(|o| (o[0] * padded[1] as isize + o[1]) * padded[2] as isize + o[2])
            .collect();
        Self {
            shape,
            padded,
            pads: shape.pads(),
            offsets,
        }
    }
    pub(super) fn len(&self) -> usize {
        self.padded.iter().product()
    }
    /// Padded flat index of the first interior cell of row `(z, y)` (unpadded coordinates).
    pub(super) fn row(&self, z: usize, y: usize) -> usize {
        ((z + self.pads[0]) * self.padded[1] + y + self.pads[1]) * self.padded[2] + self.pads[2]
    }
    /// Calls `f(row_slice, z, y)` for every interior row of `out` in parallel; the slice is
    /// the whole padded row (length `padded[2]`), interior starting at `pads[2]`.
    pub(super) fn par_rows<T: Send>(
        &self,
        out: &mut [T],
        f: impl Fn(&mut [T], usize, usize) + Sync,
    ) {
        let [_, ph, pw] = self.padded;
        let [d, h, _] = self.shape.dhw;
        let p = self.pads;
        out.par_chunks_mut(pw).enumerate().for_each(|(r, row)| {
            let (zp, yp) = (r / ph, r % ph);
            if zp < p[0] || zp >= d + p[0] || yp < p[1] || yp >= h + p[1] {
                return;
            }
            f(row, zp - p[0], yp - p[1]);
        });
    }
}

/// The image values of the three uniform windows: all fluid, all solid, all air.
pub(super) const UNIFORM: [[f32; 3]; 3] = [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]];

impl Field {
    /// Evaluates the image convolution `p` on every cell of the level.
    pub(super) fn build(lay: &Layout, img: &[f32], p: &ConvParams) -> Self {
        let taps = lay.offsets.len();
        let np = lay.len();
        let conv_at = |pi: usize, row: &mut [f32]| {
            for (o, r) in row.iter_mut().enumerate() {
                let mut s = p.b[o];
                for c in 0..3 {
                    let wrow = &p.w[(o * 3 + c) * taps..(o * 3 + c + 1) * taps];
                    let ch = &img[c * np..(c + 1) * np];
                    for (k, &off) in lay.offsets.iter().enumerate() {
                        s += wrow[k] * ch[(pi as isize + off) as usize];
                    }
                }
                *r = s;
            }
        };
        // Rows for the uniform windows.
        let mut table = vec![0.0f32; UNIFORM.len() * taps];
        for (u, vals) in UNIFORM.iter().enumerate() {
            for o in 0..p.out {
                let mut s = p.b[o];
                for c in 0..3 {
                    s += vals[c]
                        * p.w[(o * 3 + c) * taps..(o * 3 + c + 1) * taps]
                            .iter()
                            .sum::<f32>();
                }
                table[u * taps + o] = s;
            }
        }
        // Classify every interior cell.
        let uniform_of = |pi: usize| -> Option<u32> {
            let v = [img[pi], img[np + pi], img[2 * np + pi]];
            let u = UNIFORM.iter().position(|x| *x == v)?;
            let all = lay.offsets.iter().all(|&off| {
                let q = (pi as isize + off) as usize;
                img[q] == v[0] && img[np + q] == v[1] && img[2 * np + q] == v[2]
            });
            all.then_some(u as u32)
        };
        let mut index = vec![0u32; np];
        let special = u32::MAX;
        lay.par_rows(&mut index, |row, z, y| {
            let base = lay.row(z, y);
            let x0 = lay.pads[2];
            for x in 0..lay.shape.dhw[2] {
                row[x0 + x] = uniform_of(base + x).unwrap_or(special);
            }
        });
        let specials: Vec<usize> = index
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == special)
            .map(|(i, _)| i)
            .collect();
        let mut extra = vec![0.0f32; specials.len() * taps];
        extra
            .par_chunks_mut(taps)
            .zip(specials.par_iter())
            .for_each(|(row, &pi)| conv_at(pi, row));
        let base = UNIFORM.len() as u32;
        for (k, &pi) in specials.iter().enumerate() {
            index[pi] = base + k as u32;
        }
        table.extend_from_slice(&extra);
        Self {
            taps: p.out,
            index,
            table,
        }
    }

    /// `out(i) = Σ_t K_t(i) x(i + o_t)` on interior cells.
    pub(super) fn apply(&self, lay: &Layout, x: &[f32], out: &mut [f32]) {
        let taps = self.taps;
        let w0 = &self.table[..taps];
        lay.par_rows(out, |row, z, y| {
            let base = lay.row(z, y);
            let x0 = lay.pads[2];
            let w = lay.shape.dhw[2];
            let mut i = 0;
            while i < w {
                let pi = base + i;
                if self.index[pi] == 0 {
                    let mut e = i + 1;
                    while e < w && self.index[base + e] == 0 {
                        e += 1;
                    }
                    let dst = &mut row[x0 + i..x0 + e];
                    dst.fill(0.0);
                    for (t, &off) in lay.offsets.iter().enumerate() {
                        let s = (pi as isize + off) as usize;
                        let wt = w0[t];
                        for (o, v) in dst.iter_mut().zip(&x[s..s + (e - i)]) {
                            *o += wt * v;
                        }
                    }
                    i = e;
                } else {
                    let k = self.index[pi] as usize;
                    let wr = &self.table[k * taps..(k + 1) * taps];
                    let mut s = 0.0;
                    for (t, &off) in lay.offsets.iter().enumerate() {
                        s += wr[t] * x[(pi as isize + off) as usize];
                    }
                    row[x0 + i] = s;
                    i += 1;
                }
            }
        });
    }

    /// The transpose: `out(j) = Σ_t K_t(j − o_t) x(j − o_t)` on interior cells.
    pub(super) fn apply_t(&self, lay: &Layout, x: &[f32], out: &mut [f32]) {
        let taps = self.taps;
        lay.par_rows(out, |row, z, y| {
            let base = lay.row(z, y);
            let x0 = lay.pads[2];
            for i in 0..lay.shape.dhw[2] {
                let pj = base + i;
                let mut s = 0.0;
                for (t, &off) in lay.offsets.iter().enumerate() {
                    let q = (pj as isize - off) as usize;
                    let k = self.index[q] as usize;
                    s += self.table[k * taps + t] * x[q];
                }
                row[x0 + i] = s;
            }
        });
    }
}
