//! Distributed CG and MGPCG on slabs (ranks as threads) against the serial solvers on the
//! same grids:
//! bit-identical with one rank, the serial iterations (± 1) and solution with more — on 2D
//! and 3D grids with obstacles, air and a floating region.

use ritz_dist::comm::{Communicator, ThreadComm};
use ritz_dist::mg::{SlabVcycle, SlabVcycleParams};
use ritz_dist::{DistError, cg, mgpcg, slab::SlabPoisson};
use ritz_krylov::{KrylovError, SolveInfo, SolveParams};
use ritz_linalg::{LinalgError, Preconditioner};
use ritz_pde::{
    CellFlag, GridMultigrid, MacGrid, MultigridParams, PoissonProblem, Scene, Walls, rhs::RhsKind,
};

/// `grid.paint` with coordinates scaled to the unit box (cell centres at `(i + 0.5) / n`).
fn paint(g: &mut MacGrid, f: CellFlag, inside: impl Fn([f64; 3]) -> bool) {
    let d = g.dims().map(|n| n as f64);
    g.paint(f, |p| inside([p[0] / d[0], p[1] / d[1], p[2] / d[2]]));
}

/// A closed box cut by a solid wall into two floating regions, with a pillar of air cells in
/// one of them (so only the other floats) and a solid block.
fn two_rooms(dim: usize, n: usize) -> MacGrid {
    let mut g = MacGrid::new(&vec![n; dim], Walls::closed()).unwrap();
    paint(&mut g, CellFlag::Solid, |p| (p[0] - 0.5).abs() < 0.04);
    paint(&mut g, CellFlag::Air, |p| {
        p[0] < 0.2 && (p[1] - 0.5).abs() < 0.1
    });
    paint(&mut g, CellFlag::Solid, |p| {
        p[0] > 0.7 && p[1] > 0.3 && p[1] < 0.6
    });
    g
}

fn grids() -> Vec<(&'static str, MacGrid)> {
    vec![
        ("spheres-2d", Scene::Spheres.generate(2, 48, 0).unwrap()),
        ("pillars-3d", Scene::Pillars.generate(3, 20, 1).unwrap()),
        ("two-rooms-2d", two_rooms(2, 40)),
        ("two-rooms-3d", two_rooms(3, 16)),
    ]
}

fn serial(grid: &MacGrid, b: &[f64], params: &SolveParams) -> (Vec<f64>, SolveInfo) {
    let p = PoissonProblem::new(grid.clone()).unwrap();
    let mut x = vec![0.0; b.len()];
    let info = ritz_krylov::cg(&p, b, &mut x, params, &mut ()).unwrap();
    (x, info)
}

fn distributed(
    grid: &MacGrid,
    b: &[f64],
    params: &SolveParams,
    ranks: usize,
) -> Vec<(Vec<f64>, SolveInfo)> {
    ThreadComm::run(ranks, |c| {
        let a = SlabPoisson::new(grid, c).unwrap();
        let bl = a.scatter(b).unwrap();
        let mut x = vec![0.0; a.len()];
        let info = cg(&a, &bl, &mut x, params, &mut ()).unwrap();
        (a.gather(&x), info)
    })
}

#[test]
fn one_rank_is_the_serial_solver_bit_for_bit() {
    let params = SolveParams::default();
    for (name, grid) in grids() {
        let b = RhsKind::SmoothDivergence.generate(&PoissonProblem::new(grid.clone()).unwrap(), 0);
        let (xs, is) = serial(&grid, &b, &params);
        let (xd, id) = distributed(&grid, &b, &params, 1).remove(0);
        assert_eq!(is.residual_history, id.residual_history, "{name}");
        assert!(
            xs.iter().zip(&xd).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}"
        );
    }
}

