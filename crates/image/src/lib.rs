//! Images: content-addressed blobs, manifests and configs, layer unpacking, overlay snapshots,
//! references, the registry client, save/load/import. Uses nothing of Berth's other crates and
//! touches only its own root (`<data-root>/image`): `content/` (blobs), `metadata.db` (SQLite,
//! WAL), `overlay/` (layer snapshots, short links, containers' writable layers). It must not
//! read or write other crates' folders, and never mounts anything itself except in
//! [`mount_all`]. [`spare::SparePool`] (directories made ahead of the creates that take them)
//! is also the engine's, for its own per-container directories.
//!
//! Store operations are synchronous (call them from `spawn_blocking`); registry operations
//! are async (tokio). [`ImageStore`] is `Send + Sync` and a cheap `Clone` (an `Arc`).
//!
//! The API the engine and the builder call:
//! ```text
//! ImageStore::open(root: &Path) -> Result<ImageStore, Error>
//! ImageStore::open_with(root: &Path, registry: RegistryConfig { insecure, auth_config }) -> Result<ImageStore, Error>
//! resolve(&self, name_id_or_prefix: &str) -> Result<Image, Error>     // "busybox" = docker.io/library/busybox:latest
//! resolve_id(&self, name: &str) -> Result<String, Error>
//! list(&self) -> Result<Vec<ImageSummary>, Error>                    // every image
//! list_images(&self, all: bool) -> Result<Vec<ImageSummary>, Error>   // docker images [-a], ParentId set
//! parent(&self, id: &str) -> Result<String, Error>                    // recorded by commit
//! inspect(&self, name: &str) -> Result<ImageInspect, Error>           // Docker's ImageInspect JSON (serde)
//! history(&self, name: &str) -> Result<Vec<HistoryEntry>, Error>
//! manifest(&self, image: &Image) -> Result<Manifest, Error>
//! tag(&self, source: &str, target: &str) -> Result<(), Error>
//! untag(&self, name: &str) -> Result<(), Error>
//! remove(&self, name: &str, force: bool, in_use: &dyn Fn(&str) -> bool) -> Result<Vec<RemovedItem>, Error>
//! prune(&self, dangling_only: bool) -> Result<PruneReport, Error>
//! gc(&self) -> Result<GcReport, Error>
//! disk_usage(&self) -> Result<DiskUsage, Error>
//! load(&self, tar: impl Read) -> Result<Vec<String>, Error>           // "Loaded image: x:y" lines
//! save(&self, names: &[&str], out: impl Write) -> Result<(), Error>   // docker-archive + OCI layout
//! import(&self, rootfs_tar: impl Read, reference: Option<&str>, changes: &[String]) -> Result<String, Error>
//! async pull(&self, reference: &str, auth: Option<&Credentials>, platform: Option<&str>,
//!            progress: &(dyn Fn(Progress) + Send + Sync)) -> Result<Image, Error>
//! async push(&self, reference: &str, auth: Option<&Credentials>,
//!            progress: &(dyn Fn(Progress) + Send + Sync)) -> Result<String /*digest*/, Error>
//! async login(&self, registry: &str, creds: &Credentials, config_json: &Path) -> Result<(), Error>
//! prepare(&self, key: &str, image: &str) -> Result<Vec<Mount>, Error>  // overlay on the image's layers
//! fill_spare_layers(&self, target: usize) -> Result<usize, Error>     // writable layers made ahead (spare.rs)
//! mounts(&self, key: &str) -> Result<Vec<Mount>, Error>
//! snapshot_image(&self, key: &str) -> Result<String, Error>
//! snapshots(&self) -> Result<Vec<(String /*key*/, String /*image id*/)>, Error>
//! remove_snapshot(&self, key: &str) -> Result<(), Error>
//! diff(&self, key: &str, out: impl Write) -> Result<(), Error>        // upper layer as a layer tar
//! changes(&self, key: &str) -> Result<Vec<Change>, Error>             // docker diff
//! commit(&self, key: &str, opts: &CommitOptions, reference: Option<&str>) -> Result<String, Error>
//! commit_stamped(&self, key, opts, stamp: &CommitStamp { created, omit_container }, reference)  // SOURCE_DATE_EPOCH
//! mount_all(mounts: &[Mount], target: &Path) -> Result<(), Error>;  unmount(target: &Path) -> Result<(), Error>
//! import::apply_changes(cfg: &mut ContainerConfig, changes: &[String]) -> Result<(), Error>
//! registry::{load_credentials, store_credentials, erase_credentials}(config_json, registry, ..)
//! Error::is_not_found() (404), Error::is_conflict() (409)
//! ```

pub mod archive;
mod container_layer;
pub mod content;
pub mod diff;
pub mod digest;
pub mod error;
mod gc;
pub mod import;
pub mod layer;
mod meta;
pub mod mount;
mod parents;
pub mod reference;
pub mod registry;
pub mod snapshot;
pub mod spare;
mod store;
mod tar_meta;
pub mod types;
pub mod unpack;

pub use digest::Digest;
pub use error::Error;
pub use mount::{mount_all, unmount};
pub use reference::Reference;
pub use registry::RegistryConfig;
pub use snapshot::INIT_FILES;
pub use store::ImageStore;
pub use types::*;

#[cfg(test)]
mod send_sync {
    use super::*;

    fn is_send_sync<T: Send + Sync>() {}
    fn is_send<T: Send>(_: &T) {}

    /// The daemon shares the store across threads and spawns pulls and pushes as tasks.
    #[test]
    fn store_is_shareable_and_its_futures_are_send() {
        is_send_sync::<ImageStore>();
        let dir = std::env::temp_dir().join(format!("berth-image-send-{}", std::process::id()));
        let s = ImageStore::open(&dir).unwrap();
        let pull = s.pull("x", None, None, &|_| {});
        is_send(&pull);
        let push = s.push("x", None, &|_| {});
        is_send(&push);
        drop((pull, push));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
