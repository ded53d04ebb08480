//! The daemon's side of the monitor protocol: spawning a monitor and sending it requests.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::{Error, Result};
use crate::monitor::protocol::{Request, SOCKET_FILE, parse_ready};

/// Starts `berth-monitor RUN_DIR` and waits for its answer: the init's pid once the container
/// is created (and waiting for `Start`).
pub async fn spawn(monitor: &Path, run_dir: &Path) -> Result<i32> {
    let monitor = monitor.to_path_buf();
    let run_dir = run_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&monitor)
            .arg(&run_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io(format!("spawn {}", monitor.display()), e))?;
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
