//! A step's snapshot: prepared from the previous image, mounted when files change, unmounted at
//! once and handed to the builder's cleaner when dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};

use crate::error::BuildError;

/// Snapshot keys of build steps: `build-` and 64 hex (the intermediate container's ID).
pub(crate) const KEY_PREFIX: &str = "build-";

fn new_key() -> String {
    format!("{KEY_PREFIX}{}", new_hex())
}

pub(super) fn new_hex() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    h.update(N.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(now.as_nanos().to_le_bytes());
    hex::encode(h.finalize())
}

/// A prepared and mounted snapshot; unmounted and removed on drop unless committed.
pub(super) struct Snapshot<'a> {
    pub(super) builder: &'a super::Builder,
    pub(super) key: String,
    pub(super) dir: PathBuf,
    pub(super) mounted: bool,
}

impl<'a> Snapshot<'a> {
    pub(super) fn new(
        builder: &'a super::Builder,
        image: &str,
        mount: bool,
    ) -> Result<Self, BuildError> {
        let key = new_key();
        let state = &builder.state;
        let mounts = builder.store.prepare(&key, image)?;
        let mut s = Snapshot {
            builder,
            key,
            dir: state.join("mnt").join(&new_hex()[..16]),
            mounted: false,
        };
        if mount {
            std::fs::create_dir_all(&s.dir)
                .map_err(|e| BuildError::Other(format!("create mount point: {e}")))?;
            berth_image::mount_all(&mounts, &s.dir)?;
            s.mounted = true;
        }
        Ok(s)
    }

    pub(super) fn unmount(&mut self) -> Result<(), BuildError> {
        if self.mounted {
            berth_image::unmount(&self.dir)?;
            self.mounted = false;
            let _ = std::fs::remove_dir(&self.dir);
        }
        Ok(())
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let _ = self.unmount();
        self.builder.discard_snapshot(std::mem::take(&mut self.key));
    }
}
