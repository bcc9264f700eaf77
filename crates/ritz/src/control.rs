//! PDE-constrained optimization on the MAC grid: the Poisson optimal-control problem of
//! [`ritz_second_order::control`] built from pde's grid and stencil (glue between the two
//! crates, which do not depend on each other).

use crate::error::Failure;
use ritz_pde::{MacGrid, PoissonProblem, WallKind, Walls};
use ritz_second_order::SecondOrderError;
use ritz_second_order::control::DistributedControl;

/// `min ½‖u − u_d‖² + (α/2)‖f‖²` s.t. `A u − h² f = 0` on the unit square or cube with `N`
/// cells per side (`shape = [N, N]` or `[N, N, N]`, `h = 1/N`). `A` is the cell-centred five-
/// (seven-) point stencil of [`PoissonProblem`] with Dirichlet walls (`u = 0` outside), so
/// `A/h² ≈ −Δ`. The target `u_d` is the indicator of a disc (ball) of radius ¼ at the centre.
///
/// Errors: a shape that is not 2 or 3 equal sides of at least 2 cells, or `α` not positive
/// and finite ([`SecondOrderError::InvalidParameter`]); grids too large for memory (pde).
/// Cost: `O(N^d)`.
///
/// ```
/// use ritz::second_order::constrained::EqualityProblem;
/// use ritz::second_order::sqp::{SqpParams, sqp};
/// let p = ritz::control::poisson_control(&[16, 16], 1e-4)?;
/// assert_eq!((p.n(), p.m()), (512, 256));
/// let params = SqpParams { tol: 0.0, rtol: 1e-10, ..Default::default() };
/// let res = sqp(&p, &vec![0.0; p.n()], None, &params, &mut ())?;
/// assert_eq!(res.iterations(), 1); // a convex QP: one exact Newton step
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn poisson_control(shape: &[usize], alpha: f64) -> Result<DistributedControl, Failure> {
    let sides_ok = matches!(shape.len(), 2 | 3) && shape.iter().all(|&s| s == shape[0]);
    if !sides_ok || shape[0] < 2 {
        return Err(SecondOrderError::InvalidParameter(format!(
            "Poisson control needs a square or cubic grid of at least 2 cells per side, got \
             {shape:?}"
        ))
        .into());
    }
    let problem = PoissonProblem::new(MacGrid::new(shape, Walls([[WallKind::Air; 2]; 3]))?)?;
    let h = 1.0 / shape[0] as f64;
    let grid = problem.grid();
    let target = problem
        .fluid_cells()
        .iter()
        .map(|&c| {
            let co = grid.coords(c as usize);
            let r2: f64 = (0..shape.len())
                .map(|k| ((co[k] as f64 + 0.5) * h - 0.5).powi(2))
                .sum();
            if r2 < 0.0625 { 1.0 } else { 0.0 }
        })
        .collect();
    let name = format!(
        "poisson-control {}",
        shape
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("×")
    );
    Ok(DistributedControl::new(
        name,
        problem.assemble(),
        target,
        h * h,
        alpha,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_shapes_and_costs_are_typed_errors() {
        for (shape, alpha) in [
            (&[8usize, 4][..], 1e-4),
            (&[8][..], 1e-4),
            (&[1, 1][..], 1e-4),
            (&[8, 8][..], 0.0),
            (&[8, 8][..], f64::NAN),
        ] {
            assert!(matches!(
                poisson_control(shape, alpha),
                Err(Failure::SecondOrder(SecondOrderError::InvalidParameter(_)))
            ));
        }
        let p = poisson_control(&[4, 4, 4], 1e-4).unwrap();
        // The ball of radius ¼ holds the 8 central cells of 4³.
        assert_eq!(p.target().iter().filter(|&&t| t == 1.0).count(), 8);
    }
}
