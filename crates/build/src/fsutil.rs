//! Path resolution inside a root that never leaves it, and small file helpers.

use std::io;
use std::path::{Component, Path, PathBuf};

/// How a symlink or `..` that would leave the root is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A build context: leaving it is an error (`COPY ../x`, a symlink to `/etc`).
    Strict,
    /// A container rootfs: absolute links and `..` are taken relative to the root (chroot rules).
    Chroot,
}

/// Resolves `path` (relative to `root`, or absolute meaning "from root") following symlinks
/// within `root`. With `follow_last` false the final component is not followed. Returns the
/// host path, which may not exist yet.
pub fn resolve_in(root: &Path, path: &str, scope: Scope, follow_last: bool) -> io::Result<PathBuf> {
    resolve_in_fs(&crate::srcfs::HostFs, root, path, scope, follow_last)
}

/// [`resolve_in`] over any [`SrcFs`](crate::srcfs::SrcFs) (a context held in memory).
pub fn resolve_in_fs(
    fs: &dyn crate::srcfs::SrcFs,
    root: &Path,
    path: &str,
    scope: Scope,
    follow_last: bool,
) -> io::Result<PathBuf> {
    let mut stack: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    // Components still to walk, in reverse order.
    let mut todo: Vec<std::ffi::OsString> = Vec::new();
    push_components(&mut todo, Path::new(path));
    while let Some(part) = todo.pop() {
        if part == ".." {
            if stack.pop().is_none() && scope == Scope::Strict {
                return Err(outside(path));
            }
            continue;
        }
        stack.push(part);
        let is_last = todo.is_empty();
        if is_last && !follow_last {
            break;
        }
        let host = join(root, &stack);
        let Ok(meta) = fs.lstat(&host) else {
            continue;
        };
        if !meta.is_symlink() {
            continue;
        }
        links += 1;
        if links > 255 {
            return Err(io::Error::other(format!(
                "too many levels of symbolic links in {path}"
            )));
        }
        let target = fs.read_link(&host)?;
        stack.pop();
        if target.is_absolute() {
            if scope == Scope::Strict {
                return Err(outside_link(path, &target));
            }
            stack.clear();
        }
        let before = stack.len();
        push_components(&mut todo, &target);
        // A relative link climbing above the root leaves a strict scope.
        if scope == Scope::Strict {
            let mut depth = before as i64;
            for c in target.components() {
                match c {
                    Component::ParentDir => depth -= 1,
                    Component::Normal(_) => depth += 1,
                    _ => {}
                }
                if depth < 0 {
                    return Err(outside_link(path, &target));
                }
            }
        }
    }
    Ok(join(root, &stack))
}

fn push_components(todo: &mut Vec<std::ffi::OsString>, p: &Path) {
    let parts: Vec<_> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}

/// Creates `path` as a new file, mode 0600 until the caller sets its own, never through a
/// symlink (`O_NOFOLLOW`).
pub fn create_new_file(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

fn join(root: &Path, parts: &[std::ffi::OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

fn outside(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("forbidden path outside the build context: {path}"),
    )
}

fn outside_link(path: &str, target: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "forbidden path outside the build context: {path} (symlink to {})",
            target.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn strict_scope_refuses_escapes() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir(r.join("a")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../x", r.join("a/up")).unwrap();
        symlink("a", r.join("rel")).unwrap();
        assert!(resolve_in(r, "../x", Scope::Strict, true).is_err());
        let e = resolve_in(r, "abs/passwd", Scope::Strict, true).unwrap_err();
        assert!(e.to_string().contains("outside the build context"), "{e}");
        assert!(resolve_in(r, "a/up", Scope::Strict, true).is_err());
        assert_eq!(
            resolve_in(r, "rel/f", Scope::Strict, true).unwrap(),
            r.join("a/f")
        );
        assert_eq!(
            resolve_in(r, "a/../a/f", Scope::Strict, true).unwrap(),
            r.join("a/f")
        );
    }

    #[test]
    fn chroot_scope_clamps_to_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        symlink("/usr/bin", r.join("bin")).unwrap();
        symlink("../../../../etc", r.join("usr/evil")).unwrap();
        assert_eq!(
            resolve_in(r, "/bin/sh", Scope::Chroot, true).unwrap(),
            r.join("usr/bin/sh")
        );
        assert_eq!(
            resolve_in(r, "/usr/evil/x", Scope::Chroot, true).unwrap(),
            r.join("etc/x")
        );
        assert_eq!(
            resolve_in(r, "/../../x", Scope::Chroot, true).unwrap(),
            r.join("x")
        );
        assert_eq!(
            resolve_in(r, "/bin", Scope::Chroot, false).unwrap(),
            r.join("bin")
        );
    }
}
