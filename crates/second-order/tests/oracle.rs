//! Oracle tests against independent computations: dense curvature formulas, Richardson-
//! extrapolated finite differences of the gradient, faer dense solves and eigenvalues, exact
//! traces.

use faer::linalg::solvers::Solve;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use ritz_linalg::{DenseMatrix, LinearOperator};
use ritz_second_order::data::{Dataset, breast_cancer, synthetic_binary};
use ritz_second_order::spectra::{hutchinson, hutchpp, slq, top_eigenvalues};
use ritz_second_order::*;

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn randn(r: &mut Xoshiro256PlusPlus, n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|_| scale * (r.random::<f64>() * 2.0 - 1.0))
        .collect()
}

fn assembled(obj: &dyn Objective, x: &[f64], kind: Curvature) -> Vec<f64> {
    let op = CurvatureOperator::new(obj, x, kind, 0.0).unwrap();
    DenseMatrix::from_operator(&op).data().to_vec()
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// The Hessian by Richardson-extrapolated central differences of the analytic gradient
/// (truncation O(h⁴)): an independent reference for the R-operator and closed forms.
fn fd_hessian(obj: &dyn Objective, x: &[f64], h: f64) -> Vec<f64> {
    let d = obj.dim();
    let mut hmat = vec![0.0; d * d];
    let grad_at = |x: &[f64]| {
        let mut g = vec![0.0; d];
        obj.gradient(x, &mut g);
        g
    };
    let diff = |j: usize, h: f64| {
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[j] += h;
        xm[j] -= h;
        let (gp, gm) = (grad_at(&xp), grad_at(&xm));
        gp.iter()
            .zip(&gm)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect::<Vec<f64>>()
    };
    for j in 0..d {
        let (d1, d2) = (diff(j, h), diff(j, h / 2.0));
        for i in 0..d {
            hmat[i * d + j] = (4.0 * d2[i] - d1[i]) / 3.0;
        }
    }
    hmat
}

fn small_set(n: usize, features: usize, classes: usize, seed: u64) -> Dataset {
    let mut r = rng(seed);
    let x = randn(&mut r, n * features, 1.0);
    let y = (0..n)
        .map(|_| (r.random::<u64>() % classes as u64) as f64)
        .collect();
    Dataset::new(features, x, y).unwrap()
}

#[test]
fn glm_curvatures_match_closed_forms() {
    let data = breast_cancer().standardized(true);
    let (n, d) = (data.n, data.features);
    let l2 = 1e-3;
    let obj = LogisticRegression::new(data.clone(), l2).unwrap();
    let w = randn(&mut rng(1), d, 0.3);
    // Independent dense formulas: H = Xᵀ diag(p(1−p)) X / N + λI, F = Xᵀ diag((p−y)²) X / N + λI.
    let mut h = vec![0.0; d * d];
    let mut f = vec![0.0; d * d];
    for i in 0..n {
        let x = data.row(i);
        let z: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
        let p = 1.0 / (1.0 + (-z).exp());
        for a in 0..d {
            for b in 0..d {
                h[a * d + b] += p * (1.0 - p) * x[a] * x[b] / n as f64;
                f[a * d + b] += (p - data.y[i]).powi(2) * x[a] * x[b] / n as f64;
            }
        }
    }
    for a in 0..d {
        h[a * d + a] += l2;
        f[a * d + a] += l2;
    }
    for (kind, reference) in [
        (Curvature::Hessian, &h),
        (Curvature::GaussNewton, &h),
        (Curvature::EmpiricalFisher, &f),
    ] {
        let e = rel_err(&assembled(&obj, &w, kind), reference);
        assert!(e < 1e-8, "logistic {kind:?}: {e:e}");
    }
    // Least squares: H = XᵀX/N + λI.
    let ls = LeastSquares::new(
        Dataset {
            y: randn(&mut rng(2), n, 1.0),
            ..data.clone()
        },
        l2,
    )
    .unwrap();
    let mut xtx = vec![0.0; d * d];
    for i in 0..n {
        let x = data.row(i);
        for a in 0..d {
            for b in 0..d {
                xtx[a * d + b] += x[a] * x[b] / n as f64;
            }
        }
    }
    (0..d).for_each(|a| xtx[a * d + a] += l2);
    assert!(rel_err(&assembled(&ls, &w, Curvature::Hessian), &xtx) < 1e-8);
    // Softmax: the Hessian against finite differences of the gradient.
    let sm = SoftmaxRegression::new(small_set(40, 4, 3, 3), 3, 1e-2).unwrap();
    let ws = randn(&mut rng(4), sm.dim(), 0.5);
    let fd = fd_hessian(&sm, &ws, 1e-3);
    for kind in [Curvature::Hessian, Curvature::GaussNewton] {
        let e = rel_err(&assembled(&sm, &ws, kind), &fd);
        assert!(e < 1e-8, "softmax {kind:?}: {e:e}");
    }
}

#[test]
fn mlp_r_operator_is_exact() {
    let data = small_set(30, 3, 2, 5);
    let mlp = Mlp::new(data.clone(), 5, 2, 1e-3).unwrap();
    let th = randn(&mut rng(6), mlp.dim(), 0.8);
    let fd = fd_hessian(&mlp, &th, 1e-3);
    let h = assembled(&mlp, &th, Curvature::Hessian);
    let e = rel_err(&h, &fd);
    assert!(e < 1e-8, "R-operator vs finite differences: {e:e}");
    // Gauss–Newton equals the Hessian when the residuals vanish: targets = the network's own
    // outputs (one-output regression).
    let probe = Mlp::new(
        Dataset {
            y: vec![0.0; data.n],
            ..data.clone()
        },
        4,
        1,
        0.0,
    )
    .unwrap();
    let th1 = randn(&mut rng(7), probe.dim(), 0.8);
    let y: Vec<f64> = (0..data.n)
        .map(|i| probe.predict(&th1, data.row(i)).unwrap()[0])
        .collect();
    let teacher = Mlp::new(Dataset { y, ..data.clone() }, 4, 1, 0.0).unwrap();
    let e = rel_err(
        &assembled(&teacher, &th1, Curvature::GaussNewton),
        &assembled(&teacher, &th1, Curvature::Hessian),
    );
    assert!(e < 1e-10, "GN vs Hessian at zero residual: {e:e}");
    // Empirical Fisher = mean of per-sample gradient outer products (+ λI).
    let p = mlp.dim();
    let mut fisher = vec![0.0; p * p];
    for i in 0..data.n {
        let one = Dataset::new(3, data.row(i).to_vec(), vec![data.y[i]]).unwrap();
        let single = Mlp::new(one, 5, 2, 0.0).unwrap();
        let mut g = vec![0.0; p];
        single.gradient(&th, &mut g);
        for a in 0..p {
            for b in 0..p {
                fisher[a * p + b] += g[a] * g[b] / data.n as f64;
            }
        }
    }
    (0..p).for_each(|a| fisher[a * p + a] += 1e-3);
    let e = rel_err(&assembled(&mlp, &th, Curvature::EmpiricalFisher), &fisher);
    assert!(e < 1e-8, "MLP Fisher: {e:e}");
}

#[test]
fn gradients_match_finite_differences() {
    let data = small_set(25, 3, 3, 8);
    let models: Vec<Box<dyn Objective>> = vec![
        Box::new(LeastSquares::new(data.clone(), 0.1).unwrap()),
        Box::new(
            LogisticRegression::new(
                Dataset {
                    y: data.y.iter().map(|y| f64::from(*y > 0.5)).collect(),
                    ..data.clone()
                },
                0.1,
            )
            .unwrap(),
        ),
        Box::new(SoftmaxRegression::new(data.clone(), 3, 0.1).unwrap()),
        Box::new(Mlp::new(data.clone(), 4, 3, 0.1).unwrap()),
    ];
    for m in &models {
        let x = randn(&mut rng(9), m.dim(), 0.5);
        let mut g = vec![0.0; m.dim()];
        let f = m.gradient(&x, &mut g);
        assert!((f - m.value(&x)).abs() < 1e-14 * f.abs().max(1.0));
        let fd: Vec<f64> = (0..m.dim())
            .map(|j| {
                let h = 1e-5;
                let mut xp = x.clone();
                let mut xm = x.clone();
                xp[j] += h;
                xm[j] -= h;
                (m.value(&xp) - m.value(&xm)) / (2.0 * h)
            })
            .collect();
        assert!(
            rel_err(&g, &fd) < 1e-8,
            "{}: {:e}",
            m.name(),
            rel_err(&g, &fd)
        );
    }
}

fn dense_fisher(g: &[f64], d: usize, lambda: f64) -> faer::Mat<f64> {
    let m = g.len() / d;
    faer::Mat::from_fn(d, d, |a, b| {
        let s: f64 = (0..m).map(|i| g[i * d + a] * g[i * d + b]).sum::<f64>() / m as f64;
        s + if a == b { lambda } else { 0.0 }
    })
}

fn dense_solve(f: &faer::Mat<f64>, x: &[f64]) -> Vec<f64> {
    let llt = f.llt(faer::Side::Lower).unwrap();
    let mut z = faer::Mat::from_fn(x.len(), 1, |i, _| x[i]);
    llt.solve_in_place(&mut z);
    (0..x.len()).map(|i| z[(i, 0)]).collect()
}

#[test]
fn mfac_matches_dense_inverse() {
    let (d, m, lambda) = (60, 12, 1e-2);
    let mut r = rng(10);
    let grads = randn(&mut r, (m + 5) * d, 1.0);
    let x = randn(&mut r, d, 1.0);
    // Static: all m gradients.
    let st = StaticMfac::new(&grads[..m * d], d, lambda).unwrap();
    let f = dense_fisher(&grads[..m * d], d, lambda);
    let reference = dense_solve(&f, &x);
    let mut out = vec![0.0; d];
    st.ihvp(&x, &mut out).unwrap();
    assert!(
        rel_err(&out, &reference) < 1e-8,
        "static: {:e}",
        rel_err(&out, &reference)
    );
    let diag: Vec<f64> = (0..d)
        .map(|i| {
            let mut e = vec![0.0; d];
            e[i] = 1.0;
            dense_solve(&f, &e)[i]
        })
        .collect();
    assert!(rel_err(&st.inverse_diagonal(), &diag) < 1e-8);
    // Dynamic: partially filled (c = 5 < m), then wrapped (the last m of m + 5 gradients).
    let mut dy = DynamicMfac::new(d, m, lambda).unwrap();
    for k in 0..5 {
        dy.push(&grads[k * d..(k + 1) * d]).unwrap();
    }
    dy.ihvp(&x, &mut out).unwrap();
    let partial = dense_solve(&dense_fisher(&grads[..5 * d], d, lambda), &x);
    assert!(
        rel_err(&out, &partial) < 1e-8,
        "dynamic, partial: {:e}",
        rel_err(&out, &partial)
    );
    for k in 5..m + 5 {
        dy.push(&grads[k * d..(k + 1) * d]).unwrap();
    }
    dy.ihvp(&x, &mut out).unwrap();
    let wrapped = dense_solve(&dense_fisher(&grads[5 * d..], d, lambda), &x);
    assert!(
        rel_err(&out, &wrapped) < 1e-8,
        "dynamic, wrapped: {:e}",
        rel_err(&out, &wrapped)
    );
    // Typed errors.
    assert!(matches!(
        dy.push(&x[..d - 1]),
        Err(SecondOrderError::Linalg(
            ritz_linalg::LinalgError::Shape { .. }
        ))
    ));
    assert!(matches!(
        DynamicMfac::new(d, m, 0.0),
        Err(SecondOrderError::InvalidParameter(_))
    ));
    let mut bad = x.clone();
    bad[3] = f64::NAN;
    assert!(matches!(
        dy.push(&bad),
        Err(SecondOrderError::Linalg(
            ritz_linalg::LinalgError::NonFinite { index: 3, .. }
        ))
    ));
}

/// A 200 × 200 symmetric matrix with a known, outlier-plus-bulk spectrum (like a network
/// Hessian): Q diag(λ) Qᵀ with Q a product of Householder reflections.
struct Spectrum {
    a: Vec<f64>,
    n: usize,
}

impl LinearOperator for Spectrum {
    fn nrows(&self) -> usize {
        self.n
    }
    fn ncols(&self) -> usize {
        self.n
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        for i in 0..self.n {
            y[i] = (0..self.n).map(|j| self.a[i * self.n + j] * x[j]).sum();
        }
    }
}

fn spectrum_matrix(n: usize) -> (Spectrum, Vec<f64>) {
    let mut r = rng(11);
    let mut lam: Vec<f64> = (0..n).map(|_| r.random::<f64>().powi(3)).collect();
    lam[0] = 40.0;
    lam[1] = 25.0;
    lam[2] = 12.0;
    let mut a: Vec<f64> = (0..n * n)
        .map(|k| if k % (n + 1) == 0 { lam[k / n] } else { 0.0 })
        .collect();
    for _ in 0..3 {
        let mut v = randn(&mut r, n, 1.0);
        let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x /= nv);
        // A ← H A H, H = I − 2vvᵀ.
        let av: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| a[i * n + j] * v[j]).sum())
            .collect();
        let vav: f64 = v.iter().zip(&av).map(|(x, y)| x * y).sum();
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] += -2.0 * av[i] * v[j] - 2.0 * v[i] * av[j] + 4.0 * vav * v[i] * v[j];
            }
        }
    }
    let exact = DenseMatrix::from_row_major(n, n, a.clone())
        .unwrap()
        .symmetric_eigenvalues()
        .unwrap();
    (Spectrum { a, n }, exact)
}

