//! Device-resident iterations (on burn-flex, the CI backend) against the host `f64` solvers of
//! ritz-krylov with the same preconditioner: iteration counts within ±1 at tol 1e-6, the true
//! residual meets the tolerance, and bad input gets a typed error.

use burn::backend::Flex;
use ritz_krylov::{FcdParams, SolveParams, StopReason, fcd, pcg, precond::Jacobi};
use ritz_linalg::LinearOperator;
use ritz_neural_precond::device::{
    DeviceJacobi, DeviceMethod, DeviceMultigrid, DeviceParams, DevicePreconditioner, DeviceSystem,
    device_solve,
};
use ritz_neural_precond::shipped::load_shipped;
use ritz_neural_precond::{BurnPreconditioner, Geometry, NeuralError, SpdStencilPreconditioner};
use ritz_pde::heldout::HeldOut;
use ritz_pde::rhs::RhsKind;
use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene};

type B = Flex;

fn problem(scene: Scene, dim: usize, n: usize) -> (PoissonProblem, Vec<f64>) {
    let p = PoissonProblem::new(scene.generate(dim, n, 3).unwrap()).unwrap();
    let b = RhsKind::WhiteNoise.generate(&p, 7);
    (p, b)
}

/// `‖b − A x‖ / ‖b‖` in f64 with `b` projected onto the range.
fn true_relative(p: &PoissonProblem, b: &[f64], x: &[f64]) -> f64 {
    let mut b = b.to_vec();
    if let Some(ns) = p.null_space() {
        ns.project(&mut b);
    }
    let mut ax = vec![0.0; b.len()];
    p.apply(x, &mut ax);
    let r: f64 = b.iter().zip(&ax).map(|(u, v)| (u - v).powi(2)).sum();
    r.sqrt() / b.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn every(check_every: usize, method: DeviceMethod) -> DeviceParams {
    DeviceParams {
        method,
        check_every,
        ..Default::default()
    }
}

/// Solves on the device with `m` and `method` (the stop test read every iteration) and
/// checks it against the host's record: converged, the host's iterations ±1, and the true
/// residual below the tolerance. Returns the device's record.
fn device_matches_host(
    what: &str,
    p: &PoissonProblem,
    b: &[f64],
    m: &dyn DevicePreconditioner<B>,
    method: DeviceMethod,
    host: &ritz_krylov::SolveInfo,
) -> ritz_krylov::SolveInfo {
    let sys = DeviceSystem::<B>::new(p, &Default::default());
    let mut x = vec![0.0; b.len()];
    let dev = device_solve(p, &sys, m, b, &mut x, &every(1, method), &mut ()).unwrap();
    assert_eq!(dev.stop, StopReason::Converged, "{what}");
    assert!(
        dev.iterations.abs_diff(host.iterations) <= 1,
        "{what}: device {} vs host {} iterations",
        dev.iterations,
        host.iterations
    );
    assert!(true_relative(p, b, &x) <= 1e-6, "{what}");
    dev
}

#[test]
fn jacobi_pcg_on_the_device_matches_the_host() {
    for (scene, dim, n) in [(Scene::Pillars, 2, 32), (Scene::Spheres, 3, 16)] {
        let (p, b) = problem(scene, dim, n);
        let mut xh = vec![0.0; b.len()];
        let host = pcg(
            &p,
            &Jacobi::new(&p).unwrap(),
            &b,
            &mut xh,
            &SolveParams::default(),
            &mut (),
        )
        .unwrap();
        let m = DeviceJacobi::new(&p, &Default::default());
        let dev = device_matches_host(&format!("{scene:?}"), &p, &b, &m, DeviceMethod::Pcg, &host);
        assert_eq!(dev.residual_history.len(), dev.iterations + 1);
        assert!(*dev.residual_history.last().unwrap() <= 1e-6);
    }
}

#[test]
fn dcdm_keeping_16_directions_matches_the_host_across_replacements() {
    // The catalogue's k for dcdm: the replaced residual is projected against the kept
    // directions (without it: 22 iterations against 15).
    let p = PoissonProblem::new(Scene::Spheres.generate(2, 32, 5).unwrap()).unwrap();
    let b = RhsKind::WhiteNoise.generate(&p, 1);
    let (_, model) = load_shipped::<B>("dcdm", 2, &Default::default()).unwrap();
    let m = BurnPreconditioner::new(model, &Geometry::of(&p), &Default::default()).unwrap();
    let fp = FcdParams {
        k: 16,
        ..Default::default()
    };
    let host = fcd(&p, &m, &b, &mut vec![0.0; b.len()], &fp, &mut ()).unwrap();
    device_matches_host(
        "dcdm k = 16",
        &p,
        &b,
        &m,
        DeviceMethod::Fcd { k: 16 },
        &host,
    );
}

#[test]
fn dcdm_flexible_iteration_on_the_device_matches_the_host() {
    let (p, b) = problem(Scene::Organic, 2, 32);
    let (_, model) = load_shipped::<B>("dcdm", 2, &Default::default()).unwrap();
    let m = BurnPreconditioner::new(model, &Geometry::of(&p), &Default::default()).unwrap();
    assert!(!m.is_spd());
    let mut xh = vec![0.0; b.len()];
    let host = fcd(&p, &m, &b, &mut xh, &FcdParams::default(), &mut ()).unwrap();
    device_matches_host("dcdm k = 2", &p, &b, &m, DeviceMethod::Fcd { k: 2 }, &host);
    // PCG refuses the nonlinear network.
    let sys = DeviceSystem::<B>::new(&p, &Default::default());
    let mut x = vec![0.0; b.len()];
    let err = device_solve(
        &p,
        &sys,
        &m,
        &b,
        &mut x,
        &every(1, DeviceMethod::Pcg),
        &mut (),
    );
    assert!(matches!(err, Err(NeuralError::Config(_))), "{err:?}");
}

#[test]
fn spd_stencil_net_pcg_on_the_device_matches_the_host() {
    let (p, b) = problem(Scene::Spheres, 3, 16);
    let (_, model) = load_shipped::<B>("stencil-spd", 3, &Default::default()).unwrap();
    let ritz_neural_precond::AnyModel::Stencil(net) = &model else {
        panic!("stencil-spd is a stencil net")
    };
    let host_m = SpdStencilPreconditioner::new(net, &Geometry::of(&p)).unwrap();
    let mut xh = vec![0.0; b.len()];
    let host = pcg(&p, &host_m, &b, &mut xh, &SolveParams::default(), &mut ()).unwrap();
    let m = BurnPreconditioner::new(model, &Geometry::of(&p), &Default::default()).unwrap();
    assert!(m.is_spd());
    device_matches_host("stencil-spd", &p, &b, &m, DeviceMethod::Pcg, &host);
}

#[test]
fn a_closed_domain_and_sparse_checks_converge() {
    // All walls solid: a singular operator (constants per region); the right-hand side is
    // projected on the host, x comes back projected.
    let (p, b) = problem(Scene::Closed, 3, 16);
    assert!(p.null_space().is_some());
    let sys = DeviceSystem::<B>::new(&p, &Default::default());
    let m = DeviceJacobi::new(&p, &Default::default());
    let mut x1 = vec![0.0; b.len()];
    let one = device_solve(
        &p,
        &sys,
        &m,
        &b,
        &mut x1,
        &every(1, DeviceMethod::Fcd { k: 1 }),
        &mut (),
    )
    .unwrap();
    let mut x4 = vec![0.0; b.len()];
    let four = device_solve(
        &p,
        &sys,
        &m,
        &b,
        &mut x4,
        &every(4, DeviceMethod::Fcd { k: 1 }),
        &mut (),
    )
    .unwrap();
    for (info, x) in [(&one, &x1), (&four, &x4)] {
        assert_eq!(info.stop, StopReason::Converged);
        assert!(true_relative(&p, &b, x) <= 1e-6);
    }
    // Reading every fourth norm overshoots by at most three iterations.
    assert!(four.iterations >= one.iterations && four.iterations <= one.iterations + 3);
}

#[test]
fn limits_and_bad_input_are_reported() {
    let (p, b) = problem(Scene::Pillars, 2, 32);
    let sys = DeviceSystem::<B>::new(&p, &Default::default());
    let m = DeviceJacobi::new(&p, &Default::default());
    let mut x = vec![0.0; b.len()];
    let capped = DeviceParams {
        solve: SolveParams {
            max_iters: 3,
            ..Default::default()
        },
        check_every: 2,
        ..Default::default()
    };
    let info = device_solve(&p, &sys, &m, &b, &mut x, &capped, &mut ()).unwrap();
    assert_eq!((info.stop, info.iterations), (StopReason::MaxIterations, 3));
    assert_eq!(info.residual_history.len(), 4);
    let none = DeviceParams {
        solve: SolveParams {
            max_iters: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    let info = device_solve(&p, &sys, &m, &b, &mut vec![0.0; b.len()], &none, &mut ()).unwrap();
    assert_eq!((info.stop, info.iterations), (StopReason::MaxIterations, 0));
    // A zero right-hand side is solved by x = 0.
    let mut x = vec![1.0; b.len()];
    let zero = device_solve(
        &p,
        &sys,
        &m,
        &vec![0.0; b.len()],
        &mut x,
        &Default::default(),
        &mut (),
    );
    assert_eq!(zero.unwrap().stop, StopReason::ZeroRhs);
    assert!(x.iter().all(|&v| v == 0.0));
    // A system uploaded from another problem (same cells, another identity) is refused.
    let (p2, _) = problem(Scene::Pillars, 2, 32);
    let e = device_solve(
        &p2,
        &sys,
        &m,
        &b,
        &mut vec![0.0; b.len()],
        &Default::default(),
        &mut (),
    );
    assert!(matches!(e, Err(NeuralError::Config(_))), "{e:?}");
    // Shapes, NaN, parameters.
    let mut short = vec![0.0; b.len() - 1];
    let e = device_solve(&p, &sys, &m, &b, &mut short, &Default::default(), &mut ());
    assert!(matches!(e, Err(NeuralError::Shape { .. })), "{e:?}");
    let mut bad = b.clone();
    bad[5] = f64::NAN;
    let e = device_solve(
        &p,
        &sys,
        &m,
        &bad,
        &mut vec![0.0; b.len()],
        &Default::default(),
        &mut (),
    );
    assert!(matches!(e, Err(NeuralError::NonFinite(_))), "{e:?}");
    for params in [
        every(0, DeviceMethod::Pcg),
        every(1, DeviceMethod::Fcd { k: 0 }),
        DeviceParams {
            replacement_drop: 0.0,
            ..Default::default()
        },
    ] {
        let e = device_solve(&p, &sys, &m, &b, &mut vec![0.0; b.len()], &params, &mut ());
        assert!(matches!(e, Err(NeuralError::Config(_))), "{e:?}");
    }
}

#[test]
fn a_preconditioner_returning_nan_is_a_typed_error() {
    struct Broken;
    impl ritz_neural_precond::device::DevicePreconditioner<B> for Broken {
        fn apply_device(&self, r: burn::tensor::Tensor<B, 5>) -> burn::tensor::Tensor<B, 5> {
            r * f32::NAN
        }
        fn is_spd(&self) -> bool {
            false
        }
        fn name(&self) -> String {
            "broken".into()
        }
    }
    let (p, b) = problem(Scene::Pillars, 2, 32);
    let sys = DeviceSystem::<B>::new(&p, &Default::default());
    let e = device_solve(
        &p,
        &sys,
        &Broken,
        &b,
        &mut vec![0.0; b.len()],
        &Default::default(),
        &mut (),
    );
    assert!(matches!(e, Err(NeuralError::NonFinite(_))), "{e:?}");
}

/// MGPCG's parameters, and the learned solver's (the shipped schedule).
fn cycles(dim: usize) -> Vec<(&'static str, MultigridParams)> {
    let schedule = ritz_neural_precond::shipped::load_shipped_schedule(dim).unwrap();
    vec![
        ("mgpcg", MultigridParams::default()),
        (
            "learned",
            MultigridParams {
                schedule: Some(schedule.learned.schedule),
                ..Default::default()
            },
        ),
    ]
}

fn grids() -> Vec<PoissonProblem> {
    let maze = HeldOut::Maze.generate(3, 32, 1).unwrap();
    vec![
        PoissonProblem::new(Scene::Spheres.generate(3, 16, 2).unwrap()).unwrap(),
        PoissonProblem::new(Scene::Closed.generate(3, 16, 2).unwrap()).unwrap(),
        PoissonProblem::new(maze).unwrap(),
        PoissonProblem::new(Scene::Organic.generate(2, 64, 2).unwrap()).unwrap(),
        // Odd sides: coarsening by ceil, the transfers' short last cell.
        PoissonProblem::new(Scene::Pillars.generate(2, 36, 2).unwrap()).unwrap(),
    ]
}

#[test]
fn the_device_v_cycle_is_the_host_v_cycle() {
    for p in grids() {
        let dim = p.grid().dim();
        for (name, params) in cycles(dim) {
            let mg = GridMultigrid::new(&p, params).unwrap();
            let dm = DeviceMultigrid::<B>::new(&mg, &Default::default()).unwrap();
            assert_eq!(dm.num_levels(), mg.num_levels());
            assert!(dm.is_spd());
            let r = RhsKind::WhiteNoise.generate(&p, 3);
            let mut host = vec![0.0; r.len()];
            ritz_linalg::Preconditioner::apply(&mg, &r, &mut host);
            let rf: Vec<f32> = r.iter().map(|&v| v as f32).collect();
            let [nx, ny, nz] = p.grid().dims();
            let rt = burn::tensor::Tensor::<B, 5>::from_data(
                burn::tensor::TensorData::new(rf, [1, 1, nz, ny, nx]),
                &Default::default(),
            );
            let dev: Vec<f32> = dm.apply_device(rt).into_data().to_vec().unwrap();
            let scale = host.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let err = host
                .iter()
                .zip(&dev)
                .fold(0.0f64, |a, (h, d)| a.max((h - *d as f64).abs()));
            assert!(
                err <= 1e-4 * scale,
                "{name} {dim}D {:?}: max |host − device| = {err:e} of {scale:e}",
                p.grid().dims()
            );
        }
    }
}

#[test]
fn mgpcg_and_learned_on_the_device_take_the_host_iterations() {
    for p in grids() {
        let dim = p.grid().dim();
        let b = RhsKind::WhiteNoise.generate(&p, 5);
        for (name, params) in cycles(dim) {
            let mg = GridMultigrid::new(&p, params).unwrap();
            let mut xh = vec![0.0; b.len()];
            let host = pcg(&p, &mg, &b, &mut xh, &SolveParams::default(), &mut ()).unwrap();
            let dm = DeviceMultigrid::<B>::new(&mg, &Default::default()).unwrap();
            let what = format!("{name} {dim}D {:?}", p.grid().dims());
            device_matches_host(&what, &p, &b, &dm, DeviceMethod::Pcg, &host);
        }
    }
}
