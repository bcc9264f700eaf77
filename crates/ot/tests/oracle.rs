//! Oracle tests against independent references: brute force over permutations, LP duality
//! certificates, and values computed by POT (`tests/fixtures/pot.json`, made by
//! `tests/fixtures/make_pot_fixtures.py`).

use ritz_linalg::CsrMatrix;
use ritz_ot::exact::emd_ssp;
use ritz_ot::{
    EpsilonScaling, GroundCost, OtError, OtProblem, OtSolution, SinkhornParams, SnsParams,
    StopReason, emd, sinkhorn, sinkhorn_epsilon_scaling, sinkhorn_log, sinkhorn_newton_sparse,
    sinkhorn_stabilized,
};
use ritz_ot::{NetworkSimplexParams, certificate, certificate_sparse, emd_sparse};
use serde_json::Value;

fn random_problem(n: usize, m: usize, seed: u64) -> OtProblem {
    // A small LCG: independent of the crate's generator.
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut a: Vec<f64> = (0..n).map(|_| 0.1 + next()).collect();
    let mut b: Vec<f64> = (0..m).map(|_| 0.1 + next()).collect();
    let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    a.iter_mut().for_each(|v| *v /= sa);
    b.iter_mut().for_each(|v| *v /= sb);
    let c = (0..n * m).map(|_| next()).collect();
    OtProblem::new(a, b, c).unwrap()
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for k in 0..=p.len() {
            let mut q = p.clone();
            q.insert(k, n - 1);
            out.push(q);
        }
    }
    out
}

/// Checks an exact solution's optimality certificate: primal feasibility, dual feasibility
/// `f_i + g_j ≤ C_ij`, complementary slackness and a zero duality gap.
fn check_certificate(p: &OtProblem, s: &OtSolution) {
    let (n, m) = (p.n(), p.m());
    assert_eq!(s.stop, StopReason::Converged);
    assert!(
        s.marginal_error() < 1e-13,
        "marginals {:e}",
        s.marginal_error()
    );
    for i in 0..n {
        for j in 0..m {
            let slack = p.cost()[i * m + j] - s.f[i] - s.g[j];
            assert!(slack > -1e-12, "dual infeasible at ({i},{j}): {slack:e}");
            if s.plan.get(i, j) > 1e-14 {
                assert!(slack.abs() < 1e-12, "not complementary at ({i},{j})");
            }
            assert!(s.plan.get(i, j) >= 0.0);
        }
    }
    assert!(s.duality_gap().abs() < 1e-12, "gap {:e}", s.duality_gap());
}

#[test]
fn exact_matches_brute_force_on_assignments() {
    for n in 1..=6 {
        for seed in 0..4 {
            let p = OtProblem::random_assignment(n, seed).unwrap();
            let best = permutations(n)
                .iter()
                .map(|perm| (0..n).map(|i| p.cost()[i * n + perm[i]]).sum::<f64>() / n as f64)
                .fold(f64::INFINITY, f64::min);
            let s = emd(&p).unwrap();
            assert!(
                (s.transport_cost - best).abs() < 1e-14,
                "n={n}: {} vs {best}",
                s.transport_cost
            );
            check_certificate(&p, &s);
        }
    }
}

#[test]
fn exact_general_marginals_certificate_and_sparsity() {
    for (n, m, seed) in [(7, 5, 1), (12, 30, 2), (40, 40, 3)] {
        let p = random_problem(n, m, seed);
        let s = emd(&p).unwrap();
        check_certificate(&p, &s);
        let nnz = s.plan.nnz();
        assert!(
            nnz < n + m,
            "a vertex has at most n + m − 1 non-zeros, got {nnz}"
        );
        let sp = s.plan.sparse.as_ref().expect("the exact plan is sparse");
        assert_eq!(sp.nnz(), nnz);
        let dense = s.plan.to_dense().unwrap();
        assert_eq!(dense.iter().filter(|&&v| v > 0.0).count(), nnz);
    }
}

/// Runs every entropic solver on `p` at `eta` to `tol`.
fn all_entropic(p: &OtProblem, eta: f64, tol: f64) -> Vec<(&'static str, OtSolution)> {
    let sp = SinkhornParams {
        eta,
        tol,
        max_iters: 200_000,
        time_limit_s: None,
    };
    let mut out = vec![
        ("log", sinkhorn_log(p, &sp, &mut ()).unwrap()),
        ("stabilized", sinkhorn_stabilized(p, &sp, &mut ()).unwrap()),
        (
            "eps-scaling",
            sinkhorn_epsilon_scaling(p, &sp, &EpsilonScaling::default(), &mut ()).unwrap(),
        ),
        (
            "sns",
            sinkhorn_newton_sparse(
                p,
                &SnsParams {
                    eta,
                    tol,
                    ..Default::default()
                },
                &mut (),
            )
            .unwrap(),
        ),
    ];
    if let Ok(s) = sinkhorn(p, &sp, &mut ()) {
        out.push(("scaling", s));
    }
    out
}