#[test]
fn spectra_match_exact_eigenvalues() {
    let n = 200;
    let (op, exact) = spectrum_matrix(n);
    let trace: f64 = exact.iter().sum();
    // Top eigenvalues by Lanczos.
    let (top, bounds) = top_eigenvalues(&op, 3, 60, 1).unwrap();
    for (k, t) in top.iter().enumerate() {
        let e = exact[n - 1 - k];
        assert!(
            (t - e).abs() < 1e-8 * e,
            "top {k}: {t} vs {e} (bound {:e})",
            bounds[k]
        );
    }
    // Traces.
    let h = hutchinson(&op, 300, 2).unwrap();
    assert!(
        (h.estimate - trace).abs() < 4.0 * h.std_error + 1e-9,
        "Hutchinson {h:?} vs {trace}"
    );
    let hpp = hutchpp(&op, 60, 3).unwrap();
    assert!(
        (hpp.estimate - trace).abs() < 0.02 * trace,
        "Hutch++ {hpp:?} vs {trace}"
    );
    // SLQ: the L1 distance between the exact eigenvalue CDF and the quadrature's,
    // ∫|F − F̂| dt over the spectrum (the Wasserstein-1 distance of the two distributions).
    let dens = slq(&op, 60, 20, 4).unwrap();
    let total: f64 = dens.weights.iter().sum();
    assert!((total - 1.0).abs() < 1e-12);
    let (lo, hi) = (exact[0], exact[n - 1]);
    let grid: Vec<f64> = (0..=8000)
        .map(|k| lo + (hi - lo) * k as f64 / 8000.0)
        .collect();
    let l1: f64 = grid
        .windows(2)
        .map(|w| {
            let t = 0.5 * (w[0] + w[1]);
            let fe = exact.iter().filter(|&&e| e <= t).count() as f64 / n as f64;
            (fe - dens.cdf(t)).abs() * (w[1] - w[0])
        })
        .sum::<f64>();
    eprintln!(
        "SLQ CDF L1 distance {l1:.4} (spectrum [{lo:.3}, {hi:.1}]; per unit of range {:.5})",
        l1 / (hi - lo)
    );
    assert!(l1 <= 0.05, "SLQ CDF L1 distance {l1}");
    // The broadened density integrates to about 1.
    let g: Vec<f64> = (0..=2000)
        .map(|k| lo - 1.0 + (hi - lo + 2.0) * k as f64 / 2000.0)
        .collect();
    let phi = dens.density(&g, 0.05);
    let mass: f64 = phi.iter().sum::<f64>() * (g[1] - g[0]);
    assert!((mass - 1.0).abs() < 0.01, "density mass {mass}");
}

