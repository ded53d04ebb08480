//! The compiled-filter cache: `<state root>/seccomp:cache/<key>` (':' cannot appear in a
//! container id, so it never collides with a container's directory).
//!
//! key = sha256 of the canonical linux.seccomp JSON, the libseccomp version, the architecture
//! and the kernel release. A file is `MAGIC | key | sha256(key | program) | program`; it is
//! only used when its size, magic, key and hash all check out, when it is a regular file
//! owned by us and writable by nobody else, in a directory of ours that nobody else can write.
//! Anything else (short, corrupt, foreign, renamed from another key) is ignored and rebuilt,
//! so a cache file can never stand in for a filter other than the one asked for. Files are
//! written whole under a temporary name and renamed.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;
use rustix::fs::{AtFlags, Mode, OFlags};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub(super) const DIR: &str = "seccomp:cache";
const MAGIC: &[u8; 8] = b"BRTBPF01";
const HEADER: usize = 8 + 32 + 32;
const MAX_FILE: usize = HEADER + super::MAX_INSNS * 8;

pub(super) type Key = [u8; 32];

pub(super) fn key(s: &LinuxSeccomp) -> Result<Key> {
    let json = serde_json::to_vec(s)
        .map_err(|e| Error::Seccomp(format!("serialize linux.seccomp: {e}")))?;
    let v = libseccomp::ScmpVersion::current()
        .map_err(|e| Error::Seccomp(format!("libseccomp version: {e}")))?;
    let uname = rustix::system::uname();
    let mut h = Sha256::new();
    h.update(b"berth-runtime seccomp bpf 2 (binary tree)\n");
    h.update(format!(
        "{}.{}.{}\n{}\n",
        v.major,
        v.minor,
        v.micro,
        std::env::consts::ARCH
    ));
    h.update(uname.release().to_bytes());
    h.update(b"\n");
    h.update(&json);
    Ok(h.finalize().into())
}

fn hex(k: &Key) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

fn program_hash(key: &Key, prog: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(key);
    h.update(prog);
    h.finalize().into()
}

/// Ours and writable only by us (the state root is root's; a file anyone else could have
/// written is not trusted).
fn trusted(fd: &OwnedFd, want_dir: bool) -> bool {
    let Ok(st) = rustix::fs::fstat(fd) else {
        return false;
    };
    let ft = rustix::fs::FileType::from_raw_mode(st.st_mode);
    let kind_ok = if want_dir {
        ft == rustix::fs::FileType::Directory
    } else {
        ft == rustix::fs::FileType::RegularFile
    };
    kind_ok && st.st_uid == rustix::process::geteuid().as_raw() && st.st_mode & 0o022 == 0
}

/// The cache directory, made on first use.
fn open_dir(root: &Path, create: bool) -> Option<OwnedFd> {
    let dir = root.join(DIR);
    if create {
        let _ = rustix::fs::mkdir(&dir, Mode::from_raw_mode(0o700));
    }
    let fd = rustix::fs::open(
        &dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    trusted(&fd, true).then_some(fd)
}

/// The cached program for `key`, if there is a sound one.
pub(super) fn read(root: &Path, key: &Key) -> Option<Vec<u8>> {
    let dir = open_dir(root, false)?;
    let fd = rustix::fs::openat(
        &dir,
        hex(key),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    if !trusted(&fd, false) {
        return None;
    }
    let mut buf = Vec::with_capacity(16 << 10);
    std::fs::File::from(fd)
        .take(MAX_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .ok()?;
    parse(&buf, key).map(<[u8]>::to_vec)
}

/// The program inside a cache file's bytes, when they are sound for `key`.
pub(super) fn parse<'a>(buf: &'a [u8], key: &Key) -> Option<&'a [u8]> {
    if buf.len() <= HEADER || buf.len() > MAX_FILE || !(buf.len() - HEADER).is_multiple_of(8) {
        return None;
    }
    let (magic, rest) = buf.split_at(8);
    let (k, rest) = rest.split_at(32);
    let (hash, prog) = rest.split_at(32);
    (magic == MAGIC && k == key && hash == program_hash(key, prog)).then_some(prog)
}

pub(super) fn encode(key: &Key, prog: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + prog.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key);
    out.extend_from_slice(&program_hash(key, prog));
    out.extend_from_slice(prog);
    out
}

/// Stores `prog` for `key`; best effort (a failure only means the next create compiles too).
pub(super) fn write(root: &Path, key: &Key, prog: &[u8]) {
    let Some(dir) = open_dir(root, true) else {
        return;
    };
    let name = hex(key);
    let tmp = format!("{name}.{}.tmp", std::process::id());
    let Ok(fd) = rustix::fs::openat(
        &dir,
        &tmp,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) else {
        return;
    };
    let ok = std::fs::File::from(fd)
        .write_all(&encode(key, prog))
        .is_ok();
    if !ok || rustix::fs::renameat(&dir, &tmp, &dir, &name).is_err() {
        let _ = rustix::fs::unlinkat(&dir, &tmp, AtFlags::empty());
    }
}
