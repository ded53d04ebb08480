//! linux.seccomp → a classic BPF program, compiled in the runtime before clone (libseccomp, or
//! the cache under the state root) and loaded by the container process with seccomp(2) as late
//! as possible.
//!
//! Compiling a profile the size of Docker's default (three architectures, ~360 rules) costs
//! libseccomp ~10 ms of CPU, every create. The exported program only depends on the profile,
//! the libseccomp version and the kernel (libseccomp probes its API level), so it is cached
//! (`cache.rs`) and the init loads it with the same flags libseccomp would use.

mod build;
mod cache;

use std::io::{self, Read, Seek};
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;

use crate::error::{Error, Result};

/// seccomp(2) filter flags (linux/seccomp.h).
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// BPF_MAXINSNS: the kernel refuses longer classic BPF programs.
const MAX_INSNS: usize = 4096;

/// A compiled filter ready for seccomp(SECCOMP_SET_MODE_FILTER).
pub(crate) struct Program {
    insns: Vec<libc::sock_filter>,
    flags: u32,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("insns", &self.insns.len())
            .field("flags", &self.flags)
            .finish()
    }
}

/// The seccomp(2) flags libseccomp would pass for this profile's `flags` (TSYNC is not needed:
/// the init is single-threaded). Unsupported flags are refused by name.
fn load_flags(s: &LinuxSeccomp) -> Result<u32> {
    let mut f = 0;
    for flag in s.flags().iter().flatten() {
        match build::serde_name(flag).as_str() {
            "SECCOMP_FILTER_FLAG_LOG" => f |= FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => f |= FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_TSYNC" => {}
            other => {
                return Err(Error::Seccomp(format!(
                    "linux.seccomp.flags: unsupported {other}"
                )));
            }
        }
    }
    Ok(f)
}

/// Compiles `s`, through the cache under the state root `root` when given (a missing, unusable
/// or corrupt cache only costs a rebuild).
pub(crate) fn compile(s: &LinuxSeccomp, root: Option<&Path>) -> Result<Program> {
    let flags = load_flags(s)?;
    let Some(dir) = root else {
        return Ok(Program {
            insns: decode(&export(s)?)?,
            flags,
        });
    };
    let key = cache::key(s)?;
    if let Some(bytes) = cache::read(dir, &key)
        && let Ok(insns) = decode(&bytes)
    {
        return Ok(Program { insns, flags });
    }
    let bytes = export(s)?;
    let insns = decode(&bytes)?;
    cache::write(dir, &key, &bytes);
    Ok(Program { insns, flags })
}

/// libseccomp: build the filter and export its BPF (what seccomp_load would hand the kernel).
fn export(s: &LinuxSeccomp) -> Result<Vec<u8>> {
    let ctx = build::build(s)?;
    let e = |m: &str, x: io::Error| Error::Seccomp(format!("{m}: {x}"));
    let fd = rustix::fs::memfd_create("berth-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|x| e("memfd", x.into()))?;
    ctx.export_bpf(&fd)
        .map_err(|x| Error::Seccomp(format!("export filter: {x}")))?;
    let mut f = std::fs::File::from(fd);
    f.rewind().map_err(|x| e("rewind memfd", x))?;
    let mut out = vec![];
    f.read_to_end(&mut out).map_err(|x| e("read memfd", x))?;
    Ok(out)
}

/// Native-endian `struct sock_filter` array → instructions; the length must be a whole,
/// non-zero number of instructions the kernel accepts.
fn decode(b: &[u8]) -> Result<Vec<libc::sock_filter>> {
    if b.is_empty() || !b.len().is_multiple_of(8) || b.len() / 8 > MAX_INSNS {
        return Err(Error::Seccomp(format!(
            "compiled filter has a bad size ({} bytes)",
            b.len()
        )));
    }
    Ok(b.chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

impl Program {
    /// Installs the filter on the calling thread (the container init). Without no_new_privs
    /// this needs CAP_SYS_ADMIN: the caller orders it before dropping capabilities.
    pub(crate) fn load(&self) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as libc::c_ushort,
            filter: self.insns.as_ptr().cast_mut(),
        };
        // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `prog` and the instructions it points
        // to (alive for the call); the kernel validates the program itself.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
