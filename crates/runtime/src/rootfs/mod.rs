//! Building the container's root filesystem inside its new mount namespace: mounts (targets
//! resolved inside the rootfs), default devices, pivot_root, then masked and read-only paths.

mod devices;
pub(crate) mod mountopts;
mod parent;
pub(crate) mod resolve;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, Spec};
use rustix::fs::{Mode, OFlags};

use crate::cgroups::Cgroup;
use crate::sys;

pub(crate) struct Rootfs<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroup: &'a Cgroup,
    pub in_user_ns: bool,
    pub no_pivot: bool,
}

type R<T = ()> = Result<T, String>;

fn err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Rootfs<'_> {
    /// Everything before pivot_root. Runs in the container's mount namespace. `place` (which
    /// acts once) is called before the first cgroup mount and at the end: it waits until the
    /// process is in its cgroup.
    pub(crate) fn prepare(&self, place: &mut dyn FnMut() -> R) -> R {
        let linux = self.spec.linux().as_ref();
        let prop =
            mountopts::root_propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
        sys::mount(None, Path::new("/"), None, prop, None).map_err(|e| err("make / rslave", e))?;
        // after a recursive slave/private `/` no mount is shared any more; otherwise the
        // rootfs' mount may be (reading mountinfo costs in proportion to the host's mounts,
        // so it is skipped when it cannot matter)
        let all_unshared =
            prop & libc::MS_REC != 0 && prop & (libc::MS_SLAVE | libc::MS_PRIVATE) != 0;
        if !all_unshared {
            parent::make_parent_private(self.rootfs)?;
        }
        sys::mount(
            Some(self.rootfs),
            self.rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .map_err(|e| err(format!("bind rootfs {}", self.rootfs.display()), e))?;
        let root = rustix::fs::open(
            self.rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err("open rootfs", e))?;
        let mounts: Vec<&Mount> = self.spec.mounts().iter().flatten().collect();
        let has_dev = mounts.iter().any(|m| m.destination() == Path::new("/dev"));
        let has_pts = mounts
            .iter()
            .any(|m| m.destination() == Path::new("/dev/pts"));
        // cgroup mounts need the cgroup made by the parent meanwhile: they go last when no
        // later mount is above or below them (then moving them cannot change the result)
        let mut deferred = vec![];
        for (i, m) in mounts.iter().enumerate() {
            if is_cgroup(m) {
                if independent(m, &mounts[i + 1..]) {
                    deferred.push(i);
                    continue;
                }
                place()?;
            }
            self.mount_at(&root, i, m)?;
        }
        if has_dev {
            devices::create_defaults(&root, self.in_user_ns, has_pts)?;
        }
        for d in linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            devices::create(&root, d, self.in_user_ns)?;
        }
        place()?;
        for i in deferred {
            self.mount_at(&root, i, mounts[i])?;
        }
        Ok(())
    }

    fn mount_at(&self, root: &OwnedFd, i: usize, m: &Mount) -> R {
        self.mount_one(root, m)
            .map_err(|e| format!("mounts[{i}] {}: {e}", m.destination().display()))
    }

    fn mount_one(&self, root: &OwnedFd, m: &Mount) -> R {
        let opts = mountopts::parse(m.options().as_deref().unwrap_or(&[]))?;
        let typ = m
            .typ()
            .as_deref()
            .unwrap_or(if opts.bind { "bind" } else { "none" });
        let data = opts.data.join(",");
        let dest = m.destination();
        if typ == "cgroup" || typ == "cgroup2" {
            return self.mount_cgroup(root, dest, opts.flags);
        }
        if opts.bind || typ == "bind" {
            let src = m.source().as_deref().unwrap_or(Path::new(""));
            let src = if src.is_absolute() {
                src.to_path_buf()
            } else {
                self.bundle.join(src)
            };
            let meta =
                std::fs::metadata(&src).map_err(|e| err(format!("source {}", src.display()), e))?;
            let target = resolve::create_in_root(root, dest, !meta.is_dir())
                .map_err(|e| err("target", e))?;
            let mut flags = libc::MS_BIND;
            if opts.recursive {
                flags |= libc::MS_REC;
            }
            sys::mount(Some(&src), &resolve::proc_path(&target), None, flags, None)
                .map_err(|e| err(format!("bind {}", src.display()), e))?;
            drop(target);
            let extra = opts.flags & !libc::MS_REMOUNT;
            if extra != 0 {
                let t = resolve::create_in_root(root, dest, false).map_err(|e| err("target", e))?;
                let keep = locked_flags(&t);
                sys::mount(
                    None,
                    &resolve::proc_path(&t),
                    None,
                    extra | keep | libc::MS_BIND | libc::MS_REMOUNT | (flags & libc::MS_REC),
                    None,
                )
                .map_err(|e| err("remount bind", e))?;
            }
        } else {
            let target =
                resolve::create_in_root(root, dest, false).map_err(|e| err("target", e))?;
            let src = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
            let r = sys::mount(
                Some(&src),
                &resolve::proc_path(&target),
                Some(typ),
                opts.flags,
                Some(&data),
            );
            match r {
                Ok(()) => {}
                Err(e) if typ == "sysfs" && e.raw_os_error() == Some(libc::EPERM) => {
                    // No network namespace of our own: bind the host's /sys read-only instead.
                    let t = resolve::proc_path(&target);
                    sys::mount(
                        Some(Path::new("/sys")),
                        &t,
                        None,
                        libc::MS_BIND | libc::MS_REC,
                        None,
                    )
                    .map_err(|e| err("bind /sys", e))?;
                    let t2 =
                        resolve::create_in_root(root, dest, false).map_err(|e| err("target", e))?;
                    sys::mount(
                        None,
                        &resolve::proc_path(&t2),
                        None,
                        libc::MS_BIND
                            | libc::MS_REMOUNT
                            | libc::MS_RDONLY
                            | libc::MS_REC
                            | locked_flags(&t2),
                        None,
                    )
                    .map_err(|e| err("remount /sys", e))?;
                }
                Err(e) => return Err(err(format!("mount {typ}"), e)),
            }
        }
        for p in &opts.propagation {
            let t = resolve::create_in_root(root, dest, false).map_err(|e| err("target", e))?;
            sys::mount(None, &resolve::proc_path(&t), None, *p, None)
                .map_err(|e| err("propagation", e))?;
        }
        Ok(())
    }

    /// cgroup v1: a tmpfs with the container's own cgroup of each controller bound read-only
    /// under it; v2: the container's cgroup directory bound in place.
    fn mount_cgroup(&self, root: &OwnedFd, dest: &Path, flags: libc::c_ulong) -> R {
        let ro = flags & libc::MS_RDONLY;
        let t = resolve::create_in_root(root, dest, false).map_err(|e| err("target", e))?;
        match self.cgroup {
            Cgroup::V2 { path } => {
                sys::mount(
                    Some(path),
                    &resolve::proc_path(&t),
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    None,
                )
                .map_err(|e| err("bind cgroup", e))?;
                let t = resolve::create_in_root(root, dest, false).map_err(|e| err("target", e))?;
                sys::mount(
                    None,
                    &resolve::proc_path(&t),
                    None,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_REC | ro | locked_flags(&t),
                    None,
                )
                .map_err(|e| err("remount cgroup", e))?;
            }
            Cgroup::V1 { paths } => {
                sys::mount(
                    Some(Path::new("tmpfs")),
                    &resolve::proc_path(&t),
                    Some("tmpfs"),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    Some("mode=755"),
                )
                .map_err(|e| err("mount cgroup tmpfs", e))?;
                // the fresh tmpfs: its directories are made and opened from one fd
                let tmpfs = resolve::open_dir(root, &resolve::relative(dest))
                    .map_err(|e| err("open cgroup tmpfs", e))?;
                let mut done: Vec<&PathBuf> = vec![];
                for (ctrl, dir) in paths {
                    // name the directory after the hierarchy (e.g. "cpu,cpuacct") like the host
                    let mount_name = dir
                        .ancestors()
                        .find(|a| a.parent() == Some(Path::new("/sys/fs/cgroup")))
                        .and_then(|a| a.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| ctrl.clone());
                    if done.contains(&dir) {
                        continue;
                    }
                    done.push(dir);
                    let open_sub = || {
                        rustix::fs::openat(
                            &tmpfs,
                            mount_name.as_str(),
                            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                            Mode::empty(),
                        )
                        .map_err(|e| err(format!("open {mount_name}"), e))
                    };
                    match rustix::fs::mkdirat(
                        &tmpfs,
                        mount_name.as_str(),
                        Mode::from_raw_mode(0o755),
                    ) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(err(format!("mkdir {mount_name}"), e)),
                    }
                    sys::mount(
                        Some(dir),
                        &resolve::proc_path(&open_sub()?),
                        None,
                        libc::MS_BIND | libc::MS_REC,
                        None,
                    )
                    .map_err(|e| err(format!("bind {}", dir.display()), e))?;
                    if ro == 0 {
                        // read-only binds under a writable tmpfs
                        let s = open_sub()?;
                        sys::mount(
                            None,
                            &resolve::proc_path(&s),
                            None,
                            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(&s),
                            None,
                        )
                        .map_err(|e| err("remount cgroup", e))?;
                    }
                }
                if ro != 0 {
                    // the tmpfs and every bind under it read-only in one call
                    sys::mount_setattr_rdonly(&tmpfs, true)
                        .map_err(|e| err("make cgroup mounts read-only", e))?;
                }
            }
        }
        Ok(())
    }

    /// pivot_root into the rootfs and detach the old root (runc's pivot_root(".", ".") trick).
    pub(crate) fn pivot(&self) -> R {
        if self.no_pivot {
            return self.move_root();
        }
        let old = rustix::fs::open(
            "/",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err("open /", e))?;
        let new = rustix::fs::open(
            self.rootfs,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err("open rootfs", e))?;
        rustix::process::fchdir(&new).map_err(|e| err("chdir rootfs", e))?;
        sys::pivot_root(Path::new("."), Path::new(".")).map_err(|e| err("pivot_root", e))?;
        rustix::process::fchdir(&old).map_err(|e| err("chdir old root", e))?;
        sys::mount(
            None,
            Path::new("."),
            None,
            libc::MS_SLAVE | libc::MS_REC,
            None,
        )
        .map_err(|e| err("make old root rslave", e))?;
        sys::umount2(Path::new("."), libc::MNT_DETACH).map_err(|e| err("detach old root", e))?;
        rustix::process::chdir("/").map_err(|e| err("chdir /", e))?;
        Ok(())
    }

    /// --no-pivot: MS_MOVE the rootfs onto / and chroot into it.
    fn move_root(&self) -> R {
        rustix::process::chdir(self.rootfs).map_err(|e| err("chdir rootfs", e))?;
        sys::mount(
            Some(Path::new(".")),
            Path::new("/"),
            None,
            libc::MS_MOVE,
            None,
        )
        .map_err(|e| err("move rootfs to /", e))?;
        rustix::process::chroot(".").map_err(|e| err("chroot", e))?;
        rustix::process::chdir("/").map_err(|e| err("chdir /", e))?;
        Ok(())
    }

    /// After pivot_root: paths now resolve inside the container only.
    pub(crate) fn finish(&self) -> R {
        let Some(linux) = self.spec.linux() else {
            return Ok(());
        };
        // before readonlyPaths: /proc/sys is usually one of them
        if let Some(sysctl) = linux.sysctl() {
            for (k, v) in sysctl {
                let path = format!("/proc/sys/{}", k.replace('.', "/"));
                std::fs::write(&path, v).map_err(|e| err(format!("linux.sysctl {k}"), e))?;
            }
        }
        for p in linux.readonly_paths().iter().flatten() {
            readonly_path(Path::new(p))?;
        }
        for p in linux.masked_paths().iter().flatten() {
            mask_path(Path::new(p))?;
        }
        if self.spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
            let t = rustix::fs::open("/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| err("open /", e))?;
            sys::mount(
                None,
                Path::new("/"),
                None,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(&t),
                None,
            )
            .map_err(|e| err("remount / read-only", e))?;
        }
        Ok(())
    }
}

