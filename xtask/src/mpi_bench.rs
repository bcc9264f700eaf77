//! `cargo xtask mpi-bench`: distributed CG and MGPCG (ritz-dist) under `mpirun` against the
//! serial solvers on the same machine, with per-rank timings (docs/scale-out.md).
//!
//! Builds `ritz-dist`'s `mpi_bench` example with MPI, runs it once on one rank (the serial
//! solvers: one rank is the serial solver bit for bit, plus the fused MGPCG) with all cores,
//! then on `--np` ranks with the cores shared out among them (`RAYON_NUM_THREADS`), and writes
//! both reports and their ratios to `OUT/mpi-bench.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Debug, Clone)]
pub struct MpiBenchArgs {
    /// Ranks of the distributed run.
    #[arg(long, default_value_t = 2)]
    pub np: usize,
    /// Scene: plume, spheres, pillars, organic, closed (training kinds) or porous, liquid, maze
    /// (held-out kinds).
    #[arg(long, default_value = "porous")]
    pub scene: String,
    /// Grid dimension (2 or 3).
    #[arg(long, default_value_t = 3)]
    pub dim: usize,
    /// Cells per axis.
    #[arg(long, default_value_t = 128)]
    pub n: usize,
    /// Scene and right-hand-side seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Solvers, comma-separated: cg, mgpcg.
    #[arg(long, default_value = "cg,mgpcg")]
    pub solvers: String,
    /// Relative tolerance.
    #[arg(long, default_value_t = 1e-6)]
    pub rtol: f64,
    /// Solves per solver (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Levels with fewer cells are gathered onto every rank.
    #[arg(long)]
    pub gather_cells: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
}

