//! The container's state directory `<root>/<id>`: `state.json` (what later commands need) and
//! `exec.fifo` (present while the container is created but not started).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};

/// The OCI state of a container, as `state` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    /// creating, created, running, paused or stopped
    pub status: String,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// What is kept on disk for a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    pub pid: i32,
    /// /proc/<pid>/stat field 22, to notice a recycled pid.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub cgroup: Cgroup,
    pub spec: Spec,
}

pub(crate) const STATE_FILE: &str = "state.json";
pub(crate) const FIFO: &str = "exec.fifo";

pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+'))
}

impl Record {
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let data =
            serde_json::to_vec(self).map_err(|e| Error::Other(format!("encode state: {e}")))?;
        write_atomic(&dir.join(STATE_FILE), &data)
    }

    pub(crate) fn load(dir: &Path, id: &str) -> Result<Record> {
        let path = dir.join(STATE_FILE);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()));
            }
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        serde_json::from_slice(&data)
            .map_err(|e| Error::Other(format!("corrupt state {}: {e}", path.display())))
    }
}

/// Writes via a temporary file and rename: readers never see half a file. No fsync: the state
/// lives on a tmpfs (/run) and does not outlive a reboot anyway.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    f.write_all(data)
        .ctx(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, path).ctx(|| format!("rename {}", path.display()))
}

/// Field 22 (starttime) of /proc/<pid>/stat and whether the process is a zombie.
pub(crate) fn proc_start(pid: i32) -> Option<(u64, bool)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?;
    let start = f.nth(18)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("abc-1.2_x"));
        assert!(!valid_id(""));
        assert!(!valid_id(".."));
        assert!(!valid_id("a/b"));
        assert!(!valid_id("a b"));
    }

    #[test]
    fn own_start_time_is_read() {
        let (t, zombie) = proc_start(std::process::id() as i32).unwrap();
        assert!(t > 0);
        assert!(!zombie);
    }
}
