//! Read-only access to where COPY/ADD sources come from: the host filesystem (a directory
//! context, another stage's or image's rootfs) or a build context held in memory. Paths are
//! host-style paths under the source root; resolving, globbing and content hashing go through
//! this trait, so a context in memory is hashed without ever being written out.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// The parts of `lstat` that sources need.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub kind: NodeKind,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    pub len: u64,
}

impl Meta {
    pub fn is_dir(&self) -> bool {
        self.kind == NodeKind::Dir
    }
    pub fn is_file(&self) -> bool {
        self.kind == NodeKind::File
    }
    pub fn is_symlink(&self) -> bool {
        self.kind == NodeKind::Symlink
    }
}

/// A read-only tree of files.
pub trait SrcFs: Sync {
    /// Metadata of `p` itself (a symlink is not followed).
    fn lstat(&self, p: &Path) -> io::Result<Meta>;
    fn read_link(&self, p: &Path) -> io::Result<PathBuf>;
    /// The names in directory `p`, sorted.
    fn read_dir(&self, p: &Path) -> io::Result<Vec<OsString>>;
    fn open(&self, p: &Path) -> io::Result<Box<dyn Read + '_>>;
    /// The sha256 of a regular file's content.
    fn digest(&self, p: &Path) -> io::Result<[u8; 32]> {
        let mut f = self.open(p)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finalize().into())
    }
}

/// The host's filesystem.
pub struct HostFs;

impl SrcFs for HostFs {
    fn lstat(&self, p: &Path) -> io::Result<Meta> {
        let m = std::fs::symlink_metadata(p)?;
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            NodeKind::Symlink
        } else if ft.is_dir() {
            NodeKind::Dir
        } else if ft.is_file() {
            NodeKind::File
        } else {
            NodeKind::Other
        };
        Ok(Meta {
            kind,
            mode: m.mode() & 0o7777,
            len: m.len(),
        })
    }

    fn read_link(&self, p: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(p)
    }

    fn read_dir(&self, p: &Path) -> io::Result<Vec<OsString>> {
        let mut names: Vec<OsString> = std::fs::read_dir(p)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        Ok(names)
    }

    fn open(&self, p: &Path) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(std::fs::File::open(p)?))
    }
}