#[test]
fn pot_fixtures() {
    let text = include_str!("fixtures/pot.json");
    let fx: Value = serde_json::from_str(text).unwrap();
    let vec = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let mat = |v: &Value| -> Vec<f64> { v.as_array().unwrap().iter().flat_map(&vec).collect() };
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let a = vec(&case["a"]);
        let b = vec(&case["b"]);
        let cost = mat(&case["cost"]);
        let p = match case["metric"].as_str() {
            Some(metric) => {
                let ground = match metric {
                    "sqeuclidean" => GroundCost::SquaredEuclidean,
                    "cityblock" => GroundCost::L1,
                    "euclidean" => GroundCost::EuclideanPower { power: 1.0 },
                    other => panic!("unknown metric {other}"),
                };
                let x = &case["points_x"];
                let dim = x[0].as_array().unwrap().len();
                let p = OtProblem::from_points(&mat(x), &mat(&case["points_y"]), dim, a, b, ground)
                    .unwrap();
                let worst = p
                    .cost()
                    .iter()
                    .zip(&cost)
                    .map(|(u, v)| (u - v).abs())
                    .fold(0.0, f64::max);
                assert!(
                    worst < 1e-12,
                    "{name}: our {metric} cost differs from ot.dist by {worst:e}"
                );
                p
            }
            None => OtProblem::new(a, b, cost).unwrap(),
        };
        let exact = emd(&p).unwrap();
        let emd_cost = case["emd_cost"].as_f64().unwrap();
        assert!(
            (exact.transport_cost - emd_cost).abs() < 1e-12,
            "{name}: emd {} vs POT {emd_cost}",
            exact.transport_cost
        );
        check_certificate(&p, &exact);

        let eta = 1.0 / case["reg"].as_f64().unwrap();
        let pot_plan = mat(&case["sinkhorn_plan"]);
        let pot_cost = case["sinkhorn_cost"].as_f64().unwrap();
        for (solver, s) in all_entropic(&p, eta, 1e-13) {
            assert_eq!(s.stop, StopReason::Converged, "{name}/{solver}");
            let worst = s
                .plan
                .dense
                .as_ref()
                .unwrap()
                .iter()
                .zip(&pot_plan)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-10,
                "{name}/{solver}: plan differs from POT by {worst:e}"
            );
            assert!(
                (s.transport_cost - pot_cost).abs() < 1e-10,
                "{name}/{solver}: cost"
            );
            assert!(
                s.duality_gap().abs() < 1e-10,
                "{name}/{solver}: gap {:e}",
                s.duality_gap()
            );
            assert!(
                s.f.iter().chain(&s.g).all(|v| v.is_finite()),
                "{name}/{solver}: potentials"
            );
            // The entropic cost lies above the exact one.
            assert!(s.transport_cost >= exact.transport_cost - 1e-12);
        }
    }
}

#[test]
fn zero_mass_bins_get_zero_rows() {
    let mut a = vec![0.25, 0.0, 0.25, 0.5];
    let b = vec![0.5, 0.0, 0.5];
    let c: Vec<f64> = (0..12).map(|k| ((k * 7) % 5) as f64 / 5.0).collect();
    a[3] = 0.5;
    let p = OtProblem::new(a, b, c).unwrap();
    for (solver, s) in all_entropic(&p, 20.0, 1e-12) {
        assert_eq!(s.stop, StopReason::Converged, "{solver}");
        for j in 0..3 {
            assert_eq!(s.plan.get(1, j), 0.0, "{solver}");
        }
        for i in 0..4 {
            assert_eq!(s.plan.get(i, 1), 0.0, "{solver}");
        }
        assert!(s.f.iter().chain(&s.g).all(|v| v.is_finite()), "{solver}");
    }
    check_certificate(&p, &emd(&p).unwrap());
}

