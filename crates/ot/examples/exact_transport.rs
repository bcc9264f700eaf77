//! Exact optimal transport between two clustered, non-uniformly weighted 2D point clouds by
//! the network simplex, with its optimality certificate, and the same problem on a sparse
//! support (each source may only reach its `k` nearest targets).
//!
//! Run: `cargo run --release -p ritz-ot --example exact_transport [n] [k]`

use ritz_linalg::CsrMatrix;
use ritz_ot::{
    CostScale, GroundCost, PointClouds, certificate, certificate_sparse, emd, emd_sparse,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(1000), |s| s.parse())?;
    let k: usize = std::env::args().nth(2).map_or(Ok(50), |s| s.parse())?;
    let problem = PointClouds::clustered(n, n, 2, 1)?
        .problem(GroundCost::SquaredEuclidean, CostScale::Max)?;

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

    // The k cheapest targets of every source, plus the pairs of the dense optimum (so that the
    // support is feasible): a sparse problem.
    let c = problem.cost();
    let mut pairs = Vec::new();
    for i in 0..n {
        let row = &c[i * n..(i + 1) * n];
        let mut idx: Vec<usize> = (0..n).collect();
        idx.select_nth_unstable_by(k.min(n - 1), |&p, &q| row[p].total_cmp(&row[q]));
        pairs.extend(idx[..k.min(n)].iter().map(|&j| (i, j)));
    }
    s.plan.for_each(|i, j, v| {
        if v > 0.0 {
            pairs.push((i, j));
        }
    });
    pairs.sort_unstable();
    pairs.dedup();
    let triplets: Vec<(usize, usize, f64)> =
        pairs.iter().map(|&(i, j)| (i, j, c[i * n + j])).collect();
    let support = CsrMatrix::from_triplets(n, n, &triplets)?;
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
