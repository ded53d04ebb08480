//! The engine's seam to berth-image: maps its errors to Docker's statuses and runs store calls
//! on blocking threads.

use std::sync::Arc;

use berth_image::{Error as ImageError, ImageStore};

use crate::Engine;
use crate::error::{Error, Result};

impl From<ImageError> for Error {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::NoSuchImage(_)
            | ImageError::NoSuchSnapshot(_)
            | ImageError::ManifestUnknown(_) => Error::NotFound(e.to_string()),
            ImageError::Conflict(_) | ImageError::SnapshotExists(_) => {
                Error::Conflict(e.to_string())
            }
            ImageError::InvalidReference(_) | ImageError::InvalidArgument(_) => {
                Error::InvalidParameter(e.to_string())
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

pub fn open_store(engine_config: &crate::EngineConfig) -> Result<ImageStore> {
    Ok(ImageStore::open(&engine_config.data_root.join("image"))?)
}

impl Engine {
    pub fn image_store(&self) -> &Arc<ImageStore> {
        &self.images
    }

    /// Runs `f` with the image store on a blocking thread.
    pub async fn with_images<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&ImageStore) -> Result<T> + Send + 'static,
    {
        let store = self.images.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| Error::Internal(format!("image task: {e}")))?
    }
}

/// Engine-level image operations (what `/images/...` routes call).
impl Engine {
    /// `docker images` (`all`: `-a`, with the untagged parents of other images).
    pub async fn list_images(&self, all: bool) -> Result<Vec<berth_image::ImageSummary>> {
        let mut list = self.with_images(move |s| Ok(s.list_images(all)?)).await?;
        let used: Vec<String> = self
            .containers
            .all()
            .iter()
            .map(|c| c.rec().image_id.clone())
            .collect();
        for i in &mut list {
            i.containers = used.iter().filter(|u| **u == i.id).count() as i64;
        }
        Ok(list)
    }

    pub async fn inspect_image(&self, name: &str) -> Result<berth_image::ImageInspect> {
        let name = name.to_string();
        self.with_images(move |s| Ok(s.inspect(&name)?)).await
    }

    pub async fn image_history(&self, name: &str) -> Result<Vec<berth_image::HistoryEntry>> {
        let name = name.to_string();
        self.with_images(move |s| Ok(s.history(&name)?)).await
    }

    pub async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        if repo.is_empty() {
            return Err(Error::InvalidParameter(
                "repository name must have at least one component".into(),
            ));
        }
        let target = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        let (src, tgt) = (source.to_string(), target.clone());
        self.with_images(move |s| Ok(s.tag(&src, &tgt)?)).await?;
        self.events.publish(
            "image",
            "tag",
            source,
            [("name".to_string(), target)].into(),
        );
        Ok(())
    }

    /// `docker rmi`: an image used by a container needs `force` (Docker's 409 message).
    pub async fn remove_image(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Vec<berth_image::RemovedItem>> {
        let users: Vec<(String, String, bool)> = self
            .containers
            .all()
            .iter()
            .map(|c| {
                let r = c.rec();
                (r.image_id.clone(), r.id.clone(), r.state.running)
            })
            .collect();
        let name_s = name.to_string();
        let id = self
            .with_images(move |s| Ok(s.resolve_id(&name_s)?))
            .await?;
        if let Some((_, cid, running)) = users.iter().find(|(img, _, _)| *img == id) {
            let tagged_elsewhere =
                !name.starts_with("sha256:") && !id.trim_start_matches("sha256:").starts_with(name);
            if !tagged_elsewhere && (!force || *running) {
                let (what, how) = if *running {
                    ("running", "cannot be forced")
                } else {
                    ("stopped", "must be forced")
                };
                return Err(Error::Conflict(format!(
                    "conflict: unable to delete {} ({how}) - image is being used by {what} container {}",
                    &id.trim_start_matches("sha256:")[..12],
                    &cid[..12]
                )));
            }
        }
        let name_s = name.to_string();
        let ids: Vec<String> = users.into_iter().map(|u| u.0).collect();
        let removed = self
            .with_images(move |s| Ok(s.remove(&name_s, force, &|id| ids.iter().any(|u| u == id))?))
            .await?;
        for r in &removed {
            match r {
                berth_image::RemovedItem::Untagged(n) => {
                    self.events.publish("image", "untag", n, Default::default())
                }
                berth_image::RemovedItem::Deleted(n) => {
                    self.events
                        .publish("image", "delete", n, Default::default())
                }
            }
        }
        Ok(removed)
    }

    /// `docker load`: returns the `Loaded image: ...` lines.
    pub async fn load_images(&self, tar: Box<dyn std::io::Read + Send>) -> Result<Vec<String>> {
        let loaded = self.with_images(move |s| Ok(s.load(tar)?)).await?;
        for l in &loaded {
            self.events.publish("image", "load", l, Default::default());
        }
        Ok(loaded)
    }

    /// `docker import`: a rootfs tar becomes a one-layer image; returns its ID.
    pub async fn import_image(
        &self,
        tar: Box<dyn std::io::Read + Send>,
        reference: Option<String>,
        changes: Vec<String>,
    ) -> Result<String> {
        let id = self
            .with_images(move |s| Ok(s.import(tar, reference.as_deref(), &changes)?))
            .await?;
        self.events
            .publish("image", "import", &id, Default::default());
        Ok(id)
    }

    /// `docker save`: the archive, in memory.
    pub async fn save_images(&self, names: Vec<String>) -> Result<Vec<u8>> {
        self.with_images(move |s| {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut out = Vec::new();
            s.save(&refs, &mut out)?;
            Ok(out)
        })
        .await
    }
}
