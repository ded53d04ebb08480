//! Where the engine keeps its data and how it finds its helper binaries.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Persistent data: `<data-root>/engine` (store, volumes), `<data-root>/image`, ...
    pub data_root: PathBuf,
    /// Runtime state: `<exec-root>/containers/<id>` (monitor socket, exit file, bundle).
    pub exec_root: PathBuf,
    /// The `berth-monitor` binary.
    pub monitor_path: PathBuf,
    /// Bridge of the default network (`berth0`); `None` for no default network.
    pub bridge: Option<String>,
    /// The default bridge's address, like dockerd's `--bip` (`172.18.0.1/16`).
    pub bip: Option<String>,
    /// The init binary bind-mounted at `/dev/init` for `--init`, like dockerd's `--init-path`;
    /// `None` searches `docker-init` then `tini-static` in `PATH` and the usual directories.
    pub init_path: Option<PathBuf>,
}

impl EngineConfig {
    pub fn new(data_root: PathBuf, exec_root: PathBuf, monitor_path: PathBuf) -> Self {
        EngineConfig {
            data_root,
            exec_root,
            monitor_path,
            bridge: Some("berth0".into()),
            bip: None,
            init_path: None,
        }
    }

    pub fn engine_dir(&self) -> PathBuf {
        self.data_root.join("engine")
    }

    pub fn container_data_dir(&self, id: &str) -> PathBuf {
        self.data_root.join("engine/containers").join(id)
    }

    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runtime")
    }
}
