//! Speculative launch: right after a create, the container is launched as far as the OCI
//! "created" state (standby monitor handed its directory, rootfs mounted, runtime create, the
//! network endpoints attached) while the client is still on its way to `start`. Every client
//! sends the start a few milliseconds after the create's 201 (`docker run` sends a `wait`
//! first); `start` then finds the launch done and only lets the process run.
//!
//! Nothing of it is visible through the API: the record stays "created", with no address,
//! pid or event, until `start`. Any other operation on the container (stop, remove, update,
//! rename, cp, commit, network connect/disconnect) first undoes the launch, and so does a
//! timer when no start comes within [`TTL`] (`docker create` alone). A daemon killed in
//! between leaves a monitor holding a created container, which reconciliation undoes as it
//! does a start cut short.
//!
//! Only containers whose launch has no effect another request could trip over are launched
//! early: no published ports (a host port held by a container that may never start), no fixed
//! addresses, no volumes (the first start fills a new volume from the image) nor volumes taken
//! from another container, not in another container's namespaces, no shareable IPC (its
//! /dev/shm is mounted on the host), no links (a target that stops before the start must fail
//! it).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::record::{Container, ContainerRecord};
use crate::Engine;
use crate::network::NetworkState;

/// How long a launched container waits for its `start` before the launch is undone.
const TTL: Duration = Duration::from_secs(2);

/// At most this many containers are launched ahead of their start at once (a burst of
/// `docker create`s launches the first ones only).
const MAX_IN_FLIGHT: usize = 2;

/// Clears [`Container::prelaunching`] when the launch stage ends, whichever way.
struct Done<'a>(&'a Container);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.prelaunching.store(false, Ordering::Release);
    }
}

/// A launch done ahead of `start`: what the network layer gave and the namespace it used.
pub struct Prelaunched {
    pub state: NetworkState,
    pub netns: Option<PathBuf>,
}

/// Whether launching `rec` early can be undone without anyone having seen it.
fn eligible(rec: &ContainerRecord) -> bool {
    let hc = &rec.host_config;
    let fixed_address = rec
        .networking_config
        .as_ref()
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(|e| e.as_object())
        .is_some_and(|eps| {
            eps.values()
                .any(|ep| ep.get("IPAMConfig").is_some_and(|i| !i.is_null()))
        });
    rec.state.status == "created"
        && !rec.state.running
        && !rec.removing
        && rec.volumes.is_empty()
        && hc.volumes_from.as_ref().is_none_or(|v| v.is_empty())
        && !hc.publish_all_ports
        && !hc.port_bindings.as_ref().is_some_and(|p| {
            p.values()
                .any(|b| b.as_ref().is_some_and(|b| !b.is_empty()))
        })
        && !hc.network_mode.starts_with("container:")
        && !super::shared_ns::has_effects(hc)
        && rec.links.is_empty()
        && !fixed_address
}

impl Engine {
    /// Called after a create has been stored: launches the container in the background when
    /// it is [`eligible`].
    pub(crate) fn prelaunch(self: &Arc<Self>, c: &Arc<Container>) {
        if !eligible(&c.rec()) {
            return;
        }
        if self.prelaunches.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.prelaunches.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let engine = self.clone();
        let c = c.clone();
        c.prelaunching.store(true, Ordering::Release);
        tokio::spawn(async move {
            {
                let _op = c.op.lock().await;
                let _done = Done(&c);
                // a start, remove or update may have come first
                let rec = c.snapshot();
                if !eligible(&rec) {
                    engine.prelaunches.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
                let run_dir = engine.config().container_run_dir(&rec.id);
                match engine.launch(&rec, &run_dir).await {
                    Ok((state, netns)) => {
                        *c.prelaunched.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(Prelaunched { state, netns });
                    }
                    Err(e) => {
                        // `start` launches again and reports the error
                        tracing::debug!(id = %rec.id, "early launch failed: {e}");
                        engine.prelaunches.fetch_sub(1, Ordering::AcqRel);
                        return;
                    }
                }
            }
            tokio::time::sleep(TTL).await;
            let _op = c.op.lock().await;
            engine.undo_prelaunch(&c).await;
        });
    }

    /// For `start` (holding the container's op lock): the launch done ahead, if any.
    pub(crate) fn take_prelaunch(&self, c: &Container) -> Option<Prelaunched> {
        let p = c
            .prelaunched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if p.is_some() {
            self.prelaunches.fetch_sub(1, Ordering::AcqRel);
        }
        p
    }

    /// For every operation but `start` (holding the container's op lock): undoes a launch
    /// done ahead, so the container is again only a record.
    pub(crate) async fn undo_prelaunch(&self, c: &Container) {
        let Some(p) = self.take_prelaunch(c) else {
            return;
        };
        let run_dir = self.config().container_run_dir(&c.id);
        self.abandon_created(&run_dir).await;
        self.teardown_network(&c.id, p.netns.as_deref()).await;
    }

    /// Undoes every launch done ahead (before a network is removed: an early endpoint must
    /// not keep it busy).
    pub(crate) async fn undo_all_prelaunches(&self) {
        if self.prelaunches.load(Ordering::Acquire) == 0 {
            return;
        }
        for c in self.containers.all() {
            // one under way is waited for (its op lock) and then undone
            if c.prelaunching.load(Ordering::Acquire)
                || c.prelaunched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some()
            {
                let _op = c.op.lock().await;
                self.undo_prelaunch(&c).await;
            }
        }
    }
}
