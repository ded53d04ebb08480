//! A build context held in memory: the tar's entries as a tree, each file's sha256 taken as it
//! streams in. COPY/ADD resolve and hash against it without touching a disk; it is written out
//! ([`MemoryTree::write_out`]) only when a step needs the files (a cache miss).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::srcfs::{Meta, NodeKind, SrcFs};

enum Body {
    Dir(BTreeSet<OsString>),
    File {
        data: Arc<Vec<u8>>,
        digest: [u8; 32],
    },
    Symlink(PathBuf),
}

struct Node {
    body: Body,
    mode: u32,
    mtime: Option<u64>,
}

/// The tree; paths are relative to the context (`""` is its root). Once placed, [`SrcFs`]
/// answers for paths under [`MemoryTree::root`].
pub(crate) struct MemoryTree {
    root: PathBuf,
    nodes: BTreeMap<PathBuf, Node>,
    bytes: u64,
}

/// What an entry costs besides its content, for [`MemoryTree::bytes`].
const NODE_COST: u64 = 512;

fn not_dir(rel: &Path) -> io::Error {
    io::Error::other(format!("{}: not a directory", rel.display()))
}

impl MemoryTree {
    pub(crate) fn new() -> MemoryTree {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            PathBuf::new(),
            Node {
                body: Body::Dir(BTreeSet::new()),
                mode: 0o700,
                mtime: None,
            },
        );
        MemoryTree {
            root: PathBuf::new(),
            nodes,
            bytes: 0,
        }
    }

    /// Bytes held: file contents plus a header's worth per entry (so a tar of millions of
    /// empty files also counts against the memory limit).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes + NODE_COST * self.nodes.len() as u64
    }

    /// Where the tree answers (and is written out to); the root takes that folder's mode.
    pub(crate) fn place(&mut self, root: &Path) {
        use std::os::unix::fs::PermissionsExt;
        self.root = root.to_path_buf();
        if let (Ok(m), Some(node)) = (std::fs::metadata(root), self.nodes.get_mut(Path::new(""))) {
            node.mode = m.permissions().mode() & 0o7777;
        }
    }

    /// Every directory in the tree (for a switch to unpacking on disk).
    pub(crate) fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n.body, Body::Dir(_)))
            .map(|(p, _)| p)
    }

    fn ensure_parents(&mut self, rel: &Path) -> io::Result<()> {
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        let ancestors: Vec<PathBuf> = parent
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .collect();
        for a in ancestors.into_iter().rev() {
            match self.nodes.get(&a).map(|n| &n.body) {
                Some(Body::Dir(_)) => {}
                Some(_) => return Err(not_dir(&a)),
                None => self.insert(
                    &a,
                    Node {
                        body: Body::Dir(BTreeSet::new()),
                        mode: 0o755,
                        mtime: None,
                    },
                )?,
            }
        }
        Ok(())
    }

    /// Adds `node` at `rel`, whose parent exists and which is free.
    fn insert(&mut self, rel: &Path, node: Node) -> io::Result<()> {
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(io::Error::other("bad entry name"));
        };
        match self.nodes.get_mut(parent).map(|n| &mut n.body) {
            Some(Body::Dir(children)) => {
                children.insert(name.to_os_string());
            }
            _ => return Err(not_dir(parent)),
        }
        if let Body::File { data, .. } = &node.body {
            self.bytes += data.len() as u64;
        }
        self.nodes.insert(rel.to_path_buf(), node);
        Ok(())
    }

    /// Removes `rel` and everything under it.
    pub(crate) fn remove(&mut self, rel: &Path) {
        let Some(node) = self.nodes.remove(rel) else {
            return;
        };
        match node.body {
            Body::Dir(children) => {
                for c in children {
                    self.remove(&rel.join(c));
                }
            }
            Body::File { data, .. } => self.bytes -= data.len() as u64,
            Body::Symlink(_) => {}
        }
        if let (Some(parent), Some(name)) = (rel.parent(), rel.file_name())
            && let Some(Node {
                body: Body::Dir(children),
                ..
            }) = self.nodes.get_mut(parent)
        {
            children.remove(name);
        }
    }

    pub(crate) fn dir(&mut self, rel: &Path, mode: u32) -> io::Result<()> {
        self.ensure_parents(rel)?;
        if let Some(n) = self.nodes.get_mut(rel)
            && matches!(n.body, Body::Dir(_))
        {
            n.mode = mode;
            return Ok(());
        }
        self.remove(rel);
        self.insert(
            rel,
            Node {
                body: Body::Dir(BTreeSet::new()),
                mode,
                mtime: None,
            },
        )
    }

    /// A regular file: its content read from `r` and hashed.
    pub(crate) fn file(
        &mut self,
        rel: &Path,
        mode: u32,
        mtime: Option<u64>,
        size: u64,
        r: &mut dyn Read,
    ) -> io::Result<()> {
        self.ensure_parents(rel)?;
        let mut data = Vec::with_capacity(size.min(64 << 20) as usize);
        r.read_to_end(&mut data)?;
        let digest = Sha256::digest(&data).into();
        self.remove(rel);
        self.insert(
            rel,
            Node {
                body: Body::File {
                    data: Arc::new(data),
                    digest,
                },
                mode,
                mtime,
            },
        )
    }

    pub(crate) fn symlink(&mut self, rel: &Path, target: &Path) -> io::Result<()> {
        self.ensure_parents(rel)?;
        self.remove(rel);
        self.insert(
            rel,
            Node {
                body: Body::Symlink(target.to_path_buf()),
                mode: 0o777,
                mtime: None,
            },
        )
    }

    /// A hard link: a second name for an earlier regular file.
    pub(crate) fn hard_link(&mut self, rel: &Path, target: &Path) -> io::Result<()> {
        let node = match self.nodes.get(target) {
            Some(Node {
                body: Body::File { data, digest },
                mode,
                mtime,
            }) => Node {
                body: Body::File {
                    data: data.clone(),
                    digest: *digest,
                },
                mode: *mode,
                mtime: *mtime,
            },
            Some(_) => {
                return Err(io::Error::other(format!(
                    "hard link to {}, which is not a regular file",
                    target.display()
                )));
            }
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "hard link to {}, which is not in the context",
                        target.display()
                    ),
                ));
            }
        };
        self.ensure_parents(rel)?;
        self.remove(rel);
        self.insert(rel, node)
    }

    /// Writes the tree into `dest`, an empty directory. Parents come before their entries
    /// (the map's order), no entry goes through a symlink (refused when the tar was read), and
    /// files are created new without following links.
    pub(crate) fn write_out(&self, dest: &Path) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for (rel, node) in &self.nodes {
            if rel.as_os_str().is_empty() {
                continue;
            }
            let path = dest.join(rel);
            let at = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", rel.display()));
            match &node.body {
                Body::Dir(_) => {
                    std::fs::create_dir(&path).map_err(at)?;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(node.mode))
                        .map_err(at)?;
                }
                Body::Symlink(t) => std::os::unix::fs::symlink(t, &path).map_err(at)?,
                Body::File { data, .. } => {
                    let mut f = crate::fsutil::create_new_file(&path).map_err(at)?;
                    io::Write::write_all(&mut f, data).map_err(at)?;
                    f.set_permissions(std::fs::Permissions::from_mode(node.mode))
                        .map_err(at)?;
                    if let Some(t) = node.mtime {
                        let _ = f.set_modified(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn node(&self, p: &Path) -> io::Result<&Node> {
        p.strip_prefix(&self.root)
            .ok()
            .and_then(|rel| self.nodes.get(rel))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: no such file or directory", p.display()),
                )
            })
    }
}