/// Runs the bench (see the module docs).
pub fn run(args: &MpiBenchArgs) -> Result<(), String> {
    if args.np == 0 {
        return Err("--np must be at least 1".into());
    }
    for s in args.solvers.split(',') {
        if !["cg", "mgpcg"].contains(&s) {
            return Err(format!("--solvers: unknown solver {s} (cg, mgpcg)"));
        }
    }
    let mpirun = which("mpirun").ok_or(
        "mpirun not found: install Open MPI (Debian: apt-get install openmpi-bin \
         libopenmpi-dev libclang-dev)",
    )?;
    crate::run_cargo(
        "cargo build (mpi_bench)",
        &[
            "build",
            "--release",
            "-p",
            "ritz-dist",
            "--features",
            "mpi",
            "--example",
            "mpi_bench",
        ]
        .map(String::from),
    )?;
    let exe = crate::peers::root().join("target/release/examples/mpi_bench");
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut serial_solvers = args.solvers.clone();
    if args.solvers.split(',').any(|s| s == "mgpcg") {
        serial_solvers.push_str(",mgpcg-fused");
    }
    let serial = launch(&mpirun, &exe, args, 1, cores, &serial_solvers)?;
    let dist = launch(&mpirun, &exe, args, args.np, cores, &args.solvers)?;
    let mut rows = Vec::new();
    println!(
        "{:<12} {:>6} {:>10} {:>6} {:>10} {:>8}   per rank: compute / halo / all-reduce (s)",
        "solver", "iters", "serial s", "iters", "P ranks s", "speedup"
    );
    for run in dist["runs"].as_array().into_iter().flatten() {
        let name = run["solver"].as_str().unwrap_or("?");
        let ser = serial["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["solver"] == name);
        let (ss, si) = ser.map_or((f64::NAN, 0), |r| {
            (
                r["solve_s"].as_f64().unwrap_or(f64::NAN),
                r["iterations"].as_u64().unwrap_or(0),
            )
        });
        let ds = run["solve_s"].as_f64().unwrap_or(f64::NAN);
        let per_rank: Vec<String> = run["ranks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "{:.3}/{:.3}/{:.3}",
                    r["compute_s"].as_f64().unwrap_or(f64::NAN),
                    r["comm"]["halo_s"].as_f64().unwrap_or(f64::NAN),
                    r["comm"]["allreduce_s"].as_f64().unwrap_or(f64::NAN)
                )
            })
            .collect();
        println!(
            "{name:<12} {si:>6} {ss:>10.3} {:>6} {ds:>10.3} {:>7.2}×   {}",
            run["iterations"],
            ss / ds,
            per_rank.join("  ")
        );
        rows.push(serde_json::json!({
            "solver": name,
            "serial_s": ss,
            "serial_iterations": si,
            "distributed_s": ds,
            "distributed_iterations": run["iterations"],
            "speedup": ss / ds,
        }));
    }
    if let Some(f) = serial["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["solver"] == "mgpcg-fused")
    {
        println!(
            "{:<12} {:>6} {:>10.3}   (serial fused MGPCG, ritz's fastest on one node)",
            "mgpcg-fused",
            f["iterations"],
            f["solve_s"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let model = Inputs::measured(&dist, args).map(|inputs| {
        let predictions = inputs.predict();
        print_model(&inputs, &predictions);
        serde_json::json!({ "inputs": inputs, "predictions": predictions })
    });
    let report = serde_json::json!({
        "np": args.np,
        "cores": cores,
        "summary": rows,
        "serial": serial,
        "distributed": dist,
        "model": model,
    });
    crate::write_json(&args.out.join("mpi-bench.json"), &report)
}

/// One `mpirun` of the example; its JSON report.
fn launch(
    mpirun: &Path,
    exe: &Path,
    args: &MpiBenchArgs,
    np: usize,
    cores: usize,
    solvers: &str,
) -> Result<serde_json::Value, String> {
    let json = args.out.join(format!("mpi-bench-np{np}.json"));
    let threads = (cores / np).max(1);
    let mut cmd = Command::new(mpirun);
    cmd.args(["--allow-run-as-root", "-np", &np.to_string()]);
    if np > cores {
        cmd.arg("--oversubscribe");
    }
    // Open MPI binds each rank to one core by default (for up to two ranks): right for
    // one-thread ranks, but it would squeeze a rank's rayon threads onto that core.
    if threads > 1 {
        cmd.args(["--bind-to", "none"]);
    }
    cmd.args(["-x", &format!("RAYON_NUM_THREADS={threads}")]);
    cmd.arg(exe).args([
        "--scene",
        &args.scene,
        "--dim",
        &args.dim.to_string(),
        "--n",
        &args.n.to_string(),
        "--seed",
        &args.seed.to_string(),
        "--solvers",
        solvers,
        "--rtol",
        &args.rtol.to_string(),
        "--repeats",
        &args.repeats.to_string(),
    ]);
    if let Some(g) = args.gather_cells {
        cmd.args(["--gather-cells", &g.to_string()]);
    }
    cmd.arg("--out").arg(&json);
    eprintln!("mpirun -np {np} ({threads} thread(s) per rank): {solvers}");
    crate::run_status(&format!("mpirun -np {np}"), &mut cmd)?;
    let text = std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))
}

/// The first `name` on the PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The α-β model's inputs, measured by the distributed run (docs/scale-out.md).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inputs {
    /// Seconds per owned cell per iteration of one rank's computation (its slowest rank).
    pub cg_cell_s: f64,
    pub mgpcg_cell_s: f64,
    /// Iterations at the measured size; CG's are scaled by `N / n` for other sizes (its
    /// iterations grow as `√κ ∝ N`), MGPCG's are taken as constant.
    pub cg_iterations: f64,
    pub mgpcg_iterations: f64,
    pub n: usize,
    /// The link between two ranks here (shared memory): latency, seconds per byte.
    pub alpha_s: f64,
    pub beta_s_per_byte: f64,
    /// One all-reduce of one value between two ranks.
    pub allreduce_s: f64,
    /// Levels under this many cells are gathered.
    pub gather_cells: usize,
}

