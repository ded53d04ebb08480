//! Resolving mount targets inside the root filesystem: symlinks are followed as if the rootfs
//! were `/` (openat2 RESOLVE_IN_ROOT), so a hostile image cannot point a mount outside it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags, mkdirat, openat2};

fn open(root: impl AsFd, rel: &Path, extra: OFlags) -> io::Result<OwnedFd> {
    Ok(openat2(
        root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC | extra,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// `dest` (absolute, as seen in the container) as a path relative to the root.
pub(crate) fn relative(dest: &Path) -> PathBuf {
    clamp(dest)
}

/// Opens `dest` (absolute, as seen in the container) inside `root`, creating what is missing:
/// directories, and an empty file for the last component when `file` is true. A dangling
/// symlink on the way is followed as the kernel would inside the root: its target is created.
pub(crate) fn create_in_root(
    root: impl AsFd + Copy,
    dest: &Path,
    file: bool,
) -> io::Result<OwnedFd> {
    let mut path = relative(dest);
    // the common case: only the last component is missing (and is not a dangling symlink)
    match open(root, &path, OFlags::empty()) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(fd) = create_last(root, &path, file)? {
        return Ok(fd);
    }
    for _ in 0..40 {
        match open(root, &path, OFlags::empty()) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        let comps: Vec<PathBuf> = path
            .components()
            .map(|c| PathBuf::from(c.as_os_str()))
            .collect();
        let mut prefix = PathBuf::new();
        let mut redirected = None;
        for (i, c) in comps.iter().enumerate() {
            let next = prefix.join(c);
            match open(root, &next, OFlags::empty()) {
                Ok(_) => {
                    prefix = next;
                    continue;
                }
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                Err(_) => {}
            }
            let parent = parent_dir(&open(
                root,
                if prefix.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    &prefix
                },
                OFlags::empty(),
            )?)?;
            if let Ok(target) = rustix::fs::readlinkat(&parent, c.as_path(), Vec::new()) {
                let target = PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes()));
                let base = if target.is_absolute() {
                    PathBuf::new()
                } else {
                    prefix.clone()
                };
                let mut joined = clamp(&base.join(target));
                for rest in &comps[i + 1..] {
                    joined.push(rest);
                }
                redirected = Some(joined);
                break;
            }
            let last = i + 1 == comps.len();
            let made = if last && file {
                rustix::fs::openat(
                    &parent,
                    c.as_path(),
                    OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                    Mode::from_raw_mode(0o644),
                )
                .map(drop)
            } else {
                mkdirat(&parent, c.as_path(), Mode::from_raw_mode(0o755))
            };
            match made {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            prefix = next;
        }
        match redirected {
            Some(p) => path = p,
            None => return open(root, &path, OFlags::empty()),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Creates the last component of `path` when its parent exists, and opens it (O_PATH, not
/// following a symlink: nothing else runs in the container yet). None when the parent is
/// missing too or something (such as a dangling symlink) already has the name.
fn create_last(root: impl AsFd, path: &Path, file: bool) -> io::Result<Option<OwnedFd>> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(None);
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let dir = match open_dir(root, parent) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let made = if file {
        rustix::fs::openat(
            &dir,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o644),
        )
        .map(drop)
    } else {
        mkdirat(&dir, name, Mode::from_raw_mode(0o755))
    };
    match made {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    Ok(Some(rustix::fs::openat(
        &dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?))
}

/// Opens the directory `rel` inside `root` for real (usable with mkdirat, mknodat, ...).
pub(crate) fn open_dir(root: impl AsFd, rel: &Path) -> io::Result<OwnedFd> {
    Ok(openat2(
        root,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// Lexical clean-up with `..` stopping at the root, as RESOLVE_IN_ROOT does.
fn clamp(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// An O_PATH fd cannot be used with mkdirat; reopen the directory for real.
fn parent_dir(p: &OwnedFd) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        p,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The path through which mount(2) reaches the object `fd` refers to.
pub(crate) fn proc_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_cannot_lead_out_of_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.path().join("up")).unwrap();
        let rfd =
            rustix::fs::open(root.path(), OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        create_in_root(&rfd, Path::new("/escape/sub"), false).unwrap();
        create_in_root(&rfd, Path::new("/up/f"), true).unwrap();
        // The absolute symlink was followed as if root were "/": the directory is inside.
        assert!(!outside.path().join("sub").exists());
        assert!(
            root.path()
                .join(outside.path().strip_prefix("/").unwrap())
                .join("sub")
                .is_dir()
        );
        assert!(root.path().join("f").is_file());
        // the fast path: only the last component is missing
        std::fs::create_dir(root.path().join("d")).unwrap();
        create_in_root(&rfd, Path::new("/d/new"), false).unwrap();
        create_in_root(&rfd, Path::new("/d/file"), true).unwrap();
        assert!(root.path().join("d/new").is_dir());
        assert!(root.path().join("d/file").is_file());
        // a dangling symlink as the last component is followed inside the root
        std::os::unix::fs::symlink("/made/here", root.path().join("d/dl")).unwrap();
        create_in_root(&rfd, Path::new("/d/dl"), false).unwrap();
        assert!(root.path().join("made/here").is_dir());
        std::os::unix::fs::symlink(outside.path().join("x"), root.path().join("d/dl2")).unwrap();
        create_in_root(&rfd, Path::new("/d/dl2"), true).unwrap();
        assert!(!outside.path().join("x").exists());
    }
}
