//! Writing a tar of a tree reached through directory fds: every step is an `openat` with
//! `O_NOFOLLOW` relative to its parent, so a symlink swapped in mid-walk is archived as a
//! link, never followed out of the rootfs.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::error::{Error, Result};

fn io(ctx: &str, e: rustix::io::Errno) -> Error {
    Error::io(ctx.to_string(), e.into())
}

/// Appends `name` (a child of `dir`, or `.` for `dir` itself) to `b` as `tar_path`, with all
/// its content when it is a directory.
pub fn append_tree<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &impl AsFd,
    name: &CStr,
    tar_path: &str,
) -> Result<()> {
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        // Removed while we walked: skip it, as tar does.
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(io(tar_path, e)),
    };
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    let ft = FileType::from_raw_mode(st.st_mode);
    let ioe = |e: std::io::Error| Error::io(format!("archive {tar_path}"), e);
    match ft {
        FileType::Directory => {
            h.set_entry_type(tar::EntryType::Directory);
            let p = format!("{}/", tar_path.trim_end_matches('/'));
            b.append_data(&mut h, &p, std::io::empty()).map_err(ioe)?;
            let fd = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io(tar_path, e))?;
            if !is_pseudo_fs(&fd) {
                append_children(b, &fd, Some(tar_path))?;
            }
        }
        FileType::RegularFile => {
            let fd = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io(tar_path, e))?;
            let size = st.st_size.max(0) as u64;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(size);
            let f = File::from(fd);
            b.append_data(&mut h, tar_path, ExactReader::new(f, size))
                .map_err(ioe)?;
        }
        FileType::Symlink => {
            let target =
                rustix::fs::readlinkat(dir, name, Vec::new()).map_err(|e| io(tar_path, e))?;
            h.set_entry_type(tar::EntryType::Symlink);
            let target = String::from_utf8_lossy(target.as_bytes()).into_owned();
            b.append_link(&mut h, tar_path, target).map_err(ioe)?;
        }
        FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
            h.set_entry_type(match ft {
                FileType::CharacterDevice => tar::EntryType::Char,
                FileType::BlockDevice => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            });
            if ft != FileType::Fifo {
                let rdev = st.st_rdev;
                h.set_device_major(rustix::fs::major(rdev)).map_err(ioe)?;
                h.set_device_minor(rustix::fs::minor(rdev)).map_err(ioe)?;
            }
            b.append_data(&mut h, tar_path, std::io::empty())
                .map_err(ioe)?;
        }
        // Sockets and unknown types are not archived (as Docker).
        _ => {}
    }
    Ok(())
}

/// Kernel filesystems mounted in a running container (`/proc`, `/sys`, cgroups, `/dev/pts`,
/// `/dev/mqueue`): archived as empty directories, as Docker (which never sees them) does.
fn is_pseudo_fs(dir: &impl AsFd) -> bool {
    const PSEUDO: [i64; 7] = [
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x0027_e0eb, // cgroup
        0x6367_7270, // cgroup2
        0x1cd1,      // devpts
        0x1980_0202, // mqueue
        0x7363_6673, // securityfs
    ];
    match rustix::fs::fstatfs(dir) {
        // `f_type`'s width differs between architectures.
        #[allow(clippy::unnecessary_cast)]
        Ok(st) => PSEUDO.contains(&(st.f_type as i64)),
        Err(_) => false,
    }
}

/// Appends every child of `dir`, named `<prefix>/<child>` (or `<child>` without a prefix), in
/// name order.
pub fn append_children<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &impl AsFd,
    prefix: Option<&str>,
) -> Result<()> {
    let ctx = prefix.unwrap_or("/");
    let mut names: Vec<CString> = vec![];
    for ent in rustix::fs::Dir::read_from(dir).map_err(|e| io(ctx, e))? {
        let ent = ent.map_err(|e| io(ctx, e))?;
        let n = ent.file_name();
        if n.to_bytes() == b"." || n.to_bytes() == b".." {
            continue;
        }
        names.push(n.to_owned());
    }
    names.sort();
    for n in names {
        let s = String::from_utf8_lossy(n.to_bytes()).into_owned();
        let path = match prefix {
            Some(p) => format!("{}/{s}", p.trim_end_matches('/')),
            None => s,
        };
        append_tree(b, dir, &n, &path)?;
    }
    Ok(())
}

/// Reads exactly `size` bytes: a file that shrank while archived is padded with zeros and one
/// that grew is cut, so the archive stays well-formed.
struct ExactReader {
    f: std::io::Take<File>,
    left: u64,
}

impl ExactReader {
    fn new(f: File, size: u64) -> ExactReader {
        use std::io::Read;
        ExactReader {
            f: f.take(size),
            left: size,
        }
    }
}

impl std::io::Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = match self.f.read(buf)? {
            0 => {
                let n = buf.len().min(self.left as usize);
                buf[..n].fill(0);
                n
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}
