//! Device nodes in the container's /dev: the default set every container gets, and
//! `linux.devices`. In a user namespace mknod is not allowed, so the host nodes are bound.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{FileType, Mode};

use super::{R, err, resolve};
use crate::sys;

const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

pub(super) fn create_defaults(root: &OwnedFd, user_ns: bool, has_pts: bool) -> R {
    for (path, major, minor) in DEFAULTS {
        make(
            root,
            Path::new(path),
            FileType::CharacterDevice,
            *major,
            *minor,
            0o666,
            0,
            0,
            user_ns,
        )?;
    }
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    if has_pts {
        links.push(("pts/ptmx", "/dev/ptmx"));
    }
    for (target, link) in links {
        symlink(root, target, Path::new(link))?;
    }
    Ok(())
}

fn symlink(root: &OwnedFd, target: &str, link: &Path) -> R {
    let parent = resolve::create_in_root(root, link.parent().unwrap_or(Path::new("/")), false)
        .map_err(|e| err(link.display(), e))?;
    let dir = reopen_dir(&parent)?;
    let name = link.file_name().unwrap_or_default();
    match rustix::fs::symlinkat(target, &dir, name) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => Err(err(format!("symlink {}", link.display()), e)),
    }
}

fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd, String> {
    rustix::fs::openat(
        fd,
        ".",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err("reopen directory", e))
}

pub(super) fn create(root: &OwnedFd, d: &LinuxDevice, user_ns: bool) -> R {
    let ft = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
        LinuxDeviceType::B => FileType::BlockDevice,
        LinuxDeviceType::P => FileType::Fifo,
        LinuxDeviceType::A => {
            return Err(format!(
                "linux.devices {}: type must be c, b, u or p",
                d.path().display()
            ));
        }
    };
    if !d.path().starts_with("/dev") {
        return Err(format!(
            "linux.devices {}: must be under /dev",
            d.path().display()
        ));
    }
    make(
        root,
        d.path(),
        ft,
        d.major() as u64,
        d.minor() as u64,
        d.file_mode().unwrap_or(0o666),
        d.uid().unwrap_or(0),
        d.gid().unwrap_or(0),
        user_ns,
    )
}

#[allow(clippy::too_many_arguments)]
fn make(
    root: &OwnedFd,
    path: &Path,
    ft: FileType,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    user_ns: bool,
) -> R {
    if user_ns {
        let t = resolve::create_in_root(root, path, true).map_err(|e| err(path.display(), e))?;
        let host = PathBuf::from(path);
        return sys::mount(
            Some(&host),
            &resolve::proc_path(&t),
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| err(format!("bind {}", path.display()), e));
    }
    let parent = resolve::create_in_root(root, path.parent().unwrap_or(Path::new("/dev")), false)
        .map_err(|e| err(path.display(), e))?;
    let dir = reopen_dir(&parent)?;
    let name = path.file_name().unwrap_or_default();
    let _ = rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty());
    rustix::fs::mknodat(
        &dir,
        name,
        ft,
        Mode::from_raw_mode(mode & 0o7777),
        sys::makedev(major, minor),
    )
    .map_err(|e| err(format!("mknod {}", path.display()), e))?;
    rustix::fs::chmodat(
        &dir,
        name,
        Mode::from_raw_mode(mode & 0o7777),
        rustix::fs::AtFlags::empty(),
    )
    .map_err(|e| err(format!("chmod {}", path.display()), e))?;
    rustix::fs::chownat(
        &dir,
        name,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| err(format!("chown {}", path.display()), e))
}
