//! The build context: a tar stream (hostile input) unpacked into a private directory, or a
//! directory used in place, plus its `.dockerignore`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::dockerignore::{DockerIgnore, clean};
use crate::error::BuildError;
use crate::fsutil::{Scope, resolve_in};

/// A build context ready to read sources from.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    ignore: DockerIgnore,
    _temp: Option<tempfile::TempDir>,
}

/// Tar contexts up to this size (as sent) are unpacked on tmpfs.
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

impl BuildContext {
    /// Unpacks a tar context like [`BuildContext::from_tar`], into `memory` (a tmpfs folder)
    /// when the whole tar fits in [`MEMORY_CONTEXT_LIMIT`] and the tmpfs has room for it, else
    /// under `scratch` on disk. Files on tmpfs cost microseconds where this disk takes most of
    /// a millisecond per file, and a context is thrown away after its build.
    pub fn from_tar_in(
        mut reader: impl Read,
        scratch: &Path,
        memory: Option<&Path>,
    ) -> Result<BuildContext, BuildError> {
        let Some(memory) = memory else {
            return BuildContext::from_tar(reader, scratch);
        };
        let mut head = Vec::new();
        (&mut reader)
            .take(MEMORY_CONTEXT_LIMIT + 1)
            .read_to_end(&mut head)
            .map_err(|e| bad(format!("read context: {e}")))?;
        let fits = head.len() as u64 <= MEMORY_CONTEXT_LIMIT
            && free_bytes(memory).is_some_and(|free| free > 4 * head.len() as u64);
        if fits {
            BuildContext::from_tar(&head[..], memory)
        } else {
            BuildContext::from_tar(std::io::Cursor::new(head).chain(reader), scratch)
        }
    }

