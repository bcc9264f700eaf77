//! Weight extraction: a stencil net's convolution parameters read out of the burn modules as
//! plain `f32` arrays (checked finite), and the level scalars — means of the mixing
//! convolution over a level — from separable window sums.

use super::tables::Layout;
use crate::error::NeuralError;
use crate::ops::tap_offsets;
use burn::nn::conv::Conv3d;
use burn::tensor::backend::Backend;

/// A convolution's parameters, `w[(o · 3 + c) · taps + k]`.
#[derive(Debug, Clone)]
pub(super) struct ConvParams {
    pub(super) out: usize,
    pub(super) w: Vec<f32>,
    pub(super) b: Vec<f32>,
}

pub(super) fn conv_params<B: Backend>(c: &Conv3d<B>) -> Result<ConvParams, NeuralError> {
    let bad = |what: &str| NeuralError::Config(format!("stencil net parameter {what} is not f32"));
    let w = c
        .weight
        .val()
        .into_data()
        .to_vec::<f32>()
        .map_err(|_| bad("weight"))?;
    let out = c.weight.val().dims()[0];
    let b = match &c.bias {
        Some(b) => b
            .val()
            .into_data()
            .to_vec::<f32>()
            .map_err(|_| bad("bias"))?,
        None => vec![0.0; out],
    };
    if w.iter().chain(&b).any(|v| !v.is_finite()) {
        return Err(NeuralError::NonFinite("stencil net parameters".into()));
    }
    Ok(ConvParams { out, w, b })
}

/// Mean over the level's cells of the image convolution `p` (the level scalars), from window
/// sums computed separably. Cost: O(padded cells).
pub(super) fn conv_mean(lay: &Layout, img: &[f32], p: &ConvParams) -> Vec<f32> {
    let np = lay.len();
    let [pd, ph, pw] = lay.padded;
    let [d, h, w] = lay.shape.dhw;
    let taps = tap_offsets(lay.shape.dim);
    // win[c][t]: sum of channel c over the cells shifted by tap t.
    let mut out = vec![0.0f64; p.out];
    for c in 0..3 {
        let ch = &img[c * np..(c + 1) * np];
        let mut sums = vec![0.0f64; taps.len()];
        for (t, o) in taps.iter().enumerate() {
            let z0 = (lay.pads[0] as isize + o[0]) as usize;
            let y0 = (lay.pads[1] as isize + o[1]) as usize;
            let xs = (lay.pads[2] as isize + o[2]) as usize;
            let mut s = 0.0f64;
            for z in z0..z0 + d {
                for y in y0..y0 + h {
                    let r = (z * ph + y) * pw;
                    s += ch[r + xs..r + xs + w]
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>();
                }
            }
            sums[t] = s;
            let _ = pd;
        }
        for (o, acc) in out.iter_mut().enumerate() {
            let wrow = &p.w[(o * 3 + c) * taps.len()..(o * 3 + c + 1) * taps.len()];
            *acc += wrow
                .iter()
                .zip(&sums)
                .map(|(&a, &b)| a as f64 * b)
                .sum::<f64>();
        }
    }
    let cells = (d * h * w) as f64;
    out.iter()
        .zip(&p.b)
        .map(|(s, &b)| (s / cells) as f32 + b)
        .collect()
}
