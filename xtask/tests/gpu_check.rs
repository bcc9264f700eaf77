//! `cargo xtask gpu-check` on burn-flex (`--backend cpu`): every step runs and is recorded, the
//! budget skips steps instead of failing, and `--backend cuda` without the feature or a GPU is
//! a clear error.

mod common;
use common::{json, run_ok, text, tmpdir, xtask};

#[test]
fn dry_run_on_the_cpu_writes_every_section() {
    let out = tmpdir("gpu-check");
    run_ok(
        xtask()
            .args(["gpu-check", "--backend", "cpu", "--sizes", "16"])
            .args(["--forward-sizes", "16", "--train-n", "16", "--out"])
            .arg(&out),
    );
    let j = json(&out.join("gpu-check.json"));
    assert_eq!(j["schema"], "ritz-gpu-check/1");
    assert!(out.join("gpu-check.log").exists());
    let parity = j["parity"].as_array().unwrap();
    assert_eq!(parity.len(), 6, "{parity:?}");
    for p in parity {
        // The same backend on both sides: identical outputs.
        assert_eq!(p["relative_error"].as_f64().unwrap(), 0.0, "{p}");
    }
    let forward = j["forward"].as_array().unwrap();
    assert_eq!(forward.len(), 2);
    for f in forward {
        assert!(f["gmac"].as_f64().unwrap() > 0.0, "{f}");
    }
    let solves = j["solves"].as_array().unwrap();
    let find = |solver: &str, place: &str| {
        solves
            .iter()
            .find(|s| s["solver"] == solver && s["place"] == place)
            .unwrap_or_else(|| panic!("no {solver} on the {place}"))
    };
    for solver in ["cg", "mgpcg", "learned", "stencil"] {
        let (h, d) = (find(solver, "host"), find(solver, "device"));
        for s in [h, d] {
            assert_eq!(s["converged"], true, "{s}");
            assert!(s["relative_residual"].as_f64().unwrap() <= 1e-6, "{s}");
        }
        let (hi, di) = (
            h["iterations"].as_u64().unwrap(),
            d["iterations"].as_u64().unwrap(),
        );
        assert!(di.abs_diff(hi) <= 4, "{solver}: device {di} vs host {hi}");
    }
    assert_eq!(find("dcdm", "device")["converged"], true);
    assert_eq!(j["training"].as_array().unwrap().len(), 4);
    assert!(j["skipped"].as_array().unwrap().is_empty());
    assert!(j["errors"].as_array().unwrap().is_empty());
}

#[test]
fn a_failing_step_is_recorded_and_the_rest_still_runs() {
    // 7³ is below the held-out generator's smallest grid: the solves at 7 fail, the training
    // after them still runs, and the command exits non-zero.
    let out = tmpdir("gpu-check-fail");
    let o = xtask()
        .args(["gpu-check", "--backend", "cpu", "--sizes", "7"])
        .args(["--forward-sizes", "16", "--train-n", "16", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let j = json(&out.join("gpu-check.json"));
    let errors = j["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["step"], "solves 7");
    assert_eq!(j["training"].as_array().unwrap().len(), 4);
    assert!(text(&o).contains("1 step(s) failed"));
}

#[test]
fn a_spent_budget_skips_steps_and_cuda_needs_its_feature() {
    let out = tmpdir("gpu-check-budget");
    run_ok(
        xtask()
            .args(["gpu-check", "--backend", "cpu", "--budget-s", "0", "--out"])
            .arg(&out),
    );
    let j = json(&out.join("gpu-check.json"));
    assert!(j["solves"].as_array().unwrap().is_empty());
    assert!(
        j["skipped"].as_array().unwrap().len() >= 5,
        "{}",
        j["skipped"]
    );
    let o = xtask()
        .args(["gpu-check", "--backend", "cuda", "--out"])
        .arg(tmpdir("gpu-check-cuda"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let t = text(&o);
    // Without the feature: how to build it; with it but no GPU: the probe's typed error.
    assert!(
        t.contains("cuda feature") || t.contains("no usable CUDA device"),
        "{t}"
    );
}
