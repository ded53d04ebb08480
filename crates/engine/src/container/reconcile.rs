//! On daemon start: load every container from the store and match it with reality. A monitor
//! that still answers is re-adopted; a dead one's exit file gives the real exit code; a remove
//! interrupted by a crash is finished, and a create interrupted before its snapshot was
//! recorded is undone.

use std::sync::Arc;

use super::monitor_client;
use super::record::{Container, ContainerRecord};
use crate::Engine;
use crate::error::Result;
use crate::monitor::protocol::Request;

impl Engine {
    pub(crate) async fn reconcile(self: &Arc<Self>) -> Result<()> {
        for (id, json) in self.store.containers()? {
            let rec: ContainerRecord = match serde_json::from_str(&json) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("container {id}: unreadable record, skipped: {e}");
                    continue;
                }
            };
            if rec.rootfs_mounts.is_empty() && !rec.state.running {
                // a create cut short by the crash: the record is stored (claiming the name)
                // before the snapshot is made and written into it; undo the create
                self.undo_create(&id).await;
                tracing::info!("container {id}: removed a create cut short by a crash");
                continue;
            }
            let c = Arc::new(Container::new(rec));
            self.containers.insert(c.clone());
            if c.rec().removing {
                let _ = self.finish_remove(&c).await;
                continue;
            }
            let run_dir = self.config().container_run_dir(&c.id);
            let socket_exists = run_dir.join(crate::monitor::protocol::SOCKET_FILE).exists();
            let running = c.rec().state.running;
            if socket_exists {
                match monitor_client::request(&run_dir, &Request::Watch).await {
                    Ok(watch) if running => {
                        c.lifecycle.send_modify(|l| l.running = true);
                        self.watch_exit(c.clone(), watch);
                        self.start_health(&c);
                        continue;
                    }
                    Ok(watch) => {
                        // a start cut short by the crash: the process never ran; undo it
                        super::lifecycle::kill_created(&run_dir, Some(watch)).await;
                        self.teardown_network(&c.id, Some(&run_dir.join("netns")))
                            .await;
                        let _ =
                            std::fs::remove_file(run_dir.join(crate::monitor::protocol::EXIT_FILE));
                        continue;
                    }
                    Err(_) => {
                        let _ = std::fs::remove_file(
                            run_dir.join(crate::monitor::protocol::SOCKET_FILE),
                        );
                    }
                }
            } else if !running {
                // a start cut short before the monitor answered: free its namespace
                let netns = run_dir.join("netns");
                if netns.exists() {
                    self.teardown_network(&c.id, Some(&netns)).await;
                }
            }
            if running {
                c.lifecycle.send_modify(|l| l.running = true);
                self.on_exit(&c).await;
            }
        }
        Ok(())
    }
}
