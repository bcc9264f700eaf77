//! Oracle tests: every iterative solver against faer's sparse Cholesky, Lanczos against
//! faer's dense eigenvalues, grid and CSR incomplete Cholesky against each other.

use ritz_krylov::deflation::{Deflation, deflated_pcg};
use ritz_krylov::direct::SparseCholesky;
use ritz_krylov::lanczos::{LanczosParams, lanczos};
use ritz_krylov::precond::{IcOptions, IncompleteCholesky, Jacobi};
use ritz_krylov::{FcdParams, KrylovError, SolveParams, StopReason, cg, fcd, pcg};
use ritz_linalg::{CsrMatrix, DenseMatrix, LinearOperator, Preconditioner, vector};
use ritz_pde::poisson::AssembledPoisson;
use ritz_pde::{
    CellFlag, GridIc0, GridMultigrid, IcVariant, MacGrid, MultigridParams, PoissonProblem,
    Precision, Scene, Walls,
};

/// A 3D box, open at the top, with a spherical obstacle and a few air cells.
fn obstacle_problem(n: usize, walls: Walls) -> PoissonProblem {
    let mut g = MacGrid::new(&[n, n, n], walls).unwrap();
    let c = n as f64 / 2.0;
    let r2 = (n as f64 * 0.2).powi(2);
    g.paint(CellFlag::Solid, |p| {
        (p[0] - c).powi(2) + (p[1] - c).powi(2) + (p[2] - c * 0.8).powi(2) < r2
    });
    g.set(1, 1, n - 1, CellFlag::Air);
    PoissonProblem::new(g).unwrap()
}

/// The default V-cycle of `p` in `precision`.
fn multigrid(p: &PoissonProblem, precision: Precision) -> GridMultigrid {
    let params = MultigridParams {
        precision,
        ..Default::default()
    };
    GridMultigrid::new(p, params).unwrap()
}

fn smooth_rhs(p: &PoissonProblem) -> Vec<f64> {
    let mut b: Vec<f64> = (0..p.num_cells())
        .map(|c| {
            let [i, j, k] = p.grid().coords(c);
            ((i as f64) * 0.3).sin() + ((j as f64) * 0.2 + (k as f64) * 0.1).cos()
        })
        .collect();
    p.prepare_rhs(&mut b).unwrap();
    b
}

fn rel_err(x: &[f64], y: &[f64]) -> f64 {
    let mut d = x.to_vec();
    vector::axpy(-1.0, y, &mut d);
    vector::norm2(&d) / vector::norm2(y)
}

fn tight() -> SolveParams {
    SolveParams {
        rtol: 1e-11,
        ..Default::default()
    }
}

#[test]
fn every_solver_matches_sparse_cholesky() {
    let p = obstacle_problem(12, Walls::closed());
    let asm = AssembledPoisson::new(&p);
    let bg = smooth_rhs(&p);
    let b = p.to_compact(&bg).unwrap();
    let exact = SparseCholesky::new(&asm.matrix, None)
        .unwrap()
        .solve(&b)
        .unwrap();
    let n = b.len();
    let check = |name: &str, x: &[f64]| {
        let e = rel_err(x, &exact);
        assert!(e < 1e-8, "{name}: relative error {e:e}");
    };
    let mut x = vec![0.0; n];
    cg(&asm, &b, &mut x, &tight(), &mut ()).unwrap();
    check("cg", &x);
    for (name, opts) in [("ic0", IcOptions::ic0()), ("mic0", IcOptions::mic0())] {
        let ic = IncompleteCholesky::new(&asm.matrix, opts).unwrap();
        let mut x = vec![0.0; n];
        pcg(&asm, &ic, &b, &mut x, &tight(), &mut ()).unwrap();
        check(name, &x);
        let mut x = vec![0.0; n];
        let fp = FcdParams {
            solve: tight(),
            ..Default::default()
        };
        fcd(&asm, &ic, &b, &mut x, &fp, &mut ()).unwrap();
        check("fcd", &x);
    }
    let jac = Jacobi::new(&asm).unwrap();
    let mut x = vec![0.0; n];
    pcg(&asm, &jac, &b, &mut x, &tight(), &mut ()).unwrap();
    check("jacobi", &x);
    // Matrix-free grid layout with the grid IC(0).
    let gic = GridIc0::new(&p, IcVariant::Ic0).unwrap();
    let mut xg = vec![0.0; p.num_cells()];
    pcg(&p, &gic, &bg, &mut xg, &tight(), &mut ()).unwrap();
    check("grid ic0", &p.to_compact(&xg).unwrap());
    // Deflated PCG with 8 Ritz vectors.
    let lz = lanczos(
        &asm,
        &b,
        &LanczosParams {
            steps: 60,
            ..Default::default()
        },
        &mut (),
    )
    .unwrap();
    let ritz = lz.ritz_pairs(0..8).unwrap();
    let defl = Deflation::new(&asm, ritz.vectors).unwrap();
    let mut x = vec![0.0; n];
    deflated_pcg(&asm, &jac, &defl, &b, &mut x, &tight(), &mut ()).unwrap();
    check("deflated", &x);
}

