//! Memory budget: a size that comes from input is checked against the memory the process can
//! still get *before* anything is allocated, so that an absurd size (a MatrixMarket header
//! declaring 4·10⁹ rows, a 65535² grid, a window of 10⁶ gradients of dimension 10⁶) is a typed
//! [`LinalgError::OutOfMemory`] naming the bytes needed and the bytes available, never an abort
//! of the allocator.
//!
//! The bytes available are the smallest of
//! * `MemAvailable` in `/proc/meminfo` (Linux),
//! * the cgroup's limit less its usage (v2 `memory.max − memory.current`, v1
//!   `memory.limit_in_bytes − memory.usage_in_bytes`), when a limit is set,
//! * a process-wide limit set with [`set_limit`] (the CLI's `--mem-limit`).
//!
//! Where none of these can be read, a check passes unless the size overflows `u64`. A check
//! costs one read of a few small files (microseconds): call it once per input-derived size, not
//! in loops.

use crate::error::LinalgError;
use std::sync::atomic::{AtomicU64, Ordering};

/// `u64::MAX` = no limit set.
static LIMIT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Sets (or with `None` clears) a process-wide memory limit in bytes that every later
/// [`check`] also respects.
pub fn set_limit(bytes: Option<u64>) {
    LIMIT.store(bytes.unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// The limit set with [`set_limit`], if any.
pub fn limit() -> Option<u64> {
    match LIMIT.load(Ordering::Relaxed) {
        u64::MAX => None,
        b => Some(b),
    }
}

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `MemAvailable` of `/proc/meminfo`, bytes.
fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Limit less usage of this process's cgroup (v2, else v1), when a limit is set.
fn cgroup_available() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut candidates: Vec<(String, String)> = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (parts.next(), parts.next(), parts.next());
        let (Some(ctrl), Some(path)) = (ctrl, path) else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if ctrl.is_empty() {
            candidates.push((
                format!("/sys/fs/cgroup{path}/memory.max"),
                format!("/sys/fs/cgroup{path}/memory.current"),
            ));
        } else if ctrl.split(',').any(|c| c == "memory") {
            candidates.push((
                format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"),
                format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"),
            ));
        }
    }
    candidates.push((
        "/sys/fs/cgroup/memory.max".into(),
        "/sys/fs/cgroup/memory.current".into(),
    ));
    candidates.push((
        "/sys/fs/cgroup/memory/memory.limit_in_bytes".into(),
        "/sys/fs/cgroup/memory/memory.usage_in_bytes".into(),
    ));
    candidates.into_iter().find_map(|(max, cur)| {
        // "max" (v2) or a huge number (v1) means no limit.
        let limit = read_u64(&max).filter(|&l| l < 1 << 60)?;
        Some(limit.saturating_sub(read_u64(&cur).unwrap_or(0)))
    })
}

/// Bytes this process can still allocate: the smallest of `MemAvailable`, the cgroup's headroom
/// and the limit of [`set_limit`]; `None` when none of them is known.
pub fn available() -> Option<u64> {
    [meminfo_available(), cgroup_available(), limit()]
        .into_iter()
        .flatten()
        .min()
}

/// Errors with [`LinalgError::OutOfMemory`] if `bytes` (`None`: the size overflowed) exceed
/// [`available`]. `what` names the allocation for the message (e.g. "CSR row pointers of a
/// 4294967295-row matrix").
pub fn check(what: impl FnOnce() -> String, bytes: Option<u64>) -> Result<(), LinalgError> {
    let avail = available();
    match (bytes, avail) {
        (Some(b), Some(a)) if b <= a => Ok(()),
        (Some(_), None) => Ok(()),
        (needed, available) => Err(LinalgError::OutOfMemory {
            what: what(),
            needed,
            available,
        }),
    }
}

/// `count × size_of::<T>()` bytes, `None` on overflow.
pub fn bytes_of<T>(count: usize) -> Option<u64> {
    (count as u64).checked_mul(std::mem::size_of::<T>() as u64)
}

/// Product of `factors`, `None` on overflow (cells of a grid, entries of a matrix).
pub fn product(factors: &[usize]) -> Option<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(f as u64))
}

/// Parses a byte size: a number with an optional binary suffix `K`, `M`, `G` or `T` (powers of
/// 1024; `KiB`, `GB`, … accepted alike), e.g. `"8G"`, `"512M"`, `"1048576"`.
///
/// Errors: an empty or malformed string, or a size beyond `u64`.
///
/// ```
/// use ritz_linalg::mem::parse_size;
/// assert_eq!(parse_size("8G"), Ok(8 << 30));
/// assert_eq!(parse_size("1.5k"), Ok(1536));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid memory size {text:?} (e.g. 8G, 512M, 1048576)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("invalid memory size unit in {text:?} (K, M, G, T)")),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes < u64::MAX as f64) {
        return Err(format!("memory size {text:?} is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Formats a byte count for messages ("34.4 GB (34359738368 bytes)").
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {} ({bytes} bytes)", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_refuse_garbage() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size(" 3 t "), Ok(3 << 40));
        for bad in ["", "G", "1.2.3G", "5X", "-1G", "1e400"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overflowing_and_oversized_requests_are_typed_errors() {
        assert_eq!(product(&[65535, 65535]), Some(65535 * 65535));
        assert_eq!(product(&[usize::MAX, 2]), None);
        assert_eq!(bytes_of::<f64>(usize::MAX), None);
        let e = check(|| "an overflowing grid".into(), None).unwrap_err();
        assert!(e.to_string().contains("an overflowing grid"), "{e}");
        // u64::MAX − 1 bytes exceed any machine's memory (and any limit) where it is known.
        if available().is_some() {
            let e = check(|| "a huge array".into(), Some(u64::MAX - 1)).unwrap_err();
            assert!(matches!(e, LinalgError::OutOfMemory { .. }));
            assert!(check(|| "a small array".into(), Some(1024)).is_ok());
        }
    }
}
