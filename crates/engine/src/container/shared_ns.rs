//! Namespaces shared with another container: `PidMode`, `IpcMode` and `UTSMode`
//! `container:NAME_OR_ID` join the namespaces of that container's init process (the OCI
//! namespace entry with `path: /proc/PID/ns/TYPE`), which must run when this one starts.
//!
//! IPC as moby: only a `shareable` container can be joined. Its /dev/shm is a tmpfs the engine
//! mounts on the host side (`RUN_DIR/shm`) and binds into the container, so that a container
//! joining its IPC namespace gets the same /dev/shm (POSIX shared memory lives there, not in
//! the namespace); it is unmounted when the container exits or is removed. A `private`
//! container (the default) keeps its /dev/shm inside its own mount namespace, `none` has
//! its own IPC namespace and no /dev/shm at all, `host` the host's namespace and /dev/shm.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::record::ContainerRecord;
use crate::Engine;
use crate::error::{Error, Result};
use crate::model::HostConfig;

/// One of `PidMode`, `IpcMode`, `UTSMode`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum NsMode {
    /// A namespace of its own (`""`, `private`, `shareable`, `none`).
    #[default]
    Private,
    Host,
    /// Another container's (its name or ID as given).
    Container(String),
}

impl NsMode {
    /// Reads `key` as `value`; `extra` lists the private modes the key also accepts.
    pub fn parse(key: &str, value: &str, extra: &[&str]) -> Result<NsMode> {
        match value {
            "host" => Ok(NsMode::Host),
            v if v.is_empty() || extra.contains(&v) => Ok(NsMode::Private),
            v => match v.strip_prefix("container:") {
                Some(c) if !c.is_empty() && !c.contains(char::is_whitespace) => {
                    Ok(NsMode::Container(c.to_string()))
                }
                _ => Err(Error::InvalidParameter(format!("invalid {key}: {v:?}"))),
            },
        }
    }

    pub fn container(&self) -> Option<&str> {
        match self {
            NsMode::Container(c) => Some(c),
            _ => None,
        }
    }
}

fn mode_of<'a>(hc: &'a HostConfig, key: &str) -> &'a str {
    hc.extra.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

/// The containers whose namespaces `hc` joins: (key, name or ID), for the create's check.
pub fn joined(hc: &HostConfig) -> Vec<(&'static str, &str)> {
    ["PidMode", "IpcMode", "UTSMode"]
        .into_iter()
        .filter_map(|k| mode_of(hc, k).strip_prefix("container:").map(|c| (k, c)))
        .filter(|(_, c)| !c.is_empty())
        .collect()
}

/// Whether a start of `hc` depends on another container or mounts on the host (not launched
/// ahead of its start).
pub fn has_effects(hc: &HostConfig) -> bool {
    !joined(hc).is_empty() || mode_of(hc, "IpcMode") == "shareable"
}

/// What the spec of a starting container gets from [`Engine::namespace_joins`].
#[derive(Debug, Default, PartialEq)]
pub struct Joins {
    pub pid: Option<PathBuf>,
    pub ipc: Option<PathBuf>,
    pub uts: Option<PathBuf>,
    /// The host directory bound at /dev/shm (its own when shareable, the donor's when joined).
    pub shm: Option<PathBuf>,
    /// `IpcMode: none`: no /dev/shm.
    pub no_shm: bool,
    /// The legacy link variables (`links.rs`), under the container's own.
    pub env: Vec<String>,
}

/// Applies the joins to a spec made with the container's own namespaces.
pub fn apply(j: &Joins, spec: &mut Value) {
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        for n in ns.iter_mut() {
            let path = match n["type"].as_str() {
                Some("pid") => &j.pid,
                Some("ipc") => &j.ipc,
                Some("uts") => &j.uts,
                _ => &None,
            };
            if let Some(p) = path {
                n["path"] = json!(p);
            }
        }
    }
    if j.uts.is_some()
        && let Some(s) = spec.as_object_mut()
    {
        // the joined namespace keeps its hostname
        s.remove("hostname");
    }
    if let Some(env) = spec["process"]["env"].as_array_mut() {
        let key = |e: &str| e.split('=').next().unwrap_or_default().to_string();
        for e in &j.env {
            if !env.iter().any(|x| x.as_str().map(key) == Some(key(e))) {
                env.push(json!(e));
            }
        }
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        if j.no_shm {
            mounts.retain(|m| m["destination"] != "/dev/shm");
        } else if let Some(dir) = &j.shm {
            for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
                *m = json!({"destination": "/dev/shm", "type": "bind", "source": dir,
                    "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"]});
            }
        }
    }
}

/// The host-side /dev/shm of a shareable container.
fn shm_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("shm")
}

/// Mounts a shareable container's /dev/shm tmpfs (moby's `setupIPCDirs`).
fn mount_shm(dir: &Path, size: i64) -> Result<()> {
    use nix::mount::{MsFlags, mount};
    release_shm_dir(dir);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let data = format!("mode=1777,size={size}");
    mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(data.as_str()),
    )
    .map_err(|e| Error::Internal(format!("mounting shm tmpfs at {}: {e}", dir.display())))
}

