//! `cargo xtask lanczos`: Lanczos with full reorthogonalization on a bench problem — time,
//! extreme Ritz values, orthogonality of the basis. Sizes the training-data generation of the
//! neural preconditioners (m = 1000+ steps at 32³).

use crate::ProblemArgs;
use crate::problems::{self, ProblemSpec};
use ritz::krylov::lanczos::{LanczosParams, lanczos};
use ritz::linalg::vector;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

#[derive(Serialize)]
struct LanczosReport {
    problem: String,
    unknowns: usize,
    steps: usize,
    seconds: f64,
    ritz_min: f64,
    ritz_max: f64,
    /// max |q_iᵀ q_j − δ_ij| over all pairs among the first, last and every 50th vector.
    orthogonality_loss: f64,
    ritz_values_below_1e8: usize,
}

/// Runs Lanczos on the grid (or matrix) problem given by `args`, from its right-hand side.
pub fn run(args: &ProblemArgs, steps: usize, out: &Path) -> Result<(), String> {
    let spec =
        ProblemSpec::from_args(args).ok_or("lanczos needs a problem: --scene, --flags or --mtx")?;
    let p = problems::load(&spec)?;
    let asm = p.assembled();
    let t = Instant::now();
    let lz = lanczos(
        asm.op,
        asm.b,
        &LanczosParams {
            steps,
            ..Default::default()
        },
        &mut (),
    )
    .map_err(|e| e.to_string())?;
    let seconds = t.elapsed().as_secs_f64();
    let ritz = lz.ritz_values().map_err(|e| e.to_string())?;
    let m = lz.steps();
    let mut sample: Vec<usize> = (0..m).step_by(50).collect();
    sample.extend([1, m - 1]);
    sample.retain(|&i| i < m);
    sample.sort_unstable();
    sample.dedup();
    let mut loss = 0.0f64;
    for &i in &sample {
        for &j in &sample {
            let d = vector::dot(lz.vector(i), lz.vector(j)) - if i == j { 1.0 } else { 0.0 };
            loss = loss.max(d.abs());
        }
    }
    let report = LanczosReport {
        problem: p.name.clone(),
        unknowns: p.unknowns(),
        steps: m,
        seconds,
        ritz_min: ritz[0],
        ritz_max: ritz[m - 1],
        orthogonality_loss: loss,
        ritz_values_below_1e8: ritz.iter().filter(|&&v| v < 1e-8).count(),
    };
    println!(
        "{}: {} unknowns, {} Lanczos steps with full reorthogonalization in {:.2} s\n\
         Ritz values in [{:.6e}, {:.6}], orthogonality loss {:.1e}",
        report.problem, report.unknowns, m, seconds, report.ritz_min, report.ritz_max, loss
    );
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let path = out.join("lanczos.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
