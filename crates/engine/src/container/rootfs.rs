//! A container's root filesystem as the daemon reaches it for `cp`, `export` and stat: the
//! monitor's mount (`<run-dir>/bundle/rootfs`) while the container runs, or a temporary
//! overlay mount of its snapshot while it is stopped (the caller holds the container's `op`
//! lock, so it cannot start meanwhile). Paths are resolved with `openat2(RESOLVE_IN_ROOT)`:
//! `..` and symlinks, absolute or not, never lead out of the rootfs (CVE-2018-15664).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::{Error, Result};
use crate::monitor::protocol::RootfsMount;

/// An open rootfs; unmounts its temporary mount (if any) when dropped.
pub struct Rootfs {
    dir: OwnedFd,
    temp: Option<(tempfile::TempDir, PathBuf)>,
}

impl Rootfs {
    /// Opens the rootfs of a container: `mounted` is the monitor's mount point when the
    /// container runs; otherwise `mounts` are mounted under `scratch` for the life of the value.
    pub fn open(mounted: Option<&Path>, mounts: &[RootfsMount], scratch: &Path) -> Result<Rootfs> {
        if let Some(p) = mounted {
            let dir = open_dir(p)?;
            return Ok(Rootfs { dir, temp: None });
        }
        if mounts.is_empty() {
            return Err(Error::Internal(
                "the container has no root filesystem".into(),
            ));
        }
        std::fs::create_dir_all(scratch)
            .map_err(|e| Error::io(format!("create {}", scratch.display()), e))?;
        let tmp = tempfile::Builder::new()
            .prefix("rootfs-")
            .tempdir_in(scratch)
            .map_err(|e| Error::io("create a temporary mount point", e))?;
        let target = tmp.path().to_path_buf();
        let ms: Vec<berth_image::Mount> = mounts
            .iter()
            .map(|m| berth_image::Mount {
                fstype: m.fstype.clone(),
                source: m.source.clone(),
                options: m.options.clone(),
            })
            .collect();
        berth_image::mount_all(&ms, &target)
            .map_err(|e| Error::Internal(format!("mount the container's rootfs: {e}")))?;
        let dir = match open_dir(&target) {
            Ok(d) => d,
            Err(e) => {
                let _ = berth_image::unmount(&target);
                return Err(e);
            }
        };
        Ok(Rootfs {
            dir,
            temp: Some((tmp, target)),
        })
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.dir
    }

    /// Opens `path` (container-absolute or relative to `/`) inside the rootfs, following
    /// symlinks only within it. `None` when it does not exist.
    pub fn resolve(&self, path: &str, flags: OFlags) -> Result<Option<OwnedFd>> {
        resolve_in(&self.dir, path, flags, ResolveFlags::IN_ROOT)
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        if let Some((_, target)) = &self.temp
            && let Err(e) = berth_image::unmount(target)
        {
            tracing::warn!("unmount {}: {e}", target.display());
        }
    }
}

/// Unmounts and removes what a crashed daemon left in `scratch` (temporary mounts of stopped
/// containers' snapshots, which would keep their overlay work dirs busy).
pub fn clean_scratch(scratch: &Path) {
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let _ = berth_image::unmount(&p);
        if let Err(err) = std::fs::remove_dir(&p) {
            tracing::warn!("remove stale rootfs mount point {}: {err}", p.display());
        }
    }
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(format!("open {}", p.display()), e.into()))
}

/// `openat2(dir, path, flags, resolve)`; ENOENT/ENOTDIR become `None`, EXDEV/ELOOP (an escape
/// attempt under `RESOLVE_BENEATH`) an invalid-parameter error.
pub fn resolve_in(
    dir: &impl AsFd,
    path: &str,
    flags: OFlags,
    resolve: ResolveFlags,
) -> Result<Option<OwnedFd>> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    match rustix::fs::openat2(
        dir,
        rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        resolve | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => Ok(None),
        Err(rustix::io::Errno::XDEV) | Err(rustix::io::Errno::LOOP) => Err(
            Error::InvalidParameter(format!("path {path:?} leads out of the destination")),
        ),
        Err(e) => Err(Error::io(format!("open {path}"), e.into())),
    }
}

/// Splits a container path as moby's `SplitPathDirEntry`: `/a/b` is (`/a`, `b`); `/a/b/.` and
/// `/a/b/` keep the directory as the entry (`/a/b`, `.`); `/` is (`/`, `.`).
pub fn split_dir_entry(path: &str) -> (String, String) {
    let ends_dot = path.ends_with("/.") || path == ".";
    let parts: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let mut stack: Vec<&str> = vec![];
    for p in parts {
        if p == ".." {
            stack.pop();
        } else {
            stack.push(p);
        }
    }
    if ends_dot || stack.is_empty() {
        return (format!("/{}", stack.join("/")), ".".into());
    }
    let base = stack.pop().unwrap_or(".").to_string();
    (format!("/{}", stack.join("/")), base)
}

#[cfg(test)]
mod tests {
    use super::split_dir_entry;

    #[test]
    fn paths_split_as_moby_does() {
        let s = |p: &str| {
            let (a, b) = split_dir_entry(p);
            format!("{a}|{b}")
        };
        assert_eq!(s("/etc/hostname"), "/etc|hostname");
        assert_eq!(s("/etc/"), "/|etc");
        assert_eq!(s("/etc/."), "/etc|.");
        assert_eq!(s("/"), "/|.");
        assert_eq!(s("a/../../b"), "/|b");
        assert_eq!(s("/a/b/../c"), "/a|c");
    }
}
