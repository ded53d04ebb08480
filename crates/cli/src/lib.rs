//! The `berth` command line: Docker's commands and flags, a client of the Docker Engine API only.
//! It owns argument parsing, the HTTP client (UNIX socket, TCP, TLS), output formatting
//! (`--format` templates, tables, progress) and interactive terminals. It must not depend on any
//! other Berth crate: the API types it needs are its own (`types`), so it works against `berthd`
//! and a real dockerd alike.

pub mod client;
pub mod render;
pub mod template;
pub mod types;

pub fn run() -> i32 {
    0
}