#[test]
fn regularized_newton_beats_gradient_descent_on_breast_cancer() {
    let data = breast_cancer().standardized(true);
    let obj = LogisticRegression::new(data, 0.0).unwrap();
    let x0 = vec![0.0; obj.dim()];
    let rn = regularized_newton(&obj, &x0, &RegNewtonParams::default(), &mut ()).unwrap();
    assert_eq!(rn.stop, StopReason::Converged);
    assert!(rn.grad_norm() <= 1e-8);
    // Gradient descent with 10× the gradient budget does not get there.
    let budget = 10 * rn.gradients();
    let gd = gradient_descent(
        &obj,
        &x0,
        &GdParams {
            max_iters: budget,
            ..Default::default()
        },
        &mut (),
    )
    .unwrap();
    assert!(gd.gradients() <= budget + 1);
    assert!(
        gd.grad_norm() > 1e-8,
        "GD reached {:e} within {budget} gradients",
        gd.grad_norm()
    );
    // Damped Newton and the Gauss–Newton variant also converge; history is consistent.
    let dn = damped_newton(&obj, &x0, &DampedNewtonParams::default(), &mut ()).unwrap();
    assert_eq!(dn.stop, StopReason::Converged);
    let gn = regularized_newton(
        &obj,
        &x0,
        &RegNewtonParams {
            curvature: Curvature::GaussNewton,
            ..Default::default()
        },
        &mut (),
    )
    .unwrap();
    assert_eq!(gn.stop, StopReason::Converged);
    assert!(
        rn.history
            .windows(2)
            .all(|w| w[1].value <= w[0].value && w[1].gradients > w[0].gradients)
    );
}

