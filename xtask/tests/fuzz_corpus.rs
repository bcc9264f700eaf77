//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through its target's body
//! (`fuzz/src/lib.rs`, included here so that the bodies are the fuzzed code itself): no input
//! may panic or abort. Runs in seconds inside `cargo xtask test`; `cargo xtask fuzz` grows the
//! corpora.

#[path = "../../fuzz/src/lib.rs"]
mod bodies;

/// A target's body.
type Body = fn(&[u8]);

#[test]
fn every_corpus_file_replays_without_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let targets: [(&str, Body); 5] = [
        ("mtx", bodies::mtx),
        ("npy", bodies::npy),
        ("flags", bodies::flags),
        ("weights", bodies::weights),
        ("config", bodies::config),
    ];
    for (name, body) in targets {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 3, "corpus {name} has {} files", files.len());
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let res = std::panic::catch_unwind(|| body(&data));
            assert!(res.is_ok(), "{name}: {} panics", f.display());
        }
    }
}
