//! The container side of create and exec: what the cloned process does, in order, before it
//! execs the user's program. It never returns: it execs or reports the error and exits.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use oci_spec::runtime::{Process, Spec};

use crate::channel::{Channel, Msg};
use crate::rootfs::Rootfs;
use crate::security::{self, CapMasks};
use crate::sys;

type R<T = ()> = Result<T, String>;

pub(crate) struct Plan<'a> {
    pub process: &'a Process,
    /// create: the container's spec and rootfs; exec: None.
    pub rootfs: Option<Rootfs<'a>>,
    pub spec: Option<&'a Spec>,
    /// namespaces to join with setns (user last).
    pub join: Vec<(OwnedFd, libc::c_int)>,
    pub join_user: Option<OwnedFd>,
    /// namespaces to unshare after joining (cgroup ns: after the parent placed us in the cgroup).
    pub unshare: libc::c_int,
    pub in_user_ns: bool,
    pub hooks_request: bool,
    pub seccomp: Option<&'a crate::seccomp::Program>,
    pub caps: CapMasks,
    pub lsm: security::Lsm,
    pub preserve_fds: u32,
    pub stdio: Option<[RawFd; 3]>,
    /// create/run (not exec): report Ready, then run startContainer hooks and exec.
    pub create: bool,
    /// create: O_PATH fd of exec.fifo to block on until `start` (None for run: exec at once)
    pub fifo: Option<RawFd>,
    /// wait for the parent's Go (it writes the uid/gid maps of a new user namespace)
    pub wait_go: bool,
    /// the cgroup the process moves itself into (writing "0" to its own tasks/cgroup.procs:
    /// a parent writing the child's pid makes the kernel wait for an RCU grace period)
    pub cgroup: &'a crate::cgroups::Cgroup,
    pub placement: Placement,
}

/// When the process joins its cgroup.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// exec: the cgroup exists; join first thing.
    Join,
    /// create with a user namespace or a joined mount/cgroup namespace: the join needs the
    /// host's credentials and mounts, so wait for the parent's Placed first thing.
    Early,
    /// create, common case: the parent makes the cgroup while we build the rootfs; wait for
    /// Placed just before the first cgroup mount (or the end of the rootfs' mounts), then join
    /// and unshare the cgroup namespace.
    Late,
}

/// Waits for the cgroup when the parent is still making it, joins it, and (Late) unshares
/// the cgroup namespace that was held back until now.
pub(crate) fn place(plan: &Plan<'_>, chan: &Channel) -> R {
    if plan.placement != Placement::Join {
        chan.expect(Msg::Placed)?;
    }
    plan.cgroup.join_self().map_err(|e| e.to_string())?;
    if plan.placement == Placement::Late && plan.unshare & libc::CLONE_NEWCGROUP != 0 {
        sys::unshare(libc::CLONE_NEWCGROUP)
            .map_err(|e| format!("unshare cgroup namespace: {e}"))?;
    }
    Ok(())
}

/// Entry point of the cloned child.
pub(crate) fn child(plan: &Plan<'_>, chan: Channel) -> ! {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(plan, &chan)));
    let msg = match r {
        Ok(Err(e)) => e,
        Ok(Ok(never)) => match never {},
        Err(_) => "container init panicked".to_string(),
    };
    let _ = chan.send(&Msg::Failed(msg));
    sys::exit_now(1)
}

enum Never {}

