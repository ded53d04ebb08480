//! The directories a create needs on the data root, made ahead of it: the container's
//! writable layer (the image store's pool) and its directory under `engine/containers` with
//! an empty json-file log (this module's pool, under `engine/spare`). A create takes each
//! with a rename; the pools are refilled in the background once the start that follows is
//! done, off the latency path (see `berth_image::spare` for why new inodes are slow here).

use berth_image::spare::{Skeleton, SparePool};
use std::path::Path;

use crate::Engine;
use crate::error::{Error, Result};

/// Skeletons kept ready in each pool.
const TARGET: usize = 4;

/// Below this many ready skeletons a create refills at once (a burst of creates without
/// starts); above it the refill waits for the start.
const LOW: usize = 2;

/// The name of the log file in a spare directory.
const SPARE_LOG: &str = "json.log";

const DATA_SKELETON: Skeleton = Skeleton {
    dirs: &[],
    files: &[SPARE_LOG],
};

/// Opens the pool of container directories at `<engine-dir>/spare`.
pub(crate) fn open_data_spares(engine_dir: &Path) -> Result<std::sync::Arc<SparePool>> {
    let containers = engine_dir.join("containers");
    std::fs::create_dir_all(&containers)
        .map_err(|e| Error::io(format!("create {}", containers.display()), e))?;
    SparePool::open(&engine_dir.join("spare"), DATA_SKELETON)
        .map(std::sync::Arc::new)
        .map_err(|e| Error::Internal(e.to_string()))
}

impl Engine {
    /// At create: puts a spare directory in place as the container's data directory, its
    /// log file renamed to `log_path` (which must be inside it). Does nothing when no spare
    /// is ready or the log is not kept (`none`): the monitor then makes what it needs.
    pub(crate) fn place_data_dir(&self, id: &str, log_path: &Path) {
        let dir = self.config().container_data_dir(id);
        if log_path.parent() != Some(dir.as_path()) {
            return;
        }
        match self.data_spares.take_into(&dir) {
            Ok(true) => {
                if let Err(e) = std::fs::rename(dir.join(SPARE_LOG), log_path) {
                    tracing::debug!(id, "spare log file not renamed: {e}");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::debug!(id, "spare container directory not taken: {e}"),
        }
        if self.data_spares.len() < LOW {
            self.refill_spares();
        }
    }

    /// Refills both pools on a blocking thread, not awaited, unless they are full (both are
    /// drawn from by every create). Each pool lets one fill run at a time.
    pub(crate) fn refill_spares(&self) {
        if self.data_spares.len() >= TARGET {
            return;
        }
        let images = self.images.clone();
        let data = self.data_spares.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = images.fill_spare_layers(TARGET) {
                tracing::warn!("spare writable layers: {e}");
            }
            if let Err(e) = data.fill(TARGET) {
                tracing::warn!("spare container directories: {e}");
            }
        });
    }
}
