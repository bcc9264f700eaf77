//! Architecture guard (in the spirit of rust-analyzer's tidy test): the crate graph
//! `linalg ← {pde, krylov} ← {neural-precond, second-order, ot} ← ritz ← xtask` read from
//! `cargo metadata` against an explicit allow-list of edges, burn only in neural-precond,
//! a `//!` doc on every module, no unfinished markers.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One workspace package as `cargo metadata` reports it: name, folder (relative to the root)
/// and normal (non-dev, non-build) dependencies.
struct Package {
    name: String,
    dir: String,
    deps: Vec<String>,
}

fn workspace_packages() -> Vec<Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = root();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
            let dir = manifest.parent().unwrap().strip_prefix(&root).unwrap();
            Package {
                name: p["name"].as_str().unwrap().to_string(),
                dir: dir.to_string_lossy().replace('\\', "/"),
                deps: p["dependencies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|d| d["kind"].is_null())
                    .map(|d| d["name"].as_str().unwrap().to_string())
                    .collect(),
            }
        })
        .collect()
}

/// The architecture: every crate-to-crate edge allowed (normal dependencies). The facade
/// `ritz` is the one crate that may depend on every library; xtask depends on the facade
/// only; burn belongs to neural-precond.
const EDGES: &[(&str, &[&str])] = &[
    ("ritz-linalg", &[]),
    ("ritz-pde", &["ritz-linalg"]),
    ("ritz-krylov", &["ritz-linalg"]),
    (
        "ritz-neural-precond",
        &["ritz-linalg", "ritz-pde", "ritz-krylov", "burn"],
    ),
    ("ritz-second-order", &["ritz-linalg", "ritz-krylov"]),
    ("ritz-ot", &["ritz-linalg", "ritz-krylov"]),
    ("ritz-dist", &["ritz-linalg", "ritz-pde", "ritz-krylov"]),
    (
        "ritz",
        &[
            "ritz-linalg",
            "ritz-pde",
            "ritz-krylov",
            "ritz-neural-precond",
            "ritz-ot",
            "ritz-second-order",
        ],
    ),
    ("ritz-python", &["ritz"]),
    ("xtask", &["ritz"]),
];

#[test]
fn crate_graph_is_layered() {
    let packages = workspace_packages();
    assert!(
        packages.len() >= EDGES.len(),
        "cargo metadata lists too few packages"
    );
    for p in &packages {
        // Naming: crates/<dir> is ritz-<dir>; the facade crates/ritz is `ritz`.
        if let Some(dir) = p.dir.strip_prefix("crates/") {
            let expected = if dir == "ritz" {
                "ritz".to_string()
            } else {
                format!("ritz-{dir}")
            };
            assert_eq!(
                p.name, expected,
                "crates/{dir}: package must be named {expected}"
            );
        }
        let (_, ok) = EDGES
            .iter()
            .find(|(c, _)| *c == p.name)
            .unwrap_or_else(|| panic!("{} is not in the architecture's crate list", p.name));
        for dep in &p.deps {
            let internal = dep == "ritz" || dep.starts_with("ritz-") || dep.starts_with("burn");
            assert!(
                !internal || ok.contains(&dep.as_str()),
                "{} must not depend on {dep}",
                p.name
            );
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_is_documented_and_finished() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let d = entry.unwrap().path();
        for sub in ["src", "tests", "examples"] {
            if d.join(sub).exists() {
                rust_files(&d.join(sub), &mut files);
            }
        }
    }
    rust_files(&root().join("xtask/src"), &mut files);
    assert!(files.len() > 10);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.trim_start().starts_with("//!"),
            "{} must start with a //! module doc",
            f.display()
        );
        // Spelled in pieces so that this file does not match its own search.
        for marker in [
            concat!("todo", "!("),
            concat!("unimplemented", "!("),
            concat!("dbg", "!("),
        ] {
            assert!(!text.contains(marker), "{} contains {marker}", f.display());
        }
    }
}