#[test]
fn grid_and_csr_incomplete_cholesky_agree() {
    for (dim, shape) in [(3, vec![9, 7, 6]), (2, vec![600, 5])] {
        let mut g = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
        g.paint(CellFlag::Solid, |p| {
            (p[0] - 4.0).powi(2) + (p[1] - 3.0).powi(2) < 3.0
        });
        g.set(2, 0, 0, CellFlag::Air);
        let p = PoissonProblem::new(g).unwrap();
        let a = p.assemble();
        for (gv, cv) in [
            (IcVariant::Ic0, IcOptions::ic0()),
            (IcVariant::mic0(), IcOptions::mic0()),
        ] {
            let grid = GridIc0::new(&p, gv).unwrap();
            let csr = IncompleteCholesky::new(
                &a,
                IcOptions {
                    block_rows: 5,
                    ..cv
                },
            )
            .unwrap();
            let r: Vec<f64> = (0..p.num_fluid())
                .map(|i| ((i * 7919) % 13) as f64 - 6.0)
                .collect();
            let mut zc = vec![0.0; r.len()];
            csr.apply(&r, &mut zc);
            let rg = p.to_grid(&r).unwrap();
            let mut zg = vec![f64::NAN; rg.len()];
            grid.apply(&rg, &mut zg);
            let zg = p.to_compact(&zg).unwrap();
            // The grid factor is stored in f32.
            assert!(
                rel_err(&zg, &zc) < 1e-6,
                "{dim}D {gv:?}: {}",
                rel_err(&zg, &zc)
            );
        }
    }
}

#[test]
fn preconditioners_are_symmetric() {
    let p = obstacle_problem(10, Walls::open_top(3));
    for v in [IcVariant::Ic0, IcVariant::mic0()] {
        let m = GridIc0::new(&p, v).unwrap();
        let mut x = vec![0.0; p.num_cells()];
        let mut y = x.clone();
        for (c, &f) in p.fluid_mask().iter().enumerate() {
            if f == 1 {
                x[c] = ((c * 31) % 17) as f64 - 8.0;
                y[c] = ((c * 17) % 11) as f64 - 5.0;
            }
        }
        let (mut mx, mut my) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        m.apply(&x, &mut mx);
        m.apply(&y, &mut my);
        let (a, b) = (vector::dot(&mx, &y), vector::dot(&x, &my));
        assert!((a - b).abs() < 1e-10 * a.abs().max(1.0));
        assert!(vector::dot(&mx, &x) > 0.0);
    }
}

#[test]
fn incomplete_cholesky_beats_cg_and_mic_beats_ic() {
    let p = obstacle_problem(24, Walls::open_top(3));
    let b = smooth_rhs(&p);
    let run = |m: Option<&GridIc0>| {
        let mut x = vec![0.0; b.len()];
        let params = SolveParams::default();
        match m {
            None => cg(&p, &b, &mut x, &params, &mut ()).unwrap().iterations,
            Some(m) => pcg(&p, m, &b, &mut x, &params, &mut ()).unwrap().iterations,
        }
    };
    let it_cg = run(None);
    let it_ic = run(Some(&GridIc0::new(&p, IcVariant::Ic0).unwrap()));
    let it_mic = run(Some(&GridIc0::new(&p, IcVariant::mic0()).unwrap()));
    assert!(2 * it_ic <= it_cg, "IC(0) {it_ic} vs CG {it_cg}");
    assert!(it_mic < it_ic, "MIC(0) {it_mic} vs IC(0) {it_ic}");
}

