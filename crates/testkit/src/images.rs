//! Offline busybox images as tarballs, for tests of every crate: a docker-archive (the format
//! of `docker save`) made from [`crate::busybox_rootfs`] with GNU tar and sha256sum.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> io::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sha256_file(p: &Path) -> io::Result<String> {
    let out = run(Command::new("sha256sum").arg(p))?;
    out.split_whitespace()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other("sha256sum printed nothing"))
}

/// Packs `rootfs` into an uncompressed layer tar at `out` (sorted, numeric owners); returns
/// its sha256 hex (the layer's diff ID).
pub fn layer_tar(rootfs: &Path, out: &Path) -> io::Result<String> {
    run(Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["--sort=name", "--numeric-owner", "--xattrs", "-cf"])
        .arg(out)
        .arg("."))?;
    sha256_file(out)
}

/// Writes a docker-archive tarball of a one-layer busybox image tagged `tag` (e.g.
/// `busybox:latest`) under `dir`; returns its path. `docker load`, skopeo's
/// `docker-archive:` and Berth's `load` read it. The image's command is `sh`.
pub fn busybox_archive(dir: &Path, tag: &str) -> io::Result<PathBuf> {
    let work = dir.join(format!("busybox-archive-{}", crate::unique_name("")));
    let rootfs = work.join("rootfs");
    let arch = work.join("archive");
    fs::create_dir_all(&rootfs)?;
    fs::create_dir_all(&arch)?;
    crate::busybox_rootfs(&rootfs)?;
    let layer = work.join("layer.tar");
    let diff = layer_tar(&rootfs, &layer)?;
    fs::create_dir_all(arch.join(&diff))?;
    fs::rename(&layer, arch.join(&diff).join("layer.tar"))?;
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "berth-testkit busybox"}],
    });
    let config_bytes = serde_json::to_vec(&config).map_err(io::Error::other)?;
    let config_path = arch.join("config.json");
    fs::write(&config_path, &config_bytes)?;
    let config_hex = sha256_file(&config_path)?;
    fs::rename(&config_path, arch.join(format!("{config_hex}.json")))?;
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [tag],
        "Layers": [format!("{diff}/layer.tar")],
    }]);
    fs::write(
        arch.join("manifest.json"),
        serde_json::to_vec(&manifest).map_err(io::Error::other)?,
    )?;
    let out = dir.join(format!("{}.tar", crate::unique_name("busybox-")));
    run(Command::new("tar")
        .arg("-C")
        .arg(&arch)
        .args(["--sort=name", "-cf"])
        .arg(&out)
        .arg("."))?;
    fs::remove_dir_all(&work)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_archive_has_manifest_config_and_layer() {
        let dir = tempfile::tempdir().unwrap();
        let tar = busybox_archive(dir.path(), "busybox:latest").unwrap();
        let list = run(Command::new("tar").arg("-tf").arg(&tar)).unwrap();
        assert!(list.contains("manifest.json"), "{list}");
        assert!(list.contains("/layer.tar"), "{list}");
    }
}
