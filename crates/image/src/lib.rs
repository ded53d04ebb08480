//! Images: content-addressed blobs, manifests and configs, layer unpacking, overlay snapshots,
//! references, the registry client, save/load/import. Uses nothing of Berth's other crates and
//! touches only its own root (`<data-root>/image`): `content/` (blobs), `metadata.db` (SQLite,
//! WAL), `overlay/` (layer snapshots, short links, containers' writable layers).
//!
//! Store operations are synchronous (call them from `spawn_blocking`); registry operations
//! (`pull`, `push`) are async. [`ImageStore`] is `Send + Sync`.

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
pub mod reference;
pub mod registry;
pub mod snapshot;
mod store;
pub mod types;
pub mod unpack;

pub use digest::Digest;
pub use error::Error;
pub use mount::{mount_all, unmount};
pub use reference::Reference;
pub use registry::RegistryConfig;
pub use store::ImageStore;
pub use types::*;
