//! The Sinkhorn-Newton-Sparse paper's random assignment problem (n = 500, η = 1200), solved by
//! log-domain Sinkhorn and by Sinkhorn-Newton-Sparse, plus the exact solver for reference.
//!
//! Run: `cargo run --release -p ritz-ot --example random_assignment [n] [eta]`

use ritz_ot::{OtProblem, SinkhornParams, SnsParams, emd, sinkhorn_log, sinkhorn_newton_sparse};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(500), |s| s.parse())?;
    let eta: f64 = std::env::args().nth(2).map_or(Ok(1200.0), |s| s.parse())?;
    let problem = OtProblem::random_assignment(n, 0)?;
    println!("random assignment, n = {n}, η = {eta}");

    let sns = sinkhorn_newton_sparse(
        &problem,
        &SnsParams {
            eta,
            tol: 1e-12,
            ..Default::default()
        },
        &mut (),
    )?;
    let stats = sns.sns.clone().unwrap_or_default();
    println!(
        "SNS:          {:>6} iterations ({} Sinkhorn + {} Newton, {} CG), {:.3} s, marginal error {:.1e}, cost {:.6}",
        sns.iterations,
        stats.sinkhorn_iterations,
        stats.newton_iterations,
        stats.cg_iterations,
        sns.elapsed_s,
        sns.marginal_error(),
        sns.transport_cost
    );
    // Sinkhorn to the error SNS reached (at most 20 s).
    let params = SinkhornParams {
        eta,
        tol: sns.marginal_error().max(1e-12),
        max_iters: 1_000_000,
        time_limit_s: Some(20.0),
    };
    let sk = sinkhorn_log(&problem, &params, &mut ())?;
    println!(
        "Sinkhorn-log: {:>6} iterations, {:.3} s, marginal error {:.1e} ({:?})",
        sk.iterations,
        sk.elapsed_s,
        sk.marginal_error(),
        sk.stop
    );
    let exact = emd(&problem)?;
    println!(
        "exact:        cost {:.6} ({} augmenting paths, {:.3} s); entropic plans cost {:.2e} more",
        exact.transport_cost,
        exact.iterations,
        exact.elapsed_s,
        sns.transport_cost - exact.transport_cost
    );
    Ok(())
}
