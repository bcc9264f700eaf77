//! Solve a 3D pressure-Poisson problem (smoke past spheres) with CG, IC(0)-PCG, MIC(0)-PCG and
//! the flexible conjugate-direction iteration, and estimate the spectrum with Lanczos.
//!
//! Run: `cargo run --release -p ritz-krylov --example poisson_solvers`

use ritz_krylov::lanczos::{LanczosParams, lanczos};
use ritz_krylov::{FcdParams, SolveParams, cg, fcd, pcg};
use ritz_pde::rhs::RhsKind;
use ritz_pde::{GridIc0, IcVariant, PoissonProblem, Scene};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 48;
    let p = PoissonProblem::new(Scene::Spheres.generate(3, n, 0)?)?;
    let b = RhsKind::SmoothDivergence.generate(&p, 0);
    println!("spheres {n}³: {} unknowns\n", p.num_fluid());
    let params = SolveParams {
        rtol: 1e-6,
        ..Default::default()
    };
    let report =
        |name: &str, its: usize, t: f64| println!("{name:<8} {its:>5} iterations {t:>8.3} s");

    let mut x = vec![0.0; b.len()];
    let t = Instant::now();
    let info = cg(&p, &b, &mut x, &params, &mut ())?;
    report("CG", info.iterations, t.elapsed().as_secs_f64());

    for (name, v) in [("IC(0)", IcVariant::Ic0), ("MIC(0)", IcVariant::mic0())] {
        let t = Instant::now();
        let m = GridIc0::new(&p, v)?;
        let mut x = vec![0.0; b.len()];
        let info = pcg(&p, &m, &b, &mut x, &params, &mut ())?;
        report(name, info.iterations, t.elapsed().as_secs_f64());
    }

    // The DCDM iteration accepts any preconditioner, here a linear one; a neural network
    // plugs in the same way.
    let m = GridIc0::new(&p, IcVariant::Ic0)?;
    let mut x = vec![0.0; b.len()];
    let t = Instant::now();
    let mut monitor = |it: usize, rel: f64| {
        if it.is_multiple_of(20) {
            println!("         fcd iteration {it:>3}: ‖r‖/‖b‖ = {rel:.2e}");
        }
    };
    let fp = FcdParams {
        solve: params,
        ..Default::default()
    };
    let info = fcd(&p, &m, &b, &mut x, &fp, &mut monitor)?;
    report("FCD+IC0", info.iterations, t.elapsed().as_secs_f64());

    // Extreme eigenvalues with 120 Lanczos steps.
    let lz = lanczos(
        &p,
        &b,
        &LanczosParams {
            steps: 120,
            ..Default::default()
        },
        &mut (),
    )?;
    let ritz = lz.ritz_values()?;
    println!(
        "\nLanczos: λ_min ≈ {:.4e}, λ_max ≈ {:.4}, condition number ≈ {:.0}",
        ritz[0],
        ritz[ritz.len() - 1],
        ritz[ritz.len() - 1] / ritz[0]
    );
    Ok(())
}
