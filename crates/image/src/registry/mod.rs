//! The Distribution API v2 client and the pull and push pipelines.

use std::path::PathBuf;

/// Which registries may be reached over plain HTTP, and where credentials live.
#[derive(Clone, Debug, Default)]
pub struct RegistryConfig {
    /// `host[:port]` entries or CIDRs allowed over plain HTTP besides loopback (Docker's
    /// `--insecure-registry`).
    pub insecure: Vec<String>,
    /// Docker's `config.json` (`auths`) to read credentials from when none are passed.
    pub auth_config: Option<PathBuf>,
}

/// The host's architecture in OCI's vocabulary (`amd64`, `arm64`, ...).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

pub mod auth;
pub mod client;
mod upload;

pub use auth::{erase_credentials, load_credentials, store_credentials};
pub use client::RegistryClient;
pub mod pull;
pub mod push;
