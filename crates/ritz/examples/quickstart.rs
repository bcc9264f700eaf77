//! Quickstart: one 3D scene, every solver of the catalogue by name — the learned ones from
//! the weights embedded in the library — with iterations, setup and solve time.
//!
//! `cargo run --release -p ritz --example quickstart [n]` (default n = 32: a 32³ grid).

use ritz::pde::{PoissonProblem, Scene, rhs::RhsKind};
use ritz::{CATALOGUE, Solver, SolverSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(32), |a| a.parse())?;
    // Smoke in a box around random spheres, open at the top.
    let problem = PoissonProblem::new(Scene::Spheres.generate(3, n, 3)?)?;
    let b = RhsKind::SmoothDivergence.generate(&problem, 0);
    println!(
        "spheres {n}³: {} unknowns, ‖r‖ ≤ 1e-6·‖b‖\n",
        problem.num_fluid()
    );
    println!(
        "{:<14} {:>6} {:>10} {:>10}  description",
        "solver", "its", "setup s", "solve s"
    );
    for name in SolverSpec::grid_names() {
        let spec: SolverSpec = name.parse()?;
        let description = CATALOGUE
            .iter()
            .find(|e| e.method == spec.method)
            .map_or("", |e| e.description);
        let mut solver = match Solver::build(&spec, &problem) {
            Ok(s) => s,
            Err(e @ ritz::RitzError::FeatureDisabled { .. }) => {
                println!("{name:<14} skipped: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut x = vec![0.0; b.len()];
        let report = solver.solve(&problem, &b, &mut x)?;
        println!(
            "{:<14} {:>6} {:>10.4} {:>10.4}  {}{}",
            name,
            report.info.iterations,
            solver.setup_s(),
            report.solve_s,
            description,
            if spec.assembled {
                " (assembled CSR)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
