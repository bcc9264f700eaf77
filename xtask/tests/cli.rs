//! End-to-end tests of `cargo xtask bench` / `export`: the SciPy oracle (skipped when the
//! repo's Python venv is absent), typed errors for bad input files, and the JSON/plot output.

mod common;
use common::{json, run_ok, tmpdir, xtask};
use std::path::Path;
use std::process::Command;

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "command unexpectedly succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bench_writes_json_and_plot() {
    let out = tmpdir("json");
    run_ok(
        xtask()
            .args([
                "bench",
                "--scene",
                "organic",
                "--dim",
                "2",
                "--n",
                "48",
                "--solvers",
            ])
            .arg("cg,mic0,fcd-ic0,cholesky")
            .arg("--out")
            .arg(&out),
    );
    let j = json(&out.join("bench.json"));
    assert_eq!(j["schema"], "ritz-bench/1");
    let p = &j["problems"][0];
    let solves = p["solves"].as_array().unwrap();
    assert_eq!(solves.len(), 4);
    for s in solves {
        assert_eq!(s["stop"], "Converged", "{s}");
        assert!(s["true_relative_residual"].as_f64().unwrap() < 1e-5);
        assert!(!s["history"].as_array().unwrap().is_empty());
    }
    assert!(Path::new(p["plot"].as_str().unwrap()).exists());
}

#[test]
fn ot_suite_json_and_pot_peer() {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let peers = py.exists();
    if !peers {
        eprintln!("POT part skipped: no Python venv (create it with `cargo xtask venv`)");
    }
    let out = tmpdir("ot");
    let mut cmd = xtask();
    cmd.args([
        "bench",
        "--suite",
        "ot",
        "--ot-n",
        "80",
        "--eta",
        "300",
        "--ot-tol",
        "1e-10",
        "--pot-stop",
        "1e-9",
        "--ot-seeds",
        "0,3",
        "--ot-time-limit",
        "60",
        "--solvers",
        "sns,sinkhorn-log,sinkhorn-stabilized,eps-scaling,exact",
    ])
    .arg("--out")
    .arg(&out);
    if peers {
        cmd.arg("--peers");
    }
    run_ok(&mut cmd);
    assert!(out.join("ot-convergence-seed0.png").exists());
    assert!(out.join("ot-convergence-seed3.png").exists());
    let j = json(&out.join("ot.json"));
    assert_eq!(j["schema"], "ritz-bench-ot/2");
    assert_eq!(j["cases"].as_array().unwrap().len(), 2);
    assert!(j["median_speedup_of_sns"].as_array().unwrap().len() >= 2);
    let case = &j["cases"][0];
    let solvers = case["solvers"].as_array().unwrap();
    assert_eq!(solvers.len(), 5, "{:?}", case["errors"]);
    let get = |name: &str| solvers.iter().find(|s| s["solver"] == name).unwrap();
    let sns = get("sns");
    assert_eq!(sns["stop"], "Converged");
    assert!(sns["iterations"].as_u64().unwrap() <= 60);
    let cost = sns["transport_cost"].as_f64().unwrap();
    for name in ["sinkhorn-log", "sinkhorn-stabilized", "eps-scaling"] {
        let s = get(name);
        assert_eq!(s["stop"], "Converged", "{name}");
        assert!(
            (s["transport_cost"].as_f64().unwrap() - cost).abs() < 1e-9,
            "{name}"
        );
    }
    assert!(get("exact")["transport_cost"].as_f64().unwrap() < cost);
    if peers {
        let pot = &case["pot"];
        assert!((pot["transport_cost"].as_f64().unwrap() - cost).abs() < 1e-7);
        // The same iteration from the same start (POT updates columns first, we rows first, and
        // it checks every 10 iterations): the counts to the same error agree within 10 %.
        let theirs = pot["iterations"].as_f64().unwrap();
        let ours = pot["ritz_log_iterations_to_same_error"].as_f64().unwrap();
        assert!(
            (theirs - ours).abs() <= 0.1 * theirs,
            "POT {theirs} vs ritz {ours} iterations"
        );
    }
}

