//! Veth deletion on a thread of its own. The kernel deletes a link inside the `sendmsg` of
//! the request and waits there for the device's last references (~15 ms here); on the shared
//! rtnetlink connection that held up every request queued behind it, such as the next
//! container's endpoint (`run --rm` in a loop waited 2-30 ms per start), and blocked the
//! tokio worker that drives the connection. Here a blocking socket, opened in the daemon's
//! namespace, takes the names one by one.

use std::io;
use std::sync::mpsc;

use crate::nl_sync::SyncNetlink;

pub(crate) struct LinkReaper {
    tx: mpsc::Sender<String>,
}

impl LinkReaper {
    /// Opens the socket in the calling thread's network namespace and starts the thread.
    pub(crate) fn start() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<String>();
        let mut nl = SyncNetlink::open()?;
        std::thread::Builder::new()
            .name("link-reaper".into())
            .spawn(move || {
                for name in rx {
                    if let Err(e) = nl.delete_link(&name) {
                        tracing::warn!("deleting {name}: {e}");
                    }
                }
            })?;
        Ok(LinkReaper { tx })
    }

    /// Queues links for deletion; returns at once.
    pub(crate) fn delete_later(&self, names: impl IntoIterator<Item = String>) {
        for n in names {
            // the thread only ends with the process
            let _ = self.tx.send(n);
        }
    }
}
