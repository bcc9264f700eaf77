//! Build a sparse matrix from triplets, apply it in parallel, and round-trip it through
//! MatrixMarket and npy files.
//!
//! Run: `cargo run --release -p ritz-linalg --example matrix_market`

use ritz_linalg::io::{mtx, npy};
use ritz_linalg::{CsrMatrix, LinearOperator, vector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The 2D 5-point Laplacian on an n × n grid with Dirichlet boundaries.
    let n = 200;
    let idx = |i: usize, j: usize| i + n * j;
    let mut triplets = Vec::new();
    for j in 0..n {
        for i in 0..n {
            triplets.push((idx(i, j), idx(i, j), 4.0));
            if i > 0 {
                triplets.push((idx(i, j), idx(i - 1, j), -1.0));
            }
            if i + 1 < n {
                triplets.push((idx(i, j), idx(i + 1, j), -1.0));
            }
            if j > 0 {
                triplets.push((idx(i, j), idx(i, j - 1), -1.0));
            }
            if j + 1 < n {
                triplets.push((idx(i, j), idx(i, j + 1), -1.0));
            }
        }
    }
    let a = CsrMatrix::from_triplets(n * n, n * n, &triplets)?;
    a.check_symmetric(0.0)?;
    println!("A: {} × {}, {} nonzeros", a.nrows(), a.ncols(), a.nnz());

    // y = A 1 is zero in the interior and positive on the boundary.
    let ones = vec![1.0; n * n];
    let mut y = vec![0.0; n * n];
    a.apply(&ones, &mut y);
    println!("‖A·1‖₂ = {:.3}", vector::norm2(&y));

    let dir = std::env::temp_dir().join("ritz-example-mm");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("laplace2d.mtx");
    mtx::write_matrix_market(&path, &a, mtx::MtxSymmetry::Symmetric)?;
    let back = mtx::read_matrix_market(&path)?;
    assert_eq!(back, a);
    npy::write_npy_f64(dir.join("y.npy"), &[n, n], &y)?;
    let y2 = npy::read_npy(dir.join("y.npy"))?;
    println!(
        "round trip ok: {} (symmetric, lower triangle stored) and y.npy with shape {:?}",
        path.display(),
        y2.shape
    );

    // A malformed file gives a typed error that names the line.
    let bad = dir.join("bad.mtx");
    std::fs::write(
        &bad,
        "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 3 1.0\n",
    )?;
    match mtx::read_matrix_market(&bad) {
        Err(e) => println!("malformed file rejected: {e}"),
        Ok(_) => unreachable!("the column index 3 is out of range"),
    }
    Ok(())
}
