//! The manager's persisted state, in two JSON files replaced atomically (temp file, rename):
//!
//! - `networks.json` (instance id, networks) is also fsynced, with its folder: networks must
//!   survive a power loss.
//! - `endpoints.json` (address allocations, published ports) is not fsynced. It must survive a
//!   daemon crash, which the rename alone guarantees (the page cache outlives the process); a
//!   power loss also kills every container and namespace, after which the allocations mean
//!   nothing, and an unreadable file is then read as empty. This keeps an fsync (several ms on a
//!   busy disk) off every attach and detach.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{Endpoint, Network, PortBinding};

const NETWORKS: &str = "networks.json";
const ENDPOINTS: &str = "endpoints.json";

#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// Random id of this state folder: marks the bridges this manager made (link alias).
    pub instance: String,
    /// The nftables table the rules were last written to (it follows the default bridge, so
    /// a daemon started with another `--bridge` must remove the former one).
    pub table: String,
    pub networks: Vec<Network>,
    pub endpoints: Vec<Endpoint>,
    pub published: Vec<Published>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Published {
    pub container_id: String,
    pub container_ip: Ipv4Addr,
    pub bindings: Vec<PortBinding>,
}

#[derive(Serialize, Deserialize, Default)]
struct NetworksFile {
    instance: String,
    #[serde(default)]
    table: String,
    networks: Vec<Network>,
}

#[derive(Serialize, Deserialize, Default)]
struct EndpointsFile {
    endpoints: Vec<Endpoint>,
    published: Vec<Published>,
}

pub(crate) struct StateFile {
    dir: PathBuf,
}

impl StateFile {
    pub fn new(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        Ok(StateFile {
            dir: dir.to_path_buf(),
        })
    }

    /// `None` when no state was ever saved here.
    pub fn load(&self) -> Result<Option<State>> {
        let path = self.dir.join(NETWORKS);
        let nets: NetworksFile = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
                path,
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        let path = self.dir.join(ENDPOINTS);
        let eps: EndpointsFile = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("{}: {e}; starting with no endpoints", path.display());
                EndpointsFile::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => EndpointsFile::default(),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        Ok(Some(State {
            instance: nets.instance,
            table: nets.table,
            networks: nets.networks,
            endpoints: eps.endpoints,
            published: eps.published,
        }))
    }

    /// Saves both files; the networks durably.
    pub fn save_all(&self, state: &State) -> Result<()> {
        self.save_networks(state)?;
        self.save_endpoints(state)
    }

    pub fn save_networks(&self, state: &State) -> Result<()> {
        let f = NetworksFile {
            instance: state.instance.clone(),
            table: state.table.clone(),
            networks: state.networks.clone(),
        };
        self.write(NETWORKS, &f, true)
    }

    pub fn save_endpoints(&self, state: &State) -> Result<()> {
        let f = EndpointsFile {
            endpoints: state.endpoints.clone(),
            published: state.published.clone(),
        };
        self.write(ENDPOINTS, &f, false)
    }

    pub fn remove(&self) -> Result<()> {
        let spare = format!(".{ENDPOINTS}.tmp");
        for name in [ENDPOINTS, NETWORKS, spare.as_str()] {
            let path = self.dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("remove {}", path.display()), e)),
            }
        }
        Ok(())
    }

    fn write<T: Serialize>(&self, name: &str, value: &T, durable: bool) -> Result<()> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let bytes = serde_json::to_vec(value).map_err(|e| Error::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let ctx = |what: &str| format!("{what} {}", tmp.display());
        // The endpoints file is rewritten at every attach and release. Its previous content,
        // swapped out by the exchange, stays as the next write's temporary file: written over
        // and cut to length (never truncated to zero, which sets off ext4's flush on close as a
        // rename over a file does), so no inode is made or freed per write. On ext4 without a
        // journal every freed inode slows the next allocations for minutes (`recently_deleted`).
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(durable)
            .open(&tmp)
            .map_err(|e| Error::io(ctx("create"), e))?;
        f.write_all(&bytes)
            .map_err(|e| Error::io(ctx("write"), e))?;
        if durable {
            f.sync_data().map_err(|e| Error::io(ctx("fsync"), e))?;
        } else {
            f.set_len(bytes.len() as u64)
                .map_err(|e| Error::io(ctx("truncate"), e))?;
        }
        drop(f);
        replace(&tmp, &path, durable)
            .map_err(|e| Error::io(format!("rename to {}", path.display()), e))?;
        if durable && let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Puts `tmp` in the place of `path`. Over an existing file the two names are swapped
/// (`RENAME_EXCHANGE`) and the old content, now at `tmp`, unlinked when `unlink_old`: ext4
/// starts writing the new file's data back when a plain rename replaces a file
/// (auto_da_alloc), 0.3-2 ms on every container start; an exchange does not. Readers see the
/// old or the new file, never half of one.
fn replace(tmp: &Path, path: &Path, unlink_old: bool) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, tmp, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => {
            if unlink_old {
                let _ = std::fs::remove_file(tmp);
            }
            Ok(())
        }
        // no file to replace yet, or a filesystem without exchange
        Err(_) => std::fs::rename(tmp, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path()).unwrap();
        assert!(sf.load().unwrap().is_none());
        let mut s = State {
            instance: "abc".into(),
            ..Default::default()
        };
        sf.save_all(&s).unwrap();
        s.instance = "def".into();
        s.table = "berth_x".into();
        s.published.push(Published {
            container_id: "c".into(),
            container_ip: Ipv4Addr::LOCALHOST,
            bindings: vec![],
        });
        sf.save_all(&s).unwrap();
        let back = sf.load().unwrap().unwrap();
        assert_eq!((back.instance.as_str(), back.published.len()), ("def", 1));
        assert_eq!(back.table, "berth_x");
        assert!(!dir.path().join(".networks.json.tmp").exists());
        // the endpoints file's previous content is kept as the next write's temporary file
        // (no inode made or freed per write), and a shorter write cuts it to length
        let spare = dir.path().join(format!(".{ENDPOINTS}.tmp"));
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let inodes = [ino(&dir.path().join(ENDPOINTS)), ino(&spare)];
        s.published.clear();
        sf.save_endpoints(&s).unwrap();
        let mut now = [ino(&dir.path().join(ENDPOINTS)), ino(&spare)];
        now.sort();
        let mut before = inodes;
        before.sort();
        assert_eq!(now, before);
        assert!(sf.load().unwrap().unwrap().published.is_empty());
        // A torn endpoints file (power loss) reads as no endpoints; torn networks is an error.
        std::fs::write(dir.path().join(ENDPOINTS), b"{bro").unwrap();
        assert!(sf.load().unwrap().unwrap().published.is_empty());
        std::fs::write(dir.path().join(NETWORKS), b"{broken").unwrap();
        let e = sf.load().unwrap_err().to_string();
        assert!(e.contains("networks.json"), "{e}");
        sf.remove().unwrap();
        assert!(!spare.exists());
    }
}
