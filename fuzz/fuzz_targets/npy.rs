//! Fuzz target `npy`: see `ritz_fuzz::npy`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ritz_fuzz::npy(data));