#[test]
fn more_ranks_take_the_serial_iterations_and_reach_its_solution() {
    for (name, grid) in grids() {
        let b = RhsKind::SmoothDivergence.generate(&PoissonProblem::new(grid.clone()).unwrap(), 1);
        let loose = SolveParams::default();
        let tight = SolveParams {
            rtol: 1e-12,
            ..Default::default()
        };
        let (_, is) = serial(&grid, &b, &loose);
        let (xs, _) = serial(&grid, &b, &tight);
        for ranks in [2, 3, 4] {
            let runs = distributed(&grid, &b, &loose, ranks);
            for (_, info) in &runs {
                assert!(
                    info.iterations.abs_diff(is.iterations) <= 1,
                    "{name}, {ranks} ranks: {} vs {} iterations",
                    info.iterations,
                    is.iterations
                );
                // Every rank saw the same residuals (the same global sums).
                assert_eq!(info.residual_history, runs[0].1.residual_history);
            }
            let (xd, info) = &distributed(&grid, &b, &tight, ranks)[0];
            assert!(info.converged());
            let err: f64 = xd
                .iter()
                .zip(&xs)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            let norm: f64 = xs.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(
                err <= 1e-8 * norm,
                "{name}, {ranks} ranks: error {err:e} of {norm:e}"
            );
        }
    }
}

#[test]
fn a_nan_on_one_rank_fails_every_rank() {
    let grid = Scene::Spheres.generate(2, 32, 0).unwrap();
    let b = RhsKind::SmoothDivergence.generate(&PoissonProblem::new(grid.clone()).unwrap(), 0);
    let results = ThreadComm::run(3, |c| {
        let a = SlabPoisson::new(&grid, c).unwrap();
        let mut bl = a.scatter(&b).unwrap();
        if c.rank() == 1 {
            bl[5] = f64::NAN;
        }
        let mut x = vec![0.0; a.len()];
        cg(&a, &bl, &mut x, &SolveParams::default(), &mut ())
    });
    for r in results {
        assert!(
            matches!(
                r,
                Err(DistError::Krylov(KrylovError::Linalg(
                    LinalgError::NonFinite { .. }
                )))
            ),
            "{r:?}"
        );
    }
}

#[test]
fn more_ranks_than_planes_is_an_error() {
    let grid = Scene::Spheres.generate(2, 4, 0).unwrap();
    let r = ThreadComm::run(5, |c| SlabPoisson::new(&grid, c).err());
    assert!(matches!(
        r[0],
        Some(DistError::TooManyRanks {
            ranks: 5,
            planes: 4
        })
    ));
}

/// The V-cycle split into as many levels as the slabs allow (no size threshold).
fn split_everything() -> SlabVcycleParams {
    SlabVcycleParams {
        gather_cells: 0,
        ..Default::default()
    }
}

/// Larger grids than CG's, so that 2 and 4 ranks split two or more levels.
fn mg_grids() -> Vec<(&'static str, MacGrid)> {
    vec![
        ("spheres-2d", Scene::Spheres.generate(2, 64, 0).unwrap()),
        ("pillars-3d", Scene::Pillars.generate(3, 32, 1).unwrap()),
        ("two-rooms-2d", two_rooms(2, 64)),
        ("two-rooms-3d", two_rooms(3, 32)),
    ]
}

#[test]
fn the_split_vcycle_is_the_serial_vcycle_on_every_ranks_planes() {
    for (name, grid) in mg_grids() {
        let p = PoissonProblem::new(grid.clone()).unwrap();
        let r = RhsKind::SmoothDivergence.generate(&p, 2);
        let serial = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
        let mut zs = vec![0.0; r.len()];
        serial.apply(&r, &mut zs);
        for ranks in [2, 3, 4] {
            let runs = ThreadComm::run(ranks, |c| {
                let a = SlabPoisson::new(&grid, c).unwrap();
                let m = SlabVcycle::new(&grid, &a, split_everything()).unwrap();
                let mut z = vec![0.0; a.len()];
                // Twice: the second application starts from the first one's scratch.
                m.apply(&a.scatter(&r).unwrap(), &mut z);
                m.apply(&a.scatter(&r).unwrap(), &mut z);
                (a.owned(), z, m.split_levels())
            });
            let least = if ranks == 2 { 2 } else { 1 };
            assert!(
                runs[0].2 >= least,
                "{name}, {ranks} ranks: {} split",
                runs[0].2
            );
            for (owned, z, _) in runs {
                let want = &zs[owned];
                assert!(
                    z.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{name}, {ranks} ranks"
                );
            }
        }
    }
}

