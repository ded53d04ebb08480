//! The daemon's side of the monitor protocol: spawning a monitor and sending it requests.

use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::{Error, Result};
use crate::monitor::protocol::{Request, SOCKET_FILE, parse_ready};

/// Starts monitors. One monitor waits ready in advance (`berth-monitor --standby`: executed,
/// linked, forked into its own session), so a container start does not pay for the exec; a
/// start that finds none (two at once, or the spare died) spawns one as before. The standby
/// reads its run directory on stdin and exits when the daemon goes away (EOF).
pub struct Monitors {
    path: PathBuf,
    exec_root: PathBuf,
    spare: Mutex<Option<Standby>>,
    refills: crate::background::OneAtATime,
}

struct Standby {
    assign: ChildStdin,
    ready: ChildStdout,
}

impl Monitors {
    pub fn new(path: PathBuf, exec_root: PathBuf) -> Arc<Monitors> {
        Arc::new(Monitors {
            path,
            exec_root,
            spare: Mutex::new(None),
            refills: Default::default(),
        })
    }

    /// Makes the monitor of `run_dir` create its container; answers the init's pid once the
    /// container is created (and waiting for `Start`).
    pub async fn spawn(self: &Arc<Self>, run_dir: &Path) -> Result<i32> {
        let this = self.clone();
        let run_dir = run_dir.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let spare = this.spare.lock().unwrap_or_else(|p| p.into_inner()).take();
            this.refill();
            if let Some(s) = spare
                && let Some(line) = s.assign(&run_dir)
            {
                return parse_ready(&line).map_err(Error::Internal);
            }
            let mut child = Command::new(&this.path)
                .arg(&run_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| Error::io(format!("spawn {}", this.path.display()), e))?;
            let mut line = String::new();
            if let Some(out) = child.stdout.take() {
                let _ = std::io::BufReader::new(out).read_line(&mut line);
            }
            let _ = child.wait();
            parse_ready(&line).map_err(Error::Internal)
        })
        .await
        .map_err(|e| Error::Internal(format!("monitor task: {e}")))?
    }

    /// Starts a standby in the background unless one is ready or on its way.
    pub fn refill(self: &Arc<Self>) {
        let this = self.clone();
        // not lowered (`background.rs`): the standby becomes a container's monitor
        self.refills.spawn("standby-monitor", move || {
            let standby = this.start_standby();
            let mut spare = this.spare.lock().unwrap_or_else(|p| p.into_inner());
            if spare.is_none() {
                *spare = standby;
            }
        });
    }

    fn start_standby(&self) -> Option<Standby> {
        // the last argument only reserves room: once assigned, the standby rewrites its
        // command line to `berth-monitor RUN_DIR` (a run directory is this long)
        let mut placeholder = self.exec_root.join("containers").into_os_string();
        placeholder.push(format!("/{:.<64}", ""));
        let mut child = Command::new(&self.path)
            .arg("--standby")
            .arg(placeholder)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| tracing::warn!("spawn standby monitor {}: {e}", self.path.display()))
            .ok()?;
        let assign = child.stdin.take()?;
        let ready = child.stdout.take()?;
        // the first process exits as soon as it has forked the standby
        let _ = child.wait();
        Some(Standby { assign, ready })
    }
}

impl Standby {
    /// Hands the standby its run directory and reads its answer; `None` when it is gone (the
    /// caller then spawns a fresh monitor).
    fn assign(self, run_dir: &Path) -> Option<String> {
        let mut assign = self.assign;
        let mut line = run_dir.as_os_str().as_bytes().to_vec();
        line.push(b'\n');
        assign.write_all(&line).ok()?;
        drop(assign);
        let mut answer = String::new();
        std::io::BufReader::new(self.ready)
            .read_line(&mut answer)
            .ok()?;
        (!answer.is_empty()).then_some(answer)
    }
}

/// Sends one request; on `ok` returns the connection (a stream for attach and watch).
pub async fn request(run_dir: &Path, req: &Request) -> Result<UnixStream> {
    // through the directory's fd: the full path may exceed sun_path's 108 bytes
    let sock = run_dir.join(SOCKET_FILE);
    let dir = std::fs::File::open(run_dir)
        .map_err(|e| Error::io(format!("connect to monitor {}", sock.display()), e))?;
    let short = format!(
        "/proc/self/fd/{}/{SOCKET_FILE}",
        std::os::fd::AsRawFd::as_raw_fd(&dir)
    );
    let mut s = UnixStream::connect(&short)
        .await
        .map_err(|e| Error::io(format!("connect to monitor {}", sock.display()), e))?;
    drop(dir);
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    s.write_all(&line)
        .await
        .map_err(|e| Error::io("send to monitor", e))?;
    let mut answer = Vec::new();
    loop {
        let b = s
            .read_u8()
            .await
            .map_err(|e| Error::io("read monitor answer", e))?;
        if b == b'\n' {
            break;
        }
        answer.push(b);
    }
    let answer = String::from_utf8_lossy(&answer);
    if answer == "ok" {
        Ok(s)
    } else {
        Err(Error::Internal(
            answer.strip_prefix("error ").unwrap_or(&answer).to_string(),
        ))
    }
}