#[test]
fn all_neumann_scenes_converge() {
    let p = obstacle_problem(10, Walls::closed());
    // Remove the air cell: the whole box is floating.
    let mut g = p.grid().clone();
    g.set(1, 1, 9, CellFlag::Fluid);
    // Wall off a pocket: two floating regions.
    for j in 0..10 {
        for k in 0..10 {
            g.set(2, j, k, CellFlag::Solid);
        }
    }
    let p = PoissonProblem::new(g).unwrap();
    assert_eq!(p.region_counts().1, 2);
    let b = smooth_rhs(&p);
    for solver in ["cg", "mic0", "fcd"] {
        let mut x = vec![0.0; b.len()];
        let info = match solver {
            "cg" => cg(&p, &b, &mut x, &tight(), &mut ()),
            "mic0" => pcg(
                &p,
                &GridIc0::new(&p, IcVariant::mic0()).unwrap(),
                &b,
                &mut x,
                &tight(),
                &mut (),
            ),
            _ => fcd(
                &p,
                &GridIc0::new(&p, IcVariant::Ic0).unwrap(),
                &b,
                &mut x,
                &FcdParams {
                    solve: tight(),
                    ..Default::default()
                },
                &mut (),
            ),
        }
        .unwrap();
        assert_eq!(info.stop, StopReason::Converged, "{solver}");
        let mut r = vec![0.0; b.len()];
        ritz_linalg::operator::residual(&p, &b, &x, &mut r);
        assert!(vector::norm2(&r) < 1e-9 * vector::norm2(&b), "{solver}");
    }
    // The reference direct solve pins one cell per floating region.
    let asm = AssembledPoisson::new(&p);
    let bc = p.to_compact(&b).unwrap();
    let x = SparseCholesky::new(&asm.matrix, asm.null_space.as_ref())
        .unwrap()
        .solve(&bc)
        .unwrap();
    let mut xi = vec![0.0; bc.len()];
    cg(&asm, &bc, &mut xi, &tight(), &mut ()).unwrap();
    assert!(rel_err(&xi, &x) < 1e-8);
}

#[test]
fn lanczos_extreme_ritz_values_match_dense_eigenvalues() {
    let p = obstacle_problem(16, Walls::open_top(3));
    let a = p.assemble();
    let n = a.nrows();
    let dense = DenseMatrix::from_operator(&a)
        .symmetric_eigenvalues()
        .unwrap();
    let start: Vec<f64> = (0..n).map(|i| 1.0 + ((i * 7) % 5) as f64).collect();
    let lz = lanczos(
        &a,
        &start,
        &LanczosParams {
            steps: 400,
            ..Default::default()
        },
        &mut (),
    )
    .unwrap();
    let ritz = lz.ritz_values().unwrap();
    for (got, want) in [
        (ritz[0], dense[0]),
        (ritz[1], dense[1]),
        (ritz[ritz.len() - 1], dense[n - 1]),
        (ritz[ritz.len() - 2], dense[n - 2]),
    ] {
        assert!(
            ((got - want) / want).abs() < 1e-8,
            "Ritz {got} vs eigenvalue {want}"
        );
    }
    // Ritz vectors satisfy their residual bounds.
    let pairs = lz.ritz_pairs([0, lz.steps() - 1]).unwrap();
    for (k, y) in pairs.vectors.iter().enumerate() {
        let mut ay = vec![0.0; n];
        a.apply(y, &mut ay);
        vector::axpy(-pairs.values[k], y, &mut ay);
        assert!(vector::norm2(&ay) <= pairs.residual_bounds[k] * 1.01 + 1e-10);
    }
}

