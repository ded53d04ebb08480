//! The build context: a tar stream (hostile input) read into memory (or, when big, unpacked
//! into a private directory), or a directory used in place, plus its `.dockerignore`.
//!
//! A tar context is parsed as it arrives (so the work overlaps the client's upload), each
//! file hashed on the way; COPY/ADD hash their sources from that tree, and the files are only
//! written out when a step that needs them misses the cache.

mod memory;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::dockerignore::{DockerIgnore, clean};
use crate::error::BuildError;
use crate::fsutil::{Scope, resolve_in_fs};
use crate::srcfs::{HostFs, SrcFs};
use memory::MemoryTree;

/// A build context ready to read sources from.
pub struct BuildContext {
    root: PathBuf,
    ignore: DockerIgnore,
    /// A tar context held in memory, answering for `root` until written out there.
    tree: Option<MemoryTree>,
    written: Mutex<bool>,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("root", &self.root)
            .field("in_memory", &self.tree.is_some())
            .finish()
    }
}

/// Tar contexts whose files add up to this much are held in memory; bigger ones are unpacked
/// on disk.
pub const MEMORY_CONTEXT_LIMIT: u64 = 256 << 20;

/// Free bytes on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is a plain C struct for which all-zero bytes are a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

fn bad(msg: impl Into<String>) -> BuildError {
    BuildError::Context(msg.into())
}

fn temp_in(dir: &Path) -> Result<tempfile::TempDir, BuildError> {
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("create {}: {e}", dir.display())))?;
    tempfile::Builder::new()
        .prefix("context-")
        .tempdir_in(dir)
        .map_err(|e| bad(format!("create context directory: {e}")))
}