fn is_cgroup(m: &Mount) -> bool {
    matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2"))
}

/// No mount of `later` has `m`'s destination, or one above or below it, and it is not under
/// /dev (where the device nodes are made after the mounts).
fn independent(m: &Mount, later: &[&Mount]) -> bool {
    let d = m.destination();
    !d.starts_with("/dev")
        && later
            .iter()
            .all(|o| !(o.destination().starts_with(d) || d.starts_with(o.destination())))
}

/// Flags a remount must keep (they are locked in a user namespace).
fn locked_flags(fd: &impl AsFd) -> libc::c_ulong {
    use rustix::fs::StatVfsMountFlags as F;
    let Ok(s) = rustix::fs::fstatvfs(fd) else {
        return 0;
    };
    let mut f = 0;
    for (from, to) in [
        (F::NOSUID, libc::MS_NOSUID),
        (F::NODEV, libc::MS_NODEV),
        (F::NOEXEC, libc::MS_NOEXEC),
        (F::NOATIME, libc::MS_NOATIME),
        (F::NODIRATIME, libc::MS_NODIRATIME),
        (F::RELATIME, libc::MS_RELATIME),
        (F::RDONLY, libc::MS_RDONLY),
    ] {
        if s.f_flag.contains(from) {
            f |= to;
        }
    }
    f
}

