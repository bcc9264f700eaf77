//! Peak resident memory of this process (Linux; `None` elsewhere): the memory figures of the
//! OT and constrained-optimization suites.

/// Resets the process's peak resident set (Linux: `5` into `/proc/self/clear_refs`).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The process's peak resident set since the last reset (Linux `VmHWM`), bytes.
pub fn peak() -> Option<u64> {
    status_kb("VmHWM:")
}

/// The process's resident set now (Linux `VmRSS`), bytes.
pub fn current() -> Option<u64> {
    status_kb("VmRSS:")
}
