//! berth-build: the Dockerfile parser and the image builder with its layer cache.
//!
//! Owns: Dockerfile syntax → typed instructions ([`dockerfile`]), variable substitution
//! ([`expand`]), `.dockerignore` rules ([`dockerignore`]). It uses the image crate (snapshots,
//! commit, config) and runs RUN steps through the `berth-runtime` binary; it must not touch the
//! image store's files directly nor any state of the engine.

pub mod api;
pub mod builder;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod dockerignore;
pub mod error;
pub mod expand;
pub mod fsutil;

pub use builder::{
    BuildEvent, BuildOptions, BuildOutput, Builder, NetworkMode, Puller, find_runtime,
};
pub use context::BuildContext;
pub use error::BuildError;
