//! `SOURCE_DATE_EPOCH`: the final image re-stored with its timestamps set to the epoch and the
//! per-build container key dropped, so the same inputs give the same image ID. Layers are
//! already reproducible (their mtimes are clamped before each commit); this rewrites the config
//! through the store's own save/load (docker-archive), never its files.

use std::io::{Read, Seek, SeekFrom, Write};

use berth_image::ImageStore;
use sha2::{Digest as _, Sha256};

use crate::error::BuildError;

fn other(what: &str, e: impl std::fmt::Display) -> BuildError {
    BuildError::Other(format!("reproducible image: {what}: {e}"))
}

fn epoch_rfc3339(epoch: i64) -> Result<String, BuildError> {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .ok_or_else(|| other("SOURCE_DATE_EPOCH", format!("{epoch} is out of range")))
}

/// Rewrites the config of `id`; returns the new image ID.
pub fn restamp(
    store: &ImageStore,
    scratch: &std::path::Path,
    id: &str,
    epoch: i64,
) -> Result<String, BuildError> {
    let stamp = epoch_rfc3339(epoch)?;
    let mut saved = tempfile::tempfile_in(scratch).map_err(|e| other("temp file", e))?;
    store.save(&[id], &mut saved)?;
    saved
        .seek(SeekFrom::Start(0))
        .map_err(|e| other("rewind", e))?;
    // First pass: manifest.json and the config.
    let mut manifest: Option<serde_json::Value> = None;
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    {
        let mut a = tar::Archive::new(&mut saved);
        for e in a.entries().map_err(|e| other("read saved image", e))? {
            let mut e = e.map_err(|e| other("read saved image", e))?;
            let name = e
                .path()
                .map_err(|e| other("entry name", e))?
                .to_string_lossy()
                .into_owned();
            if name == "manifest.json" || name.ends_with(".json") || name.starts_with("blobs/") {
                let mut b = Vec::new();
                if e.header().entry_type().is_file() && e.size() < 64 << 20 {
                    e.read_to_end(&mut b).map_err(|e| other("read entry", e))?;
                    if name == "manifest.json" {
                        manifest = serde_json::from_slice(&b).ok();
                    } else {
                        files.insert(name, b);
                    }
                }
            }
        }
    }
    let manifest = manifest.ok_or_else(|| other("saved image", "no manifest.json"))?;
    let entry = &manifest[0];
    let config_path = entry["Config"]
        .as_str()
        .ok_or_else(|| other("manifest.json", "no Config"))?;
    let layers: Vec<String> = entry["Layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let config_bytes = files
        .get(config_path)
        .ok_or_else(|| other("saved image", "config missing"))?;
    let mut config: serde_json::Value =
        serde_json::from_slice(config_bytes).map_err(|e| other("config", e))?;
    let later = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .is_none_or(|t| t.timestamp() > epoch)
    };
    if let Some(obj) = config.as_object_mut() {
        obj.insert("created".into(), serde_json::json!(stamp));
        obj.remove("container");
        if let Some(h) = obj.get_mut("history").and_then(|h| h.as_array_mut()) {
            for item in h {
                if later(&item["created"]) {
                    item["created"] = serde_json::json!(stamp);
                }
            }
        }
    }
    let new_config = serde_json::to_vec(&config).map_err(|e| other("config", e))?;
    let hex = hex::encode(Sha256::digest(&new_config));
    // Second pass: a docker-archive with the new config and the same layer files.
    let mut out = tempfile::tempfile_in(scratch).map_err(|e| other("temp file", e))?;
    {
        let mut b = tar::Builder::new(&mut out);
        let mut add = |name: &str, data: &[u8]| -> Result<(), BuildError> {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(epoch.max(0) as u64);
            b.append_data(&mut h, name, data)
                .map_err(|e| other("write archive", e))
        };
        let m = serde_json::json!([{ "Config": format!("{hex}.json"), "RepoTags": null, "Layers": layers }]);
        add("manifest.json", m.to_string().as_bytes())?;
        add(&format!("{hex}.json"), &new_config)?;
        saved
            .seek(SeekFrom::Start(0))
            .map_err(|e| other("rewind", e))?;
        let mut a = tar::Archive::new(&mut saved);
        for e in a.entries().map_err(|e| other("read saved image", e))? {
            let mut e = e.map_err(|e| other("read saved image", e))?;
            let name = e
                .path()
                .map_err(|e| other("entry name", e))?
                .to_string_lossy()
                .into_owned();
            if layers.contains(&name) {
                let mut h = e.header().clone();
                b.append_data(&mut h, &name, &mut e)
                    .map_err(|e| other("write archive", e))?;
            }
        }
        b.finish().map_err(|e| other("write archive", e))?;
    }
    out.flush().map_err(|e| other("write archive", e))?;
    out.seek(SeekFrom::Start(0))
        .map_err(|e| other("rewind", e))?;
    store.load(out)?;
    Ok(format!("sha256:{hex}"))
}