/// Runs `f` over the context stream decompressed as Docker's `DecompressStream` does: gzip,
/// bzip2, xz or zstd, told apart by their magic bytes; anything else is read as a plain tar.
pub(crate) fn decompressed<T>(
    reader: impl Read + Send,
    f: impl FnOnce(&mut dyn Read) -> Result<T, BuildError>,
) -> Result<T, BuildError> {
    let mut buffered = BufReader::with_capacity(256 << 10, reader);
    let head = buffered
        .fill_buf()
        .map_err(|e| bad(format!("read context: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return f(&mut flate2::read::MultiGzDecoder::new(buffered));
    }
    if head.starts_with(b"BZh") {
        return f(&mut bzip2::read::MultiBzDecoder::new(buffered));
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let mut d = zstd::stream::read::Decoder::with_buffer(buffered)
            .map_err(|e| bad(format!("read zstd context: {e}")))?;
        return f(&mut d);
    }
    if !head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return f(&mut buffered);
    }
    // xz: lzma-rs decompresses into a writer, so a thread feeds a pipe that `f` reads.
    let (mut rd, wr) = std::io::pipe().map_err(|e| bad(format!("pipe: {e}")))?;
    std::thread::scope(|s| {
        let feeder = s.spawn(move || {
            let mut wr = std::io::BufWriter::new(wr);
            lzma_rs::xz_decompress(&mut buffered, &mut wr)
                .map_err(|e| e.to_string())
                .and_then(|()| std::io::Write::flush(&mut wr).map_err(|e| e.to_string()))
        });
        let r = f(&mut rd);
        drop(rd);
        let fed = feeder
            .join()
            .unwrap_or_else(|_| Err("decompressor panicked".into()));
        match (r, fed) {
            (Ok(_), Err(e)) => Err(bad(format!("read xz context: {e}"))),
            (r, _) => r,
        }
    })
}

impl BuildContext {
    /// Reads a tar context (plain or compressed) as it streams in: held in memory while its
    /// files add up to at most [`MEMORY_CONTEXT_LIMIT`], else unpacked on disk under
    /// `scratch`. A context in memory is given a folder in `memory` (tmpfs) when it has room
    /// for it, else under `scratch`; its files are written there only when a step needs them.
    pub fn from_tar_in(
        reader: impl Read + Send,
        scratch: &Path,
        memory: Option<&Path>,
    ) -> Result<BuildContext, BuildError> {
        match memory {
            Some(memory) => Self::from_tar_limited(reader, scratch, memory, MEMORY_CONTEXT_LIMIT),
            None => BuildContext::from_tar(reader, scratch),
        }
    }

    /// [`BuildContext::from_tar_in`] with the memory limit given.
    pub(crate) fn from_tar_limited(
        reader: impl Read + Send,
        scratch: &Path,
        memory: &Path,
        limit: u64,
    ) -> Result<BuildContext, BuildError> {
        decompressed(reader, |stream| {
            let mut target = Target::Memory(MemoryTree::new());
            ingest(stream, &mut target, scratch, limit)?;
            match target {
                Target::Memory(mut tree) => {
                    let fits = free_bytes(memory).is_some_and(|free| free > 4 * tree.bytes());
                    let temp = temp_in(if fits { memory } else { scratch })?;
                    tree.place(temp.path());
                    BuildContext::finish(temp, Some(tree))
                }
                Target::Disk(d) => BuildContext::finish(d.temp, None),
            }
        })
    }

    /// Unpacks a tar (plain or compressed) context into a new directory under `scratch`.
    /// Entries whose names leave the context (`../x`, absolute), hard links to outside, and
    /// device nodes are refused.
    pub fn from_tar(reader: impl Read + Send, scratch: &Path) -> Result<BuildContext, BuildError> {
        decompressed(reader, |stream| {
            let mut target = Target::Disk(DiskTree::new(scratch)?);
            ingest(stream, &mut target, scratch, 0)?;
            match target {
                Target::Disk(d) => BuildContext::finish(d.temp, None),
                Target::Memory(_) => unreachable!("a disk context stays on disk"),
            }
        })
    }

    fn finish(
        temp: tempfile::TempDir,
        tree: Option<MemoryTree>,
    ) -> Result<BuildContext, BuildError> {
        let mut ctx = BuildContext {
            root: temp.path().to_path_buf(),
            ignore: DockerIgnore::default(),
            tree,
            written: Mutex::new(false),
            _temp: Some(temp),
        };
        ctx.ignore = read_ignore(ctx.fs(), &ctx.root)?;
        Ok(ctx)
    }

    /// Uses a directory as the context (read only).
    pub fn from_dir(dir: &Path) -> Result<BuildContext, BuildError> {
        if !dir.is_dir() {
            return Err(bad(format!("context {} is not a directory", dir.display())));
        }
        let ignore = read_ignore(&HostFs, dir)?;
        Ok(BuildContext {
            root: dir.to_path_buf(),
            ignore,
            tree: None,
            written: Mutex::new(true),
            _temp: None,
        })
    }

    /// The folder of a tar context, now the caller's to delete (None for a directory
    /// context, which is not ours).
    pub fn into_owned_dir(self) -> Option<PathBuf> {
        self._temp.map(|t| t.keep())
    }

    /// Where sources are: the files are there once [`BuildContext::materialize`] has run.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How to read the context's files before they are written out.
    pub fn fs(&self) -> &dyn SrcFs {
        match &self.tree {
            Some(t) => t,
            None => &HostFs,
        }
    }

    /// Whether the context is still only in memory (nothing written under `root`).
    pub fn in_memory(&self) -> bool {
        self.tree.is_some() && !self.written.lock().map(|w| *w).unwrap_or(true)
    }

    /// Writes a context held in memory out to `root` (once; later calls return at once).
    pub fn materialize(&self) -> Result<(), BuildError> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        let mut written = self
            .written
            .lock()
            .map_err(|_| bad("the context lock is poisoned"))?;
        if !*written {
            tree.write_out(&self.root)
                .map_err(|e| bad(format!("write the context out: {e}")))?;
            *written = true;
        }
        Ok(())
    }

    pub fn ignore(&self) -> &DockerIgnore {
        &self.ignore
    }

    /// Reads the Dockerfile (`name` relative to the context; Docker also tries lower case
    /// `dockerfile` when the default name is missing).
    pub fn dockerfile(&self, name: &str) -> Result<String, BuildError> {
        let name = if name.is_empty() { "Dockerfile" } else { name };
        let fs = self.fs();
        let path = resolve_in_fs(fs, &self.root, name, Scope::Strict, true)
            .map_err(|e| bad(e.to_string()))?;
        let read = fs.open(&path).and_then(|mut f| {
            let mut b = Vec::new();
            f.read_to_end(&mut b).map(|_| b)
        });
        match read {
            Ok(b) => String::from_utf8(b)
                .map_err(|_| bad(format!("the Dockerfile ({name}) is not valid UTF-8"))),
            Err(_)
                if name == "Dockerfile"
                    && fs
                        .lstat(&self.root.join("dockerfile"))
                        .is_ok_and(|m| m.is_file()) =>
            {
                self.dockerfile("dockerfile")
            }
            Err(_) => Err(BuildError::Other(format!(
                "Cannot locate specified Dockerfile: {name}"
            ))),
        }
    }
}

