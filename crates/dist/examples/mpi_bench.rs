//! Distributed CG and MGPCG timed per rank under MPI — what `cargo xtask mpi-bench` launches.
//!
//! ```sh
//! cargo build --release -p ritz-dist --features mpi --example mpi_bench
//! mpirun -np 2 target/release/examples/mpi_bench --scene porous --n 128 --out run.json
//! ```
//!
//! Flags: `--scene NAME` (a built-in scene: plume, spheres, pillars, organic, closed; or a
//! held-out geometry: porous, liquid, maze), `--dim 2|3`, `--n N`, `--seed S`, `--solvers cg,mgpcg`,
//! `--rtol R` (`mgpcg-fused`: the serial fused MGPCG, ritz's fastest, on one rank only),
//! `--repeats K` (solves per solver; the median is reported), `--gather-cells C`
//! (the split V-cycle's threshold), `--out FILE` (rank 0 writes the JSON there).
//!
//! Per rank and solver: setup seconds, the median solve's seconds and its split into halo
//! exchanges, all-reduces and computation (the rest), with messages and bytes, and the rank's
//! peak memory (the whole grid and right-hand side every rank generates included). With two
//! or more ranks, rank 0 and 1 also measure the link: a ping-pong of 8 B to 4 MB messages (the
//! α and β of `t = α + β · bytes`) and the latency of an all-reduce of one value.

use ritz_dist::comm::{CommStats, Communicator, Timed};
use ritz_dist::mg::{SlabVcycle, SlabVcycleParams};
use ritz_dist::{cg, mgpcg, mpi_comm::MpiComm, slab::SlabPoisson};
use ritz_krylov::{SolveParams, reduce::Reduction};
use ritz_pde::{
    GridMultigrid, MacGrid, MultigridParams, PoissonProblem, Scene, heldout::HeldOut, rhs::RhsKind,
};
use std::time::Instant;

