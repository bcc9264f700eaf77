//! `cargo xtask fuzz`: runs the libFuzzer targets of `fuzz/` (MatrixMarket, npy, cell flags,
//! weights, bench configuration) through cargo-fuzz on stable Rust (`--sanitizer none`),
//! installing cargo-fuzz from crates.io when it is missing. New inputs land in the committed
//! corpora (`fuzz/corpus/<target>/`, minimized afterwards with `--minimize`), crashes in
//! `fuzz/artifacts/<target>/`. Writes `fuzz-out/fuzz.json`: executions, seconds and crashes per
//! target. Exits 1 if any target crashed.

use crate::cargo;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The targets, in the order they run.
pub const TARGETS: &[&str] = &["mtx", "npy", "flags", "weights", "config"];

/// Arguments of `cargo xtask fuzz`.
#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// Targets to run (default: all): mtx, npy, flags, weights, config.
    pub targets: Vec<String>,
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Merge each corpus into a minimal one after the run (`cargo fuzz cmin`).
    #[arg(long)]
    pub minimize: bool,
    /// Output folder for fuzz.json.
    #[arg(long, default_value = "fuzz-out")]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct TargetReport {
    target: String,
    seconds: f64,
    executions: u64,
    corpus_files: usize,
    crashes: Vec<String>,
}

/// Installs cargo-fuzz when `cargo fuzz` is not available.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let ok = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Ok(());
    }
    eprintln!("installing cargo-fuzz (once) ...");
    let args = ["install", "cargo-fuzz", "--locked"].map(String::from);
    crate::run_cargo("cargo install cargo-fuzz", &args)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// libFuzzer's closing line: "Done 123456 runs in 60 second(s)".
fn executions(log: &str) -> u64 {
    log.lines()
        .rev()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("Done ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// Runs `cargo xtask fuzz`.
pub fn run(args: &FuzzArgs) -> Result<(), String> {
    let targets: Vec<String> = if args.targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        args.targets.clone()
    };
    if let Some(bad) = targets.iter().find(|t| !TARGETS.contains(&t.as_str())) {
        return Err(format!(
            "unknown fuzz target {bad} ({})",
            TARGETS.join(", ")
        ));
    }
    if args.seconds == 0 {
        return Err("--seconds must be at least 1".into());
    }
    ensure_cargo_fuzz()?;
    let root = crate::peers::root();
    let fuzz = root.join("fuzz");
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut reports = Vec::new();
    for t in &targets {
        let corpus = fuzz.join("corpus").join(t);
        let artifacts = fuzz.join("artifacts").join(t);
        std::fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
        let before: Vec<PathBuf> = files_in(&artifacts);
        println!("== fuzz {t}: {} s", args.seconds);
        let t0 = std::time::Instant::now();
        let out = Command::new(cargo())
            .current_dir(&fuzz)
            .args(["fuzz", "run", "--sanitizer", "none", "--release", t])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={}", args.seconds))
            .args(["-rss_limit_mb=4096", "-timeout=20", "-print_final_stats=1"])
            .output()
            .map_err(|e| format!("cargo fuzz run {t}: {e}"))?;
        let seconds = t0.elapsed().as_secs_f64();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        std::fs::write(args.out.join(format!("{t}.log")), &log).ok();
        let crashes: Vec<String> = files_in(&artifacts)
            .into_iter()
            .filter(|p| !before.contains(p))
            .map(|p| p.display().to_string())
            .collect();
        if !out.status.success() && crashes.is_empty() {
            return Err(format!(
                "cargo fuzz run {t} failed ({}); log in {}",
                out.status,
                args.out.join(format!("{t}.log")).display()
            ));
        }
        if args.minimize {
            let tmp = fuzz.join("corpus").join(format!("{t}.min"));
            std::fs::remove_dir_all(&tmp).ok();
            std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
            let st = Command::new(cargo())
                .current_dir(&fuzz)
                .args(["fuzz", "run", "--sanitizer", "none", "--release", t])
                .arg(&tmp)
                .arg(&corpus)
                .args(["--", "-merge=1"])
                .output()
                .map_err(|e| format!("corpus merge {t}: {e}"))?;
            if st.status.success() {
                std::fs::remove_dir_all(&corpus).map_err(|e| e.to_string())?;
                std::fs::rename(&tmp, &corpus).map_err(|e| e.to_string())?;
            } else {
                std::fs::remove_dir_all(&tmp).ok();
            }
        }
        let r = TargetReport {
            target: t.clone(),
            seconds,
            executions: executions(&log),
            corpus_files: files_in(&corpus).len(),
            crashes,
        };
        println!(
            "  {} executions in {:.0} s, corpus {} files, {} new crashes",
            r.executions,
            r.seconds,
            r.corpus_files,
            r.crashes.len()
        );
        for c in &r.crashes {
            println!("  crash: {c}");
        }
        reports.push(r);
    }
    let path = args.out.join("fuzz.json");
    let json = serde_json::json!({ "schema": "ritz-fuzz/1", "targets": reports });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    let crashed: usize = reports.iter().map(|r| r.crashes.len()).sum();
    if crashed > 0 {
        return Err(format!("{crashed} crashing inputs (see above)"));
    }
    Ok(())
}
