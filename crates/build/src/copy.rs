//! `COPY`/`ADD`: resolving sources (globs, directories, heredocs, archives) against the context
//! or another stage's root, the content hash that keys the cache, and writing into a rootfs
//! without following its symlinks out of it.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::dockerignore::{DockerIgnore, clean};
use crate::error::BuildError;
use crate::fsutil::{Scope, resolve_in, resolve_in_fs};
use crate::srcfs::SrcFs;

/// A source after variable expansion.
#[derive(Debug, Clone)]
pub enum Source {
    Path(String),
    /// A heredoc: file name and content.
    Inline {
        name: String,
        content: String,
    },
}

/// One `COPY`/`ADD` to perform.
pub struct CopySpec<'a> {
    /// `COPY` or `ADD` (for messages and archive handling).
    pub keyword: &'static str,
    /// The context root, or the rootfs of `--from`.
    pub src_root: &'a Path,
    /// How sources are read ([`HostFs`](crate::srcfs::HostFs), or a context held in memory).
    pub fs: &'a dyn SrcFs,
    pub scope: Scope,
    /// The context's `.dockerignore` (None for `--from`).
    pub ignore: Option<&'a DockerIgnore>,
    /// `--exclude` patterns.
    pub exclude: Option<DockerIgnore>,
    pub sources: Vec<Source>,
    /// Absolute destination in the image (workdir already applied), trailing `/` kept.
    pub dest: String,
    pub owner: Option<(u32, u32)>,
    pub chmod: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Inline(String),
    Archive,
}

/// A resolved source and where it goes.
#[derive(Debug, Clone)]
pub struct Item {
    host: PathBuf,
    /// Path relative to the source root (for ignore rules and hashing).
    rel: String,
    kind: Kind,
    /// Destination path in the image; for a directory, the directory its contents go into.
    dest: String,
}

