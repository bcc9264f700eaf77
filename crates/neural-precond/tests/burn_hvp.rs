//! The burn adapter's finite-difference Hessian-vector product against ritz-second-order's
//! exact R-operator HVP on the same MLP, same weights; flat parameters round-trip.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::TensorData;
use ritz_neural_precond::curvature::{
    TanhMlp, fd_hvp, flat_gradient, flat_params, set_flat_params,
};
use ritz_second_order::{Dataset, Mlp, Objective};

type B = Autodiff<Flex>;

#[test]
fn fd_hvp_matches_exact_r_operator() {
    let dev = Default::default();
    let (n, d, h, o) = (40, 4, 6, 3);
    // Deterministic data and weights (a small LCG; no RNG crate needed).
    let mut s = 7u64;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let x: Vec<f64> = (0..n * d).map(|_| next()).collect();
    let labels: Vec<f64> = (0..n).map(|i| (i % o) as f64).collect();
    let exact = Mlp::new(
        Dataset::new(d, x.clone(), labels.clone()).unwrap(),
        h,
        o,
        0.0,
    )
    .unwrap();
    let theta: Vec<f64> = (0..exact.dim()).map(|_| 0.7 * next()).collect();
    let v: Vec<f64> = (0..exact.dim()).map(|_| next()).collect();

    let model = set_flat_params(TanhMlp::<B>::new(d, h, o, &dev), &theta).unwrap();
    let back = flat_params(&model);
    assert_eq!(back.len(), theta.len());
    assert!(
        back.iter()
            .zip(&theta)
            .all(|(a, b)| (a - b).abs() <= 1e-7 * b.abs().max(1.0))
    );

    let xt = Tensor::<B, 2>::from_data(
        TensorData::new(x.iter().map(|&v| v as f32).collect::<Vec<_>>(), [n, d]),
        &dev,
    );
    let mut onehot = vec![0.0f32; n * o];
    for (i, l) in labels.iter().enumerate() {
        onehot[i * o + *l as usize] = 1.0;
    }
    let yt = Tensor::<B, 2>::from_data(TensorData::new(onehot, [n, o]), &dev);
    let mut grad = |th: &[f64]| {
        let m = set_flat_params(TanhMlp::<B>::new(d, h, o, &dev), th).unwrap();
        let loss = m.loss(xt.clone(), yt.clone());
        let grads = loss.backward();
        flat_gradient(&m, &grads)
    };
    // The burn gradient equals the exact one to f32 accuracy.
    let mut g = vec![0.0; exact.dim()];
    exact.gradient(&theta, &mut g);
    let gb = grad(&theta);
    let rel = |a: &[f64], b: &[f64]| {
        let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        (num / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
    };
    assert!(rel(&gb, &g) < 1e-5, "gradient: {:e}", rel(&gb, &g));
    let mut hv = vec![0.0; exact.dim()];
    exact.hvp(&theta, &v, &mut hv);
    let fd = fd_hvp(&mut grad, &theta, &v, 1e-2);
    let e = rel(&fd, &hv);
    eprintln!("finite-difference HVP (f32 burn gradients, ε = 1e-2) vs R-operator: {e:.2e}");
    // Within the documented accuracy of an f32 finite-difference HVP (≤ 1e-3).
    assert!(e < 1e-3, "finite-difference HVP relative error {e:e}");
    assert!(set_flat_params(TanhMlp::<B>::new(d, h, o, &dev), &theta[1..]).is_err());
}
