//! Fuzz target `weights`: see `ritz_fuzz::weights`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ritz_fuzz::weights(data));
