//! The directories a create needs on the data root, made ahead of it: the container's
//! writable layer (the image store's pool) and its directory under `engine/containers` with
//! an empty json-file log (this module's pool, under `engine/spare`). A create takes each
//! with a rename; the pools are refilled by a low-priority thread once the start that follows
//! is done, off the latency path (see `berth_image::spare` for why new inodes are slow here).

use std::path::Path;
use std::sync::Arc;

use berth_image::spare::{Skeleton, SparePool};

use crate::Engine;
use crate::background::OneAtATime;
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

/// The engine's pool and its refill thread (one at a time).
pub(crate) struct DataSpares {
    pool: SparePool,
    refills: OneAtATime,
}

/// Opens the pool of container directories at `<engine-dir>/spare`.
pub(crate) fn open_data_spares(engine_dir: &Path) -> Result<Arc<DataSpares>> {
    let containers = engine_dir.join("containers");
    std::fs::create_dir_all(&containers)
        .map_err(|e| Error::io(format!("create {}", containers.display()), e))?;
    let pool = SparePool::open(&engine_dir.join("spare"), DATA_SKELETON)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Arc::new(DataSpares {
        pool,
        refills: OneAtATime::default(),
    }))
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
        match self.data_spares.pool.take_into(&dir) {
            Ok(true) => {
                if let Err(e) = std::fs::rename(dir.join(SPARE_LOG), log_path) {
                    tracing::debug!(id, "spare log file not renamed: {e}");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::debug!(id, "spare container directory not taken: {e}"),
        }
        if self.data_spares.pool.len() < LOW {
            self.refill_spares();
        }
    }

    /// Refills both pools (every create draws from both) on a thread of its own at the
    /// background priority (`background.rs`), not awaited; nothing when the pools are full
    /// or a refill is under way.
    pub(crate) fn refill_spares(&self) {
        if self.data_spares.pool.len() >= TARGET {
            return;
        }
        let images = self.images.clone();
        let spares = self.data_spares.clone();
        self.data_spares.refills.spawn("spare-dirs", move || {
            crate::background::lower_this_thread();
            if let Err(e) = images.fill_spare_layers(TARGET) {
                tracing::warn!("spare writable layers: {e}");
            }
            if let Err(e) = spares.pool.fill(TARGET) {
                tracing::warn!("spare container directories: {e}");
            }
        });
    }
}
