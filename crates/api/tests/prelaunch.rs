//! End to end: berthd launches a created container while the client is on its way to
//! `start` (crates/engine/src/container/prelaunch.rs). That launch must not show through the
//! API, must be undone when no start comes, and must give way to every other operation.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::{daemon_with_busybox, inspect_f, poll};

fn subnet(n: u32) -> String {
    let pid = std::process::id();
    format!("10.{}.{}.0/24", 200 + pid % 20, (pid / 20 * 5 + n) % 250)
}

/// The monitor socket of the container: there while its monitor holds it.
fn monitor_socket(d: &Daemon, id: &str) -> PathBuf {
    d.root()
        .join("exec/containers")
        .join(id)
        .join("monitor.sock")
}

fn mounted(id: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .contains(id)
}

/// Creates a container and waits until berthd has launched it ahead of a start.
fn create_launched(d: &Daemon, args: &[&str]) -> String {
    let mut all = vec!["create"];
    all.extend_from_slice(args);
    let id = d.docker_ok(&all).trim().to_string();
    let sock = monitor_socket(d, &id);
    let up = poll(
        Duration::from_secs(2),
        Duration::from_millis(10),
        || sock.exists(),
        |b| *b,
    );
    assert!(up, "no early launch of {id}: {}", d.log());
    id
}

fn undone(d: &Daemon, id: &str, within: Duration) -> bool {
    let sock = monitor_socket(d, id);
    poll(
        within,
        Duration::from_millis(50),
        || !sock.exists() && !mounted(id),
        |b| *b,
    )
}

fn resolves(d: &Daemon, net: &str, name: &str) -> bool {
    d.docker_run(&["run", "--rm", "--network", net, "busybox", "nslookup", name])
        .status
        .success()
}

#[test]
fn an_early_launch_is_invisible_undone_without_start_and_gives_way() {
    let (d, _t) = daemon_with_busybox();
    let net = unique_name("plnet");
    d.docker_ok(&["network", "create", "--subnet", &subnet(0), &net]);

    // launched ahead, the container still shows as only created, with no address
    let a = unique_name("pla");
    let id = create_launched(
        &d,
        &["--name", &a, "--network", &net, "busybox", "sleep", "300"],
    );
    assert_eq!(inspect_f(&d, &a, "{{.State.Status}}"), "created");
    assert_eq!(inspect_f(&d, &a, "{{.State.Pid}}"), "0");
    let ip = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
    assert_eq!(inspect_f(&d, &a, &ip), "");
    // no start within the time to live: undone (monitor, mounts, endpoint)
    assert!(
        undone(&d, &id, Duration::from_secs(6)),
        "the early launch of {a} stayed: {}",
        d.log()
    );
    let eps = d.docker_ok(&["network", "inspect", "-f", "{{len .Containers}}", &net]);
    assert_eq!(eps.trim(), "0");
    // a later start launches it again and it runs
    d.docker_ok(&["start", &a]);
    assert_eq!(inspect_f(&d, &a, "{{.State.Status}}"), "running");
    assert!(!inspect_f(&d, &a, &ip).is_empty());

    // a rename before the start: the network's DNS knows the new name only
    let b = unique_name("plb");
    let b2 = unique_name("plb2");
    create_launched(
        &d,
        &["--name", &b, "--network", &net, "busybox", "sleep", "300"],
    );
    d.docker_ok(&["rename", &b, &b2]);
    d.docker_ok(&["start", &b2]);
    assert!(resolves(&d, &net, &b2), "{b2} does not resolve");
    assert!(!resolves(&d, &net, &b), "the old name {b} still resolves");

    // a remove before the start leaves nothing behind
    let c = unique_name("plc");
    let cid = create_launched(&d, &["--name", &c, "busybox", "sleep", "300"]);
    d.docker_ok(&["rm", &c]);
    assert!(undone(&d, &cid, Duration::from_secs(1)), "{}", d.log());
    assert!(!d.root().join("exec/containers").join(&cid).exists());

    // a network whose only container is created (launched ahead) can be removed, as with Docker
    let net2 = unique_name("plnet2");
    d.docker_ok(&["network", "create", "--subnet", &subnet(1), &net2]);
    let e = unique_name("ple");
    let eid = create_launched(
        &d,
        &["--name", &e, "--network", &net2, "busybox", "sleep", "300"],
    );
    d.docker_ok(&["network", "rm", &net2]);
    assert!(undone(&d, &eid, Duration::from_secs(1)), "{}", d.log());

    // not launched ahead: a container publishing a port (a host port held for a container that
    // may never start would refuse another's start)
    let f = unique_name("plf");
    let fid = d
        .docker_ok(&[
            "create", "--name", &f, "-p", "80", "busybox", "sleep", "300",
        ])
        .trim()
        .to_string();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!monitor_socket(&d, &fid).exists());

    d.docker_ok(&["rm", "-f", &a, &b2, &e, &f]);
    d.docker_ok(&["network", "rm", &net]);
}
