//! Unpacking an uploaded tar (`PUT /containers/{id}/archive`) into a container's rootfs. The
//! archive is hostile until checked: a first pass refuses absolute names, `..`, entries going
//! through a symlink of the archive, hard links leaving it and unknown entry types, before
//! anything is written. The second pass resolves every parent with `RESOLVE_IN_ROOT` and
//! creates files under a temporary name renamed into place.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timestamps};

use super::rootfs::Rootfs;
use crate::error::{Error, Result};

/// How an upload is applied (Docker's `copyUIDGID` and `noOverwriteDirNonDir`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    pub copy_uid_gid: bool,
    pub no_overwrite_dir_non_dir: bool,
}

fn bad(msg: String) -> Error {
    Error::InvalidParameter(msg)
}

/// The entry's path as clean relative components; refuses absolute paths and `..`.
fn clean_rel(p: &Path) -> Result<Vec<String>> {
    let mut out = vec![];
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad(format!(
                    "invalid archive entry {}: absolute paths are not allowed",
                    p.display()
                )));
            }
            Component::ParentDir => {
                return Err(bad(format!(
                    "invalid archive entry {}: it leads out of the destination",
                    p.display()
                )));
            }
        }
    }
    Ok(out)
}

/// Pass one: refuses a hostile archive before anything is written.
pub fn check(tar: impl Read + Seek) -> Result<()> {
    let mut a = tar::Archive::new(tar);
    let mut links: HashSet<Vec<String>> = HashSet::new();
    let ioe = |e: std::io::Error| bad(format!("invalid tar archive: {e}"));
    // Seeks over file data instead of reading it.
    for ent in a.entries_with_seek().map_err(ioe)? {
        let ent = ent.map_err(ioe)?;
        let path = ent.path().map_err(ioe)?.into_owned();
        let rel = clean_rel(&path)?;
        for i in 1..rel.len() {
            if links.contains(&rel[..i]) {
                return Err(bad(format!(
                    "invalid archive entry {}: it goes through the symlink {}",
                    path.display(),
                    rel[..i].join("/")
                )));
            }
        }
        match ent.header().entry_type() {
            tar::EntryType::Symlink => {
                if rel.is_empty() {
                    return Err(bad("invalid archive: a symlink as its root".into()));
                }
                links.insert(rel);
            }
            tar::EntryType::Link => {
                let target = ent
                    .link_name()
                    .map_err(ioe)?
                    .ok_or_else(|| bad(format!("hard link {} has no target", path.display())))?;
                clean_rel(&target)?;
                if rel.is_empty() {
                    return Err(bad("invalid archive: a hard link as its root".into()));
                }
            }
            tar::EntryType::Directory => {}
            tar::EntryType::Regular
            | tar::EntryType::Continuous
            | tar::EntryType::Char
            | tar::EntryType::Block
            | tar::EntryType::Fifo => {
                if rel.is_empty() {
                    return Err(bad(format!(
                        "invalid archive entry {}: not a directory",
                        path.display()
                    )));
                }
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(bad(format!(
                    "invalid archive entry {}: unsupported type {other:?}",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

fn errno(ctx: String) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |e| Error::io(ctx, e.into())
}

/// The directory `dest/rel[..]` inside the rootfs, created (0755) where missing.
pub(super) fn ensure_dir(root: &Rootfs, dest: &str, rel: &[String]) -> Result<OwnedFd> {
    let mut path = dest.trim_end_matches('/').to_string();
    let flags = OFlags::PATH | OFlags::DIRECTORY;
    let mut fd = root
        .resolve(&path, flags)?
        .ok_or_else(|| Error::NotFound(format!("{dest}: no such directory")))?;
    for c in rel {
        path = format!("{path}/{c}");
        fd = match root.resolve(&path, flags)? {
            Some(f) => f,
            None => {
                match rustix::fs::mkdirat(&fd, c.as_str(), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(errno(format!("create {path}"))(e)),
                }
                root.resolve(&path, flags)?
                    .ok_or_else(|| bad(format!("{path} is not a directory")))?
            }
        };
    }
    Ok(fd)
}

/// Pass two: unpacks `tar` under the container directory `dest` (which exists).
pub fn unpack(root: &Rootfs, dest: &str, tar: impl Read, opts: PutOptions) -> Result<()> {
    let mut a = tar::Archive::new(tar);
    let ioe = |e: std::io::Error| bad(format!("invalid tar archive: {e}"));
    for ent in a.entries().map_err(ioe)? {
        let mut ent = ent.map_err(ioe)?;
        let path = ent.path().map_err(ioe)?.into_owned();
        let rel = clean_rel(&path)?;
        let kind = ent.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let Some((leaf, parents)) = rel.split_last() else {
            continue; // the destination itself: it exists already
        };
        let shown = format!("{}/{}", dest.trim_end_matches('/'), rel.join("/"));
        let parent = ensure_dir(root, dest, parents)?;
        let existing = match rustix::fs::statat(&parent, leaf.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(FileType::from_raw_mode(st.st_mode)),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) => return Err(errno(format!("stat {shown}"))(e)),
        };
        let is_dir = kind == tar::EntryType::Directory;
        match existing {
            Some(FileType::Directory) if !is_dir => {
                return Err(bad(format!(
                    "cannot overwrite directory {shown:?} with non-directory"
                )));
            }
            Some(t) if is_dir && t != FileType::Directory => {
                if opts.no_overwrite_dir_non_dir {
                    return Err(bad(format!(
                        "cannot overwrite non-directory {shown:?} with directory"
                    )));
                }
                rustix::fs::unlinkat(&parent, leaf.as_str(), AtFlags::empty())
                    .map_err(errno(format!("remove {shown}")))?;
            }
            _ => {}
        }
        let h = ent.header().clone();
        // An empty numeric field reads as 0 (as Go's tar does); 0644 for a missing mode.
        let mode = Mode::from_raw_mode(h.mode().unwrap_or(0o644) & 0o7777);
        let tmp = format!(".berth-cp-{}-{leaf}", std::process::id());
        let tmp = if tmp.len() > 200 {
            format!(".berth-cp-{}", std::process::id())
        } else {
            tmp
        };
        match kind {
            tar::EntryType::Directory => {
                if existing.is_none() {
                    rustix::fs::mkdirat(&parent, leaf.as_str(), mode)
                        .map_err(errno(format!("create {shown}")))?;
                }
                let d = rustix::fs::openat(
                    &parent,
                    leaf.as_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(errno(format!("open {shown}")))?;
                rustix::fs::fchmod(&d, mode).map_err(errno(format!("chmod {shown}")))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let _ = rustix::fs::unlinkat(&parent, tmp.as_str(), AtFlags::empty());
                let fd = rustix::fs::openat(
                    &parent,
                    tmp.as_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(errno(format!("create {shown}")))?;
                let mut f = File::from(fd);
                let written = std::io::copy(&mut ent, &mut f)
                    .map_err(|e| Error::io(format!("write {shown}"), e))
                    .and_then(|_| {
                        rustix::fs::fchmod(&f, mode).map_err(errno(format!("chmod {shown}")))?;
                        let mtime = h.mtime().unwrap_or(0) as i64;
                        let ts = rustix::fs::Timespec {
                            tv_sec: mtime,
                            tv_nsec: 0,
                        };
                        let _ = rustix::fs::futimens(
                            &f,
                            &Timestamps {
                                last_access: ts,
                                last_modification: ts,
                            },
                        );
                        rustix::fs::renameat(&parent, tmp.as_str(), &parent, leaf.as_str())
                            .map_err(errno(format!("rename into {shown}")))
                    });
                if let Err(e) = written {
                    let _ = rustix::fs::unlinkat(&parent, tmp.as_str(), AtFlags::empty());
                    return Err(e);
                }
            }
            tar::EntryType::Symlink => {
                let target = ent
                    .link_name()
                    .map_err(ioe)?
                    .ok_or_else(|| bad(format!("symlink {shown} has no target")))?
                    .into_owned();
                let _ = rustix::fs::unlinkat(&parent, tmp.as_str(), AtFlags::empty());
                rustix::fs::symlinkat(target.as_os_str(), &parent, tmp.as_str())
                    .map_err(errno(format!("create symlink {shown}")))?;
                rustix::fs::renameat(&parent, tmp.as_str(), &parent, leaf.as_str())
                    .map_err(errno(format!("rename into {shown}")))?;
            }
            tar::EntryType::Link => {
                let target = ent
                    .link_name()
                    .map_err(ioe)?
                    .ok_or_else(|| bad(format!("hard link {shown} has no target")))?
                    .into_owned();
                let trel = clean_rel(&target)?;
                let Some((tleaf, tparents)) = trel.split_last() else {
                    return Err(bad(format!("hard link {shown} points to the destination")));
                };
                let tpath = format!("{}/{}", dest.trim_end_matches('/'), tparents.join("/"));
                let tdir = root
                    .resolve(&tpath, OFlags::PATH | OFlags::DIRECTORY)?
                    .ok_or_else(|| bad(format!("hard link target of {shown} not found")))?;
                if existing.is_some() {
                    rustix::fs::unlinkat(&parent, leaf.as_str(), AtFlags::empty())
                        .map_err(errno(format!("remove {shown}")))?;
                }
                rustix::fs::linkat(
                    &tdir,
                    tleaf.as_str(),
                    &parent,
                    leaf.as_str(),
                    AtFlags::empty(),
                )
                .map_err(errno(format!("link {shown}")))?;
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let ft = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rustix::fs::makedev(
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                );
                if existing.is_some() {
                    rustix::fs::unlinkat(&parent, leaf.as_str(), AtFlags::empty())
                        .map_err(errno(format!("remove {shown}")))?;
                }
                rustix::fs::mknodat(&parent, leaf.as_str(), ft, mode, dev)
                    .map_err(errno(format!("create {shown}")))?;
            }
            _ => continue,
        }
        let (uid, gid) = if opts.copy_uid_gid {
            (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32)
        } else {
            (0, 0)
        };
        chown(&parent, leaf, uid, gid).map_err(errno(format!("chown {shown}")))?;
    }
    Ok(())
}

fn chown(dir: &impl AsFd, leaf: &str, uid: u32, gid: u32) -> rustix::io::Result<()> {
    rustix::fs::chownat(
        dir,
        leaf,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
}

/// Checks then unpacks a spooled upload.
pub fn check_and_unpack(
    root: &Rootfs,
    dest: &str,
    mut spool: File,
    opts: PutOptions,
) -> Result<()> {
    spool
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("rewind the upload", e))?;
    check(&mut spool)?;
    spool
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("rewind the upload", e))?;
    unpack(root, dest, spool, opts)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    pub(crate) fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o640);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(kind);
        b.append_link(&mut h, path, target).unwrap();
    }

    fn spool(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, data).unwrap();
        f
    }

    #[test]
    fn files_links_and_hard_links_are_unpacked_with_their_modes() {
        let root_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(root_dir.path().join("dst")).unwrap();
        let root = Rootfs::open(Some(root_dir.path()), &[], root_dir.path()).unwrap();
        let t = tar_of(|b| {
            file(b, "a/b/file", b"data");
            link(b, tar::EntryType::Symlink, "a/abs", "/etc/passwd");
            link(b, tar::EntryType::Link, "a/hard", "a/b/file");
        });
        check_and_unpack(&root, "/dst", spool(&t), PutOptions::default()).unwrap();
        let d = root_dir.path().join("dst/a");
        assert_eq!(std::fs::read(d.join("b/file")).unwrap(), b"data");
        assert_eq!(std::fs::read(d.join("hard")).unwrap(), b"data");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("b/file"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            std::fs::read_link(d.join("abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        let names: Vec<_> = std::fs::read_dir(d.join("b")).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
    }

    #[test]
    fn an_existing_symlink_out_of_the_root_is_resolved_inside_it() {
        let host = tempfile::tempdir().unwrap();
        let root_dir = tempfile::tempdir().unwrap();
        // The rootfs has `/evil -> <host dir>` and a directory of that name of its own.
        let inner = root_dir.path().join(host.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inner).unwrap();
        std::os::unix::fs::symlink(host.path(), root_dir.path().join("evil")).unwrap();
        let root = Rootfs::open(Some(root_dir.path()), &[], root_dir.path()).unwrap();
        let t = tar_of(|b| file(b, "x", b"in the rootfs"));
        check_and_unpack(&root, "/evil", spool(&t), PutOptions::default()).unwrap();
        assert!(!host.path().join("x").exists());
        assert_eq!(std::fs::read(inner.join("x")).unwrap(), b"in the rootfs");
    }

    #[test]
    fn hostile_archives_are_refused_before_anything_is_written() {
        let mut bad = vec![];
        bad.push(tar_of(|b| {
            file(b, "ok", b"1");
            link(b, tar::EntryType::Symlink, "l", "/");
            file(b, "ok2", b"1");
            link(b, tar::EntryType::Symlink, "l2", "/tmp");
            // Through the archive's own symlink.
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, "l2/x", &b"1"[..]).unwrap();
        }));
        bad.push(tar_of(|b| {
            file(b, "ok", b"1");
            link(b, tar::EntryType::Link, "h", "../../etc/shadow");
        }));
        let root_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(root_dir.path().join("dst")).unwrap();
        let root = Rootfs::open(Some(root_dir.path()), &[], root_dir.path()).unwrap();
        for t in bad {
            let err = check_and_unpack(&root, "/dst", spool(&t), PutOptions::default())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("invalid archive entry"), "{err}");
        }
        assert_eq!(
            std::fs::read_dir(root_dir.path().join("dst"))
                .unwrap()
                .count(),
            0
        );
        let err = check(std::io::Cursor::new(
            b"garbage that is not a tar header at all".repeat(20),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("invalid tar archive"), "{err}");
    }

    #[test]
    fn names_with_dot_dot_or_a_root_are_refused() {
        assert!(clean_rel(Path::new("../x")).is_err());
        assert!(clean_rel(Path::new("a/../../x")).is_err());
        assert!(clean_rel(Path::new("/x")).is_err());
        assert_eq!(clean_rel(Path::new("./a/./b")).unwrap(), vec!["a", "b"]);
    }
}
