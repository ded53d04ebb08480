//! Which namespaces a container gets: new ones become clone flags, joined ones are opened here
//! (in the caller, before clone) and entered with setns by the child.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use rustix::fs::{Mode, OFlags};

use crate::error::{Context, Error, Result};
use crate::sys;

#[derive(Default)]
pub(crate) struct NsPlan {
    pub clone_flags: u64,
    pub unshare: libc::c_int,
    pub join: Vec<(OwnedFd, libc::c_int)>,
    pub join_user: Option<OwnedFd>,
    pub join_pid: Option<OwnedFd>,
    pub new_user: bool,
}

pub(crate) fn open_ns(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(std::io::Error::from)
        .ctx(|| format!("open namespace {}", path.display()))
}

pub(crate) fn flag(t: LinuxNamespaceType) -> libc::c_int {
    t as libc::c_int
}

pub(crate) fn plan(namespaces: &[LinuxNamespace]) -> Result<NsPlan> {
    let mut p = NsPlan::default();
    for ns in namespaces {
        let t = ns.typ();
        match (t, ns.path()) {
            (LinuxNamespaceType::Cgroup, None) => p.unshare |= libc::CLONE_NEWCGROUP,
            (LinuxNamespaceType::User, None) => {
                p.new_user = true;
                p.clone_flags |= libc::CLONE_NEWUSER as u64;
            }
            (t, None) => p.clone_flags |= flag(t) as u64,
            (LinuxNamespaceType::User, Some(path)) => p.join_user = Some(open_ns(path)?),
            (LinuxNamespaceType::Pid, Some(path)) => p.join_pid = Some(open_ns(path)?),
            (t, Some(path)) => p.join.push((open_ns(path)?, flag(t))),
        }
    }
    if p.join_user.is_some() {
        // New namespaces must belong to the joined user namespace: create them after setns.
        if p.clone_flags & libc::CLONE_NEWPID as u64 != 0 {
            return Err(Error::Spec(
                "linux.namespaces: a new pid namespace with a joined user namespace is not supported".into(),
            ));
        }
        p.unshare |= p.clone_flags as libc::c_int;
        p.clone_flags = 0;
    }
    Ok(p)
}

/// Clones with `flags`, first entering `pid_ns` for the child when given (setns on a pid
/// namespace only changes where children go; it is undone right after).
pub(crate) fn clone_in(flags: u64, pid_ns: Option<&OwnedFd>) -> Result<libc::pid_t> {
    let Some(target) = pid_ns else {
        return sys::clone3(flags).ctx(|| "clone".into());
    };
    let own = open_ns(Path::new("/proc/self/ns/pid"))?;
    sys::setns(target.as_fd(), libc::CLONE_NEWPID).ctx(|| "join pid namespace".into())?;
    let r = sys::clone3(flags);
    if let Ok(0) = r {
        return Ok(0);
    }
    sys::setns(own.as_fd(), libc::CLONE_NEWPID).ctx(|| "restore pid namespace".into())?;
    r.ctx(|| "clone".into())
}
