//! The image store: opens the content store, metadata and snapshots under one root, and
//! answers the engine's questions about images (resolve, list, inspect, history, tag, remove,
//! prune, disk usage). Archive, registry and snapshot operations live in their own modules as
//! further `impl ImageStore` blocks.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, IoContext};
use crate::meta::{self, ImageRow, LayerBlob, Meta};
use crate::reference::{Reference, familiar_name, looks_like_id};
use crate::registry::RegistryConfig;
use crate::snapshot::{Snapshots, chain_ids};
use crate::types::*;

/// The image store rooted at `<data-root>/image`. `Send + Sync` and cheap to clone (one
/// shared state behind an `Arc`).
#[derive(Clone)]
pub struct ImageStore(Arc<StoreInner>);

impl std::ops::Deref for ImageStore {
    type Target = StoreInner;
    fn deref(&self) -> &StoreInner {
        &self.0
    }
}

#[doc(hidden)]
pub struct StoreInner {
    pub(crate) root: PathBuf,
    pub(crate) content: ContentStore,
    pub(crate) meta: Meta,
    pub(crate) snaps: Snapshots,
    pub(crate) registry: RegistryConfig,
    /// Operations adding content right now; garbage collection waits for none.
    busy: AtomicUsize,
}

/// Marks an ingest in progress so a concurrent GC leaves its blobs and snapshots alone.
pub(crate) struct BusyGuard<'a>(&'a AtomicUsize);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn short_id(id: &str) -> &str {
    let h = id.strip_prefix("sha256:").unwrap_or(id);
    &h[..h.len().min(12)]
}

impl ImageStore {
    /// Opens (creating) the store under `root`, e.g. `/var/lib/berth/image`.
    pub fn open(root: &Path) -> Result<ImageStore, Error> {
        ImageStore::open_with(root, RegistryConfig::default())
    }

