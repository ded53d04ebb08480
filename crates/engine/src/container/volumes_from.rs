//! `HostConfig.VolumesFrom` (`--volumes-from CONTAINER[:ro|:rw]`), as moby's
//! `registerMountPoints`: at create, the new container takes every volume and bind mount of each
//! named container (not its tmpfs) at the same destination, read-only when the source's is or
//! when the mode says `ro`, never filled from the image. A later `--volumes-from` wins over an
//! earlier one at the same destination; the container's own binds, mounts and tmpfs win over
//! both. What was taken is kept in the record: a volume in `volumes` (so `volume rm` finds it in
//! use), a bind in `binds_from`.

use serde::{Deserialize, Serialize};

use super::record::ContainerRecord;
use crate::Engine;
use crate::error::{Error, Result};
use crate::model::HostConfig;
use crate::volumes::{VolumeMount, clean_path};

/// A bind mount taken from another container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InheritedBind {
    pub source: String,
    pub destination: String,
    pub read_only: bool,
    pub propagation: String,
}

/// What a container takes from the containers it names.
#[derive(Debug, Default, PartialEq)]
pub struct Inherited {
    pub volumes: Vec<VolumeMount>,
    pub binds: Vec<InheritedBind>,
}

/// moby's `ParseVolumesFrom`: `CONTAINER[:MODE]`, the mode a comma list of `ro`, `rw`, `z`,
/// `Z` (no propagation nor copy mode); returns the container and whether it is read-only.
pub fn parse(spec: &str) -> Result<(&str, bool)> {
    if spec.is_empty() {
        return Err(Error::InvalidParameter(
            "volumes-from specification cannot be an empty string".into(),
        ));
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if id.is_empty() {
        return Err(Error::InvalidParameter(format!(
            "invalid volumes-from specification: {spec:?}"
        )));
    }
    let mut ro = false;
    let mut rw = false;
    for m in mode.split(',').filter(|_| !mode.is_empty()) {
        match m {
            "ro" if !rw && !ro => ro = true,
            "rw" if !rw && !ro => rw = true,
            "z" | "Z" => {}
            _ => return Err(Error::InvalidParameter(format!("invalid mode: {mode}"))),
        }
    }
    Ok((id, ro))
}

/// Checks the specifications (the containers are looked up by [`Engine::volumes_from`]).
pub fn validate(hc: &HostConfig) -> Result<()> {
    for spec in hc.volumes_from.iter().flatten() {
        parse(spec)?;
    }
    Ok(())
}

/// The destinations the container mounts something at itself (these win).
pub fn own_destinations(hc: &HostConfig) -> Vec<String> {
    let mut out = vec![];
    for b in hc.binds.iter().flatten() {
        if let Ok((_, dst, _)) = super::spec::parse_bind(b) {
            out.push(clean_path(&dst));
        }
    }
    out.extend(hc.mounts.iter().flatten().map(|m| clean_path(&m.target)));
    out.extend(hc.tmpfs.iter().flatten().map(|(d, _)| clean_path(d)));
    out
}

/// The bind mounts of `rec` as another container takes them: `-v /src:/dst`, `--mount
/// type=bind` and those it took itself.
fn binds_of(rec: &ContainerRecord) -> Vec<InheritedBind> {
    let hc = &rec.host_config;
    let mut out = vec![];
    for b in hc.binds.iter().flatten() {
        if let Ok((src, dst, ro)) = super::spec::parse_bind(b)
            && src.starts_with('/')
        {
            out.push(InheritedBind {
                source: src,
                destination: clean_path(&dst),
                read_only: ro,
                propagation: "rprivate".into(),
            });
        }
    }
    for m in hc.mounts.iter().flatten().filter(|m| m.kind == "bind") {
        let prop = m
            .bind_options
            .as_ref()
            .map(|o| o.propagation.clone())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "rprivate".into());
        out.push(InheritedBind {
            source: clean_path(&m.source),
            destination: clean_path(&m.target),
            read_only: m.read_only,
            propagation: prop,
        });
    }
    out.extend(rec.binds_from.iter().cloned());
    out
}

