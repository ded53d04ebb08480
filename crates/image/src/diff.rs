//! A container's writable layer seen as changes: `docker diff` (A/C/D), the upper directory as
//! a layer tar (overlay whiteouts become `.wh.` entries), and `commit` of that layer as a new
//! image on top of the container's image.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext};
use crate::layer::LayerExpect;
use crate::meta::LayerBlob;
use crate::reference::Reference;
use crate::store::{ImageStore, now_rfc3339};
use crate::types::{Change, ChangeKind, CommitOptions, CommitStamp, History, Manifest};
use crate::unpack::OPAQUE_XATTR;

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    let mut v = [0u8; 4];
    matches!(rustix::fs::lgetxattr(p, OPAQUE_XATTR, &mut v), Ok(n) if &v[..n] == b"y")
}

/// Every path under `root`, sorted, parents before children (no symlinks followed).
fn walk(root: &Path) -> Result<Vec<(PathBuf, fs::Metadata)>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut names: Vec<_> = fs::read_dir(&dir)
            .ctx(|| format!("read {}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort();
        let mut subdirs = Vec::new();
        for n in names {
            let r = rel.join(&n);
            let m = fs::symlink_metadata(root.join(&r)).ctx(|| format!("stat {}", r.display()))?;
            if m.is_dir() {
                subdirs.push(r.clone());
            }
            out.push((r, m));
        }
        stack.extend(subdirs.into_iter().rev());
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

impl ImageStore {
    fn upper_and_lowers(&self, key: &str) -> Result<(PathBuf, Vec<PathBuf>), Error> {
        let img = self.image_by_id(&self.snapshot_image(key)?)?;
        let lowers = img
            .chain_ids()
            .iter()
            .rev()
            .map(|c| self.snaps.fs_dir(c))
            .collect();
        Ok((self.snaps.active_dir(key).join("upper"), lowers))
    }

    /// `docker diff`: what the container changed, added and deleted, sorted by path.
    pub fn changes(&self, key: &str) -> Result<Vec<Change>, Error> {
        let (upper, lowers) = self.upper_and_lowers(key)?;
        let in_lower = |rel: &Path| {
            for l in &lowers {
                match fs::symlink_metadata(l.join(rel)) {
                    Ok(m) if is_whiteout(&m) => return false,
                    Ok(_) => return true,
                    Err(_) => {}
                }
            }
            false
        };
        let mut out = Vec::new();
        for (rel, m) in walk(&upper)? {
            let path = format!("/{}", rel.display());
            let kind = if is_whiteout(&m) {
                ChangeKind::Deleted
            } else if in_lower(&rel) {
                ChangeKind::Modified
            } else {
                ChangeKind::Added
            };
            out.push(Change { path, kind });
        }
        Ok(out)
    }

    /// Writes the writable layer `key` as a layer tar: overlay whiteouts become `.wh.<name>`,
    /// opaque directories get `.wh..wh..opq`. Entries are sorted and carry their own metadata.
    pub fn diff(&self, key: &str, out: impl Write) -> Result<(), Error> {
        let (upper, _) = self.upper_and_lowers(key)?;
        write_layer_tar(&upper, out)
    }

    /// `docker commit`: the writable layer `key` becomes a new layer on top of the image it
    /// was prepared from; returns the new image ID, tagged `reference` if given.
    pub fn commit(
        &self,
        key: &str,
        opts: &CommitOptions,
        reference: Option<&str>,
    ) -> Result<String, Error> {
        self.commit_stamped(key, opts, &CommitStamp::default(), reference)
    }

    /// [`commit`](Self::commit) with a fixed time and without the per-run container key, so
    /// the same content committed twice gives the same image ID (`SOURCE_DATE_EPOCH`).
    pub fn commit_stamped(
        &self,
        key: &str,
        opts: &CommitOptions,
        stamp: &CommitStamp,
        reference: Option<&str>,
    ) -> Result<String, Error> {
        let _busy = self.busy();
        let (image_id, _) = self
            .meta
            .active(key)?
            .ok_or_else(|| Error::NoSuchSnapshot(key.to_owned()))?;
        let parent = self.image_by_id(&image_id)?;
        let name = match reference {
            Some(r) => Some(Reference::parse_normalized(r)?.tagged().ok_or_else(|| {
                Error::InvalidReference(format!("cannot commit to a digest: {r:?}"))
            })?),
            None => None,
        };
        let parent_manifest: Manifest =
            serde_json::from_slice(&self.content.read(&parent.manifest_digest)?)?;
        let mut layers: Vec<LayerBlob> = Vec::new();
        for l in &parent_manifest.layers {
            layers.push(self.meta.layer_blob(&l.digest)?.ok_or_else(|| {
                Error::InvalidArgument(format!("layer blob {} is missing", l.digest))
            })?);
        }
        let mut config = parent.config.clone();
        let created = match stamp.created {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            None => now_rfc3339(),
        };
        let clamp = stamp.created.map(|t| t.timestamp());
        let empty = opts.empty_layer_if_unchanged && self.changes(key)?.is_empty();
        if !empty {
            let tmp = self.snaps.temp()?;
            let tar_path = tmp.path().join("layer.tar");
            let f = File::create(&tar_path).ctx(|| format!("create {}", tar_path.display()))?;
            let (upper, _) = self.upper_and_lowers(key)?;
            layer_tar(&upper, std::io::BufWriter::new(f), clamp)?;
            let f = File::open(&tar_path).ctx(|| format!("open {}", tar_path.display()))?;
            let chains = parent.chain_ids();
            let got = self.ingest_layer(
                std::io::BufReader::new(f),
                &LayerExpect {
                    media_type: "",
                    parent_chain: chains.last(),
                    ..Default::default()
                },
            )?;
            config.rootfs.diff_ids.push(got.blob.diff_id.clone());
            layers.push(got.blob);
        }
        if config.rootfs.kind.is_empty() {
            config.rootfs.kind = "layers".into();
        }
        if let Some(c) = &opts.config {
            config.config = Some(c.clone());
        }
        config.created = Some(created.clone());
        config.author = opts.author.clone().or(config.author);
        config.comment = opts.comment.clone();
        config.container = (!stamp.omit_container).then(|| key.to_owned());
        config.history.push(History {
            created: Some(created),
            created_by: opts.created_by.clone(),
            author: opts.author.clone(),
            comment: opts.comment.clone(),
            empty_layer: empty,
        });
        let config_bytes = serde_json::to_vec(&config)?;
        let manifest = crate::archive::docker_manifest(&config_bytes, &layers)?;
        let id = self.add_image(
            &config_bytes,
            &manifest,
            &layers,
            &name.into_iter().collect::<Vec<_>>(),
        )?;
        if id != image_id {
            self.meta.set_parent(&id, &image_id)?;
        }
        Ok(id)
    }
}

/// Writes `root` as a layer tar (sorted, hardlinks kept, whiteouts translated).
pub fn write_layer_tar(root: &Path, out: impl Write) -> Result<(), Error> {
    layer_tar(root, out, None)
}

/// [`write_layer_tar`] with every mtime later than `clamp` (seconds) written as `clamp`.
fn layer_tar(root: &Path, out: impl Write, clamp: Option<i64>) -> Result<(), Error> {
    let mtime = |m: &fs::Metadata| {
        let t = clamp.map_or(m.mtime(), |c| m.mtime().min(c));
        t.max(0) as u64
    };
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let werr = |e: std::io::Error| Error::io("write layer tar", e);
    for (rel, m) in walk(root)? {
        let full = root.join(&rel);
        let mut h = tar::Header::new_gnu();
        h.set_mode(m.mode() & 0o7777);
        h.set_uid(m.uid() as u64);
        h.set_gid(m.gid() as u64);
        h.set_mtime(mtime(&m));
        h.set_size(0);
        if is_whiteout(&m) {
            let name = rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let wh = rel.with_file_name(format!(".wh.{name}"));
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o600);
            b.append_data(&mut h, &wh, std::io::empty()).map_err(werr)?;
            continue;
        }
        let ft = m.file_type();
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, &rel, std::io::empty())
                .map_err(werr)?;
            if is_opaque(&full) {
                let mut oh = tar::Header::new_gnu();
                oh.set_entry_type(tar::EntryType::Regular);
                oh.set_mode(0o600);
                oh.set_size(0);
                oh.set_mtime(mtime(&m));
                b.append_data(&mut oh, rel.join(".wh..wh..opq"), std::io::empty())
                    .map_err(werr)?;
            }
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    h.set_entry_type(tar::EntryType::Link);
                    b.append_link(&mut h, &rel, first).map_err(werr)?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), rel.clone());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(m.len());
            let f = File::open(&full).ctx(|| format!("open {}", full.display()))?;
            b.append_data(&mut h, &rel, f).map_err(werr)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&full).ctx(|| format!("readlink {}", full.display()))?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, &rel, &target).map_err(werr)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            let rdev = m.rdev();
            h.set_device_major(rustix::fs::major(rdev)).map_err(werr)?;
            h.set_device_minor(rustix::fs::minor(rdev)).map_err(werr)?;
            b.append_data(&mut h, &rel, std::io::empty())
                .map_err(werr)?;
        }
        // Sockets are not carried in layers.
    }
    b.into_inner().and_then(|mut w| w.flush()).map_err(werr)?;
    Ok(())
}
