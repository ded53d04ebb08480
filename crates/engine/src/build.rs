//! The engine's seam to berth-build: one builder per daemon (state under `<data-root>/build`,
//! reconciled at start), and a puller that fetches a missing base image through the engine.

use std::sync::Arc;

pub use berth_build::api::{error_json, serve_build};
pub use berth_build::{Builder, Cancel};

use crate::Engine;
use crate::error::{Error, Result};

/// Opens the daemon's builder and cleans up what a crash left behind. RUN steps use the
/// `berth-runtime` binary found by [`berth_build::find_runtime`] (beside `berthd` normally).
pub fn open_builder(
    config: &crate::EngineConfig,
    images: &Arc<berth_image::ImageStore>,
) -> Result<Arc<Builder>> {
    let runtime =
        berth_build::find_runtime().unwrap_or_else(|| std::path::PathBuf::from("berth-runtime"));
    let mut builder = Builder::new(images.clone(), &config.data_root.join("build"), &runtime)
        .map_err(|e| Error::Internal(format!("open the builder: {e}")))?;
    // RUN steps are filtered as a default container is (dockerd's legacy builder)
    let hc = crate::model::HostConfig::default();
    let seccomp = crate::container::seccomp::linux_seccomp(
        &hc,
        &crate::container::spec::capabilities(&hc),
        &config.seccomp,
    )
    .map_err(|e| Error::Internal(format!("the builder's seccomp profile: {e}")))?;
    builder.set_run_seccomp(seccomp);
    builder
        .reconcile()
        .map_err(|e| Error::Internal(format!("reconcile the builder: {e}")))?;
    Ok(Arc::new(builder))
}

/// `POST /build/prune`'s query → the builder's prune options: `all`, and the `until` and `id`
/// filters (any other filter is refused, naming it).
pub fn cache_prune_options(
    all: bool,
    filters: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<berth_build::CachePruneOptions> {
    let mut opts = berth_build::CachePruneOptions {
        all,
        ..Default::default()
    };
    for (key, vals) in crate::container::inspect::parse_filters(filters)? {
        match key.as_str() {
            "until" => {
                for v in &vals {
                    let t = crate::netprune::parse_until(v, now)?;
                    opts.until = Some(std::time::SystemTime::from(t));
                }
            }
            "id" => opts.ids.extend(vals),
            other => {
                return Err(Error::InvalidParameter(format!("invalid filter '{other}'")));
            }
        }
    }
    Ok(opts)
}

impl Engine {
    pub fn builder(&self) -> &Arc<Builder> {
        &self.builder
    }

    /// `docker builder prune`: `{"CachesDeleted": [...], "SpaceReclaimed": N}`.
    pub async fn prune_build_cache(&self, all: bool, filters: &str) -> Result<serde_json::Value> {
        let opts = cache_prune_options(all, filters, chrono::Utc::now())?;
        let builder = self.builder.clone();
        let report = tokio::task::spawn_blocking(move || builder.prune_cache_with(&opts))
            .await
            .map_err(|e| Error::Internal(format!("build cache prune: {e}")))?
            .map_err(|e| Error::Internal(format!("build cache prune: {e}")))?;
        Ok(serde_json::json!({
            "CachesDeleted": report.deleted,
            "SpaceReclaimed": report.reclaimed,
        }))
    }

    /// Pulls `reference` through the engine (events and all) from a blocking thread, for a
    /// build whose base image is missing or asked to be pulled, handing each progress message
    /// to `progress` (moby shows them in the build's output). Anonymous, default platform.
    pub fn pull_for_build(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        reference: &str,
        progress: &mut dyn FnMut(serde_json::Value),
    ) -> std::result::Result<(), String> {
        let engine = self.clone();
        let reference = reference.to_string();
        handle.block_on(async move {
            let mut t = engine
                .pull_image(reference, None, None)
                .await
                .map_err(|e| e.to_string())?;
            let mut failure = None;
            while let Some(m) = t.rx.recv().await {
                if let Some(msg) = m.get("error").and_then(|v| v.as_str()) {
                    failure = Some(msg.to_string());
                } else {
                    progress(m);
                }
            }
            failure.map_or(Ok(()), Err)
        })
    }
}