#[test]
fn ot_suite_from_files_with_pot_emd() {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let peers = py.exists();
    let dir = tmpdir("ot-files");
    let clouds = dir.join("clouds");
    run_ok(
        xtask()
            .args(["ot-clouds", "--n", "60", "--m", "90", "--dim", "3", "--out"])
            .arg(&clouds),
    );
    let out = dir.join("out");
    let mut cmd = xtask();
    cmd.args(["bench", "--suite", "ot", "--ot-input"])
        .arg(&clouds)
        .args(["--ot-cost-scale", "max", "--eta", "200", "--repeat", "2"])
        .args(["--solvers", "exact,sns", "--out"])
        .arg(&out);
    if peers {
        cmd.arg("--peers");
    }
    run_ok(&mut cmd);
    let j = json(&out.join("ot.json"));
    let case = &j["cases"][0];
    assert_eq!(case["kind"], "point-clouds");
    assert_eq!(
        (case["n"].as_u64(), case["m"].as_u64()),
        (Some(60), Some(90))
    );
    let solvers = case["solvers"].as_array().unwrap();
    let exact = solvers.iter().find(|s| s["solver"] == "exact").unwrap();
    let sns = solvers.iter().find(|s| s["solver"] == "sns").unwrap();
    assert_eq!(exact["all_seconds"].as_array().unwrap().len(), 2);
    let cert = &exact["certificate"];
    assert!(
        cert["dual_infeasibility"].as_f64().unwrap() < 1e-12,
        "{cert}"
    );
    assert!(
        cert["complementary_slackness"].as_f64().unwrap() < 1e-12,
        "{cert}"
    );
    let cost = exact["transport_cost"].as_f64().unwrap();
    assert!(sns["transport_cost"].as_f64().unwrap() > cost);
    if peers {
        let pot = &case["pot_emd"];
        assert_eq!(pot["result_code"], 1);
        assert!(
            pot["cost_relative_difference"].as_f64().unwrap() < 1e-9,
            "{pot}"
        );
        // The exported cost matrix as a cost-matrix input: the same optimum.
        let matrix = dir.join("matrix");
        std::fs::create_dir_all(&matrix).unwrap();
        let exported = out.join("peers").join("ot");
        for (from, to) in [
            ("cost.npy", "C.npy"),
            ("a.npy", "a.npy"),
            ("b.npy", "b.npy"),
        ] {
            std::fs::copy(exported.join(from), matrix.join(to)).unwrap();
        }
        let out2 = dir.join("out2");
        run_ok(
            xtask()
                .args(["bench", "--suite", "ot", "--solvers", "exact", "--ot-input"])
                .arg(&matrix)
                .arg("--out")
                .arg(&out2),
        );
        let j = json(&out2.join("ot.json"));
        assert_eq!(j["cases"][0]["kind"], "cost-matrix");
        let c2 = j["cases"][0]["solvers"][0]["transport_cost"]
            .as_f64()
            .unwrap();
        assert!((c2 - cost).abs() <= 1e-12 * cost, "{c2} vs {cost}");
    }
    // The same clouds with costs computed on the fly: SNS and Sinkhorn, peak memory, POT on
    // the dense costs for a few iterations.
    let out3 = dir.join("out3");
    let mut cmd = xtask();
    cmd.args(["bench", "--suite", "ot", "--ot-on-the-fly", "--ot-input"])
        .arg(&clouds)
        .args(["--ot-cost-scale", "max", "--eta", "200", "--ot-tol", "1e-9"])
        .args(["--pot-max-iters", "5", "--out"])
        .arg(&out3);
    if peers {
        cmd.arg("--peers");
    }
    run_ok(&mut cmd);
    let j = json(&out3.join("ot.json"));
    let case = &j["cases"][0];
    assert_eq!(case["kind"], "point-clouds-on-the-fly");
    for s in case["solvers"].as_array().unwrap() {
        assert_eq!(s["stop"], "Converged", "{s}");
        assert!(s["peak_rss_bytes"].as_u64().unwrap_or(1) > 0);
        assert!(
            (s["transport_cost"].as_f64().unwrap() - sns["transport_cost"].as_f64().unwrap()).abs()
                < 1e-8
        );
    }
    if peers {
        assert_eq!(case["pot_clouds"]["iterations"], 5);
    }
    let e = run_err(
        xtask()
            .args([
                "bench",
                "--suite",
                "ot",
                "--ot-on-the-fly",
                "--solvers",
                "exact",
            ])
            .arg("--ot-input")
            .arg(&clouds)
            .arg("--out")
            .arg(&out3),
    );
    assert!(e.contains("does not run on the fly"), "{e}");
    // A folder without a problem, and a bad ground cost: non-zero exits that say why.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = run_err(
        xtask()
            .args(["bench", "--suite", "ot", "--ot-input"])
            .arg(&empty)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("neither C.npy"), "{e}");
    let e = run_err(
        xtask()
            .args([
                "bench",
                "--suite",
                "ot",
                "--ot-ground",
                "hamming",
                "--ot-input",
            ])
            .arg(&clouds)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("--ot-ground"), "{e}");
}

