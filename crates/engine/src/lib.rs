//! The domain: container lifecycle, monitors, the state store, events, volumes. Uses runtime,
//! image, network and build through their public APIs; owns `<data-root>/engine` and
//! `<exec-root>/containers`, never another crate's folders. Speaks in Docker's vocabulary and
//! JSON shapes (`model`); the API crate only translates HTTP to these calls.
//!
//! Public surface (used by `berth-api`):
//! - [`Engine::open`] with an [`EngineConfig`]; [`Engine::info`], [`system::version`];
//! - containers: `create_container`, `start`, `wait`, `attach`, `logs`, `inspect_container`,
//!   `list_containers`, `stop`, `kill`, `restart`, `remove_container`, `rename`, `pause`, `unpause`;
//! - [`monitor::main`]: the body of the `berth-monitor` binary (single-threaded, no tokio).

#![recursion_limit = "256"]

mod background;
pub mod build;
pub mod config;
pub mod container;
pub mod error;
pub mod events;
pub mod exec;
pub mod images;
pub mod model;
pub mod monitor;
mod netlist;
mod netns_spare;
pub mod netprune;
pub mod network;
pub mod prune;
pub mod registry;
mod spare_dirs;
pub mod stats;
pub mod store;
pub mod system;
pub mod volumes;

mod engine;

pub use config::EngineConfig;
pub use engine::Engine;
pub use error::{Error, Result};