/// The command line.
struct Args {
    scene: String,
    dim: usize,
    n: usize,
    seed: u64,
    solvers: Vec<String>,
    rtol: f64,
    repeats: usize,
    gather_cells: usize,
    out: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        scene: "spheres".into(),
        dim: 3,
        n: 64,
        seed: 0,
        solvers: vec!["cg".into(), "mgpcg".into()],
        rtol: 1e-6,
        repeats: 3,
        gather_cells: SlabVcycleParams::default().gather_cells,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<f64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--scene" => a.scene = value()?,
            "--dim" => a.dim = num(value()?)? as usize,
            "--n" => a.n = num(value()?)? as usize,
            "--seed" => a.seed = num(value()?)? as u64,
            "--solvers" => a.solvers = value()?.split(',').map(str::to_string).collect(),
            "--rtol" => a.rtol = num(value()?)?,
            "--repeats" => a.repeats = (num(value()?)? as usize).max(1),
            "--gather-cells" => a.gather_cells = num(value()?)? as usize,
            "--out" => a.out = Some(value()?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    const SOLVERS: [&str; 3] = ["cg", "mgpcg", "mgpcg-fused"];
    if let Some(s) = a.solvers.iter().find(|s| !SOLVERS.contains(&s.as_str())) {
        return Err(format!(
            "--solvers: unknown solver {s} (cg, mgpcg, mgpcg-fused)"
        ));
    }
    Ok(a)
}

fn grid(a: &Args) -> Result<MacGrid, String> {
    let g = match (a.scene.parse::<Scene>(), a.scene.parse::<HeldOut>()) {
        (Ok(s), _) => s.generate(a.dim, a.n, a.seed),
        (_, Ok(h)) => h.generate(a.dim, a.n, a.seed),
        _ => {
            return Err(format!(
                "--scene {}: plume, spheres, pillars, organic, closed, porous, liquid, maze",
                a.scene
            ));
        }
    };
    g.map_err(|e| e.to_string())
}

/// One rank's figures for one solver.
#[derive(serde::Serialize)]
struct RankRun {
    rank: usize,
    planes: [usize; 2],
    setup_s: f64,
    solve_s: f64,
    compute_s: f64,
    comm: CommStats,
    /// Peak resident memory of the rank's process so far (VmHWM), MB (0 where unknown).
    peak_mb: f64,
}

#[derive(serde::Serialize)]
struct SolverRun {
    solver: String,
    iterations: usize,
    converged: bool,
    relative_residual: f64,
    split_levels: Option<usize>,
    levels: Option<usize>,
    /// Median over the repeats of the slowest rank's solve.
    solve_s: f64,
    solves_s: Vec<f64>,
    ranks: Vec<RankRun>,
}

#[derive(serde::Serialize)]
struct Link {
    /// Latency and seconds per byte of a neighbour message (least squares over the sizes).
    alpha_s: f64,
    beta_s_per_byte: f64,
    /// (bytes, median one-way seconds) of the ping-pong.
    pingpong: Vec<(usize, f64)>,
    /// Median seconds of an all-reduce of one value.
    allreduce_1_s: f64,
}

#[derive(serde::Serialize)]
struct Report {
    scene: String,
    dim: usize,
    n: usize,
    cells: usize,
    ranks: usize,
    rayon_threads: usize,
    rtol: f64,
    runs: Vec<SolverRun>,
    link: Option<Link>,
}

/// The process's peak resident memory in MB (Linux `VmHWM`; 0 elsewhere).
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Every rank's `values` (the same length on each), rank 0's first: one sum.
fn gather_all(comm: &dyn Communicator, values: &[f64]) -> Vec<Vec<f64>> {
    let (p, k) = (comm.size(), values.len());
    let mut all = vec![0.0; p * k];
    all[comm.rank() * k..][..k].copy_from_slice(values);
    comm.sum(&mut all);
    all.chunks(k).map(<[f64]>::to_vec).collect()
}

/// The link between ranks 0 and 1: ping-pong and all-reduce latency.
fn link(comm: &dyn Communicator) -> Link {
    let rank = comm.rank();
    let mut pingpong = Vec::new();
    for shift in (3..=22).step_by(2) {
        let bytes = 1usize << shift;
        let (send, mut recv) = (vec![1u8; bytes], vec![0u8; bytes]);
        let mut times = Vec::new();
        for _ in 0..if bytes < 1 << 16 { 200 } else { 20 } {
            comm.sum1(0.0);
            let t = Instant::now();
            match rank {
                0 => {
                    comm.sendrecv_bytes(&send, Some(1), &mut [], None);
                    comm.sendrecv_bytes(&[], None, &mut recv, Some(1));
                }
                1 => {
                    comm.sendrecv_bytes(&[], None, &mut recv, Some(0));
                    comm.sendrecv_bytes(&send, Some(0), &mut [], None);
                }
                _ => {}
            }
            times.push(t.elapsed().as_secs_f64() / 2.0);
        }
        pingpong.push((bytes, median(&times)));
    }
    // Least squares of t = α + β b.
    let m = pingpong.len() as f64;
    let (sb, st) = pingpong
        .iter()
        .fold((0.0, 0.0), |(a, c), &(b, t)| (a + b as f64, c + t));
    let (mb, mt) = (sb / m, st / m);
    let (num, den) = pingpong.iter().fold((0.0, 0.0), |(n, d), &(b, t)| {
        (n + (b as f64 - mb) * (t - mt), d + (b as f64 - mb).powi(2))
    });
    let beta = num / den;
    // α from the smallest messages (the fit's intercept is dominated by the large ones).
    let alpha = pingpong[0].1;
    let mut times = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        comm.sum1(1.0);
        times.push(t.elapsed().as_secs_f64());
    }
    Link {
        alpha_s: alpha,
        beta_s_per_byte: beta,
        pingpong,
        allreduce_1_s: median(&times),
    }
}

/// The serial fused MGPCG (one rank): setup and the median of `repeats` solves.
fn fused(
    grid: &MacGrid,
    b: &[f64],
    params: &SolveParams,
    repeats: usize,
) -> Result<SolverRun, String> {
    let t = Instant::now();
    let p = PoissonProblem::new(grid.clone()).map_err(|e| e.to_string())?;
    let mg = GridMultigrid::new(&p, MultigridParams::default()).map_err(|e| e.to_string())?;
    let mut k = mg.fused(&p).map_err(|e| e.to_string())?;
    let setup = t.elapsed().as_secs_f64();
    let mut solves = Vec::new();
    let mut last = None;
    for _ in 0..repeats {
        let mut x = vec![0.0; b.len()];
        let t = Instant::now();
        let info = ritz_krylov::pcg_fused(&p, &mut k, b, &mut x, params, &mut ())
            .map_err(|e| e.to_string())?;
        solves.push(t.elapsed().as_secs_f64());
        last = Some(info);
    }
    let info = last.ok_or("no solve")?;
    let med = median(&solves);
    Ok(SolverRun {
        solver: "mgpcg-fused".into(),
        iterations: info.iterations,
        converged: info.converged(),
        relative_residual: info.residual_history.last().copied().unwrap_or(f64::NAN),
        split_levels: None,
        levels: Some(mg.num_levels()),
        solve_s: med,
        solves_s: solves,
        ranks: vec![RankRun {
            rank: 0,
            planes: [0, grid.dims()[grid.dim() - 1]],
            setup_s: setup,
            solve_s: med,
            compute_s: med,
            comm: CommStats::default(),
            peak_mb: peak_mb(),
        }],
    })
}