#[test]
fn softmax_and_synthetic_sets_and_errors() {
    let data = ritz_second_order::data::digits().standardized(true);
    let obj = SoftmaxRegression::new(data, 10, 1e-3).unwrap();
    let x0 = vec![0.0; obj.dim()];
    let rn = regularized_newton(
        &obj,
        &x0,
        &RegNewtonParams {
            grad_tol: 1e-6,
            ..Default::default()
        },
        &mut (),
    )
    .unwrap();
    assert_eq!(rn.stop, StopReason::Converged);
    for separable in [true, false] {
        let d = synthetic_binary(300, 10, separable, 12);
        let obj = LogisticRegression::new(d, 0.0).unwrap();
        let r = regularized_newton(&obj, &[0.0; 10], &RegNewtonParams::default(), &mut ()).unwrap();
        assert_eq!(r.stop, StopReason::Converged, "separable = {separable}");
    }
    let bad = Dataset::new(2, vec![0.0; 4], vec![0.0, 2.0]).unwrap();
    assert!(matches!(
        LogisticRegression::new(bad.clone(), 0.0),
        Err(SecondOrderError::BadLabel { row: 1, .. })
    ));
    assert!(matches!(
        SoftmaxRegression::new(bad, 2, 0.0),
        Err(SecondOrderError::BadLabel { row: 1, .. })
    ));
    let lr = LogisticRegression::new(synthetic_binary(10, 3, true, 1), 0.0).unwrap();
    assert!(matches!(
        regularized_newton(&lr, &[0.0; 2], &RegNewtonParams::default(), &mut ()),
        Err(SecondOrderError::Linalg(
            ritz_linalg::LinalgError::Shape { .. }
        ))
    ));
    assert!(matches!(
        regularized_newton(
            &lr,
            &[0.0, f64::NAN, 0.0],
            &RegNewtonParams::default(),
            &mut ()
        ),
        Err(SecondOrderError::Linalg(
            ritz_linalg::LinalgError::NonFinite { index: 1, .. }
        ))
    ));
}

