//! The last steps before exec that drop privileges: rlimits, user and groups, capabilities,
//! no_new_privileges.

use std::str::FromStr;

use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimit, Process};

use crate::sys;

type R<T = ()> = Result<T, String>;

pub(crate) fn rlimit_resource(r: &PosixRlimit) -> R<libc::c_int> {
    let name = serde_json::to_value(r.typ())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(match name.as_str() {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        other => return Err(format!("process.rlimits: unknown type {other:?}")),
    } as libc::c_int)
}

pub(crate) fn apply_rlimits(p: &Process) -> R {
    for r in p.rlimits().iter().flatten() {
        let res = rlimit_resource(r)?;
        if r.soft() > r.hard() {
            return Err(format!(
                "process.rlimits: soft limit above hard for {:?}",
                r.typ()
            ));
        }
        sys::setrlimit(res, r.soft(), r.hard())
            .map_err(|e| format!("setrlimit {:?}: {e}", r.typ()))?;
    }
    Ok(())
}

/// A capability set as a bit mask. Unknown names are an error; capabilities this kernel does
/// not know are skipped (as runc does).
pub(crate) fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

pub(crate) fn mask(set: Option<&Capabilities>, last: u8) -> R<u64> {
    let mut m = 0u64;
    for c in set.into_iter().flatten() {
        let name = format!("CAP_{c}");
        let cap =
            caps::Capability::from_str(&name).map_err(|_| format!("unknown capability {name}"))?;
        let idx = cap.index();
        if idx <= last {
            m |= 1 << idx;
        }
    }
    Ok(m)
}

pub(crate) struct CapMasks {
    last: u8,
    bounding: u64,
    effective: u64,
    permitted: u64,
    inheritable: u64,
    ambient: u64,
}

pub(crate) fn cap_masks(c: Option<&LinuxCapabilities>) -> R<CapMasks> {
    let last = last_cap();
    Ok(CapMasks {
        last,
        bounding: mask(c.and_then(|c| c.bounding().as_ref()), last)?,
        effective: mask(c.and_then(|c| c.effective().as_ref()), last)?,
        permitted: mask(c.and_then(|c| c.permitted().as_ref()), last)?,
        inheritable: mask(c.and_then(|c| c.inheritable().as_ref()), last)?,
        ambient: mask(c.and_then(|c| c.ambient().as_ref()), last)?,
    })
}

/// Drops the bounding set, switches to the process user, then sets the remaining sets.
///
/// Capabilities this process does not hold itself (a runtime started with a reduced bounding
/// set, e.g. inside another container) cannot be given; they are left out, as runc ignores
/// unavailable capabilities, instead of failing a `--privileged` container.
pub(crate) fn switch_user_and_caps(p: &Process, masks: &CapMasks) -> R {
    let last = masks.last;
    let held = sys::capget_permitted().unwrap_or(u64::MAX);
    for i in 0..=last {
        if masks.bounding & (1 << i) == 0 {
            sys::prctl(libc::PR_CAPBSET_DROP, i as libc::c_ulong)
                .or_else(|e| {
                    if e.raw_os_error() == Some(libc::EINVAL) {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| format!("drop bounding capability {i}: {e}"))?;
        }
    }
    let u = p.user();
    sys::prctl(libc::PR_SET_KEEPCAPS, 1).map_err(|e| format!("keepcaps: {e}"))?;
    let groups: Vec<u32> = u.additional_gids().clone().unwrap_or_default();
    match sys::setgroups(&groups) {
        Ok(()) => {}
        // in a user namespace with setgroups denied only an empty list is a no-op
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && groups.is_empty() => {}
        Err(e) => return Err(format!("setgroups: {e}")),
    }
    sys::setresgid(u.gid()).map_err(|e| format!("setgid {}: {e}", u.gid()))?;
    sys::setresuid(u.uid()).map_err(|e| format!("setuid {}: {e}", u.uid()))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0).map_err(|e| format!("keepcaps: {e}"))?;
    sys::capset(
        masks.effective & held,
        masks.permitted & held,
        masks.inheritable & held,
    )
    .map_err(|e| format!("capset: {e}"))?;
    sys::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    )
    .map_err(|e| format!("clear ambient: {e}"))?;
    for i in 0..=last {
        if masks.ambient & held & (1 << i) != 0 {
            // SAFETY: prctl with integer arguments.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    i as libc::c_ulong,
                    0,
                    0,
                )
            };
            if r < 0 {
                return Err(format!(
                    "raise ambient capability {i}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn no_new_privs(p: &Process) -> R {
    if p.no_new_privileges() == Some(true) {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map_err(|e| format!("no_new_privs: {e}"))?;
    }
    Ok(())
}

/// The environment as C strings, and argv[0] resolved through PATH (inside the container).
pub(crate) fn resolve_program(p: &Process) -> R<std::ffi::CString> {
    let args = p.args().as_deref().unwrap_or(&[]);
    let prog = &args[0];
    let cs = |s: &str| std::ffi::CString::new(s).map_err(|_| format!("nul byte in {s:?}"));
    if prog.contains('/') {
        return cs(prog);
    }
    let path = p
        .env()
        .iter()
        .flatten()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = format!("{dir}/{prog}");
        if rustix::fs::access(cand.as_str(), rustix::fs::Access::EXEC_OK).is_ok()
            && std::fs::metadata(&cand).is_ok_and(|m| m.is_file())
        {
            return cs(&cand);
        }
    }
    Err(format!(
        "exec: {prog:?}: executable file not found in $PATH"
    ))
}

/// AppArmor profile and SELinux label to apply at exec: only when that LSM is enabled on this
/// host; otherwise the field is ignored with a warning (as the issue asks).
#[derive(Default)]
pub(crate) struct Lsm {
    apparmor: Option<String>,
    selinux: Option<String>,
}

pub(crate) fn lsm(p: &Process) -> Lsm {
    let apparmor_on = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let selinux_on = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    let pick = |v: &Option<String>, on: bool, field: &str, name: &str| match v.as_deref() {
        Some(x) if !x.is_empty() && on => Some(x.to_string()),
        Some(x) if !x.is_empty() => {
            eprintln!(
                "berth-runtime: warning: process.{field} {x:?} ignored: {name} is not enabled on this host"
            );
            None
        }
        _ => None,
    };
    Lsm {
        apparmor: pick(
            p.apparmor_profile(),
            apparmor_on,
            "apparmorProfile",
            "AppArmor",
        ),
        selinux: pick(p.selinux_label(), selinux_on, "selinuxLabel", "SELinux"),
    }
}

/// Asks the LSM to switch label at the coming execve.
pub(crate) fn apply_lsm(l: &Lsm) -> R {
    if let Some(profile) = &l.apparmor {
        let cmd = format!("exec {profile}");
        std::fs::write("/proc/self/attr/apparmor/exec", &cmd)
            .or_else(|_| std::fs::write("/proc/self/attr/exec", &cmd))
            .map_err(|e| format!("apparmor profile {profile}: {e}"))?;
    }
    if let Some(label) = &l.selinux {
        std::fs::write("/proc/self/attr/exec", label)
            .map_err(|e| format!("selinux label {label}: {e}"))?;
    }
    Ok(())
}
