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
    if user_ns {
        for (path, major, minor) in DEFAULTS {
            let node = Node {
                ft: FileType::CharacterDevice,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            };
            make(root, Path::new(path), &node, true)?;
        }
    } else {
        // one open /dev for every node, no umask to undo (the modes are exact), no chown
        // when the nodes are ours already
        let dev = resolve::open_dir(root, Path::new("dev")).map_err(|e| err("/dev", e))?;
        let old = rustix::process::umask(Mode::empty());
        let ctx = Ctx::of(&dev, 0);
        let r = DEFAULTS.iter().try_for_each(|(path, major, minor)| {
            let node = Node {
                ft: FileType::CharacterDevice,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            };
            mknod_in(&dev, Path::new(path), &node, &ctx)
        });
        rustix::process::umask(old);
        r?;
    }
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if has_pts {
        links.push(("pts/ptmx", "ptmx"));
    }
    let dev = resolve::open_dir(root, Path::new("dev")).map_err(|e| err("/dev", e))?;
    for (target, name) in links {
        match rustix::fs::symlinkat(target, &dev, name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(err(format!("symlink /dev/{name}"), e)),
        }
    }
    Ok(())
}

struct Node {
    ft: FileType,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
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
    let node = Node {
        ft,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666),
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    };
    make(root, d.path(), &node, user_ns)
}

fn make(root: &OwnedFd, path: &Path, node: &Node, user_ns: bool) -> R {
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
    let umask = rustix::process::umask(Mode::empty());
    rustix::process::umask(umask);
    let ctx = Ctx::of(&dir, umask.as_raw_mode());
    mknod_in(&dir, path, node, &ctx)
}

/// What decides whether a new node needs chown and chmod: who we are, the directory's set-gid
/// bit, the umask.
struct Ctx {
    uid: u32,
    gid: u32,
    dir_setgid: bool,
    umask: u32,
}

impl Ctx {
    fn of(dir: &OwnedFd, umask: u32) -> Ctx {
        Ctx {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            dir_setgid: rustix::fs::fstat(dir).is_ok_and(|s| s.st_mode & libc::S_ISGID != 0),
            umask,
        }
    }
}

/// mknod of `path`'s last component in `dir` (replacing what has the name), chown unless the
/// node is already the owner's, then chmod for what the umask or chown may have cleared.
fn mknod_in(dir: &OwnedFd, path: &Path, n: &Node, ctx: &Ctx) -> R {
    let name = path.file_name().unwrap_or_default();
    let mode = Mode::from_raw_mode(n.mode & 0o7777);
    let dev = sys::makedev(n.major, n.minor);
    match rustix::fs::mknodat(dir, name, n.ft, mode, dev) {
        Err(rustix::io::Errno::EXIST) => {
            let _ = rustix::fs::unlinkat(dir, name, rustix::fs::AtFlags::empty());
            rustix::fs::mknodat(dir, name, n.ft, mode, dev)
        }
        r => r,
    }
    .map_err(|e| err(format!("mknod {}", path.display()), e))?;
    if n.uid != ctx.uid || n.gid != ctx.gid || ctx.dir_setgid {
        rustix::fs::chownat(
            dir,
            name,
            Some(rustix::fs::Uid::from_raw(n.uid)),
            Some(rustix::fs::Gid::from_raw(n.gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| err(format!("chown {}", path.display()), e))?;
    }
    if n.mode & 0o7000 != 0 || n.mode & ctx.umask != 0 {
        rustix::fs::chmodat(dir, name, mode, rustix::fs::AtFlags::empty())
            .map_err(|e| err(format!("chmod {}", path.display()), e))?;
    }
    Ok(())
}
