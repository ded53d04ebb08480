//! Thin, safe wrappers over the few raw syscalls the runtime makes. Every `unsafe` block of the
//! crate that calls into libc for a plain syscall lives here.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "nul byte"))
}

pub(crate) fn cpath(p: &Path) -> io::Result<CString> {
    cstr(p.as_os_str())
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Makes the mount `fd` refers to read-only, and every mount below it too with `recursive`,
/// in one call (mount_setattr(2)); other mount flags are left as they are.
pub(crate) fn mount_setattr_rdonly(fd: &impl AsFd, recursive: bool) -> io::Result<()> {
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: mount_setattr reads `attr` (alive for the call, its size passed) and acts on the
    // mount `fd` refers to (empty path).
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(crate) fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(cpath).transpose()?;
    let target = cpath(target)?;
    let fstype = fstype.map(|s| cstr(OsStr::new(s))).transpose()?;
    let data = data
        .filter(|d| !d.is_empty())
        .map(|s| cstr(OsStr::new(s)))
        .transpose()?;
    // SAFETY: every pointer is a valid NUL-terminated string or null, alive for the call.
    check(unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr() as *const libc::c_void),
        )
    })
    .map(drop)
}

pub(crate) fn umount2(target: &Path, flags: libc::c_int) -> io::Result<()> {
    let t = cpath(target)?;
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(t.as_ptr(), flags) }).map(drop)
}

pub(crate) fn pivot_root(new: &Path, old: &Path) -> io::Result<()> {
    let n = cpath(new)?;
    let o = cpath(old)?;
    // SAFETY: valid C strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) as libc::c_int })
        .map(drop)
}

pub(crate) fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> io::Result<()> {
    // SAFETY: fd is a valid open descriptor.
    check(unsafe { libc::setns(fd.as_raw_fd(), nstype) }).map(drop)
}

pub(crate) fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::unshare(flags) }).map(drop)
}

pub(crate) fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid buffer.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub(crate) fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid buffer.
    check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub(crate) fn makedev(major: u64, minor: u64) -> libc::dev_t {
    libc::makedev(major as u32, minor as u32)
}

/// The fork-like clone3: no new stack, the child returns 0. `flags` holds CLONE_NEW* bits.
/// Returns the child's pid in the parent.
pub(crate) fn clone3(flags: u64) -> io::Result<libc::pid_t> {
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM or a new stack behaves as fork: the child gets a copy of
    // the address space and resumes here. Callers are single-threaded (documented contract).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret >= 0 {
        return Ok(ret as libc::pid_t);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    // SAFETY: as above, the legacy clone with a null stack is fork with namespace flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as u64,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as libc::pid_t)
    }
}

/// Default disposition for every signal and an empty mask: the caller may ignore SIGPIPE (Rust
/// programs do) or block signals, and ignored/blocked signals would survive exec.
pub(crate) fn reset_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting SIG_DFL is always valid; invalid numbers just fail with EINVAL.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an initialised empty set and a null old-set pointer.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Leaves the child process without unwinding or running destructors.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

pub(crate) fn prctl(option: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the prctl options used take integer arguments only.
    check(unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(drop)
}

pub(crate) fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: raw syscall (per-process via glibc is fine: single thread).
    check(unsafe { libc::setresuid(uid, uid, uid) }).map(drop)
}

pub(crate) fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::setresgid(gid, gid, gid) }).map(drop)
}

pub(crate) fn setgroups(gids: &[u32]) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid array.
    check(unsafe { libc::setgroups(gids.len(), gids.as_ptr()) }).map(drop)
}

pub(crate) fn setrlimit(resource: libc::c_int, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: valid pointer to an initialised struct.
    check(unsafe { libc::setrlimit64(resource as _, &lim) }).map(drop)
}

/// capget/capset's v3 header and per-word data (two words make each 64-bit set).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: CapHeader = CapHeader {
    version: 0x2008_0522,
    pid: 0,
};

/// capset(2) with the v3 header: each set is a 64-bit mask.
pub(crate) fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    let word = |shift: u32| CapData {
        effective: (effective >> shift) as u32,
        permitted: (permitted >> shift) as u32,
        inheritable: (inheritable >> shift) as u32,
    };
    let data = [word(0), word(32)];
    // SAFETY: header and a two-element data array, as capset v3 expects.
    check(unsafe { libc::syscall(libc::SYS_capset, &CAP_V3, data.as_ptr()) as libc::c_int })
        .map(drop)
}

/// capget(2) of the calling thread's permitted set, as a 64-bit mask.
pub(crate) fn capget_permitted() -> io::Result<u64> {
    let mut hdr = CAP_V3;
    let mut data = [CapData::default(); 2];
    // SAFETY: header and a two-element data array, as capget v3 expects.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) as libc::c_int })?;
    Ok(u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32))
}

/// Marks every fd from `first` up as close-on-exec.
pub(crate) fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    check(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) as libc::c_int
    })
    .map(drop)
}

pub(crate) fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// waitpid for one child; returns the shell-style exit code (128+signal when killed).
pub(crate) fn wait_exit_code(pid: i32) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    })
}

/// Non-blocking reap: Some(code) if `pid` has exited.
pub(crate) fn try_wait(pid: i32) -> io::Result<Option<i32>> {
    let mut status = 0;
    // SAFETY: valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if r == 0 {
        return Ok(None);
    }
    Ok(Some(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }))
}

pub(crate) fn socketpair_seqpacket() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out array of two ints.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: socketpair returned two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(crate) fn execve(path: &CString, args: &[CString], env: &[CString]) -> io::Error {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of valid C strings.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}
