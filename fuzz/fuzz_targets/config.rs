//! Fuzz target `config`: see `ritz_fuzz::config`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ritz_fuzz::config(data));
