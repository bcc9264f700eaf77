//! Fuzz target `flags`: see `ritz_fuzz::flags`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ritz_fuzz::flags(data));
