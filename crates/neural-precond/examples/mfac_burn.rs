//! Trains a burn MLP on the UCI digits with the M-FAC optimizer (ritz-second-order) next to
//! plain SGD, then estimates the trained network's top Hessian eigenvalues by Lanczos on the
//! finite-difference HVP of the burn adapter (`ritz_neural_precond::curvature`).
//!
//! ```text
//! cargo run --release -p ritz-neural-precond --example mfac_burn [lr 1e-2] [damping 1e-2]
//! ```

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::TensorData;
use ritz_linalg::LinearOperator;
use ritz_neural_precond::curvature::{
    TanhMlp, fd_hvp, flat_gradient, flat_params, set_flat_params,
};
use ritz_second_order::spectra::top_eigenvalues;
use ritz_second_order::{MfacOptimizer, MfacParams};
use std::sync::Mutex;

type B = Autodiff<Flex>;
type Dev = <B as burn::tensor::backend::BackendTypes>::Device;
const HIDDEN: usize = 32;
const CLASSES: usize = 10;

/// Mini-batch inputs and one-hot targets as tensors.
fn batch(
    x: &[f64],
    y: &[f64],
    rows: &[usize],
    d: usize,
    dev: &Dev,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let mut xs = Vec::with_capacity(rows.len() * d);
    let mut ys = vec![0.0f32; rows.len() * CLASSES];
    for (k, &i) in rows.iter().enumerate() {
        xs.extend(x[i * d..(i + 1) * d].iter().map(|&v| v as f32));
        ys[k * CLASSES + y[i] as usize] = 1.0;
    }
    (
        Tensor::from_data(TensorData::new(xs, [rows.len(), d]), dev),
        Tensor::from_data(TensorData::new(ys, [rows.len(), CLASSES]), dev),
    )
}

/// Loss and flat gradient at `theta` on a batch.
fn loss_grad(
    theta: &[f64],
    xb: &Tensor<B, 2>,
    yb: &Tensor<B, 2>,
    d: usize,
    dev: &Dev,
) -> (f64, Vec<f64>) {
    let m =
        set_flat_params(TanhMlp::<B>::new(d, HIDDEN, CLASSES, dev), theta).expect("length matches");
    let loss = m.loss(xb.clone(), yb.clone());
    let value = loss
        .clone()
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_or(f64::NAN, |v| v[0] as f64);
    let grads = loss.backward();
    (value, flat_gradient(&m, &grads))
}

fn accuracy(theta: &[f64], x: &[f64], y: &[f64], rows: &[usize], d: usize, dev: &Dev) -> f64 {
    let m =
        set_flat_params(TanhMlp::<B>::new(d, HIDDEN, CLASSES, dev), theta).expect("length matches");
    let (xb, _) = batch(x, y, rows, d, dev);
    let out = m
        .forward(xb)
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap_or_default();
    let correct = rows
        .iter()
        .enumerate()
        .filter(|(k, i)| {
            let row = &out[k * CLASSES..(k + 1) * CLASSES];
            let arg = (0..CLASSES)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            arg == y[**i] as usize
        })
        .count();
    correct as f64 / rows.len() as f64
}

/// A flat-gradient oracle of the training loss.
type GradientOracle = Box<dyn FnMut(&[f64]) -> Vec<f64> + Send>;

/// The Hessian of the full-batch training loss at a point, by finite differences of burn
/// gradients, as a linalg operator (for Lanczos).
struct BurnHessian {
    theta: Vec<f64>,
    grad: Mutex<GradientOracle>,
}

impl LinearOperator for BurnHessian {
    fn nrows(&self) -> usize {
        self.theta.len()
    }
    fn ncols(&self) -> usize {
        self.theta.len()
    }
    fn apply(&self, v: &[f64], y: &mut [f64]) {
        let mut g = self.grad.lock().expect("not poisoned");
        y.copy_from_slice(&fd_hvp(&mut **g, &self.theta, v, 1e-2));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev: Dev = Default::default();
    let data = ritz_second_order::data::digits().standardized(false);
    let d = data.features;
    let (train, test): (Vec<usize>, Vec<usize>) = (0..data.n).partition(|i| i % 6 != 0);
    let init = set_flat_params(TanhMlp::<B>::new(d, HIDDEN, CLASSES, &dev), &{
        // Small deterministic initialization.
        let mut s = 1u64;
        (0..flat_params(&TanhMlp::<B>::new(d, HIDDEN, CLASSES, &dev)).len())
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                0.2 * (((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5)
            })
            .collect::<Vec<f64>>()
    })?;
    let theta0 = flat_params(&init);
    println!(
        "digits: {} train / {} test, MLP 64-{HIDDEN}-10 ({} parameters), batch 128, 15 epochs",
        train.len(),
        test.len(),
        theta0.len()
    );

    let batches: Vec<Vec<usize>> = train.chunks(128).map(|c| c.to_vec()).collect();
    let tensors: Vec<_> = batches
        .iter()
        .map(|b| batch(&data.x, &data.y, b, d, &dev))
        .collect();
    let lr: f64 = std::env::args().nth(1).map_or(Ok(1e-2), |s| s.parse())?;
    let damping: f64 = std::env::args().nth(2).map_or(Ok(1e-2), |s| s.parse())?;
    let mut mfac = MfacOptimizer::new(
        theta0.len(),
        MfacParams {
            window: 32,
            damping,
            lr,
            ..Default::default()
        },
    )?;
    let (mut t_mfac, mut t_sgd) = (theta0.clone(), theta0.clone());
    let t = std::time::Instant::now();
    for epoch in 1..=15 {
        let (mut l_mfac, mut l_sgd) = (0.0, 0.0);
        for (xb, yb) in &tensors {
            let (l, g) = loss_grad(&t_mfac, xb, yb, d, &dev);
            mfac.step(&mut t_mfac, &g)?;
            l_mfac += l / tensors.len() as f64;
            let (l, g) = loss_grad(&t_sgd, xb, yb, d, &dev);
            t_sgd.iter_mut().zip(&g).for_each(|(p, g)| *p -= 0.5 * g);
            l_sgd += l / tensors.len() as f64;
        }
        if epoch % 3 == 0 || epoch == 1 {
            println!(
                "epoch {epoch:>2}: train loss M-FAC (m = 32, lr {lr}, λ {damping}) {l_mfac:.4} | SGD (lr 0.5) {l_sgd:.4}; test accuracy {:.1} % | {:.1} %",
                100.0 * accuracy(&t_mfac, &data.x, &data.y, &test, d, &dev),
                100.0 * accuracy(&t_sgd, &data.x, &data.y, &test, d, &dev)
            );
        }
    }
    println!("training took {:.1} s", t.elapsed().as_secs_f64());

    // Top Hessian eigenvalues of the full-batch loss at the M-FAC solution.
    let (xa, ya) = batch(&data.x, &data.y, &train, d, &dev);
    let dev2 = dev;
    let op = BurnHessian {
        theta: t_mfac.clone(),
        grad: Mutex::new(Box::new(move |th: &[f64]| {
            loss_grad(th, &xa, &ya, d, &dev2).1
        })),
    };
    let (top, bounds) = top_eigenvalues(&op, 3, 30, 1)?;
    println!(
        "top Hessian eigenvalues (Lanczos, 30 finite-difference HVPs): {:?}, residual bounds {:?}",
        top.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>(),
        bounds
            .iter()
            .map(|v| format!("{v:.1e}"))
            .collect::<Vec<_>>()
    );
    Ok(())
}