/// Unmounts a shareable container's /dev/shm (detached: a container that joined it keeps its
/// own bind of it).
fn release_shm_dir(dir: &Path) {
    while nix::mount::umount2(dir, nix::mount::MntFlags::MNT_DETACH).is_ok() {}
}

impl Engine {
    /// The running container whose namespace `key` joins (Docker's messages otherwise).
    fn donor(&self, key: &str, name: &str) -> Result<ContainerRecord> {
        let rec = self
            .containers
            .get(name)
            .map_err(super::volumes_from::unknown)?
            .snapshot();
        if !rec.state.running || rec.state.pid <= 0 {
            return Err(Error::Conflict(match key {
                "PidMode" => format!("cannot join PID of a non running container: {name}"),
                "IpcMode" => format!(
                    "can't join IPC of container {name}: container {} is not running",
                    rec.id
                ),
                _ => format!("cannot join UTS of a non running container: {name}"),
            }));
        }
        Ok(rec)
    }

    /// At start: the namespaces `rec` joins (their owners must run), its /dev/shm and its link
    /// variables; mounts the host-side /dev/shm of a shareable container.
    pub(crate) fn namespace_joins(&self, rec: &ContainerRecord, run_dir: &Path) -> Result<Joins> {
        let hc = &rec.host_config;
        let mut j = Joins {
            env: self.link_env(rec)?,
            ..Default::default()
        };
        let ns = |pid: i64, t: &str| PathBuf::from(format!("/proc/{pid}/ns/{t}"));
        for (key, name) in joined(hc) {
            let donor = self.donor(key, name)?;
            match key {
                "PidMode" => j.pid = Some(ns(donor.state.pid, "pid")),
                "UTSMode" => j.uts = Some(ns(donor.state.pid, "uts")),
                _ => {
                    if mode_of(&donor.host_config, "IpcMode") != "shareable" {
                        return Err(Error::InvalidParameter(format!(
                            "container {name}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                        )));
                    }
                    j.ipc = Some(ns(donor.state.pid, "ipc"));
                    j.shm = Some(shm_dir(&self.config().container_run_dir(&donor.id)));
                }
            }
        }
        match mode_of(hc, "IpcMode") {
            "none" => j.no_shm = true,
            // moby: the host's /dev/shm with its IPC namespace
            "host" => {
                if !Path::new("/dev/shm").is_dir() {
                    return Err(Error::Internal(
                        "/dev/shm is not mounted, but must be for --ipc=host".into(),
                    ));
                }
                j.shm = Some(PathBuf::from("/dev/shm"));
            }
            "shareable" => {
                let size = hc
                    .extra
                    .get("ShmSize")
                    .and_then(|v| v.as_i64())
                    .filter(|s| *s > 0)
                    .unwrap_or(super::hostopts::DEFAULT_SHM);
                let dir = shm_dir(run_dir);
                mount_shm(&dir, size)?;
                j.shm = Some(dir);
            }
            _ => {}
        }
        Ok(j)
    }

    /// Unmounts the host-side /dev/shm of a shareable container (at exit, a failed start and
    /// remove).
    pub(crate) fn release_shm(&self, id: &str) {
        release_shm_dir(&shm_dir(&self.config().container_run_dir(id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_bad_ones_are_named() {
        assert_eq!(
            NsMode::parse("PidMode", "container:abc", &[]).unwrap(),
            NsMode::Container("abc".into())
        );
        assert_eq!(
            NsMode::parse("IpcMode", "none", &["none"]).unwrap(),
            NsMode::Private
        );
        assert_eq!(NsMode::parse("UTSMode", "host", &[]).unwrap(), NsMode::Host);
        for bad in ["container:", "container:a b", "bogus"] {
            let e = NsMode::parse("PidMode", bad, &[]).unwrap_err().to_string();
            assert!(e.contains("invalid PidMode"), "{e}");
        }
    }

    #[test]
    fn joins_set_paths_drop_the_hostname_and_share_shm() {
        let mut spec = json!({"hostname": "h", "process": {"env": ["A=1"]},
            "mounts": [{"destination": "/dev/shm", "type": "tmpfs"}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}]}});
        let j = Joins {
            pid: Some("/proc/7/ns/pid".into()),
            uts: Some("/proc/7/ns/uts".into()),
            shm: Some("/run/x/shm".into()),
            env: vec!["A=2".into(), "DB_NAME=/x/db".into()],
            ..Default::default()
        };
        apply(&j, &mut spec);
        assert_eq!(
            spec["linux"]["namespaces"],
            json!([{"type": "pid", "path": "/proc/7/ns/pid"}, {"type": "ipc"},
                {"type": "uts", "path": "/proc/7/ns/uts"}])
        );
        assert!(spec.get("hostname").is_none());
        assert_eq!(spec["process"]["env"], json!(["A=1", "DB_NAME=/x/db"]));
        assert_eq!(spec["mounts"][0]["source"], "/run/x/shm");
        assert_eq!(spec["mounts"][0]["type"], "bind");
        let j = Joins {
            no_shm: true,
            ..Default::default()
        };
        apply(&j, &mut spec);
        assert_eq!(spec["mounts"], json!([]));
    }
}
