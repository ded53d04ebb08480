//! The work done ahead of need: [`OneAtATime`] runs each refill on a thread of its own, one
//! run at a time, and [`lower_this_thread`] sets its CPU priority (the spare network
//! namespace, the spare container directories). That work runs while the
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

/// Work on a thread of its own, one run at a time: the refills of the spares made ahead
/// (network namespace, container directories, standby monitor).
#[derive(Default)]
pub(crate) struct OneAtATime(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl OneAtATime {
    /// Starts `work` on a new thread named `name` unless a run is under way, and returns at
    /// once. The next run may start when `work` has returned or the thread could not start.
    pub(crate) fn spawn(&self, name: &str, work: impl FnOnce() + Send + 'static) {
        use std::sync::atomic::Ordering;
        if self.0.swap(true, Ordering::AcqRel) {
            return;
        }
        let busy = self.0.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                work();
                busy.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            tracing::warn!("{name}: {e}");
            self.0.store(false, Ordering::Release);
        }
    }
}