    /// Opens the store with registry settings: insecure registries (`--insecure-registry`)
    /// and the `config.json` holding `docker login` credentials.
    pub fn open_with(root: &Path, registry: RegistryConfig) -> Result<ImageStore, Error> {
        std::fs::create_dir_all(root).ctx(|| format!("create {}", root.display()))?;
        let content = ContentStore::open(&root.join("content"))?;
        let meta = Meta::open(&root.join("metadata.db"))?;
        let snaps = Snapshots::open(&root.join("overlay"))?;
        Ok(ImageStore(Arc::new(StoreInner {
            root: root.to_owned(),
            content,
            meta,
            snaps,
            registry,
            busy: AtomicUsize::new(0),
        })))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn busy_count(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    pub(crate) fn busy(&self) -> BusyGuard<'_> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        BusyGuard(&self.busy)
    }

    /// The image ID a name, reference, full ID or unique ID prefix designates.
    pub fn resolve_id(&self, name: &str) -> Result<String, Error> {
        if let Some(hex) = name.strip_prefix("sha256:")
            && hex.len() == 64
        {
            return match self.meta.image(name)? {
                Some(_) => Ok(name.to_owned()),
                None => Err(Error::NoSuchImage(name.to_owned())),
            };
        }
        if let Ok(r) = Reference::parse_normalized(name) {
            let key = r.digested().or_else(|| r.tagged());
            if let Some(k) = key
                && let Some(id) = self.meta.ref_target(&k)?
            {
                return Ok(id);
            }
        }
        if looks_like_id(name) && !name.contains(':')
            || name.starts_with("sha256:") && looks_like_id(name)
        {
            let prefix = if name.starts_with("sha256:") {
                name.to_owned()
            } else {
                format!("sha256:{name}")
            };
            let ids = self.meta.ids_with_prefix(&prefix)?;
            match ids.len() {
                1 => return Ok(ids[0].clone()),
                0 => {}
                _ => {
                    return Err(Error::Conflict(format!(
                        "multiple IDs found with provided prefix: {name}"
                    )));
                }
            }
        }
        let shown = match Reference::parse_normalized(name) {
            Ok(r) if !looks_like_id(name) => r.to_string(),
            _ => name.to_owned(),
        };
        Err(Error::NoSuchImage(shown))
    }

    /// The image a name designates (`busybox` is `docker.io/library/busybox:latest`).
    pub fn resolve(&self, name: &str) -> Result<Image, Error> {
        let id = self.resolve_id(name)?;
        self.image_by_id(&id)
    }

    pub(crate) fn image_by_id(&self, id: &str) -> Result<Image, Error> {
        let row = self
            .meta
            .image(id)?
            .ok_or_else(|| Error::NoSuchImage(id.to_owned()))?;
        self.image_from_row(row)
    }

    fn image_from_row(&self, row: ImageRow) -> Result<Image, Error> {
        let digest = Digest::parse(&row.id)?;
        let config: ImageConfig = serde_json::from_slice(&self.content.read(&digest)?)?;
        let refs = self.meta.refs_of(&row.id)?;
        let (tags, digests): (Vec<_>, Vec<_>) = refs.iter().partition(|r| !r.contains('@'));
        Ok(Image {
            id: row.id,
            repo_tags: tags.iter().map(|r| familiar_name(r)).collect(),
            repo_digests: digests.iter().map(|r| familiar_name(r)).collect(),
            config,
            manifest_digest: row.manifest,
            size: row.size,
            stored_at: row.stored_at,
        })
    }

    /// The stored manifest of an image.
    pub fn manifest(&self, image: &Image) -> Result<Manifest, Error> {
        Ok(serde_json::from_slice(
            &self.content.read(&image.manifest_digest)?,
        )?)
    }

    /// Every image, newest first (`docker images`).
    pub fn list(&self) -> Result<Vec<ImageSummary>, Error> {
        let mut used: BTreeMap<String, i64> = BTreeMap::new();
        for (_, image_id, _) in self.meta.actives()? {
            *used.entry(image_id).or_default() += 1;
        }
        let mut out = Vec::new();
        for row in self.meta.images()? {
            let img = self.image_from_row(row)?;
            out.push(summary(&img, used.get(&img.id).copied().unwrap_or(0)));
        }
        Ok(out)
    }

    /// Docker's `ImageInspect` for `name`.
    pub fn inspect(&self, name: &str) -> Result<ImageInspect, Error> {
        let img = self.resolve(name)?;
        let row = self
            .meta
            .image(&img.id)?
            .ok_or_else(|| Error::NoSuchImage(name.to_owned()))?;
        let c = &img.config;
        let mut data = BTreeMap::new();
        let chains = img.chain_ids();
        if let Some((top, lower)) = chains.split_last() {
            data.insert(
                "UpperDir".into(),
                self.snaps.fs_dir(top).display().to_string(),
            );
            if !lower.is_empty() {
                let l: Vec<String> = lower
                    .iter()
                    .rev()
                    .map(|c| self.snaps.fs_dir(c).display().to_string())
                    .collect();
                data.insert("LowerDir".into(), l.join(":"));
            }
        }
        Ok(ImageInspect {
            id: img.id.clone(),
            repo_tags: img.repo_tags.clone(),
            repo_digests: img.repo_digests.clone(),
            parent: self.parent(&img.id)?,
            comment: c.comment.clone().unwrap_or_default(),
            created: c.created.clone().unwrap_or_default(),
            container: c.container.clone().unwrap_or_default(),
            container_config: c.container_config.clone(),
            docker_version: c.docker_version.clone().unwrap_or_default(),
            author: c.author.clone().unwrap_or_default(),
            config: c.config.clone(),
            architecture: c.architecture.clone(),
            variant: c.variant.clone(),
            os: c.os.clone(),
            size: img.size as i64,
            virtual_size: img.size as i64,
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data,
            },
            root_fs: InspectRootFs {
                kind: "layers".into(),
                layers: c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
            },
            metadata: InspectMetadata {
                last_tag_time: row.last_tag_time,
            },
        })
    }