#[test]
fn stable_at_large_eta() {
    let p = OtProblem::random_assignment(60, 7).unwrap();
    let exact = emd(&p).unwrap();
    for eta in [1200.0, 20_000.0] {
        let params = SnsParams {
            eta,
            tol: 1e-11,
            max_newton_iters: 100,
            ..Default::default()
        };
        let sns = sinkhorn_newton_sparse(&p, &params, &mut ()).unwrap();
        assert!(
            sns.plan
                .dense
                .as_ref()
                .unwrap()
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0),
            "η = {eta}"
        );
        assert!(
            sns.f.iter().chain(&sns.g).all(|v| v.is_finite()),
            "η = {eta}"
        );
        assert!(
            sns.marginal_error() < sns.history[0].marginal_error,
            "η = {eta}: no progress"
        );
        // Converged at both η (the second through the default η-continuation).
        assert_eq!(sns.stop, StopReason::Converged, "η = {eta}");
        assert!(
            sns.iterations <= 80,
            "η = {eta}: {} iterations",
            sns.iterations
        );
        assert!(
            sns.marginal_error() <= 1e-11 * 1.0001,
            "η = {eta}: {:e}",
            sns.marginal_error()
        );
        assert!(
            sns.duality_gap().abs() < 1e-12,
            "η = {eta}: gap {:e}",
            sns.duality_gap()
        );
        assert!(
            sns.history
                .windows(2)
                .all(|w| w[1].iteration > w[0].iteration)
        );
        // Entropic OT approaches exact OT: 0 ≤ ⟨C,P_η⟩ − OT ≤ log(n·m)/η.
        let excess = sns.transport_cost - exact.transport_cost;
        assert!(
            excess > -1e-12 && excess < (3600f64).ln() / eta,
            "η = {eta}: excess {excess:e}"
        );
        if eta > 10_000.0 {
            // Without continuation the paper's single stage stalls far from the solution.
            let single = SnsParams {
                continuation: None,
                ..params
            };
            let s1 = sinkhorn_newton_sparse(&p, &single, &mut ()).unwrap();
            assert!(
                s1.marginal_error() > 1e-6,
                "single stage reached {:e}",
                s1.marginal_error()
            );
        }
        // The Sinkhorn variants stay finite (their convergence here takes 10⁵+ iterations).
        let sp = SinkhornParams {
            eta,
            tol: 0.0,
            max_iters: 200,
            time_limit_s: None,
        };
        for s in [
            sinkhorn_log(&p, &sp, &mut ()).unwrap(),
            sinkhorn_stabilized(&p, &sp, &mut ()).unwrap(),
        ] {
            assert_eq!(s.stop, StopReason::MaxIterations);
            assert!(
                s.plan
                    .dense
                    .as_ref()
                    .unwrap()
                    .iter()
                    .all(|v| v.is_finite() && *v >= 0.0)
            );
            assert!(s.f.iter().chain(&s.g).all(|v| v.is_finite()));
            assert!(s.marginal_error() < sns.history[0].marginal_error * 10.0 + 1.0);
        }
        // exp(−ηC) underflows on whole rows: the scaling form says so instead of returning NaN.
        if eta > 10_000.0 {
            assert!(matches!(
                sinkhorn(&p, &sp, &mut ()),
                Err(OtError::KernelUnderflow { .. })
            ));
        }
    }
}

#[test]
fn history_and_parameters() {
    let p = random_problem(20, 15, 9);
    let sp = SinkhornParams {
        eta: 50.0,
        tol: 1e-10,
        max_iters: 10_000,
        time_limit_s: None,
    };
    let s = sinkhorn_log(&p, &sp, &mut ()).unwrap();
    assert_eq!(s.history.len(), s.iterations);
    assert!(
        s.history
            .windows(2)
            .all(|w| w[1].elapsed_s >= w[0].elapsed_s && w[1].iteration == w[0].iteration + 1)
    );
    assert!(s.history.last().unwrap().marginal_error <= 1e-10);
    let capped = sinkhorn_log(&p, &SinkhornParams { max_iters: 3, ..sp }, &mut ()).unwrap();
    assert_eq!(
        (capped.iterations, capped.stop),
        (3, StopReason::MaxIterations)
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = sinkhorn_log(&p, &SinkhornParams { eta: bad, ..sp }, &mut ()).unwrap_err();
        assert!(matches!(e, OtError::InvalidParameter(_)));
        let e = sinkhorn_newton_sparse(
            &p,
            &SnsParams {
                eta: bad,
                ..Default::default()
            },
            &mut (),
        )
        .unwrap_err();
        assert!(matches!(e, OtError::InvalidParameter(_)));
    }
    assert!(matches!(
        sinkhorn_log(&p, &SinkhornParams { max_iters: 0, ..sp }, &mut ()),
        Err(OtError::InvalidParameter(_))
    ));
}

