//! berth-build: the Dockerfile parser and the image builder with its layer cache.
//!
//! Owns: Dockerfile syntax → typed instructions ([`dockerfile`]), variable substitution
//! ([`expand`]), `.dockerignore` rules ([`dockerignore`]), build contexts ([`context`]),
//! COPY/ADD ([`copy`]) and the builder ([`builder`]) with its state folder (cache index, step
//! mounts, RUN bundles). It uses the image crate only through `ImageStore` (prepare, mount,
//! commit, resolve, tag, import, save/load) and runs RUN steps by spawning the `berth-runtime`
//! binary; it must not touch the image store's files nor any state of the engine.
//!
//! The API the engine calls (all blocking: run on a blocking thread):
//!
//! ```text
//! Builder::new(store: Arc<ImageStore>, state_dir: &Path, runtime: &Path) -> Result<Builder, BuildError>
//! Builder::reconcile(&self) -> Result<(), BuildError>            // once at daemon start
//! Builder::context_from_tar(&self, reader: impl Read) -> Result<BuildContext, BuildError>
//! Builder::discard_context(&self, ctx: BuildContext)             // deleted in the background
//! Builder::prune_cache(&self) -> Result<usize, BuildError>       // forget every entry
//! Builder::prune_cache_with(&self, &CachePruneOptions) -> Result<CachePruneReport, BuildError>
//!                                                                 // docker builder prune
//! Builder::build(&self, ctx: &BuildContext, opts: &BuildOptions, pull: Puller<'_>,
//!                progress: &mut dyn FnMut(BuildEvent)) -> Result<BuildOutput, BuildError>
//! Builder::shutdown(&self)                                        // waits for background cleanup
//! BuildContext::from_tar(reader: impl Read, scratch: &Path) -> Result<BuildContext, BuildError>
//! BuildContext::from_dir(dir: &Path) -> Result<BuildContext, BuildError>
//! api::serve_build(builder: &Builder, query: &[(String, String)], body: impl Read,
//!                  pull: Puller<'_>, cancel: &Cancel, out: &mut dyn FnMut(String)) -> Option<String>
//! api::options_from_query(&[(String, String)]) -> Result<BuildOptions, BuildError>
//! api::event_json(&BuildEvent) -> String;  api::error_json(&str) -> String
//! find_runtime() -> Option<PathBuf>       // BERTH_RUNTIME, next to the exe, or PATH
//! type Puller<'a> = &'a (dyn Fn(&str, &mut dyn FnMut(serde_json::Value)) -> Result<(), String> + Sync)
//! enum BuildEvent { Stream(String), Aux(String), Progress(serde_json::Value) }
//! Dockerfile::parse(&str) -> Result<Dockerfile, ParseError>;  Dockerfile::to_text(&self) -> String
//! ```

pub mod api;
pub mod builder;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod dockerignore;
pub mod error;
pub mod expand;
pub mod fsutil;
pub mod srcfs;
mod timing;

pub use builder::{
    BuildEvent, BuildOptions, BuildOutput, Builder, CachePruneOptions, CachePruneReport, Cancel,
    NetworkMode, Puller, find_runtime,
};
pub use context::BuildContext;
pub use error::BuildError;
