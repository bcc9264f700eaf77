//! Bad and extreme input through the library: right-hand sides scaled by 10^±150 and 10^-170,
//! floating (all-Neumann) regions, inconsistent singular systems, degenerate deflation bases,
//! sizes beyond the available memory. Every case is a typed error or a correct result.

use ritz_krylov::deflation::{Deflation, deflated_pcg};
use ritz_krylov::lanczos::{LanczosParams, lanczos};
use ritz_krylov::precond::{IcOptions, IncompleteCholesky, Jacobi};
use ritz_krylov::{FcdParams, KrylovError, SolveParams, StopReason, cg, fcd, pcg};
use ritz_linalg::{CsrMatrix, LinalgError, LinearOperator, vector};
use ritz_pde::poisson::AssembledPoisson;
use ritz_pde::rhs::RhsKind;
use ritz_pde::{
    GridIc0, GridMultigrid, IcVariant, MacGrid, MultigridParams, PoissonProblem, Precision, Scene,
    Walls,
};

fn spheres(dim: usize, n: usize) -> (PoissonProblem, Vec<f64>) {
    let p = PoissonProblem::new(Scene::Spheres.generate(dim, n, 0).unwrap()).unwrap();
    let b = RhsKind::WhiteNoise.generate(&p, 3);
    (p, b)
}

/// A solver bound to its operator and preconditioner.
type Solve<'a> =
    Box<dyn Fn(&[f64], &mut [f64]) -> Result<ritz_krylov::SolveInfo, KrylovError> + 'a>;

/// Iterations and the solution of `solve` for `s · b`, the solution scaled back by `1/s`.
fn run(b: &[f64], s: f64, solve: &Solve<'_>) -> (usize, StopReason, Vec<f64>, f64) {
    let bs: Vec<f64> = b.iter().map(|v| v * s).collect();
    let mut x = vec![0.0; b.len()];
    let info = solve(&bs, &mut x).unwrap();
    let x: Vec<f64> = x.iter().map(|v| v / s).collect();
    (info.iterations, info.stop, x, info.rhs_norm / s)
}

#[test]
fn every_solver_takes_the_same_iterations_for_b_and_1e_pm150_b() {
    let (p, b) = spheres(2, 48);
    let params = SolveParams::default();
    let mic = GridIc0::new(&p, IcVariant::mic0()).unwrap();
    let mg = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
    let solvers: Vec<(&str, Solve<'_>)> = vec![
        ("cg", Box::new(|b, x| cg(&p, b, x, &params, &mut ()))),
        (
            "mic0",
            Box::new(|b, x| pcg(&p, &mic, b, x, &params, &mut ())),
        ),
        (
            "mgpcg",
            Box::new(|b, x| pcg(&p, &mg, b, x, &params, &mut ())),
        ),
        (
            "fcd-mic0",
            Box::new(|b, x| fcd(&p, &mic, b, x, &FcdParams::default(), &mut ())),
        ),
    ];
    for (name, solve) in &solvers {
        let (it, stop, x, bn) = run(&b, 1.0, solve);
        assert_eq!(stop, StopReason::Converged, "{name}");
        for s in [1e-150, 1e150, 1e-170] {
            let (its, stops, xs, bns) = run(&b, s, solve);
            assert_eq!((its, stops), (it, stop), "{name} at scale {s:e}");
            let dx = x
                .iter()
                .zip(&xs)
                .map(|(a, c)| (a - c).abs())
                .fold(0.0, f64::max);
            assert!(
                dx <= 1e-5 * vector::norm_inf(&x),
                "{name} at {s:e}: |Δx| = {dx:e}"
            );
            assert!(
                (bns - bn).abs() <= 1e-12 * bn,
                "{name}: ‖b‖ {bns:e} vs {bn:e}"
            );
        }
    }
}

