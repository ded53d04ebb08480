//! Attach: a connection to the monitor that carries the container's output in Docker's wire
//! format and takes stdin. Before the container starts, the request waits and is connected by
//! `start` before the process runs, so no output is lost.

use tokio::net::UnixStream;
use tokio::sync::oneshot;

use super::monitor_client;
use super::record::PendingAttach;
use crate::Engine;
use crate::error::{Error, Result};
use crate::monitor::protocol::Request;

pub struct AttachTarget {
    /// With a tty the stream is raw; without, stdcopy frames.
    pub tty: bool,
    pub stream: std::pin::Pin<Box<dyn std::future::Future<Output = Option<UnixStream>> + Send>>,
}

impl Engine {
    pub async fn attach(
        &self,
        name: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<AttachTarget> {
        let c = self.containers.get(name)?;
        let (tty, running) = {
            let r = c.rec();
            (r.config.tty, r.state.running)
        };
        let run_dir = self.config().container_run_dir(&c.id);
        if running {
            let s = monitor_client::request(
                &run_dir,
                &Request::Attach {
                    stdin,
                    stdout,
                    stderr,
                },
            )
            .await?;
            return Ok(AttachTarget {
                tty,
                stream: Box::pin(async move { Some(s) }),
            });
        }
        if c.rec().removing {
            return Err(Error::Conflict(format!(
                "container {} is being removed",
                c.id
            )));
        }
        let (tx, rx) = oneshot::channel();
        c.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(PendingAttach {
                stdin,
                stdout,
                stderr,
                reply: tx,
            });
        self.container_event(&c, "attach", &[]);
        Ok(AttachTarget {
            tty,
            stream: Box::pin(async move { rx.await.ok() }),
        })
    }
}
