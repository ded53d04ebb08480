//! Names that do not collide between tests running in parallel, in one process or many.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `prefix` followed by a short string unique on this machine for this run: pid, a per-process
/// counter and the low bits of the clock. Short enough for interface names when `prefix` is at
/// most 4 bytes (15-byte limit).
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = (std::process::id() as u64) << 20 ^ (n as u64) << 12 ^ (nanos as u64 & 0xfff);
    format!("{prefix}{:x}", mixed & 0xff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differ_and_fit_an_interface_name() {
        let a = unique_name("bt");
        let b = unique_name("bt");
        assert_ne!(a, b);
        assert!(a.len() <= 15, "{a} is too long for an interface name");
    }
}