    /// Unpacks a tar (optionally gzip-compressed) context into a new directory under `scratch`.
    /// Entries whose names leave the context (`../x`, absolute), hard links to outside, and
    /// device nodes are refused.
    pub fn from_tar(reader: impl Read, scratch: &Path) -> Result<BuildContext, BuildError> {
        std::fs::create_dir_all(scratch)
            .map_err(|e| bad(format!("create {}: {e}", scratch.display())))?;
        let temp = tempfile::Builder::new()
            .prefix("context-")
            .tempdir_in(scratch)
            .map_err(|e| bad(format!("create context directory: {e}")))?;
        let mut buffered = BufReader::new(reader);
        let head = buffered
            .fill_buf()
            .map_err(|e| bad(format!("read context: {e}")))?;
        let gz = head.starts_with(&[0x1f, 0x8b]);
        let stream: Box<dyn Read> = if gz {
            Box::new(flate2::read::GzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let root = temp.path().to_path_buf();
        unpack(stream, &root)?;
        let ignore = read_ignore(&root)?;
        Ok(BuildContext {
            root,
            ignore,
            _temp: Some(temp),
        })
    }

    /// Uses a directory as the context (read only).
    pub fn from_dir(dir: &Path) -> Result<BuildContext, BuildError> {
        if !dir.is_dir() {
            return Err(bad(format!("context {} is not a directory", dir.display())));
        }
        let ignore = read_ignore(dir)?;
        Ok(BuildContext {
            root: dir.to_path_buf(),
            ignore,
            _temp: None,
        })
    }

    /// The unpacked directory of a tar context, now the caller's to delete (None for a
    /// directory context, which is not ours).
    pub fn into_owned_dir(self) -> Option<PathBuf> {
        self._temp.map(|t| t.keep())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn ignore(&self) -> &DockerIgnore {
        &self.ignore
    }

    /// Reads the Dockerfile (`name` relative to the context; Docker also tries lower case
    /// `dockerfile` when the default name is missing).
    pub fn dockerfile(&self, name: &str) -> Result<String, BuildError> {
        let name = if name.is_empty() { "Dockerfile" } else { name };
        let path =
            resolve_in(&self.root, name, Scope::Strict, true).map_err(|e| bad(e.to_string()))?;
        match std::fs::read(&path) {
            Ok(b) => String::from_utf8(b)
                .map_err(|_| bad(format!("the Dockerfile ({name}) is not valid UTF-8"))),
            Err(_) if name == "Dockerfile" && self.root.join("dockerfile").is_file() => {
                self.dockerfile("dockerfile")
            }
            Err(_) => Err(BuildError::Other(format!(
                "Cannot locate specified Dockerfile: {name}"
            ))),
        }
    }
}

/// Unpacks a context tar into the empty directory `root`. Every name is checked (no absolute
/// paths, no `..` out of the root), and no entry may go through a symlink an earlier entry
/// made (the only symlinks in `root` are the tar's own), so nothing lands outside. Owners are
/// not applied (COPY sets its own); modes and mtimes are.
fn unpack(stream: impl Read, root: &Path) -> Result<(), BuildError> {
    use std::collections::HashSet;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut archive = tar::Archive::new(stream);
    let mut links: HashSet<PathBuf> = HashSet::new();
    let mut dirs: HashSet<PathBuf> = HashSet::new();
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
        let path = root.join(&rel);
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let mtime = header.mtime().ok();
        if let Some(parent) = rel.parent()
            && !parent.as_os_str().is_empty()
            && !dirs.contains(parent)
        {
            std::fs::create_dir_all(root.join(parent))
                .map_err(|e| bad(format!("entry {name:?}: {e}")))?;
            for a in parent.ancestors().filter(|a| !a.as_os_str().is_empty()) {
                dirs.insert(a.to_path_buf());
            }
        }
        let io = |e: std::io::Error| bad(format!("entry {name:?}: {e}"));
        if kind.is_dir() {
            if !path.is_dir() {
                let _ = std::fs::remove_file(&path);
                std::fs::create_dir(&path).map_err(io)?;
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
            dirs.insert(rel);
            continue;
        }
        // A file, link or symlink replaces whatever an earlier entry put there.
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if m.is_dir() {
                std::fs::remove_dir_all(&path).map_err(io)?;
            } else {
                std::fs::remove_file(&path).map_err(io)?;
            }
            links.remove(&rel);
        }
        if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(io)?
                .unwrap_or_default()
                .into_owned();
            std::os::unix::fs::symlink(&target, &path).map_err(io)?;
            links.insert(rel);
        } else if kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(io)?
                .unwrap_or_default()
                .into_owned();
            let target_s = target.to_string_lossy().into_owned();
            check_entry_name(&target_s)?;
            let target_rel = PathBuf::from(clean(&target_s));
            if through_link(&links, &target_rel) || links.contains(&target_rel) {
                return Err(bad(format!("entry {name:?} links outside the context")));
            }
            std::fs::hard_link(root.join(target_rel), &path).map_err(io)?;
        } else if kind.is_file()
            || kind == tar::EntryType::Continuous
            || kind == tar::EntryType::GNUSparse
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(io)?;
            std::io::copy(&mut entry, &mut f).map_err(io)?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(io)?;
            if let Some(t) = mtime {
                let _ = f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t));
            }
        } else if kind.is_block_special() || kind.is_character_special() {
            return Err(bad(format!("entry {name:?} is a device node")));
        }
        // FIFOs and PAX/GNU extension headers need no file in a context.
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

fn read_ignore(root: &Path) -> Result<DockerIgnore, BuildError> {
    let path = root.join(".dockerignore");
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {
            let text = std::fs::read_to_string(&path)
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
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "link", outside.path()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "link/pwned", &b"x"[..]).unwrap();
        let t = b.into_inner().unwrap();
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
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "out", outside.path()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        b.append_link(&mut h, "copy", "out/secret").unwrap();
        let t = b.into_inner().unwrap();
        assert!(BuildContext::from_tar(&t[..], scratch.path()).is_err());
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
