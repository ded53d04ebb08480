//! End to end through the stock docker CLI: --oom-kill-disable, --cpuset-mems, the per-device
//! block I/O limits (--device-read-bps ..., --blkio-weight-device) and --cgroupns private
//! reach the container's cgroups and namespaces (cgroup v1 controllers on this machine), with
//! moby's warnings and refusals; a refused create leaves no container.

mod common;

use std::process::Command;

use berth_testkit::unique_name;
use common::files::{cleanup, fails_with, stderr_of};
use common::{cgroup_file, daemon_with_busybox, inspect_f, run_detached};

/// No container of these names exists (a refused create left nothing).
fn none_named(d: &berth_testkit::daemon::Daemon, names: &[&str]) {
    let all = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    for n in names {
        assert!(!all.lines().any(|l| l == *n), "{n} left: {all}");
    }
}

#[test]
fn oom_kill_disable_reaches_memory_oom_control() {
    let (d, _t) = daemon_with_busybox();
    let (off, on, bare) = (
        unique_name("oomoff"),
        unique_name("oomon"),
        unique_name("oombare"),
    );
    let api = unique_name("oomapi");
    let _c = cleanup(&d, &[&off, &on, &bare, &api], &[]);
    let id = run_detached(
        &d,
        &on,
        &["--oom-kill-disable", "-m", "32m", "busybox", "sleep", "300"],
    );
    let ctl = cgroup_file("memory", &id, "memory.oom_control");
    assert!(ctl.lines().any(|l| l == "oom_kill_disable 1"), "{ctl}");
    assert_eq!(inspect_f(&d, &on, "{{.HostConfig.OomKillDisable}}"), "true");
    // and `docker info` says the host can (a v1 memory controller, as this container's)
    assert_eq!(
        d.docker_ok(&["info", "--format", "{{.OomKillDisable}}"])
            .trim(),
        "true"
    );
    let id = run_detached(&d, &off, &["busybox", "sleep", "300"]);
    let ctl = cgroup_file("memory", &id, "memory.oom_control");
    assert!(ctl.lines().any(|l| l == "oom_kill_disable 0"), "{ctl}");
    assert_eq!(
        inspect_f(&d, &off, "{{.HostConfig.OomKillDisable}}"),
        "false"
    );
    // without a memory limit: accepted, with the daemon's warning (the CLI adds its own)
    let (ok, err) = stderr_of(
        &d,
        &[
            "create",
            "--name",
            &bare,
            "--oom-kill-disable",
            "busybox",
            "true",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        err.contains(
            "WARNING: OOM killer is disabled for the container, but no memory limit is set"
        ),
        "{err}"
    );
    // an API client that leaves it out gets moby's defaults in inspect
    let path = format!("/containers/create?name={api}");
    let (code, resp) = common::http::json(&d, "POST", &path, r#"{"Image":"busybox"}"#);
    assert_eq!(code, 201, "{resp}");
    assert_eq!(
        inspect_f(
            &d,
            &api,
            "{{.HostConfig.OomKillDisable}} {{.HostConfig.CgroupnsMode}}"
        ),
        "false host"
    );
    // not a boolean, from an API client
    let body = r#"{"Image":"busybox","HostConfig":{"OomKillDisable":"yes"}}"#;
    let (code, resp) = common::http::json(&d, "POST", "/containers/create", body);
    assert_eq!(code, 400, "{resp}");
    assert!(
        common::http::message(&resp).contains("OomKillDisable"),
        "{resp}"
    );
}

#[test]
fn cpuset_mems_pins_memory_nodes_at_run_and_update() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("mems");
    let (bad1, bad2, bad3) = (
        unique_name("memsbad"),
        unique_name("memsbad"),
        unique_name("memsbad"),
    );
    let plain = unique_name("memsplain");
    let _c = cleanup(&d, &[&name, &bad1, &bad2, &bad3, &plain], &[]);
    let id = run_detached(
        &d,
        &name,
        &["--cpuset-mems", "0", "busybox", "sleep", "300"],
    );
    assert_eq!(cgroup_file("cpuset", &id, "cpuset.mems"), "0");
    assert_eq!(inspect_f(&d, &name, "{{.HostConfig.CpusetMems}}"), "0");
    let status = d.docker_ok(&[
        "exec",
        &name,
        "grep",
        "Mems_allowed_list",
        "/proc/self/status",
    ]);
    assert_eq!(status.split_whitespace().nth(1), Some("0"), "{status}");
    d.docker_ok(&["update", "--cpuset-mems", "0", "--cpuset-cpus", "0", &name]);
    assert_eq!(cgroup_file("cpuset", &id, "cpuset.mems"), "0");
    assert_eq!(cgroup_file("cpuset", &id, "cpuset.cpus"), "0");
    // the host's nodes, as moby reads them (the cpuset root)
    let avail = std::fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.mems").unwrap();
    let avail = avail.trim();
    let many = "0-4095";
    let want =
        format!("Requested memory nodes are not available - requested {many}, available: {avail}");
    fails_with(
        &d,
        &[
            "create",
            "--name",
            &bad1,
            "--cpuset-mems",
            many,
            "busybox",
            "true",
        ],
        &want,
    );
    fails_with(
        &d,
        &[
            "create",
            "--name",
            &bad2,
            "--cpuset-mems",
            "0-x",
            "busybox",
            "true",
        ],
        "Invalid value 0-x for cpuset mems: invalid format: 0-x",
    );
    fails_with(&d, &["update", "--cpuset-mems", many, &name], &want);
    assert_eq!(inspect_f(&d, &name, "{{.HostConfig.CpusetMems}}"), "0");
    // CPUs are checked the same way
    let cpus = std::fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus").unwrap();
    fails_with(
        &d,
        &[
            "create",
            "--name",
            &bad3,
            "--cpuset-cpus",
            "0-4095",
            "busybox",
            "true",
        ],
        &format!(
            "Requested CPUs are not available - requested 0-4095, available: {}",
            cpus.trim()
        ),
    );
    none_named(&d, &[&bad1, &bad2, &bad3]);

    // a running container started without cpuset limits has no cpuset cgroup: refused with
    // the reason; stopped, the update is kept and applies at its start
    let pid = run_detached(&d, &plain, &["busybox", "sleep", "300"]);
    fails_with(
        &d,
        &["update", "--cpuset-mems", "0", &plain],
        "cpuset limits can only be changed on a running container started with",
    );
    assert_eq!(inspect_f(&d, &plain, "{{.HostConfig.CpusetMems}}"), "");
    d.docker_ok(&["stop", "-t", "0", &plain]);
    d.docker_ok(&["update", "--cpuset-mems", "0", &plain]);
    d.docker_ok(&["start", &plain]);
    assert_eq!(cgroup_file("cpuset", &pid, "cpuset.mems"), "0");
}

/// A loop device of the test's own over a sparse file, detached when the test ends.
struct Loop(String);

impl Loop {
    fn attach(dir: &std::path::Path) -> Loop {
        let file = dir.join("loop.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(16 << 20))
            .unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {out:?}");
        Loop(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `MAJ:MIN` as the kernel writes it.
    fn numbers(&self) -> String {
        let base = self.0.trim_start_matches("/dev/");
        std::fs::read_to_string(format!("/sys/block/{base}/dev"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// The I/O schedulers the device may use (`[current]` among them).
    fn schedulers(&self) -> String {
        let base = self.0.trim_start_matches("/dev/");
        std::fs::read_to_string(format!("/sys/block/{base}/queue/scheduler")).unwrap_or_default()
    }

    fn set_scheduler(&self, s: &str) -> bool {
        let base = self.0.trim_start_matches("/dev/");
        std::fs::write(format!("/sys/block/{base}/queue/scheduler"), s).is_ok()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn device_throttles_and_weights_reach_the_blkio_cgroup() {
    let (d, t) = daemon_with_busybox();
    let dev = Loop::attach(t.path());
    let n = dev.numbers();
    let (name, weighted, nobfq) = (
        unique_name("bps"),
        unique_name("bpsw"),
        unique_name("bpsnobfq"),
    );
    let bad: Vec<String> = (0..3).map(|_| unique_name("bpsbad")).collect();
    let mut names: Vec<&str> = vec![&name, &weighted, &nobfq];
    names.extend(bad.iter().map(String::as_str));
    let _c = cleanup(&d, &names, &[]);
    let flag = |rate: &str| format!("{}:{rate}", dev.0);
    let id = run_detached(
        &d,
        &name,
        &[
            "--device-read-bps",
            &flag("1mb"),
            "--device-write-bps",
            &flag("2mb"),
            "--device-read-iops",
            &flag("100"),
            "--device-write-iops",
            &flag("50"),
            "busybox",
            "sleep",
            "300",
        ],
    );
    for (file, want) in [
        ("blkio.throttle.read_bps_device", "1048576"),
        ("blkio.throttle.write_bps_device", "2097152"),
        ("blkio.throttle.read_iops_device", "100"),
        ("blkio.throttle.write_iops_device", "50"),
    ] {
        assert_eq!(
            cgroup_file("blkio", &id, file),
            format!("{n} {want}"),
            "{file}"
        );
    }
    assert_eq!(
        inspect_f(&d, &name, "{{json .HostConfig.BlkioDeviceReadBps}}"),
        format!("[{{\"Path\":\"{}\",\"Rate\":1048576}}]", dev.0)
    );
    assert_eq!(
        inspect_f(&d, &name, "{{json .HostConfig.BlkioDeviceWriteIOps}}"),
        format!("[{{\"Path\":\"{}\",\"Rate\":50}}]", dev.0)
    );
    // a restart resolves the devices again: the same limits
    d.docker_ok(&["restart", "-t", "0", &name]);
    assert_eq!(
        cgroup_file("blkio", &id, "blkio.throttle.read_bps_device"),
        format!("{n} 1048576")
    );

    // a device weight needs BFQ scheduling the device, as with runc (BFQ's cgroup files are
    // the only per-device weight of kernels without CFQ)
    let weight = flag("300");
    if dev.schedulers().contains("bfq") {
        assert!(dev.set_scheduler("none"), "set the loop device's scheduler");
        let (ok, err) = stderr_of(
            &d,
            &[
                "run",
                "-d",
                "--name",
                &nobfq,
                "--blkio-weight-device",
                &weight,
                "busybox",
                "true",
            ],
            None,
        );
        assert!(!ok && err.contains("bfq"), "{err}");
        assert!(dev.set_scheduler("bfq"), "set the loop device's scheduler");
        let wid = run_detached(
            &d,
            &weighted,
            &["--blkio-weight-device", &weight, "busybox", "sleep", "300"],
        );
        let weights = cgroup_file("blkio", &wid, "blkio.bfq.weight_device");
        assert!(
            weights.lines().any(|l| l == format!("{n} 300")),
            "{weights}"
        );
        assert_eq!(
            inspect_f(&d, &weighted, "{{json .HostConfig.BlkioWeightDevice}}"),
            format!("[{{\"Path\":\"{}\",\"Weight\":300}}]", dev.0)
        );
    } else {
        eprintln!("no bfq scheduler for loop devices: device weight not checked");
    }

    // refused at create, naming the device; nothing left behind
    for (i, (flags, want)) in [
        (
            vec!["--device-read-bps", "/dev/berth-no-such:1mb"],
            "stat /dev/berth-no-such: no such file or directory".to_string(),
        ),
        (
            vec!["--device-write-iops", "/dev/null:10"],
            "invalid device /dev/null in BlkioDeviceWriteIOps: not a block device".to_string(),
        ),
        (
            vec!["--blkio-weight-device", "/dev/zero:300"],
            "invalid device /dev/zero in BlkioWeightDevice: not a block device".to_string(),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut args = vec!["create", "--name", &bad[i]];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        fails_with(&d, &args, &want);
    }
    let body = format!(
        r#"{{"Image":"busybox","HostConfig":{{"BlkioWeightDevice":[{{"Path":"{}","Weight":5}}]}}}}"#,
        dev.0
    );
    let (code, resp) = common::http::json(&d, "POST", "/containers/create", &body);
    assert_eq!(code, 400, "{resp}");
    assert!(
        common::http::message(&resp).contains("range of blkio weight is from 10 to 1000"),
        "{resp}"
    );
    let bad_refs: Vec<&str> = bad.iter().map(String::as_str).collect();
    none_named(&d, &bad_refs);
}

#[test]
fn cgroupns_private_gives_the_container_a_cgroup_namespace_of_its_own() {
    let (d, _t) = daemon_with_busybox();
    let host_ns = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    let host_ns = host_ns.to_string_lossy();
    let (private, shared) = (unique_name("cgnsp"), unique_name("cgnsh"));
    let _c = cleanup(&d, &[&private, &shared], &[]);
    run_detached(
        &d,
        &private,
        &["--cgroupns", "private", "busybox", "sleep", "300"],
    );
    run_detached(&d, &shared, &["busybox", "sleep", "300"]);
    let look = |name: &str| {
        d.docker_ok(&[
            "exec",
            name,
            "sh",
            "-c",
            "readlink /proc/1/ns/cgroup; readlink /proc/self/ns/cgroup; cat /proc/1/cgroup",
        ])
    };
    let out = look(&private);
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], host_ns, "{out}");
    assert_eq!(lines[0], lines[1], "exec joins the container's: {out}");
    assert!(
        lines[2..].iter().all(|l| l.ends_with(":/")),
        "paths below the namespace's root: {out}"
    );
    assert_eq!(
        inspect_f(&d, &private, "{{.HostConfig.CgroupnsMode}}"),
        "private"
    );
    // the default on cgroup v1, as dockerd: the host's namespace, the host's paths
    let out = look(&shared);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], host_ns, "{out}");
    assert!(lines[2..].iter().any(|l| l.contains("/berth/")), "{out}");
    assert_eq!(
        inspect_f(&d, &shared, "{{.HostConfig.CgroupnsMode}}"),
        "host"
    );
    // the CLI checks the mode itself; the daemon does too, with moby's message
    let body = r#"{"Image":"busybox","HostConfig":{"CgroupnsMode":"bogus"}}"#;
    let (code, resp) = common::http::json(&d, "POST", "/containers/create", body);
    assert_eq!(code, 400, "{resp}");
    assert_eq!(
        common::http::message(&resp),
        "invalid cgroup namespace mode: bogus"
    );
}

/// The CLI refuses these for a Linux daemon itself; an API client gets moby's answers.
#[test]
fn windows_only_options_get_mobys_warning_or_refusal() {
    let (d, _t) = daemon_with_busybox();
    let (pct, qos) = (unique_name("cpupct"), unique_name("ioqos"));
    let _c = cleanup(&d, &[&pct, &qos], &[]);
    let create = |name: &str, hc: &str| {
        let body = format!(r#"{{"Image":"busybox","HostConfig":{hc}}}"#);
        common::http::json(
            &d,
            "POST",
            &format!("/containers/create?name={name}"),
            &body,
        )
    };
    let (code, resp) = create(&pct, r#"{"CpuPercent":50}"#);
    assert_eq!(code, 201, "{resp}");
    let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(
        v["Warnings"],
        serde_json::json!(["linux does not support CPU percent. Percent discarded."])
    );
    assert_eq!(inspect_f(&d, &pct, "{{.HostConfig.CpuPercent}}"), "0");
    let (code, resp) = create(&qos, r#"{"IOMaximumIOps":10}"#);
    assert_eq!(code, 400, "{resp}");
    assert_eq!(
        common::http::message(&resp),
        "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"
    );
    none_named(&d, &[&qos]);
}
