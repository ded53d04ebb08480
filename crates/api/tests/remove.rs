//! Removing a container answers before the recursive deletes (they go through a trash
//! directory) and still leaves nothing behind: not after `run --rm`, not after a crash with
//! something left in the trash.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::daemon_with_busybox;

/// Entries of `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn wait_empty(dir: &Path) -> Vec<String> {
    wait_count(dir, 0)
}

#[test]
fn run_rm_and_rm_leave_no_directory_or_layer_behind() {
    let (d, _dir) = daemon_with_busybox();
    let data = d.root().join("data");
    let exec = d.root().join("exec");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hi > /f; echo done",
    ]);
    assert_eq!(out.trim(), "done");
    let id = d
        .docker_ok(&["create", "busybox", "true"])
        .trim()
        .to_string();
    d.docker_ok(&["start", "-a", &id]);
    assert!(data.join("engine/containers").join(&id).exists());
    // a stopped container keeps no mount (its monitor detached the rootfs before exiting)
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "{mounts}");
    assert_eq!(entries(&data.join("image/overlay/active")).len(), 1);
    d.docker_ok(&["rm", &id]);
    // gone from the API at once
    let inspect = d.docker_run(&["inspect", &id]);
    assert!(!inspect.status.success());
    assert!(
        String::from_utf8_lossy(&inspect.stderr).contains("No such"),
        "{inspect:?}"
    );
    // and from the disk soon after
    for dir in [
        exec.join("containers"),
        data.join("engine/containers"),
        data.join("image/overlay/active"),
        exec.join("trash"),
        data.join("engine/trash"),
        data.join("image/overlay/tmp"),
    ] {
        assert_eq!(wait_empty(&dir), Vec::<String>::new(), "{}", dir.display());
    }
}

#[test]
fn what_a_crash_left_in_the_trash_is_deleted_at_the_next_start() {
    let (mut d, _dir) = daemon_with_busybox();
    d.kill();
    let left = [
        d.root().join("exec/trash/0123abcd-deadbeef"),
        d.root().join("data/engine/trash/0123abcd-deadbeef"),
    ];
    for l in &left {
        std::fs::create_dir_all(l.join("sub")).unwrap();
        std::fs::write(l.join("sub/file"), b"x").unwrap();
    }
    d.restart();
    for l in &left {
        assert!(!l.exists(), "{} still there", l.display());
    }
    assert_eq!(
        d.docker_ok(&["run", "--rm", "busybox", "echo", "ok"])
            .trim(),
        "ok"
    );
}

/// This daemon's container monitors: `berth-monitor` processes working in one of its run
/// directories (a monitor enters its run directory, whether it was spawned for the container
/// or was the daemon's standby). An idle standby is not counted.
fn monitors_of(root: &Path) -> usize {
    // a removed container's run directory may already be in the exec root's trash
    let runs = root.join("exec");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| {
            std::fs::read(p.path().join("cmdline")).is_ok_and(|c| {
                c.split(|b| *b == 0)
                    .next()
                    .is_some_and(|a| String::from_utf8_lossy(a).ends_with("berth-monitor"))
            }) && std::fs::read_link(p.path().join("cwd")).is_ok_and(|d| d.starts_with(&runs))
        })
        .count()
}

#[test]
fn a_start_whose_port_is_taken_fails_and_leaves_no_monitor_or_namespace() {
    let (d, _dir) = daemon_with_busybox();
    // the endpoints are attached while the monitor creates the container: a failure of the
    // network side must undo the created container too
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let name = berth_testkit::unique_name("taken");
    let publish = format!("127.0.0.1:{port}:80");
    let out = d.docker_run(&[
        "run", "-d", "--name", &name, "-p", &publish, "busybox", "sleep", "100",
    ]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&port.to_string()) && err.contains("already in use"),
        "{err}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while monitors_of(d.root()) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(monitors_of(d.root()), 0, "{}", d.log());
    let state = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Running}}",
        &name,
    ]);
    assert_eq!(state.trim(), "created false");
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", &name]);
    let run_dir = d.root().join("exec/containers").join(id.trim());
    assert!(!run_dir.join("netns").exists());
    assert!(
        !run_dir.join("bundle/rootfs/bin").exists(),
        "rootfs left mounted"
    );
    // with the port free, the same container starts
    drop(taken);
    d.docker_ok(&["start", &name]);
    assert_eq!(monitors_of(d.root()), 1);
    d.docker_ok(&["rm", "-f", &name]);
}

/// Waits until `dir` holds `n` entries; returns what it holds at the end.
fn wait_count(dir: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = entries(dir);
        if now.len() == n || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn creates_take_ready_made_directories_and_starts_refill_them() {
    let (d, _dir) = daemon_with_busybox();
    let data = d.root().join("data");
    let pools = [data.join("engine/spare"), data.join("image/overlay/spare")];
    // the daemon fills both pools in the background
    for p in &pools {
        assert_eq!(wait_count(p, 4).len(), 4, "{}", p.display());
    }
    let id = d
        .docker_ok(&["create", "busybox", "echo", "hi"])
        .trim()
        .to_string();
    for p in &pools {
        assert_eq!(entries(p).len(), 3, "{}", p.display());
    }
    // the container's directory came with its log file, under the container's name for it
    let dir = data.join("engine/containers").join(&id);
    assert_eq!(entries(&dir), vec![format!("{id}-json.log")]);
    assert_eq!(d.docker_ok(&["start", "-a", &id]).trim(), "hi");
    assert_eq!(d.docker_ok(&["logs", &id]).trim(), "hi");
    // the start refilled them
    for p in &pools {
        assert_eq!(wait_count(p, 4).len(), 4, "{}", p.display());
    }
    d.docker_ok(&["rm", &id]);
}
