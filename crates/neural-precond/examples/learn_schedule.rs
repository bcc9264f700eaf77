//! Learns MGPCG's relaxation schedule on the training scenes and measures it on held-out
//! geometry (a porous medium, a free-surface liquid) next to MGPCG's default weights.
//!
//! ```text
//! cargo run --release -p ritz-neural-precond --example learn_schedule [n_train] [n_test] [evaluations] [mean|worst|log] [seeds] [sweeps] [boundary sweeps] [tied|fixed|per-level] [learned levels] [time|iterations] [start schedule JSON]
//! ```
//!
//! Defaults: 12³ and 24³ training grids, 48³ held-out grids, 200 evaluations (about a minute);
//! 0 evaluations measures the shipped schedule (or the bare schedule JSON named in place of the
//! objective) on the held-out grids.

use ritz_neural_precond::schedule::{
    Exponents, Objective, ScheduleTraining, TrainingSystem, learn_schedule, rate,
};
use ritz_pde::heldout::HeldOut;
use ritz_pde::rhs::RhsKind;
use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Schedule};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (n_train, n_test, evals) = (arg(1, 24), arg(2, 48), arg(3, 200));
    let objective = match std::env::args().nth(4).as_deref() {
        Some("worst") => Objective::Worst,
        Some("log") => Objective::LogRatio,
        _ => Objective::Mean,
    };
    let seeds = arg(5, 1) as u64;
    let (sweeps, boundary) = (arg(6, 2), arg(7, 2));
    let exponents = match std::env::args().nth(8).as_deref() {
        Some("fixed") => Exponents::Fixed,
        Some("per-level") => Exponents::PerLevel,
        _ => Exponents::Tied,
    };
    let learned_levels = arg(9, 3);
    // Search the sweep counts too (scoring modelled time) unless told `iterations`.
    let sweep_counts = std::env::args().nth(10).as_deref() != Some("iterations");
    // A bare schedule JSON as the search's starting point (else uniform ω).
    let start = match std::env::args().nth(11) {
        Some(path) => Some(serde_json::from_str::<Schedule>(&std::fs::read_to_string(
            path,
        )?)?),
        None => None,
    };
    let base = MultigridParams {
        pre_smooth: sweeps,
        post_smooth: sweeps,
        boundary_sweeps: boundary,
        schedule: start,
        ..Default::default()
    };
    let train = ScheduleTraining {
        base,
        exponents,
        learned_levels,
        sizes: vec![n_train / 2, n_train],
        max_evaluations: evals,
        objective,
        seeds,
        sweep_counts,
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    // 0 evaluations: measure the shipped schedule instead of learning one.
    if evals == 0 {
        if let Some(path) = std::env::args()
            .nth(4)
            .filter(|p| std::path::Path::new(p).exists())
        {
            let schedule: Schedule = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            println!("the schedule of {path}");
            return held_out(&schedule, base, n_test);
        }
        let shipped = ritz_neural_precond::shipped::load_shipped_schedule(3)?;
        println!("the shipped schedule, learned on {}", shipped.trained_on);
        return held_out(&shipped.learned.schedule, base, n_test);
    }
    let learned = learn_schedule(&train, &mut |e, l| {
        println!("  evaluation {e:4}: {l:.4} decades per iteration")
    })?;
    println!(
        "learned in {:.1} s, {} evaluations: training loss {:.4} → {:.4}, rate {:.4} → {:.4}",
        t0.elapsed().as_secs_f64(),
        learned.evaluations,
        learned.start_loss,
        learned.loss,
        learned.start_rate,
        learned.rate
    );
    println!("{}", serde_json::to_string(&learned.schedule)?);
    held_out(&learned.schedule, base, n_test)
}

/// The rates of MGPCG's default weights and of `schedule` (on the cycle `base`) on the held-out
/// grids at `n_test`³ and a training-kind scene of an unseen seed.
fn held_out(
    schedule: &Schedule,
    base: MultigridParams,
    n_test: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let grids = [
        ("porous", HeldOut::Porous.generate(3, n_test, 0)?),
        ("liquid", HeldOut::Liquid.generate(3, n_test, 0)?),
        ("maze", HeldOut::Maze.generate(3, n_test, 0)?),
        ("spheres", ritz_pde::Scene::Spheres.generate(3, n_test, 7)?),
    ];
    for (kind, grid) in grids {
        let problem = PoissonProblem::new(grid)?;
        let multigrid = GridMultigrid::new(&problem, MultigridParams::default())?;
        let b = RhsKind::WhiteNoise.generate(&problem, 0);
        let mut sys = [TrainingSystem {
            problem,
            multigrid,
            b,
        }];
        let default = rate(
            &mut sys,
            &Schedule::uniform(ritz_pde::RELAXATION),
            1e-6,
            200,
        )?;
        let default_passes = sys[0].multigrid.modelled_passes();
        let [TrainingSystem { problem, b, .. }] = sys;
        let multigrid = GridMultigrid::new(&problem, base)?;
        let mut sys = [TrainingSystem {
            problem,
            multigrid,
            b,
        }];
        let ours = rate(&mut sys, schedule, 1e-6, 200)?;
        let passes = sys[0].multigrid.modelled_passes();
        // Modelled time to 1e-6: iterations times the modelled passes of one.
        let (t0, t1) = (-6.0 / default * default_passes, -6.0 / ours * passes);
        println!(
            "{kind} {n_test}³: default {default:.4} ({:.1} iterations to 1e-6, {default_passes:.1} passes each), learned {ours:.4} ({:.1}, {passes:.1}); modelled time learned / default {:.3}",
            -6.0 / default,
            -6.0 / ours,
            t1 / t0
        );
    }
    Ok(())
}
