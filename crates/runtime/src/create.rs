//! `create`: from a bundle to an init process waiting on the exec fifo.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMapping, Spec};
use rustix::fs::{Mode, OFlags};

use crate::cgroups::{self, Cgroup};
use crate::channel::{Channel, Msg};
use crate::container::Container;
use crate::error::{Context, Error, Result};
use crate::init::{self, Placement, Plan};
use crate::rootfs::Rootfs;
use crate::state::{self, FIFO, Record, State};
use crate::{CreateOptions, Runtime, hooks, namespaces, seccomp, security, sys};

/// Undoes a half-made container: kills and reaps the child, removes cgroup and state dir.
struct Cleanup {
    dir: PathBuf,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::wait_exit_code(pid);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.remove();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// With `start`, the init does not wait on the exec fifo: it execs as soon as it is ready
/// (`run`), which saves the start round trip.
pub(crate) fn create(
    rt: &Runtime,
    id: &str,
    bundle: &Path,
    opts: &CreateOptions,
    start: bool,
) -> Result<Container> {
    if !state::valid_id(id) {
        return Err(Error::InvalidId(id.to_string()));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&rt.root)
        .ctx(|| format!("create state root {}", rt.root.display()))?;
    let dir = rt.root.join(id);
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(id.to_string()));
        }
        Err(e) => return Err(Error::io(format!("create {}", dir.display()), e)),
    }
    let mut guard = Cleanup {
        dir: dir.clone(),
        cgroup: None,
        pid: None,
        armed: true,
    };
    let bundle = bundle
        .canonicalize()
        .ctx(|| format!("bundle {}", bundle.display()))?;
    let spec = crate::spec::load(&bundle)?;
    let rootfs = crate::spec::validate(&spec, &bundle)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Spec("process is missing".into()))?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::Spec("linux is missing".into()))?;
    for r in process.rlimits().iter().flatten() {
        security::rlimit_resource(r).map_err(Error::Spec)?;
    }
    let caps = security::cap_masks(process.capabilities().as_ref()).map_err(Error::Spec)?;
    let filter = linux
        .seccomp()
        .as_ref()
        .map(|s| seccomp::compile(s, Some(&rt.root)))
        .transpose()?;
    let ns = namespaces::plan(linux.namespaces().as_deref().unwrap_or(&[]))?;

    let rel = cgroups::normalize(linux.cgroups_path().as_deref(), id)?;
    // only where it goes: the parent makes it after clone, while the child builds its rootfs
    let cgroup = Cgroup::locate(&rel, linux.resources().as_ref())?;

    let fifo = if start { None } else { Some(make_fifo(&dir)?) };

    let hooks_request = spec.hooks().as_ref().is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    });
    let in_user_ns = ns.new_user || ns.join_user.is_some();
    let joins_mnt_or_cgroup_ns = ns
        .join
        .iter()
        .any(|(_, t)| *t == libc::CLONE_NEWNS || *t == libc::CLONE_NEWCGROUP);
    let placement = if in_user_ns || joins_mnt_or_cgroup_ns {
        Placement::Early
    } else {
        Placement::Late
    };
    let plan = Plan {
        process,
        rootfs: Some(Rootfs {
            id,
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            cgroup: &cgroup,
            in_user_ns,
            no_pivot: opts.no_pivot,
        }),
        spec: Some(&spec),
        join: ns.join,
        join_user: ns.join_user,
        unshare: ns.unshare,
        in_user_ns,
        hooks_request,
        seccomp: filter.as_ref(),
        caps,
        lsm: security::lsm(process),
        preserve_fds: opts.preserve_fds,
        stdio: opts.stdio,
        create: true,
        fifo: fifo.as_ref().map(|f| f.as_raw_fd()),
        wait_go: ns.new_user,
        cgroup: &cgroup,
        placement,
    };
    let (parent_chan, child_chan) = Channel::pair().ctx(|| "socketpair".into())?;
    let pid = namespaces::clone_in(ns.clone_flags, ns.join_pid.as_ref())?;
    if pid == 0 {
        drop(parent_chan);
        init::child(&plan, child_chan);
    }
    drop(child_chan);
    drop(plan);
    guard.pid = Some(pid);

    // A failure here kills the child (guard); an init that already failed has sent its error,
    // which the loop below reports.
    cgroup.make(linux.resources().as_ref())?;
    guard.cgroup = Some(cgroup.clone());
    let _ = parent_chan.send(&Msg::Placed);

    if ns.new_user {
        write_id_map(
            pid,
            "uid_map",
            linux.uid_mappings().as_deref().unwrap_or(&[]),
        )?;
        write_id_map(
            pid,
            "gid_map",
            linux.gid_mappings().as_deref().unwrap_or(&[]),
        )?;
        parent_chan
            .send(&Msg::Go)
            .ctx(|| "sync with container init".into())?;
    }
    let created = state::now_rfc3339();
    let mut console = None;
    loop {
        let (msg, fd) = parent_chan
            .recv()
            .map_err(|e| Error::Init(format!("container init exited during setup ({e})")))?;
        match msg {
            Msg::HooksRequest => {
                let st = oci_state(id, "creating", pid, &bundle, &rootfs, &created, &spec);
                if let Some(h) = spec.hooks() {
                    hooks::run_all(h.prestart().as_ref(), &st)?;
                    hooks::run_all(h.create_runtime().as_ref(), &st)?;
                }
                parent_chan
                    .send(&Msg::HooksDone)
                    .ctx(|| "sync with container init".into())?;
            }
            Msg::Console => {
                let fd = fd.ok_or_else(|| Error::Init("console message without a pty".into()))?;
                match &opts.console_socket {
                    Some(sock) => crate::channel::send_to_console_socket(sock, fd.as_raw_fd())
                        .ctx(|| format!("send pty to console socket {}", sock.display()))?,
                    None => console = Some(fd),
                }
            }
            Msg::Ready => break,
            Msg::Failed(e) => return Err(Error::Init(e)),
            other => return Err(Error::Init(format!("unexpected message {other:?}"))),
        }
    }
    let start_time = state::proc_start(pid).map(|s| s.0).unwrap_or(0);
    let record = Record {
        id: id.to_string(),
        pid,
        start_time,
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        created,
        cgroup,
        spec,
    };
    record.save(&dir)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid)?;
    }
    guard.armed = false;
    let container = Container::from_parts(dir, record, console);
    if start {
        container.run_poststart();
    }
    Ok(container)
}

