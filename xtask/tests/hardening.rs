//! Bad input through the CLI: each category of the hardening issue ends in a clear message and
//! a non-zero exit (or a correct result), never a panic, an abort or a silently wrong answer.

mod common;
use common::{json, run_ok, text, tmpdir, xtask};
use ritz::linalg::io::{read_npy, write_npy_f64};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs and requires a plain failure: exit code 1 (not a panic's 101 or an abort's 134).
fn fails(cmd: &mut Command, needle: &str) -> String {
    let out = cmd.output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(needle), "expected {needle:?} in:\n{t}");
    t
}

fn spd_mtx(dir: &Path, n: usize) -> PathBuf {
    let mut s = format!(
        "%%MatrixMarket matrix coordinate real symmetric\n{n} {n} {}\n",
        2 * n - 1
    );
    for i in 1..=n {
        s += &format!("{i} {i} 2\n");
        if i > 1 {
            s += &format!("{i} {} -1\n", i - 1);
        }
    }
    let p = dir.join("spd.mtx");
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn lanczos_with_one_step_reports_instead_of_panicking() {
    let d = tmpdir("lanczos");
    let m = spd_mtx(&d, 100);
    run_ok(
        xtask()
            .args(["lanczos", "--steps", "1", "--mtx"])
            .arg(&m)
            .arg("--out")
            .arg(&d),
    );
    assert_eq!(json(&d.join("lanczos.json"))["steps"], 1);
}

#[test]
fn memory_bombs_are_refused_with_bytes_needed_and_available() {
    let d = tmpdir("bombs");
    let bomb = d.join("bomb.mtx");
    std::fs::write(
        &bomb,
        "%%MatrixMarket matrix coordinate real general\n4294967295 4294967295 0\n",
    )
    .unwrap();
    // A limit makes the refusals independent of the machine's memory.
    let lim = ["--mem-limit", "2G"];
    fails(
        xtask()
            .args(lim)
            .args(["bench", "--mtx"])
            .arg(&bomb)
            .arg("--out")
            .arg(&d),
        "needs 103.1 GB",
    );
    for args in [
        &["bench", "--scene", "spheres", "--dim", "2", "--n", "65535"][..],
        &["simulate", "--dim", "3", "--n", "1624"],
        &["train", "--model", "stencil", "--dim", "3", "--n", "1624"],
        &["bench", "--suite", "ot", "--ot-n", "100000"],
        &[
            "bench",
            "--suite",
            "second-order",
            "--mfac-d",
            "1000000",
            "--mfac-m",
            "1000000",
        ],
    ] {
        let t = fails(xtask().args(lim).args(args).arg("--out").arg(&d), "needs");
        assert!(t.contains("available"), "{t}");
    }
    fails(
        xtask()
            .args(["bench", "--scene", "spheres", "--dim", "2", "--n", "16"])
            .args(["--solvers", "fcd-ic0", "--fcd-k", "100000000", "--out"])
            .arg(&d),
        "--fcd-k",
    );
    // The limit itself applies: a 256² bench needs about 8 MB.
    fails(
        xtask()
            .args([
                "--mem-limit",
                "1M",
                "bench",
                "--scene",
                "spheres",
                "--dim",
                "2",
            ])
            .args(["--n", "256", "--solvers", "cg", "--out"])
            .arg(&d),
        "--mem-limit",
    );
    // A malformed limit is a usage error (clap's exit code 2).
    let out = xtask()
        .args(["--mem-limit", "lots", "bench"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("invalid memory size"));
}

#[test]
fn cg_mic0_mgpcg_and_stencil_take_the_same_iterations_for_b_and_1e_pm150_b() {
    let d = tmpdir("scale");
    run_ok(
        xtask()
            .args([
                "export", "--scene", "spheres", "--dim", "2", "--n", "64", "--rhs", "noise",
            ])
            .arg("--out")
            .arg(&d),
    );
    let b = read_npy(d.join("b_grid.npy")).unwrap();
    let mut iterations = Vec::new();
    for s in [1.0, 1e-150, 1e150, 1e-170] {
        let bs: Vec<f64> = b.to_f64().iter().map(|v| v * s).collect();
        let rhs = d.join(format!("b_{s:e}.npy"));
        write_npy_f64(&rhs, &b.shape, &bs).unwrap();
        let out = d.join(format!("out_{s:e}"));
        run_ok(
            xtask()
                .args([
                    "bench",
                    "--walls",
                    "open-top",
                    "--solvers",
                    "cg,mic0,mgpcg,stencil",
                ])
                .arg("--flags")
                .arg(d.join("flags.npy"))
                .arg("--rhs-npy")
                .arg(&rhs)
                .arg("--out")
                .arg(&out),
        );
        let j = json(&out.join("bench.json"));
        let solves = j["problems"][0]["solves"].as_array().unwrap().clone();
        assert_eq!(solves.len(), 4);
        for r in &solves {
            assert_eq!(r["stop"], "Converged", "{r}");
            let t = r["true_relative_residual"].as_f64().unwrap();
            assert!(t > 0.0 && t < 1e-5, "scale {s:e}: {r}");
        }
        iterations.push(
            solves
                .iter()
                .map(|r| r["iterations"].as_u64().unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        iterations.windows(2).all(|w| w[0] == w[1]),
        "{iterations:?}"
    );
}

#[test]
fn failed_solves_exit_non_zero_and_are_recorded_beside_the_results() {
    let d = tmpdir("exit");
    // Unknown names and a missing backend are refused before any work, leaving no results.
    fails(
        xtask()
            .args(["bench", "--scene", "spheres", "--dim", "2", "--n", "16"])
            .args(["--solvers", "cg,nosuch", "--out"])
            .arg(&d),
        "unknown solver 'nosuch'",
    );
    assert!(!d.join("bench.json").exists());
    if !cfg!(feature = "cuda") {
        fails(
            xtask()
                .args(["bench", "--scene", "spheres", "--dim", "2", "--n", "16"])
                .args(["--solvers", "dcdm", "--backend", "cuda", "--out"])
                .arg(&d),
            "cuda feature",
        );
    }
    // A config whose second problem fails keeps the first's results and records the failure.
    let config = d.join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "tolerance": 1e-6,
            "max_iters": 500,
            "problems": [
                {"scene": "spheres", "dim": 2, "n": 24, "solvers": ["cg"]},
                {"mtx": d.join("missing.mtx"), "solvers": ["cg"]},
                {"scene": "pillars", "dim": 2, "n": 24, "solvers": ["cg", "mic0"]}
            ]
        })
        .to_string(),
    )
    .unwrap();
    fails(
        xtask()
            .arg("bench")
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(&d),
        "1 of 4 requested solves failed",
    );
    let j = json(&d.join("bench.json"));
    assert_eq!(j["complete"], true);
    assert_eq!(j["failed_solves"], 1);
    let p = j["problems"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[0]["solves"][0]["stop"], "Converged");
    assert_eq!(p[1]["failed"][0]["solver"], "cg");
    assert!(
        p[1]["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("missing.mtx")
    );
    assert_eq!(p[2]["solves"].as_array().unwrap().len(), 2);
    // A failing rerun does not leave the previous run's bench.json behind.
    fails(
        xtask()
            .args(["bench", "--mtx"])
            .arg(d.join("missing.mtx"))
            .arg("--out")
            .arg(&d),
        "missing.mtx",
    );
    let j = json(&d.join("bench.json"));
    assert_eq!(j["problems"].as_array().unwrap().len(), 1);
    assert_eq!(j["failed_solves"], 3);
}

/// An inconsistent singular system (a closed box's matrix without its null space, b = e₁)
/// diverges: CG stops with its own reason and the bench fails.
#[test]
fn divergence_is_a_stop_reason_and_a_failed_solve() {
    let d = tmpdir("diverge");
    run_ok(
        xtask()
            .args([
                "export", "--scene", "closed", "--dim", "2", "--n", "32", "--out",
            ])
            .arg(&d),
    );
    let n = read_npy(d.join("b.npy")).unwrap().to_f64().len();
    let mut e1 = vec![0.0; n];
    e1[0] = 1.0;
    write_npy_f64(d.join("e1.npy"), &[n], &e1).unwrap();
    fails(
        xtask()
            .args(["bench", "--solvers", "cg", "--mtx"])
            .arg(d.join("A.mtx"))
            .arg("--rhs-npy")
            .arg(d.join("e1.npy"))
            .arg("--out")
            .arg(&d),
        "diverged",
    );
    let j = json(&d.join("bench.json"));
    assert_eq!(j["problems"][0]["solves"][0]["stop"], "Diverged");
}

/// Weights whose manifest or record was edited (with the checksum fixed up) are refused by
/// a layout check before burn decodes them.
#[test]
fn edited_weights_are_refused_without_a_panic() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/neural-precond/weights");
    let fnv = |b: &[u8]| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in b {
            h ^= x as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    };
    let bin = std::fs::read(shipped.join("stencil-2d.bin")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped.join("stencil-2d.json")).unwrap())
            .unwrap();
    let mut cases: Vec<(&str, Vec<u8>, serde_json::Value)> = Vec::new();
    let mut m = manifest.clone();
    m["model"]["levels"] = 5.into();
    cases.push(("levels", bin.clone(), m));
    // Every 97th byte flipped, one at a time, checksum fixed up.
    for at in (0..bin.len()).step_by(97) {
        let mut b = bin.clone();
        b[at] ^= 0x5a;
        let mut m = manifest.clone();
        m["checksum"] = fnv(&b).into();
        cases.push(("byte", b, m));
    }
    let d = tmpdir("weights");
    let w = d.join("w");
    std::fs::create_dir_all(&w).unwrap();
    let mut refused = 0;
    for (what, b, m) in cases {
        std::fs::write(w.join("stencil-2d.bin"), &b).unwrap();
        std::fs::write(w.join("stencil-2d.json"), m.to_string()).unwrap();
        let out = xtask()
            .args(["bench", "--scene", "spheres", "--dim", "2", "--n", "16"])
            .args(["--solvers", "stencil", "--weights"])
            .arg(&w)
            .arg("--out")
            .arg(&d)
            .output()
            .unwrap();
        let t = text(&out);
        // Refused with exit 1, or (a flipped parameter value) loaded and solved.
        assert!(matches!(out.status.code(), Some(0 | 1)), "{what}: {t}");
        refused += (out.status.code() == Some(1)) as usize;
        assert!(!t.contains("panicked"), "{what}: {t}");
    }
    assert!(refused > 0);
}

/// A 2 × 8192 grid stops the stencil net's and MGPCG's coarsening at a 1 × 4096 line, which
/// is now factorized sparsely (it was a dense O(m³) eigen-decomposition, 47 s): both solve, in
/// the iterations of a square grid.
#[test]
fn thin_grids_set_up_and_solve_with_learned_and_classical_multigrid() {
    let d = tmpdir("thin");
    let flags = d.join("flags.npy");
    ritz::linalg::io::npy::write_npy_i8(&flags, &[2, 8192], &vec![0i8; 2 * 8192]).unwrap();
    run_ok(
        xtask()
            .args(["bench", "--solvers", "stencil,stencil-spd,mgpcg", "--flags"])
            .arg(&flags)
            .arg("--out")
            .arg(&d),
    );
    let j = json(&d.join("bench.json"));
    for r in j["problems"][0]["solves"].as_array().unwrap() {
        assert_eq!(r["stop"], "Converged", "{r}");
        assert!(r["iterations"].as_u64().unwrap() <= 20, "{r}");
    }
}
