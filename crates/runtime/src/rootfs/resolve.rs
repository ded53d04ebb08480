//! Resolving mount targets inside the root filesystem: symlinks are followed as if the rootfs
//! were `/` (openat2 RESOLVE_IN_ROOT), so a hostile image cannot point a mount outside it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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

fn relative(dest: &Path) -> PathBuf {
    dest.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// Opens `dest` (absolute, as seen in the container) inside `root`, creating it first when
/// missing: a directory, or an empty file when `file` is true.
pub(crate) fn create_in_root(
    root: impl AsFd + Copy,
    dest: &Path,
    file: bool,
) -> io::Result<OwnedFd> {
    let rel = relative(dest);
    if rel.as_os_str().is_empty() {
        return open(root, Path::new("."), OFlags::empty());
    }
    match open(root, &rel, OFlags::empty()) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let parent = create_in_root(root, rel.parent().unwrap_or(Path::new("")), false)?;
    let name = rel.file_name().unwrap_or_default();
    let made = if file {
        rustix::fs::openat(
            &parent_dir(&parent)?,
            name,
            OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o644),
        )
        .map(drop)
    } else {
        mkdirat(&parent_dir(&parent)?, name, Mode::from_raw_mode(0o755))
    };
    match made {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    open(&parent, Path::new(name), OFlags::NOFOLLOW)
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
    }
}