fn run(comm: &MpiComm, args: &Args) -> Result<Report, String> {
    let grid = grid(args)?;
    let problem = PoissonProblem::new(grid.clone()).map_err(|e| e.to_string())?;
    let b = RhsKind::SmoothDivergence.generate(&problem, args.seed);
    drop(problem);
    let timed = Timed::new(comm);
    let params = SolveParams {
        rtol: args.rtol,
        ..Default::default()
    };
    let mut runs = Vec::new();
    for solver in &args.solvers {
        if solver == "mgpcg-fused" {
            if comm.size() > 1 {
                return Err("mgpcg-fused is the serial solver: run it on one rank".into());
            }
            runs.push(fused(&grid, &b, &params, args.repeats)?);
            continue;
        }
        comm.sum1(0.0);
        let t = Instant::now();
        let a = SlabPoisson::new(&grid, &timed).map_err(|e| e.to_string())?;
        let m = if solver == "mgpcg" {
            let p = SlabVcycleParams {
                gather_cells: args.gather_cells,
                ..Default::default()
            };
            Some(SlabVcycle::new(&grid, &a, p).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let setup = t.elapsed().as_secs_f64();
        let bl = a.scatter(&b).map_err(|e| e.to_string())?;
        let mut solves = Vec::new();
        for _ in 0..args.repeats {
            let mut x = vec![0.0; a.len()];
            comm.sum1(0.0);
            timed.reset();
            let t = Instant::now();
            let info = match &m {
                Some(m) => mgpcg(&a, m, &bl, &mut x, &params, &mut ()),
                None => cg(&a, &bl, &mut x, &params, &mut ()),
            }
            .map_err(|e| e.to_string())?;
            let secs = t.elapsed().as_secs_f64();
            solves.push((secs, timed.stats(), info));
        }
        // The repeat whose slowest rank is the median one, on every rank.
        let slowest: Vec<f64> = solves.iter().map(|s| comm.max1(s.0)).collect();
        let med = median(&slowest);
        let pick = slowest.iter().position(|&s| s == med).unwrap_or(0);
        let (secs, stats, info) = &solves[pick];
        let mine = [
            comm.rank() as f64,
            a.planes().start as f64,
            a.planes().end as f64,
            setup,
            *secs,
            stats.halo_s,
            stats.halo_calls as f64,
            stats.halo_bytes as f64,
            stats.allreduce_s,
            stats.allreduce_calls as f64,
            stats.allreduce_values as f64,
            peak_mb(),
        ];
        let ranks = gather_all(comm, &mine)
            .into_iter()
            .map(|v| RankRun {
                rank: v[0] as usize,
                planes: [v[1] as usize, v[2] as usize],
                setup_s: v[3],
                solve_s: v[4],
                compute_s: v[4] - v[5] - v[8],
                comm: CommStats {
                    halo_s: v[5],
                    halo_calls: v[6] as usize,
                    halo_bytes: v[7] as usize,
                    allreduce_s: v[8],
                    allreduce_calls: v[9] as usize,
                    allreduce_values: v[10] as usize,
                },
                peak_mb: v[11],
            })
            .collect();
        runs.push(SolverRun {
            solver: solver.clone(),
            iterations: info.iterations,
            converged: info.converged(),
            relative_residual: info.residual_history.last().copied().unwrap_or(f64::NAN),
            split_levels: m.as_ref().map(SlabVcycle::split_levels),
            levels: m.as_ref().map(SlabVcycle::num_levels),
            solve_s: med,
            solves_s: slowest,
            ranks,
        });
    }
    let link = (comm.size() > 1).then(|| link(comm));
    Ok(Report {
        scene: args.scene.clone(),
        dim: args.dim,
        n: args.n,
        cells: grid.len(),
        ranks: comm.size(),
        rayon_threads: rayon::current_num_threads(),
        rtol: args.rtol,
        runs,
        link,
    })
}

fn main() {
    let universe = mpi::initialize().expect("MPI initializes");
    let comm = MpiComm::new(universe.world());
    let result = parse().and_then(|args| {
        let report = run(&comm, &args)?;
        if comm.rank() == 0 {
            let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
            match &args.out {
                Some(path) => std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?,
                None => println!("{text}"),
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("mpi_bench (rank {}): {e}", comm.rank());
        // Every rank parses the same flags and meets the same errors; abort the rest anyway.
        std::process::exit(1);
    }
}
