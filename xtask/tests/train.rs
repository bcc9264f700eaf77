//! `cargo xtask train` end to end: a run killed with SIGKILL mid-training resumes from its
//! last checkpoint and loses no epoch; the shipped weights load and solve; a missing CUDA
//! build is a clear error.

mod common;
use common::{json, tmpdir, xtask};
use std::path::Path;
use std::time::{Duration, Instant};

const TINY: &[&str] = &[
    "train",
    "--model",
    "stencil",
    "--dim",
    "2",
    "--n",
    "32",
    "--epochs",
    "30",
    "--geometries",
    "3",
    "--lanczos-steps",
    "30",
    "--ritz-samples",
    "6",
    "--rhs-samples",
    "2",
    "--batch",
    "2",
    "--quiet",
];

fn epochs_done(out: &Path) -> usize {
    std::fs::read_to_string(out.join("checkpoint/state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["epochs_done"].as_u64())
        .unwrap_or(0) as usize
}

/// Runs `args --out out --resume` and expects success.
fn resume(args: &[&str], out: &Path) {
    let st = xtask()
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--resume")
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn training_resumes_after_sigkill_without_losing_an_epoch() {
    let out = tmpdir("resume");
    let mut child = xtask().args(TINY).arg("--out").arg(&out).spawn().unwrap();
    let t0 = Instant::now();
    while epochs_done(&out) < 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "no checkpoint after 10 minutes"
        );
        if let Ok(Some(st)) = child.try_wait() {
            panic!("training ended before it could be killed: {st}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed_at = epochs_done(&out);
    assert!(killed_at < 30, "the run finished before the kill");
    let before = json(&out.join("checkpoint/state.json"))["log"].clone();
    resume(TINY, &out);
    let log = json(&out.join("log.json"));
    let epochs: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(
        epochs,
        (1..=30).collect::<Vec<u64>>(),
        "every epoch exactly once"
    );
    // The epochs completed before the kill are kept as they were.
    for (a, b) in before
        .as_array()
        .unwrap()
        .iter()
        .zip(log.as_array().unwrap())
    {
        assert_eq!(a, b);
    }
    assert!(out.join("weights.bin").exists() && out.join("curve.png").exists());
    // A different configuration refuses to resume, and leaves the run's files as they were.
    let config_before = std::fs::read(out.join("config.json")).unwrap();
    let o = xtask()
        .args(TINY)
        .args(["--lr", "0.5", "--resume", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("different configuration"));
    assert_eq!(
        std::fs::read(out.join("config.json")).unwrap(),
        config_before
    );
    // A larger epoch count extends the finished run: two more epochs, the first 30 kept.
    let mut longer = TINY.to_vec();
    let at = longer.iter().position(|&a| a == "--epochs").unwrap() + 1;
    longer[at] = "32";
    resume(&longer, &out);
    let extended = json(&out.join("log.json"));
    let extended = extended.as_array().unwrap();
    assert_eq!(extended.len(), 32);
    assert_eq!(&extended[..30], log.as_array().unwrap().as_slice());
    // A flipped byte in the checkpoint is caught by its checksum, not resumed silently.
    let state = json(&out.join("checkpoint/state.json"));
    assert!(state["checkpoint"]["model"].is_string(), "{state}");
    let ck = out.join("checkpoint/model-32.bin");
    let mut bytes = std::fs::read(&ck).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&ck, bytes).unwrap();
    longer[at] = "33";
    let o = xtask()
        .args(&longer)
        .args(["--resume", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("corrupted checkpoint"));
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn fine_tuning_with_an_unrolled_loss_starts_from_the_given_weights() {
    let base = tmpdir("init-base");
    let tuned = tmpdir("init-tuned");
    let tiny_dcdm = [
        "train",
        "--model",
        "dcdm",
        "--dim",
        "2",
        "--n",
        "16",
        "--epochs",
        "1",
        "--geometries",
        "2",
        "--lanczos-steps",
        "20",
        "--ritz-samples",
        "4",
        "--rhs-samples",
        "2",
        "--noise-samples",
        "2",
        "--batch",
        "4",
        "--quiet",
    ];
    let run = |extra: &[&str], out: &Path| {
        // A flag of `extra` that the base arguments already set replaces their value.
        let mut args = tiny_dcdm.to_vec();
        let mut rest = Vec::new();
        let mut i = 0;
        while i < extra.len() {
            let flag = extra[i].starts_with("--");
            match args.iter().position(|&a| flag && a == extra[i]) {
                Some(j) if i + 1 < extra.len() => {
                    args[j + 1] = extra[i + 1];
                    i += 2;
                }
                _ => {
                    rest.push(extra[i]);
                    i += 1;
                }
            }
        }
        let extra = rest;
        xtask()
            .args(args)
            .args(extra)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    assert!(run(&[], &base).status.success());
    let stem = base.join("weights");
    let stem = stem.to_str().unwrap();
    let o = run(
        &["--init", stem, "--unroll", "3", "--schedule", "cosine"],
        &tuned,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = json(&tuned.join("weights.json"));
    let t = &m["training"];
    assert_eq!(t["config"]["unroll"], 3);
    assert_eq!(t["config"]["schedule"], "cosine");
    // The starting weights' checksum and training record travel with the new weights.
    let b = json(&base.join("weights.json"));
    assert_eq!(t["init"]["checksum"], b["checksum"]);
    assert_eq!(t["init"]["training"], b["training"]);
    assert_ne!(m["checksum"], b["checksum"]);
    // Replacing the starting weights and then extending the run keeps the record of the
    // weights it really started from.
    assert!(run(&["--seed", "9"], &base).status.success());
    assert_ne!(json(&base.join("weights.json"))["checksum"], b["checksum"]);
    let o = run(
        &[
            "--init",
            stem,
            "--unroll",
            "3",
            "--schedule",
            "cosine",
            "--epochs",
            "2",
            "--resume",
        ],
        &tuned,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m2 = json(&tuned.join("weights.json"));
    assert_eq!(m2["training"]["log"].as_array().unwrap().len(), 2);
    assert_eq!(m2["training"]["init"]["checksum"], b["checksum"]);
    // Weights of another model, and an unrolled residual loss, are refused.
    let o = run(&["--model", "dcdm-large", "--init", stem], &tuned);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("differs"));
    let o = run(&["--unroll", "2", "--loss", "residual"], &tuned);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unroll"));
    std::fs::remove_dir_all(&base).ok();
    std::fs::remove_dir_all(&tuned).ok();
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_backend_without_the_feature_is_a_clear_error() {
    let out = tmpdir("cuda");
    let o = xtask()
        .args(TINY)
        .args(["--backend", "cuda", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--features cuda"));
}

fn bench_solves(out: &Path, solvers: &str, max_iters: &str) -> Vec<serde_json::Value> {
    let text = xtask()
        .args([
            "bench",
            "--scene",
            "organic",
            "--dim",
            "3",
            "--n",
            "32",
            "--seed",
            "1234",
            "--solvers",
            solvers,
            "--max-iters",
            max_iters,
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    json(&out.join("bench.json"))["problems"][0]["solves"]
        .as_array()
        .unwrap()
        .clone()
}

fn find<'a>(solves: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    solves
        .iter()
        .find(|s| s["solver"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {solves:?}"))
}

#[test]
fn shipped_weights_precondition_unseen_geometries() {
    let out = tmpdir("shipped");
    let solves = bench_solves(&out, "cg,stencil,stencil-spd", "400");
    let its = |name: &str| find(&solves, name)["iterations"].as_u64().unwrap();
    let cg = its("cg");
    for name in ["stencil", "stencil-spd"] {
        assert_eq!(find(&solves, name)["stop"], "Converged", "{name}");
        assert!(
            its(name) < cg / 4,
            "{name}: {} iterations, CG {cg}",
            its(name)
        );
    }
    assert!(
        its("stencil") <= 20,
        "stencil V-net: {} iterations",
        its("stencil")
    );
    // DCDM reduces the residual far faster than CG at first (it stagnates later: docs/neural.md).
    let solves = bench_solves(&out, "cg,dcdm", "10");
    let last = |name: &str| find(&solves, name)["relative_residual"].as_f64().unwrap();
    assert!(
        last("dcdm") < 0.5 * last("cg"),
        "after 10 iterations: dcdm {} vs cg {}",
        last("dcdm"),
        last("cg")
    );
}

/// `train --model learned` writes a schedule (here on smooth right-hand sides, recorded in
/// the file) that `learned` reads from `--weights`; an unknown `--rhs` is refused; the shipped
/// schedule solves an unseen training-kind geometry in no more iterations than MGPCG plus
/// one; a corrupt schedule file fails the solve with a message naming it.
#[test]
fn learned_schedules_train_load_and_solve() {
    let out = tmpdir("learned");
    let st = xtask()
        .args([
            "train",
            "--model",
            "learned",
            "--dim",
            "3",
            "--n",
            "16",
            "--evaluations",
            "30",
            "--rhs",
            "smooth",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let file = json(&out.join("learned-3d.json"));
    assert_eq!(file["format"], "ritz-schedule/1");
    let trained_on = file["trained_on"].as_str().unwrap();
    assert!(
        trained_on.contains("smooth right-hand sides"),
        "{trained_on}"
    );
    let o = xtask()
        .args(["train", "--model", "learned", "--rhs", "wind", "--out"])
        .arg(out.join("refused"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("known: smooth, buoyancy, noise"));
    // The search never ends worse than it started (per modelled time: the loss).
    assert!(
        file["learned"]["loss"].as_f64().unwrap()
            <= file["learned"]["start_loss"].as_f64().unwrap()
    );

    let solves = bench_solves(&out.join("shipped"), "mgpcg,learned", "100");
    let its = |s: &[serde_json::Value], name: &str| find(s, name)["iterations"].as_u64().unwrap();
    assert_eq!(find(&solves, "learned")["stop"], "Converged");
    assert!(its(&solves, "learned") <= its(&solves, "mgpcg") + 1);

    let bench = |weights: &Path| {
        xtask()
            .args(["bench", "--scene", "organic", "--dim", "3", "--n", "16"])
            .args(["--solvers", "learned", "--weights"])
            .arg(weights)
            .arg("--out")
            .arg(weights.join("bench"))
            .output()
            .unwrap()
    };
    let o = bench(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(
        out.join("learned-3d.json"),
        "{\"format\": \"ritz-schedule/1\", \"dim\": 3",
    )
    .unwrap();
    let o = bench(&out);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("learned-3d.json"), "{err}");
}
