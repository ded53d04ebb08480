//! End to end: MemoryReservation and BlkioWeight at run and through `docker update`, the same
//! limit rules at start and at update (swap-only updates, `--pids-limit -1` lifting a limit), and
//! Docker's refusals.

mod common;

use berth_testkit::unique_name;
use common::{cgroup_file, daemon_with_busybox, run_detached};

fn blkio_weight(id: &str) -> String {
    let dir = format!("/sys/fs/cgroup/blkio/berth/{id}");
    if std::path::Path::new(&dir).join("blkio.weight").exists() {
        cgroup_file("blkio", id, "blkio.weight")
    } else {
        cgroup_file("blkio", id, "blkio.bfq.weight")
    }
}

#[test]
fn reservation_and_blkio_weight_at_run_and_update() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("updres");
    let id = run_detached(
        &d,
        &name,
        &[
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--memory-reservation",
            "16m",
            "--blkio-weight",
            "500",
            "--pids-limit",
            "40",
            "busybox",
            "sleep",
            "300",
        ],
    );
    assert_eq!(
        cgroup_file("memory", &id, "memory.soft_limit_in_bytes"),
        "16777216"
    );
    assert_eq!(blkio_weight(&id), "500");
    assert_eq!(
        cgroup_file("memory", &id, "memory.memsw.limit_in_bytes"),
        "134217728"
    );
    assert_eq!(cgroup_file("pids", &id, "pids.max"), "40");

    d.docker_ok(&[
        "update",
        "--memory-reservation",
        "32m",
        "--blkio-weight",
        "300",
        &name,
    ]);
    assert_eq!(
        cgroup_file("memory", &id, "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(blkio_weight(&id), "300");
    let hc = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.MemoryReservation}} {{.HostConfig.BlkioWeight}} {{.HostConfig.Memory}}",
        &name,
    ]);
    assert_eq!(hc.trim(), "33554432 300 67108864");

    // swap alone, and -1 lifting the pids limit: the same rules as at start
    d.docker_ok(&["update", "--memory-swap", "256m", &name]);
    assert_eq!(
        cgroup_file("memory", &id, "memory.memsw.limit_in_bytes"),
        "268435456"
    );
    assert_eq!(
        cgroup_file("memory", &id, "memory.limit_in_bytes"),
        "67108864"
    );
    d.docker_ok(&["update", "--pids-limit", "-1", &name]);
    assert_eq!(cgroup_file("pids", &id, "pids.max"), "max");

    // a restart rebuilds the bundle from HostConfig: the updated values hold
    d.docker_ok(&["restart", "-t", "0", &name]);
    assert_eq!(
        cgroup_file("memory", &id, "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(blkio_weight(&id), "300");
    assert_eq!(
        cgroup_file("memory", &id, "memory.memsw.limit_in_bytes"),
        "268435456"
    );
    assert_eq!(cgroup_file("pids", &id, "pids.max"), "max");

    // a memory limit alone gets as much swap again, as dockerd sets it
    let swap = unique_name("updswap");
    let sid = run_detached(&d, &swap, &["-m", "32m", "busybox", "sleep", "300"]);
    let ms = d.docker_ok(&["inspect", "-f", "{{.HostConfig.MemorySwap}}", &swap]);
    assert_eq!(ms.trim(), "67108864");
    assert_eq!(
        cgroup_file("memory", sid.trim(), "memory.memsw.limit_in_bytes"),
        "67108864"
    );
    d.docker_ok(&["rm", "-f", &swap]);

    let refused: &[(&[&str], &str)] = &[
        (
            &["--blkio-weight", "5"],
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            &["--memory-reservation", "1m"],
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            &["--memory-reservation", "100m"],
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
    ];
    for (flags, msg) in refused {
        let mut args = vec!["update"];
        args.extend_from_slice(flags);
        args.push(&name);
        let out = d.docker_run(&args);
        assert!(!out.status.success(), "{flags:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{flags:?}: {err}");
    }
    assert_eq!(blkio_weight(&id), "300");
    d.docker_ok(&["rm", "-f", &name]);

    // create applies the same checks, plus swap without memory
    for (flags, msg) in [
        (
            &["--memory-swap", "128m"][..],
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            &["--memory", "64m", "--memory-swap", "32m"][..],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            &["--blkio-weight", "2000"][..],
            "Range of blkio weight is from 10 to 1000",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let out = d.docker_run(&args);
        assert!(!out.status.success(), "{flags:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{flags:?}: {err}");
    }
}
