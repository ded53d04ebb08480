//! Helpers of the volume and mount tests (`volumes.rs`, `mounts.rs`): the same checks made
//! through `-v` and through `--mount`, and images with `VOLUME`s imported here.

use std::path::Path;

use berth_testkit::daemon::Daemon;

use super::stderr;

/// `docker run --rm MOUNT... busybox CMD...`, to its end.
fn run_rm(d: &Daemon, mount: &[&str], cmd: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(mount);
    args.push("busybox");
    args.extend_from_slice(cmd);
    d.docker_run(&args)
}

/// A file written through `rw` (flags mounting a volume at `/data`) is read back through `ro`
/// (the same volume, read-only), which refuses writes.
pub fn volume_keeps_data_and_read_only_refuses_writes(d: &Daemon, rw: &[&str], ro: &[&str]) {
    let out = run_rm(d, rw, &["sh", "-c", "echo kept > /data/f"]);
    assert!(
        out.status.success(),
        "write through {rw:?}: {}",
        stderr(&out)
    );
    let out = run_rm(d, ro, &["cat", "/data/f"]);
    assert!(
        out.status.success(),
        "read through {ro:?}: {}",
        stderr(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
    let out = run_rm(d, ro, &["touch", "/data/x"]);
    assert!(
        !out.status.success(),
        "a read-only volume must refuse writes"
    );
}

/// `docker volume rm VOLUME` is refused: a container uses it.
pub fn assert_volume_in_use(d: &Daemon, volume: &str) {
    let busy = d.docker_run(&["volume", "rm", volume]);
    assert!(!busy.status.success(), "volume rm {volume} succeeded");
    assert!(
        stderr(&busy).contains("volume is in use"),
        "{}",
        stderr(&busy)
    );
}

/// Imports busybox's rootfs plus `/data/seed` ("seeded\n") as `image`, with the Dockerfile
/// instructions `changes` (`docker import -c`).
pub fn import_busybox_with_seed(d: &Daemon, image: &str, changes: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    berth_testkit::busybox_rootfs(&root).unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/seed"), "seeded\n").unwrap();
    let tar = dir.path().join("rootfs.tar");
    berth_testkit::images::layer_tar(&root, &tar).unwrap();
    let mut args = vec!["import"];
    for c in changes {
        args.extend_from_slice(&["-c", c]);
    }
    let tar = tar.to_str().unwrap();
    args.extend_from_slice(&[tar, image]);
    d.docker_ok(&args);
}

/// Writes `in` ("from-host") into `host`, then runs `busybox sh -c "cat /x/in; echo back >
/// /x/out; MORE"` with `flags` (which mount `host` at `/x`) and checks that the host got `out`;
/// returns the container's output.
pub fn bind_round_trip(d: &Daemon, host: &Path, flags: &[&str], more: &str) -> String {
    std::fs::write(host.join("in"), "from-host\n").unwrap();
    let script = format!("cat /x/in; echo back > /x/out; {more}");
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    let out = d.docker_ok(&args);
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "back\n");
    out
}
