//! `docker load` and `docker save`: docker-archive tarballs (`manifest.json`) and OCI image
//! layouts (`index.json`). `save` writes both at once, so one tarball serves `docker load`,
//! skopeo's `docker-archive:` and `oci-archive:`.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use serde::{Deserialize, Serialize};

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, IoContext};
use crate::layer::LayerExpect;
use crate::meta::LayerBlob;
use crate::reference::Reference;
use crate::snapshot::chain_ids;
use crate::store::ImageStore;
use crate::types::{Descriptor, ImageConfig, Index, Manifest, media};
use crate::unpack::unpack_layer;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

const NAME_ANNOTATION: &str = "io.containerd.image.name";
const REF_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Opens `rel` inside the unpacked archive, following its own symlinks but never out of it.
fn open_in(root: &OwnedFd, rel: &str) -> Result<File, Error> {
    let fd = rustix::fs::openat2(
        root,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| {
        Error::format(
            "image archive",
            format!("{rel}: {}", std::io::Error::from(e)),
        )
    })?;
    Ok(File::from(fd))
}

fn read_in(root: &OwnedFd, rel: &str) -> Result<Vec<u8>, Error> {
    let mut v = Vec::new();
    let f = open_in(root, rel)?;
    f.take(64 * 1024 * 1024)
        .read_to_end(&mut v)
        .ctx(|| format!("read {rel}"))?;
    Ok(v)
}

fn exists_in(root: &OwnedFd, rel: &str) -> bool {
    open_in(root, rel).is_ok()
}

pub(crate) fn docker_manifest(config_bytes: &[u8], layers: &[LayerBlob]) -> Result<Vec<u8>, Error> {
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media::DOCKER_MANIFEST.into()),
        config: Descriptor::new(
            media::DOCKER_CONFIG,
            Digest::of(config_bytes),
            config_bytes.len() as u64,
        ),
        layers: layers
            .iter()
            .map(|l| Descriptor::new(&l.media_type, l.digest.clone(), l.size))
            .collect(),
        annotations: None,
    };
    Ok(serde_json::to_vec_pretty(&m)?)
}

fn platform_default() -> (&'static str, &'static str) {
    ("linux", crate::registry::host_arch())
}

impl ImageStore {
    /// `docker load`: reads a docker-archive or OCI layout tarball (uncompressed, gzip or
    /// zstd) and returns Docker's lines: `Loaded image: name:tag` / `Loaded image ID: sha256:..`.
    pub fn load(&self, tar: impl Read) -> Result<Vec<String>, Error> {
        let _busy = self.busy();
        let tmp = self.snaps.temp()?;
        let (reader, _) = crate::unpack::decompress(tar)?;
        unpack_layer(reader, &tmp.fs())?;
        let root: OwnedFd = rustix::fs::open(
            tmp.fs(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| "open archive".into())?;
        if exists_in(&root, "manifest.json") {
            self.load_docker_archive(&root)
        } else if exists_in(&root, "index.json") {
            self.load_oci_layout(&root)
        } else {
            Err(Error::format(
                "image archive",
                "neither manifest.json (docker-archive) nor index.json (OCI layout) found",
            ))
        }
    }

    fn load_docker_archive(&self, root: &OwnedFd) -> Result<Vec<String>, Error> {
        let entries: Vec<ArchiveEntry> =
            serde_json::from_slice(&read_in(root, "manifest.json")?)
                .map_err(|e| Error::format("manifest.json", e.to_string()))?;
        let mut out = Vec::new();
        for e in entries {
            let config_bytes = read_in(root, &e.config)?;
            let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|err| {
                Error::format(format!("image config {}", e.config), err.to_string())
            })?;
            if config.rootfs.diff_ids.len() != e.layers.len() {
                return Err(Error::format(
                    "manifest.json",
                    format!(
                        "{} lists {} layers but its config has {} diff IDs",
                        e.config,
                        e.layers.len(),
                        config.rootfs.diff_ids.len()
                    ),
                ));
            }
            let chains = chain_ids(&config.rootfs.diff_ids);
            let mut layers = Vec::new();
            for (i, path) in e.layers.iter().enumerate() {
                let parent = if i == 0 { None } else { Some(&chains[i - 1]) };
                let diff = &config.rootfs.diff_ids[i];
                if let Some(b) = self.meta.blob_for_diff(diff)?
                    && self.content.exists(&b.digest)
                    && self.meta.snapshot(&chains[i])?.is_some()
                {
                    layers.push(b);
                    continue;
                }
                let f = open_in(root, path)?;
                let got = self.ingest_layer(
                    f,
                    &LayerExpect {
                        media_type: "",
                        blob: None,
                        diff_id: Some(diff),
                        parent_chain: parent,
                        source_repo: "",
                    },
                )?;
                layers.push(got.blob);
            }
            let manifest = docker_manifest(&config_bytes, &layers)?;
            let mut names = Vec::new();
            for t in e.repo_tags.iter().flatten() {
                let r = Reference::parse_normalized(t)?;
                names.push(
                    r.tagged()
                        .ok_or_else(|| Error::InvalidReference(t.clone()))?,
                );
            }
            let new_id = Digest::of(&config_bytes).to_string();
            for (n, t) in names.iter().zip(e.repo_tags.iter().flatten()) {
                if let Some(old) = self.meta.ref_target(n)?
                    && old != new_id
                {
                    out.push(format!(
                        "The image {t} already exists, renaming the old one with ID {old} to empty string"
                    ));
                }
            }
            let id = self.add_image(&config_bytes, &manifest, &layers, &names)?;
            if names.is_empty() {
                out.push(format!("Loaded image ID: {id}"));
            }
            for t in e.repo_tags.iter().flatten() {
                out.push(format!("Loaded image: {}", Reference::parse_normalized(t)?));
            }
        }
        Ok(out)
    }