fn failed(keyword: &str, msg: impl std::fmt::Display) -> BuildError {
    BuildError::Step(format!("{keyword} failed: {msg}"))
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Go's `filepath.Match` as a regex over a `/` path.
fn glob_regex(pattern: &str) -> Result<regex::Regex, BuildError> {
    let mut re = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => {
                if let Some(n) = chars.next() {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            '[' => {
                re.push('[');
                let mut first = true;
                for n in chars.by_ref() {
                    if first && (n == '^' || n == '!') {
                        re.push('^');
                        first = false;
                        continue;
                    }
                    first = false;
                    if n == ']' {
                        break;
                    }
                    if n == '\\' || n == '[' {
                        re.push('\\');
                    }
                    re.push(n);
                }
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| BuildError::Step(format!("bad pattern {pattern:?}: {e}")))
}

impl CopySpec<'_> {
    fn skipped(&self, rel: &str) -> bool {
        self.ignore.is_some_and(|i| i.matches(rel))
            || self.exclude.as_ref().is_some_and(|i| i.matches(rel))
    }

    /// Resolves the sources. Errors name the missing or forbidden source as Docker does.
    pub fn resolve(&self) -> Result<Vec<Item>, BuildError> {
        let kw = self.keyword;
        let mut found: Vec<(PathBuf, String)> = Vec::new();
        let mut inline: Vec<(String, String)> = Vec::new();
        for s in &self.sources {
            match s {
                Source::Inline { name, content } => inline.push((name.clone(), content.clone())),
                Source::Path(p) if p.contains("://") || p.starts_with("git@") => {
                    if kw == "COPY" {
                        return Err(failed(kw, "source can't be a URL for COPY"));
                    }
                    return Err(failed(
                        kw,
                        format!(
                            "cannot fetch remote source {p}: this builder has no network access for remote URLs; download it into the build context and ADD the local file"
                        ),
                    ));
                }
                Source::Path(p) => {
                    let rel = clean(&format!("/{p}")).trim_start_matches('/').to_owned();
                    if self.scope == Scope::Strict && clean(p).starts_with("..") {
                        return Err(failed(
                            kw,
                            format!("forbidden path outside the build context: {p} ()"),
                        ));
                    }
                    if has_glob(&rel) {
                        let matches = self.glob(&rel)?;
                        found.extend(matches);
                    } else {
                        let host = resolve_in_fs(self.fs, self.src_root, &rel, self.scope, true)
                            .map_err(|e| failed(kw, e))?;
                        if (rel != "." && !rel.is_empty() && self.skipped(&rel))
                            || self.fs.lstat(&host).is_err()
                        {
                            return Err(failed(
                                kw,
                                format!(
                                    "file not found in build context or excluded by .dockerignore: stat {p}: file does not exist"
                                ),
                            ));
                        }
                        found.push((host, if rel.is_empty() { ".".into() } else { rel }));
                    }
                }
            }
        }
        let count = found.len() + inline.len();
        let dest_dir = self.dest.ends_with('/') || self.dest.ends_with("/.");
        if count > 1 && !dest_dir {
            return Err(failed(
                kw,
                format!(
                    "When using {kw} with more than one source file, the destination must be a directory and end with a /"
                ),
            ));
        }
        let dest_clean = clean(&self.dest);
        let join = |name: &str| {
            if dest_clean == "/" {
                format!("/{name}")
            } else {
                format!("{dest_clean}/{name}")
            }
        };
        let mut items = Vec::with_capacity(count);
        for (host, rel) in found {
            // A symlink source is followed (inside the source root only).
            let stat = |p: &Path| {
                self.fs
                    .lstat(p)
                    .map_err(|e| failed(kw, format!("stat {rel}: {e}")))
            };
            let mut meta = stat(&host)?;
            let host = if meta.is_symlink() {
                let to = resolve_in_fs(self.fs, self.src_root, &rel, self.scope, true)
                    .map_err(|e| failed(kw, e))?;
                meta = stat(&to)?;
                to
            } else {
                host
            };
            let base = Path::new(&rel)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let item = if meta.is_dir() {
                Item {
                    host,
                    rel,
                    kind: Kind::Dir,
                    dest: dest_clean.clone(),
                }
            } else if kw == "ADD" && is_tar_archive(self.fs, &host)? {
                Item {
                    host,
                    rel,
                    kind: Kind::Archive,
                    dest: dest_clean.clone(),
                }
            } else {
                let dest = if dest_dir {
                    join(&base)
                } else {
                    dest_clean.clone()
                };
                Item {
                    host,
                    rel,
                    kind: Kind::File,
                    dest,
                }
            };
            items.push(item);
        }
        for (name, content) in inline {
            let dest = if dest_dir {
                join(&name)
            } else {
                dest_clean.clone()
            };
            items.push(Item {
                host: PathBuf::new(),
                rel: name,
                kind: Kind::Inline(content),
                dest,
            });
        }
        Ok(items)
    }

    fn glob(&self, pattern: &str) -> Result<Vec<(PathBuf, String)>, BuildError> {
        let re = glob_regex(pattern)?;
        // Walk from the longest literal prefix.
        let prefix: Vec<&str> = pattern.split('/').take_while(|c| !has_glob(c)).collect();
        let start_rel = prefix.join("/");
        let start = resolve_in_fs(self.fs, self.src_root, &start_rel, self.scope, true)
            .map_err(|e| failed(self.keyword, e))?;
        let depth = pattern.split('/').count();
        let mut out = Vec::new();
        let mut stack = vec![(start, start_rel)];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(names) = self.fs.read_dir(&dir) else {
                continue;
            };
            for os_name in names {
                let path = dir.join(&os_name);
                let name = os_name.to_string_lossy().into_owned();
                let child_rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if self.skipped(&child_rel) {
                    continue;
                }
                let level = child_rel.split('/').count();
                if level == depth && re.is_match(&child_rel) {
                    out.push((path.clone(), child_rel.clone()));
                }
                if level < depth && self.fs.lstat(&path).is_ok_and(|m| m.is_dir()) {
                    stack.push((path, child_rel));
                }
            }
        }
        if out.is_empty() {
            return Err(failed(self.keyword, "no source files were specified"));
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// Docker's word for the sources in history (`file:<hash>`, `dir:<hash>`, `multi:<hash>`).
    pub fn describe(items: &[Item]) -> &'static str {
        match items {
            [one] if one.kind == Kind::Dir => "dir",
            [_] => "file",
            _ => "multi",
        }
    }

    /// The content hash of what this copy writes: paths, types, modes, ownership, link targets
    /// and file contents (not timestamps). Part of the step's cache key.
    pub fn content_hash(&self, items: &[Item]) -> Result<String, BuildError> {
        let mut h = Sha256::new();
        h.update(format!("owner={:?} chmod={:?}\n", self.owner, self.chmod));
        for item in items {
            h.update(format!("item {} -> {}\n", item.rel, item.dest));
            match &item.kind {
                Kind::Inline(c) => h.update(format!("inline {}\n{c}\n", c.len())),
                _ => self.hash_tree(&mut h, &item.host, &item.rel)?,
            }
        }
        Ok(hex::encode(h.finalize()))
    }

    fn hash_tree(&self, h: &mut Sha256, host: &Path, rel: &str) -> Result<(), BuildError> {
        let fs = self.fs;
        let meta = fs
            .lstat(host)
            .map_err(|e| failed(self.keyword, format!("stat {rel}: {e}")))?;
        let mode = self.chmod.unwrap_or(meta.mode);
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        if meta.is_symlink() {
            let t = fs.read_link(host).map_err(|e| failed(self.keyword, e))?;
            h.update(format!("L {rel} {uid}:{gid} {}\n", t.display()));
        } else if meta.is_dir() {
            h.update(format!("D {rel} {mode:o} {uid}:{gid}\n"));
            let names = fs
                .read_dir(host)
                .map_err(|e| failed(self.keyword, format!("read {rel}: {e}")))?;
            for n in names {
                let child = if rel == "." {
                    n.to_string_lossy().into_owned()
                } else {
                    format!("{rel}/{}", n.to_string_lossy())
                };
                if self.skipped(&child) && !self.ignore.is_some_and(|i| i.has_exceptions()) {
                    continue;
                }
                if self.skipped(&child) && fs.lstat(&host.join(&n)).is_ok_and(|m| !m.is_dir()) {
                    continue;
                }
                self.hash_tree(h, &host.join(&n), &child)?;
            }
        } else if meta.is_file() {
            let digest = fs
                .digest(host)
                .map_err(|e| failed(self.keyword, format!("read {rel}: {e}")))?;
            h.update(format!(
                "F {rel} {mode:o} {uid}:{gid} {} {}\n",
                meta.len,
                hex::encode(digest)
            ));
        }
        Ok(())
    }

    /// Writes the items into `rootfs` (a mounted snapshot).
    pub fn apply(&self, items: &[Item], rootfs: &Path) -> Result<(), BuildError> {
        let kw = self.keyword;
        for item in items {
            match &item.kind {
                Kind::Dir => {
                    let dest = self.make_dir(rootfs, &item.dest, None)?;
                    self.copy_dir_contents(&item.host, &item.rel, &dest)?;
                }
                Kind::Archive => {
                    let dest = self.make_dir(rootfs, &item.dest, None)?;
                    extract_archive(&item.host, &dest)
                        .map_err(|e| failed(kw, format!("extract {}: {e}", item.rel)))?;
                }
                Kind::File | Kind::Inline(_) => {
                    // A destination that is an existing directory (symlinks resolved inside
                    // the rootfs) receives the file under its own name, as in Docker.
                    let resolved = resolve_in(rootfs, &item.dest, Scope::Chroot, true)
                        .map_err(|e| failed(kw, e))?;
                    let target = if resolved.is_dir() {
                        let base = Path::new(&item.rel)
                            .file_name()
                            .ok_or_else(|| failed(kw, format!("bad source {}", item.rel)))?;
                        resolved.join(base)
                    } else {
                        let parent = Path::new(&item.dest)
                            .parent()
                            .map(|p| p.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "/".into());
                        let dir = self.make_dir(rootfs, &parent, None)?;
                        let name = Path::new(&item.dest)
                            .file_name()
                            .ok_or_else(|| failed(kw, format!("bad destination {}", item.dest)))?;
                        dir.join(name)
                    };
                    if let Kind::Inline(content) = &item.kind {
                        remove_non_dir(&target);
                        fs::write(&target, content)
                            .map_err(|e| failed(kw, format!("write {}: {e}", item.dest)))?;
                        self.finish(&target, 0o644, None)?;
                    } else {
                        self.copy_entry(&item.host, &target, &item.rel)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Creates `dest` (and parents, root-owned 0755) inside `rootfs`; returns its host path.
    fn make_dir(
        &self,
        rootfs: &Path,
        dest: &str,
        mode: Option<u32>,
    ) -> Result<PathBuf, BuildError> {
        let host =
            resolve_in(rootfs, dest, Scope::Chroot, true).map_err(|e| failed(self.keyword, e))?;
        if host.is_dir() {
            return Ok(host);
        }
        if fs::symlink_metadata(&host).is_ok() {
            fs::remove_file(&host)
                .map_err(|e| failed(self.keyword, format!("replace {dest}: {e}")))?;
        }
        fs::create_dir_all(&host)
            .map_err(|e| failed(self.keyword, format!("mkdir {dest}: {e}")))?;
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        let _ = std::os::unix::fs::lchown(&host, Some(uid), Some(gid));
        fs::set_permissions(&host, fs::Permissions::from_mode(mode.unwrap_or(0o755)))
            .map_err(|e| failed(self.keyword, e))?;
        Ok(host)
    }

    fn copy_dir_contents(&self, src: &Path, rel: &str, dest: &Path) -> Result<(), BuildError> {
        let rd = fs::read_dir(src).map_err(|e| failed(self.keyword, format!("read {rel}: {e}")))?;
        for e in rd.flatten() {
            let name = e.file_name();
            let child_rel = if rel == "." {
                name.to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", name.to_string_lossy())
            };
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if self.skipped(&child_rel)
                && (!is_dir || !self.ignore.is_some_and(|i| i.has_exceptions()))
            {
                continue;
            }
            let target = dest.join(&name);
            if is_dir {
                let meta = e.metadata().map_err(|e| failed(self.keyword, e))?;
                if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
                    let _ = fs::remove_file(&target);
                }
                if !target.is_dir() {
                    fs::create_dir(&target)
                        .map_err(|e| failed(self.keyword, format!("mkdir {child_rel}: {e}")))?;
                }
                self.finish(&target, meta.mode() & 0o7777, Some(&meta))?;
                self.copy_dir_contents(&e.path(), &child_rel, &target)?;
            } else {
                self.copy_entry(&e.path(), &target, &child_rel)?;
            }
        }
        Ok(())
    }

    fn copy_entry(&self, src: &Path, target: &Path, rel: &str) -> Result<(), BuildError> {
        let kw = self.keyword;
        let meta = fs::symlink_metadata(src).map_err(|e| failed(kw, format!("stat {rel}: {e}")))?;
        remove_non_dir(target);
        if meta.file_type().is_symlink() {
            let t = fs::read_link(src).map_err(|e| failed(kw, e))?;
            std::os::unix::fs::symlink(&t, target)
                .map_err(|e| failed(kw, format!("symlink {rel}: {e}")))?;
            let (uid, gid) = self.owner.unwrap_or((0, 0));
            let _ = std::os::unix::fs::lchown(target, Some(uid), Some(gid));
            return Ok(());
        }
        if !meta.is_file() {
            return Err(failed(
                kw,
                format!("{rel} is not a regular file, directory or symlink"),
            ));
        }
        // One open of each side: content, owner, mode and mtime set through the fd.
        let io = |what: &str, e: std::io::Error| failed(kw, format!("{what} {rel}: {e}"));
        let mut from = fs::File::open(src).map_err(|e| io("open", e))?;
        let mode = self.chmod.unwrap_or(meta.mode() & 0o7777);
        let mut to = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(target)
            .map_err(|e| io("create", e))?;
        std::io::copy(&mut from, &mut to).map_err(|e| io("copy", e))?;
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        std::os::unix::fs::fchown(&to, Some(uid), Some(gid)).map_err(|e| io("chown", e))?;
        to.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| io("chmod", e))?;
        if let Ok(mtime) = meta.modified() {
            let _ = to.set_modified(mtime);
        }
        Ok(())
    }

    fn finish(
        &self,
        target: &Path,
        mode: u32,
        src: Option<&fs::Metadata>,
    ) -> Result<(), BuildError> {
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        std::os::unix::fs::lchown(target, Some(uid), Some(gid))
            .map_err(|e| failed(self.keyword, format!("chown {}: {e}", target.display())))?;
        let mode = self.chmod.unwrap_or(mode);
        fs::set_permissions(target, fs::Permissions::from_mode(mode))
            .map_err(|e| failed(self.keyword, e))?;
        if let Some(m) = src
            && let Ok(mtime) = m.modified()
            && let Ok(f) = fs::File::open(target)
        {
            let _ = f.set_modified(mtime);
        }
        Ok(())
    }
}

fn remove_non_dir(p: &Path) {
    if fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir()) {
        let _ = fs::remove_file(p);
    }
}

/// Whether a local file is a (possibly gzip/zstd compressed) tar archive.
fn is_tar_archive(fs: &dyn SrcFs, path: &Path) -> Result<bool, BuildError> {
    let Ok(mut f) = fs.open(path) else {
        return Ok(false);
    };
    let mut head = [0u8; 6];
    let n = f.read(&mut head).unwrap_or(0);
    let Ok(mut f) = fs.open(path) else {
        return Ok(false);
    };
    let mut block = vec![0u8; 512];
    let read_block = |r: &mut dyn Read, block: &mut Vec<u8>| -> bool {
        let mut got = 0;
        while got < 512 {
            match r.read(&mut block[got..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => got += k,
            }
        }
        got == 512 && &block[257..262] == b"ustar"
    };
    if n >= 2 && head[..2] == [0x1f, 0x8b] {
        return Ok(read_block(&mut flate2::read::GzDecoder::new(f), &mut block));
    }
    if n >= 4 && head[..4] == [0x28, 0xb5, 0x2f, 0xfd] {
        let Ok(mut d) = zstd::stream::read::Decoder::new(f) else {
            return Ok(false);
        };
        return Ok(read_block(&mut d, &mut block));
    }
    if n >= 3 && &head[..3] == b"BZh" {
        return Ok(read_block(
            &mut bzip2::read::MultiBzDecoder::new(f),
            &mut block,
        ));
    }
    if n >= 6 && head == [0xfd, b'7', b'z', b'X', b'Z', 0] {
        // lzma-rs only writes: keep the first block and stop it there.
        let mut first = FirstBlock(Vec::with_capacity(512));
        let _ = lzma_rs::xz_decompress(&mut std::io::BufReader::new(f), &mut first);
        return Ok(first.0.len() == 512 && &first.0[257..262] == b"ustar");
    }
    Ok(read_block(&mut f, &mut block))
}

/// A writer that keeps the first 512 bytes, then refuses more.
struct FirstBlock(Vec<u8>);

impl std::io::Write for FirstBlock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = 512 - self.0.len();
        if room == 0 {
            return Err(std::io::Error::other("first block read"));
        }
        let n = buf.len().min(room);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Unpacks a local archive (plain, gzip, bzip2, xz or zstd, as moby's `DecompressStream`).
fn extract_archive(path: &Path, dest: &Path) -> std::io::Result<()> {
    let f = fs::File::open(path)?;
    crate::context::decompressed(f, |r| {
        unpack_archive(r, dest).map_err(|e| BuildError::Other(e.to_string()))
    })
    .map_err(|e| std::io::Error::other(e.to_string()))
}

fn unpack_archive(reader: &mut dyn Read, dest: &Path) -> std::io::Result<()> {
    let mut a = tar::Archive::new(reader);
    a.set_preserve_permissions(true);
    a.set_preserve_ownerships(true);
    a.set_preserve_mtime(true);
    a.set_unpack_xattrs(false);
    for entry in a.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if kind.is_block_special() || kind.is_character_special() {
            continue;
        }
        let unpacked = entry.unpack_in(dest).map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| c.to_string())
                .unwrap_or_default();
            std::io::Error::other(format!("{e}: {cause}"))
        })?;
        if !unpacked {
            return Err(std::io::Error::other(format!(
                "entry {} is outside the destination",
                entry.path()?.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
