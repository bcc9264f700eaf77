//! Oracle tests of the catalogue: every solver by name against an independent dense solve,
//! on geometry the learned solvers never saw in training, on grid and matrix systems; setup
//! reuse; and the typed errors of misuse.

use ritz::krylov::SolveParams;
use ritz::linalg::{CsrMatrix, DenseMatrix};
use ritz::pde::multigrid::Kernel;
use ritz::pde::{CellFlag, MacGrid, PoissonProblem, Walls, rhs::RhsKind};
use ritz::{BuildOptions, RitzError, Solver, SolverSpec, System};

/// A 24 × 24 "maze": walls of solid cells with gaps, open at the top — not one of the
/// training scenes.
fn maze() -> PoissonProblem {
    let n = 24;
    let mut g = MacGrid::new(&[n, n], Walls::open_top(2)).unwrap();
    for (row, gap) in [(6, 3), (12, 19), (18, 8)] {
        for i in 0..n {
            if !(gap..gap + 3).contains(&i) {
                g.set(i, row, 0, CellFlag::Solid);
            }
        }
    }
    PoissonProblem::new(g).unwrap()
}

/// The exact solution on the fluid cells from the dense pseudo-inverse of the assembled
/// matrix (an eigendecomposition: independent of every catalogue solver).
fn dense_solution(p: &PoissonProblem, b: &[f64]) -> Vec<f64> {
    let a = p.assemble();
    let pinv = DenseMatrix::from_operator(&a)
        .spsd_pseudo_inverse(1e-12)
        .unwrap();
    let bc = p.to_compact(b).unwrap();
    let n = bc.len();
    let x: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| pinv.get(i, j) * bc[j]).sum())
        .collect();
    p.to_grid(&x).unwrap()
}

fn rel_err(x: &[f64], y: &[f64]) -> f64 {
    let d: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
    let n: f64 = y.iter().map(|v| v * v).sum();
    (d / n).sqrt()
}

#[test]
fn every_solver_matches_a_dense_solve_on_an_unseen_maze() {
    let p = maze();
    let b = RhsKind::SmoothDivergence.generate(&p, 3);
    let exact = dense_solution(&p, &b);
    let options = BuildOptions {
        params: SolveParams {
            rtol: 1e-10,
            ..Default::default()
        },
        ..Default::default()
    };
    // Every solver, and MGPCG with sweep counts of its coarse levels.
    let counted = [
        "mgpcg:coarse-sweeps=3",
        "mgpcg-f64:coarse-sweeps=1:sweeps=3",
    ];
    for name in SolverSpec::grid_names()
        .into_iter()
        .chain(counted.map(String::from))
    {
        let spec: SolverSpec = name.parse().unwrap();
        if spec.method.is_learned() && !cfg!(feature = "learned") {
            let e = Solver::build_with(&spec, &p, &options).unwrap_err();
            assert!(
                matches!(e, RitzError::FeatureDisabled { .. }),
                "{name}: {e}"
            );
            continue;
        }
        let mut s = Solver::build_with(&spec, &p, &options).unwrap();
        // Twice: the setup serves any number of right-hand sides.
        for _ in 0..2 {
            let mut x = vec![0.0; b.len()];
            let r = s.solve(&p, &b, &mut x).unwrap();
            assert!(r.info.converged(), "{name}: {:?}", r.info.stop);
            assert!(
                rel_err(&x, &exact) < 1e-7,
                "{name}: {:e}",
                rel_err(&x, &exact)
            );
            assert_eq!(
                r.info.elapsed_s.len(),
                r.info.residual_history.len(),
                "{name}"
            );
        }
        assert!(s.setup_s() >= 0.0);
    }
}

#[test]
fn matrix_solvers_run_on_a_bare_matrix_and_grid_only_ones_refuse_it() {
    let p = maze();
    let a: CsrMatrix = p.assemble();
    let b = p.to_compact(&RhsKind::Buoyancy.generate(&p, 1)).unwrap();
    for name in SolverSpec::matrix_names() {
        let mut s = Solver::build(&name.parse().unwrap(), &a).unwrap();
        let mut x = vec![0.0; b.len()];
        assert!(s.solve(&a, &b, &mut x).unwrap().info.converged(), "{name}");
    }
    for name in ["mgpcg", "stencil", "dcdm"] {
        let e = Solver::build(&name.parse().unwrap(), &a).unwrap_err();
        assert!(matches!(e, RitzError::Unsupported { .. }), "{name}: {e}");
    }
}

