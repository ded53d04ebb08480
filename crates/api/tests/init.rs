//! End to end: `--init` runs the init binary (tini) mounted read-only at /dev/init as pid 1; it
//! reaps orphaned zombies and passes `docker stop`'s signal on to the command.

mod common;

use std::time::Duration;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::daemon_with_busybox;

/// The processes in Z state in the container (`pid (comm) Z ...` lines of /proc/*/stat).
fn zombies(d: &Daemon, name: &str) -> Vec<String> {
    let out = d.docker_ok(&["exec", name, "sh", "-c", "cat /proc/[0-9]*/stat"]);
    out.lines()
        .filter(|l| {
            l.rsplit_once(") ")
                .is_some_and(|(_, r)| r.starts_with("Z "))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn init_is_pid_one_mounted_read_only() {
    let (d, _t) = daemon_with_busybox();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "tr '\\0' ' ' < /proc/1/cmdline; echo; grep ' /dev/init ' /proc/self/mounts; \
         touch /dev/init 2>/dev/null && echo writable || echo read-only",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("/dev/init -- sh -c"), "{out}");
    assert!(
        lines[1].contains(" ro,") || lines[1].contains(" ro "),
        "{out}"
    );
    assert_eq!(lines[2], "read-only", "{out}");
    let name = unique_name("initi");
    d.docker_ok(&["create", "--init", "--name", &name, "busybox", "true"]);
    let init = d.docker_ok(&["inspect", "-f", "{{.HostConfig.Init}}", &name]);
    assert_eq!(init.trim(), "true");
}

#[test]
fn init_reaps_orphaned_zombies() {
    let (d, _t) = daemon_with_busybox();
    // the inner sh exits at once, orphaning `sleep 0.2`, which is reparented to pid 1; the
    // command itself then becomes a `sleep` that never reaps anything
    let script = "sh -c 'sleep 0.2 &'; exec sleep 300";
    let with = unique_name("initz");
    let without = unique_name("noinitz");
    d.docker_ok(&[
        "run", "-d", "--init", "--name", &with, "busybox", "sh", "-c", script,
    ]);
    d.docker_ok(&[
        "run", "-d", "--name", &without, "busybox", "sh", "-c", script,
    ]);
    std::thread::sleep(Duration::from_secs(1));
    // without an init, pid 1 is the sleep: the orphan stays a zombie
    let z = zombies(&d, &without);
    assert_eq!(
        z.len(),
        1,
        "expected the orphan as a zombie without --init: {z:?}"
    );
    // with --init, tini reaped it
    let z = zombies(&d, &with);
    assert!(z.is_empty(), "zombies left with --init: {z:?}");
    d.docker_ok(&["rm", "-f", &with, &without]);
}

#[test]
fn docker_stop_signal_reaches_the_command_through_init() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("inits");
    d.docker_ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    for _ in 0..50 {
        if d.docker_ok(&["logs", &name]).contains("ready") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    d.docker_ok(&["stop", "--time", "30", &name]);
    // SIGKILL after the timeout would give 137: 7 means the TERM reached the trap
    let code = d.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    assert_eq!(code.trim(), "7");
    assert!(d.docker_ok(&["logs", &name]).contains("got-term"));
}