/// `<dir>/exec.fifo`, opened O_PATH for the init to reopen for writing from inside.
fn make_fifo(dir: &Path) -> Result<OwnedFd> {
    let fifo_path = dir.join(FIFO);
    // 0622 as runc: the init opens it for writing after switching to the container's user
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .ctx(|| format!("mkfifo {}", fifo_path.display()))?;
    fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .ctx(|| format!("chmod {}", fifo_path.display()))?;
    rustix::fs::open(&fifo_path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(std::io::Error::from)
        .ctx(|| "open exec fifo".into())
}

pub(crate) fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    // containerd reads the file with strconv.Atoi: no trailing newline.
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    state::write_atomic(&p, pid.to_string().as_bytes())
}

fn write_id_map(pid: i32, file: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut s = String::new();
    for m in maps {
        s.push_str(&format!(
            "{} {} {}\n",
            m.container_id(),
            m.host_id(),
            m.size()
        ));
    }
    fs::write(format!("/proc/{pid}/{file}"), s).ctx(|| format!("write {file}"))
}

pub(crate) fn oci_state(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    rootfs: &Path,
    created: &str,
    spec: &Spec,
) -> State {
    State {
        oci_version: spec.version().clone(),
        id: id.to_string(),
        status: status.to_string(),
        pid,
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: created.to_string(),
        owner: Some(String::new()).filter(|s| !s.is_empty()),
        annotations: spec.annotations().clone().unwrap_or_default(),
    }
}
