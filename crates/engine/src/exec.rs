//! Exec: `POST /containers/{id}/exec` records a process to run; `POST /exec/{id}/start` asks the
//! container's monitor to run it (the monitor is its parent, holds its stdio or pty) and streams
//! it; `GET /exec/{id}/json` reports its exit code from the monitor's exit file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::UnixStream;

use crate::Engine;
use crate::container::ids;
use crate::container::monitor_client;
use crate::error::{Error, Result};
use crate::monitor::protocol::{ExecSpec, ExitRecord, Request, exec_exit_file};

/// The body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: String,
    pub working_dir: String,
    pub privileged: bool,
    pub detach_keys: String,
    pub console_size: Option<[u32; 2]>,
}

#[derive(Debug, Clone)]
pub struct ExecEntry {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub started: bool,
    pub pending_size: Option<(u16, u16)>,
}

#[derive(Default)]
pub struct ExecTable {
    map: Mutex<HashMap<String, ExecEntry>>,
}

impl ExecTable {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecEntry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn ids_of(&self, container_id: &str) -> Vec<String> {
        self.lock()
            .values()
            .filter(|e| e.container_id == container_id)
            .map(|e| e.id.clone())
            .collect()
    }
}

pub struct ExecStream {
    pub tty: bool,
    pub stream: UnixStream,
}

impl Engine {
    fn exec_entry(&self, id: &str) -> Result<ExecEntry> {
        self.execs
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))
    }

    pub fn create_exec(&self, container: &str, config: ExecConfig) -> Result<String> {
        let c = self.containers.get(container)?;
        if !c.rec().state.running {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if c.rec().state.paused {
            return Err(Error::Conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(Error::InvalidParameter("No exec command specified".into()));
        }
        let id = ids::new_id();
        self.execs.lock().insert(
            id.clone(),
            ExecEntry {
                id: id.clone(),
                container_id: c.id.clone(),
                config,
                running: false,
                exit_code: None,
                started: false,
                pending_size: None,
            },
        );
        self.container_event(&c, "exec_create", &[]);
        Ok(id)
    }

    /// Starts the exec; the returned stream carries its output (and takes its stdin).
    pub async fn start_exec(
        self: &Arc<Self>,
        id: &str,
        tty_override: Option<bool>,
    ) -> Result<ExecStream> {
        let e = self.exec_entry(id)?;
        if e.started {
            return Err(Error::Conflict(format!(
                "Error: Exec command {id} has already run"
            )));
        }
        let c = self.containers.get(&e.container_id)?;
        if !c.rec().state.running {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let tty = tty_override.unwrap_or(e.config.tty) || e.config.tty;
        let size = e.pending_size.or(e
            .config
            .console_size
            .filter(|[h, w]| *h > 0 && *w > 0)
            .map(|[h, w]| (h as u16, w as u16)));
        let spec = ExecSpec {
            id: id.to_string(),
            cmd: e.config.cmd.clone().unwrap_or_default(),
            env: e.config.env.clone().unwrap_or_default(),
            tty,
            stdin: e.config.attach_stdin,
            user: e.config.user.clone(),
            working_dir: e.config.working_dir.clone(),
            privileged: e.config.privileged,
            console_size: size,
        };
        let spec_cmd = spec.cmd.first().cloned().unwrap_or_default();
        let run_dir = self.config().container_run_dir(&c.id);
        if let Some(x) = self.execs.lock().get_mut(id) {
            x.started = true;
            x.running = true;
        }
        let stream = match monitor_client::request(&run_dir, &Request::Exec(spec)).await {
            Ok(s) => s,
            Err(err) => {
                let err = exec_start_error(&spec_cmd, err);
                let code = match &err {
                    Error::ExecStartFailed { exit_code, .. } => *exit_code,
                    _ => 126,
                };
                if let Some(x) = self.execs.lock().get_mut(id) {
                    x.running = false;
                    x.exit_code = Some(code);
                }
                return Err(err);
            }
        };
        self.container_event(&c, "exec_start", &[("execID", id.to_string())]);
        Ok(ExecStream { tty, stream })
    }

    /// Called when an exec's stream ended: its exit code is in the monitor's exit file.
    pub fn exec_finished(&self, id: &str) {
        let Ok(e) = self.exec_entry(id) else { return };
        let path = self
            .config()
            .container_run_dir(&e.container_id)
            .join(exec_exit_file(id));
        let code = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<ExitRecord>(&b).ok())
            .map(|r| r.exit_code);
        let _ = std::fs::remove_file(&path);
        if let Some(x) = self.execs.lock().get_mut(id) {
            x.running = false;
            x.exit_code = Some(code.unwrap_or(137));
        }
        if let Ok(c) = self.containers.get(&e.container_id) {
            self.container_event(
                &c,
                "exec_die",
                &[
                    ("execID", id.to_string()),
                    ("exitCode", code.unwrap_or(137).to_string()),
                ],
            );
        }
    }

    pub fn inspect_exec(&self, id: &str) -> Result<Value> {
        let e = self.exec_entry(id)?;
        let mut cmd = e.config.cmd.clone().unwrap_or_default();
        let entry = if cmd.is_empty() {
            String::new()
        } else {
            cmd.remove(0)
        };
        Ok(json!({
            "ID": e.id,
            "Running": e.running,
            "ExitCode": e.exit_code,
            "ProcessConfig": {"tty": e.config.tty, "entrypoint": entry, "arguments": cmd, "privileged": e.config.privileged, "user": e.config.user},
            "OpenStdin": e.config.attach_stdin,
            "OpenStderr": e.config.attach_stderr,
            "OpenStdout": e.config.attach_stdout,
            "CanRemove": false,
            "ContainerID": e.container_id,
            "DetachKeys": e.config.detach_keys,
            "Pid": 0,
        }))
    }

    /// Resizes a running exec's pty; a size that comes before the start is kept for it.
    pub async fn resize_exec(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let e = self.exec_entry(id)?;
        if !e.started {
            if let Some(x) = self.execs.lock().get_mut(id) {
                x.pending_size = Some((height, width));
            }
            return Ok(());
        }
        if !e.running {
            return Err(Error::Conflict(format!("exec {id} is not running")));
        }
        let run_dir = self.config().container_run_dir(&e.container_id);
        monitor_client::request(
            &run_dir,
            &Request::ResizeExec {
                id: id.to_string(),
                height,
                width,
            },
        )
        .await?;
        Ok(())
    }

    pub(crate) fn forget_execs(&self, container_id: &str) {
        self.execs
            .lock()
            .retain(|_, e| e.container_id != container_id);
    }
}

/// moby's `translateContainerdStartErr` for an exec the monitor could not start: 127 when the
/// command is not found, 126 when it cannot be run (both are the client's mistake: 400 when
/// detached), any other failure 126 and a 500. The message reads as dockerd's.
fn exec_start_error(cmd: &str, err: Error) -> Error {
    let Error::Internal(msg) = err else {
        return err;
    };
    let lower = msg.to_lowercase();
    let not_found = (!cmd.is_empty() && msg.contains(cmd))
        && (lower.contains("executable file not found")
            || lower.contains("no such file or directory"));
    let denied = lower.contains("permission denied");
    Error::ExecStartFailed {
        message: format!("OCI runtime exec failed: {msg}"),
        exit_code: if not_found { 127 } else { 126 },
        invalid: not_found || denied,
    }
}
