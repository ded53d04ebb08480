//! Image formats (Docker schema2 and OCI manifests, indexes, the image config) and the shapes
//! the engine shows to users (Docker's ImageInspect, ImageSummary, history, removal lists).
//! Field names are Docker's, exactly: these structs are serialised into API answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

pub mod media {
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
    pub const DOCKER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_NONDIST: &str = "application/vnd.oci.image.layer.nondistributable";
    pub const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1";
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

/// A content descriptor (OCI's; Docker schema2 uses the same field names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size,
            urls: Vec::new(),
            annotations: None,
            platform: None,
        }
    }
}

/// A Docker schema2 or OCI image manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A Docker manifest list or OCI index.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Docker's image config (`application/vnd.docker.container.image.v1+json`), a superset of
/// OCI's. Unknown fields are kept so a config read and written back keeps its bytes' meaning;
/// the image ID is always the digest of the stored bytes, never of a re-serialisation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// Docker's container configuration inside an image config (`Config`), PascalCase fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// An image in the store.
#[derive(Clone, Debug)]
pub struct Image {
    /// `sha256:<hex>` of the config bytes (Docker's image ID).
    pub id: String,
    /// Familiar names, e.g. `busybox:latest`.
    pub repo_tags: Vec<String>,
    /// Familiar `repo@sha256:...` names of the manifests this image was pulled or pushed as.
    pub repo_digests: Vec<String>,
    pub config: ImageConfig,
    /// The manifest the store keeps for the image (pulled, or made at load/import/commit).
    pub manifest_digest: Digest,
    /// Unpacked size of all layers in bytes.
    pub size: u64,
    /// Unix seconds the image entered the store.
    pub stored_at: i64,
}

impl Image {
    /// The chain IDs of the image's layers, bottom first.
    pub fn chain_ids(&self) -> Vec<Digest> {
        crate::snapshot::chain_ids(&self.config.rootfs.diff_ids)
    }
}

/// One line of `docker images` (Engine API `ImageSummary`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    pub virtual_size: i64,
    pub labels: BTreeMap<String, String>,
    pub containers: i64,
}

/// Engine API `ImageInspect`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub container: String,
    pub container_config: Option<ContainerConfig>,
    pub docker_version: String,
    pub author: String,
    pub config: Option<ContainerConfig>,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    pub size: i64,
    pub virtual_size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: InspectRootFs,
    pub metadata: InspectMetadata,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectRootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectMetadata {
    pub last_tag_time: String,
}

/// One entry of `docker history` (Engine API `HistoryResponseItem`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Vec<String>,
    pub size: i64,
    pub comment: String,
}

/// One item of `docker rmi`'s answer: `{"Untagged": ...}` or `{"Deleted": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemovedItem {
    Untagged(String),
    Deleted(String),
}

/// What `prune` removed (Engine API `ImagePruneResponse`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PruneReport {
    pub images_deleted: Vec<RemovedItem>,
    pub space_reclaimed: u64,
}

/// What a garbage collection removed.
#[derive(Clone, Debug, Default)]
pub struct GcReport {
    /// Chain IDs of the layer snapshots removed (Docker lists them as `Deleted`).
    pub deleted_layers: Vec<String>,
    pub blobs_removed: usize,
    pub snapshots_removed: usize,
    pub bytes_freed: u64,
}

/// Disk usage of the image store (for `docker system df`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DiskUsage {
    /// Bytes of blobs in the content store (compressed layers, manifests, configs).
    pub blobs_bytes: u64,
    /// Bytes of unpacked, shared layer snapshots.
    pub layers_bytes: u64,
    /// Bytes in each container's writable layer, by snapshot key.
    pub containers: BTreeMap<String, u64>,
    pub images: Vec<ImageSummary>,
}

/// One `docker diff` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(rename = "Path")]
    pub path: String,
    /// 0 modified, 1 added, 2 deleted (Engine API `FilesystemChange.Kind`).
    #[serde(rename = "Kind")]
    pub kind: ChangeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl ChangeKind {
    /// Docker's `docker diff` letter: C, A or D.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

impl Serialize for ChangeKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

impl<'de> Deserialize<'de> for ChangeKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            0 => Ok(ChangeKind::Modified),
            1 => Ok(ChangeKind::Added),
            2 => Ok(ChangeKind::Deleted),
            n => Err(serde::de::Error::custom(format!("unknown change kind {n}"))),
        }
    }
}

/// Registry credentials: user/password, or an identity token from `docker login`. Reads
/// Docker's `X-Registry-Auth` JSON (`username`, `password`, `identitytoken`, `serveraddress`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(
        default,
        alias = "identitytoken",
        skip_serializing_if = "Option::is_none"
    )]
    pub identity_token: Option<String>,
}

/// Progress of a pull or push, per layer, for Docker's jsonmessage lines.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// `Pulling from library/busybox` / `The push refers to repository [...]`
    Resolved { reference: String },
    /// A layer will be fetched or pushed (Docker: `Pulling fs layer` / `Preparing`).
    Pending { id: String },
    /// A layer is already present (Docker: `Already exists` / `Layer already exists`).
    Exists { id: String },
    /// Bytes of a layer moved so far.
    Transfer {
        id: String,
        current: u64,
        total: u64,
    },
    /// `Download complete`, `Pull complete`, `Pushed`, `Mounted from x`.
    Done { id: String, status: String },
    /// `Digest: sha256:...`
    Digest { digest: String },
}

/// What `commit` records besides the new layer.
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// The container config of the new image (None keeps the parent image's).
    pub config: Option<ContainerConfig>,
    pub author: Option<String>,
    pub comment: Option<String>,
    /// The `created_by` history line (e.g. `/bin/sh -c #(nop) ...` in builds).
    pub created_by: Option<String>,
    /// A build step that changed no files is recorded as an empty layer.
    pub empty_layer_if_unchanged: bool,
}

/// How [`ImageStore::commit_stamped`](crate::ImageStore::commit_stamped) stamps what it records.
/// The default is `docker commit`'s: the time now, the container's ID in the config. Set both
/// fields (`SOURCE_DATE_EPOCH`) and two commits of the same files, config and parent give the
/// same image ID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitStamp {
    /// The image's `created` and its new history entry's (instead of now); layer entries
    /// modified after it get it as their mtime.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    /// Leaves the committed container's key (`container`, different on every run) out of the
    /// image config.
    pub omit_container: bool,
}

/// Where a snapshot's mounts come from and how it is mounted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// `overlay`, or `bind` for an image with a single layer mounted read-only.
    pub fstype: String,
    pub source: String,
    pub options: Vec<String>,
}