/// Where a tar's entries go: the tree in memory, or a directory on disk.
enum Target {
    Memory(MemoryTree),
    Disk(DiskTree),
}

/// A tar context being unpacked into a private directory.
struct DiskTree {
    temp: tempfile::TempDir,
    root: PathBuf,
    /// Directories already made (relative).
    dirs: HashSet<PathBuf>,
}

impl DiskTree {
    fn new(scratch: &Path) -> Result<DiskTree, BuildError> {
        let temp = temp_in(scratch)?;
        Ok(DiskTree {
            root: temp.path().to_path_buf(),
            temp,
            dirs: HashSet::new(),
        })
    }

    /// The tree so far written into a new directory under `scratch`, to go on unpacking there.
    fn spill(tree: &MemoryTree, scratch: &Path) -> Result<DiskTree, BuildError> {
        let mut d = DiskTree::new(scratch)?;
        tree.write_out(&d.root)
            .map_err(|e| bad(format!("write the context out: {e}")))?;
        d.dirs = tree.dirs().cloned().collect();
        Ok(d)
    }

    fn parents(&mut self, rel: &Path) -> std::io::Result<()> {
        if let Some(parent) = rel.parent()
            && !parent.as_os_str().is_empty()
            && !self.dirs.contains(parent)
        {
            std::fs::create_dir_all(self.root.join(parent))?;
            for a in parent.ancestors().filter(|a| !a.as_os_str().is_empty()) {
                self.dirs.insert(a.to_path_buf());
            }
        }
        Ok(())
    }
}

fn entry_target(entry: &tar::Entry<'_, impl Read>) -> std::io::Result<PathBuf> {
    Ok(entry.link_name()?.unwrap_or_default().into_owned())
}

