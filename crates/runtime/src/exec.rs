//! `exec`: an extra process inside a running container, a child of the caller.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::channel::{Channel, Msg};
use crate::container::Container;
use crate::error::{Context, Error, Result};
use crate::init::{self, Plan};
use crate::{namespaces, seccomp, security, sys};

/// How to run an exec'd process.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    /// Write the process's host pid here (no trailing newline).
    pub pid_file: Option<PathBuf>,
    /// Send the pty master here (runc's protocol) when `process.terminal` is set.
    pub console_socket: Option<PathBuf>,
    /// Extra fds 3.. to pass to the process.
    pub preserve_fds: u32,
    /// fds to install as the process's 0, 1, 2 (else inherited).
    pub stdio: Option<[RawFd; 3]>,
}

/// A started exec process. It is a child of the caller: waitpid it.
#[derive(Debug)]
pub struct ExecHandle {
    pub pid: i32,
    /// The pty master, when a terminal was asked for without a console socket.
    pub console: Option<OwnedFd>,
}

impl ExecHandle {
    /// Waits for the process and returns its exit code (128+signal if killed).
    pub fn wait(&self) -> Result<i32> {
        sys::wait_exit_code(self.pid).ctx(|| format!("wait for {}", self.pid))
    }
}

const NS_FILES: &[(LinuxNamespaceType, &str)] = &[
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Time, "time"),
    (LinuxNamespaceType::Mount, "mnt"),
];

pub(crate) fn exec(c: &Container, process: &Process, opts: &ExecOptions) -> Result<ExecHandle> {
    c.require_live("exec")?;
    crate::spec::validate_process(process, "process")?;
    for r in process.rlimits().iter().flatten() {
        security::rlimit_resource(r).map_err(Error::Spec)?;
    }
    let rec = c.record();
    let linux = rec.spec.linux().as_ref();
    let caps = security::cap_masks(process.capabilities().as_ref()).map_err(Error::Spec)?;
    let filter = c
        .seccomp()?
        .map(|s| seccomp::compile(&s, c.dir().parent()))
        .transpose()?;
    let types: Vec<LinuxNamespaceType> = linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .map(|n| n.typ())
        .collect();
    let pid = rec.pid;
    let ns_path = |name: &str| PathBuf::from(format!("/proc/{pid}/ns/{name}"));
    let mut join = vec![];
    for (t, name) in NS_FILES {
        if types.contains(t) {
            join.push((namespaces::open_ns(&ns_path(name))?, namespaces::flag(*t)));
        }
    }
    let join_user = types
        .contains(&LinuxNamespaceType::User)
        .then(|| namespaces::open_ns(&ns_path("user")))
        .transpose()?;
    let join_pid = types
        .contains(&LinuxNamespaceType::Pid)
        .then(|| {
            namespaces::open_ns(&ns_path("pid_for_children"))
                .or_else(|_| namespaces::open_ns(&ns_path("pid")))
        })
        .transpose()?;
    let in_user_ns = join_user.is_some();
    let plan = Plan {
        process,
        rootfs: None,
        spec: None,
        join,
        join_user,
        unshare: 0,
        in_user_ns,
        hooks_request: false,
        seccomp: filter.as_ref(),
        caps,
        lsm: security::lsm(process),
        preserve_fds: opts.preserve_fds,
        stdio: opts.stdio,
        create: false,
        fifo: None,
        wait_go: false,
        cgroup: &rec.cgroup,
        placement: crate::init::Placement::Join,
    };
    let (parent_chan, child_chan) = Channel::pair().ctx(|| "socketpair".into())?;
    let child = namespaces::clone_in(0, join_pid.as_ref())?;
    if child == 0 {
        drop(parent_chan);
        init::child(&plan, child_chan);
    }
    drop(child_chan);
    drop(plan);
    let fail = |e: Error| {
        let _ = sys::kill(child, libc::SIGKILL);
        let _ = sys::wait_exit_code(child);
        e
    };
    let mut console = None;
    loop {
        match parent_chan.recv() {
            Ok((Msg::Console, fd)) => {
                let fd =
                    fd.ok_or_else(|| fail(Error::Init("console message without a pty".into())))?;
                match &opts.console_socket {
                    Some(sock) => crate::channel::send_to_console_socket(sock, fd.as_raw_fd())
                        .ctx(|| format!("send pty to console socket {}", sock.display()))
                        .map_err(fail)?,
                    None => console = Some(fd),
                }
            }
            Ok((Msg::Failed(e), _)) => {
                let _ = sys::wait_exit_code(child);
                return Err(Error::Init(e));
            }
            Ok((other, _)) => {
                return Err(fail(Error::Init(format!("unexpected message {other:?}"))));
            }
            // the channel closes when the process execs (close-on-exec): success
            Err(_) => break,
        }
    }
    if let Some(p) = &opts.pid_file {
        crate::create::write_pid_file(p, child)?;
    }
    Ok(ExecHandle {
        pid: child,
        console,
    })
}

/// Reads a process.json (runc exec --process) file.
pub fn load_process(path: &Path) -> Result<Process> {
    let data = std::fs::read(path).ctx(|| format!("read {}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_slice(&data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        Error::Spec(format!(
            "{}: field {}: {}",
            path.display(),
            e.path(),
            e.inner()
        ))
    })
}