fn run(plan: &Plan<'_>, chan: &Channel) -> R<Never> {
    // Non-dumpable until exec: nothing in the container can open /proc/<pid>/exe (the runtime
    // binary) or ptrace us while we still hold host resources (CVE-2019-5736 class).
    sys::prctl(libc::PR_SET_DUMPABLE, 0).map_err(|e| format!("set non-dumpable: {e}"))?;
    if plan.placement != Placement::Late {
        // still in the host's mount namespace and credentials
        place(plan, chan)?;
    }
    if let Some(adj) = plan.process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("write oom_score_adj: {e}"))?;
    }
    if plan.wait_go {
        chan.expect(Msg::Go)?;
    }
    if let Some(fds) = plan.stdio {
        for (i, fd) in fds.iter().enumerate() {
            if *fd != i as RawFd {
                // SAFETY: dup2 onto 0..2 of descriptors the caller handed us.
                if unsafe { libc::dup2(*fd, i as RawFd) } < 0 {
                    return Err(format!("dup2 stdio: {}", std::io::Error::last_os_error()));
                }
            }
        }
    }
    close_other_fds(plan, chan)?;
    for (fd, t) in &plan.join {
        sys::setns(fd.as_fd(), *t).map_err(|e| format!("join namespace {t:#x}: {e}"))?;
    }
    if let Some(u) = &plan.join_user {
        sys::setns(u.as_fd(), libc::CLONE_NEWUSER)
            .map_err(|e| format!("join user namespace: {e}"))?;
    }
    if plan.in_user_ns {
        sys::setresgid(0).map_err(|e| format!("setgid 0 in user namespace: {e}"))?;
        sys::setresuid(0).map_err(|e| format!("setuid 0 in user namespace: {e}"))?;
    }
    let unshare = if plan.placement == Placement::Late {
        plan.unshare & !libc::CLONE_NEWCGROUP
    } else {
        plan.unshare
    };
    if unshare != 0 {
        sys::unshare(unshare).map_err(|e| format!("unshare {unshare:#x}: {e}"))?;
    }
    if let Some(spec) = plan.spec {
        if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            sys::sethostname(h).map_err(|e| format!("hostname: {e}"))?;
        }
        if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
            sys::setdomainname(d).map_err(|e| format!("domainname: {e}"))?;
        }
    }
    if let Some(rootfs) = &plan.rootfs {
        let mut placed = plan.placement != Placement::Late;
        rootfs.prepare(&mut || {
            if !placed {
                placed = true;
                place(plan, chan)?;
            }
            Ok(())
        })?;
        if plan.hooks_request {
            chan.send(&Msg::HooksRequest)
                .map_err(|e| format!("sync: {e}"))?;
            chan.expect(Msg::HooksDone)?;
        }
        if let Some(hooks) = rootfs.spec.hooks() {
            run_hooks_inside(hooks.create_container().as_ref(), rootfs)?;
        }
        rootfs.pivot()?;
        rootfs.finish()?;
    }
    if plan.process.terminal() == Some(true) {
        setup_tty(plan.process, chan)?;
    }
    sys::reset_signals();
    let cwd = plan.process.cwd();
    std::env::set_current_dir(cwd).map_err(|e| format!("chdir to cwd {}: {e}", cwd.display()))?;
    // getcwd fails (ENOENT / "(unreachable)") if the cwd is not under our root.
    match std::env::current_dir() {
        Ok(p) if p.starts_with("/") => {}
        _ => {
            return Err(format!(
                "cwd {} resolves outside the container",
                cwd.display()
            ));
        }
    }
    security::apply_rlimits(plan.process)?;
    if let Some(mask) = plan.process.user().umask() {
        // SAFETY: umask cannot fail.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    security::apply_lsm(&plan.lsm)?;
    security::no_new_privs(plan.process)?;
    let nnp = plan.process.no_new_privileges() == Some(true);
    if let Some(f) = plan.seccomp
        && !nnp
    {
        // without no_new_privs, loading needs CAP_SYS_ADMIN: do it before dropping capabilities
        f.load().map_err(|e| format!("load seccomp filter: {e}"))?;
    }
    security::switch_user_and_caps(plan.process, &plan.caps)?;
    let prog = security::resolve_program(plan.process)?;
    let args = cstrings(plan.process.args().as_deref().unwrap_or(&[]))?;
    let env = cstrings(plan.process.env().as_deref().unwrap_or(&[]))?;
    if let Some(f) = plan.seccomp
        && nnp
    {
        f.load().map_err(|e| format!("load seccomp filter: {e}"))?;
    }
    sys::cloexec_from(3 + plan.preserve_fds).map_err(|e| format!("close_range: {e}"))?;
    if plan.create {
        chan.send(&Msg::Ready).map_err(|e| format!("sync: {e}"))?;
        if let Some(fifo) = plan.fifo {
            wait_for_start(fifo);
        }
        if let Some(hooks) = plan.rootfs.as_ref().and_then(|r| r.spec.hooks().as_ref())
            && let Some(rootfs) = &plan.rootfs
            && let Err(e) = run_hooks_inside(hooks.start_container().as_ref(), rootfs)
        {
            eprintln!("berth-runtime: {e}");
            sys::exit_now(1);
        }
        let e = sys::execve(&prog, &args, &env);
        eprintln!("berth-runtime: exec {:?}: {e}", prog);
        sys::exit_now(127);
    }
    let e = sys::execve(&prog, &args, &env);
    Err(format!("exec {:?}: {e}", prog))
}