#[test]
fn distributed_mgpcg_takes_the_serial_iterations_and_reaches_its_solution() {
    for (name, grid) in mg_grids() {
        let p = PoissonProblem::new(grid.clone()).unwrap();
        let b = RhsKind::SmoothDivergence.generate(&p, 3);
        let serial_mg = GridMultigrid::new(&p, MultigridParams::default()).unwrap();
        let loose = SolveParams::default();
        let tight = SolveParams {
            rtol: 1e-12,
            ..Default::default()
        };
        let serial = |params: &SolveParams| {
            let mut x = vec![0.0; b.len()];
            let info = ritz_krylov::pcg(&p, &serial_mg, &b, &mut x, params, &mut ()).unwrap();
            (x, info)
        };
        let (_, is) = serial(&loose);
        let (xs, _) = serial(&tight);
        for ranks in [1, 2, 4] {
            let runs = ThreadComm::run(ranks, |c| {
                let a = SlabPoisson::new(&grid, c).unwrap();
                let m = SlabVcycle::new(&grid, &a, split_everything()).unwrap();
                let bl = a.scatter(&b).unwrap();
                let solve = |params: &SolveParams| {
                    let mut x = vec![0.0; a.len()];
                    let info = mgpcg(&a, &m, &bl, &mut x, params, &mut ()).unwrap();
                    (a.gather(&x), info)
                };
                (solve(&loose), solve(&tight))
            });
            for ((xl, il), (xt, it)) in &runs {
                if ranks == 1 {
                    assert_eq!(il.residual_history, is.residual_history, "{name}");
                    let (x1, _) = serial(&loose);
                    assert!(x1.iter().zip(xl).all(|(a, b)| a.to_bits() == b.to_bits()));
                }
                assert!(
                    il.iterations.abs_diff(is.iterations) <= 1,
                    "{name}, {ranks} ranks: {} vs {} iterations",
                    il.iterations,
                    is.iterations
                );
                assert!(it.converged());
                let err: f64 = xt
                    .iter()
                    .zip(&xs)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>();
                let norm: f64 = xs.iter().map(|v| v * v).sum::<f64>();
                assert!(
                    err.sqrt() <= 1e-8 * norm.sqrt(),
                    "{name}, {ranks} ranks: error {:e}",
                    err.sqrt()
                );
            }
        }
    }
}