#[test]
fn fcd_is_invariant_to_preconditioner_scale_and_matches_pcg() {
    struct Scaled<'a>(&'a GridIc0, f64);
    impl Preconditioner for Scaled<'_> {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn apply(&self, r: &[f64], z: &mut [f64]) {
            self.0.apply(r, z);
            vector::scale(self.1, z);
        }
    }
    let p = obstacle_problem(16, Walls::open_top(3));
    let b = smooth_rhs(&p);
    let m = GridIc0::new(&p, IcVariant::Ic0).unwrap();
    let fp = FcdParams::default();
    let its: Vec<usize> = [1.0, 1e-3, 1e4]
        .iter()
        .map(|&s| {
            let mut x = vec![0.0; b.len()];
            fcd(&p, &Scaled(&m, s), &b, &mut x, &fp, &mut ())
                .unwrap()
                .iterations
        })
        .collect();
    assert!(its.iter().all(|&i| i == its[0]), "{its:?}");
    let mut x = vec![0.0; b.len()];
    let it_pcg = pcg(&p, &m, &b, &mut x, &SolveParams::default(), &mut ())
        .unwrap()
        .iterations;
    assert!(
        its[0].abs_diff(it_pcg) <= 2,
        "fcd {} vs pcg {it_pcg}",
        its[0]
    );
}

#[test]
fn non_spd_matrix_gives_typed_errors() {
    // Symmetric but indefinite.
    let t = [
        (0, 0, 2.0),
        (1, 1, -1.0),
        (2, 2, 3.0),
        (0, 1, 0.5),
        (1, 0, 0.5),
    ];
    let a = CsrMatrix::from_triplets(3, 3, &t).unwrap();
    let b = [1.0, 1.0, 1.0];
    let mut x = [0.0; 3];
    assert!(matches!(
        cg(&a, &b, &mut x, &SolveParams::default(), &mut ()),
        Err(KrylovError::NotPositiveDefinite { .. })
    ));
    assert!(IncompleteCholesky::new(&a, IcOptions::ic0()).is_err());
    assert!(SparseCholesky::new(&a, None).is_err());
    assert!(Jacobi::new(&a).is_err());
}

#[test]
fn mgpcg_converges_fast_on_air_solid_and_neumann_scenes() {
    for dim in [2, 3] {
        let n = if dim == 2 { 128 } else { 32 };
        for scene in [
            Scene::Spheres,
            Scene::Pillars,
            Scene::Closed,
            Scene::Organic,
        ] {
            let p = PoissonProblem::new(scene.generate(dim, n, 5).unwrap()).unwrap();
            let b = ritz_pde::rhs::RhsKind::SmoothDivergence.generate(&p, 5);
            for precision in [Precision::F64, Precision::F32] {
                let mg = multigrid(&p, precision);
                let mut x = vec![0.0; b.len()];
                let params = SolveParams {
                    rtol: 1e-8,
                    ..Default::default()
                };
                let info = pcg(&p, &mg, &b, &mut x, &params, &mut ()).unwrap();
                assert_eq!(info.stop, StopReason::Converged);
                assert!(
                    info.iterations <= 25,
                    "{scene} {dim}D {precision:?}: {} iterations",
                    info.iterations
                );
                let mut r = vec![0.0; b.len()];
                ritz_linalg::operator::residual(&p, &b, &x, &mut r);
                if let Some(ns) = p.null_space_grid() {
                    ritz_linalg::NullSpace::project(ns, &mut r);
                }
                assert!(
                    vector::norm2(&r) < 1e-7 * vector::norm2(&b),
                    "{scene} {dim}D"
                );
            }
        }
    }
}

