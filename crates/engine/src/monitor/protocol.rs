//! What the daemon and a monitor say to each other, and the files a monitor leaves in its run
//! directory. Shared by both sides; no tokio here.
//!
//! The monitor listens on `<run-dir>/monitor.sock`. A client sends one JSON [`Request`] line and
//! reads one line back: `ok` or `error <message>`. After `ok`:
//! - `Attach`: the container's output follows, in Docker's wire format (stdcopy frames without a
//!   tty, raw bytes with one); bytes the client sends are the container's stdin. The monitor
//!   closes the connection when the container has exited.
//! - `Watch`: one [`ExitRecord`] JSON line when the container exits, then EOF.
//! - `Exec`: like `Attach` for the exec'd process, then an [`ExitRecord`] is NOT sent on the
//!   stream; the exit code is in `<run-dir>/exec-<id>.json`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub const SPEC_FILE: &str = "monitor.json";
pub const SOCKET_FILE: &str = "monitor.sock";
pub const EXIT_FILE: &str = "exit.json";
pub const PID_FILE: &str = "monitor.pid";
pub const LOG_FILE: &str = "monitor.log";

/// A snapshot mount, as berth-image returns it (kept as plain data here).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootfsMount {
    pub fstype: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Everything a monitor needs, written by the daemon to `<run-dir>/monitor.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorSpec {
    pub id: String,
    /// The bundle: `config.json` written by the daemon; `rootfs/` mounted by the monitor.
    pub bundle: PathBuf,
    pub rootfs_mounts: Vec<RootfsMount>,
    /// New volumes to fill from the image: (mount point in the rootfs, volume directory).
    #[serde(default)]
    pub copy_up: Vec<(String, PathBuf)>,
    pub runtime_root: PathBuf,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    /// json-file log.
    pub log_path: PathBuf,
    /// How the log is kept (driver `none`, rotation).
    #[serde(default)]
    pub log: LogSpec,
    /// Docker's `User` (`name`, `uid`, `uid:gid`, `name:group`), resolved in the rootfs.
    pub user: String,
    /// Docker's `GroupAdd`: more groups (names or IDs), resolved in the rootfs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// Initial terminal size (rows, columns).
    pub console_size: Option<(u16, u16)>,
}

/// Docker's `LogConfig` as the monitor applies it (validated by the daemon at create).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogSpec {
    /// `--log-driver none`: no log file at all.
    #[serde(default)]
    pub none: bool,
    /// `max-size` in bytes: the file is rotated once it reaches it; `None` never rotates.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// `max-file`: the live file plus `max_file - 1` rotated ones (`<log>.1` newest); 0 or 1
    /// keeps only the live file, truncated at each rotation.
    #[serde(default)]
    pub max_file: u32,
    /// `compress`: rotated files become `<log>.N.gz`.
    #[serde(default)]
    pub compress: bool,
    /// `attrs` of every entry (the `labels`, `env`, `tag` log-opts), computed by the daemon.
    #[serde(default)]
    pub attrs: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Start,
    Watch,
    /// `Start`, then the connection is a `Watch`: one round trip for the daemon's start.
    StartWatch,
    Kill {
        signal: i32,
        all: bool,
    },
    Resize {
        height: u16,
        width: u16,
    },
    Pause,
    Resume,
    /// Runs a process in the container; the connection is its attach stream. When it ends,
    /// its [`ExitRecord`] is in `<run-dir>/exec-<id>.json`.
    Exec(ExecSpec),
    ResizeExec {
        id: String,
        height: u16,
        width: u16,
    },
    /// Signals a running exec (its process, and its process group when it leads one): a health
    /// probe past its timeout.
    KillExec {
        id: String,
        signal: i32,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSpec {
    pub id: String,
    pub cmd: Vec<String>,
    /// Added to (and overriding) the container's environment.
    pub env: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
    pub user: String,
    pub working_dir: String,
    pub privileged: bool,
    pub console_size: Option<(u16, u16)>,
}

pub fn exec_exit_file(id: &str) -> String {
    format!("exec-{id}.json")
}

/// How the container ended, written to `<run-dir>/exit.json` before the monitor exits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExitRecord {
    pub exit_code: i64,
    pub finished_at: String,
    #[serde(default)]
    pub error: String,
}

/// The monitor's answer to `Start`/`Create`: `ok <pid>` on its ready pipe.
pub fn parse_ready(line: &str) -> Result<i32, String> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("ok ") {
        rest.parse::<i32>()
            .map_err(|_| format!("bad monitor answer: {line}"))
    } else if let Some(msg) = line.strip_prefix("error ") {
        Err(msg.to_string())
    } else if line.is_empty() {
        Err("monitor exited without an answer".to_string())
    } else {
        Err(format!("bad monitor answer: {line}"))
    }
}

/// The 8-byte stdcopy header for `len` bytes of `stream` (1 stdout, 2 stderr).
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let l = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, l[0], l[1], l[2], l[3]]
}
