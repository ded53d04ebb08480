//! Layer unpacking into a fresh directory, treating every entry as hostile.
//!
//! Every path is resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` relative to
//! the layer directory, so neither `..`, absolute names, nor symlinks or hardlinks made by
//! earlier entries can lead a write outside it. Whiteouts become overlayfs whiteouts (0/0 char
//! devices) and `.wh..wh..opq` the `trusted.overlay.opaque` xattr. The caller unpacks into a
//! temporary directory and removes it on error, so a rejected layer leaves nothing.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{
    self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, XattrFlags,
};
use rustix::io::Errno;
use tar::EntryType;

use crate::error::{Error, IoContext};
pub(crate) use crate::tar_meta::clean_components;
use crate::tar_meta::{EntryMeta, MAX_PATH, trim_nul};

/// Largest GNU long-name or PAX header accepted.
const MAX_EXT_HEADER: u64 = 1024 * 1024;
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What an unpack produced.
#[derive(Clone, Copy, Debug, Default)]
pub struct UnpackStats {
    /// Bytes of regular file content.
    pub size: u64,
    pub entries: u64,
}

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The Docker schema2 media type of a layer so compressed.
    pub fn docker_media_type(self) -> &'static str {
        match self {
            Compression::None => crate::types::media::DOCKER_LAYER,
            Compression::Gzip => crate::types::media::DOCKER_LAYER_GZIP,
            Compression::Zstd => crate::types::media::DOCKER_LAYER_ZSTD,
        }
    }
}

/// Wraps `r` in the decompressor its first bytes call for (gzip, zstd, or none).
pub fn decompress<'a, R: Read + 'a>(r: R) -> Result<(Box<dyn Read + 'a>, Compression), Error> {
    let mut br = BufReader::with_capacity(128 * 1024, r);
    let head = br.fill_buf().ctx(|| "read layer".into())?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((
            Box::new(flate2::read::MultiGzDecoder::new(br)),
            Compression::Gzip,
        ))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::with_buffer(br).ctx(|| "zstd".into())?;
        Ok((Box::new(d), Compression::Zstd))
    } else {
        Ok((Box::new(br), Compression::None))
    }
}

/// Unpacks the (uncompressed) layer tar `r` into `dest`, an existing empty directory.
pub fn unpack_layer<R: Read>(r: R, dest: &Path) -> Result<UnpackStats, Error> {
    let root: OwnedFd = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", dest.display()))?;
    let mut u = Unpacker {
        root,
        dirs: Vec::new(),
        cache: None,
        stats: UnpackStats::default(),
        as_root: rustix::process::geteuid().is_root() && rustix::process::getegid().is_root(),
        umask: read_umask(),
    };
    let mut archive = tar::Archive::new(r);
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax: Option<Vec<u8>> = None;
    let entries = archive.entries().ctx(|| "read layer tar".into())?.raw(true);
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::InvalidLayer(format!("bad tar stream: {e}")))?;
        let kind = entry.header().entry_type();
        let ext = matches!(
            kind,
            EntryType::GNULongName
                | EntryType::GNULongLink
                | EntryType::XHeader
                | EntryType::XGlobalHeader
        );
        if ext {
            let size = entry.size();
            if size > MAX_EXT_HEADER {
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                return Err(Error::hostile(
                    name,
                    format!("oversized extension header ({size} bytes)"),
                ));
            }
            let mut data = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut data)
                .ctx(|| "read tar extension header".into())?;
            match kind {
                EntryType::GNULongName => long_name = Some(trim_nul(data)),
                EntryType::GNULongLink => long_link = Some(trim_nul(data)),
                EntryType::XHeader => pax = Some(data),
                _ => {}
            }
            continue;
        }
        let mut meta = EntryMeta::from_header(entry.header());
        if let Some(p) = pax.take() {
            meta.apply_pax(&p);
        }
        let path = long_name
            .take()
            .or_else(|| meta.pax_path.take())
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let link = long_link
            .take()
            .or_else(|| meta.pax_link.take())
            .or_else(|| entry.link_name_bytes().map(|c| c.into_owned()));
        u.entry(&mut entry, kind, &path, link.as_deref(), &meta)?;
        u.stats.entries += 1;
    }
    u.finish()?;
    Ok(u.stats)
}

fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

struct Unpacker {
    root: OwnedFd,
    /// Directories whose mtime is set at the end (later entries change it).
    dirs: Vec<(Vec<u8>, u64)>,
    /// The last parent directory opened, by path.
    cache: Option<(Vec<u8>, OwnedFd)>,
    stats: UnpackStats,
    /// Running as uid 0 / gid 0: new files already have the usual owner.
    as_root: bool,
    /// The process umask, if known: a create mode it does not narrow needs no chmod.
    umask: Option<u32>,
}

impl Unpacker {
    fn entry<R: Read>(
        &mut self,
        data: &mut R,
        kind: EntryType,
        raw_path: &[u8],
        link: Option<&[u8]>,
        meta: &EntryMeta,
    ) -> Result<(), Error> {
        let shown = String::from_utf8_lossy(raw_path).into_owned();
        let comps = clean_components(raw_path)?;
        let io_err = |what: &str, e: Errno| {
            Error::InvalidLayer(format!("entry {shown:?}: {what}: {}", io::Error::from(e)))
        };
        let Some((_, parents)) = comps.split_last() else {
            // The layer root itself ("./"): take its mode and owner.
            if kind == EntryType::Directory {
                let fd = self.root.as_fd();
                rfs::fchown(fd, Some(uid(meta.uid)), Some(gid(meta.gid)))
                    .map_err(|e| io_err("chown", e))?;
                rfs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(|e| io_err("chmod", e))?;
                self.dirs.push((Vec::new(), meta.mtime));
            }
            return Ok(());
        };
        let (pkey, parent) = self.parent(parents, &shown)?;
        if self.entry_in(data, &comps, kind, link, meta, parent.as_fd())? {
            self.cache = Some((pkey, parent));
        }
        Ok(())
    }