#[test]
fn a_tiny_rhs_is_not_zero_and_its_true_residual_is_measured() {
    let (p, b) = spheres(2, 32);
    let tiny: Vec<f64> = b.iter().map(|v| v * 1e-170).collect();
    assert!(vector::norm2(&tiny) > 0.0);
    let rel = vector::norm2(&tiny) / (vector::norm2(&b) * 1e-170);
    assert!((rel - 1.0).abs() < 1e-12, "{rel}");
    let mut x = vec![0.0; b.len()];
    let info = cg(&p, &tiny, &mut x, &SolveParams::default(), &mut ()).unwrap();
    assert_eq!(info.stop, StopReason::Converged);
    let mut r = vec![0.0; b.len()];
    ritz_linalg::operator::residual(&p, &tiny, &x, &mut r);
    if let Some(ns) = p.null_space() {
        ns.project(&mut r);
    }
    let true_rel = vector::norm2(&r) / vector::norm2(&tiny);
    assert!(true_rel > 0.0 && true_rel < 1e-5, "{true_rel:e}");
}

/// A floating chain of fluid cells (all-Neumann): its IC(0) elimination ends in an exactly
/// zero pivot, which decouples the cell as in the CSR factorization.
#[test]
fn grid_ic0_factorizes_a_floating_chain_like_the_csr_ic0() {
    // 8 × 12: an air row, two fluid rows, solids, and a floating 7-cell fluid chain.
    let (h, w) = (8, 12);
    let mut codes = vec![1i8; h * w];
    codes[..w].fill(2);
    codes[w..3 * w].fill(0);
    codes[5 * w + 2..5 * w + 9].fill(0);
    let g = MacGrid::from_codes(&[w, h], &codes, Walls::closed()).unwrap();
    let p = PoissonProblem::new(g).unwrap();
    assert_eq!(p.region_counts().1, 1, "one floating region");
    let b = RhsKind::WhiteNoise.generate(&p, 1);
    let params = SolveParams {
        rtol: 1e-10,
        ..Default::default()
    };
    for v in [IcVariant::Ic0, IcVariant::mic0()] {
        let m = GridIc0::new(&p, v).unwrap();
        let mut x = vec![0.0; b.len()];
        let info = pcg(&p, &m, &b, &mut x, &params, &mut ()).unwrap();
        assert_eq!(info.stop, StopReason::Converged, "{v:?}");
    }
    let asm = AssembledPoisson::new(&p);
    let bc = p.to_compact(&b).unwrap();
    let ic = IncompleteCholesky::new(&asm.matrix, IcOptions::ic0()).unwrap();
    let mut x = vec![0.0; bc.len()];
    let info = pcg(&asm, &ic, &bc, &mut x, &params, &mut ()).unwrap();
    assert_eq!(info.stop, StopReason::Converged);
}

/// CG on an inconsistent singular system whose null space the matrix does not expose: the
/// residual grows without bound, and the divergence test stops it.
#[test]
fn an_inconsistent_singular_system_stops_as_diverged() {
    let p = PoissonProblem::new(Scene::Closed.generate(2, 32, 0).unwrap()).unwrap();
    let asm = AssembledPoisson::new(&p);
    let a: &CsrMatrix = &asm.matrix;
    let mut b = vec![0.0; a.nrows()];
    b[0] = 1.0;
    let mut x = vec![0.0; b.len()];
    let info = cg(a, &b, &mut x, &SolveParams::default(), &mut ()).unwrap();
    assert_eq!(info.stop, StopReason::Diverged);
    assert!(info.final_relative_residual() > 1e8);
    assert!(info.iterations < 5000, "{}", info.iterations);
    let bad = SolveParams {
        dtol: 0.5,
        ..Default::default()
    };
    assert!(matches!(
        cg(a, &b, &mut x, &bad, &mut ()),
        Err(KrylovError::InvalidParameter(_))
    ));
}

