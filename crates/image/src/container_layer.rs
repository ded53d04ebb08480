//! Containers' writable layers: `prepare` a snapshot on top of an image, get its mounts,
//! remove it.

use std::fs;

use crate::error::{Error, IoContext};
use crate::snapshot::validate_key;
use crate::store::ImageStore;
use crate::types::Mount;

impl ImageStore {
    /// Creates the writable layer `key` (a container ID) on top of `image` (name or ID) and
    /// returns the overlay mount for it: the image's layers as lowerdirs (short links, top
    /// first), a new upper and work directory.
    pub fn prepare(&self, key: &str, image: &str) -> Result<Vec<Mount>, Error> {
        validate_key(key)?;
        let img = self.resolve(image)?;
        let chains = img.chain_ids();
        let lowers = self
            .snaps
            .container_lowers(self.snaps.lowerdirs(&self.meta, &chains)?);
        let dir = self.snaps.create_active(key)?;
        let top = chains.last().map(|c| c.to_string()).unwrap_or_default();
        let res = self.meta.tx(|tx| {
            tx.execute(
                "INSERT INTO active (key, image_id, chain_id, created) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![key, img.id, top, chrono::Utc::now().timestamp()],
            )?;
            Ok(())
        });
        if let Err(e) = res {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(vec![self.snaps.overlay_mount(key, &lowers)])
    }

    /// Makes empty writable layers ahead of time until `target` are ready, so that
    /// [`ImageStore::prepare`] takes one with a rename (call it off the latency path, after a
    /// prepare). Returns how many it made.
    pub fn fill_spare_layers(&self, target: usize) -> Result<usize, Error> {
        self.snaps.fill_spares(target)
    }

    /// The mounts of an existing writable layer.
    pub fn mounts(&self, key: &str) -> Result<Vec<Mount>, Error> {
        let img = self.image_by_id(&self.snapshot_image(key)?)?;
        let lowers = self
            .snaps
            .container_lowers(self.snaps.lowerdirs(&self.meta, &img.chain_ids())?);
        Ok(vec![self.snaps.overlay_mount(key, &lowers)])
    }

    /// The image a writable layer was prepared from.
    pub fn snapshot_image(&self, key: &str) -> Result<String, Error> {
        validate_key(key)?;
        Ok(self
            .meta
            .active(key)?
            .ok_or_else(|| Error::NoSuchSnapshot(key.to_owned()))?
            .0)
    }

    /// Removes a writable layer (unmount it first).
    pub fn remove_snapshot(&self, key: &str) -> Result<(), Error> {
        if let Some(dir) = self.detach_snapshot(key)? {
            fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()))?;
        }
        Ok(())
    }

    /// As [`ImageStore::remove_snapshot`], but only forgets the layer and moves its directory
    /// under the store's `tmp/` (one rename); the caller deletes the returned directory when
    /// convenient (`std::fs::remove_dir_all`), off the latency path. A crash before that
    /// loses nothing: the store empties `tmp/` when it opens.
    pub fn detach_snapshot(&self, key: &str) -> Result<Option<std::path::PathBuf>, Error> {
        validate_key(key)?;
        let n = self
            .meta
            .tx(|tx| Ok(tx.execute("DELETE FROM active WHERE key = ?1", [key])?))?;
        let dir = self.snaps.active_dir(key);
        if !dir.exists() {
            return if n == 0 {
                Err(Error::NoSuchSnapshot(key.to_owned()))
            } else {
                Ok(None)
            };
        }
        let trash = self
            .snaps
            .root()
            .join("tmp")
            .join(format!("removed-{key}-{:08x}", rand::random::<u32>()));
        match fs::rename(&dir, &trash) {
            Ok(()) => Ok(Some(trash)),
            Err(_) => {
                fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()))?;
                Ok(None)
            }
        }
    }

    /// Keys of every writable layer, with the image each was prepared from.
    pub fn snapshots(&self) -> Result<Vec<(String, String)>, Error> {
        Ok(self
            .meta
            .actives()?
            .into_iter()
            .map(|(k, i, _)| (k, i))
            .collect())
    }
}
