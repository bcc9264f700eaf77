//! Equality-constrained SQP on the Hock–Schittkowski problems: exact KKT solves against
//! randomized sketching (block Kaczmarz) under the adaptive and the sharpened accuracy rules.
//!
//! `cargo run --release -p ritz-second-order --example constrained_sqp`

use ritz_krylov::sketch::Sketch;
use ritz_second_order::constrained::hock_schittkowski;
use ritz_second_order::sqp::{KktSolve, SqpParams, sqp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sketch = KktSolve::Sketch {
        sketch: Sketch::Block { size: 2 },
        max_iters: 1_000_000,
        seed: 7,
    };
    let variants = [
        ("exact", SqpParams::default()),
        (
            "sketch",
            SqpParams {
                solve: sketch,
                ..Default::default()
            },
        ),
        (
            "sketch ρ=1",
            SqpParams {
                solve: sketch,
                sharpen: Some(1.0),
                ..Default::default()
            },
        ),
    ];
    println!(
        "{:<6} {:<11} {:>5} {:>5} {:>10} {:>10} {:>9} {:>8}",
        "prob", "solver", "iters", "unit", "KKT", "‖x−x*‖∞", "sketch it", "stop"
    );
    for t in hock_schittkowski() {
        for (name, params) in &variants {
            let res = sqp(&*t.problem, &t.x0, None, params, &mut ())?;
            let err = res
                .x
                .iter()
                .zip(&t.x_star)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let sk: usize = res.history.iter().map(|r| r.solver_iterations).sum();
            println!(
                "{:<6} {:<11} {:>5} {:>5} {:>10.2e} {:>10.2e} {:>9} {:>8?}",
                t.problem.name(),
                name,
                res.iterations(),
                res.unit_steps(),
                res.kkt(),
                err,
                sk,
                res.stop
            );
        }
    }
    Ok(())
}