/// Fused MGPCG (`pcg_fused` with the multigrid's own kernels) is the iteration of `pcg` with
/// the V-cycle as a preconditioner, in another summation order: same iterations (±1 where a
/// residual sits at the threshold), residual histories and solutions that agree, the true
/// residual at the tolerance — on solid, air and all-Neumann (singular) scenes, from a zero
/// and from a non-zero initial guess with garbage outside the fluid.
#[test]
fn fused_mgpcg_is_the_iteration_of_pcg() {
    use ritz_krylov::pcg_fused;
    for dim in [2, 3] {
        let n = if dim == 2 { 96 } else { 24 };
        for scene in [Scene::Spheres, Scene::Closed, Scene::Organic] {
            let p = PoissonProblem::new(scene.generate(dim, n, 3).unwrap()).unwrap();
            let b = ritz_pde::rhs::RhsKind::WhiteNoise.generate(&p, 3);
            for precision in [Precision::F64, Precision::F32] {
                let mg = multigrid(&p, precision);
                let params = SolveParams {
                    rtol: 1e-8,
                    ..Default::default()
                };
                for start in [0.0, 0.5] {
                    let x0: Vec<f64> = (0..b.len())
                        .map(|c| match p.fluid_mask()[c] {
                            1 => start * ((c % 7) as f64 - 3.0),
                            _ => 1e300 * start,
                        })
                        .collect();
                    let (mut x1, mut x2) = (x0.clone(), x0.clone());
                    let want = pcg(&p, &mg, &b, &mut x1, &params, &mut ()).unwrap();
                    let got = pcg_fused(
                        &p,
                        &mut mg.fused(&p).unwrap(),
                        &b,
                        &mut x2,
                        &params,
                        &mut (),
                    )
                    .unwrap();
                    let what = format!("{scene} {dim}D {precision:?} start {start}");
                    assert_eq!(got.stop, StopReason::Converged, "{what}");
                    assert!(got.iterations.abs_diff(want.iterations) <= 1, "{what}");
                    for (g, w) in got
                        .residual_history
                        .iter()
                        .zip(&want.residual_history)
                        .take(4)
                    {
                        assert!((g - w).abs() <= 1e-3 * w, "{what}: {g} vs {w}");
                    }
                    // Compare on the fluid cells (both leave the rest as given).
                    let fluid = |x: &[f64]| p.to_compact(x).unwrap();
                    assert!(rel_err(&fluid(&x2), &fluid(&x1)) < 1e-6, "{what}");
                    let mut r = vec![0.0; b.len()];
                    ritz_linalg::operator::residual(&p, &b, &x2, &mut r);
                    if let Some(ns) = p.null_space_grid() {
                        ritz_linalg::NullSpace::project(ns, &mut r);
                    }
                    assert!(vector::norm2(&r) < 2e-8 * vector::norm2(&b), "{what}");
                }
            }
        }
    }
}

/// A singular system's right-hand side with a null-space component (a source that does not
/// sum to zero over a closed region) is projected: CG, PCG and fused MGPCG converge to the
/// solution of the projected system; a consistent one (within a thousandth of the threshold)
/// is used as it is and gives that solution too.
#[test]
fn singular_systems_solve_the_projected_right_hand_side() {
    use ritz_krylov::pcg_fused;
    let p = PoissonProblem::new(Scene::Closed.generate(3, 16, 1).unwrap()).unwrap();
    let ns = p.null_space_grid().expect("a closed scene floats");
    let consistent = ritz_pde::rhs::RhsKind::WhiteNoise.generate(&p, 1);
    // The same source plus 1 on every fluid cell: a component in the null space.
    let shifted: Vec<f64> = consistent
        .iter()
        .zip(p.fluid_mask())
        .map(|(b, &f)| b + f as f64)
        .collect();
    assert!(ritz_linalg::NullSpace::component_sq(ns, &shifted) > 1.0);
    let params = SolveParams {
        rtol: 1e-9,
        ..Default::default()
    };
    let mg = multigrid(&p, Precision::F64);
    let mut want = vec![0.0; consistent.len()];
    assert!(
        cg(&p, &consistent, &mut want, &params, &mut ())
            .unwrap()
            .converged()
    );
    for b in [&consistent, &shifted] {
        let mut x = vec![0.0; b.len()];
        assert!(cg(&p, b, &mut x, &params, &mut ()).unwrap().converged());
        assert!(rel_err(&x, &want) < 1e-7);
        let mut x = vec![0.0; b.len()];
        assert!(
            pcg(&p, &mg, b, &mut x, &params, &mut ())
                .unwrap()
                .converged()
        );
        assert!(rel_err(&x, &want) < 1e-7);
        let mut x = vec![0.0; b.len()];
        let info = pcg_fused(&p, &mut mg.fused(&p).unwrap(), b, &mut x, &params, &mut ());
        assert!(info.unwrap().converged());
        assert!(rel_err(&x, &want) < 1e-7);
    }
}

