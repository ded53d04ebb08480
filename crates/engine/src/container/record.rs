//! A container as the engine keeps it: the persisted record (JSON in the store) and the live
//! entry around it (lifecycle notifications, pending attaches, an operation lock).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio::sync::{oneshot, watch};

use crate::model::{Config, ContainerState, HostConfig};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    pub config: Config,
    pub host_config: HostConfig,
    pub state: ContainerState,
    pub restart_count: i64,
    pub log_path: String,
    /// The snapshot's mounts (berth-image data), kept so a start needs no image lookup.
    pub rootfs_mounts: Vec<crate::monitor::protocol::RootfsMount>,
    /// Set while a remove is in progress: a crash then finishes it on restart.
    #[serde(default)]
    pub removing: bool,
    /// Stopped by the user (for the unless-stopped/always restart policies).
    #[serde(default)]
    pub manually_stopped: bool,
    /// `NetworkingConfig` of the create request (endpoint aliases, addresses).
    #[serde(default)]
    pub networking_config: Option<serde_json::Value>,
    /// What the network layer gave the running container.
    #[serde(default)]
    pub network: crate::network::NetworkState,
    /// Named and anonymous volumes mounted into the container.
    #[serde(default)]
    pub volumes: Vec<crate::volumes::VolumeMount>,
    /// Disconnected from its `NetworkMode` network (moby keeps NetworkMode and drops the
    /// network from the container's set; compose disconnects and reconnects it with aliases
    /// before the first start). A start then attaches only the other networks.
    #[serde(default)]
    pub primary_disconnected: bool,
    /// Bind mounts taken from other containers (`--volumes-from`; their volumes are in
    /// `volumes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds_from: Vec<super::volumes_from::InheritedBind>,
    /// `--link`s, their targets by ID.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<super::links::Link>,
}

/// What waiters watch: exits so far and whether the container is gone.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub exits: u64,
    pub exit_code: i64,
    pub running: bool,
    pub removed: bool,
}

pub struct PendingAttach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub reply: oneshot::Sender<UnixStream>,
}

pub struct Container {
    pub id: String,
    pub record: Mutex<ContainerRecord>,
    pub lifecycle: watch::Sender<Lifecycle>,
    pub pending: Mutex<Vec<PendingAttach>>,
    /// Serializes start/stop/remove on this container.
    pub op: tokio::sync::Mutex<()>,
    /// A launch done ahead of `start` (`prelaunch.rs`).
    pub prelaunched: Mutex<Option<super::prelaunch::Prelaunched>>,
    /// Set while a launch ahead is under way (before `prelaunched` is filled).
    pub prelaunching: std::sync::atomic::AtomicBool,
}

impl Container {
    pub fn new(record: ContainerRecord) -> Container {
        let lc = Lifecycle {
            exit_code: record.state.exit_code,
            running: record.state.running,
            ..Default::default()
        };
        Container {
            id: record.id.clone(),
            record: Mutex::new(record),
            lifecycle: watch::channel(lc).0,
            pending: Mutex::new(vec![]),
            op: tokio::sync::Mutex::new(()),
            prelaunched: Mutex::new(None),
            prelaunching: Default::default(),
        }
    }

    pub fn rec(&self) -> std::sync::MutexGuard<'_, ContainerRecord> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> ContainerRecord {
        self.rec().clone()
    }
}
