//! The daemon dies (SIGKILL) and comes back: running containers keep running and are
//! re-adopted; ones that exited meanwhile get their real exit code; the store stays consistent.

mod common;

use std::time::Duration;

use berth_testkit::unique_name;
use common::daemon_with_busybox;

#[test]
fn sigkilled_daemon_readopts_running_containers_and_records_real_exit_codes() {
    let (mut d, _t) = daemon_with_busybox();
    let long = unique_name("long");
    let short = unique_name("short");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &long,
        "busybox",
        "sh",
        "-c",
        "echo alive; trap 'exit 4' TERM; while true; do sleep 0.1; done",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &short,
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 9",
    ]);
    let pid_before = d.docker_ok(&["inspect", "-f", "{{.State.Pid}}", &long]);
    d.kill();
    std::thread::sleep(Duration::from_millis(1500));
    d.restart();
    let st = d.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", &long]);
    assert_eq!(st.trim(), format!("running {}", pid_before.trim()));
    let st = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        &short,
    ]);
    assert_eq!(st.trim(), "exited 9");
    let logs = d.docker_ok(&["logs", &long]);
    assert_eq!(logs, "alive\n");
    d.docker_ok(&["stop", &long]);
    let st = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        &long,
    ]);
    assert_eq!(st.trim(), "exited 4");
    d.docker_ok(&["start", &long]);
    let st = d.docker_ok(&["inspect", "-f", "{{.State.Status}}", &long]);
    assert_eq!(st.trim(), "running");
    d.docker_ok(&["rm", "-f", &long, &short]);
}

