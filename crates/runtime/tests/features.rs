//! config.json features beyond the basics: sysctl, devices, joined namespaces, oomScoreAdj,
//! domainname, hooks inside the container and hook timeouts, detached run.

mod common;

use common::{Ct, ok, stderr};
use serde_json::json;

#[test]
fn sysctl_oom_score_adj_domainname_and_groups() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/self/oom_score_adj /proc/sys/kernel/domainname; id -G",
        ],
        |v| {
            v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
            v["process"]["oomScoreAdj"] = json!(500);
            v["domainname"] = json!("example.test");
            v["process"]["user"]["additionalGids"] = json!([10, 20]);
        },
    );
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\n1234\n500\nexample.test\n0 10 20\n",
        "{}",
        stderr(&out)
    );
    let host_sysctl = Ct::new(&["true"], |v| {
        v["linux"]["sysctl"] = json!({"kernel.panic": "1"})
    });
    let refused = host_sysctl.run();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("kernel.panic"),
        "{}",
        stderr(&refused)
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    assert_ne!(
        host.trim(),
        "1234",
        "the sysctl stayed in the container's ipc namespace"
    );
}

#[test]
fn linux_devices_are_created_and_allowed() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "ls -l /dev/mynull | cut -c1; echo x > /dev/mynull && echo wrote",
        ],
        |v| {
            v["linux"]["devices"] = json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]);
            v["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}));
        },
    );
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "c\nwrote\n",
        "{}",
        stderr(&out)
    );
}

/// Default nodes and linux.devices get exactly the asked mode, owner and numbers, whatever
/// the caller's umask; the /dev links are in place.
#[test]
fn device_nodes_have_exact_modes_and_owners() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "stat -c '%n %A %u %g %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/net/tun /dev/mine; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done",
        ],
        |v| {
            v["linux"]["devices"] = json!([
                {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 0o600},
                {"path": "/dev/mine", "type": "c", "major": 1, "minor": 5, "fileMode": 0o4640, "uid": 1000, "gid": 1001}
            ]);
        },
    );
    let mut cmd = c.cmd(&["run", "--bundle", c.bundle().to_str().unwrap(), &c.id]);
    // SAFETY: umask only, in the forked child before exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::umask(0o077);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "/dev/null crw-rw-rw- 0 0 1:3\n\
         /dev/zero crw-rw-rw- 0 0 1:5\n\
         /dev/full crw-rw-rw- 0 0 1:7\n\
         /dev/random crw-rw-rw- 0 0 1:8\n\
         /dev/urandom crw-rw-rw- 0 0 1:9\n\
         /dev/tty crw-rw-rw- 0 0 5:0\n\
         /dev/net/tun crw------- 0 0 a:c8\n\
         /dev/mine crwSr----- 1000 1001 1:5\n\
         /proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn device_cgroup_denies_what_is_not_allowed() {
    // /dev/mem (1:1) is created but not in the allow list: opening it must fail
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "head -c1 /dev/mem > /dev/null 2>&1 && echo opened || echo denied",
        ],
        |v| {
            v["linux"]["devices"] =
                json!([{"path": "/dev/mem", "type": "c", "major": 1, "minor": 1, "fileMode": 384}]);
        },
    );
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "denied\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn namespaces_can_be_joined_by_path() {
    let a = Ct::new(&["sleep", "100"], |v| v["hostname"] = json!("first"));
    a.start_detached();
    let pid = a.state()["pid"].as_i64().unwrap();
    let b = Ct::new(
        &[
            "sh",
            "-c",
            "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; cat /proc/1/cmdline",
        ],
        |v| {
            for ns in v["linux"]["namespaces"].as_array_mut().unwrap() {
                let t = ns["type"].as_str().unwrap().to_string();
                let file = match t.as_str() {
                    "network" => "net",
                    "uts" => "uts",
                    "ipc" => "ipc",
                    "pid" => "pid",
                    _ => continue,
                };
                ns["path"] = json!(format!("/proc/{pid}/ns/{file}"));
            }
            v.as_object_mut().unwrap().remove("hostname");
        },
    );
    let out = b.run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"first"), "{text} {}", stderr(&out));
    let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let ipc = std::fs::read_link(format!("/proc/{pid}/ns/ipc")).unwrap();
    assert_eq!(lines[1], net.to_str().unwrap());
    assert_eq!(lines[2], ipc.to_str().unwrap());
    // the joined pid namespace's init is the first container's sleep
    assert_eq!(lines[3], "sleep\u{0}100\u{0}");
}

#[test]
fn hooks_inside_the_container_and_timeouts() {
    let c = Ct::new(&["cat", "/tmp/started"], |_| {});
    let cc = c.dir.path().join("cc.txt");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.bundle().join("config.json")).unwrap()).unwrap();
    v["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    v["hooks"] = json!({
        "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", format!("hostname > {}; cat > {}.state", cc.display(), cc.display())]}],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo started > /tmp/started"]}]
    });
    std::fs::write(
        c.bundle().join("config.json"),
        serde_json::to_vec(&v).unwrap(),
    )
    .unwrap();
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "started\n",
        "{}",
        stderr(&out)
    );
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cc.with_extension("txt.state")).unwrap()).unwrap();
    assert!(
        st["pid"].as_i64().unwrap() > 1,
        "the host pid, not the namespaced 1: {st}"
    );
    assert_eq!(
        std::fs::read_to_string(&cc).unwrap(),
        "berth\n",
        "createContainer runs in the container's uts namespace"
    );

    let slow = Ct::new(&["true"], |v| {
        v["hooks"] =
            json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}]});
    });
    let t = std::time::Instant::now();
    let out = slow.run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert!(t.elapsed() < std::time::Duration::from_secs(8));
    assert!(!slow.root().join(&slow.id).exists());
}

