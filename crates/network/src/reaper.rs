//! Link deletion on a thread of its own. The kernel deletes a link inside the `sendmsg` of
//! the request and waits there for the device's last references (~15 ms a veth here); on the
//! shared rtnetlink connection that held up every request queued behind it, such as the next
//! container's endpoint (`run --rm` in a loop waited 2-30 ms per start), and blocked the
//! tokio worker that drives the connection. Here a blocking socket, opened in the daemon's
//! namespace, takes the names one by one: released veths without waiting
//! ([`LinkReaper::delete_later`]), a disconnect's veth or a removed network's bridge with the
//! caller waiting for the result ([`LinkReaper::delete`]).

use std::io;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::nl_sync::SyncNetlink;

enum Job {
    Later(String),
    Now(String, oneshot::Sender<io::Result<()>>),
}

pub(crate) struct LinkReaper {
    tx: mpsc::Sender<Job>,
}

impl LinkReaper {
    /// Opens the socket in the calling thread's network namespace and starts the thread,
    /// which ends when the reaper is dropped and its queue is done.
    pub(crate) fn start() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let mut nl = SyncNetlink::open()?;
        std::thread::Builder::new()
            .name("link-reaper".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Later(name) => {
                            if let Err(e) = nl.delete_link(&name) {
                                tracing::warn!("deleting {name}: {e}");
                            }
                        }
                        Job::Now(name, reply) => {
                            let _ = reply.send(nl.delete_link(&name));
                        }
                    }
                }
            })?;
        Ok(LinkReaper { tx })
    }

    /// Queues links for deletion; returns at once.
    pub(crate) fn delete_later(&self, names: impl IntoIterator<Item = String>) {
        for n in names {
            let _ = self.tx.send(Job::Later(n));
        }
    }

    /// Deletes a link and waits for the kernel's answer (a link already gone is no error).
    pub(crate) async fn delete(&self, name: &str) -> io::Result<()> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Now(name.to_string(), reply))
            .map_err(|_| io::Error::other("the link reaper thread is gone"))?;
        answer
            .await
            .map_err(|_| io::Error::other("the link reaper thread is gone"))?
    }
}
