//! An offline busybox root filesystem, made from Debian's `busybox-static`.

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

/// Where Debian's `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Fill `dir` with a minimal root filesystem: a static busybox, a symlink per applet in
/// `/bin`, `/etc/passwd` and `/etc/group` with root and nobody, and the usual empty mount points.
pub fn busybox_rootfs(dir: &Path) -> io::Result<()> {
    for d in [
        "bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "run", "home", "usr/bin",
    ] {
        fs::create_dir_all(dir.join(d))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::copy(BUSYBOX, dir.join("bin/busybox"))?;
    for applet in applets()? {
        if applet == "busybox" {
            continue;
        }
        let link = dir.join("bin").join(&applet);
        if !link.exists() {
            symlink("busybox", &link)?;
        }
    }
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    Ok(())
}

fn applets() -> io::Result<Vec<String>> {
    let out = Command::new(BUSYBOX).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other("busybox --list failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty() && !l.contains('/'))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_has_a_shell_and_applets() {
        let dir = tempfile::tempdir().unwrap();
        busybox_rootfs(dir.path()).unwrap();
        assert!(dir.path().join("bin/busybox").is_file());
        assert_eq!(
            fs::read_link(dir.path().join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        let out = Command::new(dir.path().join("bin/busybox"))
            .args(["echo", "hi"])
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
    }
}