/// A link for the model's what-if columns.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Network {
    pub name: &'static str,
    pub alpha_s: f64,
    pub beta_s_per_byte: f64,
    /// All-reduce latency per recursive-doubling step.
    pub allreduce_step_s: f64,
}

/// One predicted configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Prediction {
    pub solver: &'static str,
    pub n: usize,
    pub ranks: usize,
    /// "slabs" (what ritz-dist has) or "blocks" (3D blocks: the design's next step).
    pub layout: &'static str,
    pub network: &'static str,
    /// Split V-cycle levels and the cells of the first gathered level (MGPCG).
    pub split_levels: usize,
    pub gathered_cells: usize,
    pub compute_s: f64,
    pub halo_s: f64,
    pub allreduce_s: f64,
    pub iteration_s: f64,
    /// Compute / iteration time.
    pub efficiency: f64,
    pub iterations: f64,
    pub solve_s: f64,
}

impl Inputs {
    /// From the distributed report (`None` when it lacks a solver or the link).
    fn measured(dist: &serde_json::Value, args: &MpiBenchArgs) -> Option<Self> {
        let runs = dist["runs"].as_array()?;
        let per_cell = |name: &str| -> Option<(f64, f64)> {
            let run = runs.iter().find(|r| r["solver"] == name)?;
            let its = run["iterations"].as_f64()?.max(1.0);
            let plane = (args.n as f64).powi(args.dim as i32 - 1);
            let worst = run["ranks"]
                .as_array()?
                .iter()
                .filter_map(|r| {
                    let owned = (r["planes"][1].as_f64()? - r["planes"][0].as_f64()?) * plane;
                    Some(r["compute_s"].as_f64()? / its / owned)
                })
                .fold(0.0, f64::max);
            Some((worst, its))
        };
        let (cg_cell_s, cg_iterations) = per_cell("cg")?;
        let (mgpcg_cell_s, mgpcg_iterations) = per_cell("mgpcg")?;
        let link = &dist["link"];
        Some(Self {
            cg_cell_s,
            mgpcg_cell_s,
            cg_iterations,
            mgpcg_iterations,
            n: args.n,
            alpha_s: link["alpha_s"].as_f64()?,
            beta_s_per_byte: link["beta_s_per_byte"].as_f64()?,
            allreduce_s: link["allreduce_1_s"].as_f64()?,
            gather_cells: args.gather_cells.unwrap_or(1 << 15),
        })
    }

    /// The networks of the what-if columns: the link measured here, and an InfiniBand HDR
    /// cluster's (assumed, not measured: 1.5 µs, 12.5 GB/s, 2 µs per all-reduce step).
    fn networks(&self) -> [Network; 2] {
        [
            Network {
                name: "measured here (shared memory)",
                alpha_s: self.alpha_s,
                beta_s_per_byte: self.beta_s_per_byte,
                allreduce_step_s: self.allreduce_s,
            },
            Network {
                name: "InfiniBand HDR (assumed)",
                alpha_s: 1.5e-6,
                beta_s_per_byte: 1.0 / 12.5e9,
                allreduce_step_s: 2e-6,
            },
        ]
    }

    /// Per-iteration time of CG and MGPCG on `N³` grids over `P` ranks, slabs and blocks.
    pub fn predict(&self) -> Vec<Prediction> {
        let mut out = Vec::new();
        for net in self.networks() {
            for n in [512usize, 1024, 2048] {
                for ranks in [64usize, 256, 1024] {
                    for layout in ["slabs", "blocks"] {
                        let Some(split) = Split::new(n, ranks, layout) else {
                            continue;
                        };
                        for solver in ["cg", "mgpcg"] {
                            out.push(self.one(solver, n, ranks, layout, &split, &net));
                        }
                    }
                }
            }
        }
        out
    }