#[test]
fn detached_run_and_named_signals() {
    let c = Ct::new(&["sleep", "100"], |_| {});
    let log = std::fs::File::create(c.dir.path().join("out")).unwrap();
    let status = c
        .cmd(&["run", "-d", "--bundle", c.bundle().to_str().unwrap(), &c.id])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(c.status(), "running");
    let bad = c.rt(&["kill", &c.id, "SIGNOPE"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("SIGNOPE"));
    // pid 1 of a pid namespace ignores signals it has no handler for: KILL by name
    ok(c.rt(&["kill", &c.id, "sigkill"]));
    c.wait_status("stopped");
    ok(c.rt(&["delete", &c.id]));
}

#[test]
fn absent_lsm_fields_are_ignored_with_a_warning() {
    let c = Ct::new(&["echo", "ran"], |v| {
        v["process"]["apparmorProfile"] = json!("berth-default")
    });
    if std::path::Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        return; // AppArmor is present: the profile would be applied instead
    }
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ran\n",
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("apparmorProfile"), "{}", stderr(&out));
}

#[test]
fn bind_mounts_honour_ro_and_no_new_privileges_is_set() {
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("data"), "from-host").unwrap();
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "cat /data/data; touch /data/new 2>&1; grep NoNewPrivs /proc/self/status",
        ],
        |v| {
            v["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/data", "type": "bind", "source": shared.path(), "options": ["rbind", "ro", "nosuid", "nodev"]
            }));
            v["process"]["noNewPrivileges"] = json!(true);
        },
    );
    let out = c.run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("from-host"), "{text} {}", stderr(&out));
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    assert!(!shared.path().join("new").exists());
}

#[test]
fn seccomp_argument_conditions() {
    // chmod is denied only for mode 0700 (argument 1 == 448)
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "mkdir /tmp/a && echo made; chmod 0700 /tmp/a 2>&1; chmod 0755 /tmp/a && echo chmod-ok",
        ],
        |v| {
            v["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
            v["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                              "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]}]
            });
        },
    );
    let out = c.run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("made\n"), "{text} {}", stderr(&out));
    assert!(
        text.contains("Permission denied"),
        "mode 0700 is denied: {text}"
    );
    assert!(text.contains("chmod-ok"), "other modes pass: {text}");
}

#[test]
fn cgroup_mount_shows_the_containers_own_limits() {
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup | tr '\\n' ' '; touch /sys/fs/cgroup/memory/x 2>&1; mkdir /sys/fs/cgroup/new 2>/dev/null || echo tmpfs-ro; echo flags: $(awk '$2 ~ /^\\/sys\\/fs\\/cgroup/ {print $4}' /proc/self/mounts | cut -d, -f1 | sort -u)",
        ],
        |v| {
            v["linux"]["resources"]["memory"] = json!({"limit": 48 << 20});
        },
    );
    let out = c.run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        (48u64 << 20).to_string(),
        "{text} {}",
        stderr(&out)
    );
    for ctrl in ["memory", "pids", "freezer", "cpu"] {
        assert!(
            lines[1].split_whitespace().any(|x| x == ctrl),
            "{ctrl} missing: {text}"
        );
    }
    assert!(
        text.contains("Read-only file system"),
        "the cgroup mount is read-only: {text}"
    );
    // the tmpfs and every controller's bind are read-only
    assert!(text.contains("tmpfs-ro"), "{text}");
    assert!(text.contains("flags: ro\n"), "{text}");
}

#[test]
fn rootfs_propagation_and_bundle_relative_bind_sources() {
    let c = Ct::new(&["cat", "/mnt/note"], |v| {
        v["linux"]["rootfsPropagation"] = json!("private");
        v["mounts"].as_array_mut().unwrap().push(json!({"destination": "/mnt", "type": "bind", "source": "extra", "options": ["bind", "ro"]}));
    });
    std::fs::create_dir(c.bundle().join("extra")).unwrap();
    std::fs::write(c.bundle().join("extra/note"), "relative to the bundle").unwrap();
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "relative to the bundle",
        "{}",
        stderr(&out)
    );

    let bad = Ct::new(&["true"], |v| {
        v["linux"]["rootfsPropagation"] = json!("sideways")
    });
    let out = bad.run();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("rootfsPropagation"),
        "{}",
        stderr(&out)
    );
    assert!(!bad.root().join(&bad.id).exists());
}

#[test]
fn no_pivot_moves_the_root_and_chroots() {
    let c = Ct::new(
        &["sh", "-c", "ls /bin/busybox && hostname && touch /x 2>&1"],
        |_| {},
    );
    let out = c
        .cmd(&[
            "run",
            "--no-pivot",
            "--bundle",
            c.bundle().to_str().unwrap(),
            &c.id,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with("/bin/busybox\nberth\n"),
        "{text} {}",
        stderr(&out)
    );
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(!c.root().join(&c.id).exists());
}

#[test]
fn hugepage_limits_without_a_v1_hugetlb_controller_warn() {
    // Kubernetes sets hugepageLimits on every container; this host keeps hugetlb in cgroup2
    let v1_hugetlb = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" - cgroup ") && l.ends_with("hugetlb"));
    let c = Ct::new(&["echo", "ran"], |v| {
        v["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 0}]);
    });
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ran\n",
        "{}",
        stderr(&out)
    );
    if !v1_hugetlb {
        assert!(stderr(&out).contains("hugepageLimits"), "{}", stderr(&out));
    }
}
