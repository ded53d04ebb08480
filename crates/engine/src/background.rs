//! CPU priority of the work done ahead of need (the spare network namespace, the spare
//! container directories). It runs while the
//! clients whose requests it prepares for run too (the docker CLI alone keeps more than a core
//! busy for ~20 ms per command); at a lower priority it takes the CPU they leave idle instead of
//! theirs. Linux keeps the nice value per thread, and a thread inherits its creator's, so
//! lowering the calling thread covers the threads it spawns. (Not the standby monitor: it would
//! have to raise its priority again for its container, and the code for that cost every
//! monitor 4 KiB.)

/// How much lower than the daemon background work runs.
const NICE_STEP: i32 = 10;

/// Lowers the calling thread's priority.
pub(crate) fn lower_this_thread() {
    let base = rustix::process::getpriority_process(None).unwrap_or(0);
    let _ = rustix::process::setpriority_process(None, (base + NICE_STEP).min(19));
}