    fn one(
        &self,
        solver: &'static str,
        n: usize,
        ranks: usize,
        layout: &'static str,
        split: &Split,
        net: &Network,
    ) -> Prediction {
        let cells = (n as f64).powi(3);
        let steps = (ranks as f64).log2().ceil();
        let allreduce_1 = net.allreduce_step_s * steps;
        // A neighbour exchange: per axis with neighbours, two paired steps (down, up).
        let exchange = |bytes_per_face: &[f64]| -> f64 {
            bytes_per_face
                .iter()
                .map(|b| 2.0 * (net.alpha_s + net.beta_s_per_byte * b))
                .sum()
        };
        let product_halo = exchange(&split.faces(n, 0, 8.0));
        let (compute, halo, allreduce, iterations, levels, gathered) = if solver == "cg" {
            (
                self.cg_cell_s * cells / ranks as f64,
                product_halo,
                2.0 * allreduce_1,
                self.cg_iterations * n as f64 / self.n as f64,
                0,
                0,
            )
        } else {
            // Split levels: while the level has ≥ gather_cells cells and every rank keeps
            // ≥ 2 planes per axis it splits.
            let levels = (0..)
                .take_while(|&l| {
                    (n >> l).pow(3) >= self.gather_cells && split.min_side(n, l) >= 2.0
                })
                .count();
            let mut halo = product_halo;
            for l in 0..levels {
                // 15 one-colour plane exchanges (half faces), b (1 face, both colours), x
                // before the restriction (2 faces, both colours): 21 half-face units; and
                // the coarse x before the prolongation (2 half-face units) when the next
                // level is split too.
                let faces = split.faces(n, l, 4.0 * 0.5);
                for _ in 0..15 {
                    halo += exchange(&faces);
                }
                halo += exchange(&faces.iter().map(|b| 2.0 * b).collect::<Vec<_>>());
                halo += exchange(&faces.iter().map(|b| 4.0 * b).collect::<Vec<_>>());
                if l + 1 < levels {
                    halo += exchange(&split.faces(n, l + 1, 4.0));
                }
            }
            let gathered = (n >> levels).pow(3);
            // The gather: an all-reduce of the level (f64, both colours), latency plus the
            // bandwidth term of a reduce-scatter + all-gather (2 m β).
            let m = 8.0 * gathered as f64;
            let gather = allreduce_1 + 2.0 * m * net.beta_s_per_byte;
            (
                self.mgpcg_cell_s * (cells / ranks as f64 + gathered as f64),
                halo,
                3.0 * allreduce_1 + gather,
                self.mgpcg_iterations,
                levels,
                gathered,
            )
        };
        let iteration_s = compute + halo + allreduce;
        Prediction {
            solver,
            n,
            ranks,
            layout,
            network: net.name,
            split_levels: levels,
            gathered_cells: gathered,
            compute_s: compute,
            halo_s: halo,
            allreduce_s: allreduce,
            iteration_s,
            efficiency: self.cell_s(solver) * cells / ranks as f64 / iteration_s,
            iterations,
            solve_s: iterations * iteration_s,
        }
    }

    fn cell_s(&self, solver: &str) -> f64 {
        if solver == "cg" {
            self.cg_cell_s
        } else {
            self.mgpcg_cell_s
        }
    }
}

/// How `P` ranks cut an `N³` grid: slabs (`1 × 1 × P`) or near-cubic blocks.
struct Split {
    parts: [usize; 3],
}