fn readonly_path(p: &Path) -> R {
    match sys::mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(format!("readonly path {}", p.display()), e)),
    }
    let t = rustix::fs::open(p, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| err("open", e))?;
    sys::mount(
        None,
        p,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC | locked_flags(&t),
        None,
    )
    .map_err(|e| err(format!("readonly path {}", p.display()), e))
}

fn mask_path(p: &Path) -> R {
    let r = match std::fs::metadata(p) {
        Err(_) => return Ok(()),
        Ok(m) if m.is_dir() => sys::mount(
            Some(Path::new("tmpfs")),
            p,
            Some("tmpfs"),
            libc::MS_RDONLY,
            None,
        ),
        Ok(_) => sys::mount(Some(Path::new("/dev/null")), p, None, libc::MS_BIND, None),
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(format!("masked path {}", p.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(dest: &str, typ: &str) -> Mount {
        serde_json::from_value(serde_json::json!({"destination": dest, "type": typ})).unwrap()
    }

    #[test]
    fn a_cgroup_mount_is_deferred_only_when_no_later_mount_nests_with_it() {
        let cg = m("/sys/fs/cgroup", "cgroup");
        let shm = m("/dev/shm", "tmpfs");
        let hosts = m("/etc/hosts", "bind");
        assert!(is_cgroup(&cg) && !is_cgroup(&shm));
        assert!(independent(&cg, &[&shm, &hosts]));
        assert!(independent(&cg, &[]));
        assert!(!independent(
            &cg,
            &[&shm, &m("/sys/fs/cgroup/memory", "bind")]
        ));
        assert!(!independent(&cg, &[&m("/sys", "sysfs")]));
        assert!(!independent(&cg, &[&m("/sys/fs/cgroup", "tmpfs")]));
        // path components, not string prefixes
        assert!(independent(&cg, &[&m("/sys/fs/cgroupx", "tmpfs")]));
        assert!(!independent(&m("/dev/cgroup", "cgroup"), &[]));
    }
}
