//! What a process sees from inside: namespaces, limits, capabilities, seccomp, masks, user
//! namespace mapping, rlimits, hooks.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{Ct, ok, stderr};
use serde_json::json;

fn out_of(c: &Ct) -> (String, String, Option<i32>) {
    let o = c.run();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr(&o),
        o.status.code(),
    )
}

#[test]
fn namespaces_are_isolated_from_the_host() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "hostname; echo $$; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done",
        ],
        |v| v["hostname"] = json!("inside"),
    );
    let (out, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "inside");
    assert_eq!(lines[1], "1", "the init is pid 1 in its pid namespace");
    assert_eq!(lines[2], "lo", "a new network namespace has only lo");
    for (i, n) in ["pid", "net", "ipc", "uts", "mnt"].iter().enumerate() {
        let host = std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
        assert_ne!(
            lines[3 + i],
            host.to_str().unwrap(),
            "{n} namespace is the host's"
        );
    }
}

/// The cgroup namespace is unshared only after the init joined its cgroup (the parent makes
/// the cgroup while the init builds its rootfs): inside, every hierarchy's root is the
/// container's own cgroup, and the host sees the init in it.
#[test]
fn cgroup_namespace_is_rooted_at_the_containers_cgroup() {
    let c = Ct::new(&["sh", "-c", "cat /proc/self/cgroup; sleep 30"], |v| {
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        if !ns.iter().any(|n| n["type"] == "cgroup") {
            ns.push(json!({"type": "cgroup"}));
        }
    });
    c.start_detached();
    let out = ok(c.exec(&["cat", "/proc/self/cgroup"]));
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains("name=systemd"))
        .collect();
    assert!(lines.len() >= 5, "{out}");
    for l in &lines {
        assert!(
            l.ends_with(":/"),
            "not rooted at its own cgroup: {l} in {out}"
        );
    }
    let procs = std::fs::read_to_string(c.cgroup_dir("pids").join("cgroup.procs")).unwrap();
    assert!(
        !procs.trim().is_empty(),
        "the init is not in its pids cgroup"
    );
}

#[test]
fn memory_limit_kills_the_hog() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
        ],
        |v| {
            v["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
        },
    );
    let (out, _err, code) = out_of(&c);
    assert!(!out.contains("survived"));
    assert_ne!(code, Some(0));
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "for i in $(seq 1 30); do sleep 1 & done; wait; echo done",
        ],
        |v| {
            v["linux"]["resources"]["pids"] = json!({"limit": 10});
        },
    );
    let (_out, err, _code) = out_of(&c);
    assert!(
        err.contains("fork") || err.contains("Resource temporarily unavailable"),
        "{err}"
    );
}

#[test]
fn cpu_limits_are_written_to_the_cgroup() {
    let c = Ct::new(&["sleep", "100"], |v| {
        v["linux"]["resources"]["cpu"] = json!({"shares": 512, "quota": 20000, "period": 100000});
    });
    c.start_detached();
    let read = |f: &str| {
        std::fs::read_to_string(c.cgroup_dir("cpu").join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("cpu.shares"), "512");
    assert_eq!(read("cpu.cfs_quota_us"), "20000");
    assert_eq!(read("cpu.cfs_period_us"), "100000");
}

#[test]
fn without_cap_net_admin_lo_cannot_go_down() {
    // a fresh network namespace has lo down: bringing it up needs CAP_NET_ADMIN
    let c = Ct::new(&["ip", "link", "set", "lo", "up"], |_| {});
    let (_o, err, code) = out_of(&c);
    assert_ne!(code, Some(0));
    assert!(err.contains("ermitted"), "{err}");
    let c = Ct::new(&["ip", "link", "set", "lo", "up"], |v| {
        for set in ["bounding", "effective", "permitted"] {
            v["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_NET_ADMIN"));
        }
    });
    let (_o, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn seccomp_denied_syscall_returns_eperm() {
    let c = Ct::new(&["mkdir", "/tmp/x"], |v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
        v["root"]["readonly"] = json!(false);
    });
    let (_o, err, code) = out_of(&c);
    assert_ne!(code, Some(0));
    assert!(err.contains("Operation not permitted"), "{err}");
    assert!(!c.bundle().join("rootfs/tmp/x").exists());
}

/// Docker's default profile (OCI form for amd64 and the default capabilities:
/// tests/data/docker-default-seccomp.json) with one group changed to show per-group errnoRet:
/// mkdir/mkdirat get ENOSPC instead of being allowed.
fn docker_profile() -> serde_json::Value {
    let mut p: serde_json::Value =
        serde_json::from_str(include_str!("data/docker-default-seccomp.json")).unwrap();
    let groups = p["syscalls"].as_array_mut().unwrap();
    let base = groups[0]["names"].as_array_mut().unwrap();
    base.retain(|n| n != "mkdir" && n != "mkdirat");
    groups.push(json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}));
    p
}

