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