/// A closed box of solid with a U of fluid (two columns joined at the top: within the lower
/// slabs they are two pieces that only the upper slab joins), a fluid column under air (not
/// floating), and a porous medium's many pockets.
fn region_grids() -> Vec<(&'static str, MacGrid)> {
    let mut u = MacGrid::new(&[32, 32], Walls::closed()).unwrap();
    paint(&mut u, CellFlag::Solid, |_| true);
    let column = |x: f64, lo: f64, hi: f64| {
        move |p: [f64; 3]| (p[0] - x).abs() < 0.05 && p[1] > lo && p[1] < hi
    };
    paint(&mut u, CellFlag::Fluid, column(0.25, 0.05, 0.85));
    paint(&mut u, CellFlag::Fluid, column(0.6, 0.05, 0.85));
    paint(&mut u, CellFlag::Fluid, |p| {
        p[0] > 0.2 && p[0] < 0.65 && p[1] > 0.75 && p[1] < 0.85
    });
    paint(&mut u, CellFlag::Fluid, column(0.9, 0.05, 0.95));
    paint(&mut u, CellFlag::Air, column(0.9, 0.9, 0.95));
    let mut u3 = MacGrid::new(&[12, 12, 24], Walls::closed()).unwrap();
    paint(&mut u3, CellFlag::Solid, |_| true);
    paint(&mut u3, CellFlag::Fluid, |p| {
        (p[0] - 0.25).abs() < 0.1 && p[2] < 0.8
    });
    paint(&mut u3, CellFlag::Fluid, |p| {
        (p[0] - 0.75).abs() < 0.1 && p[2] < 0.8
    });
    paint(&mut u3, CellFlag::Fluid, |p| p[2] > 0.7 && p[2] < 0.8);
    vec![
        ("u-2d", u),
        ("u-3d", u3),
        (
            "porous-3d",
            ritz_pde::heldout::HeldOut::Porous
                .generate(3, 24, 0)
                .unwrap(),
        ),
        ("two-rooms-3d", two_rooms(3, 16)),
    ]
}

#[test]
fn floating_regions_merged_across_slabs_match_the_whole_grids() {
    use ritz_linalg::NullSpace;
    for (name, grid) in region_grids() {
        let p = PoissonProblem::new(grid.clone()).unwrap();
        let v: Vec<f64> = (0..grid.len())
            .map(|i| ((i * 37 % 101) as f64).sin())
            .collect();
        let serial = p.null_space_grid().map(|ns| {
            let mut w = v.clone();
            ns.project(&mut w);
            (ns.dim(), w)
        });
        assert!(serial.is_some(), "{name} has a floating region");
        for ranks in [2, 3, 4] {
            let runs = ThreadComm::run(ranks, |c| {
                let a = SlabPoisson::new(&grid, c).unwrap();
                let mut w = a.scatter(&v).unwrap();
                let dim = ritz_linalg::LinearOperator::null_space(&a).map(|ns| {
                    ns.project(&mut w);
                    ns.dim()
                });
                (dim, a.gather(&w))
            });
            let (sd, sw) = serial.as_ref().unwrap();
            for (dim, w) in runs {
                assert_eq!(dim, Some(*sd), "{name}, {ranks} ranks: floating regions");
                let err = w
                    .iter()
                    .zip(sw)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(
                    err < 1e-12,
                    "{name}, {ranks} ranks: projection differs by {err:e}"
                );
            }
        }
    }
}

/// The split V-cycle's messages over a thread communicator (what `SlabVcycle` does inside).
struct Exchange<'a>(&'a ThreadComm);

impl ritz_pde::SlabExchange for Exchange<'_> {
    fn exchange(&self, down: &[u8], up: &[u8], from_below: &mut [u8], from_above: &mut [u8]) {
        let r = self.0.rank();
        let below = (!from_below.is_empty() || !down.is_empty()).then(|| r - 1);
        let above = (!from_above.is_empty() || !up.is_empty()).then(|| r + 1);
        self.0.sendrecv_bytes(down, below, from_above, above);
        self.0.sendrecv_bytes(up, above, from_below, below);
    }
    fn sum(&self, v: &mut [f64]) {
        ritz_krylov::reduce::Reduction::sum(self.0, v);
    }
}

#[test]
fn one_part_failing_its_setup_fails_every_part_without_waiting() {
    let grid = Scene::Spheres.generate(3, 16, 0).unwrap();
    let results = ThreadComm::run(2, |c| {
        // Rank 1's planes do not align with two split levels; rank 0's do.
        let planes = if c.rank() == 0 { 0..8 } else { 6..16 };
        ritz_pde::SlabMultigrid::new(&grid, planes, 2, MultigridParams::default(), &Exchange(c))
            .err()
    });
    for r in results {
        assert!(
            matches!(r, Some(ritz_pde::PdeError::Unsupported(_))),
            "{r:?}"
        );
    }
}