#[test]
fn docker_default_seccomp_profile_blocks_with_the_right_errno() {
    let script = "grep '^Seccomp:' /proc/self/status; \
        unshare -U true 2>&1 || echo unshare-refused; \
        mkdir /tmp/x 2>&1 || echo mkdir-refused; \
        ls /bin | grep -c . > /dev/null && echo fork-works";
    // control: the same commands without a filter (user namespaces are allowed here)
    let c = Ct::new(&["sh", "-c", script], |_| {});
    let (out, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Seccomp:\t0"), "{out}");
    assert!(!out.contains("unshare-refused"), "control: {out}");

    let c = Ct::new(&["sh", "-c", script], |v| {
        v["linux"]["seccomp"] = docker_profile();
    });
    let (out, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Seccomp:\t2", "{out}");
    // blocked by the default action: defaultErrnoRet 1
    assert!(lines[1].contains("Operation not permitted"), "{out}");
    assert_eq!(lines[2], "unshare-refused", "{out}");
    // blocked by a group with its own errnoRet
    assert!(lines[3].contains("No space left on device"), "{out}");
    assert_eq!(lines[4], "mkdir-refused", "{out}");
    // ordinary commands; the pipe's forks pass clone's SCMP_CMP_MASKED_EQ rule (no
    // namespace flags)
    assert_eq!(&lines[5..], ["fork-works"], "{out}");

    // a process exec'd into the container gets the same filter (compiled once, then cached);
    // the filter flags are passed to seccomp(2)
    let c = Ct::new(&["sleep", "30"], |v| {
        v["linux"]["seccomp"] = docker_profile();
        v["linux"]["seccomp"]["flags"] =
            json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]);
    });
    c.start_detached();
    let out = ok(c.exec(&[
        "sh",
        "-c",
        "grep '^Seccomp:' /proc/self/status; unshare -U true 2>&1 || echo unshare-refused",
    ]));
    assert!(out.starts_with("Seccomp:\t2\n"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    let cache = c.root().join("seccomp:cache");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1, "{cache:?}");
}

#[test]
fn readonly_root_masked_and_readonly_paths() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "touch /x 2>&1; echo timer_list=$(wc -c < /proc/timer_list) firmware=$(ls /sys/firmware | wc -l); (echo 1 > /proc/sys/kernel/domainname) 2>&1; touch /tmp/ok && echo tmp-writable",
        ],
        |v| {
            v["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}));
        },
    );
    let (out, err, _code) = out_of(&c);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("Read-only file system"), "{out} {err}");
    assert_eq!(
        lines[1], "timer_list=0 firmware=0",
        "/proc/timer_list and /sys/firmware are masked: {out}"
    );
    assert!(
        lines[2].contains("Read-only file system"),
        "/proc/sys is read-only: {out}"
    );
    assert_eq!(lines[3], "tmp-writable", "{out}");
}

#[test]
fn user_namespace_maps_root_to_the_host_range() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "id -u; touch /tmp/made-inside; cat /proc/self/uid_map",
        ],
        |v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            v["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            v["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            v["root"]["readonly"] = json!(false);
        },
    );
    let (out, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("0\n"), "{out}");
    let meta = std::fs::metadata(c.bundle().join("rootfs/tmp/made-inside")).unwrap();
    assert_eq!(meta.uid(), 100000);
    assert_eq!(meta.gid(), 100000);
}

#[test]
fn rlimits_user_env_cwd() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; id -u; id -g; echo $GREETING; pwd",
        ],
        |v| {
            v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]);
            v["process"]["user"] = json!({"uid": 1000, "gid": 1001});
            v["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!("GREETING=hi"));
            v["process"]["cwd"] = json!("/tmp");
        },
    );
    let (out, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "321\n654\n1000\n1001\nhi\n/tmp\n");
}

#[test]
fn hooks_get_the_state_on_stdin() {
    let c = Ct::new(&["true"], |_| {});
    let dir = c.dir.path().to_path_buf();
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", dir.display())], "timeout": 5});
    let bundle = c.bundle();
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    v["hooks"] = json!({"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")], "poststart": [hook("poststart")], "poststop": [hook("poststop")]});
    std::fs::write(bundle.join("config.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    let (_o, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
    for name in ["prestart", "createRuntime", "poststart", "poststop"] {
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        assert_eq!(st["id"], c.id.as_str(), "{name}");
        if name == "prestart" || name == "createRuntime" {
            assert!(st["pid"].as_i64().unwrap() > 0, "{name}");
        }
    }
    let c2 = Ct::new(&["true"], |v| {
        v["hooks"] =
            json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]});
    });
    let out = c2.run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("hook /bin/sh"), "{}", stderr(&out));
    assert!(!c2.root().join(&c2.id).exists());
    ok(std::process::Command::new("true").output().unwrap());
}

#[test]
fn container_process_starts_with_default_signals() {
    // Rust ignores SIGPIPE in its own processes; the container must not inherit that
    let c = Ct::new(
        &["sh", "-c", "grep -E 'SigIgn|SigBlk' /proc/self/status"],
        |_| {},
    );
    let (out, err, code) = out_of(&c);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
    // sh itself ignores nothing it inherited; SIGPIPE (bit 13) must not be ignored
    let ign = out.lines().find(|l| l.starts_with("SigIgn")).unwrap();
    let mask = u64::from_str_radix(ign.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(
        mask & (1 << 12),
        0,
        "SIGPIPE is ignored in the container: {ign}"
    );
}

#[test]
fn exec_joins_the_user_namespace() {
    let c = Ct::new(&["sleep", "100"], |v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    });
    c.start_detached();
    let out = ok(c.exec(&["sh", "-c", "id -u; cat /proc/self/uid_map"]));
    assert!(out.starts_with("0\n"), "{out}");
    assert!(out.contains("200000"), "{out}");
    let pid = c.state()["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t200000")),
        "init runs as the mapped uid on the host"
    );
}
