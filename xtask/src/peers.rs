//! Python peers (SciPy, PyAMG, POT) and the Python package's build and test tools (maturin,
//! pytest) in a virtual environment the repo creates itself.
//!
//! `cargo xtask venv` (or `bench --peers`) runs `python3 -m venv .venv` and installs the pinned
//! packages of `xtask/peers/requirements.txt` from PyPI. Nothing else is needed by hand.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent folder")
        .to_path_buf()
}

/// The venv's Python interpreter path.
pub fn venv_python() -> PathBuf {
    root().join(".venv").join("bin").join("python")
}

fn has_packages(py: &Path) -> bool {
    Command::new(py)
        .args(["-c", "import numpy, scipy, pyamg, ot, pytest"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
        && maturin(py).exists()
}

/// The venv's maturin (builds the Python package `ritz` from `crates/python`).
pub fn maturin(py: &Path) -> PathBuf {
    py.with_file_name("maturin")
}

/// Creates `.venv` with the peers if it is missing or incomplete; returns its interpreter.
pub fn ensure_venv() -> Result<PathBuf, String> {
    let py = venv_python();
    if py.exists() && has_packages(&py) {
        return Ok(py);
    }
    let venv = root().join(".venv");
    if !py.exists() {
        eprintln!("creating {} ...", venv.display());
        let st = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("python3 not available: {e}"))?;
        if !st.success() {
            return Err("python3 -m venv failed".into());
        }
    }
    let req = root().join("xtask").join("peers").join("requirements.txt");
    eprintln!("installing {} ...", req.display());
    let st = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&req)
        .status()
        .map_err(|e| format!("pip failed to start: {e}"))?;
    if !st.success() || !has_packages(&py) {
        return Err("pip install of the Python peers failed".into());
    }
    Ok(py)
}

/// A Python peer's result on an exported problem (one JSON object printed by its script).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct PeerResult {
    /// Peer name (`scipy-cg`, `pyamg-sa`).
    pub solver: String,
    /// Package version.
    pub version: String,
    /// Iterations.
    pub iterations: usize,
    /// Seconds to read the files.
    pub load_s: f64,
    /// Seconds of setup (AMG hierarchy; 0 for CG).
    pub setup_s: f64,
    /// Seconds of the solve.
    pub solve_s: f64,
    /// ‖b − A x‖/‖b‖.
    pub true_relative_residual: f64,
}

/// The peers `--peers` runs: (name, script).
pub const PEERS: &[(&str, &str)] = &[("scipy-cg", "scipy_cg.py"), ("pyamg-sa", "pyamg_sa.py")];

/// Runs peer `script` on `A.mtx`, `b.npy` with the same tolerance and iteration limit.
pub fn run_peer(
    py: &Path,
    script: &str,
    a: &Path,
    b: &Path,
    rtol: f64,
    max_iters: usize,
) -> Result<PeerResult, String> {
    run_script(
        py,
        script,
        &[
            a.as_os_str().into(),
            b.as_os_str().into(),
            format!("{rtol:e}").into(),
            max_iters.to_string().into(),
        ],
    )
}

/// Runs `xtask/peers/SCRIPT ARGS…` with the venv's Python and parses the one JSON object it
/// prints. Errors name the script: failure to start, a non-zero exit (with its stderr), bad
/// output.
pub fn run_script<T: serde::de::DeserializeOwned>(
    py: &Path,
    script: &str,
    args: &[std::ffi::OsString],
) -> Result<T, String> {
    let path = root().join("xtask").join("peers").join(script);
    let out = Command::new(py)
        .arg(path)
        .args(args)
        .output()
        .map_err(|e| format!("{script} failed to start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{script} output: {e}"))
}
