//! End to end: `docker network prune` removes unused user networks only.

mod common;

use berth_testkit::unique_name;
use common::daemon_with_busybox;

fn subnet(n: u32) -> String {
    let pid = std::process::id();
    format!("10.{}.{}.0/24", 130 + pid % 40, (pid / 40 * 3 + n) % 250)
}

#[test]
fn network_prune_removes_unused_networks_and_keeps_used_ones() {
    let (d, _t) = daemon_with_busybox();
    let used = unique_name("pused");
    let idle = unique_name("pidle");
    let keep = unique_name("pkeep");
    d.docker_ok(&["network", "create", "--subnet", &subnet(0), &used]);
    d.docker_ok(&["network", "create", "--subnet", &subnet(1), &idle]);
    d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        &subnet(2),
        "--label",
        "keep=yes",
        &keep,
    ]);
    let ctr = unique_name("pctr");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &ctr,
        "--network",
        &used,
        "busybox",
        "sleep",
        "300",
    ]);

    // label filters: only networks without keep=yes go
    let out = d.docker_ok(&["network", "prune", "-f", "--filter", "label!=keep=yes"]);
    assert!(out.contains(&idle), "{out}");
    assert!(!out.contains(&keep) && !out.contains(&used), "{out}");
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!ls.contains(&idle), "{ls}");
    assert!(ls.contains(&keep) && ls.contains(&used), "{ls}");

    // an `until` in the past keeps the fresh network
    let out = d.docker_ok(&["network", "prune", "-f", "--filter", "until=1h"]);
    assert!(!out.contains(&keep), "{out}");
    let bad = d.docker_run(&["network", "prune", "-f", "--filter", "until=soon"]);
    assert!(!bad.status.success());
    let bad = d.docker_run(&["network", "prune", "-f", "--filter", "color=red"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid filter 'color'"));

    let out = d.docker_ok(&["network", "prune", "-f"]);
    assert!(out.contains(&keep) && !out.contains(&used), "{out}");
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(ls.contains(&used) && ls.contains("bridge"), "{ls}");
    assert!(!ls.contains(&keep), "{ls}");

    // once the container is gone its network is unused too
    d.docker_ok(&["rm", "-f", &ctr]);
    let out = d.docker_ok(&["network", "prune", "-f"]);
    assert!(out.contains(&used), "{out}");
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!ls.contains(&used), "{ls}");
}