#[test]
fn daemon_killed_during_creates_and_removes_leaves_a_consistent_store() {
    let (mut d, _t) = daemon_with_busybox();
    let keep = unique_name("keep");
    d.docker_ok(&["run", "-d", "--name", &keep, "busybox", "sleep", "60"]);
    let mut pending = vec![];
    for i in 0..6 {
        let name = format!("{}-{i}", unique_name("cr"));
        pending.push(
            d.docker()
                .args(["run", "-d", "--name", &name, "busybox", "sleep", "60"])
                .spawn()
                .unwrap(),
        );
    }
    std::thread::sleep(Duration::from_millis(150));
    d.kill();
    for mut p in pending {
        let _ = p.wait();
    }
    d.restart();
    let st = d.docker_ok(&["inspect", "-f", "{{.State.Status}}", &keep]);
    assert_eq!(st.trim(), "running");
    // every container the store knows is inspectable, removable, and its resources go with it
    let all = d.docker_ok(&["ps", "-aq", "--no-trunc"]);
    for id in all.lines() {
        d.docker_ok(&["inspect", id]);
    }
    let removers: Vec<_> = all
        .lines()
        .map(|id| d.docker().args(["rm", "-f", id]).spawn().unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    d.kill();
    for mut r in removers {
        let _ = r.wait();
    }
    d.restart();
    for id in d.docker_ok(&["ps", "-aq", "--no-trunc"]).lines() {
        d.docker_ok(&["rm", "-f", id]);
    }
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
    let leftover: Vec<_> = std::fs::read_dir(d.exec_root.join("containers"))
        .unwrap()
        .flatten()
        .collect();
    assert!(leftover.is_empty(), "run dirs left: {leftover:?}");
    let name = unique_name("after");
    let out = d.docker_ok(&["run", "--rm", "--name", &name, "busybox", "echo", "ok"]);
    assert_eq!(out, "ok\n");
}

/// `berth-monitor --standby` processes waiting for a container of the daemon rooted at `root`
/// (an assigned one shows `berth-monitor RUN_DIR` instead).
fn standbys_of(root: &std::path::Path) -> Vec<i32> {
    let exec = root.join("exec");
    let mut pids = vec![];
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(c) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<_> = c.split(|b| *b == 0).map(String::from_utf8_lossy).collect();
        if args.len() >= 3
            && args[0].ends_with("berth-monitor")
            && args[1] == "--standby"
            && std::path::Path::new(args[2].as_ref()).starts_with(&exec)
        {
            pids.push(pid);
        }
    }
    pids
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spares_of(root: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(root.join("exec/netns-spare"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_standby_monitor_and_spare_namespace_go_with_a_killed_daemon() {
    let (mut d, _t) = daemon_with_busybox();
    // a start takes the standby and the spare, and new ones are made for the next start
    let name = unique_name("sb");
    wait_for("the first standby", || standbys_of(d.root()).len() == 1);
    let first = standbys_of(d.root())[0];
    let id = d.docker_ok(&["run", "-d", "--name", &name, "busybox", "sleep", "100"]);
    // the standby became its monitor, and shows `berth-monitor RUN_DIR`
    let run_dir = d.root().join("exec/containers").join(id.trim());
    let pid = std::fs::read_to_string(run_dir.join("monitor.pid")).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap();
    let args: Vec<_> = cmdline
        .split(|b| *b == 0)
        .map(String::from_utf8_lossy)
        .collect();
    assert!(args[0].ends_with("berth-monitor"), "{args:?}");
    assert_eq!(args[1], run_dir.to_string_lossy(), "{args:?}");
    assert_eq!(pid.trim(), first.to_string());
    // the background work runs at a lower priority, but not the monitors and containers
    let nice = |pid: &str| -> i64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap();
        let rest = stat.rsplit_once(')').unwrap().1;
        rest.split_whitespace().nth(16).unwrap().parse().unwrap()
    };
    let daemon_pid = std::fs::read_to_string(d.root().join("berthd.pid")).unwrap();
    let daemon_nice = nice(&daemon_pid);
    assert_eq!(nice(&pid), daemon_nice, "the monitor's nice value");
    let init = d.docker_ok(&["inspect", "-f", "{{.State.Pid}}", &name]);
    assert_eq!(nice(&init), daemon_nice, "the container's nice value");
    wait_for("a standby monitor", || standbys_of(d.root()).len() == 1);
    wait_for("a spare namespace", || spares_of(d.root()).len() == 1);
    let old_spare = spares_of(d.root()).remove(0);
    let mountinfo = || std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mountinfo().contains(&old_spare),
        "the spare is pinned by a mount"
    );
    // it comes with a veth pair for the next container's first endpoint: its host end here
    let links = || {
        std::process::Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let old_veth = format!(": veth{}@", &old_spare[..7]);
    assert!(links().contains(&old_veth), "{old_veth} not on the host");
    d.kill();
    // the standby reads EOF on its pipe from the daemon and ends; the container's monitor stays
    wait_for("the standby to end", || standbys_of(d.root()).is_empty());
    d.restart();
    // the old spare is removed (unmounted) at the next start, and the container still runs
    wait_for("a new spare", || {
        let s = spares_of(d.root());
        s.len() == 1 && s[0] != old_spare
    });
    assert!(!mountinfo().contains(&old_spare), "old spare still mounted");
    // its veth pair went with the namespace (the kernel tears a namespace down in the
    // background)
    wait_for("the old spare's veth to go", || {
        !links().contains(&old_veth)
    });
    let st = d.docker_ok(&["inspect", "-f", "{{.State.Status}}", &name]);
    assert_eq!(st.trim(), "running");
    // the new standby serves the next start
    wait_for("a standby after restart", || {
        standbys_of(d.root()).len() == 1
    });
    let out = d.docker_ok(&["run", "--rm", "busybox", "echo", "from the standby"]);
    assert_eq!(out, "from the standby\n");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn a_create_cut_short_before_its_snapshot_was_recorded_is_undone_at_the_next_start() {
    let (mut d, _t) = daemon_with_busybox();
    let name = unique_name("half");
    let kept = unique_name("whole");
    let id = d.docker_ok(&["create", "--name", &name, "busybox", "true"]);
    let id = id.trim().to_string();
    d.docker_ok(&["create", "--name", &kept, "busybox", "true"]);
    let snapshot = d.data_root.join("image/overlay/active").join(&id);
    assert!(snapshot.is_dir(), "{}", snapshot.display());
    d.kill();
    // what a daemon killed between storing the record (which claims the name) and writing the
    // snapshot's mounts into it leaves behind
    {
        let db = rusqlite::Connection::open(d.data_root.join("engine/state.db")).unwrap();
        let rec: String = db
            .query_row("SELECT record FROM containers WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .unwrap();
        let mut rec: serde_json::Value = serde_json::from_str(&rec).unwrap();
        rec["rootfs_mounts"] = serde_json::json!([]);
        db.execute(
            "UPDATE containers SET record = ?2 WHERE id = ?1",
            [&id, &rec.to_string()],
        )
        .unwrap();
    }
    d.restart();
    // the half-made container is gone with its snapshot, its name is free, the other one stays
    let out = d.docker().args(["inspect", &id]).output().unwrap();
    assert!(!out.status.success(), "still there after the restart");
    assert!(!snapshot.exists(), "its snapshot is left");
    let all = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(all.trim(), kept);
    d.docker_ok(&["create", "--name", &name, "busybox", "true"]);
    d.docker_ok(&["start", "-a", &name]);
}
