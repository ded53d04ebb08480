//! `docker cp` and `docker export`: stat a path in a container, read it as a tar, unpack an
//! uploaded tar into it, and tar the whole rootfs. Works on running containers (through the
//! monitor's rootfs mount) and stopped ones (a temporary mount of the snapshot, made while
//! holding the container's `op` lock so it cannot start meanwhile).

use std::ffi::CString;
use std::io::{Read, Write};
use std::path::PathBuf;

use rustix::fs::{AtFlags, FileType, OFlags};
use serde::Serialize;

use super::extract::{self, PutOptions};
use super::rootfs::{CpMount, Rootfs, in_private_mount_ns, is_under, split_dir_entry};
use super::tarwalk;
use crate::Engine;
use crate::error::{Error, Result};

/// Docker's `X-Docker-Container-Path-Stat` (`ContainerPathStat`): `mode` is a Go `FileMode`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    /// The value of the `X-Docker-Container-Path-Stat` header: base64 of the JSON.
    pub fn header_value(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

/// Go's `os.FileMode` bits for a Unix `st_mode`.
fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    match FileType::from_raw_mode(st_mode) {
        FileType::Directory => m |= 1 << 31,
        FileType::Symlink => m |= 1 << 27,
        FileType::BlockDevice => m |= 1 << 26,
        FileType::CharacterDevice => m |= (1 << 26) | (1 << 21),
        FileType::Fifo => m |= 1 << 25,
        FileType::Socket => m |= 1 << 24,
        _ => {}
    }
    if st_mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if st_mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if st_mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

fn not_found(path: &str, container: &str) -> Error {
    Error::NotFound(format!(
        "Could not find the file {path} in container {container}"
    ))
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidParameter(format!("invalid path {s:?}")))
}

/// Lexically joins a symlink's target onto its directory (container-absolute, clean).
fn link_target(dir: &str, target: &str) -> String {
    let joined = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{dir}/{target}")
    };
    let mut stack: Vec<&str> = vec![];
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            p => stack.push(p),
        }
    }
    format!("/{}", stack.join("/"))
}

/// Resolves `path` to (its parent directory fd, entry name, stat).
fn locate(
    root: &Rootfs,
    path: &str,
    container: &str,
) -> Result<(std::os::fd::OwnedFd, CString, PathStat)> {
    let (dir, base) = split_dir_entry(path);
    let parent = root
        .resolve(&dir, OFlags::PATH | OFlags::DIRECTORY)?
        .ok_or_else(|| not_found(path, container))?;
    let name = cstr(&base)?;
    let st = match rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => {
            return Err(not_found(path, container));
        }
        Err(e) => return Err(Error::io(format!("stat {path}"), e.into())),
    };
    let link = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        let t = rustix::fs::readlinkat(&parent, &name, Vec::new())
            .map_err(|e| Error::io(format!("readlink {path}"), e.into()))?;
        link_target(&dir, &String::from_utf8_lossy(t.as_bytes()))
    } else {
        String::new()
    };
    let mtime = chrono::DateTime::from_timestamp(st.st_mtime, st.st_mtime_nsec as u32)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let stat = PathStat {
        name: if base == "." && dir == "/" {
            "/".into()
        } else {
            base.clone()
        },
        size: st.st_size,
        mode: go_file_mode(st.st_mode),
        mtime,
        link_target: link,
    };
    Ok((parent, name, stat))
}

fn scratch_dir(engine: &Engine) -> PathBuf {
    engine.config().data_root.join("engine/rootfs-mounts")
}

impl Engine {
    /// At startup: temporary rootfs mounts a crashed daemon left behind are undone.
    pub(crate) fn clean_rootfs_scratch(&self) {
        super::rootfs::clean_scratch(&scratch_dir(self));
    }

    /// The container's volumes and bind mounts, as the copy sees them.
    fn cp_mounts(&self, rec: &super::record::ContainerRecord) -> Vec<CpMount> {
        let mut out = vec![];
        for b in rec.host_config.binds.iter().flatten() {
            if let Ok((src, dst, ro)) = super::spec::parse_bind(b)
                && src.starts_with('/')
            {
                out.push(CpMount {
                    source: src.into(),
                    destination: dst,
                    read_only: ro,
                });
            }
        }
        // `--mount type=bind` (volumes from `Mounts` are in `rec.volumes`)
        for m in rec.host_config.mounts.iter().flatten() {
            if m.kind == "bind" && m.source.starts_with('/') {
                out.push(CpMount {
                    source: m.source.clone().into(),
                    destination: m.target.clone(),
                    read_only: m.read_only,
                });
            }
        }
        // binds taken from another container (`--volumes-from`)
        for b in &rec.binds_from {
            out.push(CpMount {
                source: b.source.clone().into(),
                destination: b.destination.clone(),
                read_only: b.read_only,
            });
        }
        for v in &rec.volumes {
            // A volume removed under a stopped container is made again at its next start.
            if let Ok(vol) = self.inspect_volume(&v.name) {
                out.push(CpMount {
                    source: vol.mountpoint.into(),
                    destination: v.destination.clone(),
                    read_only: v.read_only,
                });
            }
        }
        out
    }