#[test]
fn grid_densities_w1_and_w2() {
    use ritz_ot::GridDensity;
    // A unit mass moved by one cell to the right on a 4 × 4 grid: W1 = 1/4, W2² = 1/16.
    let mut a = vec![0.0; 16];
    let mut b = vec![0.0; 16];
    a[5] = 1.0;
    b[6] = 1.0;
    let g = |v: Vec<f64>| GridDensity {
        rows: 4,
        cols: 4,
        values: v,
    };
    let w1 = emd(&OtProblem::from_grids(
        &g(a.clone()),
        &g(b.clone()),
        GroundCost::EuclideanPower { power: 1.0 },
    )
    .unwrap())
    .unwrap();
    assert!((w1.transport_cost - 0.25).abs() < 1e-15);
    let w2 =
        emd(&OtProblem::from_grids(&g(a), &g(b), GroundCost::SquaredEuclidean).unwrap()).unwrap();
    assert!((w2.transport_cost - 0.0625).abs() < 1e-15);
    assert!(matches!(
        OtProblem::from_grids(&g(vec![1.0; 15]), &g(vec![1.0; 16]), GroundCost::L1),
        Err(OtError::Linalg(ritz_linalg::LinalgError::Shape { .. }))
    ));
}

/// Masses and costs of a test problem: `kind` 0 random reals, 1 integer costs with ties and
/// equal masses (degenerate vertices), 2 random with zero-mass bins.
fn problem_of_kind(n: usize, m: usize, kind: u64, seed: u64) -> OtProblem {
    let p = random_problem(n, m, seed);
    let (mut a, mut b, mut c) = (p.source().to_vec(), p.target().to_vec(), p.cost().to_vec());
    if kind == 1 {
        a = vec![1.0 / n as f64; n];
        b = vec![1.0 / m as f64; m];
        c.iter_mut().for_each(|v| *v = (*v * 5.0).floor());
    }
    if kind == 2 && n > 2 && m > 2 {
        a[0] = 0.0;
        b[m / 2] = 0.0;
        let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
        b.iter_mut().for_each(|v| *v *= sa / sb);
    }
    OtProblem::new(a, b, c).unwrap()
}

#[test]
fn network_simplex_matches_successive_shortest_paths() {
    for (n, m) in [(1, 1), (1, 6), (5, 1), (3, 3), (10, 17), (25, 8), (60, 60)] {
        for kind in 0..3 {
            for seed in 0..3 {
                let p = problem_of_kind(n, m, kind, 100 * seed + kind);
                let ssp = emd_ssp(&p).unwrap();
                for block in [None, Some(1), Some(7)] {
                    let params = NetworkSimplexParams {
                        block_size: block,
                        ..Default::default()
                    };
                    let s = ritz_ot::emd_with(&p, &params).unwrap();
                    assert_eq!(s.stop, StopReason::Converged);
                    assert!(
                        (s.transport_cost - ssp.transport_cost).abs()
                            <= 1e-12 * ssp.transport_cost.abs().max(1.0),
                        "{n}×{m} kind {kind}: {} vs SSP {}",
                        s.transport_cost,
                        ssp.transport_cost
                    );
                    assert!(
                        s.plan.nnz() < n + m,
                        "a vertex: at most n + m − 1 non-zeros"
                    );
                    check_certificate(&p, &s);
                    let cert = certificate(&p, &s);
                    assert!(cert.holds(1e-12, p.mass()), "{cert:?}");
                }
            }
        }
    }
}

#[test]
fn sparse_support_equals_forbidding_pairs() {
    for (n, m, seed) in [(6, 6, 1), (20, 30, 2), (45, 35, 3)] {
        let p = random_problem(n, m, seed);
        // Each row keeps about a third of its pairs plus two "diagonals" (feasible).
        let mut triplets = Vec::new();
        let mut forbidden = p.cost().to_vec();
        for i in 0..n {
            for j in 0..m {
                let keep = (i * 7 + j * 13 + seed as usize).is_multiple_of(3)
                    || j == i % m
                    || j == (i + 1) % m
                    || i == j % n;
                if keep {
                    triplets.push((i, j, p.cost()[i * m + j]));
                } else {
                    forbidden[i * m + j] = 1e3;
                }
            }
        }
        let support = CsrMatrix::from_triplets(n, m, &triplets).unwrap();
        let s = emd_sparse(p.source(), p.target(), &support, &Default::default()).unwrap();
        let dense = OtProblem::new(p.source().to_vec(), p.target().to_vec(), forbidden).unwrap();
        let ssp = emd_ssp(&dense).unwrap();
        assert!(ssp.transport_cost < 1e2, "the oracle used a forbidden pair");
        assert!(
            (s.transport_cost - ssp.transport_cost).abs() < 1e-12,
            "{} vs {}",
            s.transport_cost,
            ssp.transport_cost
        );
        let cert = certificate_sparse(p.source(), p.target(), &support, &s);
        assert!(cert.holds(1e-12, 1.0), "{cert:?}");
        s.plan
            .for_each(|i, j, v| assert!(v == 0.0 || support.get(i, j) == p.cost()[i * m + j]));
    }
}