/// Reads every entry of a context tar into `target`. Every name is checked (no absolute
/// paths, no `..` out of the root), and no entry may go through a symlink an earlier entry
/// made (the only symlinks are the tar's own), so nothing lands outside. Owners are not
/// applied (COPY sets its own); modes and file mtimes are. A tree in memory that grows past
/// `limit` bytes of files moves to disk under `scratch`.
fn ingest(
    stream: &mut dyn Read,
    target: &mut Target,
    scratch: &Path,
    limit: u64,
) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive = tar::Archive::new(stream);
    let mut links: HashSet<PathBuf> = HashSet::new();
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("read context tar: {e}")))?;
    let through_link = |links: &HashSet<PathBuf>, rel: &Path| {
        rel.ancestors()
            .skip(1)
            .any(|a| !a.as_os_str().is_empty() && links.contains(a))
    };
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("read context tar: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("bad entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        check_entry_name(&name)?;
        let rel = PathBuf::from(clean(&name));
        if rel.as_os_str() == "." {
            continue;
        }
        if through_link(&links, &rel) {
            return Err(bad(format!(
                "entry {name:?} is outside the context (through a symlink)"
            )));
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let mtime = header.mtime().ok();
        let io = |e: std::io::Error| bad(format!("entry {name:?}: {e}"));
        if kind.is_block_special() || kind.is_character_special() {
            return Err(bad(format!("entry {name:?} is a device node")));
        }
        let is_file = kind.is_file()
            || kind == tar::EntryType::Continuous
            || kind == tar::EntryType::GNUSparse;
        if !(kind.is_dir() || kind.is_symlink() || kind.is_hard_link() || is_file) {
            // FIFOs and PAX/GNU extension headers need no file in a context.
            continue;
        }
        if !kind.is_dir() {
            // A file, link or symlink replaces whatever an earlier entry put there.
            links.remove(&rel);
        }
        let hard_target = if kind.is_hard_link() {
            let t = entry_target(&entry).map_err(io)?;
            let t = t.to_string_lossy().into_owned();
            check_entry_name(&t)?;
            let t = PathBuf::from(clean(&t));
            if through_link(&links, &t) || links.contains(&t) {
                return Err(bad(format!("entry {name:?} links outside the context")));
            }
            Some(t)
        } else {
            None
        };
        match target {
            Target::Memory(tree) => {
                if kind.is_dir() {
                    tree.dir(&rel, mode).map_err(io)?;
                } else if kind.is_symlink() {
                    tree.symlink(&rel, &entry_target(&entry).map_err(io)?)
                        .map_err(io)?;
                    links.insert(rel);
                } else if let Some(t) = hard_target {
                    tree.hard_link(&rel, &t).map_err(io)?;
                } else {
                    let size = entry.size();
                    tree.file(&rel, mode, mtime, size, &mut entry).map_err(io)?;
                    if tree.bytes() > limit {
                        *target = Target::Disk(DiskTree::spill(tree, scratch)?);
                    }
                }
            }
            Target::Disk(d) => {
                d.parents(&rel).map_err(io)?;
                let path = d.root.join(&rel);
                if kind.is_dir() {
                    if !path.is_dir() {
                        let _ = std::fs::remove_file(&path);
                        std::fs::create_dir(&path).map_err(io)?;
                    }
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                        .map_err(io)?;
                    d.dirs.insert(rel);
                    continue;
                }
                if let Ok(m) = std::fs::symlink_metadata(&path) {
                    if m.is_dir() {
                        std::fs::remove_dir_all(&path).map_err(io)?;
                    } else {
                        std::fs::remove_file(&path).map_err(io)?;
                    }
                }
                if kind.is_symlink() {
                    std::os::unix::fs::symlink(entry_target(&entry).map_err(io)?, &path)
                        .map_err(io)?;
                    links.insert(rel);
                } else if let Some(t) = hard_target {
                    std::fs::hard_link(d.root.join(t), &path).map_err(io)?;
                } else {
                    let mut f = crate::fsutil::create_new_file(&path).map_err(io)?;
                    std::io::copy(&mut entry, &mut f).map_err(io)?;
                    f.set_permissions(std::fs::Permissions::from_mode(mode))
                        .map_err(io)?;
                    if let Some(t) = mtime {
                        let _ = f.set_modified(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_entry_name(name: &str) -> Result<(), BuildError> {
    let p = Path::new(name);
    if p.is_absolute() || clean(name).starts_with("..") {
        return Err(bad(format!("entry {name:?} is outside the context")));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) && clean(name).starts_with("..") {
        return Err(bad(format!("entry {name:?} is outside the context")));
    }
    Ok(())
}

fn read_ignore(fs: &dyn SrcFs, root: &Path) -> Result<DockerIgnore, BuildError> {
    let path = root.join(".dockerignore");
    match fs.lstat(&path) {
        Ok(m) if m.is_file() => {
            let mut text = String::new();
            fs.open(&path)
                .and_then(|mut f| f.read_to_string(&mut text))
                .map_err(|e| bad(format!("read .dockerignore: {e}")))?;
            DockerIgnore::parse(&text).map_err(|e| bad(e.to_string()))
        }
        _ => Ok(DockerIgnore::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the raw name like a hostile client would.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn append_file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }

    fn append_link(
        b: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        name: &str,
        target: impl AsRef<Path>,
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }

    /// A hostile tar: a symlink `link` to `outside`, then the file `link/pwned` written
    /// through it.
    fn file_through_symlink(outside: &Path) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        append_link(&mut b, tar::EntryType::Symlink, "link", outside);
        append_file(&mut b, "link/pwned", b"x");
        b.into_inner().unwrap()
    }

    /// A hostile tar: a symlink `out` to `outside`, then a hard link `copy` to `out/FILE`.
    fn hard_link_through_symlink(outside: &Path, file: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        append_link(&mut b, tar::EntryType::Symlink, "out", outside);
        append_link(&mut b, tar::EntryType::Link, "copy", format!("out/{file}"));
        b.into_inner().unwrap()
    }

    /// `COPY SOURCES DEST` over a context, with its `.dockerignore` when `ignore`.
    fn copy_spec<'a>(
        ctx: &'a BuildContext,
        sources: &[&str],
        dest: &str,
        ignore: bool,
    ) -> crate::copy::CopySpec<'a> {
        crate::copy::CopySpec {
            keyword: "COPY",
            src_root: ctx.root(),
            fs: ctx.fs(),
            scope: Scope::Strict,
            ignore: ignore.then(|| ctx.ignore()),
            exclude: None,
            sources: sources
                .iter()
                .map(|s| crate::copy::Source::Path((*s).into()))
                .collect(),
            dest: dest.into(),
            owner: None,
            chmod: None,
        }
    }

    #[test]
    fn a_plain_context_unpacks() {
        let scratch = tempfile::tempdir().unwrap();
        let t = tar_with(&[("Dockerfile", b"FROM scratch\n"), ("dir/a.txt", b"a")]);
        let ctx = BuildContext::from_tar(&t[..], scratch.path()).unwrap();
        assert_eq!(ctx.dockerfile("").unwrap(), "FROM scratch\n");
        assert_eq!(std::fs::read(ctx.root().join("dir/a.txt")).unwrap(), b"a");
    }

    #[test]
    fn escaping_entries_are_refused() {
        let scratch = tempfile::tempdir().unwrap();
        for name in ["../evil", "a/../../evil", "/etc/evil"] {
            let t = tar_with(&[(name, b"x")]);
            let e = BuildContext::from_tar(&t[..], scratch.path()).unwrap_err();
            assert!(e.to_string().contains("outside the context"), "{name}: {e}");
        }
        assert!(!scratch.path().join("evil").exists());
    }

    #[test]
    fn writing_through_a_symlink_out_of_the_context_is_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let t = file_through_symlink(outside.path());
        assert!(BuildContext::from_tar(&t[..], scratch.path()).is_err());
        assert!(!outside.path().join("pwned").exists());
    }

    #[test]
    fn small_tar_contexts_go_to_the_memory_folder() {
        let disk = tempfile::tempdir().unwrap();
        let mem = tempfile::tempdir_in("/dev/shm").unwrap();
        let t = tar_with(&[("Dockerfile", b"FROM scratch\n")]);
        let ctx = BuildContext::from_tar_in(&t[..], disk.path(), Some(mem.path())).unwrap();
        assert!(
            ctx.root().starts_with(mem.path()),
            "{}",
            ctx.root().display()
        );
        assert_eq!(ctx.dockerfile("").unwrap(), "FROM scratch\n");
        let dir = ctx.into_owned_dir().unwrap();
        assert!(dir.is_dir());
        std::fs::remove_dir_all(dir).unwrap();
        let ctx = BuildContext::from_tar_in(&t[..], disk.path(), None).unwrap();
        assert!(ctx.root().starts_with(disk.path()));
    }

    #[test]
    fn hard_links_out_of_the_context_are_refused() {
        let scratch = tempfile::tempdir().unwrap();
        for target in ["../../etc/passwd", "/etc/passwd", "dir/../../x"] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            h.set_mode(0o644);
            let raw = &mut h.as_old_mut().linkname;
            raw[..target.len()].copy_from_slice(target.as_bytes());
            let name = b"hl";
            h.as_old_mut().name[..2].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
            let t = b.into_inner().unwrap();
            let e = BuildContext::from_tar(&t[..], scratch.path()).unwrap_err();
            assert!(
                e.to_string().contains("outside the context"),
                "{target}: {e}"
            );
        }
        // A link through a symlink the tar made is refused too.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let t = hard_link_through_symlink(outside.path(), "secret");
        assert!(BuildContext::from_tar(&t[..], scratch.path()).is_err());
    }

    fn sample_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in [
            ("Dockerfile", &b"FROM scratch\nCOPY . /\n"[..], 0o644),
            ("dir/a.txt", b"a", 0o600),
            ("dir/sub/b.sh", b"#!/bin/sh\necho b\n", 0o755),
            (".dockerignore", b"*.log\n", 0o644),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, name, data).unwrap();
        }
        append_link(&mut b, tar::EntryType::Symlink, "link", "dir/a.txt");
        append_link(&mut b, tar::EntryType::Link, "hard", "dir/a.txt");
        b.into_inner().unwrap()
    }

    /// The content hash of `COPY <sources> /dst/` over a context, as the builder computes it.
    fn copy_hash(ctx: &BuildContext, sources: &[&str]) -> String {
        let spec = copy_spec(ctx, sources, "/dst/", true);
        let items = spec.resolve().unwrap();
        spec.content_hash(&items).unwrap()
    }

    #[test]
    fn a_context_in_memory_hashes_like_the_same_files_on_disk_and_writes_out_on_demand() {
        let disk = tempfile::tempdir().unwrap();
        let mem = tempfile::tempdir_in("/dev/shm").unwrap();
        let t = sample_tar();
        let on_disk = BuildContext::from_tar(&t[..], disk.path()).unwrap();
        let in_mem = BuildContext::from_tar_in(&t[..], disk.path(), Some(mem.path())).unwrap();
        assert!(in_mem.in_memory() && !on_disk.in_memory());
        // Nothing is written until a step needs the files.
        assert_eq!(std::fs::read_dir(in_mem.root()).unwrap().count(), 0);
        assert_eq!(in_mem.dockerfile("").unwrap(), "FROM scratch\nCOPY . /\n");
        assert_eq!(
            in_mem.ignore().matches("x.log"),
            on_disk.ignore().matches("x.log")
        );
        for sources in [
            &["."][..],
            &["dir"],
            &["dir/*/b.sh", "link"],
            &["d*", "hard"],
        ] {
            assert_eq!(
                copy_hash(&in_mem, sources),
                copy_hash(&on_disk, sources),
                "{sources:?}"
            );
        }
        let err = |ctx: &BuildContext, src: &str| {
            let spec = copy_spec(ctx, &[src], "/dst/", true);
            spec.resolve().unwrap_err().to_string()
        };
        assert_eq!(err(&in_mem, "nope"), err(&on_disk, "nope"));
        assert_eq!(err(&in_mem, "../x"), err(&on_disk, "../x"));
        // Written out: the same files, modes and link as the disk unpack.
        in_mem.materialize().unwrap();
        in_mem.materialize().unwrap();
        assert!(!in_mem.in_memory());
        use std::os::unix::fs::PermissionsExt;
        for rel in ["Dockerfile", "dir/a.txt", "dir/sub/b.sh", "hard"] {
            let (a, b) = (in_mem.root().join(rel), on_disk.root().join(rel));
            assert_eq!(
                std::fs::read(&a).unwrap(),
                std::fs::read(&b).unwrap(),
                "{rel}"
            );
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&a), mode(&b), "{rel}");
        }
        assert_eq!(
            std::fs::read_link(in_mem.root().join("link")).unwrap(),
            Path::new("dir/a.txt")
        );
        let dir = in_mem.into_owned_dir().unwrap();
        assert!(dir.starts_with(mem.path()));
    }

    #[test]
    fn a_context_past_the_memory_limit_moves_to_disk() {
        let disk = tempfile::tempdir().unwrap();
        let mem = tempfile::tempdir_in("/dev/shm").unwrap();
        let t = sample_tar();
        let small = BuildContext::from_tar_in(&t[..], disk.path(), Some(mem.path())).unwrap();
        let ctx = BuildContext::from_tar_limited(&t[..], disk.path(), mem.path(), 4).unwrap();
        assert!(!ctx.in_memory());
        assert!(
            ctx.root().starts_with(disk.path()),
            "{}",
            ctx.root().display()
        );
        assert_eq!(
            std::fs::read(ctx.root().join("dir/sub/b.sh")).unwrap(),
            b"#!/bin/sh\necho b\n"
        );
        assert_eq!(std::fs::read(ctx.root().join("hard")).unwrap(), b"a");
        assert_eq!(copy_hash(&ctx, &["."]), copy_hash(&small, &["."]));
        // Empty files count too: a tar of many of them cannot hold memory unbounded.
        let empties: Vec<(String, &[u8])> = (0..100).map(|i| (format!("e{i}"), &b""[..])).collect();
        let refs: Vec<(&str, &[u8])> = empties.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        let t = tar_with(&refs);
        let many =
            BuildContext::from_tar_limited(&t[..], disk.path(), mem.path(), 512 * 50).unwrap();
        assert!(!many.in_memory() && many.root().join("e99").is_file());
        // Entries after the switch are still checked.
        let mut b = tar::Builder::new(Vec::new());
        append_file(&mut b, "big", &[0u8; 10]);
        append_link(&mut b, tar::EntryType::Symlink, "out", "/etc");
        append_file(&mut b, "out/pwned", b"x");
        let t = b.into_inner().unwrap();
        let e = BuildContext::from_tar_limited(&t[..], disk.path(), mem.path(), 4).unwrap_err();
        assert!(e.to_string().contains("outside the context"), "{e}");
        assert!(!Path::new("/etc/pwned").exists());
    }

    #[test]
    fn compressed_contexts_are_read_like_docker_does() {
        use std::io::Write;
        let disk = tempfile::tempdir().unwrap();
        let mem = tempfile::tempdir_in("/dev/shm").unwrap();
        let t = sample_tar();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&t).unwrap();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &t[..], &mut xz).unwrap();
        let zst = zstd::encode_all(&t[..], 1).unwrap();
        let plain = BuildContext::from_tar_in(&t[..], disk.path(), Some(mem.path())).unwrap();
        let want = copy_hash(&plain, &["."]);
        for (what, bytes) in [
            ("gzip", gz.finish().unwrap()),
            ("bzip2", bz.finish().unwrap()),
            ("xz", xz.clone()),
            ("zstd", zst),
        ] {
            for memory in [Some(mem.path()), None] {
                let ctx = BuildContext::from_tar_in(&bytes[..], disk.path(), memory)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(
                    ctx.dockerfile("").unwrap(),
                    "FROM scratch\nCOPY . /\n",
                    "{what}"
                );
                assert_eq!(copy_hash(&ctx, &["."]), want, "{what}");
            }
        }
        // A truncated xz stream is an error, not a shorter context.
        let cut = &xz[..xz.len() / 2];
        let e = BuildContext::from_tar_in(cut, disk.path(), Some(mem.path())).unwrap_err();
        assert!(e.to_string().contains("xz"), "{e}");
    }

    #[test]
    fn hostile_tars_are_refused_in_memory_too() {
        let disk = tempfile::tempdir().unwrap();
        let mem = tempfile::tempdir_in("/dev/shm").unwrap();
        let load = |t: &[u8]| BuildContext::from_tar_in(t, disk.path(), Some(mem.path()));
        for name in ["../evil", "a/../../evil", "/etc/evil"] {
            let e = load(&tar_with(&[(name, b"x")])).unwrap_err();
            assert!(e.to_string().contains("outside the context"), "{name}: {e}");
        }
        let outside = tempfile::tempdir().unwrap();
        let e = load(&file_through_symlink(outside.path())).unwrap_err();
        assert!(e.to_string().contains("through a symlink"), "{e}");
        assert!(load(&hard_link_through_symlink(Path::new("/etc"), "passwd")).is_err());
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_size(0);
        h.set_mode(0o644);
        b.append_data(&mut h, "null", &[][..]).unwrap();
        let e = load(&b.into_inner().unwrap()).unwrap_err();
        assert!(e.to_string().contains("device node"), "{e}");
        // A symlink in the context pointing out of it: COPY refuses to follow it.
        let mut b = tar::Builder::new(Vec::new());
        append_link(&mut b, tar::EntryType::Symlink, "etc", "/etc");
        let ctx = load(&b.into_inner().unwrap()).unwrap();
        let e = copy_spec(&ctx, &["etc/passwd"], "/x", false)
            .resolve()
            .unwrap_err();
        assert!(e.to_string().contains("outside the build context"), "{e}");
        assert_eq!(std::fs::read_dir(mem.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_dockerfile_is_named() {
        let scratch = tempfile::tempdir().unwrap();
        let t = tar_with(&[("x", b"")]);
        let ctx = BuildContext::from_tar(&t[..], scratch.path()).unwrap();
        let e = ctx.dockerfile("Dockerfile.dev").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot locate specified Dockerfile: Dockerfile.dev"
        );
        assert!(ctx.dockerfile("../Dockerfile").is_err());
    }
}
