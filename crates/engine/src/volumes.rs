//! Local volumes: `<data-root>/engine/volumes/<name>/_data`, records in the state store.
//! Named volumes come from `-v name:/dst` or `POST /volumes/create`; anonymous ones from the
//! image's `VOLUME`s. A new volume is filled from the image's content at its mount point on first
//! use (done by the monitor once the rootfs is mounted).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Engine;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub scope: String,
    /// Made for an image VOLUME (removed with the container by `rm -v` and `--rm`).
    #[serde(default)]
    pub anonymous: bool,
    /// Filled from an image already (or created non-empty): no more copy-up.
    #[serde(default)]
    pub initialized: bool,
}

/// A volume mount of a container: (volume name, destination, read-only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumeMount {
    pub name: String,
    pub destination: String,
    pub read_only: bool,
    /// `VolumeOptions.NoCopy`: never filled from the image.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_copy: bool,
    /// Taken from another container (`--volumes-from`): never removed with this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inherited: bool,
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

impl Volume {
    pub fn json(&self) -> Value {
        json!({
            "Name": self.name, "Driver": self.driver, "Mountpoint": self.mountpoint,
            "CreatedAt": self.created_at, "Labels": self.labels, "Options": self.options,
            "Scope": self.scope, "Status": null, "UsageData": null,
        })
    }
}

impl Engine {
    fn volume_dir(&self, name: &str) -> PathBuf {
        self.config().engine_dir().join("volumes").join(name)
    }

