//! Containers: records, lifecycle, attach, logs, listing.

pub mod blkio;
pub mod create;
pub mod devices;
pub mod fsutil;
pub mod health;
pub mod hostopts;
pub mod ids;
pub mod lifecycle;
pub mod links;
pub mod ports;
mod prelaunch;
pub mod record;
pub mod seccomp;
pub mod shared_ns;
pub mod spec;
pub mod sysinfo;
pub mod table;

pub mod attach;
pub mod inspect;
pub mod logopts;
pub mod logs;
pub(crate) mod monitor_client;
mod reconcile;

pub mod archive;
pub mod commit;
pub mod extract;
mod filters;
mod rootfs;
mod spool;
mod tarwalk;
mod trash;
pub mod update;
pub mod volumes_from;