    /// `docker history`: newest first; only the top entry carries the image ID.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, Error> {
        let img = self.resolve(name)?;
        let chains = img.chain_ids();
        let mut sizes = Vec::new();
        for c in &chains {
            sizes.push(self.meta.snapshot(c)?.map(|s| s.size).unwrap_or(0));
        }
        let mut hist = img.config.history.clone();
        if hist.is_empty() {
            hist = chains.iter().map(|_| History::default()).collect();
        }
        let mut layer = 0;
        let mut entries = Vec::new();
        for h in &hist {
            let size = if h.empty_layer {
                0
            } else {
                let s = sizes.get(layer).copied().unwrap_or(0);
                layer += 1;
                s
            };
            entries.push(HistoryEntry {
                id: "<missing>".into(),
                created: h
                    .created
                    .as_deref()
                    .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: Vec::new(),
                size: size as i64,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        entries.reverse();
        if let Some(top) = entries.first_mut() {
            top.id = img.id.clone();
            top.tags = img.repo_tags.clone();
        }
        Ok(entries)
    }

    /// `docker tag SOURCE TARGET`: one transaction.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), Error> {
        let id = self.resolve_id(source)?;
        let r = Reference::parse_normalized(target)?;
        if r.digest.is_some() {
            return Err(Error::InvalidReference(format!(
                "refusing to create a tag with a digest reference: {target:?}"
            )));
        }
        let name = r.tagged().unwrap_or_default();
        self.meta.tx(|tx| meta::set_ref(tx, &name, &id))
    }

    /// Removes one tag (`docker rmi` of a tag the image has others of).
    pub fn untag(&self, name: &str) -> Result<(), Error> {
        let r = Reference::parse_normalized(name)?;
        let key = r.digested().or_else(|| r.tagged()).unwrap_or_default();
        let n = self
            .meta
            .tx(|tx| Ok(tx.execute("DELETE FROM refs WHERE name = ?1", [&key])?))?;
        if n == 0 {
            return Err(Error::NoSuchImage(r.to_string()));
        }
        Ok(())
    }

    pub(crate) fn in_use(&self, id: &str, in_use: &dyn Fn(&str) -> bool) -> Result<bool, Error> {
        Ok(in_use(id) || self.meta.actives()?.iter().any(|(_, img, _)| img == id))
    }

    /// `docker rmi`: untags, and deletes the image when no tag is left and no container uses
    /// it. Returns Docker's `Untagged`/`Deleted` list.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<RemovedItem>, Error> {
        let id = self.resolve_id(name)?;
        let refs = self.meta.refs_of(&id)?;
        let tags: Vec<&String> = refs.iter().filter(|r| !r.contains('@')).collect();
        let by_ref = Reference::parse_normalized(name)
            .ok()
            .and_then(|r| r.digested().or_else(|| r.tagged()))
            .filter(|k| refs.contains(k));
        let used = self.in_use(&id, in_use)?;
        let mut out = Vec::new();
        if let Some(k) = &by_ref
            && (tags.len() > 1 || (used && !force && tags.len() == 1 && k.contains('@')))
        {
            // Other names remain: only this one goes.
            self.meta
                .tx(|tx| Ok(tx.execute("DELETE FROM refs WHERE name = ?1", [k])?))?;
            out.push(RemovedItem::Untagged(familiar_name(k)));
            return Ok(out);
        }
        if used {
            if !force {
                return Err(match &by_ref {
                    Some(k) => Error::Conflict(format!(
                        "conflict: unable to remove repository reference \"{}\" (must force) - container is using its referenced image {}",
                        familiar_name(k),
                        short_id(&id)
                    )),
                    None => Error::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by a container",
                        short_id(&id)
                    )),
                });
            }
            // Forced while in use: untag, keep the image (Docker does the same).
            self.meta
                .tx(|tx| Ok(tx.execute("DELETE FROM refs WHERE image_id = ?1", [&id])?))?;
            out.extend(refs.iter().map(|r| RemovedItem::Untagged(familiar_name(r))));
            return Ok(out);
        }
        if by_ref.is_none() && tags.len() > 1 && !force {
            return Err(Error::Conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                short_id(&id)
            )));
        }
        if self.meta.has_children(&id)? {
            // A build step's parent: by name it is only untagged; by ID it cannot go (moby).
            if by_ref.is_none() {
                return Err(Error::Conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    short_id(&id)
                )));
            }
            self.meta
                .tx(|tx| Ok(tx.execute("DELETE FROM refs WHERE image_id = ?1", [&id])?))?;
            out.extend(refs.iter().map(|r| RemovedItem::Untagged(familiar_name(r))));
            return Ok(out);
        }
        let parent = self.meta.parent_of(&id)?;
        self.meta.tx(|tx| {
            tx.execute("DELETE FROM refs WHERE image_id = ?1", [&id])?;
            tx.execute("DELETE FROM images WHERE id = ?1", [&id])?;
            crate::parents::forget(tx, &id)
        })?;
        out.extend(refs.iter().map(|r| RemovedItem::Untagged(familiar_name(r))));
        out.push(RemovedItem::Deleted(id.clone()));
        out.extend(self.prune_parents(parent, in_use)?);
        let gc = self.gc()?;
        out.extend(gc.deleted_layers.into_iter().map(RemovedItem::Deleted));
        Ok(out)
    }

    /// `docker image prune` (`-a` when `dangling_only` is false): removes images no container
    /// uses that have no tag (or, with `-a`, any image no container uses).
    pub fn prune(&self, dangling_only: bool) -> Result<PruneReport, Error> {
        let used: HashSet<String> = self
            .meta
            .actives()?
            .into_iter()
            .map(|(_, i, _)| i)
            .collect();
        let before = self.disk_bytes()?;
        let mut report = PruneReport::default();
        // Heads first: an image with children goes only once they are gone, so a dangling
        // build chain is removed from the top down and one whose child is tagged stays.
        loop {
            let mut deleted_any = false;
            for row in self.meta.images()? {
                if used.contains(&row.id) || self.meta.has_children(&row.id)? {
                    continue;
                }
                let refs = self.meta.refs_of(&row.id)?;
                let tagged = refs.iter().any(|r| !r.contains('@'));
                if dangling_only && tagged {
                    continue;
                }
                self.meta.tx(|tx| {
                    tx.execute("DELETE FROM refs WHERE image_id = ?1", [&row.id])?;
                    tx.execute("DELETE FROM images WHERE id = ?1", [&row.id])?;
                    crate::parents::forget(tx, &row.id)
                })?;
                deleted_any = true;
                report
                    .images_deleted
                    .extend(refs.iter().map(|r| RemovedItem::Untagged(familiar_name(r))));
                report
                    .images_deleted
                    .push(RemovedItem::Deleted(row.id.clone()));
            }
            if !deleted_any {
                break;
            }
        }
        let gc = self.gc()?;
        report
            .images_deleted
            .extend(gc.deleted_layers.into_iter().map(RemovedItem::Deleted));
        report.space_reclaimed = before.saturating_sub(self.disk_bytes()?);
        Ok(report)
    }

    fn disk_bytes(&self) -> Result<u64, Error> {
        let blobs: u64 = self.content.list()?.iter().map(|(_, s)| s).sum();
        let layers: u64 = self.meta.snapshots()?.iter().map(|s| s.size).sum();
        Ok(blobs + layers)
    }

    /// Space used by blobs, shared layers and each container's writable layer.
    pub fn disk_usage(&self) -> Result<DiskUsage, Error> {
        let mut containers = BTreeMap::new();
        for (key, _, _) in self.meta.actives()? {
            containers.insert(
                key.clone(),
                dir_size(&self.snaps.active_dir(&key).join("upper")),
            );
        }
        Ok(DiskUsage {
            blobs_bytes: self.content.list()?.iter().map(|(_, s)| s).sum(),
            layers_bytes: self.meta.snapshots()?.iter().map(|s| s.size).sum(),
            containers,
            images: self.list()?,
        })
    }

    /// Stores an image whose config, layer blobs and snapshots are already in place: writes the
    /// config and manifest blobs, then the image row and its references in one transaction.
    pub(crate) fn add_image(
        &self,
        config_bytes: &[u8],
        manifest_bytes: &[u8],
        layers: &[LayerBlob],
        names: &[String],
    ) -> Result<String, Error> {
        let config: ImageConfig = serde_json::from_slice(config_bytes)?;
        let id = self.content.put(config_bytes, None)?;
        let manifest = self.content.put(manifest_bytes, None)?;
        let mut size = 0;
        for c in chain_ids(&config.rootfs.diff_ids) {
            let s = self
                .meta
                .snapshot(&c)?
                .ok_or_else(|| Error::NoSuchSnapshot(format!("layer {c}")))?;
            size += s.size;
        }
        let row = ImageRow {
            id: id.to_string(),
            manifest,
            size,
            stored_at: chrono::Utc::now().timestamp(),
            last_tag_time: String::new(),
        };
        self.meta.tx(|tx| {
            for l in layers {
                meta::insert_layer_blob(tx, l)?;
            }
            meta::insert_image(tx, &row)?;
            for n in names {
                meta::set_ref(tx, n, &row.id)?;
            }
            Ok(())
        })?;
        Ok(row.id)
    }
}

fn summary(img: &Image, containers: i64) -> ImageSummary {
    ImageSummary {
        id: img.id.clone(),
        parent_id: String::new(),
        repo_tags: img.repo_tags.clone(),
        repo_digests: img.repo_digests.clone(),
        created: img
            .config
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0),
        size: img.size as i64,
        shared_size: -1,
        virtual_size: img.size as i64,
        labels: img
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
        containers,
    }
}

/// Bytes of regular files under `dir` (not following symlinks).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                total += m.len();
            }
        }
    }
    total
}
