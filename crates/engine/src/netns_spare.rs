//! One network namespace made ahead of need. A new namespace costs the kernel about a
//! millisecond (every per-namespace subsystem is set up); a container start takes the spare
//! with a bind mount instead and a new spare is made in the background. Spares live under
//! `<exec-root>/netns-spare`; whatever is there when the daemon opens is left from a previous
//! run and removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) struct NetnsSpare {
    dir: PathBuf,
    spare: Mutex<Option<PathBuf>>,
    /// Spares taken, whose own pins the refill thread removes.
    spent: Mutex<Vec<PathBuf>>,
    refilling: AtomicBool,
}

impl NetnsSpare {
    /// Removes spares a previous daemon left; makes none yet (see [`NetnsSpare::refill`]).
    pub(crate) fn open(exec_root: &Path) -> Arc<NetnsSpare> {
        let dir = exec_root.join("netns-spare");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let _ = berth_network::remove_netns(&e.path());
            }
        }
        Arc::new(NetnsSpare {
            dir,
            spare: Mutex::new(None),
            spent: Mutex::new(Vec::new()),
            refilling: AtomicBool::new(false),
        })
    }

    /// Pins a new network namespace (with `lo` up) at `path`: the spare's when there is one,
    /// else a new one.
    pub(crate) async fn take_into(self: &Arc<Self>, path: &Path) -> berth_network::Result<()> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).take();
        let shared = spare.as_ref().map(|s| berth_network::share_netns(s, path));
        if let Some(s) = spare {
            // the spare's own pin goes on the refill thread: its unmount costs up to a
            // millisecond that the start need not wait for
            self.spent.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        }
        self.refill();
        if let Some(Ok(())) = shared {
            return Ok(());
        }
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || berth_network::create_netns(&p))
            .await
            .unwrap_or_else(|e| {
                Err(berth_network::Error::Netns {
                    path: path.to_path_buf(),
                    source: std::io::Error::other(format!("netns task: {e}")),
                })
            })
    }

    /// Makes a spare in the background unless one is there or on its way.
    pub(crate) fn refill(self: &Arc<Self>) {
        if self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        std::thread::spawn(move || {
            crate::background::lower_this_thread();
            let spent = std::mem::take(&mut *this.spent.lock().unwrap_or_else(|p| p.into_inner()));
            for p in spent {
                let _ = berth_network::remove_netns(&p);
            }
            let made = std::fs::create_dir_all(&this.dir).ok().and_then(|()| {
                let p = this.dir.join(crate::container::ids::new_id());
                berth_network::create_netns(&p).ok().map(|()| p)
            });
            if let Some(p) = made {
                let mut spare = this.spare.lock().unwrap_or_else(|p| p.into_inner());
                match spare.as_ref() {
                    None => *spare = Some(p),
                    Some(_) => {
                        let _ = berth_network::remove_netns(&p);
                    }
                }
            }
            this.refilling.store(false, Ordering::Release);
        });
    }
}

impl Drop for NetnsSpare {
    fn drop(&mut self) {
        for p in std::mem::take(self.spent.get_mut().unwrap_or_else(|p| p.into_inner())) {
            let _ = berth_network::remove_netns(&p);
        }
        if let Some(s) = self
            .spare
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = berth_network::remove_netns(&s);
        }
    }
}
