//! The distributed solvers (CG and MGPCG) under MPI against the serial ones, on every rank: run with
//! `mpirun -np P` (P = 1, 2, 4; as root add `--allow-run-as-root`, and `--oversubscribe`
//! for more ranks than cores). Exits non-zero on any mismatch:
//!
//! - P = 1: the serial solution and residual history, bit for bit;
//! - P > 1: the serial iterations ± 1 at rtol 1e-6, the serial solution to 1e-8 relative at
//!   rtol 1e-12.
//!
//! Without arguments it checks three small grids (what `.ci/run` runs); with sizes `N …` it
//! checks, for each, the dam break (pillars: obstacles and air) in 2D (N²) and 3D (N³) and a
//! porous medium in 3D (obstacles, floating pockets).
//!
//! ```sh
//! cargo build --release -p ritz-dist --features mpi --example mpi_check
//! mpirun -np 4 target/release/examples/mpi_check
//! mpirun -np 4 target/release/examples/mpi_check 64 128
//! ```

use ritz_dist::mg::{SlabVcycle, SlabVcycleParams};
use ritz_dist::{cg, comm::Communicator, mgpcg, mpi_comm::MpiComm, slab::SlabPoisson};
use ritz_krylov::{SolveInfo, SolveParams, reduce::Reduction};
use ritz_pde::{
    CellFlag, GridMultigrid, MacGrid, MultigridParams, PoissonProblem, Scene, Walls,
    heldout::HeldOut, rhs::RhsKind,
};

fn main() {
    let universe = mpi::initialize().expect("MPI initializes");
    let comm = MpiComm::new(universe.world());
    let mut failures = 0;
    let mut two_rooms = MacGrid::new(&[24, 24, 24], Walls::closed()).expect("grid");
    // A solid wall across the middle; air cells in one room only (the other floats). The
    // coordinates are cell units: the box is 24 cells wide.
    two_rooms.paint(CellFlag::Solid, |p| (p[0] - 12.0).abs() < 1.0);
    two_rooms.paint(CellFlag::Air, |p| p[0] < 5.0 && (p[1] - 12.0).abs() < 2.5);
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are integers"))
        .collect();
    let grids: Vec<(String, MacGrid)> = if sizes.is_empty() {
        vec![
            (
                "spheres-2d-64".into(),
                Scene::Spheres.generate(2, 64, 0).expect("scene"),
            ),
            (
                "pillars-3d-32".into(),
                Scene::Pillars.generate(3, 32, 1).expect("scene"),
            ),
            ("two-rooms-3d-24".into(), two_rooms),
        ]
    } else {
        sizes
            .iter()
            .flat_map(|&n| {
                [
                    (format!("pillars-2d-{n}"), Scene::Pillars.generate(2, n, 1)),
                    (format!("pillars-3d-{n}"), Scene::Pillars.generate(3, n, 1)),
                    (format!("porous-3d-{n}"), HeldOut::Porous.generate(3, n, 0)),
                ]
            })
            .map(|(name, g)| (name, g.expect("scene")))
            .collect()
    };
    for (name, grid) in grids {
        let problem = PoissonProblem::new(grid.clone()).expect("problem");
        let b = RhsKind::SmoothDivergence.generate(&problem, 0);
        let a = SlabPoisson::new(&grid, &comm).expect("slab");
        let bl = a.scatter(&b).expect("scatter");
        let serial_mg = GridMultigrid::new(&problem, MultigridParams::default()).expect("mg");
        // Every level the slabs allow is split (no size threshold), to exercise them all.
        let split = SlabVcycleParams {
            gather_cells: 0,
            ..Default::default()
        };
        let m = SlabVcycle::new(&grid, &a, split).expect("split V-cycle");
        for solver in ["cg", "mgpcg"] {
            for rtol in [1e-6, 1e-12] {
                let params = SolveParams {
                    rtol,
                    ..Default::default()
                };
                let mut xs = vec![0.0; b.len()];
                let mut xl = vec![0.0; a.len()];
                let (is, id): (SolveInfo, SolveInfo) = if solver == "cg" {
                    (
                        ritz_krylov::cg(&problem, &b, &mut xs, &params, &mut ()).expect("serial"),
                        cg(&a, &bl, &mut xl, &params, &mut ()).expect("distributed"),
                    )
                } else {
                    (
                        ritz_krylov::pcg(&problem, &serial_mg, &b, &mut xs, &params, &mut ())
                            .expect("serial"),
                        mgpcg(&a, &m, &bl, &mut xl, &params, &mut ()).expect("distributed"),
                    )
                };
                let xd = a.gather(&xl);
                let ok = if comm.size() == 1 {
                    is.residual_history == id.residual_history
                        && xs.iter().zip(&xd).all(|(u, v)| u.to_bits() == v.to_bits())
                } else if rtol > 1e-9 {
                    is.iterations.abs_diff(id.iterations) <= 1
                } else {
                    let err: f64 = xd
                        .iter()
                        .zip(&xs)
                        .map(|(u, v)| (u - v) * (u - v))
                        .sum::<f64>();
                    let norm: f64 = xs.iter().map(|v| v * v).sum::<f64>();
                    err.sqrt() <= 1e-8 * norm.sqrt()
                };
                if comm.rank() == 0 {
                    println!(
                        "{name} {solver} rtol {rtol:e}: serial {} / distributed {} iterations \
                         on {} ranks ({} levels split): {}",
                        is.iterations,
                        id.iterations,
                        comm.size(),
                        m.split_levels(),
                        if ok { "ok" } else { "MISMATCH" }
                    );
                }
                failures += usize::from(!ok);
            }
        }
    }
    if comm.sum1(failures as f64) > 0.0 {
        std::process::exit(1);
    }
}
