//! A container's root filesystem as the daemon reaches it for `cp`, `export` and stat: the
//! monitor's mount (`<run-dir>/bundle/rootfs`) while the container runs, or a temporary
//! overlay mount of its snapshot while it is stopped (the caller holds the container's `op`
//! lock, so it cannot start meanwhile). Paths are resolved with `openat2(RESOLVE_IN_ROOT)`:
//! `..` and symlinks, absolute or not, never lead out of the rootfs (CVE-2018-15664).
//!
//! A stopped container's volumes and bind mounts are mounted over its temporary rootfs as the
//! runtime would (moby's `openContainerFS`), on a thread of its own in a private mount
//! namespace ([`in_private_mount_ns`]), so nothing is ever seen outside it or outlives it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{MountFlags, MountPropagationFlags};

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

    /// Bind-mounts each of `mounts` at its destination, parents first, as the runtime does at
    /// start: a missing destination is created inside the rootfs (a directory, or an empty
    /// file for a file source), read-only ones are remounted read-only. Destinations are
    /// resolved with `RESOLVE_IN_ROOT` and mounted through `/proc/thread-self/fd/N`, so a
    /// symlink in the rootfs never places a mount outside it. Only on a thread that is in a
    /// private mount namespace ([`in_private_mount_ns`]).
    pub fn mount_volumes(&self, mounts: &[CpMount]) -> Result<()> {
        let mut sorted: Vec<&CpMount> = mounts.iter().collect();
        sorted.sort_by_key(|m| m.destination.split('/').filter(|c| !c.is_empty()).count());
        for m in sorted {
            let Ok(meta) = std::fs::metadata(&m.source) else {
                // A bind source removed since the container was made: skipped (it is made
                // again at the next start).
                continue;
            };
            let target = self.mount_point(&m.destination, meta.is_dir())?;
            let fail = |e: rustix::io::Errno| {
                Error::Internal(format!(
                    "mount {} at {}: {}",
                    m.source.display(),
                    m.destination,
                    std::io::Error::from(e)
                ))
            };
            rustix::mount::mount_bind_recursive(&m.source, fd_path(&target)).map_err(fail)?;
            if m.read_only {
                let flags = if meta.is_dir() {
                    OFlags::PATH | OFlags::DIRECTORY
                } else {
                    OFlags::PATH
                };
                let mounted = self
                    .resolve(&m.destination, flags)?
                    .ok_or_else(|| Error::Internal(format!("{} vanished", m.destination)))?;
                rustix::mount::mount_remount(
                    fd_path(&mounted),
                    MountFlags::BIND | MountFlags::RDONLY,
                    "",
                )
                .map_err(fail)?;
            }
        }
        Ok(())
    }

    /// The (existing or created) mount point `dest` inside the rootfs.
    fn mount_point(&self, dest: &str, dir: bool) -> Result<OwnedFd> {
        let flags = if dir {
            OFlags::PATH | OFlags::DIRECTORY
        } else {
            OFlags::PATH
        };
        if let Some(fd) = self.resolve(dest, flags)? {
            return Ok(fd);
        }
        let (parent, leaf) = split_dir_entry(dest);
        let comps: Vec<String> = parent
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let pfd = super::extract::ensure_dir(self, "/", &comps)?;
        let made = if dir {
            rustix::fs::mkdirat(&pfd, leaf.as_str(), Mode::from_raw_mode(0o755))
        } else {
            rustix::fs::openat(
                &pfd,
                leaf.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .map(drop)
        };
        match made {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(Error::io(format!("create mount point {dest}"), e.into())),
        }
        self.resolve(dest, flags)?.ok_or_else(|| {
            Error::InvalidParameter(format!("mount point {dest} is not a {}", kind(dir)))
        })
    }
}

fn kind(dir: bool) -> &'static str {
    if dir { "directory" } else { "file" }
}

fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/thread-self/fd/{}", fd.as_raw_fd())
}

/// A volume or bind mount of a container: `source` on the host at `destination` inside.
#[derive(Debug, Clone, PartialEq)]
pub struct CpMount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// Whether the container path `path` is `mount`'s destination or under it (moby's
/// `HasResource`, on clean paths).
pub fn is_under(path: &str, mount: &CpMount) -> bool {
    let clean = |p: &str| -> Vec<String> {
        let (d, b) = split_dir_entry(p);
        d.split('/')
            .chain(std::iter::once(b.as_str()))
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_owned)
            .collect()
    };
    let p = clean(path);
    let m = clean(&mount.destination);
    p.len() >= m.len() && p[..m.len()] == m[..]
}

/// Runs `f` on a new thread that first unshares its mount namespace and makes every mount in
/// it a slave of the daemon's (so mounts made there never propagate out); the namespace dies
/// with the thread. The answer comes back through a channel, so the caller's runtime is never
/// blocked.
pub async fn in_private_mount_ns<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("berth-cp-mnt".into())
        .spawn(move || {
            let res = (|| {
                // SAFETY: only CLONE_NEWNS (with the CLONE_FS it implies) is unshared, on a
                // thread of our own that exits when `f` returns; the fd table stays shared.
                unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
                    .map_err(|e| Error::io("unshare the mount namespace", e.into()))?;
                rustix::mount::mount_change(
                    "/",
                    MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
                )
                .map_err(|e| Error::io("make the mount namespace private", e.into()))?;
                f()
            })();
            let _ = tx.send(res);
        })
        .map_err(|e| Error::io("spawn a thread", e))?;
    rx.await
        .map_err(|_| Error::Internal("the rootfs thread panicked".into()))?
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
    use super::{CpMount, is_under, split_dir_entry};

    #[test]
    fn paths_under_a_mount_are_found_lexically() {
        let m = CpMount {
            source: "/x".into(),
            destination: "/data/vol/".into(),
            read_only: false,
        };
        assert!(is_under("/data/vol", &m));
        assert!(is_under("/data/vol/.", &m));
        assert!(is_under("/data/./vol/a/b", &m));
        assert!(!is_under("/data/volume", &m));
        assert!(!is_under("/data", &m));
        assert!(is_under("/x/../data/vol/a", &m));
    }

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