    /// Creates a volume (or returns the existing one of that name, as Docker does).
    pub fn create_volume(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<Volume> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                validate_name(n)?;
                n.to_string()
            }
            None => crate::container::ids::new_id(),
        };
        if let Some(v) = self.volume(&name)? {
            return Ok(v);
        }
        let data = self.volume_dir(&name).join("_data");
        std::fs::create_dir_all(&data)
            .map_err(|e| Error::io(format!("create {}", data.display()), e))?;
        let v = Volume {
            name: name.clone(),
            driver: "local".into(),
            mountpoint: data.to_string_lossy().into_owned(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options: BTreeMap::new(),
            scope: "local".into(),
            anonymous,
            initialized: false,
        };
        if !self.store.put_volume(&name, &serde_json::to_string(&v)?)? {
            return self
                .volume(&name)?
                .ok_or_else(|| Error::Internal(format!("volume {name} vanished")));
        }
        self.events.publish(
            "volume",
            "create",
            &name,
            [("driver".to_string(), "local".to_string())].into(),
        );
        Ok(v)
    }

    fn volume(&self, name: &str) -> Result<Option<Volume>> {
        Ok(match self.store.volume(name)? {
            Some(j) => Some(serde_json::from_str(&j)?),
            None => None,
        })
    }

    pub(crate) fn mark_volume_initialized(&self, name: &str) -> Result<()> {
        if let Some(mut v) = self.volume(name)? {
            v.initialized = true;
            self.store.delete_volume(name)?;
            self.store.put_volume(name, &serde_json::to_string(&v)?)?;
        }
        Ok(())
    }

    pub fn inspect_volume(&self, name: &str) -> Result<Volume> {
        self.volume(name)?
            .ok_or_else(|| Error::NotFound(format!("get {name}: no such volume")))
    }

    pub fn list_volumes(&self) -> Result<Vec<Volume>> {
        let mut out = vec![];
        for j in self.store.volumes()? {
            out.push(serde_json::from_str(&j)?);
        }
        Ok(out)
    }

    /// Containers (IDs) that mount `name`.
    fn volume_users(&self, name: &str) -> Vec<String> {
        self.containers
            .all()
            .iter()
            .filter(|c| c.rec().volumes.iter().any(|m| m.name == name))
            .map(|c| c.id.clone())
            .collect()
    }

    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let v = match self.volume(name)? {
            Some(v) => v,
            None if force => return Ok(()),
            None => return Err(Error::NotFound(format!("get {name}: no such volume"))),
        };
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        self.store.delete_volume(&v.name)?;
        let _ = std::fs::remove_dir_all(self.volume_dir(&v.name));
        self.events
            .publish("volume", "destroy", &v.name, Default::default());
        Ok(())
    }

    /// Removes unused volumes: anonymous ones only unless `all` (API ≥ 1.42 behaviour).
    pub fn prune_volumes(&self, all: bool) -> Result<Value> {
        let mut deleted = vec![];
        let mut reclaimed = 0u64;
        for v in self.list_volumes()? {
            if (!all && !v.anonymous) || !self.volume_users(&v.name).is_empty() {
                continue;
            }
            reclaimed += dir_size(&self.volume_dir(&v.name));
            if self.remove_volume(&v.name, false).is_ok() {
                deleted.push(v.name);
            }
        }
        Ok(json!({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}))
    }

    /// The volume mounts of a new container: `-v name:/dst` binds, `type=volume` Mounts (named,
    /// or anonymous without a Source) and the image's VOLUMEs not covered by a bind or a mount
    /// (anonymous volumes). The Mounts were checked by `container::create` already.
    pub(crate) fn container_volumes(
        &self,
        binds: &[String],
        mounts: &[crate::model::Mount],
        image_volumes: &[String],
    ) -> Result<Vec<VolumeMount>> {
        let mut out = vec![];
        let mut covered = vec![];
        for b in binds {
            let (src, dst, ro) = crate::container::spec::parse_bind(b)?;
            covered.push(clean_path(&dst));
            if src.starts_with('/') {
                continue;
            }
            let v = self.create_volume(Some(&src), BTreeMap::new(), false)?;
            out.push(VolumeMount {
                name: v.name,
                destination: dst,
                read_only: ro,
                no_copy: b
                    .rsplit(':')
                    .next()
                    .is_some_and(|o| o.split(',').any(|o| o == "nocopy")),
                inherited: false,
            });
        }
        for m in mounts {
            let dst = clean_path(&m.target);
            covered.push(dst.clone());
            if m.kind != "volume" {
                continue;
            }
            let opts = m.volume_options.clone().unwrap_or_default();
            let labels = opts.labels.unwrap_or_default();
            let v = if m.source.is_empty() {
                self.create_volume(None, labels, true)?
            } else {
                self.create_volume(Some(&m.source), labels, false)?
            };
            out.push(VolumeMount {
                name: v.name,
                destination: dst,
                read_only: m.read_only,
                no_copy: opts.no_copy,
                inherited: false,
            });
        }
        for dst in image_volumes {
            if covered.iter().any(|c| *c == clean_path(dst)) {
                continue;
            }
            let v = self.create_volume(None, BTreeMap::new(), true)?;
            out.push(VolumeMount {
                name: v.name,
                destination: dst.clone(),
                read_only: false,
                no_copy: false,
                inherited: false,
            });
        }
        Ok(out)
    }

    /// (source dir, destination, read-only, copy-up wanted) for each volume mount at start.
    pub(crate) fn resolve_volume_mounts(
        &self,
        mounts: &[VolumeMount],
    ) -> Result<Vec<(String, String, bool, bool)>> {
        let mut out = vec![];
        for m in mounts {
            let v = match self.volume(&m.name)? {
                Some(v) => v,
                None => self.create_volume(Some(&m.name), BTreeMap::new(), false)?,
            };
            let empty = std::fs::read_dir(&v.mountpoint)
                .map(|mut d| d.next().is_none())
                .unwrap_or(true);
            out.push((
                v.mountpoint,
                m.destination.clone(),
                m.read_only,
                !m.no_copy && !v.initialized && empty,
            ));
        }
        Ok(out)
    }
}

/// A container path as moby compares them (`path.Clean`): no `.`, no empty components, no
/// trailing slash; `..` climbs (never above `/`).
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = vec![];
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

pub fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|d| d.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_as_go_does() {
        assert_eq!(clean_path("/a/b/"), "/a/b");
        assert_eq!(clean_path("/a//./b/../c"), "/a/c");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("rel/x/"), "rel/x");
    }
}
