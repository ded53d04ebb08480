//! `cp`: `HEAD`/`PUT /containers/{c}/archive` to copy in (a tar built here), `GET` to copy out
//! (the tar unpacked here, or streamed to stdout for `-`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use http_body_util::BodyExt;

use super::{Ctx, Outcome, out};
use crate::args::CpArgs;
use crate::client::{ClientError, full, seg};

/// `container:path` → `Some((container, path))`; local paths (also `./a:b`, `/x:y`) → `None`.
pub fn split_container_path(arg: &str) -> Option<(String, String)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    if c.is_empty() || c.contains('/') {
        return None;
    }
    Some((c.to_string(), p.to_string()))
}

/// The decoded `X-Docker-Container-Path-Stat` header.
fn path_stat(resp: &hyper::Response<hyper::body::Incoming>) -> Option<serde_json::Value> {
    let h = resp
        .headers()
        .get("x-docker-container-path-stat")?
        .to_str()
        .ok()?;
    let raw = base64::engine::general_purpose::STANDARD.decode(h).ok()?;
    serde_json::from_slice(&raw).ok()
}

pub async fn cp(ctx: &Ctx, a: &CpArgs) -> Outcome {
    match (split_container_path(&a.src), split_container_path(&a.dest)) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((c, p)), None) => copy_out(ctx, &c, &p, &a.dest, a.quiet).await,
        (None, Some((c, p))) => copy_in(ctx, &a.src, &c, &p, a.follow_link, a.quiet).await,
    }
}

async fn copy_out(ctx: &Ctx, container: &str, path: &str, dest: &str, quiet: bool) -> Outcome {
    let resp = ctx
        .client
        .get(&format!("/containers/{}/archive", seg(container)))
        .query("path", path)
        .send()
        .await
        .map_err(|e| match e {
            ClientError::Api {
                status: 404,
                message,
            } => anyhow!("Error response from daemon: {message}"),
            e => e.into(),
        })?;
    let stat = path_stat(&resp);
    let data = resp.into_body().collect().await?.to_bytes();
    if dest == "-" {
        out_bytes(&data)?;
        return Ok(0);
    }
    let dest = PathBuf::from(dest);
    let src_name = stat
        .as_ref()
        .and_then(|s| s["name"].as_str().map(String::from))
        .unwrap_or_else(|| {
            Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        });
    // Into an existing directory: keep the source name; otherwise the destination is the new name.
    let (target_dir, rename) = if dest.is_dir() {
        (dest.clone(), None)
    } else {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!("destination \"{}\" must be a directory", parent.display());
        }
        (
            parent.to_path_buf(),
            dest.file_name().map(|n| n.to_string_lossy().to_string()),
        )
    };
    let total = unpack_into(&data, &src_name, rename.as_deref(), &target_dir)?;
    if !quiet && crate::tty::is_tty(std::io::stderr()) {
        eprintln!(
            "Successfully copied {} to {}",
            crate::render::human::human_size(total as f64),
            dest.display()
        );
    }
    Ok(0)
}

/// Unpacks a tar from the daemon under `dir`, renaming its top entry `src_name` to `rename`.
/// Hostile archives are refused: no absolute paths, no `..`, and nothing written through a
/// symlink that leads out of `dir` (each parent is resolved and must stay inside).
pub fn unpack_into(data: &[u8], src_name: &str, rename: Option<&str>, dir: &Path) -> Result<u64> {
    use std::path::Component;
    let root = dir
        .canonicalize()
        .with_context(|| format!("destination {}", dir.display()))?;
    let mut archive = tar::Archive::new(data);
    archive.set_preserve_permissions(true);
    let mut total = 0u64;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = entry.path()?.to_path_buf();
        let rel = match (rename, rel.strip_prefix(src_name)) {
            (Some(new), Ok(rest)) if rest.as_os_str().is_empty() => PathBuf::from(new),
            (Some(new), Ok(rest)) => Path::new(new).join(rest),
            _ => rel,
        };
        if rel.as_os_str().is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            bail!(
                "refusing to write outside the destination: {}",
                rel.display()
            );
        }
        let target = root.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
            let real = parent.canonicalize()?;
            if !real.starts_with(&root) {
                bail!(
                    "refusing to write outside the destination: {} resolves to {}",
                    rel.display(),
                    real.display()
                );
            }
        }
        total += entry.size();
        entry
            .unpack(&target)
            .with_context(|| format!("copying {}", rel.display()))?;
    }
    Ok(total)
}

fn out_bytes(data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(data)?;
    o.flush()?;
    Ok(())
}