#[test]
fn fused_mgpcg_rejects_bad_input() {
    use ritz_krylov::pcg_fused;
    let p = obstacle_problem(12, Walls::open_top(3));
    let mg = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
    // Another problem of the same shape is not the one the hierarchy was built on.
    let other = obstacle_problem(12, Walls::closed());
    assert!(matches!(
        mg.fused(&other),
        Err(ritz_pde::PdeError::Unsupported(_))
    ));
    // A problem built again from the same grid is (its cells are compared).
    assert!(mg.fused(&obstacle_problem(12, Walls::open_top(3))).is_ok());
    let mut b = smooth_rhs(&p);
    let mut x = vec![0.0; b.len()];
    b[7] = f64::NAN;
    let r = pcg_fused(
        &p,
        &mut mg.fused(&p).unwrap(),
        &b,
        &mut x,
        &SolveParams::default(),
        &mut (),
    );
    assert!(matches!(r, Err(KrylovError::Linalg(_))), "{r:?}");
    // A wrong length is a shape error, not a panic.
    let mut short = vec![0.0; b.len() - 1];
    let b = smooth_rhs(&p);
    let r = pcg_fused(
        &p,
        &mut mg.fused(&p).unwrap(),
        &b,
        &mut short,
        &SolveParams::default(),
        &mut (),
    );
    assert!(matches!(r, Err(KrylovError::Linalg(_))), "{r:?}");
}

/// Dense Gaussian elimination with partial pivoting (the independent reference for
/// indefinite systems).
fn dense_lu_solve(a: &CsrMatrix, b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut m = DenseMatrix::from_operator(a).data().to_vec();
    let mut x = b.to_vec();
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| m[i * n + k].abs().total_cmp(&m[j * n + k].abs()))
            .unwrap();
        for c in 0..n {
            m.swap(k * n + c, p * n + c);
        }
        x.swap(k, p);
        for i in k + 1..n {
            let l = m[i * n + k] / m[k * n + k];
            for c in k..n {
                m[i * n + c] -= l * m[k * n + c];
            }
            x[i] -= l * x[k];
        }
    }
    for k in (0..n).rev() {
        let s: f64 = (k + 1..n).map(|c| m[k * n + c] * x[c]).sum();
        x[k] = (x[k] - s) / m[k * n + k];
    }
    x
}

#[test]
fn kkt_solvers_match_a_dense_lu() {
    use ritz_krylov::{Sketch, SketchParams, minres, sketch_and_project};
    // [[H, Jᵀ], [J, 0]]: H SPD (a 1D Laplacian plus a diagonal), J 8 × 30 of full rank.
    let (n, m) = (30, 8);
    let mut t = Vec::new();
    for i in 0..n {
        t.push((i, i, 2.5 + 0.1 * (i % 4) as f64));
        if i + 1 < n {
            t.push((i, i + 1, -1.0));
            t.push((i + 1, i, -1.0));
        }
    }
    for r in 0..m {
        for (j, v) in [(3 * r, 1.0), (3 * r + 1, -0.5), ((7 * r + 5) % n, 0.25)] {
            t.push((n + r, j, v));
            t.push((j, n + r, v));
        }
    }
    let a = CsrMatrix::from_triplets(n + m, n + m, &t).unwrap();
    let b: Vec<f64> = (0..n + m).map(|i| ((i * 5) % 7) as f64 - 3.0).collect();
    let want = dense_lu_solve(&a, &b);
    let params = SolveParams {
        rtol: 1e-11,
        max_iters: 2_000_000,
        ..Default::default()
    };
    let mut x = vec![0.0; n + m];
    let info = minres(&a, &b, &mut x, &params, &mut ()).unwrap();
    assert_eq!(info.stop, StopReason::Converged);
    assert!(rel_err(&x, &want) < 1e-9, "minres {:e}", rel_err(&x, &want));
    for sketch in [
        Sketch::Row,
        Sketch::Block { size: 6 },
        Sketch::Gaussian { size: 6 },
        Sketch::Count { size: 6 },
    ] {
        let mut x = vec![0.0; n + m];
        let sp = SketchParams {
            sketch,
            solve: params,
            check_every: None,
            seed: 7,
        };
        let info = sketch_and_project(&a, &b, &mut x, &sp, &mut ()).unwrap();
        assert_eq!(info.stop, StopReason::Converged, "{sketch:?}");
        assert!(
            rel_err(&x, &want) < 1e-8,
            "{sketch:?}: {:e}",
            rel_err(&x, &want)
        );
    }
}
