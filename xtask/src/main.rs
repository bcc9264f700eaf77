//! `cargo xtask`: see the library's documentation (`xtask/src/lib.rs`).

fn main() {
    xtask::main_cli();
}
