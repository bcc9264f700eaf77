//! Logistic regression on the UCI breast-cancer data (shipped in `data/`): gradient-normalized
//! regularized Newton against gradient descent, then the Hessian spectrum at the solution.
//!
//! ```text
//! cargo run --release -p ritz-second-order --example breast_cancer
//! ```

use ritz_second_order::spectra::{hutchpp, slq, top_eigenvalues};
use ritz_second_order::*;

fn main() -> Result<(), SecondOrderError> {
    let data = data::breast_cancer().standardized(true);
    let obj = LogisticRegression::new(data, 1e-3)?;
    let x0 = vec![0.0; obj.dim()];
    let rn = regularized_newton(&obj, &x0, &RegNewtonParams::default(), &mut ())?;
    let gd = gradient_descent(&obj, &x0, &GdParams::default(), &mut ())?;
    for (name, r) in [("regularized Newton", &rn), ("gradient descent", &gd)] {
        let last = r.history.last().expect("non-empty history");
        println!(
            "{name:<19} {:?}: {} iterations, {} gradients, {} Hessian-vector products, ‖∇f‖ = {:.1e}, f = {:.6}",
            r.stop, last.iteration, last.gradients, last.products, last.grad_norm, last.value
        );
    }
    let h = CurvatureOperator::new(&obj, &rn.x, Curvature::Hessian, 0.0)?;
    let (top, _) = top_eigenvalues(&h, 3, 20, 1)?;
    let trace = hutchpp(&h, 30, 2)?;
    let dens = slq(&h, 20, 4, 3)?;
    println!(
        "Hessian at the solution: top eigenvalues {top:.4?}, trace ≈ {:.4} (Hutch++, 30 HVPs)",
        trace.estimate
    );
    println!(
        "SLQ: {:.0} % of the spectrum lies below 0.01 (the flat directions of a nearly separable fit)",
        100.0 * dens.cdf(0.01)
    );
    Ok(())
}