impl SrcFs for MemoryTree {
    fn lstat(&self, p: &Path) -> io::Result<Meta> {
        let n = self.node(p)?;
        let (kind, len) = match &n.body {
            Body::Dir(_) => (NodeKind::Dir, 4096),
            Body::File { data, .. } => (NodeKind::File, data.len() as u64),
            Body::Symlink(t) => (NodeKind::Symlink, t.as_os_str().len() as u64),
        };
        Ok(Meta {
            kind,
            mode: n.mode,
            len,
        })
    }

    fn read_link(&self, p: &Path) -> io::Result<PathBuf> {
        match &self.node(p)?.body {
            Body::Symlink(t) => Ok(t.clone()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a symlink", p.display()),
            )),
        }
    }

    fn read_dir(&self, p: &Path) -> io::Result<Vec<OsString>> {
        match &self.node(p)?.body {
            Body::Dir(children) => Ok(children.iter().cloned().collect()),
            _ => Err(not_dir(p)),
        }
    }

    fn open(&self, p: &Path) -> io::Result<Box<dyn Read + '_>> {
        match &self.node(p)?.body {
            Body::File { data, .. } => Ok(Box::new(io::Cursor::new(data.as_slice()))),
            Body::Dir(_) => Err(io::Error::other(format!("{}: is a directory", p.display()))),
            Body::Symlink(_) => Err(io::Error::other(format!("{}: is a symlink", p.display()))),
        }
    }

    fn digest(&self, p: &Path) -> io::Result<[u8; 32]> {
        match &self.node(p)?.body {
            Body::File { digest, .. } => Ok(*digest),
            _ => Err(io::Error::other(format!(
                "{}: not a regular file",
                p.display()
            ))),
        }
    }
}
