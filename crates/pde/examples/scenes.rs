//! Generate every built-in scene, print its statistics and a 2D picture, and export one
//! problem (flags, right-hand side) as npy.
//!
//! Run: `cargo run --release -p ritz-pde --example scenes`

use ritz_linalg::LinearOperator;
use ritz_pde::rhs::RhsKind;
use ritz_pde::{CellFlag, PoissonProblem, Scene};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for scene in Scene::ALL {
        let grid = scene.generate(3, 64, 7)?;
        let p = PoissonProblem::new(grid)?;
        let (regions, floating) = p.region_counts();
        println!(
            "{:<8} 64³: {:>7} fluid of {} cells, {} connected region(s), {} floating (singular)",
            scene.name(),
            p.num_fluid(),
            p.num_cells(),
            regions,
            floating
        );
    }

    // A 2D dam break, drawn in characters: '~' fluid, '#' solid, ' ' air.
    let grid = Scene::Pillars.generate(2, 48, 1)?;
    let [nx, ny, _] = grid.dims();
    println!("\npillars 2D 48² (top row of the picture = top of the domain):");
    for j in (0..ny).rev().step_by(2) {
        let row: String = (0..nx)
            .map(|i| match grid.flag(i, j, 0) {
                CellFlag::Fluid => '~',
                CellFlag::Solid => '#',
                CellFlag::Air => ' ',
            })
            .collect();
        println!("|{row}|");
    }

    // A right-hand side like the papers' (divergence of a smooth velocity field), and the
    // residual of the zero guess.
    let p = PoissonProblem::new(grid)?;
    let b = RhsKind::SmoothDivergence.generate(&p, 1);
    let mut ax = vec![0.0; b.len()];
    p.apply(&vec![0.0; b.len()], &mut ax);
    println!(
        "\nrhs ‖b‖ = {:.3}, {} unknowns",
        ritz_linalg::vector::norm2(&b),
        p.num_fluid()
    );
    let dir = std::env::temp_dir().join("ritz-example-scenes");
    std::fs::create_dir_all(&dir)?;
    let shape = p.grid().npy_shape();
    ritz_linalg::io::npy::write_npy_i8(dir.join("flags.npy"), &shape, &p.grid().codes())?;
    ritz_linalg::io::npy::write_npy_f64(dir.join("rhs.npy"), &shape, &b)?;
    println!(
        "wrote {}/flags.npy and rhs.npy — try `cargo xtask bench --flags {0}/flags.npy --rhs-npy {0}/rhs.npy --walls closed`",
        dir.display()
    );
    Ok(())
}
