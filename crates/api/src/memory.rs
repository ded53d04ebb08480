//! The daemon's heap hygiene. glibc keeps freed memory in its arenas (one per thread that
//! allocated, so the blocking pool's threads each grow one), so after a burst of requests the
//! RSS stays where the burst left it. The daemon caps the arenas and, a second after the
//! requests stop, gives the free memory back (`malloc_trim`), as Go's scavenger does for
//! dockerd.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Counts a request (called by the API's middleware).
pub fn note_request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// Caps glibc's arenas; call before any thread starts.
pub fn limit_arenas() {
    // SAFETY: mallopt only changes allocator tuning; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Trims the heap once the requests have been quiet for a second.
pub async fn trim_when_idle() {
    let mut seen = REQUESTS.load(Ordering::Relaxed);
    let mut trimmed = true;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = REQUESTS.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            trimmed = false;
        } else if !trimmed {
            trimmed = true;
            // SAFETY: malloc_trim only returns free memory to the kernel.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    }
}