    fn load_oci_layout(&self, root: &OwnedFd) -> Result<Vec<String>, Error> {
        let index: Index = serde_json::from_slice(&read_in(root, "index.json")?)
            .map_err(|e| Error::format("index.json", e.to_string()))?;
        let mut out = Vec::new();
        for desc in &index.manifests {
            let name = desc
                .annotations
                .as_ref()
                .and_then(|a| a.get(NAME_ANNOTATION).or_else(|| a.get(REF_ANNOTATION)))
                .filter(|n| n.contains('/') || n.contains(':'))
                .and_then(|n| Reference::parse_normalized(n).ok())
                .and_then(|r| r.tagged());
            let manifest_desc = self.pick_from_layout(root, desc)?;
            let manifest_bytes = read_blob_in(root, &manifest_desc.digest)?;
            let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
                .map_err(|e| Error::format("image manifest", e.to_string()))?;
            let config_bytes = read_blob_in(root, &manifest.config.digest)?;
            let config: ImageConfig = serde_json::from_slice(&config_bytes)
                .map_err(|e| Error::format("image config", e.to_string()))?;
            if config.rootfs.diff_ids.len() != manifest.layers.len() {
                return Err(Error::format(
                    "image manifest",
                    "layer count differs from the config's diff IDs",
                ));
            }
            let chains = chain_ids(&config.rootfs.diff_ids);
            let mut layers = Vec::new();
            for (i, l) in manifest.layers.iter().enumerate() {
                if self.layer_present(&l.digest, &chains[i])?
                    && let Some(b) = self.meta.layer_blob(&l.digest)?
                {
                    layers.push(b);
                    continue;
                }
                let f = open_in(root, &format!("blobs/sha256/{}", l.digest.hex()))?;
                let got = self.ingest_layer(
                    f,
                    &LayerExpect {
                        media_type: &l.media_type,
                        blob: Some(&l.digest),
                        diff_id: Some(&config.rootfs.diff_ids[i]),
                        parent_chain: if i == 0 { None } else { Some(&chains[i - 1]) },
                        source_repo: "",
                    },
                )?;
                layers.push(got.blob);
            }
            let names: Vec<String> = name.into_iter().collect();
            let id = self.add_image(&config_bytes, &manifest_bytes, &layers, &names)?;
            match names.first() {
                Some(n) => out.push(format!(
                    "Loaded image: {}",
                    crate::reference::familiar_name(n)
                )),
                None => out.push(format!("Loaded image ID: {id}")),
            }
        }
        Ok(out)
    }