async fn copy_in(
    ctx: &Ctx,
    src: &str,
    container: &str,
    path: &str,
    follow: bool,
    quiet: bool,
) -> Outcome {
    let client = &ctx.client;
    let archive_path = format!("/containers/{}/archive", seg(container));
    let (tar, dest_dir) = if src == "-" {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)?;
        (data, path.to_string())
    } else {
        let src_path = Path::new(src);
        let meta = if follow {
            std::fs::metadata(src_path)
        } else {
            std::fs::symlink_metadata(src_path)
        }
        .map_err(|_| anyhow!("stat {src}: no such file or directory"))?;
        // Does the destination exist as a directory in the container?
        let stat = client
            .req(hyper::Method::HEAD, &archive_path)
            .query("path", path)
            .send()
            .await;
        let (dir, name) = match stat {
            Ok(resp) => {
                let is_dir = path_stat(&resp)
                    .and_then(|s| s["mode"].as_u64())
                    .is_some_and(|m| m & (1 << 31) != 0);
                if is_dir {
                    (
                        path.to_string(),
                        src_path
                            .file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default(),
                    )
                } else {
                    split_parent(path)
                }
            }
            Err(ClientError::Api { status: 404, .. }) => {
                if path.ends_with('/') {
                    bail!(
                        "Error response from daemon: Could not find the file {path} in container {container}"
                    );
                }
                split_parent(path)
            }
            Err(e) => return Err(e.into()),
        };
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(follow);
        if meta.is_dir() {
            b.append_dir_all(&name, src_path)?;
        } else {
            b.append_path_with_name(src_path, &name)?;
        }
        (b.into_inner()?, dir)
    };
    let size = tar.len();
    client
        .req(hyper::Method::PUT, &archive_path)
        .query("noOverwriteDirNonDir", "true")
        .query("path", &dest_dir)
        .body(full(tar), "application/x-tar")
        .ok()
        .await?;
    if !quiet && crate::tty::is_tty(std::io::stderr()) {
        eprintln!(
            "Successfully copied {} to {container}:{path}",
            crate::render::human::human_size(size as f64)
        );
    }
    let _ = out;
    Ok(0)
}

fn split_parent(path: &str) -> (String, String) {
    let p = path.trim_end_matches('/');
    match p.rsplit_once('/') {
        Some(("", name)) => ("/".into(), name.into()),
        Some((dir, name)) => (dir.into(), name.into()),
        None => (".".into(), p.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, link) in entries {
            let mut h = tar::Header::new_gnu();
            match link {
                Some(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    b.append_link(&mut h, path, target).unwrap();
                }
                None => {
                    h.set_size(2);
                    h.set_mode(0o644);
                    h.set_cksum();
                    b.append_data(&mut h, path, &b"hi"[..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn copies_out_with_a_rename() {
        let dir = tempfile::tempdir().unwrap();
        let tar = tar_of(&[("passwd", None)]);
        assert_eq!(
            unpack_into(&tar, "passwd", Some("copy"), dir.path()).unwrap(),
            2
        );
        assert_eq!(std::fs::read(dir.path().join("copy")).unwrap(), b"hi");
        let tar = tar_of(&[("etc/hosts", None)]);
        unpack_into(&tar, "etc", None, dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("etc/hosts")).unwrap(), b"hi");
    }

    #[test]
    fn hostile_archives_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // A raw header, since the tar crate refuses to build a `..` path itself.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &b"hi"[..]).unwrap();
        let dotdot = b.into_inner().unwrap();
        assert!(unpack_into(&dotdot, "x", None, dir.path()).is_err());
        assert!(!dir.path().parent().unwrap().join("escape").exists());
        let link = outside.path().to_str().unwrap();
        let through_symlink = tar_of(&[("evil", Some(link)), ("evil/pwned", None)]);
        let err = unpack_into(&through_symlink, "x", None, dir.path()).unwrap_err();
        assert!(err.to_string().contains("outside the destination"), "{err}");
        assert!(!outside.path().join("pwned").exists());
    }

    #[test]
    fn container_paths_are_told_from_local_ones() {
        assert_eq!(
            split_container_path("web:/etc/passwd"),
            Some(("web".into(), "/etc/passwd".into()))
        );
        assert_eq!(split_container_path("/tmp/a:b"), None);
        assert_eq!(split_container_path("./a:b"), None);
        assert_eq!(split_container_path("local"), None);
        assert_eq!(split_parent("/tmp/x"), ("/tmp".into(), "x".into()));
        assert_eq!(split_parent("/x"), ("/".into(), "x".into()));
    }
}
