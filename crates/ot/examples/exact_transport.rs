//! Exact optimal transport between two clustered, non-uniformly weighted 2D point clouds by
//! the network simplex, with its optimality certificate, and the same problem on a sparse
//! support (each source may only reach its `k` nearest targets).
//!
//! Run: `cargo run --release -p ritz-ot --example exact_transport [n] [k]`

use ritz_linalg::CsrMatrix;
use ritz_ot::{GroundCost, OtProblem, certificate, certificate_sparse, emd, emd_sparse};

/// A cloud of `n` points in `clusters` Gaussian-ish blobs of the unit square, with weights.
fn cloud(n: usize, clusters: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut r = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let centres: Vec<[f64; 2]> = (0..clusters).map(|_| [r(), r()]).collect();
    let mut x = Vec::with_capacity(2 * n);
    let mut w = Vec::with_capacity(n);
    for i in 0..n {
        let c = centres[i % clusters];
        // The sum of three uniforms: a bump of width ~0.1 around the centre.
        for d in 0..2 {
            x.push(c[d] + 0.1 * (r() + r() + r() - 1.5));
        }
        w.push(0.1 + r());
    }
    let total: f64 = w.iter().sum();
    (x, w.iter().map(|v| v / total).collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(1000), |s| s.parse())?;
    let k: usize = std::env::args().nth(2).map_or(Ok(50), |s| s.parse())?;
    let (x, a) = cloud(n, 5, 1);
    let (y, b) = cloud(n, 7, 2);
    let mut problem = OtProblem::from_points(&x, &y, 2, a, b, GroundCost::SquaredEuclidean)?;
    let scale = problem.cost().iter().cloned().fold(0.0, f64::max);
    let cost: Vec<f64> = problem.cost().iter().map(|c| c / scale).collect();
    problem = OtProblem::new(problem.source().to_vec(), problem.target().to_vec(), cost)?;

    let s = emd(&problem)?;
    let cert = certificate(&problem, &s);
    println!(
        "dense, n = m = {n}: cost {:.12}, {} pivots, {:.3} s, {} non-zeros",
        s.transport_cost,
        s.iterations,
        s.elapsed_s,
        s.plan.nnz()
    );
    println!(
        "  certificate: dual infeasibility {:.1e}, complementary slackness {:.1e}, gap {:.1e}, marginals {:.1e}",
        cert.dual_infeasibility,
        cert.complementary_slackness,
        cert.duality_gap,
        cert.marginal_error
    );

    // The k cheapest targets of every source (plus the pairs of the dense optimum, so that
    // the support is feasible): a sparse problem.
    let c = problem.cost();
    let mut triplets = Vec::new();
    for i in 0..n {
        let row = &c[i * n..(i + 1) * n];
        let mut idx: Vec<usize> = (0..n).collect();
        idx.select_nth_unstable_by(k.min(n - 1), |&p, &q| row[p].total_cmp(&row[q]));
        triplets.extend(idx[..k.min(n)].iter().map(|&j| (i, j, row[j])));
    }
    s.plan.for_each(|i, j, v| {
        if v > 0.0 {
            triplets.push((i, j, 0.0));
        }
    });
    // Duplicates are summed: put the cost back on the pairs added twice.
    let mut support = CsrMatrix::from_triplets(n, n, &triplets)?;
    let fixed: Vec<(usize, usize, f64)> = (0..n)
        .flat_map(|i| {
            let (cols, _) = support.row(i);
            cols.iter()
                .map(move |&j| (i, j as usize))
                .collect::<Vec<_>>()
        })
        .map(|(i, j)| (i, j, c[i * n + j]))
        .collect();
    support = CsrMatrix::from_triplets(n, n, &fixed)?;
    let sp = emd_sparse(
        problem.source(),
        problem.target(),
        &support,
        &Default::default(),
    )?;
    let cert = certificate_sparse(problem.source(), problem.target(), &support, &sp);
    println!(
        "sparse support ({} pairs): cost {:.12}, {} pivots, {:.3} s; certificate holds: {}",
        support.nnz(),
        sp.transport_cost,
        sp.iterations,
        sp.elapsed_s,
        cert.holds(1e-10, problem.mass())
    );
    Ok(())
}
