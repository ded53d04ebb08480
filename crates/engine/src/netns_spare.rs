//! One network namespace made ahead of need. A new namespace costs the kernel about a
//! millisecond (every per-namespace subsystem is set up); a container start takes the spare
//! with a bind mount instead and a new spare is made in the background. The spare comes with a
//! veth pair (`eth0` inside, its host end outside, down and on no bridge) that the container's
//! first endpoint takes instead of making one: a veth's creation was the larger part of an
//! endpoint's kernel work on the start path. Spares live under `<exec-root>/netns-spare`;
//! whatever is there when the daemon opens is left from a previous run and removed (and its
//! veth pair with it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A pinned namespace and the host end of the veth pair it came with, if any.
struct Spare {
    path: PathBuf,
    veth: Option<String>,
}

pub(crate) struct NetnsSpare {
    dir: PathBuf,
    spare: Mutex<Option<Spare>>,
    /// Spares taken, whose own pins the refill thread removes.
    spent: Mutex<Vec<PathBuf>>,
    refills: crate::background::OneAtATime,
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
            refills: Default::default(),
        })
    }

    /// Pins a new network namespace (with `lo` up) at `path`: the spare's when there is one,
    /// else a new one. Returns the host end of the veth pair the namespace came with (`eth0`
    /// inside); `with_veth` false takes only a spare without one.
    pub(crate) async fn take_into(
        self: &Arc<Self>,
        path: &Path,
        with_veth: bool,
    ) -> berth_network::Result<Option<String>> {
        // (taken, whether a spare stays for the next start)
        let (spare, kept) = {
            let mut g = self.spare.lock().unwrap_or_else(|p| p.into_inner());
            if with_veth || g.as_ref().is_some_and(|s| s.veth.is_none()) {
                (g.take(), false)
            } else {
                (None, g.is_some())
            }
        };
        let shared = spare.map(|s| {
            let shared = berth_network::share_netns(&s.path, path);
            // the spare's own pin goes on the refill thread: its unmount costs up to a
            // millisecond that the start need not wait for
            self.spent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(s.path);
            (shared, s.veth)
        });
        if !kept {
            self.refill();
        }
        if let Some((Ok(()), veth)) = shared {
            return Ok(veth);
        }
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || berth_network::create_netns(&p))
            .await
            .unwrap_or_else(|e| {
                Err(berth_network::Error::Netns {
                    path: path.to_path_buf(),
                    source: std::io::Error::other(format!("netns task: {e}")),
                })
            })?;
        Ok(None)
    }

    /// Makes a spare in the background unless one is there or on its way.
    pub(crate) fn refill(self: &Arc<Self>) {
        let this = self.clone();
        self.refills.spawn("netns-spare", move || {
            crate::background::lower_this_thread();
            let spent = std::mem::take(&mut *this.spent.lock().unwrap_or_else(|p| p.into_inner()));
            for p in spent {
                let _ = berth_network::remove_netns(&p);
            }
            let made = std::fs::create_dir_all(&this.dir).ok().and_then(|()| {
                let id = crate::container::ids::new_id();
                let path = this.dir.join(&id);
                // a veth name Docker's style would give (`veth` and 7 hex digits)
                let veth = format!("veth{}", &id[..7]);
                match berth_network::create_netns_with_veth(&path, &veth) {
                    Ok(()) => Some(Spare {
                        path,
                        veth: Some(veth),
                    }),
                    Err(e) => {
                        tracing::debug!("spare namespace with a veth: {e}");
                        berth_network::create_netns(&path)
                            .ok()
                            .map(|()| Spare { path, veth: None })
                    }
                }
            });
            if let Some(made) = made {
                let mut spare = this.spare.lock().unwrap_or_else(|p| p.into_inner());
                match spare.as_ref() {
                    None => *spare = Some(made),
                    Some(_) => {
                        let _ = berth_network::remove_netns(&made.path);
                    }
                }
            }
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
            let _ = berth_network::remove_netns(&s.path);
        }
    }
}