    /// An index entry may itself be an index: pick the host platform's manifest.
    fn pick_from_layout(&self, root: &OwnedFd, desc: &Descriptor) -> Result<Descriptor, Error> {
        let mut d = desc.clone();
        for _ in 0..4 {
            if d.media_type != media::OCI_INDEX && d.media_type != media::DOCKER_MANIFEST_LIST {
                return Ok(d);
            }
            let idx: Index = serde_json::from_slice(&read_blob_in(root, &d.digest)?)?;
            let (os, arch) = platform_default();
            d = idx
                .manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_none_or(|p| p.os == os && p.architecture == arch)
                })
                .cloned()
                .ok_or_else(|| Error::NoMatchingPlatform(format!("{os}/{arch}")))?;
        }
        Err(Error::format("OCI layout", "indexes nested too deep"))
    }

    /// `docker save`: writes one tarball that is both a docker-archive and an OCI layout.
    pub fn save(&self, names: &[&str], out: impl Write) -> Result<(), Error> {
        let mut b = tar::Builder::new(out);
        let mut written: HashSet<Digest> = HashSet::new();
        let mut archive = Vec::new();
        let mut index = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for name in names {
            let img = self.resolve(name)?;
            let manifest_bytes = self.content.read(&img.manifest_digest)?;
            let manifest: Manifest = serde_json::from_slice(&manifest_bytes)?;
            let id = Digest::parse(&img.id)?;
            for d in [&id, &img.manifest_digest]
                .into_iter()
                .chain(manifest.layers.iter().map(|l| &l.digest))
            {
                if written.insert(d.clone()) {
                    self.append_blob(&mut b, d)?;
                }
            }
            let tagged = Reference::parse_normalized(name)
                .ok()
                .filter(|r| r.digest.is_none() && !crate::reference::looks_like_id(name))
                .filter(|r| img.repo_tags.contains(&r.to_string()));
            let repo_tags: Vec<String> = tagged.iter().map(|r| r.to_string()).collect();
            let mut annotations = BTreeMap::new();
            if let Some(r) = &tagged {
                annotations.insert(NAME_ANNOTATION.to_owned(), r.tagged().unwrap_or_default());
                annotations.insert(REF_ANNOTATION.to_owned(), r.tag.clone().unwrap_or_default());
                repositories
                    .entry(r.familiar_repository())
                    .or_default()
                    .insert(r.tag.clone().unwrap_or_default(), id.hex().to_owned());
            }
            let mut desc = Descriptor::new(
                manifest
                    .media_type
                    .as_deref()
                    .unwrap_or(media::OCI_MANIFEST),
                img.manifest_digest.clone(),
                manifest_bytes.len() as u64,
            );
            if !annotations.is_empty() {
                desc.annotations = Some(annotations);
            }
            index.push(desc);
            archive.push(ArchiveEntry {
                config: format!("blobs/sha256/{}", id.hex()),
                repo_tags: Some(repo_tags),
                layers: manifest
                    .layers
                    .iter()
                    .map(|l| format!("blobs/sha256/{}", l.digest.hex()))
                    .collect(),
            });
        }
        let idx = Index {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            manifests: index,
            annotations: None,
        };
        append_bytes(&mut b, "index.json", &serde_json::to_vec(&idx)?)?;
        append_bytes(&mut b, "manifest.json", &serde_json::to_vec(&archive)?)?;
        append_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        append_bytes(&mut b, "repositories", &serde_json::to_vec(&repositories)?)?;
        b.into_inner()
            .and_then(|mut w| w.flush())
            .ctx(|| "write image archive".into())?;
        Ok(())
    }

    fn append_blob<W: Write>(&self, b: &mut tar::Builder<W>, d: &Digest) -> Result<(), Error> {
        let f = self.content.open_blob(d)?;
        let size = f.metadata().ctx(|| format!("stat blob {d}"))?.len();
        let mut h = tar_header(size);
        b.append_data(&mut h, format!("blobs/sha256/{}", d.hex()), f)
            .ctx(|| "write image archive".into())
    }
}

fn read_blob_in(root: &OwnedFd, d: &Digest) -> Result<Vec<u8>, Error> {
    let bytes = read_in(root, &format!("blobs/sha256/{}", d.hex()))?;
    let (got, _) = HashingReader::new(&bytes[..])
        .finish()
        .ctx(|| "hash".into())?;
    if got != *d {
        return Err(Error::DigestMismatch {
            what: "blob in OCI layout".into(),
            expected: d.to_string(),
            actual: got.to_string(),
        });
    }
    Ok(bytes)
}

fn tar_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

fn append_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<(), Error> {
    let mut h = tar_header(data.len() as u64);
    b.append_data(&mut h, name, data)
        .ctx(|| "write image archive".into())
}