/// Lanczos on a small closed grid yields Ritz vectors that are dependent or lie in the null
/// space; deflation keeps the well-conditioned part of their span and solves.
#[test]
fn deflation_drops_dependent_and_null_space_vectors() {
    for (dim, n, seed) in [(2, 5, 1), (2, 6, 0), (2, 9, 0), (2, 10, 0), (3, 4, 0)] {
        let p = PoissonProblem::new(Scene::Closed.generate(dim, n, seed).unwrap()).unwrap();
        let b = RhsKind::SmoothDivergence.generate(&p, seed);
        let steps = 80.min(p.num_fluid());
        let lz = lanczos(
            &p,
            &b,
            &LanczosParams {
                steps,
                ..Default::default()
            },
            &mut (),
        )
        .unwrap();
        let k = 16.min(lz.steps());
        let mut w = lz.ritz_pairs(0..k).unwrap().vectors;
        w.push(w[0].clone()); // an exact duplicate too
        let d = Deflation::new(&p, w).unwrap();
        assert!(d.len() <= k);
        let jac = Jacobi::new(&p).unwrap();
        let mut x = vec![0.0; b.len()];
        let info = deflated_pcg(&p, &jac, &d, &b, &mut x, &SolveParams::default(), &mut ())
            .unwrap_or_else(|e| panic!("closed {dim}D n={n} seed={seed}: {e}"));
        assert_eq!(info.stop, StopReason::Converged, "{dim}D n={n} seed={seed}");
    }
}

#[test]
fn sizes_beyond_memory_are_typed_errors_before_allocating() {
    // The row pointers alone of a 4294967295-row matrix need 34 GB, three of them 103 GB.
    let e = CsrMatrix::from_triplets(u32::MAX as usize, u32::MAX as usize, &[]);
    if ritz_linalg::mem::available().is_some_and(|a| a < 100 << 30) {
        assert!(matches!(e, Err(LinalgError::OutOfMemory { .. })), "{e:?}");
    }
    let (p, b) = spheres(2, 16);
    let mut x = vec![0.0; b.len()];
    let huge = FcdParams {
        k: usize::MAX / 64,
        ..Default::default()
    };
    let e = fcd(&p, &Jacobi::new(&p).unwrap(), &b, &mut x, &huge, &mut ());
    assert!(
        matches!(e, Err(KrylovError::Linalg(LinalgError::OutOfMemory { .. }))),
        "{e:?}"
    );
}

/// Grids of extreme aspect ratio stop the coarsening early (the short side), leaving a coarsest
/// level of thousands of unknowns: it is factorized sparsely (setup linear in the cells), and
/// the V-cycle stays symmetric and converges as on a square grid — with an open top and on a
/// floating (all-Neumann) closed box.
#[test]
fn mgpcg_on_thin_grids_uses_a_sparse_exact_coarsest_solve() {
    for (shape, walls) in [
        (vec![8192, 2], Walls::open_top(2)),
        (vec![4096, 4], Walls::closed()),
        (vec![2048, 2, 2], Walls::open_top(3)),
    ] {
        let p = PoissonProblem::new(MacGrid::new(&shape, walls).unwrap()).unwrap();
        let mp = MultigridParams {
            precision: Precision::F64,
            ..Default::default()
        };
        let mg = GridMultigrid::new(&p, mp).unwrap();
        let b = RhsKind::WhiteNoise.generate(&p, 5);
        let mut x = vec![0.0; b.len()];
        let info = pcg(&p, &mg, &b, &mut x, &SolveParams::default(), &mut ()).unwrap();
        assert_eq!(info.stop, StopReason::Converged, "{shape:?}");
        assert!(
            info.iterations <= 20,
            "{shape:?}: {} iterations",
            info.iterations
        );
        // Symmetry of the V-cycle: uᵀ M v = vᵀ M u on the range.
        use ritz_linalg::Preconditioner;
        let u = RhsKind::WhiteNoise.generate(&p, 6);
        let (mut mu, mut mv) = (vec![0.0; u.len()], vec![0.0; u.len()]);
        mg.apply(&u, &mut mu);
        mg.apply(&b, &mut mv);
        let (a, c) = (vector::dot(&u, &mv), vector::dot(&b, &mu));
        assert!(
            (a - c).abs() <= 1e-10 * a.abs().max(c.abs()),
            "{shape:?}: {a} vs {c}"
        );
    }
}
