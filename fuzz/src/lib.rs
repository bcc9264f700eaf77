//! The fuzz targets' bodies: one function per target, each taking any bytes and returning
//! without panicking, aborting or allocating past the memory limit it sets. The targets in
//! `fuzz_targets/` call them; `xtask/tests/fuzz_corpus.rs` includes this file and replays every
//! corpus file through them inside `cargo xtask test`.

use ritz_neural_precond::burn::backend::Flex;
use ritz_neural_precond::model::{decode_weights, fnv1a64, parse_manifest};
use ritz_pde::{MacGrid, PoissonProblem, Walls};
use std::path::Path;

/// The memory limit every body runs under: sizes from input beyond it are refused.
pub const MEM_LIMIT: u64 = 256 << 20;

/// MatrixMarket reader: any bytes give a matrix or a typed error.
pub fn mtx(data: &[u8]) {
    ritz_linalg::mem::set_limit(Some(MEM_LIMIT));
    let _ = ritz_linalg::io::mtx::read_matrix_market_from(data);
}

/// npy reader and conversions: any bytes give an array or a typed error.
pub fn npy(data: &[u8]) {
    ritz_linalg::mem::set_limit(Some(MEM_LIMIT));
    if let Ok(a) = ritz_linalg::io::npy::read_npy_from(data) {
        let _ = a.to_f64();
        let _ = a.to_i8();
    }
}

/// A cell-flag grid from npy bytes (after one byte choosing the walls), as `bench --flags`
/// reads it: the grid, its Poisson problem and a right-hand side, or a typed error.
pub fn flags(data: &[u8]) {
    ritz_linalg::mem::set_limit(Some(MEM_LIMIT));
    let Some((&w, npy)) = data.split_first() else {
        return;
    };
    let Ok(arr) = ritz_linalg::io::npy::read_npy_from(npy) else {
        return;
    };
    let Ok(codes) = arr.to_i8() else {
        return;
    };
    let shape: Vec<usize> = arr.shape.iter().rev().copied().collect();
    let walls = if w & 1 == 0 {
        Walls::closed()
    } else {
        Walls::open_top(shape.len().clamp(2, 3))
    };
    let Ok(grid) = MacGrid::from_codes(&shape, &codes, walls) else {
        return;
    };
    if let Ok(p) = PoissonProblem::new(grid) {
        let _ = ritz_pde::rhs::RhsKind::WhiteNoise.generate(&p, 1);
    }
}

/// Weights: a 2-byte little-endian manifest length, a flag byte, the manifest, the record.
/// With the flag's low bit set the manifest's checksum is fixed up to the record, as an editor
/// covering their tracks would, so that the layout check is what stands between the bytes and
/// burn's decoder.
pub fn weights(data: &[u8]) {
    ritz_linalg::mem::set_limit(Some(MEM_LIMIT));
    if data.len() < 3 {
        return;
    }
    let len = u16::from_le_bytes([data[0], data[1]]) as usize;
    let fix = data[2] & 1 == 1;
    let rest = &data[3..];
    if len > rest.len() {
        return;
    }
    let Ok(text) = std::str::from_utf8(&rest[..len]) else {
        return;
    };
    let record = rest[len..].to_vec();
    let Ok(mut m) = parse_manifest(text, Path::new("fuzz.json")) else {
        return;
    };
    if fix {
        m.checksum = format!("{:016x}", fnv1a64(&record));
    }
    let _ = decode_weights::<Flex>(m, record, Path::new("fuzz.bin"), &Default::default());
}

/// Bench configuration: any text gives a validated configuration or a typed error.
pub fn config(data: &[u8]) {
    ritz_linalg::mem::set_limit(Some(MEM_LIMIT));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = xtask::bench::parse_config(text);
    }
}