    /// Applies one entry inside its parent directory `pfd`; false when the parent may have
    /// changed (a symlink, whiteout or replaced directory) and must not stay cached.
    fn entry_in<R: Read>(
        &mut self,
        data: &mut R,
        comps: &[&[u8]],
        kind: EntryType,
        link: Option<&[u8]>,
        meta: &EntryMeta,
        pfd: BorrowedFd<'_>,
    ) -> Result<bool, Error> {
        let shown = String::from_utf8_lossy(&join(comps)).into_owned();
        let io_err = |what: &str, e: Errno| {
            Error::InvalidLayer(format!("entry {shown:?}: {what}: {}", io::Error::from(e)))
        };
        let mut keep = true;
        let Some(&name) = comps.last() else {
            return Ok(false);
        };

        if let Some(target) = name.strip_prefix(b".wh.") {
            keep = false;
            if target == b".wh..opq" {
                rfs::fsetxattr(pfd, OPAQUE_XATTR, b"y", XattrFlags::empty())
                    .map_err(|e| io_err("set opaque", e))?;
                return Ok(keep);
            }
            if target.starts_with(b".wh.") {
                // Other `.wh..wh.` names are aufs metadata (hardlink dirs): not content.
                return Ok(keep);
            }
            if target.is_empty() || target == b"." || target == b".." {
                return Err(Error::hostile(shown, "invalid whiteout name"));
            }
            remove_existing(pfd, os(target)).map_err(|e| io_err("remove", e))?;
            rfs::mknodat(pfd, os(target), FileType::CharacterDevice, Mode::empty(), 0)
                .map_err(|e| io_err("create whiteout", e))?;
            return Ok(keep);
        }

        let n = os(name);
        match kind {
            EntryType::Directory => {
                match rfs::statat(pfd, n, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
                    Ok(_) => {
                        keep = false;
                        remove_existing(pfd, n).map_err(|e| io_err("remove", e))?;
                        rfs::mkdirat(pfd, n, Mode::from_raw_mode(0o755))
                            .map_err(|e| io_err("mkdir", e))?;
                    }
                    Err(_) => rfs::mkdirat(pfd, n, Mode::from_raw_mode(0o755))
                        .map_err(|e| io_err("mkdir", e))?,
                }
                let fd = rfs::openat(
                    pfd,
                    n,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io_err("open dir", e))?;
                rfs::fchown(&fd, Some(uid(meta.uid)), Some(gid(meta.gid)))
                    .map_err(|e| io_err("chown", e))?;
                rfs::fchmod(&fd, Mode::from_raw_mode(meta.mode)).map_err(|e| io_err("chmod", e))?;
                set_xattrs_fd(&fd, meta).map_err(|e| io_err("xattr", e))?;
                self.dirs.push((join(comps), meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                let create = || {
                    rfs::openat(
                        pfd,
                        n,
                        OFlags::WRONLY
                            | OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(meta.mode & 0o777),
                    )
                };
                let fd = match create() {
                    Err(Errno::EXIST) => {
                        remove_existing(pfd, n).map_err(|e| io_err("remove", e))?;
                        create()
                    }
                    other => other,
                }
                .map_err(|e| io_err("create", e))?;
                let mut f = File::from(fd);
                let copied = io::copy(data, &mut f)
                    .map_err(|e| Error::InvalidLayer(format!("entry {shown:?}: write: {e}")))?;
                self.stats.size += copied;
                // Files are created as the (root) caller: skip the chown when it would not
                // change anything, and the chmod when the create mode was not narrowed.
                if !(self.as_root && meta.uid == 0 && meta.gid == 0) {
                    rfs::fchown(&f, Some(uid(meta.uid)), Some(gid(meta.gid)))
                        .map_err(|e| io_err("chown", e))?;
                }
                // chmod after chown: chown clears setuid/setgid bits.
                let exact =
                    meta.mode & 0o7000 == 0 && self.umask.is_some_and(|u| meta.mode & u == 0);
                if !exact {
                    rfs::fchmod(&f, Mode::from_raw_mode(meta.mode))
                        .map_err(|e| io_err("chmod", e))?;
                }
                set_xattrs_fd(&f, meta).map_err(|e| io_err("xattr", e))?;
                let t = times(meta.mtime);
                rfs::futimens(&f, &t).map_err(|e| io_err("set times", e))?;
            }
            EntryType::Symlink => {
                let target =
                    link.ok_or_else(|| Error::hostile(shown.clone(), "symlink without target"))?;
                if target.is_empty() || target.len() > MAX_PATH || target.contains(&0) {
                    return Err(Error::hostile(shown, "invalid symlink target"));
                }
                keep = false;
                remove_existing(pfd, n).map_err(|e| io_err("remove", e))?;
                rfs::symlinkat(os(target), pfd, n).map_err(|e| io_err("symlink", e))?;
                chown_entry(pfd, n, meta).map_err(|e| io_err("chown", e))?;
                rfs::utimensat(pfd, n, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io_err("set times", e))?;
            }
            EntryType::Link => {
                let target =
                    link.ok_or_else(|| Error::hostile(shown.clone(), "hardlink without target"))?;
                let tcomps = clean_components(target).map_err(|_| {
                    Error::hostile(shown.clone(), "hardlink target escapes the layer")
                })?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return Err(Error::hostile(shown, "hardlink to the layer root"));
                };
                let tparent = self.open_beneath(&join(tparents), &shown)?;
                match rfs::statat(&tparent, os(tname), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                        return Err(Error::hostile(shown, "hardlink to a directory"));
                    }
                    Ok(_) => {}
                    Err(_) => {
                        return Err(Error::hostile(shown, "hardlink target is not in the layer"));
                    }
                }
                if tcomps == comps {
                    return Ok(keep);
                }
                remove_existing(pfd, n).map_err(|e| io_err("remove", e))?;
                rfs::linkat(&tparent, os(tname), pfd, n, AtFlags::empty())
                    .map_err(|e| io_err("link", e))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let ft = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                remove_existing(pfd, n).map_err(|e| io_err("remove", e))?;
                let dev = rfs::makedev(meta.dev.0, meta.dev.1);
                rfs::mknodat(pfd, n, ft, Mode::from_raw_mode(meta.mode), dev)
                    .map_err(|e| io_err("mknod", e))?;
                chown_entry(pfd, n, meta).map_err(|e| io_err("chown", e))?;
                rfs::chmodat(pfd, n, Mode::from_raw_mode(meta.mode), AtFlags::empty())
                    .map_err(|e| io_err("chmod", e))?;
                rfs::utimensat(pfd, n, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io_err("set times", e))?;
            }
            other => {
                return Err(Error::hostile(
                    shown,
                    format!("unsupported entry type {other:?}"),
                ));
            }
        }
        Ok(keep)
    }