#[test]
fn misuse_is_a_typed_error() {
    let p = maze();
    let other = PoissonProblem::new(MacGrid::new(&[8, 8], Walls::open_top(2)).unwrap()).unwrap();
    let mut s = Solver::build(&"mgpcg".parse().unwrap(), &p).unwrap();
    let b = vec![1.0; other.num_cells()];
    let mut x = vec![0.0; b.len()];
    let e = s.solve(&other, &b, &mut x).unwrap_err();
    assert!(matches!(e, RitzError::SystemMismatch { .. }), "{e}");
    // Wrong lengths and NaN are the underlying crates' typed errors, named by solver.
    let mut short = vec![0.0; 3];
    let e = s
        .solve(&p, &vec![1.0; p.num_cells()], &mut short)
        .unwrap_err();
    assert!(matches!(e, RitzError::Failed { .. }), "{e}");
    let mut nan = vec![0.0; p.num_cells()];
    nan[p.fluid_cells()[0] as usize] = f64::NAN;
    let mut x = vec![0.0; p.num_cells()];
    assert!(s.solve(&p, &nan, &mut x).is_err());
    // Bad parameters are refused and change nothing.
    let bad = SolveParams {
        rtol: -1.0,
        ..Default::default()
    };
    assert!(s.set_params(bad).is_err());
    assert_eq!(s.params(), &SolveParams::default());
    // A missing weights folder names the solver and the file.
    let options = BuildOptions {
        weights: Some("/nonexistent/weights".into()),
        ..Default::default()
    };
    let e = Solver::build_with(&"stencil".parse().unwrap(), &p, &options).unwrap_err();
    assert!(e.to_string().contains("stencil"), "{e}");
}

#[test]
fn the_solver_drives_the_smoke_simulator() {
    use ritz::pde::smoke::{Smoke, SmokeParams, sphere_scene};
    let mut sim = Smoke::new(sphere_scene(2, 24).unwrap(), SmokeParams::default()).unwrap();
    let learned = if cfg!(feature = "learned") {
        "stencil-spd"
    } else {
        "mgpcg"
    };
    for name in ["cholesky", "deflated", "mic0-csr", learned] {
        let mut s = Solver::build(&name.parse().unwrap(), sim.problem()).unwrap();
        let f = sim.step(&mut s).unwrap();
        assert!(
            f.divergence_after < 1e-4 * f.divergence_before.max(1e-300),
            "{name}: {f:?}"
        );
    }
    let _: System = sim.problem().into();
}

#[test]
fn profiled_solves_account_for_their_time() {
    let p = maze();
    let b = RhsKind::SmoothDivergence.generate(&p, 0);
    for name in ["mgpcg", "ic0"] {
        let mut s = Solver::build(&name.parse().unwrap(), &p).unwrap();
        let mut x = vec![0.0; b.len()];
        let (r, prof) = s.solve_profiled(&p, &b, &mut x, &mut ()).unwrap();
        assert!(r.info.converged());
        let kernels_s: f64 = prof
            .kernels
            .iter()
            .flat_map(|k| &k.kernels)
            .map(|(_, st)| st.seconds)
            .sum();
        match (name, &prof.kernels) {
            ("mgpcg", Some(v)) => {
                // Fused MGPCG: the initial V-cycle, then one per iteration but the converged
                // last one; pᵀAp on its own once (the first direction), then inside each
                // direction update (the last one, x ← x + αp, included); all in its own
                // kernels (the initial residual included).
                assert_eq!(v.applications as usize, r.info.iterations);
                let calls = |k: Kernel| v.kernels.iter().find(|(q, _)| *q == k).unwrap().1.calls;
                assert_eq!(calls(Kernel::Operator), 1);
                assert_eq!(calls(Kernel::DirectionUpdate) as usize, r.info.iterations);
                assert_eq!(calls(Kernel::ConvertIn), 1);
                assert_eq!((prof.operator_calls, prof.preconditioner_calls), (0, 0));
                assert!(
                    v.kernels
                        .iter()
                        .all(|(_, k)| k.calls > 0 || k.seconds == 0.0)
                );
                assert!(v.seconds_per_application() > 0.0);
                // By level: the PCG kernels on the finest only, the smoothing on every level
                // but the coarsest, and the levels add up to the total.
                let stats = |k: Kernel| v.kernels.iter().find(|(q, _)| *q == k).unwrap().1;
                let coarsest = stats(Kernel::Coarsest).level_seconds;
                let levels = 1 + coarsest.iter().rposition(|&t| t > 0.0).unwrap();
                assert!(levels >= 3, "{levels} levels");
                let upd = stats(Kernel::ResidualUpdate).level_seconds;
                assert!(upd[0] > 0.0 && upd[1..].iter().all(|&t| t == 0.0));
                let smooth = stats(Kernel::Smooth).level_seconds;
                assert!(smooth[..levels - 1].iter().all(|&t| t > 0.0));
                assert!(smooth[levels - 1..].iter().all(|&t| t == 0.0));
                for (_, k) in &v.kernels {
                    let sum: f64 = k.level_seconds.iter().sum();
                    assert!((sum - k.seconds).abs() <= 1e-9 * k.seconds.max(1.0));
                }
            }
            ("ic0", None) => {
                assert_eq!(
                    prof.preconditioner_calls as usize, r.info.iterations,
                    "{name}"
                );
                assert!(prof.operator_calls as usize >= r.info.iterations, "{name}");
            }
            _ => panic!("{name}: kernel profile {:?}", prof.kernels.is_some()),
        }
        let parts = prof.operator_s + prof.preconditioner_s + kernels_s + prof.vector_s;
        assert!(parts <= r.solve_s * 1.01 + 1e-6, "{name}");
        // Profiling is off again: an ordinary solve still works and matches.
        let mut y = vec![0.0; b.len()];
        let r2 = s.solve(&p, &b, &mut y).unwrap();
        assert_eq!(r2.info.iterations, r.info.iterations);
        assert_eq!(x, y);
    }
}