/// Blocks until `start` opens the fifo for reading, then writes the one byte it reads.
fn wait_for_start(fifo: RawFd) {
    let path = format!("/proc/self/fd/{fifo}");
    let f = std::fs::OpenOptions::new().write(true).open(&path);
    match f {
        Ok(mut f) => {
            use std::io::Write;
            if f.write_all(b"0").is_err() {
                sys::exit_now(1);
            }
        }
        Err(e) => {
            eprintln!("berth-runtime: open exec fifo: {e} (is /proc mounted in the container?)");
            sys::exit_now(1);
        }
    }
}

fn cstrings(v: &[String]) -> R<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_str()).map_err(|_| format!("nul byte in {s:?}")))
        .collect()
}

/// Closes every fd but 0-2, the preserved ones and what setup still needs, so that nothing of
/// the caller's (directories included: CVE-2024-21626) is reachable from the container.
fn close_other_fds(plan: &Plan<'_>, chan: &Channel) -> R {
    let mut keep: Vec<u32> = vec![chan.0.as_raw_fd() as u32];
    keep.extend(plan.fifo.map(|f| f as u32));
    keep.extend(plan.join.iter().map(|(f, _)| f.as_raw_fd() as u32));
    keep.extend(plan.join_user.as_ref().map(|f| f.as_raw_fd() as u32));
    keep.sort_unstable();
    let mut lo = 3 + plan.preserve_fds;
    for k in keep {
        if k < lo {
            continue;
        }
        if k > lo {
            close_range(lo, k - 1)?;
        }
        lo = k + 1;
    }
    close_range(lo, u32::MAX)
}

fn close_range(lo: u32, hi: u32) -> R {
    // SAFETY: closes descriptors this process owns and will not use again; std holds none of
    // them open (the child never returns into the caller's code).
    let r = unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) };
    if r < 0 {
        return Err(format!("close_range: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn setup_tty(p: &Process, chan: &Channel) -> R {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(|e| format!("open /dev/ptmx: {e}"))?;
    grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let name = ptsname(&master, Vec::new()).map_err(|e| format!("ptsname: {e}"))?;
    let name = name.to_string_lossy().into_owned();
    let slave = rustix::fs::open(
        name.as_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| format!("open {name}: {e}"))?;
    if let Some(b) = p.console_size() {
        let ws = rustix::termios::Winsize {
            ws_row: b.height() as u16,
            ws_col: b.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&slave, ws).map_err(|e| format!("set console size: {e}"))?;
    }
    chan.send_with_fd(&Msg::Console, Some(master.as_raw_fd()))
        .map_err(|e| format!("send console: {e}"))?;
    drop(master);
    rustix::process::setsid().map_err(|e| format!("setsid: {e}"))?;
    rustix::process::ioctl_tiocsctty(&slave).map_err(|e| format!("set controlling tty: {e}"))?;
    for i in 0..3 {
        // SAFETY: dup2 of a valid descriptor onto stdio.
        if unsafe { libc::dup2(slave.as_raw_fd(), i) } < 0 {
            return Err(format!("dup2 tty: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// createContainer / startContainer hooks: run inside the container's namespaces.
fn run_hooks_inside(hooks: Option<&Vec<oci_spec::runtime::Hook>>, r: &Rootfs<'_>) -> R {
    let Some(hooks) = hooks.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let state = crate::state::State {
        oci_version: r.spec.version().clone(),
        id: r.id.to_string(),
        status: "creating".into(),
        // before pivot_root /proc is still the host's: this is the host pid, as hooks expect
        pid: std::fs::read_link("/proc/self")
            .ok()
            .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
            .unwrap_or(std::process::id() as i32),
        bundle: r.bundle.to_path_buf(),
        rootfs: r.rootfs.to_path_buf(),
        created: String::new(),
        owner: None,
        annotations: r.spec.annotations().clone().unwrap_or_default(),
    };
    crate::hooks::run_all(Some(hooks), &state).map_err(|e| e.to_string())
}
