//! The manager's persisted state: networks, endpoints (address allocations) and published
//! ports, in one JSON file replaced atomically (temp file, fsync, rename, fsync of the folder),
//! so a crash leaves either the old or the new state, never half of one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{Endpoint, Network, PortBinding};

const FILE: &str = "network.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Random id of this state folder: marks the bridges this manager made (link alias).
    pub instance: String,
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

    fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    pub fn load(&self) -> Result<Option<State>> {
        let path = self.path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::State {
                    path,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("read {}", path.display()), e)),
        }
    }

    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_file(self.path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove {}", self.path().display()), e)),
        }
    }

    pub fn save(&self, state: &State) -> Result<()> {
        let path = self.path();
        let tmp = self.dir.join(format!(".{FILE}.tmp"));
        let bytes = serde_json::to_vec(state).map_err(|e| Error::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let ctx = |what: &str| format!("{what} {}", tmp.display());
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io(ctx("create"), e))?;
        f.write_all(&bytes)
            .map_err(|e| Error::io(ctx("write"), e))?;
        f.sync_data().map_err(|e| Error::io(ctx("fsync"), e))?;
        drop(f);
        std::fs::rename(&tmp, &path)
            .map_err(|e| Error::io(format!("rename to {}", path.display()), e))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
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
        sf.save(&s).unwrap();
        s.instance = "def".into();
        sf.save(&s).unwrap();
        assert_eq!(sf.load().unwrap().unwrap().instance, "def");
        assert!(!dir.path().join(".network.json.tmp").exists());
        std::fs::write(dir.path().join(FILE), b"{broken").unwrap();
        let e = sf.load().unwrap_err().to_string();
        assert!(e.contains("network.json"), "{e}");
    }
}