    /// Opens (creating missing directories) the parent directory of an entry.
    fn parent(&mut self, parents: &[&[u8]], shown: &str) -> Result<(Vec<u8>, OwnedFd), Error> {
        let key = join(parents);
        if let Some((k, fd)) = self.cache.take()
            && k == key
        {
            return Ok((k, fd));
        }
        let fd = match self.open_beneath(&key, shown) {
            Ok(fd) => fd,
            Err(_) => {
                // Create missing directories one at a time, each resolved beneath the root.
                let mut cur = self.root.try_clone().ctx(|| "dup".into())?;
                for c in parents {
                    match rfs::mkdirat(&cur, os(c), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => {
                            return Err(Error::InvalidLayer(format!(
                                "entry {shown:?}: mkdir: {}",
                                io::Error::from(e)
                            )));
                        }
                    }
                    cur = open_dir_beneath(&cur, c).map_err(|e| escape_or_io(shown, e))?;
                }
                cur
            }
        };
        Ok((key, fd))
    }

    fn open_beneath(&self, rel: &[u8], shown: &str) -> Result<OwnedFd, Error> {
        if rel.is_empty() {
            return self.root.try_clone().ctx(|| "dup".into());
        }
        open_dir_beneath(&self.root, rel).map_err(|e| escape_or_io(shown, e))
    }

    fn finish(&mut self) -> Result<(), Error> {
        for (path, mtime) in self.dirs.iter().rev() {
            let fd = match self.open_beneath(path, "") {
                Ok(fd) => fd,
                Err(_) => continue, // replaced by a later entry
            };
            let _ = rfs::futimens(&fd, &times(*mtime));
        }
        Ok(())
    }
}

fn open_dir_beneath(dir: &impl AsFd, rel: &[u8]) -> rustix::io::Result<OwnedFd> {
    rfs::openat2(
        dir,
        os(rel),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )
}

fn escape_or_io(shown: &str, e: Errno) -> Error {
    if e == Errno::XDEV || e == Errno::LOOP {
        Error::hostile(shown, "path resolves outside the layer through a symlink")
    } else if e == Errno::NOTDIR {
        Error::hostile(shown, "a parent of the path is not a directory")
    } else {
        Error::InvalidLayer(format!("entry {shown:?}: {}", io::Error::from(e)))
    }
}

/// Removes whatever is at `name` (a whole tree for a directory); absent is fine.
pub(crate) fn remove_existing(dir: impl AsFd, name: &OsStr) -> rustix::io::Result<()> {
    match rfs::unlinkat(&dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {
            let sub = rfs::openat(
                &dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            remove_children(&sub)?;
            rfs::unlinkat(&dir, name, AtFlags::REMOVEDIR)
        }
        Err(e) => Err(e),
    }
}

fn remove_children(dir: &OwnedFd) -> rustix::io::Result<()> {
    let mut names = Vec::new();
    let rd = rfs::Dir::read_from(dir)?;
    for e in rd {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_existing(dir, os(&n))?;
    }
    Ok(())
}

fn set_xattrs_fd(fd: &impl AsFd, meta: &EntryMeta) -> rustix::io::Result<()> {
    for (k, v) in &meta.xattrs {
        rfs::fsetxattr(fd, os(k), v, XattrFlags::empty())?;
    }
    Ok(())
}

/// The umask from `/proc/self/status` (reading it with umask(2) would change it for every
/// thread for a moment).
fn read_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
}

/// Gives `name` in `dir` the entry's owner (the link itself for a symlink).
fn chown_entry(dir: BorrowedFd<'_>, name: &OsStr, meta: &EntryMeta) -> Result<(), Errno> {
    rfs::chownat(
        dir,
        name,
        Some(uid(meta.uid)),
        Some(gid(meta.gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
}

fn uid(u: u64) -> rfs::Uid {
    rfs::Uid::from_raw(u as u32)
}
fn gid(g: u64) -> rfs::Gid {
    rfs::Gid::from_raw(g as u32)
}

fn times(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}
