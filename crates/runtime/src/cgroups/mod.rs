//! cgroups: v1 (also this machine's hybrid layout: v1 controllers beside an empty cgroup2) and
//! v2, detected at run time. Control files are written directly: it is a handful of small writes
//! per container, which keeps `create` fast.

mod stats;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use stats::Stats;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Where a container's cgroup lives; persisted in the container's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "version", rename_all = "lowercase")]
pub(crate) enum Cgroup {
    /// controller name → absolute directory (cpu and cpuacct may share one).
    V1 {
        paths: BTreeMap<String, PathBuf>,
    },
    V2 {
        path: PathBuf,
    },
}

/// True when /sys/fs/cgroup itself is a cgroup2 mount (the unified layout).
pub(crate) fn is_unified() -> bool {
    rustix::fs::statfs(CGROUP_ROOT)
        .map(|s| s.f_type == libc::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// Makes `cgroups_path` (from config.json, or a default) absolute and safe: no `..` escapes.
pub(crate) fn normalize(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf> {
    let p = match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from(format!("/berth-runtime/{id}")),
    };
    let s = p.to_string_lossy();
    if s.contains(':') {
        return Err(Error::Spec(format!(
            "linux.cgroupsPath {s:?}: systemd slice syntax is not supported (--systemd-cgroup)"
        )));
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            _ => {
                return Err(Error::Spec(format!(
                    "linux.cgroupsPath {s:?}: must not contain '..'"
                )));
            }
        }
    }
    if out == Path::new("/") {
        return Err(Error::Spec(
            "linux.cgroupsPath must not be the root cgroup".into(),
        ));
    }
    Ok(out)
}

impl Cgroup {
    /// Where the container's cgroup goes (cheap: no directory is created). `make` creates it.
    pub(crate) fn locate(rel: &Path, resources: Option<&LinuxResources>) -> Result<Cgroup> {
        if is_unified() {
            let rel = rel.strip_prefix("/").unwrap_or(rel);
            return Ok(Cgroup::V2 {
                path: Path::new(CGROUP_ROOT).join(rel),
            });
        }
        let wants_hugetlb = resources
            .and_then(|r| r.hugepage_limits().as_ref())
            .is_some_and(|h| !h.is_empty());
        let wants_cpuset = resources
            .and_then(|r| r.cpu().as_ref())
            .is_some_and(|c| c.cpus().is_some() || c.mems().is_some());
        Ok(Cgroup::V1 {
            paths: v1::locate(rel, wants_cpuset, wants_hugetlb)?,
        })
    }

    /// Creates the cgroup directories and applies `resources`. Nothing is left behind on error.
    pub(crate) fn make(&self, resources: Option<&LinuxResources>) -> Result<()> {
        match self {
            Cgroup::V2 { path } => {
                let rel = path.strip_prefix(CGROUP_ROOT).unwrap_or(path);
                v2::create(Path::new(CGROUP_ROOT), rel)?;
            }
            Cgroup::V1 { paths } => v1::make(paths)?,
        }
        if let Some(r) = resources
            && let Err(e) = self.apply(r, true)
        {
            let _ = self.remove();
            return Err(e);
        }
        Ok(())
    }

    pub(crate) fn apply(&self, r: &LinuxResources, creating: bool) -> Result<()> {
        match self {
            Cgroup::V1 { paths } => v1::apply(paths, r, creating),
            Cgroup::V2 { path } => v2::apply(path, r),
        }
    }

    /// Moves the calling (single-threaded) process into the cgroup. On v1 it writes "0" to
    /// `tasks`: migrating only the current thread lets the kernel skip the global threadgroup
    /// lock and its RCU grace period, which otherwise costs milliseconds per container.
    pub(crate) fn join_self(&self) -> Result<()> {
        match self {
            Cgroup::V1 { .. } => {
                for dir in self.dirs() {
                    write(&dir.join("tasks"), "0")?;
                }
                Ok(())
            }
            Cgroup::V2 { path } => write(&path.join("cgroup.procs"), "0"),
        }
    }

    fn dirs(&self) -> Vec<&Path> {
        match self {
            Cgroup::V1 { paths } => {
                let mut v: Vec<&Path> = paths.values().map(PathBuf::as_path).collect();
                v.sort();
                v.dedup();
                v
            }
            Cgroup::V2 { path } => vec![path.as_path()],
        }
    }

    /// The directory listing the container's processes.
    fn procs_dir(&self) -> Option<&Path> {
        match self {
            Cgroup::V1 { paths } => paths
                .get("pids")
                .or_else(|| paths.get("freezer"))
                .or_else(|| paths.get("memory"))
                .map(PathBuf::as_path),
            Cgroup::V2 { path } => Some(path),
        }
    }

    pub(crate) fn pids(&self) -> Result<Vec<i32>> {
        let Some(dir) = self.procs_dir() else {
            return Ok(vec![]);
        };
        let s = match fs::read_to_string(dir.join("cgroup.procs")) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::Cgroup(format!("{}: {e}", dir.display()))),
        };
        Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    pub(crate) fn freeze(&self, frozen: bool) -> Result<()> {
        match self {
            Cgroup::V1 { paths } => v1::freeze(paths, frozen),
            Cgroup::V2 { path } => v2::freeze(path, frozen),
        }
    }

    pub(crate) fn is_frozen(&self) -> bool {
        match self {
            Cgroup::V1 { paths } => paths
                .get("freezer")
                .and_then(|p| fs::read_to_string(p.join("freezer.state")).ok())
                .is_some_and(|s| s.trim() == "FROZEN"),
            Cgroup::V2 { path } => {
                fs::read_to_string(path.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
            }
        }
    }

    pub(crate) fn stats(&self) -> Result<Stats> {
        match self {
            Cgroup::V1 { paths } => Ok(stats::v1(paths)),
            Cgroup::V2 { path } => Ok(stats::v2(path)),
        }
    }

    /// Removes the cgroup directories (the processes must be gone). Retries briefly: the kernel
    /// can report EBUSY for a moment after the last task exits.
    pub(crate) fn remove(&self) -> Result<()> {
        for dir in self.dirs() {
            let mut tries = 0;
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(e) => {
                        return Err(Error::Cgroup(format!("remove {}: {e}", dir.display())));
                    }
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value)
        .map_err(|e| Error::Cgroup(format!("write {value:?} to {}: {e}", path.display())))
}

/// mkdir -p that reports which levels it created (so a failed create can undo exactly them).
pub(crate) fn mkdir_all(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut created = vec![];
    let mut missing = vec![];
    let mut cur = dir;
    while !cur.exists() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(&d) {
            Ok(()) => created.push(d),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::Cgroup(format!("mkdir {}: {e}", d.display()))),
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The v2 code on a real cgroup2 file system: this machine's hybrid layout has an empty
    /// one at /sys/fs/cgroup/unified (no controllers, but the core files: procs, freeze, events).
    #[test]
    fn v2_join_freeze_and_remove_on_a_real_cgroup2() {
        let root = Path::new("/sys/fs/cgroup/unified");
        let is_v2 = rustix::fs::statfs(root).is_ok_and(|s| s.f_type == libc::CGROUP2_SUPER_MAGIC);
        if !is_v2 {
            eprintln!("no cgroup2 mount at {}: skipped", root.display());
            return;
        }
        let rel = PathBuf::from(format!("/berth-test/v2-{}", std::process::id()));
        let cg = Cgroup::V2 {
            path: v2::create(root, &rel).unwrap(),
        };
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let Cgroup::V2 { path } = &cg else {
            unreachable!()
        };
        write(&path.join("cgroup.procs"), &pid.to_string()).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid]);
        cg.freeze(true).unwrap();
        assert!(cg.is_frozen());
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(
            fs::read_to_string(path.join("cgroup.events"))
                .unwrap()
                .contains("frozen 1"),
            "{state}"
        );
        cg.freeze(false).unwrap();
        assert!(!cg.is_frozen());
        child.kill().unwrap();
        child.wait().unwrap();
        cg.remove().unwrap();
        assert!(!path.exists());
        let _ = fs::remove_dir(root.join("berth-test"));
    }

    #[test]
    fn cgroups_path_is_normalized_and_rejects_escapes() {
        assert_eq!(
            normalize(None, "c1").unwrap(),
            Path::new("/berth-runtime/c1")
        );
        assert_eq!(
            normalize(Some(Path::new("a/b")), "x").unwrap(),
            Path::new("/a/b")
        );
        assert!(normalize(Some(Path::new("/a/../../etc")), "x").is_err());
        assert!(normalize(Some(Path::new("system.slice:berth:x")), "x").is_err());
        assert!(normalize(Some(Path::new("/")), "x").is_err());
    }
}