#[test]
fn simulate_dump_and_bench_frames() {
    let out = tmpdir("sim");
    run_ok(
        xtask()
            .args([
                "simulate",
                "--dim",
                "2",
                "--n",
                "64",
                "--frames",
                "100",
                "--solvers",
                "mgpcg,cg",
                "--dump",
                "--image-every",
                "50",
            ])
            .arg("--out")
            .arg(&out),
    );
    let j = json(&out.join("simulate.json"));
    let recs = j["records"].as_array().unwrap();
    assert_eq!(recs.len(), 100);
    for r in recs {
        // Projection leaves at most the solver's tolerance of the divergence (no NaN: the
        // simulator reports non-finite fields as errors).
        let (b, a) = (
            r["divergence_before"].as_f64().unwrap(),
            r["divergence_after"].as_f64().unwrap(),
        );
        assert!(a <= 1e-5 * b, "frame {}: {a:e} vs {b:e}", r["frame"]);
        assert!(r["smoke_mass"].as_f64().unwrap().is_finite());
        let solves = r["solves"].as_array().unwrap();
        assert_eq!(solves.len(), 2);
        assert!(
            solves
                .iter()
                .all(|s| s["relative_residual"].as_f64().unwrap() <= 1e-6)
        );
    }
    // Per-frame seconds with the setup amortized: (setup + total solve) / frames, and the
    // ratio to the driving solver's.
    let summaries = j["solvers"].as_array().unwrap();
    for s in summaries {
        let per_frame = s["per_frame_s"].as_f64().unwrap();
        let want = (s["setup_s"].as_f64().unwrap() + s["total_solve_s"].as_f64().unwrap()) / 100.0;
        assert!((per_frame - want).abs() <= 1e-12 + 1e-9 * want, "{s}");
    }
    assert_eq!(summaries[0]["per_frame_vs_first"].as_f64(), Some(1.0));
    assert!(out.join("frame_0050.png").exists() && out.join("frame_0100.png").exists());
    assert!(out.join("iterations.png").exists() && out.join("solve-seconds.png").exists());
    let frames = out.join("frames");
    assert!(frames.join("flags.npy").exists() && frames.join("rhs_0100.npy").exists());
    // The dumped frames as bench problems.
    let bench = tmpdir("frames-bench");
    run_ok(
        xtask()
            .args([
                "bench",
                "--solvers",
                "cg,mgpcg",
                "--frame-every",
                "50",
                "--frames",
            ])
            .arg(&frames)
            .arg("--out")
            .arg(&bench),
    );
    let b = json(&bench.join("bench.json"));
    let problems = b["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2);
    for p in problems {
        assert!(p["name"].as_str().unwrap().contains("rhs_"));
        for s in p["solves"].as_array().unwrap() {
            assert_eq!(s["stop"], "Converged");
        }
    }
    // The driving solver's iterations on frame 100 match the bench's on the dumped system.
    let sim_its = recs[99]["solves"][1]["iterations"].as_i64().unwrap();
    let bench_its = problems[1]["solves"][0]["iterations"].as_i64().unwrap();
    assert!(
        (sim_its - bench_its).abs() <= 2,
        "simulate cg {sim_its} vs bench cg {bench_its}"
    );
}

#[test]
fn scipy_cg_iterations_match_ours() {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if !py.exists() {
        eprintln!("skipped: no Python venv (create it with `cargo xtask venv`)");
        return;
    }
    let out = tmpdir("scipy");
    run_ok(
        xtask()
            .args([
                "bench",
                "--scene",
                "spheres",
                "--dim",
                "3",
                "--n",
                "24",
                "--solvers",
                "cg",
                "--peers",
            ])
            .arg("--out")
            .arg(&out),
    );
    let j = json(&out.join("bench.json"));
    let p = &j["problems"][0];
    let ours = p["solves"][0]["iterations"].as_f64().unwrap();
    let peer = p["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["solver"] == "scipy-cg")
        .expect("scipy peer ran");
    let scipy = peer["iterations"].as_f64().unwrap();
    assert!(
        (ours - scipy).abs() <= 0.02 * scipy,
        "ritz {ours} vs scipy {scipy}"
    );
}

#[test]
fn external_problems_round_trip_and_bad_files_are_clear_errors() {
    let dir = tmpdir("files");
    run_ok(
        xtask()
            .args([
                "export", "--scene", "pillars", "--dim", "2", "--n", "32", "--out",
            ])
            .arg(&dir),
    );
    // MatrixMarket + npy rhs, and npy flags + npy grid rhs, solve to the tolerance.
    let out = dir.join("bench");
    run_ok(
        xtask()
            .args(["bench", "--solvers", "cg,ic0,mic0"])
            .arg("--mtx")
            .arg(dir.join("A.mtx"))
            .arg("--rhs-npy")
            .arg(dir.join("b.npy"))
            .arg("--out")
            .arg(&out),
    );
    let mtx_json = json(&out.join("bench.json"));
    let mtx_iters = mtx_json["problems"][0]["solves"][0]["iterations"].clone();
    let n = mtx_json["problems"][0]["unknowns"].as_u64().unwrap() as usize;
    run_ok(
        xtask()
            .args(["bench", "--solvers", "cg", "--walls", "closed"])
            .arg("--flags")
            .arg(dir.join("flags.npy"))
            .arg("--rhs-npy")
            .arg(dir.join("b_grid.npy"))
            .arg("--out")
            .arg(&out),
    );
    let grid_iters =
        json(&out.join("bench.json"))["problems"][0]["solves"][0]["iterations"].clone();
    assert_eq!(
        mtx_iters, grid_iters,
        "same system through both file formats"
    );

    // Malformed MatrixMarket: the error names the line.
    let bad = dir.join("bad.mtx");
    std::fs::write(
        &bad,
        "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 4.0\n2 x 1.0\n",
    )
    .unwrap();
    let e = run_err(
        xtask()
            .args(["bench", "--mtx"])
            .arg(&bad)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("line 4"), "{e}");
    // A right-hand side over a grid of the wrong size.
    let wrong = dir.join("wrong.npy");
    ritz::linalg::io::npy::write_npy_f64(&wrong, &[5, 5], &[0.0; 25]).unwrap();
    let e = run_err(
        xtask()
            .arg("bench")
            .arg("--flags")
            .arg(dir.join("flags.npy"))
            .arg("--rhs-npy")
            .arg(&wrong)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("does not match the flag grid"), "{e}");
    // NaN in the right-hand side.
    let nan = dir.join("nan.npy");
    let mut v = vec![1.0; n];
    v[3] = f64::NAN;
    ritz::linalg::io::npy::write_npy_f64(&nan, &[n], &v).unwrap();
    let e = run_err(
        xtask()
            .arg("bench")
            .arg("--mtx")
            .arg(dir.join("A.mtx"))
            .arg("--rhs-npy")
            .arg(&nan)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("non-finite") && e.contains("3"), "{e}");
    // Flag codes outside {0, 1, 2}.
    let flags = dir.join("badflags.npy");
    ritz::linalg::io::npy::write_npy_i8(
        &flags,
        &[4, 4],
        &[0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
    let e = run_err(
        xtask()
            .arg("bench")
            .arg("--flags")
            .arg(&flags)
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("invalid cell flag 7"), "{e}");
}

#[test]
fn held_out_grid_and_profiled_bench() {
    let out = tmpdir("profile");
    let flags = out.join("porous.npy");
    let said = run_ok(
        xtask()
            .args([
                "grid", "--kind", "porous", "--dim", "3", "--n", "24", "--out",
            ])
            .arg(&flags),
    );
    assert!(said.contains("--walls open-top"), "{said}");
    run_ok(
        xtask()
            .arg("bench")
            .arg("--flags")
            .arg(&flags)
            .args([
                "--walls",
                "open-top",
                "--solvers",
                "mgpcg,ic0",
                "--profile",
                "--out",
            ])
            .arg(&out),
    );
    let j = json(&out.join("bench.json"));
    let solves = j["problems"][0]["solves"].as_array().unwrap();
    let kernels = |s: &serde_json::Value| -> Vec<String> {
        s["profile"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kernel"].as_str().unwrap().to_string())
            .collect()
    };
    let mg = kernels(&solves[0]);
    // Fused MGPCG's kernels, then the V-cycle's, then the rest of the solve.
    for k in [
        "operator",
        "residual-update",
        "rz-dot",
        "direction-update",
        "smooth",
        "boundary-smooth",
        "residual-restrict",
        "prolong",
        "coarsest",
        "other",
    ] {
        assert!(mg.contains(&k.to_string()), "{k} missing from {mg:?}");
    }
    assert!(solves[0]["triad_bytes_per_s"].as_f64().unwrap() > 1e8);
    let smooth = solves[0]["profile"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kernel"] == "smooth")
        .unwrap();
    assert!(
        smooth["bytes_per_cell"].as_f64().unwrap() > 50.0,
        "{smooth}"
    );
    let ic = kernels(&solves[1]);
    for k in ["operator", "vector-work", "preconditioner"] {
        assert!(ic.contains(&k.to_string()), "{k} missing from {ic:?}");
    }
    let bad = run_err(
        xtask()
            .args(["grid", "--kind", "sponge", "--out"])
            .arg(&flags),
    );
    assert!(bad.contains("unknown geometry"), "{bad}");
}
