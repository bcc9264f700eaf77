//! Architecture guard (in the spirit of rust-analyzer's tidy test): the crate graph
//! `linalg ← {pde, krylov} ← {neural-precond, second-order, ot} ← xtask`, burn only in
//! neural-precond / xtask / examples, a `//!` doc on every module, no unfinished markers.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Names listed in the `[dependencies]` table of a manifest (not dev-dependencies).
fn normal_deps(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = t.split_once('=') {
            let name = name.trim().trim_end_matches(".workspace").to_string();
            if !name.is_empty() && !name.starts_with('#') {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn crate_graph_is_layered() {
    let allowed: &[(&str, &[&str])] = &[
        ("linalg", &[]),
        ("pde", &["ritz-linalg"]),
        ("krylov", &["ritz-linalg"]),
        (
            "neural-precond",
            &["ritz-linalg", "ritz-pde", "ritz-krylov"],
        ),
        ("second-order", &["ritz-linalg", "ritz-krylov"]),
        ("ot", &["ritz-linalg", "ritz-krylov"]),
    ];
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"ritz-{name}\"")),
            "crates/{name}: package must be named ritz-{name}"
        );
        let (_, ok) = allowed
            .iter()
            .find(|(c, _)| *c == name)
            .unwrap_or_else(|| panic!("crates/{name} is not in the architecture's crate list"));
        for dep in normal_deps(&manifest) {
            if dep.starts_with("ritz-") {
                assert!(
                    ok.contains(&dep.as_str()),
                    "crates/{name} must not depend on {dep}"
                );
            }
            if dep.starts_with("burn") {
                assert_eq!(
                    name, "neural-precond",
                    "burn belongs in neural-precond only, not {name}"
                );
            }
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
