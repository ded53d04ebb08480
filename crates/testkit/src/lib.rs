//! Test support for every crate: offline busybox root filesystems and OCI bundles, unique names,
//! and (as the crates grow) temporary daemons and a local registry. Used in tests only.

pub mod daemon;
pub mod images;
pub mod registry;
pub mod rootfs;
pub mod unique;

pub use rootfs::{BUSYBOX, busybox_rootfs};
pub use unique::unique_name;