impl Split {
    /// `None` when some rank would own less than one plane.
    fn new(n: usize, ranks: usize, layout: &str) -> Option<Self> {
        let parts = if layout == "slabs" {
            [1, 1, ranks]
        } else {
            // Factors of two, spread over the axes: 64 = 4·4·4, 256 = 8·8·4, 1024 = 16·8·8.
            let mut p = [1usize; 3];
            let mut r = ranks;
            let mut axis = 2;
            while r > 1 && r.is_multiple_of(2) {
                p[axis] *= 2;
                r /= 2;
                axis = if axis == 0 { 2 } else { axis - 1 };
            }
            p[2] *= r;
            p
        };
        (parts.iter().all(|&p| p <= n)).then_some(Self { parts })
    }
    /// The smallest side of a rank's block on level `l`, in planes.
    fn min_side(&self, n: usize, l: usize) -> f64 {
        self.parts
            .iter()
            .map(|&p| (n >> l) as f64 / p as f64)
            .fold(f64::INFINITY, f64::min)
    }
    /// Bytes of one face per axis with neighbours, level `l`, `bytes` per cell.
    fn faces(&self, n: usize, l: usize, bytes: f64) -> Vec<f64> {
        let side: Vec<f64> = self
            .parts
            .iter()
            .map(|&p| (n >> l) as f64 / p as f64)
            .collect();
        (0..3)
            .filter(|&a| self.parts[a] > 1)
            .map(|a| {
                let area: f64 = (0..3).filter(|&b| b != a).map(|b| side[b]).product();
                area * bytes
            })
            .collect()
    }
}

fn print_model(inputs: &Inputs, predictions: &[Prediction]) {
    println!(
        "\nα-β model (docs/scale-out.md): per owned cell and iteration CG {:.2} ns, MGPCG {:.2} ns; \
         link α {:.2} µs, β {:.3} ns/B ({:.1} GB/s), all-reduce {:.2} µs",
        inputs.cg_cell_s * 1e9,
        inputs.mgpcg_cell_s * 1e9,
        inputs.alpha_s * 1e6,
        inputs.beta_s_per_byte * 1e9,
        1.0 / inputs.beta_s_per_byte / 1e9,
        inputs.allreduce_s * 1e6
    );
    println!(
        "{:<30} {:<6} {:>5} {:>5} {:<7} {:>5} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8}",
        "network",
        "solver",
        "N",
        "P",
        "layout",
        "split",
        "compute",
        "halo",
        "allred",
        "iter s",
        "eff",
        "solve s"
    );
    for p in predictions {
        println!(
            "{:<30} {:<6} {:>5} {:>5} {:<7} {:>5} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>5.0}% {:>8.2}",
            p.network,
            p.solver,
            p.n,
            p.ranks,
            p.layout,
            p.split_levels,
            p.compute_s,
            p.halo_s,
            p.allreduce_s,
            p.iteration_s,
            100.0 * p.efficiency,
            p.solve_s
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            cg_cell_s: 5e-9,
            mgpcg_cell_s: 2e-8,
            cg_iterations: 1000.0,
            mgpcg_iterations: 16.0,
            n: 128,
            alpha_s: 5e-7,
            beta_s_per_byte: 1e-10,
            allreduce_s: 5e-7,
            gather_cells: 1 << 15,
        }
    }

    #[test]
    fn blocks_split_more_levels_than_slabs_and_no_prediction_beats_perfect_scaling() {
        let p = inputs().predict();
        assert!(!p.is_empty());
        for q in &p {
            assert!(q.efficiency > 0.0 && q.efficiency <= 1.0, "{q:?}");
            assert!(q.iteration_s >= q.compute_s);
        }
        // 1024 slabs of a 512³ grid would be half a plane each: not predicted.
        assert!(
            !p.iter()
                .any(|q| q.n == 512 && q.ranks == 1024 && q.layout == "slabs")
        );
        let find = |layout: &str| {
            p.iter()
                .find(|q| {
                    q.solver == "mgpcg" && q.n == 1024 && q.ranks == 256 && q.layout == layout
                })
                .unwrap()
        };
        let (slabs, blocks) = (find("slabs"), find("blocks"));
        // Four planes per slab split two levels; 16 × 16 × 32 blocks split down to 32³.
        assert_eq!(slabs.split_levels, 2);
        assert_eq!(blocks.split_levels, 6);
        assert!(blocks.iteration_s < slabs.iteration_s);
        // CG's iterations grow with N.
        let cg = |n: usize| {
            p.iter()
                .find(|q| q.solver == "cg" && q.n == n)
                .unwrap()
                .iterations
        };
        assert_eq!(cg(1024), 2.0 * cg(512));
    }
}