impl Inherited {
    fn take_volume(&mut self, v: VolumeMount) {
        self.binds.retain(|b| b.destination != v.destination);
        self.volumes.retain(|x| x.destination != v.destination);
        self.volumes.push(v);
    }

    fn take_bind(&mut self, b: InheritedBind) {
        self.volumes.retain(|v| v.destination != b.destination);
        self.binds.retain(|x| x.destination != b.destination);
        self.binds.push(b);
    }

    /// Drops what the container mounts itself at the same destination.
    pub fn without(mut self, own: &[String]) -> Self {
        self.volumes
            .retain(|v| !own.contains(&clean_path(&v.destination)));
        self.binds.retain(|b| !own.contains(&b.destination));
        self
    }

    pub fn destinations(&self) -> Vec<String> {
        self.volumes
            .iter()
            .map(|v| clean_path(&v.destination))
            .chain(self.binds.iter().map(|b| b.destination.clone()))
            .collect()
    }
}

/// As moby (`errdefs.InvalidParameter` around the lookup's error): a 400 naming the container.
/// A 404 would send the docker CLI pulling the image, as if the image were missing.
pub(crate) fn unknown(e: Error) -> Error {
    match e {
        Error::NotFound(m) => Error::InvalidParameter(m),
        e => e,
    }
}

impl Engine {
    /// Resolves `HostConfig.VolumesFrom` at create: 400 "No such container" for an unknown one.
    pub(crate) fn volumes_from(&self, hc: &HostConfig) -> Result<Inherited> {
        let mut out = Inherited::default();
        for spec in hc.volumes_from.iter().flatten() {
            let (name, ro) = parse(spec)?;
            let rec = self.containers.get(name).map_err(unknown)?.snapshot();
            for v in &rec.volumes {
                out.take_volume(VolumeMount {
                    name: v.name.clone(),
                    destination: v.destination.clone(),
                    read_only: v.read_only || ro,
                    no_copy: true,
                    inherited: true,
                });
            }
            for mut b in binds_of(&rec) {
                b.read_only |= ro;
                out.take_bind(b);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifications_parse_as_mobys() {
        assert_eq!(parse("data").unwrap(), ("data", false));
        assert_eq!(parse("data:ro").unwrap(), ("data", true));
        assert_eq!(parse("data:rw,z").unwrap(), ("data", false));
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(
            e(""),
            "volumes-from specification cannot be an empty string"
        );
        assert_eq!(e("data:rshared"), "invalid mode: rshared");
        assert_eq!(e("data:nocopy"), "invalid mode: nocopy");
        assert_eq!(e("data:ro,rw"), "invalid mode: ro,rw");
        assert_eq!(parse("data:").unwrap(), ("data", false));
        assert!(e(":ro").contains("invalid volumes-from specification"));
    }

    #[test]
    fn later_sources_and_own_mounts_win() {
        let vol = |name: &str, dst: &str| VolumeMount {
            name: name.into(),
            destination: dst.into(),
            read_only: false,
            no_copy: true,
            inherited: true,
        };
        let bind = |src: &str, dst: &str| InheritedBind {
            source: src.into(),
            destination: dst.into(),
            read_only: false,
            propagation: "rprivate".into(),
        };
        let mut i = Inherited::default();
        i.take_volume(vol("a", "/x"));
        i.take_bind(bind("/h", "/x"));
        i.take_volume(vol("b", "/y"));
        i.take_bind(bind("/h2", "/z"));
        assert_eq!(i.binds, vec![bind("/h", "/x"), bind("/h2", "/z")]);
        let i = i.without(&["/z".to_string()]);
        assert_eq!(i.volumes, vec![vol("b", "/y")]);
        assert_eq!(i.binds, vec![bind("/h", "/x")]);
        assert_eq!(i.destinations(), vec!["/y", "/x"]);
    }
}