/// The published optima of the Hock–Schittkowski set (Hock & Schittkowski 1981) are the
/// oracle: exact-solve SQP reaches them on all 18, block-sketching SQP on the 15 whose reduced
/// Hessian is nonsingular at the solution, with the unit step taken near the solution.
#[test]
fn sqp_reaches_the_published_hock_schittkowski_optima() {
    use ritz_krylov::sketch::Sketch;
    use ritz_second_order::constrained::hock_schittkowski;
    use ritz_second_order::sqp::{KktSolve, SqpParams, sqp};
    let sketch = KktSolve::Sketch {
        sketch: Sketch::Block { size: 2 },
        max_iters: 1_000_000,
        seed: 11,
    };
    let mut checked = 0;
    for t in hock_schittkowski() {
        let name = t.problem.name().to_string();
        for (label, params) in [
            ("exact", SqpParams::default()),
            (
                "sketch",
                SqpParams {
                    solve: sketch,
                    ..Default::default()
                },
            ),
            (
                "sketch, sharpened",
                SqpParams {
                    solve: sketch,
                    sharpen: Some(1.0),
                    ..Default::default()
                },
            ),
        ] {
            if t.degenerate && label != "exact" {
                continue;
            }
            let res = sqp(&*t.problem, &t.x0, None, &params, &mut ()).unwrap();
            let last = res.history.last().unwrap();
            assert_eq!(res.stop, StopReason::Converged, "{name} {label}");
            assert!(res.kkt() <= 1e-8, "{name} {label}: KKT {}", res.kkt());
            assert!(
                (last.objective - t.f_star).abs() <= 1e-6 * t.f_star.abs().max(1.0),
                "{name} {label}: f = {} vs {}",
                last.objective,
                t.f_star
            );
            let err = res
                .x
                .iter()
                .zip(&t.x_star)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let x_tol = if t.degenerate { 5e-3 } else { 1e-6 };
            assert!(err <= x_tol, "{name} {label}: ‖x − x*‖∞ = {err:e}");
            if !t.degenerate {
                // Locally the merit function accepts the Newton step.
                // Steps taken from iterates with ‖(∇ₓL, c)‖ ≤ 10⁻⁴: the local region.
                let local: Vec<f64> = res
                    .history
                    .windows(2)
                    .filter(|w| w[0].kkt <= 1e-4)
                    .map(|w| w[1].step)
                    .collect();
                let unit = local.iter().filter(|&&a| a == 1.0).count();
                assert!(
                    4 * unit >= 3 * local.len(),
                    "{name} {label}: local steps {local:?}"
                );
                assert_eq!(last.step, 1.0, "{name} {label}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 18 + 2 * 15);
}
