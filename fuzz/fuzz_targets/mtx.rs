//! Fuzz target `mtx`: see `ritz_fuzz::mtx`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ritz_fuzz::mtx(data));
