//! Distributed CG with ranks as threads: the same 3D scene split into 1, 2 and 4 slabs,
//! iterations and time against the serial solve.
//!
//! ```sh
//! cargo run --release -p ritz-dist --example slabs [N]
//! ```

use ritz_dist::{cg, comm::ThreadComm, slab::SlabPoisson};
use ritz_krylov::SolveParams;
use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(48), |s| s.parse())?;
    let grid = Scene::Spheres.generate(3, n, 0)?;
    let problem = PoissonProblem::new(grid.clone())?;
    let b = RhsKind::SmoothDivergence.generate(&problem, 0);
    let params = SolveParams::default();
    let t = Instant::now();
    let mut x = vec![0.0; b.len()];
    let info = ritz_krylov::cg(&problem, &b, &mut x, &params, &mut ())?;
    println!(
        "serial      {:>5} iterations  {:.3} s",
        info.iterations,
        t.elapsed().as_secs_f64()
    );
    for ranks in [1, 2, 4] {
        let t = Instant::now();
        let out = ThreadComm::run(ranks, |c| {
            let a = SlabPoisson::new(&grid, c)?;
            let bl = a.scatter(&b)?;
            let mut xl = vec![0.0; a.len()];
            let info = cg(&a, &bl, &mut xl, &params, &mut ())?;
            Ok::<_, ritz_dist::DistError>((info.iterations, a.gather(&xl)))
        });
        let (iterations, xd) = out.into_iter().next().expect("rank 0")?;
        let diff = xd
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!(
            "{ranks} rank(s)   {iterations:>5} iterations  {:.3} s  (setup included)  max |x - x_serial| = {diff:.1e}",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