    /// Runs `f` with the container's rootfs open, holding its `op` lock, on a thread of its
    /// own. With `container_view` the rootfs is seen as the container's processes see it: a
    /// running one through `/proc/<pid>/root` (its mount namespace: volumes, bind mounts,
    /// tmpfs, `/etc/hosts`); a stopped one as a temporary mount of its snapshot with its
    /// volumes and bind mounts mounted over it, in a private mount namespace (moby's
    /// `openContainerFS`). Without it (export), the bare rootfs.
    async fn with_rootfs<T, F>(&self, name: &str, container_view: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Rootfs, &str) -> Result<T> + Send + 'static,
    {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        let rec = c.rec().clone();
        let volumes = if container_view {
            self.cp_mounts(&rec)
        } else {
            vec![]
        };
        let (running, pid, mounts, id) =
            (rec.state.running, rec.state.pid, rec.rootfs_mounts, rec.id);
        let bundle_root = self.config().container_run_dir(&id).join("bundle/rootfs");
        let proc_root =
            (container_view && pid > 0).then(|| PathBuf::from(format!("/proc/{pid}/root")));
        let scratch = scratch_dir(self);
        let shown = name.to_string();
        if running {
            return tokio::task::spawn_blocking(move || {
                let root = match proc_root {
                    Some(p) => match Rootfs::open(Some(&p), &mounts, &scratch) {
                        Ok(r) => r,
                        Err(_) => Rootfs::open(Some(&bundle_root), &mounts, &scratch)?,
                    },
                    None => Rootfs::open(Some(&bundle_root), &mounts, &scratch)?,
                };
                f(&root, &shown)
            })
            .await
            .map_err(|e| Error::Internal(format!("rootfs task: {e}")))?;
        }
        in_private_mount_ns(move || {
            let root = Rootfs::open(None, &mounts, &scratch)?;
            root.mount_volumes(&volumes)?;
            f(&root, &shown)
        })
        .await
    }

    /// `HEAD /containers/{id}/archive`: what `path` is in the container.
    pub async fn container_path_stat(&self, name: &str, path: &str) -> Result<PathStat> {
        let path = path.to_string();
        self.with_rootfs(name, true, move |root, shown| {
            Ok(locate(root, &path, shown)?.2)
        })
        .await
    }

    /// `GET /containers/{id}/archive`: writes `path` to `out` as a tar whose entries start with
    /// its base name (`.` for `dir/.`); returns its stat. `out` is written on a blocking
    /// thread and flushed at the end.
    pub async fn container_archive(
        &self,
        name: &str,
        path: &str,
        out: Box<dyn Write + Send>,
    ) -> Result<PathStat> {
        let path = path.to_string();
        self.with_rootfs(name, true, move |root, shown| {
            let (parent, entry, stat) = locate(root, &path, shown)?;
            let mut b = tar::Builder::new(out);
            let tar_name = entry.to_string_lossy().into_owned();
            tarwalk::append_tree(&mut b, &parent, &entry, &tar_name)?;
            finish(b)?;
            Ok(stat)
        })
        .await
    }

    /// `PUT /containers/{id}/archive`: unpacks `tar` into the directory `path`. The upload is
    /// spooled and checked whole before anything is written.
    pub async fn put_container_archive(
        &self,
        name: &str,
        path: &str,
        mut tar: Box<dyn Read + Send>,
        opts: PutOptions,
    ) -> Result<()> {
        let c = self.containers.get(name)?;
        let scratch = self.config().data_root.join("engine/uploads");
        let spool = tokio::task::spawn_blocking(move || super::spool::spool(&mut tar, &scratch))
            .await
            .map_err(|e| Error::Internal(format!("upload task: {e}")))??;
        // Checked once the body is read: refusing mid-upload breaks the client's pipe. As moby:
        // a read-only rootfs still takes copies into a writable volume.
        let rec = c.rec().clone();
        let (readonly_rootfs, volumes) = (rec.host_config.readonly_rootfs, self.cp_mounts(&rec));
        let into = volumes
            .iter()
            .filter(|m| is_under(path, m))
            .max_by_key(|m| m.destination.len());
        match into {
            Some(m) if m.read_only => {
                return Err(Error::InvalidParameter(
                    "mounted volume is marked read-only".into(),
                ));
            }
            None if readonly_rootfs => {
                return Err(Error::InvalidParameter(
                    "container rootfs is marked read-only".into(),
                ));
            }
            _ => {}
        }
        let path = path.to_string();
        self.with_rootfs(name, true, move |root, shown| {
            let (parent, entry, stat) = locate(root, &path, shown)?;
            if stat.mode & (1 << 31) == 0 {
                return Err(Error::InvalidParameter(format!(
                    "extraction point is not a directory: {path}"
                )));
            }
            drop((parent, entry));
            extract::check_and_unpack(root, &path, spool, opts)
        })
        .await
    }

    /// `GET /containers/{id}/export`: writes the whole rootfs (volumes not included) to `out`
    /// as a tar, on a blocking thread, flushed at the end.
    pub async fn export_container(&self, name: &str, out: Box<dyn Write + Send>) -> Result<()> {
        self.with_rootfs(name, false, move |root, _| {
            let mut b = tar::Builder::new(out);
            let dir = rustix::fs::openat(
                root.fd(),
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::io("open the rootfs", e.into()))?;
            tarwalk::append_children(&mut b, &dir, None)?;
            finish(b)
        })
        .await
    }
}

fn finish(b: tar::Builder<Box<dyn Write + Send>>) -> Result<()> {
    let mut out = b
        .into_inner()
        .map_err(|e| Error::io("finish the archive", e))?;
    out.flush().map_err(|e| Error::io("finish the archive", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes_mark_directories_and_links() {
        assert_eq!(go_file_mode(0o040755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(0o120777), (1 << 27) | 0o777);
        assert_eq!(go_file_mode(0o100644), 0o644);
        assert_eq!(go_file_mode(0o104755), (1 << 23) | 0o755);
    }

    #[test]
    fn link_targets_are_container_absolute() {
        assert_eq!(link_target("/etc", "../bin/sh"), "/bin/sh");
        assert_eq!(link_target("/a", "b/c"), "/a/b/c");
        assert_eq!(link_target("/a", "/../../x"), "/x");
    }
}