#[test]
fn sparse_support_errors() {
    // Both sources may only ship to sink 0, which takes half the mass.
    let c = CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0), (1, 0, 1.0)]).unwrap();
    assert!(matches!(
        emd_sparse(&[0.5, 0.5], &[0.5, 0.5], &c, &Default::default()),
        Err(OtError::Infeasible { .. })
    ));
    // Shape and histogram errors.
    let c = CsrMatrix::from_triplets(2, 3, &[(0, 0, 1.0)]).unwrap();
    assert!(matches!(
        emd_sparse(&[0.5, 0.5], &[0.5, 0.5], &c, &Default::default()),
        Err(OtError::Linalg(_))
    ));
    let c = CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0), (1, 1, 1.0)]).unwrap();
    assert!(matches!(
        emd_sparse(&[0.5, f64::NAN], &[0.5, 0.5], &c, &Default::default()),
        Err(OtError::Linalg(_))
    ));
    assert!(matches!(
        emd_sparse(&[0.5, 0.5], &[0.5, 0.7], &c, &Default::default()),
        Err(OtError::MassMismatch { .. })
    ));
}

#[test]
fn on_the_fly_costs_give_the_stored_results() {
    use ritz_ot::{CloudCosts, CostScale, PointClouds, sinkhorn_log_on_the_fly, sns_on_the_fly};
    let clouds = PointClouds::clustered(120, 90, 2, 5).unwrap();
    let lazy =
        CloudCosts::new(clouds.clone(), GroundCost::SquaredEuclidean, CostScale::Max).unwrap();
    let dense = clouds
        .problem(GroundCost::SquaredEuclidean, CostScale::Max)
        .unwrap();
    let sp = SinkhornParams {
        eta: 80.0,
        tol: 1e-10,
        max_iters: 100_000,
        time_limit_s: None,
    };
    let a = sinkhorn_log(&dense, &sp, &mut ()).unwrap();
    let b = sinkhorn_log_on_the_fly(&lazy, &sp, &mut ()).unwrap();
    assert_eq!(b.stop, StopReason::Converged);
    assert!(b.plan.is_implicit() && b.plan.to_dense().is_err());
    assert!(
        a.iterations.abs_diff(b.iterations) <= 1,
        "{} vs {}",
        a.iterations,
        b.iterations
    );
    let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(u, v)| (u - v).abs() < 1e-9);
    assert!(close(&a.f, &b.f) && close(&a.g, &b.g));
    assert!((a.transport_cost - b.transport_cost).abs() < 1e-12);
    assert!((a.dual_value - b.dual_value).abs() < 1e-12);
    assert!((a.marginal_error() - b.marginal_error()).abs() < 1e-12);
    let params = SnsParams {
        eta: 80.0,
        tol: 1e-11,
        ..Default::default()
    };
    let a = sinkhorn_newton_sparse(&dense, &params, &mut ()).unwrap();
    let b = sns_on_the_fly(&lazy, &params, &mut ()).unwrap();
    assert_eq!(b.stop, StopReason::Converged);
    assert!(b.marginal_error() <= 1e-11);
    assert!((a.transport_cost - b.transport_cost).abs() < 1e-10);
    assert!(b.duality_gap().abs() < 1e-9, "gap {:e}", b.duality_gap());
    let stats = b.sns.unwrap();
    assert!(stats.newton_iterations > 0 && stats.hessian_nnz.iter().all(|&k| k > 0));
    // A Hessian cap far below what this dense plan needs: Newton stalls at the cap, the
    // Sinkhorn fallback finishes the job, and the cap holds.
    let capped = SnsParams {
        max_density: Some(2.0),
        density: 1.0,
        ..params
    };
    let c = sns_on_the_fly(&lazy, &capped, &mut ()).unwrap();
    assert_eq!(c.stop, StopReason::Converged);
    assert!((c.transport_cost - a.transport_cost).abs() < 1e-10);
    let stats = c.sns.unwrap();
    assert!(stats.fallback_sinkhorn_iterations > 0, "{stats:?}");
    assert!(
        stats.hessian_nnz.iter().all(|&k| k <= 2 * 120 + 120),
        "{stats:?}"
    );
}
