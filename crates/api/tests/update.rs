//! End to end: `docker update` changes a running container's cgroups and its HostConfig.

mod common;

use berth_testkit::unique_name;
use common::{cgroup_file, daemon_with_busybox, run_detached};

#[test]
fn update_memory_and_pids_reaches_cgroups_and_inspect() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("upd");
    let id = run_detached(&d, &name, &["busybox", "sleep", "300"]);
    let out = d.docker_ok(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "50",
        "--restart",
        "on-failure:3",
        &name,
    ]);
    assert_eq!(out.trim(), name, "{}", d.log());
    let hc = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
        &name,
    ]);
    assert_eq!(hc.trim(), "67108864 134217728 50 on-failure:3");
    assert_eq!(
        cgroup_file("memory", &id, "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(cgroup_file("pids", &id, "pids.max"), "50");

    d.docker_ok(&["update", "--cpus", "0.5", "--cpu-shares", "512", &name]);
    assert_eq!(cgroup_file("cpu", &id, "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup_file("cpu", &id, "cpu.cfs_period_us"), "100000");
    assert_eq!(cgroup_file("cpu", &id, "cpu.shares"), "512");
    let cpus = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.Memory}}",
        &name,
    ]);
    assert_eq!(cpus.trim(), "500000000 512 67108864");
    let both = d.docker_run(&["update", "--cpu-quota", "20000", &name]);
    assert!(!both.status.success());

    // bad values are refused and change nothing
    let bad = d.docker_run(&["update", "--memory", "1k", &name]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let bad = d.docker_run(&["update", "--restart", "sometimes", &name]);
    assert!(!bad.status.success());
    assert_eq!(
        cgroup_file("memory", &id, "memory.limit_in_bytes"),
        "67108864"
    );
    let missing = d.docker_run(&["update", "--memory", "64m", &unique_name("nosuch")]);
    assert!(!missing.status.success());

    // a stopped container takes the update into its HostConfig and its next start
    d.docker_ok(&["stop", "-t", "0", &name]);
    d.docker_ok(&["update", "--pids-limit", "70", &name]);
    d.docker_ok(&["start", &name]);
    assert_eq!(cgroup_file("pids", &id, "pids.max"), "70");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn updated_restart_policy_applies_to_the_next_exit() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("updrp");
    run_detached(
        &d,
        &name,
        &[
            "busybox",
            "sh",
            "-c",
            "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 3",
        ],
    );
    d.docker_ok(&["update", "--restart", "on-failure:1", &name]);
    d.docker_ok(&["exec", &name, "touch", "/tmp/go"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let state = loop {
        let s = d.docker_ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
            &name,
        ]);
        if s.trim() == "1 exited 3" || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(state.trim(), "1 exited 3", "{}", d.log());
    d.docker_ok(&["rm", "-f", &name]);
}
